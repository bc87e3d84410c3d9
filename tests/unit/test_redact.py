"""Unit tests of golive.redact: each kind, placeholders, secrets, custom patterns, IPs, streams."""

from __future__ import annotations

import base64
import io
import json
import threading
from urllib.parse import quote

import pytest

from golive import exceptions, redact

ENGINES = (["native"] if redact.NATIVE_AVAILABLE else []) + (
    ["hyperscan", "re"] if redact.HYPERSCAN_AVAILABLE else ["re"]
)


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the C module, with Hyperscan and Python, and with the plain ``re`` fallback."""
    if request.param != "native":
        monkeypatch.setattr(redact, "_native", None)
    if request.param == "re":
        monkeypatch.setattr(redact, "_hs", None)
    return str(request.param)


POSITIVES = [
    ("email", "mail jane.doe+ops@corp.example.co.uk now", "jane.doe+ops@corp.example.co.uk"),
    ("email", "GET /x?email=bob%40example.com HTTP/1.1", "bob%40example.com"),
    ("phone", "call +44 20 7946 0958 today", "+44 20 7946 0958"),
    ("phone", "call (415) 555-0100 today", "(415) 555-0100"),
    ("phone", "call 415-555-0100 today", "415-555-0100"),
    ("phone", "ring 07700 900123 please", "07700 900123"),
    ("phone", "appelez 06.12.34.56.78 svp", "06.12.34.56.78"),
    ("phone", "Tel: 5551234567", "5551234567"),
    ("card", "card 4111 1111 1111 1111 declined", "4111 1111 1111 1111"),
    ("card", "card 5555-5555-5555-4444 declined", "5555-5555-5555-4444"),
    ("card", "amex 378282246310005 ok", "378282246310005"),
    ("iban", "refund to DE89 3704 0044 0532 0130 00 today", "DE89 3704 0044 0532 0130 00"),
    ("iban", "refund to GB82WEST12345698765432.", "GB82WEST12345698765432"),
    ("aws_key", "key AKIAIOSFODNN7EXAMPLE used", "AKIAIOSFODNN7EXAMPLE"),
    (
        "aws_key",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    ("github_token", "token ghp_" + "A1b2C3d4" * 4 + "Zz9Y end", "ghp_" + "A1b2C3d4" * 4 + "Zz9Y"),
    ("github_token", "pat github_pat_" + "a" * 22 + "_" + "B" * 59, "github_pat_" + "a" * 22 + "_" + "B" * 59),
    (
        "slack_token",
        "bot xoxb-123456789012-123456789012-abcdefABCDEF123456 ok",
        "xoxb-123456789012-123456789012-abcdefABCDEF123456",
    ),
    (
        "slack_token",
        "hook https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX",
        "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX",
    ),
    ("stripe_key", "stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc ok", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("stripe_key", "stripe pk_test_TYooMQauvdEDq54NiTphI7jx ok", "pk_test_TYooMQauvdEDq54NiTphI7jx"),
    ("api_key", "OPENAI_API_KEY=sk-proj-abc123DEF456ghi789JKL012mno", "sk-proj-abc123DEF456ghi789JKL012mno"),
    (
        "jwt",
        "tok eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U x",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ),
    ("auth", "Authorization: Bearer abcDEF123456ghiJKL789", "abcDEF123456ghiJKL789"),
    ("auth", "authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
    ("auth", "-H 'Authorization: token 0123456789abcdef0123'", "0123456789abcdef0123"),
    ("secret", "DB_PASSWORD=s3cr3t-Value!", "s3cr3t-Value!"),
    ("secret", '{"client_secret": "q9w8e7r6t5"}', "q9w8e7r6t5"),
    ("secret", "dsn postgres://app:Pa55word@db:5432/app", "Pa55word"),
]


@pytest.mark.parametrize(("kind", "text", "value"), POSITIVES, ids=[f"{p[0]}-{i}" for i, p in enumerate(POSITIVES)])
def test_each_kind_is_found_and_replaced_by_its_placeholder(engine: str, kind: str, text: str, value: str) -> None:
    """Every supported kind is replaced by ``<kind:1>`` and nothing of the value survives."""
    out = redact.Redactor().redact(text)
    assert value not in out
    assert f"<{kind}:1>" in out
    assert out == text.replace(value, f"<{kind}:1>")


def test_private_key_block_spanning_lines_is_one_placeholder(engine: str) -> None:
    """A multi-line PEM private key block becomes one placeholder, lines around it stay."""
    text = "before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\nq83nd7\n-----END RSA PRIVATE KEY-----\nafter"
    assert redact.Redactor().redact(text) == "before\n<private_key:1>\nafter"


def test_unterminated_private_key_is_masked_to_the_end(engine: str) -> None:
    """A BEGIN line without its END fails closed: everything after it is masked."""
    text = "paste:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA\nmore"
    assert redact.Redactor().redact(text) == "paste:\n<private_key:1>"


HARD_NEGATIVES = [
    "2024-03-15T10:23:45.123Z INFO request took 1234 ms",
    "order ORD-415-555-0100 shipped",
    "uuid 3f2b9c1e-8a4d-4e6f-9b1a-2c3d4e5f6a7b",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
    "version v1.24.3 and 2.0.0-rc.1 on port :8080 and 5432",
    "price $1,234.56 and EUR 19.99",
    "tracking 1Z999AA10123456784 and 9400 1000 0000 0000 0000 00",
    "ref 4111 1111 1111 1112",
    "iban DE89370400440532013001",
    "epoch 1710498225123 compact 20240315102345",
    "isbn 978-3-16-148410-0",
    "icon@2x.png lodash@4.17.21 noreply@localhost",
    "Password: ******** token_type=Bearer password_changed=true",
    "secret: ${{ secrets.DB_PASSWORD }} api_key=<redacted>",
    "sk-learn and task-0123456789abcdef",
    "mac 00:1a:2b:3c:4d:5e at 10:23:45 from 10.0.0.1",
]


@pytest.mark.parametrize("text", HARD_NEGATIVES)
def test_look_alikes_are_left_alone(engine: str, text: str) -> None:
    """Ids, timestamps, versions, ports, prices, non-Luhn numbers and invalid IBANs are not redacted."""
    assert redact.Redactor().redact(text) == text


def test_same_value_same_placeholder_and_new_value_new_number(engine: str) -> None:
    """Placeholders are stable per redactor: one value, one number; another value, the next number."""
    r = redact.Redactor()
    assert r.redact("a@example.com") == "<email:1>"
    assert r.redact("b@example.com and a@example.com") == "<email:2> and <email:1>"
    assert redact.Redactor().redact("b@example.com") == "<email:1>"


def test_registered_secret_and_its_encodings_share_one_placeholder(engine: str) -> None:
    """A registered secret is masked raw, base64, URL- and JSON-encoded, all as the same placeholder."""
    r = redact.Redactor()
    secret = 'p@ss w0rd/"x"'
    r.add_secret(secret)
    b64 = base64.b64encode(secret.encode()).decode()
    text = f"raw {secret} b64 {b64} url {quote(secret, safe='')} json {json.dumps(secret)}"
    out = r.redact(text)
    assert out == 'raw <secret:1> b64 <secret:1> url <secret:1> json "<secret:1>"'


def test_secret_inside_a_larger_base64_blob_is_masked(engine: str) -> None:
    """Basic auth of ``user:secret`` hides the secret's base64 bits even though it is not aligned."""
    r = redact.Redactor()
    r.add_secret("correct-horse-battery")
    blob = base64.b64encode(b"deploy-user:correct-horse-battery").decode()
    out = r.redact(f"X-Creds: {blob}")
    assert "<secret:1>" in out
    assert blob not in out


def test_short_secrets_are_ignored() -> None:
    """Values under four characters are not registered: they would mask ordinary words."""
    r = redact.Redactor()
    r.add_secret("abc")
    assert r.redact("abc abcdef") == "abc abcdef"


def test_custom_patterns_named_and_unnamed(engine: str) -> None:
    """Custom patterns replace with their own name, or ``custom``; group ``v`` limits the replacement."""
    r = redact.Redactor(
        custom_patterns=[r"CUST-\d{6}", ("ticket", r"TCK-[A-Z]{3}\d{4}"), ("member", r"member=(?P<v>\w+)")]
    )
    out = r.redact("CUST-123456 opened TCK-ABC1234 for member=jdoe42")
    assert out == "<custom:1> opened <ticket:1> for member=<member:1>"


def test_custom_pattern_hyperscan_cannot_compile_still_works() -> None:
    """A pattern Hyperscan cannot compile (RE2's ungreedy flag) is matched by RE2 alone, still linear."""
    r = redact.Redactor(custom_patterns=[("acct", r"(?U)ACCT\d{5}")])
    assert r.redact("x ACCT12345 y") == "x <acct:1> y"


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [(("bad", "a(b"), "fix the regular expression"), (("empty", "x*"), "empty string"), (("Bad Name", "x"), "name")],
)
def test_bad_custom_pattern_is_a_usage_error(spec: tuple[str, str], fragment: str) -> None:
    """An invalid expression, one that matches nothing at all, or a bad name is refused by name."""
    with pytest.raises(exceptions.UsageError, match=fragment):
        redact.Redactor(custom_patterns=[spec])


def test_ips_are_kept_by_default_and_redacted_on_request(engine: str) -> None:
    """IPv4 and IPv6 addresses are redacted only with ``redact_ips=True``; times and MACs never."""
    text = "from 203.0.113.7 via 2001:db8::1 at 10:23:45 mac 00:1a:2b:3c:4d:5e v1.2.3"
    assert redact.Redactor().redact(text) == text
    assert (
        redact.Redactor(redact_ips=True).redact(text)
        == "from <ip:1> via <ip:2> at 10:23:45 mac 00:1a:2b:3c:4d:5e v1.2.3"
    )


def test_redact_obj_walks_structures_and_masks_secret_keys(engine: str) -> None:
    """Strings are redacted everywhere; values under secret-looking keys are replaced and remembered."""
    r = redact.Redactor()
    obj = {
        "user": "ann@example.com",
        "password": "hunter2hunter2",
        "headers": {"Authorization": "Bearer abc", "X-Api-Key": 123456789},
        "max_tokens": 4096,
        "items": ["call 415-555-0100", ("t", None, True, 1.5)],
    }
    out = r.redact_obj(obj)
    assert out == {
        "user": "<email:1>",
        "password": "<secret:1>",
        "headers": {"Authorization": "<secret:2>", "X-Api-Key": "<secret:3>"},
        "max_tokens": 4096,
        "items": ["call <phone:1>", ("t", None, True, 1.5)],
    }
    assert r.redact("log: hunter2hunter2") == "log: <secret:1>"


def test_redact_bytes_matches_redact() -> None:
    """Bytes and text give the same result."""
    r = redact.Redactor()
    assert r.redact_bytes("é a@example.com".encode()) == "é <email:1>".encode()


def test_stream_across_chunk_boundaries_equals_whole_redaction(engine: str) -> None:
    """Streaming with tiny chunks gives exactly what redacting the whole text gives."""
    lines = [f"{i} user{i}@example.com card 4111 1111 1111 1111 ip 10.0.0.{i % 250}" for i in range(200)]
    key = (
        "-----BEGIN EC PRIVATE KEY-----\n"
        + "\n".join(["QUJDREVGR0hJSktMTU5PUA=="] * 20)
        + "\n-----END EC PRIVATE KEY-----"
    )
    text = ("\n".join(lines[:100]) + "\n" + key + "\n" + "\n".join(lines[100:]) + "\n").encode()
    expected = redact.Redactor().redact_bytes(text)
    for chunk in (7, 64, 1000):
        dst = io.BytesIO()
        read = redact.Redactor().redact_stream(io.BytesIO(text), dst, chunk_size=chunk)
        assert read == len(text)
        assert dst.getvalue() == expected, chunk


def test_stream_with_a_multiline_registered_secret(engine: str) -> None:
    """A registered secret containing a newline is masked even when a chunk boundary falls inside it."""
    r = redact.Redactor()
    r.add_secret("line-one-secret\nline-two-secret")
    text = b"a\n" * 50 + b"x line-one-secret\nline-two-secret y\n" + b"b\n" * 50
    dst = io.BytesIO()
    r.redact_stream(io.BytesIO(text), dst, chunk_size=13)
    assert b"line-one-secret" not in dst.getvalue()
    assert b"x <secret:1> y" in dst.getvalue()


def test_placeholders_are_consistent_across_threads(engine: str) -> None:
    """Many threads redacting through one redactor agree on every placeholder."""
    r = redact.Redactor()
    emails = [f"user{i}@example.com" for i in range(50)]
    results: list[dict[str, str]] = []

    def work(order: list[str]) -> None:
        results.append({e: r.redact(e) for e in order})

    threads = [threading.Thread(target=work, args=(emails[i:] + emails[:i],)) for i in range(0, 50, 10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == len(threads)
    assert all(res == results[0] for res in results)
    assert sorted(results[0].values(), key=lambda p: int(p[7:-1])) == [f"<email:{n}>" for n in range(1, 51)]


def test_output_is_stable_when_redacted_twice() -> None:
    """Redacting already-redacted text changes nothing (placeholders are not findings)."""
    r = redact.Redactor()
    once = r.redact("password=abc12345 mail a@example.com")
    assert r.redact(once) == once


@pytest.mark.parametrize(
    "iban",
    ["DE89370400440532013000", "GB82WEST12345698765432", "FR1420041010050500013M02606", "NL91ABNA0417164300"],
)
def test_iban_checksum_accepts_valid_numbers(iban: str) -> None:
    """The mod-97 check accepts known-valid IBANs of several countries."""
    assert redact.iban_valid(iban)


def test_iban_checksum_rejects_a_changed_digit() -> None:
    """One digit changed breaks the mod-97 check."""
    assert not redact.iban_valid("DE89370400440532013001")

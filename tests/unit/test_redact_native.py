"""The redactor's C module (golive/_redact_native.c) finds exactly what the Python path finds.

The Python path (python-hyperscan's scan, then each rule's ``re`` expression and refine function) is the
reference. Every test here runs the same text through a redactor on the C module and one on the Python
path and requires the same ``findings()`` and the same ``redact()`` output, placeholders numbered alike:
on the spec corpus and the project's corpus, generated logs, fuzzed strings of personal data pieces and
separators, registered secrets and their fragments, custom patterns and IP addresses (rules the C module
hands back to Python), private key blocks and streams. A set-up checkout must have the module loaded, so
that a test run cannot pass on the Python path alone.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import os
import random
import re
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.unit.test_redact_shortcuts import _luhn_complete

from golive import redact

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "redaction"

pytestmark = pytest.mark.skipif(not redact.HYPERSCAN_AVAILABLE, reason="no Hyperscan on this platform")


def test_the_c_module_is_loaded_in_a_set_up_checkout() -> None:
    """scripts/setup builds it (scripts/build-native); without it redaction runs about 4x slower."""
    if os.environ.get(redact.NATIVE_ENV, "").lower() in ("off", "0", "no", "false"):
        pytest.skip(f"{redact.NATIVE_ENV} is off")
    assert redact.NATIVE_AVAILABLE, (
        "golive._redact_native is not importable: run scripts/setup (it installs libhyperscan-dev and "
        "libpcre2-dev and runs scripts/build-native)"
    )
    red = redact.Redactor()
    assert red._static.native is not None
    red.add_secret("Tr0ub4dor&3-prod")
    assert red._engine.secrets.native is not None
    assert red.redact("pw Tr0ub4dor&3-prod") == "pw <secret:1>"


needs_native = pytest.mark.skipif(not redact.NATIVE_AVAILABLE, reason="the C module is not built here")


def _pair(
    secrets: list[str] = (),  # type: ignore[assignment]
    **options: Any,
) -> tuple[redact.Redactor, redact.Redactor]:
    """(a redactor on the C module, one on the Python path), with the same options and secrets."""
    native = redact.Redactor(**options)
    saved = redact._native
    redact._native = None
    try:
        python = redact.Redactor(**options)
        for value in secrets:
            python.add_secret(value)
    finally:
        redact._native = saved
    for value in secrets:
        native.add_secret(value)
    assert native._static.native is not None
    assert python._static.native is None
    assert python._static.db is not None
    return native, python


def _same(native: redact.Redactor, python: redact.Redactor, texts: list[str]) -> None:
    differ = [t for t in texts if native.findings(t) != python.findings(t)]
    assert not differ, f"{len(differ)} of {len(texts)} texts differ, e.g. {differ[:3]!r}"
    redacted = [t for t in texts if native.redact(t) != python.redact(t)]
    assert not redacted, f"{len(redacted)} of {len(texts)} redactions differ, e.g. {redacted[:3]!r}"
    block = "\n".join(texts)  # many flagged lines in one scan, as in a log file
    assert native.findings(block) == python.findings(block)
    assert native.redact_bytes(block.encode()) == python.redact_bytes(block.encode())


@needs_native
def test_the_spec_corpus() -> None:
    texts = [json.loads(line)["text"] for line in (FIXTURES / "spec_corpus.jsonl").read_text().splitlines() if line]
    native, python = _pair()
    _same(native, python, texts)
    assert sum(len(native.findings(t)) for t in texts) > 2000


@needs_native
def test_the_project_corpus_with_its_secrets() -> None:
    text = (FIXTURES / "corpus.txt").read_text(encoding="utf-8")
    secrets = json.loads((FIXTURES / "secrets.json").read_text(encoding="utf-8"))
    native, python = _pair(secrets)
    _same(native, python, text.split("\n"))
    assert native.redact(text) == python.redact(text)  # the private key block spans lines
    native, python = _pair(secrets, redact_ips=True)
    assert native.redact(text) == python.redact(text)


def _corpus_module() -> Any:
    spec = importlib.util.spec_from_file_location("make_corpus", FIXTURES / "make_corpus.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_native
def test_generated_logs() -> None:
    """The project corpus's record templates, re-seeded: lines it does not hold, about 1 MB."""
    corpus = _corpus_module()
    texts = []
    for seed in (1, 2, 3):
        corpus.rng.seed(seed)
        funcs = [f for f, _ in corpus.TEMPLATES]
        weights = [w for _, w in corpus.TEMPLATES]
        for _ in range(1500):
            for record in corpus.rng.choices(funcs, weights)[0]():
                texts.append("".join(seg if isinstance(seg, str) else seg[0] for seg in record))
    native, python = _pair()
    _same(native, python, texts)
    native, python = _pair(redact_ips=True)
    _same(native, python, texts[:3000])


def _card(rng: random.Random) -> str:
    prefix, length = rng.choice(
        [("4", 16), ("4", 13), ("4", 19), ("51", 16), ("2221", 16), ("2720", 16), ("37", 15), ("34", 15),
         ("36", 14), ("30", 14), ("3528", 16), ("6011", 19), ("65", 16), ("644", 16), ("62", 17), ("7", 16)]
    )  # fmt: skip
    number = prefix + "".join(rng.choice(string.digits) for _ in range(length - 1 - len(prefix)))
    number = _luhn_complete(number) if rng.random() < 0.8 else number + rng.choice(string.digits)
    sep = rng.choice(["", "", " ", "-"])
    if not sep:
        return number
    if length == 15 and rng.random() < 0.7:
        return sep.join([number[:4], number[4:10], number[10:]])
    return sep.join(number[i : i + 4] for i in range(0, length, 4))


def _iban(rng: random.Random) -> str:
    country, length = rng.choice([("DE", 22), ("GB", 22), ("FR", 27), ("NL", 18), ("NO", 15), ("ES", 24), ("ZZ", 20)])
    bban = "".join(rng.choice(string.digits + "ABCDEFGHIJ") for _ in range(length - 4))
    check = 98 - int("".join(str(int(c, 36)) for c in bban + country + "00")) % 97
    if rng.random() < 0.2:
        check = (check + 1) % 100
    raw = f"{country}{check:02d}{bban}"
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4)) if rng.random() < 0.5 else raw


PIECES = [
    ".", "+", "x", "@", "%40", "_", "ana.b", "k_9", "a" * 40, "example.com", "mail.example.org", "logo.png",
    "ana.b@example.com", "o+ops%40mail.example.org", "k_9@", "@example.com", "x.y.z.", "\n", "12/27", "100",
    "2024-03-15", "12", "0", "ES94", "DE89", "+1", "+44 20 7946 0958", "(415) 555-0100", "415-555-0100",
    "07700 900123", "06.12.34.56.78", "030 12345678", "03-1234-5678", "(020) 7946 0958", "0044 20 7946 0958",
    "+18058758780", "+1-713-463-0759", "phone:", "Tel.", "mobile=", "password=", "pw=", "token: ", "api_key=",
    '"secret": "', "--password ", "--api-key=", "PASSWORD 'x", "IDENTIFIED BY '", "'", '"', "Authorization: ",
    "Bearer ", "Basic ", "authorization=Digest ", "session=", "sid=", "https://user:", "postgres://u:",
    "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key=", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "ghp_" + "a1" * 18, "xoxb-1234567890-abcdefghij", "sk_live_" + "a1b2c3d4e5", "sk-proj-" + "Ab1" * 8,
    "glv_" + "Q" * 32, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig", "hooks.slack.com/services/T0/B0/x",
    "10.1.2.3", "192.168.001.1", "fe80::1%eth0", "2001:db8::8a2e:370:7334", "::", "1.2.3.4.5", "café", "ü",
    "-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----", "MIIEow", "true", "****", "/etc/x", "$VAR",
    "550e8400-e29b-41d4-a716-446655440000", "\t", ":", "=", "=>", "\\\"",
]  # fmt: skip
SEPARATORS = [" ", " ", "-", "", "", "  ", ", ", "/", "=", ":", "\n", ";", "."]


def _text(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(2, 14)):
        roll = rng.random()
        if roll < 0.25:
            parts.append(_card(rng))
        elif roll < 0.35:
            parts.append(_iban(rng))
        elif roll < 0.55:
            parts.append("".join(rng.choice(string.digits) for _ in range(rng.randint(1, 12))))
        elif roll < 0.6:
            parts.append("".join(rng.choice(string.ascii_letters + string.digits) for _ in range(rng.randint(4, 30))))
        else:
            parts.append(rng.choice(PIECES))
        parts.append(rng.choice(SEPARATORS))
    return "".join(parts)


@needs_native
def test_fuzzed_strings_of_personal_data_pieces() -> None:
    rng = random.Random(1616)
    texts = [_text(rng) for _ in range(20000)]
    native, python = _pair()
    _same(native, python, texts)
    kinds = {kind for text in texts[:3000] for _s, _e, kind in native.findings(text)}
    assert {"card", "iban", "email", "phone", "secret", "auth", "private_key"} <= kinds, kinds


@needs_native
def test_runs_of_digit_groups() -> None:
    """Cards beside other digit groups, in fours inside longer numbers, spaced and dashed, in a row."""
    rng = random.Random(97)
    texts = []
    for _ in range(20000):
        groups = []
        for _ in range(rng.randint(1, 9)):
            groups.append(
                _card(rng)
                if rng.random() < 0.4
                else "".join(rng.choice(string.digits) for _ in range(rng.randint(1, 7)))
            )
        texts.append(
            rng.choice(["", "card ", "x", "+", "0."]) + "".join(g + rng.choice([" ", "-", " ", ""]) for g in groups)
        )
    native, python = _pair()
    _same(native, python, texts)


@needs_native
def test_registered_secrets_their_encodings_and_fragments() -> None:
    secrets = ["Tr0ub4dor&3-prod", "hunter2hunter2", "s3cr3t with spaces", "pä55wörd-ünïcode", "line1\nline2-secret"]
    rng = random.Random(5)
    texts = []
    for value in secrets:
        raw = value.encode()
        forms = [value, base64.b64encode(raw).decode(), base64.b64encode(b"user:" + raw).decode(), value[:9], value[-9:],
                 value[: len(value) // 2], json.dumps(value)[1:-1]]  # fmt: skip
        for form in forms:
            texts.append(f"{rng.choice(PIECES)} {form}{rng.choice(SEPARATORS)}{_card(rng)} {form}")
    native, python = _pair(secrets)
    _same(native, python, texts)
    # The memo: a text redacted before a secret is registered is redacted again after.
    native, python = _pair()
    text = "login with Sup3rS3cret-99 at ana@example.com"
    assert native.redact(text) == python.redact(text)
    native.add_secret("Sup3rS3cret-99")
    python.add_secret("Sup3rS3cret-99")
    assert native.redact(text) == python.redact(text) == "login with <secret:1> at <email:1>"


@needs_native
def test_custom_patterns_and_ip_addresses_run_in_python_in_their_place() -> None:
    customs = [("ticket", r"TCK-\d{6}"), ("employee", r"emp(?P<v>\d{5})"), r"[Zz]{3}\d+"]
    rng = random.Random(8)
    texts = [
        _text(rng) + rng.choice([" TCK-123456", " emp12345 10.0.0.1", " zzz99 ::1", " ZZZ1 2001:db8::1", ""])
        for _ in range(5000)
    ]
    native, python = _pair(custom_patterns=customs, redact_ips=True)
    assert any(r[0] == redact._N_DELEGATE for r in map(redact._native_rule, native._static.rules))
    _same(native, python, texts)


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


@needs_native
def test_streams_and_private_key_blocks() -> None:
    rng = random.Random(3)
    key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabc\n-----END RSA PRIVATE KEY-----"
    texts = [_text(rng) for _ in range(2000)]
    texts[100:100] = [key, "before " + key[:60], key + "\n", "-----BEGIN PRIVATE KEY-----\nMIIE\n"]
    data = "\n".join(texts).encode()
    native, python = _pair(["Tr0ub4dor&3-prod"])
    for size in (997, 65536):
        out_native, out_python = io.BytesIO(), io.BytesIO()
        native.redact_stream(io.BytesIO(data), out_native, chunk_size=size)
        python.redact_stream(io.BytesIO(data), out_python, chunk_size=size)
        assert out_native.getvalue() == out_python.getvalue()
    # An unterminated key block runs to the very end (Python's \Z), trailing newline included.
    for tail in ("", "\n", "\n\n"):
        text = "x " + key.split("\n-----END")[0] + tail
        assert native.redact(text) == python.redact(text)


class _Failing:
    """Stands in for the module's engine: fails as it does when PCRE2 cannot finish a match."""

    def find(self, *_args: object) -> None:
        raise RuntimeError("redaction expression failed to run (PCRE2 error -47)")


def _fail(*_args: object) -> None:
    raise RuntimeError("redaction expression failed to run (PCRE2 error -47)")


@needs_native
def test_a_failure_in_the_module_falls_back_to_python_never_to_clear_text(monkeypatch: pytest.MonkeyPatch) -> None:
    native, python = _pair(["Tr0ub4dor&3-prod"])
    text = "card 4111 1111 1111 1111 pw=Tr0ub4dor&3-prod ana@example.com"
    expected = python.redact(text)
    monkeypatch.setattr(redact._native, "redact", _fail)
    static = native._engine.static
    static_native, static.native = static.native, _Failing()
    try:
        assert native.findings(text) == python.findings(text)
        assert native.redact(text) == expected == "card <card:1> pw=<secret:1> <email:1>"
    finally:
        static.native = static_native


def _address(rng: random.Random) -> str:
    """Strings near IPv4 and IPv6 addresses: hextets of 0-5 digits, '::' anywhere, IPv4 tails with leading
    zeros and octets past 255, scope ids, too many or too few groups."""
    if rng.random() < 0.3:
        return ".".join(
            rng.choice(["0", "00", "01", "1", "10", "127", "255", "256", "999", "7"])
            for _ in range(rng.choice([3, 4, 4, 4, 5]))
        )
    groups = [
        "".join(rng.choice("0123456789abcdefABCDEF") for _ in range(rng.choice([0, 1, 2, 3, 4, 4, 5])))
        for _ in range(rng.randint(1, 9))
    ]
    if rng.random() < 0.3:
        groups[-1] = ".".join(rng.choice(["0", "01", "1", "192", "255", "256"]) for _ in range(4))
    text = ":".join(groups)
    if rng.random() < 0.3:
        cut = rng.randint(0, len(text))
        text = text[:cut] + "::" + text[cut:]
    return text + rng.choice(["", "", "%eth0", "%", "%1.2"])


@needs_native
def test_ip_addresses_as_the_ipaddress_module_reads_them() -> None:
    rng = random.Random(46)
    texts = [
        rng.choice(["from ", "", "[", "addr=", "std::", "x "])
        + _address(rng)
        + rng.choice(["", " ", "]:443", ".", ",x"])
        for _ in range(20000)
    ]
    native, python = _pair(redact_ips=True)
    _same(native, python, texts)
    assert sum(1 for t in texts if "<ip:" in native.redact(t)) > 2000


@needs_native
def test_a_finding_cut_inside_a_character_is_masked_to_whole_characters() -> None:
    """A finding whose byte limit falls inside a multi-byte character (a custom pattern such as
    ``K2-\\C{3}``, any byte) left that character's other bytes after the placeholder: redact() raised
    UnicodeDecodeError and redact_bytes() returned invalid UTF-8. Both paths widen a finding to whole
    characters."""
    native, python = _pair(custom_patterns=[("k2", r"K2-\C{3}"), ("ref", r"REF-\C{1,4}")])
    texts = ["x K2-éé y", "K2-\U0001f600\U0001f600", "REF-中文 and K2-a中", "REF-a\U00010348b K2-\u200b"]
    _same(native, python, texts)
    for text in texts:
        for red in (native, python):
            out = red.redact(text)
            assert red.redact_bytes(text.encode()).decode("utf-8") == out
            kept, pos = [], 0
            for start, end, _kind in red.findings(text):
                kept.append(text[pos:start])
                pos = end
            kept.append(text[pos:])
            assert re.sub(r"<[a-z0-9_]+:\d+>", "|", out) == "|".join(kept)
    assert native.redact("x K2-éé y") == "x <k2:1> y"


@needs_native
def test_a_secret_value_longer_than_256_bytes_is_masked_whole() -> None:
    """The key=value, --option and SQL PASSWORD rules took at most 256 bytes of value: past that a
    password's tail (key=value, --password) or all of it (PASSWORD '...') stayed in clear."""
    native, python = _pair()
    value = "Zq9" * 120
    texts = [
        f"password={value} next",
        f"x token: {value}",
        f"run --password {value} --verbose",
        f"ALTER USER app PASSWORD '{value}';",
        "password=a" + "é" * 200 + " tail",
        "token: " + "\U0001f600" * 100,
    ]
    _same(native, python, texts)
    for text in texts:
        for red in (native, python):
            out = red.redact(text)
            assert "Zq9" not in out
            assert "é" not in out
            assert "\U0001f600" not in out
            assert "<secret:" in out


def test_many_secrets_registered_in_a_row_build_the_database_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """add_secret rebuilt (and recompiled) the whole database for each value: registering n secrets cost
    n compilations of a growing database (2,000 secrets: minutes). Now the next use builds it once."""
    builds = []
    build = redact.Redactor._build

    def counting(self: redact.Redactor) -> Any:
        builds.append(1)
        return build(self)

    monkeypatch.setattr(redact.Redactor, "_build", counting)
    red = redact.Redactor()
    builds.clear()
    rng = random.Random(7)
    values = ["".join(rng.choice(string.ascii_letters + string.digits) for _ in range(20)) for _ in range(200)]
    for value in values:
        red.add_secret(value)
    assert builds == []
    assert red.redact(f"a {values[0]} b {values[150]} c") == "a <secret:1> b <secret:2> c"
    assert red.redact(f"{values[199]}") == "<secret:3>"
    assert builds == [1]
    red.add_secret("one-more-Secret-9")
    assert red.redact("x one-more-Secret-9") == "x <secret:4>"
    assert builds == [1, 1]


def test_a_secret_with_a_lone_surrogate_is_registered_and_masked() -> None:
    """redact() takes text with lone surrogates (encoded with surrogatepass); add_secret refused such a value
    with UnicodeEncodeError, and so redact_obj raised on a secret-keyed value holding one."""
    red = redact.Redactor()
    red.add_secret("abc\ud800defgh")
    assert red.redact("x abc\ud800defgh y") == "x <secret:1> y"
    assert red.redact_obj({"password": "pw\udfffword-9"}) == {"password": "<secret:2>"}
    assert red.redact("then pw\udfffword-9") == "then <secret:2>"


@needs_native
def test_a_database_of_other_rules_is_refused_not_read_past_its_rules() -> None:
    """A database loaded for other rules (a cache file of another rule set) reports pattern ids past the
    engine's rules; the module counted hits into an array by those ids, writing past its end, and found
    nothing. Now such a hit is a RuntimeError, and the redactor runs its Python path."""
    native, python = _pair()
    text = "card 4111 1111 1111 1111 pw=Tr0ub4dor3-prod ana@example.com +44 20 7946 0958"
    static = native._engine.static
    rules = static.rules[:2]
    spec = [redact._native_rule(r) for r in rules]
    foreign = redact._native.Engine(
        spec, [r.hs_pattern for r in rules], [r.hs_flags for r in rules], static.native.serialize()
    )
    with pytest.raises(RuntimeError, match="does not match"):
        foreign.find(text.encode(), [], redact._delegate(rules, text.encode()))
    static_native, static.native = static.native, foreign
    try:
        assert native.findings(text) == python.findings(text)
        assert native.redact(text) == python.redact(text) == "card <card:1> pw=<secret:1> <email:1> <phone:1>"
    finally:
        static.native = static_native

"""The redactor on real text: cards beside other numbers, phones after '=', cut-off secrets, vendor tokens.

Each case here was let through by an earlier version of the rules (found on a labelled corpus written
without looking at them, and by a fuzz of pairs of personal data); the fuzz at the end puts 10,000 pairs
of values side by side, with the separators real logs use, and requires that no value survives.
"""

from __future__ import annotations

import random
import string

import pytest

from golive import redact

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


# (text, the values that must not survive, the kinds of placeholder expected)
MISSES = [
    ("paid with amex 378282246310005 100 USD", ["378282246310005"], ["card"]),
    ("card 4111 1111 1111 1111 12/27", ["4111 1111 1111 1111"], ["card"]),
    ("card 4111111111111111 12/27", ["4111111111111111"], ["card"]),
    ("paid 4111111111111111 100 USD", ["4111111111111111"], ["card"]),
    ("cards 4111111111111111 5500000000000004", ["4111111111111111", "5500000000000004"], ["card", "card"]),
    ("4111 1111 1111 1111 5555 5555 5555 4444", ["4111 1111 1111 1111", "5555 5555 5555 4444"], ["card", "card"]),
    ("password=hunter22 4111111111111111", ["hunter22", "4111111111111111"], ["secret", "card"]),
    ("call +1 415 555 0100 4111111111111111", ["415 555 0100", "+1 ", "4111111111111111"], ["phone", "card"]),
    ("sms to=+18058758780 queued", ["8058758780"], ["phone"]),
    ("phone=(469) 941-5155", ["941-5155"], ["phone"]),
    ("escalate to=+1-713-463-0759", ["713-463-0759"], ["phone"]),
    (" usename | pw=SqlOutPassw0rd", ["SqlOutPassw0rd"], ["secret"]),
    ("export PWD=J4NPaNTGhWSdoaw26", ["J4NPaNTGhWSdoaw26"], ["secret"]),
    ("$ orders-cli migrate --db-password Sql_HrJFcV --host db", ["Sql_HrJFcV"], ["secret"]),
    ("ALTER USER app WITH PASSWORD 'BlueCorrect1996#';", ["BlueCorrect1996#"], ["secret"]),
    ("Cookie: theme=dark; session=qJng-bZ6Rn06K2_RDAQwW4E8Y2dWyMR7c6gmODTQ; lang=en", ["qJng-bZ6Rn06K2"], ["auth"]),
    ("token glv_" + "A" * 20 + "b3_-" + "c" * 19, ["glv_"], ["api_key"]),
    ("leaked AIzaSyD-" + "x1" * 14 + "abc", ["AIzaSyD"], ["api_key"]),
    ("found glpat-MXNuxbj1pPqL-h-7fX_O in .env", ["glpat-"], ["api_key"]),
]


@pytest.mark.parametrize(("text", "secrets", "kinds"), MISSES, ids=[m[0][:40] for m in MISSES])
@pytest.mark.usefixtures("engine")
def test_each_listed_miss_is_masked(text: str, secrets: list[str], kinds: list[str]) -> None:
    """Every value the earlier rules let through is masked now, with the placeholder of its kind."""
    out = redact.Redactor().redact(text)
    for value in secrets:
        assert value not in out, out
    for kind in kinds:
        assert f"<{kind}:" in out, out


@pytest.mark.usefixtures("engine")
def test_a_cut_off_prefix_or_suffix_of_a_registered_secret_is_masked() -> None:
    """A registered secret cut short (14 of 16 characters, or its tail) gets the secret's placeholder."""
    red = redact.Redactor()
    red.add_secret("Tr0ub4dor&3-prod")
    whole = red.redact("Tr0ub4dor&3-prod")
    assert red.redact("dsn=...:Tr0ub4dor&3-pr…") == f"dsn=...:{whole}…"
    assert red.redact("tail dor&3-prod") == f"tail {whole}"
    # Shorter than half the value: not a fragment (it would mask too much ordinary text).
    assert red.redact("Tr0ub4d") == "Tr0ub4d"


def test_fragments_are_not_letters_only() -> None:
    """A fragment made of letters alone (a word) is not registered: it would mask prose."""
    red = redact.Redactor()
    red.add_secret("production-db-key-7")
    assert red.redact("production starts") == "production starts"
    assert red.redact("production-db-k") != "production-db-k"


NEGATIVES = [
    "ES94 6620 6297 9773 3902 7243",  # a long number printed in fours holds a Luhn-valid 16 digits
    "order 4111111111111112 shipped",  # fails the Luhn check
    "max_tokens=4096 token_type=Bearer password_reset=false",
    "session=4492d2c7-22c0-458a-ae5e-a87f86892d6b",  # a session named by a UUID in a log line
    "compass: north-by-northwest",
    "tracking 007865441481 eta 2026-01-05",
    "deployed 1.22.3-rc.1+build.5 at 2026-01-05T10:11:12+01:00 commit 9f3c2a1",
]


@pytest.mark.parametrize("text", NEGATIVES)
@pytest.mark.usefixtures("engine")
def test_look_alikes_survive(text: str) -> None:
    """Hard negatives near the new rules are left alone."""
    assert redact.Redactor().redact(text) == text


@pytest.mark.usefixtures("engine")
def test_an_e164_number_is_a_phone_not_a_card() -> None:
    """+4915112345678 holds a Luhn-valid 13-digit run starting with 4: it is still a phone number."""
    assert redact.Redactor().redact("+4915112345678") == "<phone:1>"


# --- the PII-pair fuzz ---------------------------------------------------------------------------------


def _luhn(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def _card(rng: random.Random) -> str:
    prefix, length = rng.choice([("4", 16), ("51", 16), ("2221", 16), ("37", 15), ("6011", 16), ("3530", 16)])
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - 1 - len(prefix)))
    number = body + _luhn(body)
    sep = rng.choice(["", "", " ", "-"])
    if not sep:
        return number
    if length == 15:
        return sep.join([number[:4], number[4:10], number[10:]])
    return sep.join(number[i : i + 4] for i in range(0, 16, 4))


def _phone(rng: random.Random) -> str:
    a, b, c = str(rng.randint(201, 989)), str(rng.randint(200, 999)), f"{rng.randint(0, 9999):04d}"
    return rng.choice(
        [
            f"+1{a}{b}{c}",
            f"+1 {a} {b} {c}",
            f"+1-{a}-{b}-{c}",
            f"({a}) {b}-{c}",
            f"{a}-{b}-{c}",
            f"+44 20 {b}{c[0]} {c[1:]}1",
            f"+49 30 {b}{c}",
            f"+33 6 {c[:2]} {c[2:]} {b[:2]} {b[1:]}",
        ]
    )


def _email(rng: random.Random) -> str:
    return f"{rng.choice(['ana', 'li.wu', 'o+ops', 'k_99'])}{rng.randint(1, 999)}@{rng.choice(['example.com', 'corp.example.org'])}"


def _secret_kv(rng: random.Random) -> tuple[str, str]:
    value = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(rng.randint(8, 20)))
    key = rng.choice(["password", "pw", "pwd", "secret", "api_key", "token", "passwd"])
    return f"{key}={value}", value


def _iban(rng: random.Random) -> str:
    bban = "".join(rng.choice(string.digits) for _ in range(18))
    check = 98 - int("".join(str(int(ch, 36)) for ch in bban + "DE00")) % 97
    return f"DE{check:02d}{bban}"


def _value(rng: random.Random) -> tuple[str, str]:
    kind = rng.choice(["card", "card", "phone", "email", "secret", "iban"])
    if kind == "card":
        v = _card(rng)
        return v, v
    if kind == "phone":
        v = _phone(rng)
        return v, v
    if kind == "email":
        v = _email(rng)
        return v, v
    if kind == "iban":
        v = _iban(rng)
        return v, v
    return _secret_kv(rng)


def _core(value: str) -> str:
    """The part of a value that must not survive: its digits (a phone's or card's), else the value."""
    digits = "".join(ch for ch in value if ch.isdigit())
    return digits[-7:] if len(digits) >= 10 else value


def test_pii_pair_fuzz_leaks_nothing() -> None:
    """10,000 pairs of personal data or secrets side by side, with log separators: nothing survives."""
    rng = random.Random(16_10000)
    red = redact.Redactor()
    seps = [" ", "  ", ", ", "; ", " / ", " | ", "\t", " 12/27 ", " 100 USD ", " exp ", "=", ":"]
    leaks: list[str] = []
    for _ in range(10_000):
        (a, a_secret), (b, b_secret) = _value(rng), _value(rng)
        text = f"{rng.choice(['', 'paid ', 'card ', 'contact ', 'ERROR '])}{a}{rng.choice(seps)}{b}"
        out = red.redact(text)
        for secret in (a_secret, b_secret):
            core = _core(secret)
            flat = out.replace(" ", "").replace("-", "")
            if core in out or (core.isdigit() and core in flat):
                leaks.append(f"{text!r} -> {out!r}")
                break
    assert not leaks, f"{len(leaks)} leaks, e.g. {leaks[:5]}"


# --- the memo ------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("engine")
def test_the_memo_answers_a_text_seen_before_and_add_secret_empties_it() -> None:
    """A repeated text gets the same answer; after add_secret the same text is scanned again, so the
    new secret is masked in it (a remembered answer never outlives a secret added since)."""
    red = redact.Redactor()
    text = "deploy with key Qx7rTzLm28Vb to ops@example.com"
    first = red.redact(text)
    assert red.redact(text) == first == "deploy with key Qx7rTzLm28Vb to <email:1>"
    assert red.redact_bytes(text.encode()) == first.encode()
    red.add_secret("Qx7rTzLm28Vb")
    assert red.redact(text) == "deploy with key <secret:1> to <email:1>"
    assert red.redact_bytes(text.encode()) == b"deploy with key <secret:1> to <email:1>"


def test_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The memo holds at most MEMO_SIZE texts and none longer than MEMO_MAX_TEXT."""
    monkeypatch.setattr(redact, "MEMO_SIZE", 8)
    red = redact.Redactor()
    for i in range(50):
        red.redact(f"line {i} for ops{i}@example.com")
    red.redact("x" * (redact.MEMO_MAX_TEXT + 1))
    memo = red._engine.memo
    assert 0 < len(memo) <= 8
    assert all(len(k) <= redact.MEMO_MAX_TEXT for k in memo)

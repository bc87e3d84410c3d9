"""Redaction of secrets and personal data in text, bytes, JSON-like objects and streams.

One :class:`Redactor` per run: every event, log line, report and terminal output passes through it, so a
value gets the same placeholder (``<email:1>``) everywhere in that run, and a different value a different
one (``<email:2>``).

How it is fast: every rule has a Python regular expression that says exactly what it matches, and an
anchor (a short pattern every match contains) compiled once, with every other rule's, into one Hyperscan
database that reports where each anchor starts; the database is cached on disk. Hyperscan scans the whole
input once; the exact Python expression is then tried only where an anchor starts, where its match must
start (an e-mail's local part), from the start of the anchor's run (a card's digit groups), or searched
from just before the leftmost anchor of a flagged line; checksums (Luhn, IBAN mod 97) run only on those
candidates. A memo answers texts seen before. Without Hyperscan every rule's expression runs over the
whole input: the same results, slower.

Where the C module ``golive._redact_native`` is built (scripts/setup), it does all of that per-match work:
its own Hyperscan database of the same anchors, each rule's same expression text run by PCRE2 at the same
places, the refine checks written again in C, and the placeholders placed in one pass; rules it cannot run
identically (custom RE2 patterns, IP addresses) are handed back to the Python code in their place. The
Python code here is the reference: tests/unit/test_redact_native.py requires the same findings from both.

Kinds (placeholder names): email, phone, card, iban, aws_key, github_token, slack_token, stripe_key,
api_key, jwt, auth, private_key, ip (only with ``redact_ips``), secret (registered secret values and the
values of keys that look secret, ``password=...``), and the names of custom patterns.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import ipaddress
import json
import operator
import os
import re
import stat
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import quote, quote_plus

from golive import exceptions

if TYPE_CHECKING:
    from pathlib import Path

_hs: Any
try:  # Hyperscan is optional: x86-64 Linux wheels only.
    _hs = importlib.import_module("hyperscan")
except ImportError:  # pragma: no cover - exercised on machines without the wheel
    _hs = None

NATIVE_ENV = "GOLIVE_REDACT_NATIVE"  # "off": run the Python path even where the C module is built
_native: Any
try:  # The per-match work in C (golive/_redact_native.c, built by scripts/setup): same findings, ~5x faster.
    if os.environ.get(NATIVE_ENV, "").lower() in ("off", "0", "no", "false"):
        raise ImportError(f"{NATIVE_ENV} is off")
    _native = importlib.import_module("golive._redact_native")
except ImportError:
    _native = None

__all__ = ["HYPERSCAN_AVAILABLE", "KINDS", "NATIVE_AVAILABLE", "Redactor", "secret_key_name"]

HYPERSCAN_AVAILABLE = _hs is not None
NATIVE_AVAILABLE = _native is not None

KINDS = (
    "email",
    "phone",
    "card",
    "iban",
    "aws_key",
    "github_token",
    "slack_token",
    "stripe_key",
    "api_key",
    "jwt",
    "auth",
    "private_key",
    "ip",
    "secret",
)

MIN_SECRET_LEN = 4  # characters; a shorter registered value would mask ordinary words everywhere
MIN_B64_FRAGMENT = 8  # characters; shorter base64 fragments of a secret collide with ordinary text
MIN_SECRET_FRAGMENT = 8  # characters; a cut-off prefix or suffix of a registered secret this long is masked
STREAM_CHUNK = 4 * 1024 * 1024  # bytes read per step by redact_stream
MEMO_SIZE = 4096  # texts whose redaction is remembered per redactor (0: none); emptied when full
MEMO_MAX_TEXT = 16 * 1024  # characters; longer texts are redacted every time
MAX_HELD_LINE = 1024 * 1024  # bytes; a line longer than this is cut at whitespace when streaming
MAX_KEY_BLOCK = 1024 * 1024  # bytes; an unterminated private key block is held back up to this size
_CUSTOM_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")

_Span = tuple[int, int]
_Refine = Callable[[bytes, "re.Match[bytes]"], "_Span | list[_Span] | None"]  # a list: several findings


# ---------------------------------------------------------------------------------------------------------
# Validators: run only on candidates, so they may be slow-ish Python.


_LUHN_DOUBLED = bytes((2 * d - 9 if d > 4 else 2 * d) for d in range(10))
# ASCII digit -> its doubled Luhn value (as a small integer byte), for bytes.translate.
_LUHN_DOUBLED_ASCII = bytes(_LUHN_DOUBLED[c - 48] if 48 <= c <= 57 else 0 for c in range(256))


def _luhn_ok(digits: bytes) -> bool:
    """True when an ASCII digit string passes the Luhn checksum."""
    kept = digits[-1::-2]
    doubled = digits[-2::-2]
    return (sum(kept) - 48 * len(kept) + sum(doubled.translate(_LUHN_DOUBLED_ASCII))) % 10 == 0


def _issuer_ok(digits: bytes) -> bool:
    """True when the number starts like a card of a major network and has a length that network uses."""
    n = len(digits)
    two, four = int(digits[:2]), int(digits[:4])
    if digits[0] == 52:  # '4': Visa
        return n in (13, 16, 19)
    if 51 <= two <= 55 or 2221 <= four <= 2720:  # Mastercard
        return n == 16
    if two in (34, 37):  # American Express
        return n == 15
    if two in (30, 36, 38, 39):  # Diners Club
        return 14 <= n <= 19
    if 3528 <= four <= 3589:  # JCB
        return 16 <= n <= 19
    if four == 6011 or two == 65 or 644 <= int(digits[:3]) <= 649 or two == 62:  # Discover, UnionPay
        return 16 <= n <= 19
    return False


# _issuer_ok as one expression over the digits (for the hot path; the function above says it in words).
_ISSUER = re.compile(
    rb"4(?:\d{12}|\d{15}|\d{18})|5[1-5]\d{14}|(?:222[1-9]|22[3-9]\d|2[3-6]\d\d|27[01]\d|2720)\d{12}"
    rb"|3[47]\d{13}|3[0689]\d{12,17}|35(?:2[89]|[3-8]\d)\d{12,15}"
    rb"|(?:6011|65\d\d|64[4-9]\d|62\d\d)\d{12,15}"
)


def _card_ok(digits: bytes) -> bool:
    """True for an ASCII digit string that is a card number: issuer and length, then the Luhn digit."""
    return _ISSUER.fullmatch(digits) is not None and _luhn_ok(digits)


def _find_cards(data: bytes, m: re.Match[bytes]) -> list[_Span]:
    """Every card number in this run of digit groups (separated by single spaces or dashes).

    A card may stand beside other groups (an expiry, an amount, a phone number before it, a second card
    after it), so at each group every run of groups that ends on a group boundary is tried, longest first,
    for issuer, length, grouping (one run of digits; fours with a last group of 1-4; 4-6-5 or 4-6-4; one
    kind of separator) and the Luhn digit. A grouped card is not taken from the middle of a longer number
    printed in fours (``ES94 6620 6297 9773 3902 7243``): when every group before it, back to the start of
    the run or the previous card, is a group of four.
    """
    text = m.group(0)
    base = m.start()
    if text.isdigit():
        return [m.span()] if _card_ok(text) else []
    if _ONE_GROUPED_CARD.fullmatch(text) and _card_ok(text.translate(None, b" -")):
        return [m.span()]  # the whole run is one card: what the search below would find first
    groups = _GROUP_SEP.split(text)
    lens = [len(g) for g in groups]
    n = len(groups)
    offs = [0] * n  # where each group starts in text
    cum = [0] * (n + 1)  # where each group starts in digits
    pos = 0
    for k in range(n):
        offs[k] = pos
        pos += lens[k] + 1
        cum[k + 1] = cum[k] + lens[k]
    digits = text.translate(None, b" -")
    seps = text.translate(None, b"0123456789")  # seps[k - 1]: the separator before group k
    fours = [n] * (n + 1)  # fours[k]: the first group at or after k that is not a group of four
    for k in range(n - 1, -1, -1):
        fours[k] = fours[k + 1] if lens[k] == 4 else k
    out: list[_Span] = []
    i = 0
    boundary = 0  # the first group after the previous card (or the run's start)
    while i < n:
        count = 0
        if groups[i][0] in b"23456":
            total = 0
            j = i
            ends: list[int] = []
            while j < n and total + lens[j] <= 19:
                total += lens[j]
                j += 1
                if total >= 13:
                    ends.append(j)
            for j in reversed(ends):
                if j - i == 1:
                    ok = _card_ok(groups[i])
                else:
                    last = lens[j - 1]
                    ok = (
                        # fours with a last group of 1-4, or 4-6-5 / 4-6-4
                        (
                            (fours[i] >= j - 1 and last <= 4)
                            or (j - i == 3 and lens[i] == 4 and lens[i + 1] == 6 and last in (4, 5))
                        )
                        and seps[i : j - 1] == seps[i : i + 1] * (j - 1 - i)  # one kind of separator
                        and not (i > boundary and fours[boundary] >= i)  # not inside a longer number in fours
                        and _card_ok(digits[cum[i] : cum[j]])
                    )
                if ok:
                    count = j - i
                    break
        if count:
            out.append((base + offs[i], base + offs[i + count - 1] + lens[i + count - 1]))
            i += count
            boundary = i
        else:
            i += 1
    return out


_GROUP_SEP = re.compile(rb"[ -]")
# A run that is one grouped card by itself: fours with a last group of 1-4, or 4-6-5 / 4-6-4, one separator.
_ONE_GROUPED_CARD = re.compile(rb"\d{4}([ -])\d{4}\1\d{4}\1(?:\d{1,4}|\d{4}\1\d{1,3})|\d{4}([ -])\d{6}\2\d{4,5}")


IBAN_LENGTHS: Mapping[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


# Each character of an IBAN as the digits the mod-97 check reads (A=10 ... Z=35), looked up per character:
# str.translate with a partial table takes a slow path for every character it does not list.
_IBAN_DIGITS = {ch: str(int(ch, 36)) for ch in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"}


def iban_valid(compact: str) -> bool:
    """True when ``compact`` (no spaces) has its country's length and a correct mod-97 checksum."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isalnum() or not compact.isascii():
        return False
    return int("".join(map(_IBAN_DIGITS.__getitem__, compact[4:] + compact[:4]))) % 97 == 1


def _refine_iban(data: bytes, m: re.Match[bytes]) -> _Span | None:
    text = m.group(0)
    want = _IBAN_LENGTHS_ASCII.get(text[:2])
    if want is None:
        return None
    end = want  # offset in text just past the want-th character that is not a space
    space = text.find(b" ", 0, end)
    while space >= 0:
        end += 1
        space = text.find(b" ", space + 1, end)
    if end > len(text):
        return None
    after = m.start() + end
    if after < len(data) and data[after : after + 1].isalnum():
        return None
    # The expression admits only A-Z, 0-9 and spaces, and there are `want` others: the country's length.
    compact = text[:end].replace(b" ", b"")
    return (
        (m.start(), after)
        if int("".join(map(_IBAN_DIGITS_ASCII.__getitem__, compact[4:] + compact[:4]))) % 97 == 1
        else None
    )


_IBAN_LENGTHS_ASCII = {country.encode("ascii"): length for country, length in IBAN_LENGTHS.items()}
_IBAN_DIGITS_ASCII = {ord(ch): digits for ch, digits in _IBAN_DIGITS.items()}


_FILE_TLDS = {b"png", b"jpg", b"jpeg", b"gif", b"svg", b"webp", b"css", b"js", b"ts", b"map", b"ico"}


def _refine_email(data: bytes, m: re.Match[bytes]) -> _Span | None:
    tld = m.group(0).rsplit(b".", 1)[-1].lower()
    return None if tld in _FILE_TLDS else m.span()


def _digit_count(text: bytes) -> int:
    return len(text) - len(text.translate(None, b"0123456789"))


def _phone_refiner(lo: int, hi: int, group: int | str = 0, skip_prefix: bool = False) -> _Refine:
    """Keep a match whose digits (without a leading ``00`` international prefix) number lo to hi."""

    def refine(data: bytes, m: re.Match[bytes]) -> _Span | None:
        text = m.group(group)
        count = _digit_count(text) - (2 if skip_prefix and text.startswith(b"00") else 0)
        return m.span(group) if lo <= count <= hi else None

    _PHONE_REFINERS[refine] = (lo, hi, group, skip_prefix)  # what the C module runs in its place
    return refine


_PHONE_REFINERS: dict[_Refine, tuple[int, int, int | str, bool]] = {}


def _refine_e164(data: bytes, m: re.Match[bytes]) -> _Span | None:
    """8 to 15 digits after ``+`` or ``00``; digit groups past the 15th digit (a card, an amount that
    follows the number) are left out."""
    text = m.group(0)
    skip = 2 if text.startswith(b"00") else 0
    end = len(text)
    while _digit_count(text[:end]) - skip > 15:
        cut = max(text.rfind(b" ", 0, end), text.rfind(b"-", 0, end), text.rfind(b".", 0, end))
        if cut <= 0:
            return None
        end = cut
    if _digit_count(text[:end]) - skip < 8:
        return None
    return (m.start(), m.start() + end)


_NOT_SECRET_VALUES = {
    b"true", b"false", b"null", b"none", b"nil", b"undefined", b"yes", b"n/a", b"redacted", b"hidden",
    b"masked", b"required", b"optional", b"string", b"changeme", b"xxxx", b"empty", b"unset", b"present",
    b"missing", b"invalid", b"expired", b"valid", b"set",
}  # fmt: skip


def _refine_context_secret(data: bytes, m: re.Match[bytes]) -> _Span | None:
    value = m.group("v")
    low = value.lower()
    if low in _NOT_SECRET_VALUES or not value.strip(b"*xX#.-"):  # a placeholder such as ****
        return None
    if value.startswith((b"/", b"./", b"~/", b"$")):  # a path or a reference, not a value
        return None
    return m.span("v")


def _refine_openai(data: bytes, m: re.Match[bytes]) -> _Span | None:
    body = m.group(0)[3:]
    has_digit = any(48 <= c <= 57 for c in body)
    has_alpha = any(65 <= c <= 90 or 97 <= c <= 122 for c in body)
    return m.span() if has_digit and has_alpha else None


def _refine_ipv4(data: bytes, m: re.Match[bytes]) -> _Span | None:
    try:
        ipaddress.IPv4Address(m.group(0).decode("ascii"))
    except ValueError:
        return None
    return m.span()


def _refine_ipv6(data: bytes, m: re.Match[bytes]) -> _Span | None:
    text = m.group(0).decode("ascii").split("%", 1)[0]
    if text.count(":") < 2 or not any(c not in ":" for c in text):
        return None
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return None
    return m.span()


# ---------------------------------------------------------------------------------------------------------
# Rules


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: str
    priority: int  # lower wins when spans of different kinds overlap
    regex: re.Pattern[bytes] | None  # exact expression; None for a literal
    hs_pattern: bytes  # what Hyperscan scans for (the expression itself, or a cheaper anchor)
    hs_flags: int
    refine: _Refine | None = None
    multiline: bool = False  # may span lines: re-matched from the flagged line to the end of the input
    literal: bytes | None = None  # exact bytes (registered secrets): Hyperscan's end offset is enough
    canonical: bytes | None = None  # the registered value this literal encodes (one placeholder for all)
    at_anchor: bool = False  # every match starts where its anchor starts (Hyperscan's start of match)
    # Where the only match an anchor can belong to starts, from the anchor's start (an e-mail's local part
    # before its "@"); the exact expression is then tried there alone, as for at_anchor.
    start_of: Callable[[bytes, int], int] | None = None
    # Every finding lies in a run of text that holds an anchor's start, and this expression, matched on the
    # text before an anchor read backwards, finds where that run starts: the search skips what lies between
    # runs (in a line of timestamps and ids around one card, most of it). A run reaches back past an anchor
    # only over a space or a dash before it.
    run_back: re.Pattern[bytes] | None = None


_PREFILTER = 128  # hyperscan.HS_FLAG_PREFILTER, spelled out so the table is built without Hyperscan
_SOM_LEFTMOST = 256  # hyperscan.HS_FLAG_SOM_LEFTMOST: report where an anchor starts, not only where it ends
# How far before an anchor's start its rule's match may begin (an e-mail's local part, a digit run before a
# card): the exact expression is searched from there, not from the start of the line.
_LOOKBACK = 72
_P = {
    "private_key": 0,
    "secret_registered": 1,
    "aws_key": 2,
    "github_token": 3,
    "slack_token": 4,
    "stripe_key": 5,
    "jwt": 6,
    "api_key": 7,
    "custom": 8,
    "auth": 9,
    "secret": 10,
    "card": 11,
    "iban": 12,
    "email": 13,
    "phone": 14,
    "ip": 15,
}

# The value part of ``key=value`` / ``"key": "value"`` / ``key: value``.
_KV_SEP = rb"(?:\\?[\"'])?[ \t]*(?:[:=]|=>)[ \t]*(?:\\?[\"'])?"
_SECRET_KEYS = (
    rb"(?:(?:password|passwd|passphrase|secret|api[_-]?key|apikey|token|private[_-]?key|signing[_-]?key"
    rb"|credentials?|session[_-]?id)(?:[_.-]?(?:access[_-]?)?key)?"
    # Abbreviations only as a whole word or after a separator: "pw", "db_pass", not "compass".
    rb"|(?<![A-Za-z0-9])(?:pw|pwd|pass|tok))"
)
_END = rb"(?![\w-]|[.,]\d)"  # a number must not go on: ports, decimals, longer ids
_PHONE_START = rb"(?<![\w+./#-])"
# Anchors that may start after their rule's match does (an e-mail's anchor is its "@"): the exact
# expression is searched from a little before them. Every other anchor starts where its match starts,
# so the expression is only tried there (re.match at Hyperscan's start of match).
_ANCHORS_INSIDE: set[bytes] = set()
_START_OF: dict[bytes, Callable[[bytes, int], int]] = {}


_RUN_BACK: dict[bytes, re.Pattern[bytes]] = {}


def _inside(anchor: bytes, start_of: Callable[[bytes, int], int] | None = None, run_back: bytes | None = None) -> bytes:
    _ANCHORS_INSIDE.add(anchor)
    if start_of is not None:
        _START_OF[anchor] = start_of
    if run_back is not None:
        _RUN_BACK[anchor] = re.compile(run_back)
    return anchor


_EMAIL_LOCAL_BACK = re.compile(rb"[A-Za-z0-9._%+-]{1,65}")


def _email_start(data: bytes, at: int) -> int:
    """Where an e-mail whose local part ends at ``at`` (its anchor's first character) can start: at the
    start of the run of local-part characters before it. The expression's look-behind refuses every
    later position of that run, and a local part has at most 64 characters (65 back: the expression
    decides whether the run starts there)."""
    return at + 1 - _EMAIL_LOCAL_BACK.match(data[max(0, at - 64) : at + 1][::-1]).end()  # type: ignore[union-attr]


def _builtin_specs(redact_ips: bool) -> list[tuple[str, bytes, bytes | None, int, _Refine | None, bool]]:
    """(kind, python pattern, hyperscan anchor or None for the pattern itself, re flags, refine, multiline)."""
    specs: list[tuple[str, bytes, bytes | None, int, _Refine | None, bool]] = [
        (
            "private_key",
            rb"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
            rb"-----BEGIN[ A-Z0-9]*PRIVATE KEY",
            re.DOTALL,
            None,
            True,
        ),
        (
            "aws_key",
            rb"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)[A-Z0-9]{16}"
            rb"(?![A-Za-z0-9])",
            rb"A(?:KIA|SIA|BIA|CCA|GPA|IDA|IPA|NPA|NVA|ROA|PKA|SCA)[A-Z0-9]{16}",
            0,
            None,
            False,
        ),
        (
            "aws_key",
            rb"(?i)(?:aws[\w.-]{0,30}?(?:secret|_sk\b)|secret_?access_?key)[\w.-]{0,30}?"
            + _KV_SEP
            + rb"(?P<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])",
            rb"(?i)aws[\w.-]{0,30}?(?:secret|_sk)|secret_?access_?key",
            0,
            None,
            False,
        ),
        (
            # A secret key pasted right after its access key id ("AKIA... / wJalr...").
            "aws_key",
            rb"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}[^A-Za-z0-9+\r\n]{1,20}(?P<v>[A-Za-z0-9/+]{40})"
            rb"(?![A-Za-z0-9/+])",
            rb"A(?:KIA|SIA)[A-Z0-9]{16}[^A-Za-z0-9+\r\n]{1,20}[A-Za-z0-9/+]{40}",
            0,
            None,
            False,
        ),
        (
            "github_token",
            rb"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,242})"
            rb"(?![A-Za-z0-9_])",
            rb"gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22}",
            0,
            None,
            False,
        ),
        (
            "slack_token",
            rb"(?<![\w-])(?:xox[abposre]-[A-Za-z0-9-]{10,250}|xapp-\d-[A-Za-z0-9-]{10,250})",
            rb"xox[abposre]-[A-Za-z0-9-]{10}|xapp-\d-[A-Za-z0-9-]{10}",
            0,
            None,
            False,
        ),
        (
            "slack_token",
            rb"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]{10,}",
            _inside(rb"hooks\.slack\.com/"),
            0,
            None,
            False,
        ),
        (
            "stripe_key",
            rb"(?<![\w])(?:(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,247}|whsec_[A-Za-z0-9]{20,247})"
            rb"(?![A-Za-z0-9])",
            rb"(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10}|whsec_[A-Za-z0-9]{20}",
            0,
            None,
            False,
        ),
        (
            "jwt",
            rb"(?<![\w-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*(?![\w-])",
            rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ",
            0,
            None,
            False,
        ),
        (
            "api_key",
            rb"(?<![\w-])sk-(?:proj-|svcacct-|admin-|ant-api\d\d-)?[A-Za-z0-9_-]{20,}(?![\w-])",
            rb"sk-[A-Za-z0-9_-]{20}",
            0,
            _refine_openai,
            False,
        ),
        (
            # Vendor tokens with a documented prefix: golive (glv_), Google (AIza), GitLab (glpat-),
            # npm (npm_), SendGrid (SG.), Hugging Face (hf_), PyPI (pypi-).
            "api_key",
            rb"(?<![\w-])(?:glv_[A-Za-z0-9_-]{32,}|AIza[A-Za-z0-9_-]{35}|glpat-[A-Za-z0-9_-]{20,}"
            rb"|npm_[A-Za-z0-9]{36}|SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}|hf_[A-Za-z]{34}"
            rb"|pypi-AgE[A-Za-z0-9_-]{50,})(?![\w-])",
            rb"glv_[A-Za-z0-9_-]{32}|AIza[A-Za-z0-9_-]{35}|glpat-[A-Za-z0-9_-]{20}|npm_[A-Za-z0-9]{36}"
            rb"|SG\.[A-Za-z0-9_-]{22}\.|hf_[A-Za-z]{34}|pypi-AgE[A-Za-z0-9_-]{50}",
            0,
            None,
            False,
        ),
        (
            "auth",
            rb"(?i)(?<![\w-])(?:proxy-)?authorization"
            + _KV_SEP
            + rb"(?:(?:bearer|basic|token|apikey|api-key)[ \t]+(?P<v>[^\s\"',;\\]+)"
            rb"|(?P<w>(?:digest|aws4-hmac-sha256|ntlm|negotiate|hmac)[ \t][^\"'\r\n\\]+)"
            rb"|(?!(?:bearer|basic|token)\b)(?P<x>[^\s\"',;\\]{6,}))",
            rb"(?i)authorization",
            0,
            _refine_auth,
            False,
        ),
        (
            "auth",
            rb"(?<![\w-])[Bb]earer[ \t]+(?P<v>[A-Za-z0-9._~+/-]{16,}=*)",
            rb"[Bb]earer[ \t]+[A-Za-z0-9._~+/-]{16}",
            0,
            _refine_bearer,
            False,
        ),
        (
            "secret",
            rb"(?i)" + _SECRET_KEYS + _KV_SEP + rb"(?P<v>[^\s\"',;&<>{}\[\]()`\\]{4,})",
            rb"(?i)" + _SECRET_KEYS.replace(rb"(?<![A-Za-z0-9])", b"") + rb"(?:\\?[\"'])?[ \t]*(?:[:=]|=>)",
            0,
            _refine_context_secret,
            False,
        ),
        (
            # A secret given to a command-line option: --password X, --db-password=X, --api-key X, --token X.
            "secret",
            rb"(?i)(?<![\w-])--(?:[a-z0-9]+-)*(?:password|passwd|passphrase|secret|token|api-?key|pw|pwd)"
            rb"(?:=|[ \t]+)(?P<v>(?!-)[^\s\"'`;&|<>]{4,})",
            rb"(?i)--(?:[a-z0-9]+-)*(?:password|passwd|passphrase|secret|token|api-?key|pw|pwd)(?:=|[ \t])",
            0,
            _refine_context_secret,
            False,
        ),
        (
            # SQL: ALTER USER ... PASSWORD 'x', CREATE USER ... IDENTIFIED BY 'x'.
            "secret",
            rb"(?i)\b(?:password|identified[ \t]+by)[ \t]+'(?P<v>[^'\r\n]{4,})'",
            rb"(?i)(?:password|identified[ \t]+by)[ \t]+'",
            0,
            _refine_context_secret,
            False,
        ),
        (
            # Session cookies and session ids: session=..., sessionid=..., connect.sid=..., remember_token=...
            "auth",
            rb"(?i)(?<![A-Za-z0-9])[\w.-]{0,20}?(?:sess(?:ion)?(?:[_-]?id)?|sid)[ \t]*=[ \t]*"
            rb"(?P<v>[A-Za-z0-9%._~+/-]{16,}=*)",
            _inside(rb"(?i)(?:sess|sid)[a-z_-]{0,10}[ \t]*=[ \t]*[A-Za-z0-9%._~+/-]{16}"),
            0,
            _refine_session,
            False,
        ),
        (
            # Credentials inside a URL: scheme://user:password@host.
            "secret",
            rb"(?i)\b[a-z][a-z0-9+.-]{1,20}://[^/\s:@\"']{0,64}:(?P<v>[^@\s/\"']{1,128})@",
            _inside(rb"://[^/\s:@\"']{0,64}:[^@\s/\"']{1,128}@"),
            0,
            _span_v,
            False,
        ),
        (
            "card",
            # A run of digit groups; _find_cards finds the cards in it.
            # (The first digit comes before its look-behind so that `re` can skip to digits quickly.)
            rb"\d(?<![\w.,+]\d)(?=(?:[ -]?\d){12})\d*(?:[ -]\d+)*(?![\w]|[.,]\d)",
            # 13 digits in a row, or grouped in fours, or 4-6 (Amex, Diners): cheap to compile with SOM.
            # A card starts where an anchor starts (a group boundary), and the run of digit groups around
            # it goes back over groups joined by single separators ("(?:[ -]\d+)*" read backwards).
            _inside(rb"\b[2-6]\d{3}(?:\d{9}|[ -]\d{4}[ -]\d|[ -]\d{6}[ -]\d)", run_back=rb"(?:[ -]\d+)*"),
            0,
            _find_cards,
            False,
        ),
        (
            "iban",
            rb"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){10,32}",
            rb"[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){10}",
            0,
            _refine_iban,
            False,
        ),
        (
            "email",
            rb"[A-Za-z0-9](?<![\w.+%-][A-Za-z0-9])[A-Za-z0-9._%+-]{0,63}(?:@|%40)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
            rb"[A-Za-z]{2,24}(?![\w-])",
            _inside(rb"[A-Za-z0-9._%+-](?:@|%40)[A-Za-z0-9]", _email_start),  # a local part may end in . _ % + -
            0,
            _refine_email,
            False,
        ),
        (
            # International (E.164): +44 20 7946 0958, +1 (415) 555-0100, +4915112345678, and the same
            # after the 00 international prefix: 0044 20 7946 0958.
            "phone",
            rb"(?<![\w+])(?:\+[1-9]\d{0,3}(?:[ .-]?\(\d{1,4}\))?[ .-]?|(?<![\d.:/-])00[1-9]\d{0,3}[ .-]"
            rb"(?:\(\d{1,4}\)[ .-]?)?)\d+(?:[ .-]\d+){0,6}"
            rb"(?![\w.-]?\d)",
            rb"\+[1-9][ .-]?[\d(]|\b00[1-9]\d{0,3}[ .-]",
            0,
            _refine_e164,
            False,
        ),
        (
            # North America: (415) 555-0100, 415-555-0100, 415.555.0100, 1-800-555-0199.
            "phone",
            _PHONE_START + rb"(?:1[ .-])?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}" + _END,
            _inside(rb"(?:\(\d{3}\)[ .-]?|\b\d{3}[ .-])\d{3}[ .-]\d{4}"),
            0,
            None,
            False,
        ),
        (
            # A trunk prefix in brackets: (020) 7946 0958, (02) 9876 5432, (030) 123 456 78.
            "phone",
            _PHONE_START + rb"\(0\d{1,4}\)[ ]?\d{2,5}(?:[ -]\d{2,5}){0,2}" + _END,
            rb"\(0\d{1,4}\)[ ]?\d\d",
            0,
            _phone_refiner(9, 12),
            False,
        ),
        (
            # UK and Australia: 020 7946 0958, 01632 960123, 07700 900123, 07700 900 123, 0412 345 678.
            "phone",
            _PHONE_START + rb"0(?:\d{4} \d{6}|\d{4} \d{3} \d{3}|\d{3} \d{3} \d{3,4}|\d{2} \d{4} \d{4})" + _END,
            rb"\b0\d{2,4} \d{3}",
            0,
            None,
            False,
        ),
        (
            # France: 01 23 45 67 89, 06.12.34.56.78.
            "phone",
            _PHONE_START + rb"0[1-9](?:([ .])\d{2})(?:\1\d{2}){3}" + _END,
            rb"\b0[1-9][ .]\d\d[ .]\d\d[ .]\d\d",
            0,
            None,
            False,
        ),
        (
            # Germany: 030 12345678, 089/1234567.
            "phone",
            _PHONE_START + rb"0\d{2,4}[ /]\d{5,8}" + _END,
            rb"\b0\d{2,4}[ /]\d{5}",
            0,
            _phone_refiner(9, 12),
            False,
        ),
        (
            # Japan: 03-1234-5678, 090-1234-5678.
            "phone",
            _PHONE_START + rb"0\d{1,4}-\d{1,4}-\d{4}" + _END,
            rb"\b0\d{1,4}-\d{1,4}-\d{4}",
            0,
            _phone_refiner(10, 11),
            False,
        ),
        (
            # Any format after a label: "phone: 5551234567", "Tel. +41 44 668 18 00", "mobile": "4155550100".
            "phone",
            rb"(?i)(?<![A-Za-z0-9])(?:phone|tel|telephone|mobile|cell|fax|whatsapp|sms|msisdn)"
            rb"(?:[ \t]*(?:no|number|#))?\.?(?:\\?[\"'])?[ \t]*[:#=]?[ \t]*(?:\\?[\"'])?[ \t]*"
            rb"(?P<v>\+?\(?\d[\d ().-]{5,18}\d)(?![\w.-]?\d)",
            rb"(?i)(?:phone|tel|telephone|mobile|cell|fax|whatsapp|sms|msisdn)",
            0,
            _phone_refiner(7, 15, "v"),
            False,
        ),
    ]
    if redact_ips:
        specs += [
            (
                "ip",
                rb"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)",
                None,
                0,
                _refine_ipv4,
                False,
            ),
            (
                "ip",
                rb"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4})"
                rb"(?:%[\w.]+)?(?![\w:])",
                _inside(rb"(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|[0-9A-Fa-f]{0,4}::"),
                0,
                _refine_ipv6,
                False,
            ),
        ]
    return specs


def _span_v(data: bytes, m: re.Match[bytes]) -> _Span | None:
    return m.span("v")


_UUID = re.compile(rb"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


def _refine_session(data: bytes, m: re.Match[bytes]) -> _Span | None:
    # A UUID after "session=" names a session in a log line; a session credential is longer and random.
    return None if _UUID.fullmatch(m.group("v")) else _refine_bearer(data, m)


def _refine_bearer(data: bytes, m: re.Match[bytes]) -> _Span | None:
    # Tokens carry digits; "Bearer password_changed=true" in prose does not.
    return m.span("v") if any(48 <= c <= 57 for c in m.group("v")) else None


def _refine_auth(data: bytes, m: re.Match[bytes]) -> _Span | None:
    for group in ("v", "w", "x"):
        if m.group(group) is not None:
            return m.span(group)
    return None


def _secret_forms(value: str) -> set[bytes]:
    """The raw bytes of a secret and its common encodings, including base64 at every alignment."""
    raw = value.encode("utf-8", "surrogatepass")  # a lone surrogate is kept as redact() encodes it
    forms = {
        raw,
        quote(value, safe="", errors="surrogatepass").encode(),
        quote_plus(value, errors="surrogatepass").encode(),
        json.dumps(value)[1:-1].encode(),
    }
    for shift in range(3):
        # The characters of base64(prefix + raw) that depend on raw alone, for a prefix of any length:
        # this finds the secret inside a larger encoded blob (e.g. Basic auth of "user:secret").
        enc = base64.b64encode(b"\0" * shift + raw)
        first = -(-8 * shift // 6)
        last = 8 * (shift + len(raw)) // 6
        fragment = enc[first:last]
        if len(fragment) >= MIN_B64_FRAGMENT:
            forms.add(fragment)
            forms.add(fragment.translate(bytes.maketrans(b"+/", b"-_")))
    full = base64.b64encode(raw)
    forms |= {full, base64.urlsafe_b64encode(raw)}
    forms |= _secret_fragments(value)
    return {f for f in forms if len(f) >= MIN_SECRET_LEN}


def _secret_fragments(value: str) -> set[bytes]:
    """Prefixes and suffixes of a secret that was cut off (a truncated line, a column width, a log limit).

    A fragment counts when it has at least ``MIN_SECRET_FRAGMENT`` characters and at least half of the
    value, and is not made of letters alone (a word-like fragment such as "production" would mask prose).
    """
    shortest = max(MIN_SECRET_FRAGMENT, (len(value) + 1) // 2)
    out: set[bytes] = set()
    for n in range(shortest, len(value)):
        for fragment in (value[:n], value[-n:]):
            if not fragment.isalpha():
                out.add(fragment.encode("utf-8", "surrogatepass"))
    return out


def _hs_escape(literal: bytes) -> bytes:
    return b"".join(b"\\x%02x" % c for c in literal)


class _LinearMatch:
    """A match of a :class:`_LinearPattern`, answering the calls the redactor makes on a ``re.Match``."""

    __slots__ = ("_m", "_names")

    def __init__(self, m: Any, names: dict[str, int]) -> None:
        self._m, self._names = m, names

    def _g(self, group: int | str) -> int:
        return self._names[group] if isinstance(group, str) else group

    def span(self, group: int | str = 0) -> tuple[int, int]:
        return cast(tuple[int, int], self._m.span(self._g(group)))

    def start(self, group: int | str = 0) -> int:
        return int(self._m.start(self._g(group)))

    def end(self, group: int | str = 0) -> int:
        return int(self._m.end(self._g(group)))


class _LinearPattern:
    """A runbook's custom redaction pattern on RE2: linear time whatever the pattern and the text, so a
    catastrophic expression such as ``(a+)+$`` cannot stall redaction (and with it the engine or server)."""

    def __init__(self, source: bytes) -> None:
        import re2

        try:
            self._rx = re2.compile(source)
        except re2.error as exc:
            raise re.error(f"{exc} (custom patterns use RE2 syntax: no lookaround or backreferences)") from None
        self.pattern = source
        self.groupindex = {
            (k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in self._rx.groupindex.items()
        }

    def _wrap(self, m: Any) -> _LinearMatch | None:
        return None if m is None else _LinearMatch(m, self.groupindex)

    def search(self, data: bytes, pos: int = 0, endpos: int | None = None) -> _LinearMatch | None:
        return self._wrap(self._rx.search(data, pos, len(data) if endpos is None else endpos))

    def match(self, data: bytes, pos: int = 0, endpos: int | None = None) -> _LinearMatch | None:
        return self._wrap(self._rx.match(data, pos, len(data) if endpos is None else endpos))

    def fullmatch(self, data: bytes) -> _LinearMatch | None:
        return self._wrap(self._rx.fullmatch(data))


def _compile_custom(spec: str | tuple[str, str]) -> tuple[str, Any, str]:
    name, pattern = ("custom", spec) if isinstance(spec, str) else spec
    if not _CUSTOM_NAME.fullmatch(name):
        raise exceptions.UsageError(
            f"custom redaction pattern name {name!r}: use lower-case letters, digits and '_' (at most 32)"
        )
    try:
        regex = _LinearPattern(pattern.encode("utf-8"))
    except re.error as exc:
        raise exceptions.UsageError(
            f"custom redaction pattern {name!r} ({pattern!r}): {exc}; fix the regular expression"
        ) from exc
    if regex.fullmatch(b""):
        raise exceptions.UsageError(
            f"custom redaction pattern {name!r} ({pattern!r}) matches the empty string; make it match "
            "at least one character"
        )
    return name, regex, pattern


# ---------------------------------------------------------------------------------------------------------
# The compiled state: immutable, swapped whole when secrets are added.


class _Compiled:
    """Rules and their Hyperscan database: in the C module's engine (``native``) where it is built, else
    in python-hyperscan's (``db``), else neither (each rule is then a Python scan).

    ``cached``: the database may come from (and goes to) the on-disk cache (the pattern rules, not a
    redactor's registered secrets, which never touch the disk).
    """

    def __init__(self, rules: list[_Rule], cached: bool = False) -> None:
        self.rules = rules  # index == Hyperscan id
        self.db: Any = None
        self.native: Any = None
        if _native is not None and rules:
            self.native = _native_engine(rules, cached)
            if self.native is not None:
                return
        if _hs is not None and rules:
            key = _db_key(rules) if cached else None
            db = _load_db(key, _hs_loadb) if key is not None else None
            if db is None:
                db = _hs.Database(mode=_hs.HS_MODE_BLOCK)
                db.compile(
                    expressions=[r.hs_pattern for r in rules],
                    ids=list(range(len(rules))),
                    elements=len(rules),
                    flags=[r.hs_flags for r in rules],
                )
                if key is not None:
                    _store_db(key, bytes(_hs.dumpb(db)))
            self.db = db


def _hs_loadb(data: bytes) -> Any:
    return _hs.loadb(data, mode=_hs.HS_MODE_BLOCK)


# The C module's rule modes and checks (the numbering of _redact_native.c).
_N_LITERAL, _N_MULTILINE, _N_START_OF, _N_AT_ANCHOR, _N_RUN_BACK, _N_LINE, _N_DELEGATE = range(7)
_N_PHONE = 5
_N_REFINES: dict[_Refine | None, int] = {}  # filled below, once the refine functions exist
_N_FLAGS = {re.IGNORECASE: 0x8, re.MULTILINE: 0x400, re.DOTALL: 0x20}  # PCRE2_CASELESS, _MULTILINE, _DOTALL
_CARD_RUN_BACK = rb"(?:[ -]\d+)*"


def _native_rule(rule: _Rule) -> tuple[Any, ...]:
    """How the C module runs ``rule``: the same expression (for PCRE2) and the same mode and check; a rule
    it cannot run the same way (a custom RE2 pattern, an IP check by the ipaddress module) is handed back to
    the Python code for each scan (``_N_DELEGATE``)."""
    groups = (-1, -1, -1, 0, 0, 0)
    if rule.literal is not None:
        return (_N_LITERAL, None, 0, 0, groups, rule.priority, rule.kind, rule.canonical, len(rule.literal))
    regex = rule.regex
    refine = _N_REFINES.get(rule.refine, _N_PHONE if rule.refine in _PHONE_REFINERS else -1)
    flags = regex.flags & ~re.ASCII if isinstance(regex, re.Pattern) else -1
    if rule.multiline:
        mode = _N_MULTILINE
    elif rule.start_of is not None:
        mode = _N_START_OF if rule.start_of is _email_start else -1
    elif rule.at_anchor:
        mode = _N_AT_ANCHOR
    elif rule.run_back is not None:
        mode = _N_RUN_BACK if rule.run_back.pattern == _CARD_RUN_BACK else -1
    else:
        mode = _N_LINE
    delegate = (_N_DELEGATE, None, 0, 0, groups, rule.priority, rule.kind, rule.canonical, 0)
    if not isinstance(regex, re.Pattern) or refine < 0 or mode < 0 or flags & ~sum(_N_FLAGS):
        return delegate
    options = sum(bit for flag, bit in _N_FLAGS.items() if flags & flag)
    if mode in (_N_START_OF, _N_AT_ANCHOR):
        options |= _native.PCRE2_ANCHORED  # re.match at a start (PCRE2's JIT runs anchored patterns only so)
    names = regex.groupindex
    if rule.refine in _PHONE_REFINERS:
        lo, hi, group, skip = _PHONE_REFINERS[rule.refine]
        groups = (names[group] if isinstance(group, str) else group, -1, -1, lo, hi, int(skip))
    else:
        groups = (names.get("v", -1), names.get("w", -1), names.get("x", -1), 0, 0, 0)
    # Python's \Z is the very end; PCRE2's \z is (its \Z also matches before a final newline).
    pattern = regex.pattern.replace(rb"\Z", rb"\z")
    return (mode, pattern, options, refine, groups, rule.priority, rule.kind, rule.canonical, 0)


def _native_compile(spec: list[tuple[Any, ...]], exprs: list[bytes], flags: list[int]) -> Any:
    return _native.Engine(spec, exprs, flags)


def _native_loader(rules: list[_Rule]) -> Callable[[bytes], Any]:
    """What loads a cached database of these rules into the C module's engine."""
    spec = [_native_rule(r) for r in rules]
    exprs = [r.hs_pattern for r in rules]
    flags = [r.hs_flags for r in rules]
    return lambda data: _native.Engine(spec, exprs, flags, data)


def _native_library() -> str:
    return f"native {_native.hs_version()}"


def _native_engine(rules: list[_Rule], cached: bool) -> Any:
    """The C module's engine for these rules (its database from the on-disk cache when there), or None
    when it cannot be built (the caller then uses python-hyperscan)."""
    spec = [_native_rule(r) for r in rules]
    exprs = [r.hs_pattern for r in rules]
    flags = [r.hs_flags for r in rules]
    key = _db_key(rules, _native_library()) if cached else None
    engine = _load_db(key, _native_loader(rules)) if key is not None else None
    if engine is None:
        try:
            engine = _native_compile(spec, exprs, flags)
        except (ValueError, RuntimeError, MemoryError):
            return None
        if key is not None:
            _store_db(key, engine.serialize())
    return engine


# ---------------------------------------------------------------------------------------------------------
# The compiled pattern database, cached on disk: a fresh process (`golive preflight`) loads it in a
# millisecond instead of compiling it (~100-300 ms). The file is named by a digest of everything the
# database is made from (Hyperscan's version, the machine, every expression and flag) and by the SHA-256 of
# its own bytes, which is checked before it is loaded; Hyperscan refuses a database built for another CPU.
# It is trusted like the user's own files: golive uses a cache file only when the current user owns it and
# its directory and nobody else may write to either, and otherwise compiles. GOLIVE_REDACT_CACHE names
# another directory, or "off".

CACHE_ENV = "GOLIVE_REDACT_CACHE"
CACHE_FILES_KEPT = 16  # databases kept (one per set of options and custom patterns); the oldest go first


def _cache_dir() -> Path | None:
    from pathlib import Path  # here, not at import: start-up pays only for what it uses

    setting = os.environ.get(CACHE_ENV, "")
    if setting.lower() in ("off", "0", "no", "false"):
        return None
    if setting:
        return Path(setting)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "golive"


def _db_key(rules: list[_Rule], library: str | None = None) -> str | None:
    """The cache name of these rules' database, built by ``library`` (python-hyperscan by default)."""
    if _cache_dir() is None:
        return None
    import hashlib  # here, not at import: start-up pays only for what it uses

    uname = os.uname()
    h = hashlib.sha256(b"golive-redact-db-1\0")
    if library is None:
        library = str(getattr(_hs, "__version__", "?"))
    h.update(f"{library}\0{uname.machine}\0{uname.sysname}\0".encode())
    for rule in rules:
        h.update(b"%d\0%s\0" % (rule.hs_flags, rule.hs_pattern))
    return h.hexdigest()[:40]


def _private(path: Path) -> bool:
    """True when the current user owns ``path`` and no one else may write to it."""
    try:
        st = path.stat()
    except OSError:
        return False
    return st.st_uid == os.getuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


_CACHE_ERRORS: tuple[type[BaseException], ...] = (OSError, ValueError, TypeError, RuntimeError) + (
    (_hs.error,) if _hs is not None else ()
)


def _load_db(key: str, load: Callable[[bytes], Any]) -> Any:
    import hashlib

    folder = _cache_dir()
    if folder is None or not _private(folder):
        return None
    for path in folder.glob(f"redact-{key}-*.hsdb"):
        digest = path.name[len(f"redact-{key}-") : -len(".hsdb")]
        try:
            if not _private(path):
                continue
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() != digest:
                continue  # damaged or altered: compile instead
            return load(data)
        except _CACHE_ERRORS:
            continue
    return None


def _store_db(key: str, data: bytes) -> None:
    import hashlib
    import tempfile

    folder = _cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(folder):
            return
        path = folder / f"redact-{key}-{hashlib.sha256(data).hexdigest()}.hsdb"
        fd, tmp = tempfile.mkstemp(prefix=".redact-", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)  # whole or absent, also with other processes writing the same file
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        kept = sorted(folder.glob("redact-*.hsdb"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[CACHE_FILES_KEPT:]:
            with contextlib.suppress(OSError):
                old.unlink()
    except _CACHE_ERRORS:
        return  # a cache that cannot be written costs a compile next time, nothing else


@dataclass(frozen=True, slots=True)
class _Engine:
    """What one scan uses: the shared pattern rules, this redactor's secrets, and rules only ``re`` runs."""

    static: _Compiled
    python_only: tuple[_Rule, ...]
    secrets: _Compiled
    max_multiline_literal: int  # bytes; a stream keeps this much back so a secret is never cut
    # What this engine made of texts it has seen (a step's summary, an error message, a field seen again).
    # It belongs to the engine, so add_secret (which builds a new engine) starts an empty one, and a
    # result computed before a secret was added can never be served after.
    memo: dict[str | bytes, str | bytes] = field(default_factory=dict)


_CustomSpec = tuple[tuple[str, str], ...]
_STATIC_CACHE: dict[tuple[bool, bool, bool, _CustomSpec], tuple[_Compiled, tuple[_Rule, ...]]] = {}
_STATIC_LOCK = threading.Lock()
_STATIC_CACHE_SIZE = 32  # distinct (redact_ips, custom patterns) sets kept compiled per process


def _static_rules(redact_ips: bool, customs: _CustomSpec) -> tuple[_Compiled, tuple[_Rule, ...]]:
    """The compiled pattern rules for these options, compiled once per process (it takes ~80 ms)."""
    key = (redact_ips, _hs is not None, _native is not None, customs)
    with _STATIC_LOCK:
        cached = _STATIC_CACHE.get(key)
        if cached is not None:
            return cached
        rules: list[_Rule] = []
        python_only: list[_Rule] = []
        for kind, pattern, anchor, flags, refine, multiline in _builtin_specs(redact_ips):
            regex = re.compile(pattern, flags)
            if refine is None and "v" in regex.groupindex:
                refine = _span_v
            rules.append(
                _Rule(
                    kind=kind,
                    priority=_P[kind],
                    regex=regex,
                    hs_pattern=anchor if anchor is not None else pattern,
                    hs_flags=_PREFILTER if anchor is None else _SOM_LEFTMOST,
                    at_anchor=anchor is not None and (anchor not in _ANCHORS_INSIDE or anchor in _START_OF),
                    start_of=_START_OF.get(anchor) if anchor is not None else None,
                    run_back=_RUN_BACK.get(anchor) if anchor is not None else None,
                    refine=refine,
                    multiline=multiline,
                )
            )
        for name, source in customs:
            regex = cast(re.Pattern[bytes], _LinearPattern(source.encode("utf-8")))
            rule = _Rule(
                kind=name,
                priority=_P["custom"],
                regex=regex,
                hs_pattern=regex.pattern,
                hs_flags=_PREFILTER,
                refine=_span_v if "v" in regex.groupindex else None,
                multiline=True,  # a custom expression may span lines; re-match it from the flagged line on
            )
            # ``{,n}`` means {0,n} to Python but a literal to PCRE-style Hyperscan: a prefilter that
            # could miss what Python would match must not be used.
            if b"{," not in regex.pattern and _hs_compiles(regex.pattern, _PREFILTER):
                rules.append(rule)
            else:
                python_only.append(rule)
        result = (_Compiled(rules, cached=True), tuple(python_only))
        if len(_STATIC_CACHE) >= _STATIC_CACHE_SIZE:
            _STATIC_CACHE.pop(next(iter(_STATIC_CACHE)))
        _STATIC_CACHE[key] = result
        return result


def _hs_compiles(pattern: bytes, flags: int) -> bool:
    if _hs is None:
        return False
    try:
        _hs.Database(mode=_hs.HS_MODE_BLOCK).compile(expressions=[pattern], ids=[0], elements=1, flags=[flags])
    except _hs.error:
        return False
    return True


# ---------------------------------------------------------------------------------------------------------


class Redactor:
    """Finds secrets and personal data and replaces each with a stable placeholder such as ``<email:1>``.

    Thread-safe: placeholders are shared by all threads. On the Python path each thread scans with its own
    scratch space; the C module scans and matches holding the GIL (one scan of an engine at a time, so its
    scratch space is never used by two). The rules and secrets are compiled anew, under a lock, on the first
    use after ``add_secret``.
    """

    def __init__(
        self,
        custom_patterns: Iterable[str | tuple[str, str]] = (),
        redact_ips: bool = False,
    ) -> None:
        self._lock = threading.RLock()
        self._local = threading.local()
        self._numbers: dict[tuple[str, bytes], int] = {}
        self._made: dict[tuple[str, bytes], bytes] = {}  # the placeholder of each (kind, value)
        self._counts: dict[str, int] = {}
        self._secrets: dict[bytes, bytes] = {}  # form -> canonical raw value
        customs: list[tuple[str, str]] = []
        for spec in custom_patterns:
            name, _regex, source = _compile_custom(spec)  # refuses a bad pattern here, by name
            customs.append((name, source))
        self._static, self._python_only = _static_rules(redact_ips, tuple(customs))
        self._native_apply = self._static.native is not None  # placeholders placed by the C module too
        self._built: _Engine | None = self._build()

    @property
    def _engine(self) -> _Engine:
        """The rules and registered secrets as one engine, built on first use after ``add_secret`` (so that
        registering many secrets in a row builds the database once, not once per secret)."""
        engine = self._built
        if engine is None:
            with self._lock:
                engine = self._built
                if engine is None:
                    engine = self._built = self._build()
        return engine

    @_engine.setter
    def _engine(self, engine: _Engine) -> None:
        self._built = engine

    # -- public API ---------------------------------------------------------------------------------------

    def add_secret(self, value: str) -> None:
        """Mask this value (and its base64, URL and JSON encodings) wherever it appears from now on.

        A prefix or suffix of the value is masked too, down to ``MIN_SECRET_FRAGMENT`` characters and
        half the value (a secret cut off by a column width or a log limit). Values shorter than four
        characters are ignored: they would mask ordinary words everywhere.
        """
        if len(value.strip()) < MIN_SECRET_LEN:
            return
        canonical = value.encode("utf-8", "surrogatepass")
        with self._lock:
            new = {form: canonical for form in _secret_forms(value) if form not in self._secrets}
            if not new:
                return
            self._secrets.update(new)
            self._built = None  # the next use builds the database with them

    def redact(self, text: str) -> str:
        """The text with every finding replaced by its placeholder.

        A text seen before (up to ``MEMO_SIZE`` texts of at most ``MEMO_MAX_TEXT`` characters) is answered
        from a memo: placeholders are stable per value, so the answer is the same; ``add_secret`` starts
        a new memo.
        """
        if not text:
            return text
        return self._memoized(  # type: ignore[return-value]
            text,
            lambda engine: self._redact(text.encode("utf-8", "surrogatepass"), engine).decode("utf-8", "surrogatepass"),
        )

    def redact_bytes(self, data: bytes) -> bytes:
        """The bytes (UTF-8 or any ASCII-compatible encoding) with every finding replaced."""
        if not data:
            return data
        return self._memoized(data, lambda engine: self._redact(data, engine))  # type: ignore[return-value]

    def _memoized(self, key: str | bytes, compute: Any) -> str | bytes:
        """The memo's answer for ``key``, else ``compute(engine)`` remembered (one engine for both steps)."""
        engine = self._engine
        memo = engine.memo
        hit = memo.get(key)
        if hit is not None:
            return hit
        out = compute(engine)
        self._remember(memo, key, out)
        return out  # type: ignore[no-any-return]

    @staticmethod
    def _remember(memo: dict[str | bytes, str | bytes], key: str | bytes, value: str | bytes) -> None:
        if len(key) > MEMO_MAX_TEXT or MEMO_SIZE <= 0:
            return
        if len(memo) >= MEMO_SIZE:
            memo.clear()
        memo[key] = value

    def findings(self, text: str) -> list[tuple[int, int, str]]:
        """Where :meth:`redact` would mask ``text``: (start, end, kind) in character offsets, in order.

        Overlapping findings are merged into one region, as :meth:`redact` merges them into one
        placeholder; the kind is the highest-priority kind among them. Nothing is numbered or recorded.
        """
        if not text:
            return []
        data = text.encode("utf-8", "surrogatepass")
        found = _whole_characters(data, self._find(data, self._engine), len(data))
        found.sort(key=_SPAN_ORDER)
        regions: list[tuple[int, int, str]] = []
        i, n = 0, len(found)
        while i < n:
            start, end, prio, kind, _canonical = found[i]
            i += 1
            while i < n and found[i][0] < end:
                if found[i][2] < prio:
                    prio, kind = found[i][2], found[i][3]
                end = max(end, found[i][1])
                i += 1
            regions.append((start, end, kind))
        if len(data) == len(text):  # ASCII: byte offsets are character offsets
            return regions
        char_at = [0] * (len(data) + 1)
        pos = 0
        for index, ch in enumerate(text):
            width = len(ch.encode("utf-8", "surrogatepass"))
            for k in range(width):
                char_at[pos + k] = index
            pos += width
        char_at[len(data)] = len(text)
        return [(char_at[s], char_at[e], k) for s, e, k in regions]

    def redact_obj(self, obj: Any) -> Any:
        """A copy of a JSON-like object (dict, list, tuple, str, numbers) with every string redacted.

        Values under keys that look secret (password, token, secret, api_key, authorization, ...) are
        replaced whole and registered as secrets, so they are masked elsewhere too. Objects of other types
        come back as their redacted ``str()``.
        """
        return self._walk(obj, False)

    def redact_stream(self, src: BinaryIO, dst: BinaryIO, chunk_size: int = STREAM_CHUNK) -> int:
        """Redact a binary stream into another, chunk by chunk; returns the number of bytes read.

        Findings are made over everything buffered, and only text before a line end that no finding
        crosses is written; the rest waits for more input. A private key block is therefore held until
        its END line; past 1 MiB without one it fails closed and masks everything up to the END line.
        """
        held = b""
        total = 0
        skipping_key = False
        while True:
            chunk = src.read(chunk_size)
            final = not chunk
            total += len(chunk)
            buf = held + chunk
            held = b""
            if skipping_key:
                buf, skipping_key = self._continue_key_block(buf, final)
            if final:
                if buf:
                    dst.write(self._redact(buf, self._engine))
                return total
            if not buf:
                continue
            engine = self._engine
            found = self._find(buf, engine)
            cut = self._stream_cut(buf, found, engine)
            if cut == 0:
                held = buf
                continue
            dst.write(self._apply(buf, [f for f in found if f[1] <= cut], cut))
            skipping_key = cut == len(buf) and any(
                f[3] == "private_key" and f[1] == cut and not _KEY_END.search(buf, f[0], f[1]) for f in found
            )
            held = buf[cut:]

    # -- internals ----------------------------------------------------------------------------------------

    def _walk(self, obj: Any, secret: bool) -> Any:
        if isinstance(obj, str):
            if secret and obj.strip():
                self.add_secret(obj)
                return self._placeholder("secret", obj.encode("utf-8", "surrogatepass")).decode()
            return self.redact(obj)
        if isinstance(obj, Mapping):
            return {
                (self.redact(k) if isinstance(k, str) else k): self._walk(
                    v, secret or (isinstance(k, str) and _secret_key(k))
                )
                for k, v in obj.items()
            }
        if isinstance(obj, list):
            return [self._walk(v, secret) for v in obj]
        if isinstance(obj, tuple):
            return tuple(self._walk(v, secret) for v in obj)
        if obj is None or isinstance(obj, bool):
            return obj
        if isinstance(obj, int | float):
            return self._placeholder("secret", str(obj).encode()).decode() if secret else obj
        if isinstance(obj, bytes | bytearray):
            return self.redact_bytes(bytes(obj))
        # Anything else is shown as text somewhere: fail closed and hand back its redacted text.
        return self.redact(str(obj))

    def _build(self) -> _Engine:
        literals = [
            _Rule(
                kind="secret",
                priority=_P["secret_registered"],
                regex=None,
                hs_pattern=_hs_escape(form),
                hs_flags=0,
                literal=form,
                canonical=canonical,
            )
            for form, canonical in sorted(self._secrets.items())
        ]
        longest = max((len(r.literal or b"") for r in literals if b"\n" in (r.literal or b"")), default=0)
        return _Engine(self._static, self._python_only, _Compiled(literals), longest)

    def _scratch(self, compiled: _Compiled, slot: str) -> Any:
        """This thread's scratch space for a database (Hyperscan scratch must not be shared)."""
        held: tuple[_Compiled, Any] | None = getattr(self._local, slot, None)
        if held is None or held[0] is not compiled:
            held = (compiled, _hs.Scratch(compiled.db))
            setattr(self._local, slot, held)
        return held[1]

    def _placeholder(self, kind: str, value: bytes) -> bytes:
        key = (kind, value)
        made = self._made.get(key)  # a value seen before: no lock (a dict read is atomic)
        if made is not None:
            return made
        with self._lock:
            number = self._numbers.get(key)
            if number is None:
                number = self._counts.get(kind, 0) + 1
                self._counts[kind] = number
                self._numbers[key] = number
            made = b"<%s:%d>" % (kind.encode(), number)
            self._made[key] = made
        return made

    def _find(self, data: bytes, engine: _Engine) -> list[tuple[int, int, int, str, bytes | None]]:
        """Every finding as (start, end, priority, kind, canonical value or None)."""
        found: list[tuple[int, int, int, str, bytes | None]] = []
        for compiled, slot in ((engine.static, "static"), (engine.secrets, "secrets")):
            if compiled.native is not None:
                try:
                    compiled.native.find(data, found, _delegate(compiled.rules, data))
                    continue
                except RuntimeError:  # an expression PCRE2 could not run to the end: Python's re does
                    pass  # (the module appends nothing when it fails)
            elif compiled.db is not None:
                self._find_hyperscan(data, compiled, slot, found)
                continue
            _find_re(compiled.rules, data, found)
        for rule in engine.python_only:
            _search(rule, data, 0, len(data), found)
        return found

    def _find_hyperscan(
        self, data: bytes, compiled: _Compiled, slot: str, found: list[tuple[int, int, int, str, bytes | None]]
    ) -> None:
        buckets: list[list[tuple[int, int]]] = [[] for _ in compiled.rules]

        def on_match(rule_id: int, start: int, end: int, _flags: int, _ctx: object) -> None:
            buckets[rule_id].append((start, end))

        compiled.db.scan(data, match_event_handler=on_match, scratch=self._scratch(compiled, slot))
        for rule_id, spans in enumerate(buckets):
            if spans:
                _run_rule(compiled.rules[rule_id], data, spans, found)

    def _redact(self, data: bytes, engine: _Engine) -> bytes:
        static, secrets = engine.static, engine.secrets
        if self._native_apply and static.native is not None and (secrets.native is not None or not secrets.rules):
            # One call: what the C module finds never becomes a Python tuple.
            extra: list[tuple[int, int, int, str, bytes | None]] = []
            for rule in engine.python_only:
                _search(rule, data, 0, len(data), extra)
            with contextlib.suppress(RuntimeError):  # an expression PCRE2 could not run to the end: see _find
                return cast(
                    bytes,
                    _native.redact(
                        data,
                        (static.native, secrets.native),
                        (_delegate(static.rules, data), _delegate(secrets.rules, data)),
                        extra,
                        self._made,
                        self._placeholder,
                    ),
                )
        return self._apply(data, self._find(data, engine), len(data))

    def _apply(self, data: bytes, found: list[tuple[int, int, int, str, bytes | None]], upto: int) -> bytes:
        """``data[:upto]`` with the findings (all ending at or before ``upto``) replaced; overlapping
        findings merge into one placeholder of the highest-priority kind among them."""
        if not found:
            return data[:upto]
        if self._native_apply:
            return cast(bytes, _native.apply(data, found, upto, self._made, self._placeholder))
        found = _whole_characters(data, found, upto)
        found.sort(key=_SPAN_ORDER)
        parts: list[bytes] = []
        pos = 0
        i = 0
        n = len(found)
        placeholder = self._placeholder
        made_get = self._made.get  # a value seen before: its placeholder without a call
        append = parts.append
        while i < n:
            start, end, prio, kind, canonical = found[i]
            i += 1
            if i == n or found[i][0] >= end:  # the common case: a finding alone
                append(data[pos:start])
                value = data[start:end] if canonical is None else canonical
                append(made_get((kind, value)) or placeholder(kind, value))
                pos = end
                continue
            best = (prio, kind, canonical, start, end)
            canonicals = {canonical}
            while i < n and found[i][0] < end:
                s2, e2, p2, k2, c2 = found[i]
                if p2 < best[0]:
                    best = (p2, k2, c2, s2, e2)
                canonicals.add(c2)
                end = max(end, e2)
                i += 1
            _prio, kind, canonical, b_start, b_end = best
            value = data[start:end]
            # One placeholder for every encoding of one registered secret, even when two encodings overlap.
            if canonical is not None and (len(canonicals) == 1 or (b_start, b_end) == (start, end)):
                key = canonical
            else:
                key = value
            parts.append(data[pos:start])
            parts.append(self._placeholder(kind, key))
            pos = end
        parts.append(data[pos:upto])
        return b"".join(parts)

    @staticmethod
    def _stream_cut(buf: bytes, found: list[tuple[int, int, int, str, bytes | None]], engine: _Engine) -> int:
        """Where to cut a streaming buffer: a line start that no finding crosses (0: wait for more)."""
        # A registered secret with a newline may start in the last L bytes and end in the next chunk.
        limit = len(buf) - engine.max_multiline_literal
        cut = buf.rfind(b"\n", 0, max(0, limit)) + 1
        if cut == 0 and len(buf) > MAX_HELD_LINE:
            cut = max(buf.rfind(b" "), buf.rfind(b"\t")) + 1  # one huge line: cut at whitespace
        moved = True
        while moved and cut > 0:
            moved = False
            for start, end, *_rest in found:
                if start < cut < end or (start < cut and end == len(buf)):
                    # A finding that crosses the cut, or may go on past the buffer (an unterminated
                    # key block): keep its whole line for the next round.
                    cut = buf.rfind(b"\n", 0, start) + 1
                    moved = True
        if cut == 0 and len(buf) > MAX_HELD_LINE + MAX_KEY_BLOCK:
            return len(buf)  # held long enough: fail closed rather than buffer without bound
        return cut

    @staticmethod
    def _continue_key_block(buf: bytes, final: bool) -> tuple[bytes, bool]:
        """Drop the rest of a private key block whose start was already masked in an earlier chunk."""
        end = _KEY_END.search(buf)
        if end is None:
            return b"", not final
        return buf[end.end() :], False


_SPAN_ORDER = operator.itemgetter(0, 2)  # by start, then priority


def _whole_characters(
    data: bytes, found: list[tuple[int, int, int, str, bytes | None]], upto: int
) -> list[tuple[int, int, int, str, bytes | None]]:
    """The findings widened to whole UTF-8 characters (never past ``upto``): a rule with a byte limit (a
    custom pattern such as ``key-.{0,8}``) may end inside a multi-byte character, and a placeholder that
    left half a character would make the text undecodable and show the rest of that character. A finding
    widens over the continuation bytes (0x80-0xBF) around it; golive/_redact_native.c does the same."""
    out = found
    for k, (start, end, prio, kind, canonical) in enumerate(found):
        if (start < upto and data[start] & 0xC0 == 0x80) or (end < upto and data[end] & 0xC0 == 0x80):
            if out is found:
                out = list(found)
            while start > 0 and data[start] & 0xC0 == 0x80:
                start -= 1
            while end < upto and data[end] & 0xC0 == 0x80:
                end += 1
            out[k] = (start, end, prio, kind, canonical)
    return out


def _find_re(rules: list[_Rule], data: bytes, found: list[tuple[int, int, int, str, bytes | None]]) -> None:
    """Every finding of these rules, each searched over the whole input by ``re`` (no Hyperscan)."""
    for rule in rules:
        if rule.literal is not None:
            pos = data.find(rule.literal)
            while pos >= 0:
                found.append((pos, pos + len(rule.literal), rule.priority, rule.kind, rule.canonical))
                pos = data.find(rule.literal, pos + 1)
        else:
            _search(rule, data, 0, len(data), found)


def _delegate(rules: list[_Rule], data: bytes) -> Callable[[int, list[tuple[int, int]], list[Any]], None]:
    """What the C module calls for a rule it hands back to Python: that rule's findings from its hits."""

    def run(rule_id: int, spans: list[tuple[int, int]], out: list[Any]) -> None:
        _run_rule(rules[rule_id], data, spans, out)

    return run


def _run_rule(
    rule: _Rule, data: bytes, spans: list[tuple[int, int]], found: list[tuple[int, int, int, str, bytes | None]]
) -> None:
    """Append the findings of ``rule`` given its anchors' Hyperscan hits (start, end), in report order."""
    size = len(data)
    if rule.literal is not None:
        width = len(rule.literal)
        found.extend((e - width, e, rule.priority, rule.kind, rule.canonical) for _s, e in spans)
    elif rule.multiline:
        start = data.rfind(b"\n", 0, max(0, min(e for _s, e in spans) - 1)) + 1
        _search(rule, data, start, size, found)
    elif rule.start_of is not None:
        start_of = rule.start_of
        _match_at(rule, data, sorted({start_of(data, s) for s, _e in spans}), found)
    elif rule.at_anchor:
        _match_at(rule, data, sorted({s for s, _e in spans}), found)
    elif rule.run_back is not None:
        _search_runs(rule, rule.run_back, data, sorted({s for s, _e in spans}), found)
    else:
        # Hyperscan reports in order of end offset: the hits of one line are taken together, and the
        # exact expression searched once, from a little before the leftmost anchor's start (anchors
        # compiled without start-of-match report 0: the line's start) to the end of the line.
        i, n = 0, len(spans)
        while i < n:
            lo, end = spans[i]
            line_end = data.find(b"\n", max(0, end - 1))
            if line_end < 0:
                line_end = size
            i += 1
            while i < n and spans[i][1] <= line_end:
                if spans[i][0] < lo:
                    lo = spans[i][0]
                end = spans[i][1]
                i += 1
            line_start = data.rfind(b"\n", 0, max(0, end - 1)) + 1
            # Every anchor lies inside its rule's match: no match starts after the last anchor's end.
            _search(rule, data, max(line_start, lo - _LOOKBACK), line_end, found, end)


_KEY_BEGIN = re.compile(rb"-----BEGIN[ A-Z0-9]*PRIVATE KEY")
_KEY_END = re.compile(rb"-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----")


def _search(
    rule: _Rule,
    data: bytes,
    pos: int,
    endpos: int,
    out: list[tuple[int, int, int, str, bytes | None]],
    last_start: int | None = None,
) -> None:
    """Append every finding of ``rule`` in ``data[pos:endpos]`` (context before pos still counts) that
    starts before ``last_start`` (when given)."""
    stop = endpos if last_start is None else min(endpos, last_start)
    regex = rule.regex
    assert regex is not None
    search = regex.search
    m = search(data, pos, endpos) if pos < stop else None
    while m is not None:
        nxt = _take(rule, data, m, out)
        m = search(data, nxt, endpos) if nxt < stop else None


def _take(rule: _Rule, data: bytes, m: re.Match[bytes], out: list[tuple[int, int, int, str, bytes | None]]) -> int:
    """Append the findings of one match of a searched rule; where the search goes on."""
    refine = rule.refine
    span = refine(data, m) if refine is not None else m.span()
    if isinstance(span, list):  # several findings in one match (cards in a run of digit groups)
        out.extend((s, e, rule.priority, rule.kind, None) for s, e in span)
        return max(m.end(), m.start() + 1)
    if span is None:
        return m.start() + 1
    if span[1] > span[0]:
        out.append((span[0], span[1], rule.priority, rule.kind, None))
    # An IBAN's expression may run past the IBAN into the next one; go on from the refined end.
    return max(span[1] if refine is _refine_iban else m.end(), m.start() + 1)


def _search_runs(
    rule: _Rule,
    run_back: re.Pattern[bytes],
    data: bytes,
    starts: list[int],
    out: list[tuple[int, int, int, str, bytes | None]],
) -> None:
    """What the generic search finds for these anchor starts (ascending), line by line from ``_LOOKBACK``
    bytes before a line's first anchor, searching only from the start of each anchor's run
    (``rule.run_back``): a match lies within one run, and one that holds no anchor's start holds no
    finding, so the text between runs is not searched. (Anchors of such a rule lie within one line.)"""
    regex = rule.regex
    assert regex is not None
    search = regex.search
    rfind = data.rfind
    line_start = -1
    endpos = pos = 0
    for start in starts:
        first = rfind(b"\n", 0, start) + 1
        if first != line_start:  # the first anchor of a line
            line_start = first
            endpos = data.find(b"\n", start)
            if endpos < 0:
                endpos = len(data)
            pos = max(line_start, start - _LOOKBACK)
        elif start < pos:
            continue  # inside what the previous match took
        if start > pos and data[start - 1] in b" -":  # the run may reach back past the anchor
            back = run_back.match(data[pos:start][::-1])
            m = search(data, start - (back.end() if back is not None else 0), endpos)
        else:
            m = search(data, start, endpos)
        if m is None:
            pos = endpos  # nothing more in this line
            continue
        pos = _take(rule, data, m, out)


def _match_at(rule: _Rule, data: bytes, starts: list[int], out: list[tuple[int, int, int, str, bytes | None]]) -> None:
    """Append the findings of ``rule`` whose match starts at one of ``starts`` (ascending), as a search
    from the start would find them: a match is not looked for inside the previous one."""
    regex = rule.regex
    assert regex is not None
    match = regex.match
    refine = rule.refine
    prio, kind = rule.priority, rule.kind
    append = out.append
    size = len(data)
    find = data.find
    cursor = -1
    line_end = -1  # the end of the line of the previous start (starts ascend: it serves until passed)
    for start in starts:
        if start < cursor:
            continue
        if start > line_end:
            line_end = find(b"\n", start)
            if line_end < 0:
                line_end = size
        m = match(data, start, line_end)
        if m is None:
            continue
        if refine is None:
            cursor = m.end()
            if cursor > start:
                append((start, cursor, prio, kind, None))
            continue
        span = refine(data, m)
        if isinstance(span, list):
            out.extend((s, e, prio, kind, None) for s, e in span)
            cursor = m.end()
        elif span is not None:
            if span[1] > span[0]:
                append((span[0], span[1], prio, kind, None))
            cursor = span[1] if refine is _refine_iban else m.end()


_N_REFINES.update(
    {
        None: 0,
        _span_v: 1,
        _find_cards: 2,
        _refine_iban: 3,
        _refine_email: 4,
        _refine_e164: 6,
        _refine_context_secret: 7,
        _refine_openai: 8,
        _refine_session: 9,
        _refine_bearer: 10,
        _refine_auth: 11,
        _refine_ipv4: 12,
        _refine_ipv6: 13,
    }
)


_SECRET_KEY_NAME = re.compile(
    r"(?:.*[_.\-])?(?:password|passwd|passphrase|pwd|pw|secret|token|api_?key|apikey|authorization|auth"
    r"|credentials?|private_?key|secret_?key|access_?key|signing_?key|cookie|set_cookie|session_?id"
    r"|client_?secret|x_api_key|pin|cvv|cvc)"
)


def secret_key_name(key: str) -> bool:
    """True when a mapping key or variable name names a secret (``password``, ``GITHUB_TOKEN``, ``api_key``)."""
    return _SECRET_KEY_NAME.fullmatch(key.lower().replace("-", "_")) is not None


_secret_key = secret_key_name

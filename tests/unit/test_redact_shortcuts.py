"""The redactor's shortcuts find exactly what the plain search finds.

With Hyperscan, a rule's exact expression is tried only where a match can start: at the start of an
e-mail's local part before its "@" (``start_of``), or from the start of the run of digit groups around a
card's anchor (``run_back``), instead of being searched from 72 bytes before each flagged line's first
anchor. These tests run the same rules with those shortcuts off over text made to stress their edges (cards
beside other digit groups, spaces and dashes, runs longer than the look-back, e-mails with ``%40``, dots
and long local parts, several on a line) and require the same findings.
"""

from __future__ import annotations

import collections
import dataclasses
import random
import string

import pytest

from golive import redact

pytestmark = pytest.mark.skipif(not redact.HYPERSCAN_AVAILABLE, reason="the shortcuts are Hyperscan's")


def _plain(red: redact.Redactor) -> redact.Redactor:
    """A redactor with the same rules, the card and e-mail shortcuts off (the generic line search)."""
    engine = red._engine
    rules = [
        dataclasses.replace(r, at_anchor=False, start_of=None) if r.start_of is not None else r
        for r in engine.static.rules
    ]
    rules = [dataclasses.replace(r, run_back=None) if r.run_back is not None else r for r in rules]
    plain = redact.Redactor()
    plain._engine = dataclasses.replace(engine, static=redact._Compiled(rules), memo={})
    return plain


def _luhn_complete(body: str) -> str:
    for digit in string.digits:
        if redact._luhn_ok((body + digit).encode()):
            return body + digit
    raise AssertionError("unreachable")


def _card(rng: random.Random) -> str:
    prefix, length = rng.choice([("4", 16), ("4", 13), ("51", 16), ("2221", 16), ("37", 15), ("36", 14), ("6011", 19)])
    number = _luhn_complete(prefix + "".join(rng.choice(string.digits) for _ in range(length - 1 - len(prefix))))
    sep = rng.choice(["", " ", "-"])
    if not sep:
        return number
    if length == 15:
        return sep.join([number[:4], number[4:10], number[10:]])
    return sep.join(number[i : i + 4] for i in range(0, length, 4))


PIECES = [".", "+", "x", "@", "%40", "_", "ana.b", "k_9", "a" * 40, "example.com", "mail.example.org", "logo.png",
          "ana.b@example.com", "o+ops%40mail.example.org", "k_9@", "@example.com", "x.y.z.", "\n", "12/27", "100",
          "2024-03-15", "12", "0", "ES94", "DE89"]  # fmt: skip
SEPARATORS = [" ", " ", "-", "", "", "  ", ", ", "/"]


def _text(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(2, 14)):
        roll = rng.random()
        if roll < 0.3:
            parts.append(_card(rng))
        elif roll < 0.55:
            parts.append("".join(rng.choice(string.digits) for _ in range(rng.randint(1, 8))))
        else:
            parts.append(rng.choice(PIECES))
        parts.append(rng.choice(SEPARATORS))
    return "".join(parts)


def test_card_and_email_shortcuts_find_what_the_line_search_finds() -> None:
    rng = random.Random(16)
    fast = redact.Redactor()
    plain = _plain(fast)
    texts = [_text(rng) for _ in range(4000)]
    kinds: collections.Counter[str] = collections.Counter()
    differ = []
    for text in texts:
        got = fast.findings(text)
        if got != plain.findings(text):
            differ.append(text)
        kinds.update(kind for _s, _e, kind in got)
    block = "\n".join(texts)  # many flagged lines in one scan, as in a log file
    assert fast.findings(block) == plain.findings(block)
    assert not differ, f"{len(differ)} texts differ, e.g. {differ[:3]}"
    assert kinds["card"] > 3000, kinds  # the text does exercise both rules
    assert kinds["email"] > 1000, kinds

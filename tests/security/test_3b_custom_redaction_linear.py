"""A runbook's custom redaction pattern runs in linear time (RE2): a catastrophic expression cannot stall the
redactor, and with it the engine or the server, while its matches are still masked."""

from __future__ import annotations

import subprocess
import sys

import pytest

from golive import exceptions
from golive.redact import Redactor

LIMIT = 20.0  # seconds: a backtracking engine takes hours on this input; RE2 takes microseconds


def test_a_catastrophic_custom_pattern_redacts_in_linear_time() -> None:
    code = (
        "from golive.redact import Redactor\n"
        "r = Redactor(custom_patterns=[('tenant', r'(a+)+$')])\n"
        "out = r.redact('a' * 40000 + '!')\n"
        "assert out.endswith('!'), out[-20:]\n"
        "print(r.redact('id aaaa'))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=LIMIT, check=False)
    assert res.returncode == 0, res.stderr
    assert "aaaa" not in res.stdout  # the pattern still masks what it matches
    assert "<tenant:" in res.stdout


def test_custom_patterns_keep_named_value_groups() -> None:
    r = Redactor(custom_patterns=[("tenant", r"tenant=(?P<v>[A-Z]{3}\d{4})")])
    assert r.redact("tenant=ACM1234 ok") == "tenant=<tenant:1> ok"


def test_a_lookaround_custom_pattern_is_refused_with_the_fix() -> None:
    with pytest.raises(exceptions.UsageError, match="RE2 syntax"):
        Redactor(custom_patterns=[("x", r"foo(?=bar)")])

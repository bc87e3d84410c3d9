"""golive.clock.parse_time: the one timestamp parser of the package."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from golive import clock

T = datetime(2026, 3, 7, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-07T02:00:00Z",
        "2026-03-07T02:00:00.000000Z",
        "2026-03-07T02:00:00z",
        "2026-03-07T02:00:00+00:00",
        "2026-03-07T03:00:00+01:00",
        "2026-03-07 02:00:00Z",
        " 2026-03-07T02:00:00Z ",
        "2026-03-07T02:00:00",
    ],
)
def test_every_form_golive_meets_reads_as_the_same_utc_instant(text: str) -> None:
    """Z, offsets, a space for the T, surrounding blanks and a naive time (UTC) are one instant, in UTC."""
    parsed = clock.parse_time(text)
    assert parsed == T
    assert parsed.tzinfo is UTC


def test_a_naive_time_is_refused_when_a_zone_is_required() -> None:
    """naive_is_utc=False refuses a time without a timezone with NoTimezone (a ValueError)."""
    with pytest.raises(clock.NoTimezone, match="no timezone"):
        clock.parse_time("2026-03-07T02:00:00", naive_is_utc=False)
    assert clock.parse_time("2026-03-07T02:00:00Z", naive_is_utc=False) == T


@pytest.mark.parametrize("text", ["", "yesterday", "2026-13-01T00:00:00Z", "T-30m"])
def test_anything_else_is_a_value_error(text: str) -> None:
    """Text that is not an ISO 8601 time is a ValueError."""
    with pytest.raises(ValueError, match=r"format|must be in|out of range"):
        clock.parse_time(text)


def test_utc_iso_reads_back() -> None:
    """What golive stores (utc_iso) parses back to the same instant."""
    assert clock.parse_time(clock.utc_iso(T)) == T


def test_seconds_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A positive number of seconds from an environment variable, the default when unset, and a clear
    usage error naming the variable otherwise (the lease TTL and SQLite's busy timeout read it)."""
    from golive import exceptions

    monkeypatch.delenv("GOLIVE_TEST_SECONDS", raising=False)
    assert clock.seconds_from_env("GOLIVE_TEST_SECONDS", 15.0, "the lease TTL", "15") == 15.0
    monkeypatch.setenv("GOLIVE_TEST_SECONDS", "2.5")
    assert clock.seconds_from_env("GOLIVE_TEST_SECONDS", 15.0, "the lease TTL", "15") == 2.5
    monkeypatch.setenv("GOLIVE_TEST_SECONDS", "soon")
    with pytest.raises(exceptions.UsageError, match=r"GOLIVE_TEST_SECONDS='soon': give the lease TTL in seconds"):
        clock.seconds_from_env("GOLIVE_TEST_SECONDS", 15.0, "the lease TTL", "15")
    monkeypatch.setenv("GOLIVE_TEST_SECONDS", "0")
    with pytest.raises(exceptions.UsageError, match="the lease TTL must be positive"):
        clock.seconds_from_env("GOLIVE_TEST_SECONDS", 15.0, "the lease TTL", "15")

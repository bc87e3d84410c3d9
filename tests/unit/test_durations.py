"""Durations (``90s``, ``1h30m``) and T-times (``T-60m``) as the runbook format reads and prints them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from golive.spec import durations

SECONDS_PER_MINUTE = 60.0
SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86400.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("90s", 90.0),
        ("5m", 5 * SECONDS_PER_MINUTE),
        ("8h", 8 * SECONDS_PER_HOUR),
        ("1h30m", 1.5 * SECONDS_PER_HOUR),
        ("3d", 3 * SECONDS_PER_DAY),
        ("1w", 7 * SECONDS_PER_DAY),
        ("1.5h", 1.5 * SECONDS_PER_HOUR),
        (" 2m 30s ", 150.0),
    ],
)
def test_parse_duration_reads_units_and_compounds(text: str, seconds: float) -> None:
    """Every unit (ms, s, m, h, d, w), decimals, compounds and spaces give seconds."""
    assert durations.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("value", [30, 1.5, "30"])
def test_parse_duration_refuses_a_number_without_unit(value: object) -> None:
    """A bare number is ambiguous (seconds or minutes?), so the message asks for a unit."""
    with pytest.raises(ValueError, match="has no unit"):
        durations.parse_duration(value)


@pytest.mark.parametrize("value", ["5 minutes", "m5", "1h30", "-5m", "", "5M"])
def test_parse_duration_refuses_malformed_text(value: str) -> None:
    """Malformed text is refused with an example of the right form."""
    with pytest.raises(ValueError, match=r"malformed duration|no unit"):
        durations.parse_duration(value)


@pytest.mark.parametrize("value", [True, None, [1], {"m": 5}])
def test_parse_duration_refuses_other_types(value: object) -> None:
    """Booleans, nulls, lists and mappings are not durations."""
    with pytest.raises(ValueError, match="expected a duration"):
        durations.parse_duration(value)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("T-60m", -3600.0), ("T+15m", 900.0), ("T-0", 0.0), ("T+0", 0.0), ("T-1h30m", -5400.0), ("T - 10m", -600.0)],
)
def test_parse_ttime_is_signed_seconds_from_t0(text: str, seconds: float) -> None:
    """A T-time is negative before T-0 and positive after."""
    assert durations.parse_ttime(text) == seconds


def test_parse_ttime_without_unit_says_which_unit_to_add() -> None:
    """'T-60' (as scribes write it) is refused with the fix 'T-60m'."""
    with pytest.raises(ValueError, match="T-60m"):
        durations.parse_ttime("T-60")


@pytest.mark.parametrize("value", ["60m", "T60m", "X-5m", "T-abc", 60])
def test_parse_ttime_refuses_malformed(value: object) -> None:
    """Anything but T±<duration> or T-0 is refused."""
    with pytest.raises(ValueError, match="T-time"):
        durations.parse_ttime(value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0s"),
        (0.5, "500ms"),
        (1.5, "1.5s"),
        (45.0, "45s"),
        (90.0, "1m30s"),
        (150.0, "2m30s"),
        (3600.0, "1h"),
        (5400.0, "1h30m"),
        (86400.0, "24h"),
        (90000.0, "25h"),
        (2 * 86400.0, "2d"),
        (2 * 86400.0 + 3600.0, "2d1h"),
    ],
)
def test_format_duration_is_compact(seconds: float, text: str) -> None:
    """Seconds print in the largest units first, without zero parts; a tenth of a second under a minute; days
    only from two days up (``within: 24h`` reads back as 24h)."""
    assert durations.format_duration(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(-3600.0, "T-60m"), (900.0, "T+15m"), (0.0, "T-0"), (0.2, "T-0"), (-4 * 3600.0, "T-4h"), (-30.0, "T-30s")],
)
def test_format_ttime_uses_minutes_up_to_three_hours(seconds: float, text: str) -> None:
    """T-times print as the scribe format writes them: minutes up to three hours, compact beyond."""
    assert durations.format_ttime(seconds) == text


@given(st.integers(min_value=1, max_value=10 * 86400))
def test_format_then_parse_duration_round_trips(seconds: int) -> None:
    """A whole number of seconds survives printing and reading back."""
    assert durations.parse_duration(durations.format_duration(seconds)) == seconds


@given(st.integers(min_value=-3 * 86400, max_value=3 * 86400).map(lambda m: m * 60))
def test_format_then_parse_ttime_round_trips(seconds: int) -> None:
    """A whole number of minutes relative to T-0 survives printing and reading back."""
    assert durations.parse_ttime(durations.format_ttime(seconds)) == seconds


def test_duration_type_validates_and_dumps_as_text_in_json() -> None:
    """The pydantic Duration type reads '5m' as 300.0 and writes it back as '5m' in JSON mode."""
    adapter: TypeAdapter[float] = TypeAdapter(durations.Duration)
    assert adapter.validate_python("5m") == 300.0
    assert adapter.dump_python(300.0, mode="json") == "5m"
    with pytest.raises(ValidationError, match="has no unit"):
        adapter.validate_python(5)


def test_duration_json_schema_has_the_pattern() -> None:
    """Editors see a string pattern for durations, with examples."""
    schema = TypeAdapter(durations.Duration).json_schema()
    assert schema["type"] == "string"
    assert schema["pattern"] == durations.DURATION_PATTERN
    assert "5m" in schema["examples"]

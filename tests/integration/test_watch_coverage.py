"""Watched windows: an observe window passes only when enough of it was really watched (``min_coverage``).

The engine runs on a FakeClock; "the engine is stopped" is a read during which the clock jumps (nothing runs
while time moves, as under SIGSTOP): the gap between two readings is then longer than twice the interval,
and that whole gap is unwatched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from golive import exceptions, results
from golive.engine.state import RunStatus
from golive.results import Outcome
from golive.spec import loader
from golive.store import sqlite
from golive.testing import FakeClock, start_engine

RUNBOOK = """\
golive: 1
name: coverage
roles:
  ic: {title: Incident commander, may: [decide]}
phases:
  - id: watch
    steps:
      - {id: window, kind: observe, duration: DURATION EXTRA}
triggers:
  - id: errors
    source: {type: fake, with: {name: errors}}
    when: value > 0
    interval: 1s
"""

# No status updates: on a FakeClock their sleeps would move time while the window's reads wait on the store.
NO_CADENCE = "comms: {cadence: []}\n"


class FreezingSource:
    """Reads 0.0; its ``at``-th read takes ``frozen`` seconds of clock time with nothing else running (the
    engine stopped in the middle of the window)."""

    def __init__(self, clock: FakeClock, at: int, frozen: float) -> None:
        self.clock, self.at, self.frozen, self.reads = clock, at, frozen, 0

    async def read(self) -> results.MetricReading:
        self.reads += 1
        if self.reads == self.at:
            self.clock.advance(self.frozen)
        return results.MetricReading.of(0.0)


def load(tmp_path: Path, duration: str, extra: str = "") -> loader.LoadedRunbook:
    text = RUNBOOK.replace("DURATION EXTRA}", f"{duration}{', ' + extra if extra else ''}}}")
    return loader.load_text(text + NO_CADENCE, str(tmp_path / "runbook.yaml"), environ={})


async def run(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any, duration: str, frozen: float, extra: str = ""
) -> Any:
    clock = FakeClock()
    fake_metrics.sources["errors"] = FreezingSource(clock, at=6, frozen=frozen)
    r = await start_engine(store, load(tmp_path, duration, extra), roles={"ic": "alice"}, clock=clock, poll=1.0)
    status = await r.finished()
    return status, await r.view()


async def test_a_window_with_the_engine_stopped_for_75_percent_of_it_does_not_pass(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """40 s window, the engine stopped for 30 s of it: no trigger fired, yet the window fails closed with
    its coverage (25%, below 90%) and the unwatched gap in the result; the run does not pass."""
    status, h = await run(store, tmp_path, fake_metrics, "40s", 30.0, "on_low_coverage: fail")
    assert status is not RunStatus.PASSED
    s = h.state.step("window")
    assert s.outcome is Outcome.FAIL
    assert h.state.fired == []
    cov = s.details["coverage"]
    assert cov["fraction"] < 0.3
    assert (cov["ok"], cov["least"], cov["min_coverage"]) == (False, "errors", 0.9)
    assert len(cov["triggers"]["errors"]["gaps"]) == 1
    assert "below min_coverage 90%" in s.summary


async def test_extending_cannot_save_a_window_stopped_for_75_percent_of_it(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """With the default ``on_low_coverage: extend`` the window is watched on for at most its duration
    (``window_extended``), which cannot reach 90% here: it fails closed after the extension."""
    status, h = await run(store, tmp_path, fake_metrics, "40s", 30.0)
    assert status is not RunStatus.PASSED
    s = h.state.step("window")
    assert s.outcome is Outcome.FAIL
    assert "after extending it by 40s" in s.summary
    [ext] = [e for e in await store.events(h.run_id) if e.type == "window_extended"]
    assert ext.data["extension"] == 40.0


async def test_a_window_watched_95_percent_passes(store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any) -> None:
    """80 s window, one 4-second gap between readings (the engine stopped for 3 s): 95% watched, it passes
    without extension and says its coverage."""
    status, h = await run(store, tmp_path, fake_metrics, "80s", 3.0, "on_low_coverage: fail")
    assert status is RunStatus.PASSED, h.state.step("window").summary
    s = h.state.step("window")
    cov = s.details["coverage"]
    assert cov["ok"] is True
    assert cov["fraction"] == pytest.approx(0.95)
    assert "coverage 95%" in s.summary


async def test_a_short_gap_is_watched_time(store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any) -> None:
    """A gap of twice the interval or less is watched: a 1.5 s stall at a 1 s interval leaves 100%."""
    status, h = await run(store, tmp_path, fake_metrics, "20s", 0.5, "on_low_coverage: fail")
    assert status is RunStatus.PASSED
    assert h.state.step("window").details["coverage"]["fraction"] == 1.0


async def test_an_extended_window_passes_once_the_extension_brings_it_to_min_coverage(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """40 s window with a 6 s gap (85%): extended by the 20 s it needs, it ends 90% watched and passes."""
    status, h = await run(store, tmp_path, fake_metrics, "40s", 5.0)
    assert status is RunStatus.PASSED
    cov = h.state.step("window").details["coverage"]
    assert (cov["ok"], cov["extended"]) == (True, 20.0)
    assert cov["fraction"] >= 0.9


async def test_a_trigger_min_coverage_overrides_the_steps(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """The step asks 0.99; the trigger's own min_coverage 0.8 wins: an 85% window passes."""
    text_extra = "min_coverage: 0.99, on_low_coverage: fail"
    clock = FakeClock()
    fake_metrics.sources["errors"] = FreezingSource(clock, at=6, frozen=5.0)
    text = RUNBOOK.replace("DURATION EXTRA}", f"40s, {text_extra}}}") + "    min_coverage: 0.8\n" + NO_CADENCE
    loaded = loader.load_text(text, str(tmp_path / "runbook.yaml"), environ={})
    r = await start_engine(store, loaded, roles={"ic": "alice"}, clock=clock, poll=1.0)
    assert await r.finished() is RunStatus.PASSED
    cov = (await r.view()).state.step("window").details["coverage"]
    assert cov["triggers"]["errors"]["min_coverage"] == 0.8


@pytest.mark.parametrize(
    ("extra", "trigger_extra", "message"),
    [
        ("min_coverage: 1.5", "", "less than or equal to 1"),
        ("min_coverage: 0", "", "greater than 0"),
        ("on_low_coverage: retry", "", "expected one of extend, fail"),
        ("", "    min_coverage: -1\n", "greater than 0"),
    ],
)
def test_bad_coverage_fields_are_refused_with_the_field(
    tmp_path: Path, fake_metrics: Any, extra: str, trigger_extra: str, message: str
) -> None:
    """A bad min_coverage or on_low_coverage is refused at load, naming the field."""
    text = RUNBOOK.replace("DURATION EXTRA}", f"40s{', ' + extra if extra else ''}}}") + trigger_extra
    with pytest.raises(exceptions.RunbookInvalid) as err:
        loader.load_text(text, str(tmp_path / "runbook.yaml"), environ={})
    assert message in str(err.value), str(err.value)
    assert "min_coverage" in str(err.value) or "on_low_coverage" in str(err.value)


def test_coverage_fields_on_a_step_that_is_not_observe_are_refused(tmp_path: Path, fake_metrics: Any) -> None:
    text = RUNBOOK.replace(
        "{id: window, kind: observe, duration: DURATION EXTRA}",
        "{id: check, kind: check, type: command, with: {run: 'true'}, min_coverage: 0.5}",
    )
    with pytest.raises(exceptions.RunbookInvalid, match="belong to observe steps"):
        loader.load_text(text, str(tmp_path / "runbook.yaml"), environ={})


class FailingSource:
    """Every read fails (the metric backend is down)."""

    async def read(self) -> results.MetricReading:
        return results.MetricReading.failed("connection refused")


async def test_a_window_in_which_every_read_failed_does_not_pass(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """A 60 s window read every 30 s fits two reads, fewer than max_errors (3): both failed, so nothing was seen,
    yet each failed read counted as watched and the window passed at 100%. It now fails closed, naming why."""
    fake_metrics.sources["errors"] = FailingSource()
    text = RUNBOOK.replace("DURATION EXTRA}", "60s, on_low_coverage: fail}").replace("interval: 1s", "interval: 30s")
    loaded = loader.load_text(text + NO_CADENCE, str(tmp_path / "runbook.yaml"), environ={})
    r = await start_engine(store, loaded, roles={"ic": "alice"}, clock=FakeClock(), poll=1.0)
    status = await r.finished()
    h = await r.view()
    s = h.state.step("window")
    assert status is not RunStatus.PASSED, s.summary
    assert s.outcome is Outcome.FAIL
    assert "every read of errors failed" in s.summary
    assert s.details["coverage"]["triggers"]["errors"]["ok"] is False

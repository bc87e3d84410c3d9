"""Armed triggers: read on their interval over their armed span whatever step runs (fake clock, real SQLite).

A rollback trigger that fires while an action phase waits on a person starts the rollback; one that fires in
hypercare, after the cutover passed with a GO, rolls back and ends the run ROLLED_BACK_AFTER_GO (exit 1).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from golive import exceptions, results
from golive.cli import run_cmds
from golive.engine import acts, driver, runner
from golive.engine import hypercare as service
from golive.engine.state import RunState, RunStatus
from golive.results import Outcome
from golive.spec import loader
from golive.store import sqlite
from golive.testing import FakeClock, RunningEngine, start_engine
from golive.views import summary

LEASE_TTL = 1.0  # seconds; short, so that a lost lease shows at once

RUNBOOK = """\
golive: 1
name: armed
roles:
  ic: {title: Incident commander, may: [decide]}
  ops: {title: Operator}
vars:
  dir: {required: true}
phases:
  - id: deploy
    steps:
      - {id: ship, kind: action, type: command, with: {run: "echo shipped >> $DIR/deploy.log", env: {DIR: "${{ vars.dir }}"}}}
      - {id: confirm-deploy, kind: manual, role: ops, needs: [ship]}
  - id: canary
    steps:
      - {id: window, kind: observe, duration: 20s}
  - id: decision
    steps:
      - {id: go, kind: decision, role: ic}
triggers:
  - id: errors
    title: 5xx
    source: {type: fake, with: {name: errors}}
    when: value > 0
    interval: 10s
    ARMED
rollback:
  steps:
    - {id: revert, kind: action, type: command, with: {run: "echo reverted >> $DIR/rollback.log", env: {DIR: "${{ vars.dir }}"}}}
hypercare:
  tiers:
    - {from: 0s, until: 2h, every: 30m}
  checks:
    - {id: health, kind: check, type: command, with: {run: "true"}}
comms: {cadence: [], channels: [{id: war-room, url: "log://WARROOM"}]}
"""


def load(tmp_path: Path, armed: str = "") -> loader.LoadedRunbook:
    text = RUNBOOK.replace("    ARMED\n", f"    armed: {armed}\n" if armed else "")
    text = text.replace("WARROOM", str(tmp_path / "war-room.log"))
    return loader.load_text(text, str(tmp_path / "runbook.yaml"), var_overrides={"dir": str(tmp_path)}, environ={})


class BreachFrom:
    """Reads 0 until the clock reaches ``at``, then 1 (a breach)."""

    def __init__(self, clock: FakeClock, at: datetime | None) -> None:
        self.clock, self.at, self.reads = clock, at, 0

    async def read(self) -> results.MetricReading:
        self.reads += 1
        return results.MetricReading.of(1.0 if self.at is not None and self.clock.now() >= self.at else 0.0)


async def run_to_go(store: sqlite.SqliteStore, tmp_path: Path, clock: FakeClock) -> RunningEngine:
    """A run of the runbook that the operator confirms and the IC takes to GO: it ends PASSED."""
    r = await start_engine(store, load(tmp_path), roles={"ic": "alice", "ops": "otto"}, clock=clock, poll=0.5)
    h = await r.until("the deploy waits", lambda s: s.step("confirm-deploy").status == "waiting")
    await acts.confirm(h, "confirm-deploy", "otto")
    h = await r.until("the GO is asked", lambda s: s.step("go").status == "waiting")
    await acts.decide(h, "go", "alice", "canary clean")
    assert await r.finished() is RunStatus.PASSED
    return r


async def test_a_trigger_firing_during_an_action_phase_starts_the_rollback(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """Armed from the deploy phase, the trigger breaches during the deploy (its action, or the operator's
    step after it): the rollback starts at once (by trigger:errors), the deploy's manual step is never
    confirmed and the canary never runs."""
    clock = FakeClock()
    fake_metrics.sources["errors"] = BreachFrom(clock, clock.now())
    r = await start_engine(
        store, load(tmp_path, "{from: deploy}"), roles={"ic": "alice", "ops": "otto"}, clock=clock, poll=0.05
    )
    assert await r.finished() is RunStatus.ROLLED_BACK
    st = (await r.view()).state
    assert st.rollback is not None
    assert (st.rollback["by"], st.rollback["source"]) == ("trigger:errors", "trigger")
    assert st.rollback["after_go"] is False
    [fired] = [e for e in await store.events(r.run_id) if e.type == "trigger_fired"]
    assert fired.data["armed"] is True
    assert fired.data["samples"]
    assert st.step("confirm-deploy").outcome is Outcome.NOT_RUN  # abandoned, or never reached
    assert st.step("window").outcome is Outcome.NOT_RUN
    assert (tmp_path / "rollback.log").read_text().split() == ["reverted"]


async def test_an_unarmed_span_is_not_read(store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any) -> None:
    """By default the trigger is armed from its first observe step's phase: a breach during the deploy is not
    read, so the deploy's manual step still waits for the operator."""
    clock = FakeClock()
    source = BreachFrom(clock, clock.now())
    fake_metrics.sources["errors"] = source
    r = await start_engine(store, load(tmp_path), roles={"ic": "alice", "ops": "otto"}, clock=clock, poll=0.5)

    def waiting(s: RunState) -> bool:
        return s.step("confirm-deploy").status == "waiting"

    await r.until("the deploy waits", waiting)
    clock.advance(120)
    h = await r.until("the deploy waits", waiting)
    assert source.reads == 0
    assert h.state.rollback is None
    await acts.request_rollback(h, "alice", "end the test")
    await r.finished()


async def test_a_rollback_trigger_in_hypercare_ends_the_run_rolled_back_after_go(
    tmp_path: Path, fake_metrics: Any
) -> None:
    """The cutover passes with a GO; an hour into hypercare the trigger breaches: the armed watch beside
    hypercare rolls back, the run ends ROLLED_BACK_AFTER_GO (exit 1), status and reports say so, and hypercare
    stops (no slot after the rollback)."""
    clock = FakeClock()
    store = sqlite.SqliteStore(tmp_path / "golive.db", clock)
    await store.open()
    try:
        source = BreachFrom(clock, None)
        fake_metrics.sources["errors"] = source
        r = await run_to_go(store, tmp_path, clock)
        st = (await r.view()).state
        assert st.go_at is not None
        go = datetime.fromisoformat(st.go_at.replace("Z", "+00:00"))
        source.at = go + timedelta(hours=1)

        hc = await service.hypercare_runner(store, r.run_id, tmp_path / "reports", lambda s: None)
        try:
            await service.watch_hypercare(hc)
        finally:
            await hc.engine.aclose()
        view = await r.view()
        st = view.state
        assert st.status is RunStatus.ROLLED_BACK_AFTER_GO
        assert run_cmds._exit_for(st.status) == 1
        assert st.rollback is not None
        assert (st.rollback["by"], st.rollback["after_go"]) == ("trigger:errors", True)
        assert st.reason.startswith("after GO, during hypercare: trigger errors fired")
        fired = [e for e in await store.events(r.run_id) if e.type == "trigger_fired"]
        assert [f.data["armed"] for f in fired] == [True]
        fired_at = datetime.fromisoformat(fired[0].data["ts"].replace("Z", "+00:00"))
        assert go + timedelta(hours=1) <= fired_at < go + timedelta(hours=1, seconds=20)
        evs = await store.events(r.run_id)
        done = next(e.seq for e in evs if e.type == "rollback_finished")
        assert not [e for e in evs if e.type == "hypercare_check" and e.seq > done]  # hypercare stopped
        out = summary.summarize(view)
        assert (out["status"], out["verdict"]) == ("rolled_back_after_go", "ROLLED BACK AFTER GO")
        said = {c["event"]: c["text"] for c in st.comms if c.get("event", "").startswith("rollback_")}
        assert said["rollback_triggered"].startswith("After GO, during hypercare: rollback triggered.")
        assert said["rollback_complete"].endswith("The run is ROLLED BACK AFTER GO.")
        assert (tmp_path / "rollback.log").read_text().split() == ["reverted"]
        # Hypercare's armed span, GO to the rollback, is recorded with every reading the log holds (how much of
        # it was watched depends on how the fake clock moved around the store's writes; the gap rules are
        # test_an_unwatched_gap_in_an_armed_span_counts_against_its_coverage's).
        cov = st.armed_coverage["hypercare"]["triggers"]["errors"]
        assert cov["from"] == st.go_at
        assert cov["until"] == st.rollback["started_at"]
        assert cov["readings"] >= 100  # an hour at 10 s
        assert "cutover" in st.armed_coverage
    finally:
        await store.close()


async def test_hypercare_tick_reads_the_armed_triggers(tmp_path: Path, fake_metrics: Any) -> None:
    """`golive hypercare --tick` (from cron) reads every armed trigger once before the due checks: a clean read
    runs the slot; a breach at the next tick rolls back, the run ends ROLLED_BACK_AFTER_GO and no hypercare
    check runs after the fire."""
    clock = FakeClock()
    store = sqlite.SqliteStore(tmp_path / "golive.db", clock)
    await store.open()
    try:
        fake_metrics["errors"].set(0.0)
        r = await run_to_go(store, tmp_path, clock)

        async def tick() -> Any:
            hc = await service.hypercare_runner(store, r.run_id, tmp_path / "reports", lambda s: None)
            try:
                return await service.tick_hypercare(hc)
            finally:
                await hc.engine.aclose()

        first = await tick()
        assert [c.check_id for c in first.checks] == ["health"]
        read = [e for e in await r.events("trigger_evaluated") if e.data.get("armed")]
        assert read
        assert read[-1].data["state"] == "ok"

        fake_metrics["errors"].set(1.0)
        clock.advance(30 * 60)  # the next slot is due, and the trigger breaches
        assert await tick() is None  # the rollback ran instead of the slot
        st = (await r.view()).state
        assert st.status is RunStatus.ROLLED_BACK_AFTER_GO
        assert run_cmds._exit_for(st.status) == 1
        assert [e.data["armed"] for e in await r.events("trigger_fired")] == [True]
        assert [e.data["check_id"] for e in await r.events("hypercare_check")] == ["health"]
        assert (tmp_path / "rollback.log").read_text().split() == ["reverted"]
    finally:
        await store.close()


CONTINUED = """\
golive: 1
name: armed-continued
roles:
  ic: {title: Incident commander, may: [decide]}
  ops: {title: Operator}
phases:
  - id: canary
    steps:
      - {id: window, kind: observe, duration: 20s}
  - id: enable
    steps:
      - {id: confirm-enable, kind: manual, role: ops}
triggers:
  - id: latency
    source: {type: fake, with: {name: latency}}
    when: value > 0
    interval: 5s
    then: notify
  - id: errors
    source: {type: fake, with: {name: errors}}
    when: value > 0
    interval: 5s
rollback:
  steps:
    - {id: revert, kind: action, type: command, with: {run: "true"}}
comms: {cadence: []}
"""


async def test_the_armed_watch_continues_what_an_observe_window_fired(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """A notify trigger fires inside the canary window and goes on breaching: after the window the armed watch
    reads it on (its readings are recorded, armed) but it is the same trigger, still firing, so it never fires
    a second time while no reading cleared it; once a reading clears it, the next breach fires again."""
    clock = FakeClock()
    fake_metrics["latency"].set(1.0)
    fake_metrics["errors"].set(0.0)
    loaded = loader.load_text(CONTINUED, str(tmp_path / "runbook.yaml"), environ={})
    r = await start_engine(store, loaded, roles={"ic": "alice", "ops": "otto"}, clock=clock, poll=0.5)
    await r.until("the enablement waits", lambda s: s.step("confirm-enable").status == "waiting")
    fired = [e for e in await r.events("trigger_fired") if e.data["trigger"] == "latency"]
    assert [(f.step_id, f.data.get("armed")) for f in fired] == [("window", None)]

    def read_by_watch(n: int) -> Callable[[RunState], bool]:
        def pred(s: RunState) -> bool:
            return len(s.triggers.get("latency", {}).get("history", [])) >= n

        return pred

    seen = len((await r.view()).state.triggers["latency"]["history"])
    for _ in range(4):  # four more readings, each a breach, by the armed watch
        clock.advance(30)
        seen += 1
        await r.until("the watch reads latency", read_by_watch(seen))
    h = await r.view()
    fired = [e for e in await r.events("trigger_fired") if e.data["trigger"] == "latency"]
    assert len(fired) == 1, [(f.step_id, f.data) for f in fired]
    assert any(e.data.get("armed") for e in await r.events("trigger_evaluated") if e.data["trigger"] == "latency")
    assert h.state.triggers["latency"]["state"] == "firing"

    fake_metrics["latency"].set(0.0)  # a clear, then a new breach: that one fires
    clock.advance(60)
    await r.until("latency clears", lambda s: s.triggers["latency"]["state"] == "ok")
    fake_metrics["latency"].set(1.0)
    clock.advance(60)
    await r.until("latency fires again", lambda s: len([f for f in s.fired if f["trigger"] == "latency"]) == 2)
    assert h.state.rollback is None
    await acts.request_rollback(h, "alice", "end the test")
    assert await r.finished() is RunStatus.ROLLED_BACK


class _Ev:
    def __init__(self, at: datetime, value: float) -> None:
        self.type, self.ts = "trigger_evaluated", at.isoformat()
        self.data = {"trigger": "errors", "samples": [[at.isoformat(), "ok", value, None]]}


def test_an_unwatched_gap_in_an_armed_span_counts_against_its_coverage(tmp_path: Path, fake_metrics: Any) -> None:
    """Readings every 10 s over the armed span (canary to the decision's end, 10 minutes), but none for four
    minutes in between: the gap is unwatched (longer than twice the interval), the span's coverage falls under
    min_coverage and is not ok, the gap named; the same span read throughout is ok."""
    from golive.clock import utc_iso
    from golive.engine import armed

    runbook = load(tmp_path, "{until: decision}").runbook
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    st = RunState("r")
    st.phase_times = {"canary": (utc_iso(t0), None), "decision": (None, utc_iso(t0 + timedelta(minutes=10)))}
    end = t0 + timedelta(minutes=11)
    every = [_Ev(t0 + timedelta(seconds=s), 0.0) for s in range(10, 600, 10)]
    gappy = [e for e in every if not 120 < datetime.fromisoformat(e.ts).timestamp() - t0.timestamp() < 360]
    full = armed.span_coverage(runbook, st, every, "cutover", end)["errors"]
    assert (full["ok"], full["fraction"], full["until"]) == (True, 1.0, utc_iso(t0 + timedelta(minutes=10)))
    cov = armed.span_coverage(runbook, st, gappy, "cutover", end)["errors"]
    assert cov["ok"] is False
    assert cov["fraction"] == 0.6
    assert cov["gaps"] == [["2026-01-01T00:02:00Z", "2026-01-01T00:06:00Z"]]


@pytest.mark.parametrize(
    ("armed", "message"),
    [
        ("{from: deplyo}", "unknown phase 'deplyo' (did you mean 'deploy'?)"),
        ("{until: never}", "unknown phase 'never'"),
        ("{from: decision, until: deploy}", "phase 'deploy' comes before 'decision'"),
        ("{frm: deploy}", "frm"),
    ],
)
def test_a_bad_armed_span_is_refused_with_the_fix(tmp_path: Path, fake_metrics: Any, armed: str, message: str) -> None:
    with pytest.raises(exceptions.RunbookInvalid) as err:
        load(tmp_path, armed)
    assert message in str(err.value), str(err.value)
    assert "triggers[0].armed" in str(err.value)


FENCED = """\
golive: 1
name: armed-fenced
roles:
  ops: {title: Operator}
vars:
  dir: {required: true}
phases:
  - id: work
    steps:
      - {id: banner, kind: manual, role: ops}
triggers:
  - id: errors
    source: {type: fake, with: {name: errors}}
    when: value > 0
    interval: 0.1s
    armed: {from: work}
rollback:
  steps:
    - {id: revert, kind: action, type: command, with: {run: "echo reverted >> $DIR/rollback.log", env: {DIR: "${{ vars.dir }}"}}}
comms: {cadence: []}
"""


async def test_the_armed_watch_appends_fenced_and_a_lost_lease_stops_the_engine(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """The watch reads while the engine waits on a person; another process takes the run over, then the
    trigger breaches: nothing of the old owner's is appended after the takeover (no fire, no rollback), and
    drive ends Fenced."""
    loaded = loader.load_text(FENCED, str(tmp_path / "fenced.yaml"), var_overrides={"dir": str(tmp_path)}, environ={})
    h = await runner.create_run(store, loaded, roles={"ops": "olga"})
    task = asyncio.create_task(driver.drive(h, runner.Engine(h, poll=0.02), owner="host:1:1:run", ttl=LEASE_TTL))
    view = await acts.open_run(store, h.run_id)
    for _ in range(1000):
        await view.refresh()
        if any(e.type == "trigger_evaluated" for e in await store.events(h.run_id)):
            break
        assert not task.done()
        await asyncio.sleep(0.02)
    taken = await store.take_over_lease(h.run_id, "host:2:2:resume", LEASE_TTL)
    head = (await store.events(h.run_id))[-1].seq
    fake_metrics["errors"].set(1.0)
    with pytest.raises(exceptions.Fenced):
        await asyncio.wait_for(task, 20)
    after = [e.type for e in await store.events(h.run_id, after_seq=head)]
    assert "trigger_fired" not in after
    assert "rollback_requested" not in after
    assert "rollback_started" not in after
    assert not (tmp_path / "rollback.log").exists()
    assert taken.epoch == 2


async def test_coverage_that_cannot_be_computed_is_recorded_not_ok_and_the_run_still_ends(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure computing the armed spans' coverage (a bug, an unreadable event) never passes for watched:
    armed_coverage is recorded ok: false with the error, and the run still records its end."""
    from golive.engine import armed

    def broken(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise ValueError("unreadable sample")

    monkeypatch.setattr(armed, "span_coverage", broken)
    clock = FakeClock()
    fake_metrics["latency"].set(0.0)
    fake_metrics["errors"].set(0.0)
    loaded = loader.load_text(CONTINUED, str(tmp_path / "runbook.yaml"), environ={})
    r = await start_engine(store, loaded, roles={"ic": "alice", "ops": "otto"}, clock=clock, poll=0.5)
    h = await r.until("the enablement waits", lambda s: s.step("confirm-enable").status == "waiting")
    await acts.confirm(h, "confirm-enable", "otto")
    assert await r.finished() is RunStatus.PASSED
    cov = (await r.view()).state.armed_coverage["cutover"]
    assert (cov["ok"], cov["error"]) == (False, "ValueError: unreadable sample")

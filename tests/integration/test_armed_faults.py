"""Armed triggers under faults: a process that dies between a trigger's fire and its rollback (real SQLite,
real leases; the fire is written as the dead process left it, then another engine takes the run over).

A rollback trigger's fire that the log shows with no rollback asked for was never acted on: the engine that
takes the run up must act on it (fail closed), not take the trigger up as "still firing" and stay silent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from golive.engine import acts, driver, runner
from golive.engine import hypercare as service
from golive.engine.state import RunStatus
from golive.spec import loader
from golive.store import base as store_base
from golive.store import sqlite
from golive.store.postgres import PostgresStore
from golive.testing import FakeClock, start_engine

LEASE_TTL = 5.0  # seconds (the machine is shared: renewals must not miss)

RUNBOOK = """\
golive: 1
name: armed-crash
roles:
  ic: {title: Incident commander, may: [decide]}
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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def both(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[store_base.Store]:
    """A real store of each kind (processes racing for a run meet in it)."""
    s: store_base.Store
    if request.param == "sqlite":
        s = sqlite.SqliteStore(tmp_path / "golive.db")
    else:
        s = PostgresStore(request.getfixturevalue("postgres_database"))
    await s.open()
    yield s
    await s.close()


async def _until_read(store: sqlite.SqliteStore, run_id: str, task: asyncio.Task[Any]) -> None:
    for _ in range(1000):
        if any(e.type == "trigger_evaluated" for e in await store.events(run_id)):
            return
        assert not task.done(), task
        await asyncio.sleep(0.02)
    raise AssertionError("the armed watch never read the trigger")


def _resume(h: acts.RunHandle) -> Any:
    """What `golive resume` does once the dead process's lease is taken over: drive the run on."""
    eng = runner.Engine(h, poll=0.02)
    return driver.drive(h, eng, owner="host:2:2:resume", ttl=LEASE_TTL, take_over=True, actor="alice", reason="died")


@pytest.mark.parametrize("requested", [False, True], ids=["fire-only", "fire-and-request"])
async def test_a_rollback_fire_left_without_its_rollback_by_a_dead_process_rolls_back_on_resume(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any, requested: bool
) -> None:
    """The first engine reads the armed trigger, writes its fire (and perhaps its rollback request) and dies
    before the rollback starts. The engine that takes the run over (resume) finds the trigger firing in the log
    with no rollback: it rolls back (by the trigger), once, instead of taking the trigger up as already fired
    and waiting on forever."""
    fake_metrics["errors"].set(0.0)
    loaded = loader.load_text(RUNBOOK, str(tmp_path / "rb.yaml"), var_overrides={"dir": str(tmp_path)}, environ={})
    h = await runner.create_run(store, loaded, roles={"ic": "alice", "ops": "olga"})
    first = asyncio.create_task(driver.drive(h, runner.Engine(h, poll=0.02), owner="host:1:1:run", ttl=LEASE_TTL))
    await _until_read(store, h.run_id, first)
    first.cancel()  # the process dies (its lease is left to expire)
    with contextlib.suppress(asyncio.CancelledError):
        await first
    # What the dead process wrote last: the fire, as the armed watch records it; then nothing.
    other = await acts.open_run(store, h.run_id)
    await other.append(
        "trigger_fired", trigger="errors", reason="value 1 > 0", then="rollback", severity="critical", armed=True
    )
    if requested:
        await other.append(
            "rollback_requested", reason="trigger errors fired", source="trigger", trigger="errors", armed=True
        )
    fake_metrics["errors"].set(1.0)  # still breaching

    again = await acts.open_run(store, h.run_id)
    status = await asyncio.wait_for(_resume(again), 20)
    assert status is RunStatus.ROLLED_BACK
    evs = await store.events(h.run_id)
    assert [e.type for e in evs].count("rollback_started") == 1
    started = next(e for e in evs if e.type == "rollback_started")
    assert started.data["by"] == "trigger:errors"
    assert (tmp_path / "rollback.log").read_text().split() == ["reverted"]


WINDOW = """\
golive: 1
name: window-crash
roles:
  ic: {title: Incident commander, may: [decide]}
vars:
  dir: {required: true}
phases:
  - id: canary
    steps:
      - {id: window, kind: observe, duration: 30s}
  - id: decision
    steps:
      - {id: go, kind: decision, role: ic}
triggers:
  - id: errors
    source: {type: fake, with: {name: errors}}
    when: value > 0
    interval: 0.1s
rollback:
  steps:
    - {id: revert, kind: action, type: command, with: {run: "echo reverted >> $DIR/rollback.log", env: {DIR: "${{ vars.dir }}"}}}
comms: {cadence: []}
"""


async def test_a_window_fire_left_without_its_rollback_rolls_back_on_resume_even_once_clear(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """An observe window's rollback trigger fired and its process died before the rollback started. The engine
    taking the run over rolls back although the metric has cleared since: the fire stands (it is not read
    again and dropped, and the window does not pass on to the GO)."""
    fake_metrics["errors"].set(0.0)
    loaded = loader.load_text(WINDOW, str(tmp_path / "rb.yaml"), var_overrides={"dir": str(tmp_path)}, environ={})
    h = await runner.create_run(store, loaded, roles={"ic": "alice"})
    first = asyncio.create_task(driver.drive(h, runner.Engine(h, poll=0.02), owner="host:1:1:run", ttl=LEASE_TTL))
    await _until_read(store, h.run_id, first)
    first.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await first
    other = await acts.open_run(store, h.run_id)
    await other.append(
        "trigger_fired", step_id="window", trigger="errors", reason="value 1 > 0", then="rollback", severity="critical"
    )
    again = await acts.open_run(store, h.run_id)
    status = await asyncio.wait_for(
        _resume(again),
        60,
    )
    assert status is RunStatus.ROLLED_BACK
    evs = await store.events(h.run_id)
    assert [e.type for e in evs].count("rollback_started") == 1
    assert next(e for e in evs if e.type == "rollback_started").data["by"] == "trigger:errors"
    assert (tmp_path / "rollback.log").read_text().split() == ["reverted"]


HYPERCARE = """\
golive: 1
name: hypercare-crash
roles:
  ic: {title: Incident commander, may: [decide]}
vars:
  dir: {required: true}
phases:
  - id: decision
    steps:
      - {id: go, kind: decision, role: ic}
triggers:
  - id: errors
    source: {type: fake, with: {name: errors}}
    when: value > 0
    interval: 10s
    armed: {from: decision}
rollback:
  steps:
    - {id: revert, kind: action, type: command, with: {run: "echo reverted >> $DIR/rollback.log", env: {DIR: "${{ vars.dir }}"}}}
hypercare:
  tiers:
    - {from: 0s, until: 2h, every: 30m}
  checks:
    - {id: health, kind: check, type: command, with: {run: "true"}}
comms: {cadence: []}
"""


async def test_a_hypercare_fire_left_without_its_rollback_is_rolled_back_by_the_next_tick(
    tmp_path: Path, fake_metrics: Any
) -> None:
    """After GO the hypercare process wrote a rollback trigger's fire and died before its rollback. The next
    `golive hypercare --tick` rolls back first (ROLLED_BACK_AFTER_GO), though the metric reads clean now, and
    runs no check of the slot."""
    clock = FakeClock()
    store = sqlite.SqliteStore(tmp_path / "golive.db", clock)
    await store.open()
    try:
        fake_metrics["errors"].set(0.0)
        loaded = loader.load_text(
            HYPERCARE, str(tmp_path / "rb.yaml"), var_overrides={"dir": str(tmp_path)}, environ={}
        )
        r = await start_engine(store, loaded, roles={"ic": "alice"}, clock=clock, poll=0.5)
        h = await r.until("the GO is asked", lambda s: s.step("go").status == "waiting")
        await acts.decide(h, "go", "alice", "clean")
        assert await r.finished() is RunStatus.PASSED
        other = await acts.open_run(store, r.run_id)
        await other.append(
            "trigger_fired", trigger="errors", reason="value 1 > 0", then="rollback", severity="critical", armed=True
        )
        clock.advance(30 * 60)
        hc = await service.hypercare_runner(store, r.run_id, tmp_path / "reports", lambda s: None)
        try:
            assert await service.tick_hypercare(hc) is None
        finally:
            await hc.engine.aclose()
        st = (await r.view()).state
        assert st.status is RunStatus.ROLLED_BACK_AFTER_GO
        assert st.rollback is not None
        assert st.rollback["by"] == "trigger:errors"
        assert not await r.events("hypercare_check")
        assert (tmp_path / "rollback.log").read_text().split() == ["reverted"]
    finally:
        await store.close()


SLOW = HYPERCARE.replace(
    'run: "echo reverted >> $DIR/rollback.log"', 'run: "sleep 0.5; echo reverted >> $DIR/rollback.log"'
)


async def test_an_ic_rollback_racing_a_hypercare_fire_rolls_back_once(
    both: store_base.Store, tmp_path: Path, fake_metrics: Any
) -> None:
    """After GO, `golive hypercare`'s armed watch fires a rollback trigger while the IC's `golive rollback` runs
    the rollback from another process (no engine holds the run in hypercare). Exactly one of them starts it:
    one rollback_started, one rollback_triggered message, the revert runs once, and the run ends
    ROLLED_BACK_AFTER_GO."""
    store = both
    fake_metrics["errors"].set(0.0)
    h = await _passed(store, tmp_path, SLOW)

    hc = await service.hypercare_runner(store, h.run_id, tmp_path / "reports", lambda s: None)
    ic = await acts.open_run(store, h.run_id)
    await acts.request_rollback(ic, "alice", "customers report failures")
    cli = driver.drive(
        ic, runner.Engine(ic, poll=0.02), owner="host:2:2:rollback", body=lambda e: e.rollback_requested()
    )

    async def fire() -> None:
        # The watch's fire, read before the IC's rollback reached this process, while the IC's revert runs.
        for _ in range(1000):
            if any(e.type == "step_started" for e in await store.events(h.run_id, after_seq=h.state.last_seq)):
                break
            await asyncio.sleep(0.01)
        await hc.engine.rollback("trigger errors fired", "trigger:errors", "trigger")

    try:
        await asyncio.gather(cli, fire())
    finally:
        await hc.engine.aclose()
    evs = await store.events(h.run_id)
    assert [e.type for e in evs].count("rollback_started") == 1
    assert [e.data.get("event") for e in evs if e.type == "comms_sent"].count("rollback_triggered") == 1
    assert (tmp_path / "rollback.log").read_text().split() == ["reverted"]
    assert (await acts.open_run(store, h.run_id)).state.status is RunStatus.ROLLED_BACK_AFTER_GO


async def _passed(store: store_base.Store, tmp_path: Path, text: str) -> acts.RunHandle:
    """A run of ``text`` driven to PASSED with the IC's GO (real clock, real SQLite)."""
    loaded = loader.load_text(text, str(tmp_path / "rb.yaml"), var_overrides={"dir": str(tmp_path)}, environ={})
    h = await runner.create_run(store, loaded, roles={"ic": "alice"})
    task = asyncio.create_task(driver.drive(h, runner.Engine(h, poll=0.02), owner="host:1:1:run", ttl=LEASE_TTL))
    for _ in range(1000):
        await h.refresh()
        if h.state.step("go").status == "waiting":
            break
        await asyncio.sleep(0.02)
    await acts.decide(await acts.open_run(store, h.run_id), "go", "alice", "clean")
    assert await asyncio.wait_for(task, 20) is RunStatus.PASSED
    return h


async def _ic_rolls_back(store: store_base.Store, run_id: str) -> None:
    """`golive rollback RUN` by the IC from another process: asked for, then run there (no engine holds it)."""
    ic = await acts.open_run(store, run_id)
    await acts.request_rollback(ic, "alice", "customers report failures")
    await driver.drive(
        ic, runner.Engine(ic, poll=0.02), owner="host:3:3:rollback", body=lambda e: e.rollback_requested()
    )


async def test_hypercare_stops_once_the_ic_rolled_back_from_another_process(tmp_path: Path, fake_metrics: Any) -> None:
    """`golive hypercare` runs beside the run after GO; the IC rolls back with `golive rollback` (another
    process). Hypercare stops at once (not at its next slot half an hour later), and a later
    `golive hypercare --tick` runs no check on the rolled-back run: the run is ROLLED_BACK_AFTER_GO."""
    store = sqlite.SqliteStore(tmp_path / "golive.db")
    await store.open()
    try:
        fake_metrics["errors"].set(0.0)
        h = await _passed(store, tmp_path, HYPERCARE)
        hc = await service.hypercare_runner(store, h.run_id, tmp_path / "reports", lambda s: None)
        watching = asyncio.create_task(service.watch_hypercare(hc))
        try:
            for _ in range(1000):  # the slot at GO has run
                if any(e.type == "hypercare_check" for e in await store.events(h.run_id)):
                    break
                await asyncio.sleep(0.02)
            await _ic_rolls_back(store, h.run_id)
            await asyncio.wait_for(watching, 20)
        finally:
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching
            await hc.engine.aclose()
        checks = [e.seq for e in await store.events(h.run_id) if e.type == "hypercare_check"]
        tick = await service.hypercare_runner(store, h.run_id, tmp_path / "reports", lambda s: None)
        try:
            assert await service.tick_hypercare(tick) is None  # nothing of hypercare runs on a rolled-back run
        finally:
            await tick.engine.aclose()
        evs = await store.events(h.run_id)
        assert [e.seq for e in evs if e.type == "hypercare_check"] == checks
        assert [e.type for e in evs].count("rollback_started") == 1
        assert (await acts.open_run(store, h.run_id)).state.status is RunStatus.ROLLED_BACK_AFTER_GO
    finally:
        await store.close()


async def test_an_armed_source_that_keeps_failing_fails_closed(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """An armed trigger whose source errors on every read while a manual step waits is not a quiet span: after
    max_errors (3) consecutive errors it fires and the rollback runs, by the trigger; its readings say error."""
    fake_metrics["errors"].fail("connection refused")
    loaded = loader.load_text(RUNBOOK, str(tmp_path / "rb.yaml"), var_overrides={"dir": str(tmp_path)}, environ={})
    h = await runner.create_run(store, loaded, roles={"ic": "alice", "ops": "olga"})
    eng = runner.Engine(h, poll=0.02)
    status = await asyncio.wait_for(driver.drive(h, eng, owner="host:1:1:run", ttl=LEASE_TTL), 20)
    assert status is RunStatus.ROLLED_BACK
    evs = await store.events(h.run_id)
    assert next(e for e in evs if e.type == "rollback_started").data["by"] == "trigger:errors"
    [fired] = [e for e in evs if e.type == "trigger_fired"]
    assert fired.data["armed"] is True
    assert h.state.step("banner").outcome is not None
    assert (tmp_path / "rollback.log").read_text().split() == ["reverted"]


PAUSED = """\
golive: 1
name: paused-window
roles:
  ic: {title: Incident commander, may: [decide]}
vars:
  dir: {required: true}
phases:
  - id: canary
    steps:
      - {id: window, kind: observe, duration: 60s, triggers: [latency, errors]}
  - id: decision
    steps:
      - {id: go, kind: decision, role: ic}
triggers:
  - id: latency
    source: {type: fake, with: {name: latency}}
    when: value > 0
    interval: 0.1s
    then: pause
  - id: errors
    source: {type: fake, with: {name: errors}}
    when: value > 0
    interval: 0.1s
rollback:
  steps:
    - {id: revert, kind: action, type: command, with: {run: "echo reverted >> $DIR/rollback.log", env: {DIR: "${{ vars.dir }}"}}}
comms: {cadence: []}
"""


async def test_a_rollback_trigger_is_read_while_the_ic_weighs_a_pause(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """A pause trigger stops the canary window and the IC is asked (minutes to answer). Meanwhile the window's
    rollback trigger breaches: it is read on (by the armed watch) and rolls back at once, without waiting for
    the IC; the paused window's triggers were read by nobody until the IC answered."""
    fake_metrics["latency"].set(1.0)
    fake_metrics["errors"].set(0.0)
    loaded = loader.load_text(PAUSED, str(tmp_path / "rb.yaml"), var_overrides={"dir": str(tmp_path)}, environ={})
    h = await runner.create_run(store, loaded, roles={"ic": "alice"})
    task = asyncio.create_task(driver.drive(h, runner.Engine(h, poll=0.02), owner="host:1:1:run", ttl=LEASE_TTL))
    for _ in range(1000):
        if any(e.type == "step_waiting" and e.data.get("what") == "pause" for e in await store.events(h.run_id)):
            break
        assert not task.done()
        await asyncio.sleep(0.02)
    fake_metrics["errors"].set(1.0)
    assert await asyncio.wait_for(task, 20) is RunStatus.ROLLED_BACK
    evs = await store.events(h.run_id)
    assert [e.type for e in evs].count("rollback_started") == 1
    assert next(e for e in evs if e.type == "rollback_started").data["by"] == "trigger:errors"
    assert not [e for e in evs if e.type == "decision_recorded"]  # nobody answered the pause
    assert [e.data["trigger"] for e in evs if e.type == "trigger_fired"] == ["latency", "errors"]


async def test_a_no_go_racing_an_armed_fire_rolls_back_once(
    store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """The IC answers NO-GO just as the armed trigger breaches: one rollback (one rollback_started, the
    revert once) and one final status, ROLLED_BACK."""
    fake_metrics["errors"].set(0.0)
    text = HYPERCARE.replace("interval: 10s", "interval: 0.1s")
    loaded = loader.load_text(text, str(tmp_path / "rb.yaml"), var_overrides={"dir": str(tmp_path)}, environ={})
    h = await runner.create_run(store, loaded, roles={"ic": "alice"})
    task = asyncio.create_task(driver.drive(h, runner.Engine(h, poll=0.02), owner="host:1:1:run", ttl=LEASE_TTL))
    await _until_read(store, h.run_id, task)
    fake_metrics["errors"].set(1.0)
    await acts.decide(await acts.open_run(store, h.run_id), "no-go", "alice", "canary looks wrong")
    status = await asyncio.wait_for(task, 20)
    evs = await store.events(h.run_id)
    assert [e.type for e in evs].count("rollback_started") == 1
    assert status is RunStatus.ROLLED_BACK
    assert (tmp_path / "rollback.log").read_text().split() == ["reverted"]

"""A steady gate under the fake clock: "wait until replication lag is 0 for 60 s" is a check with `steady:`.

The check is a real command that prints the next replication lag of a scripted series (one line per probe);
the engine probes it on the FakeClock, so a minute of steadiness takes no real minute.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from golive.engine import acts, runner
from golive.engine.state import RunStatus
from golive.spec import loader
from golive.store import sqlite
from golive.testing import FakeClock

WAIT_LIMIT = 30.0  # seconds (real) a run may take before the test fails

STEADY = """\
golive: 1
name: steady-gate
vars:
  dir: {required: true}
comms: {cadence: []}
phases:
  - id: cutover
    steps:
      - id: lag-zero
        title: Replication lag is 0 for 60 s
        kind: check
        type: command
        steady: {for: 60s, every: 10s, timeout: STEADY_TIMEOUT}
        # The next value of the series, one per probe (`n` counts the probes).
        with:
          run: "n=$(( $(cat n 2>/dev/null || echo 0) + 1 )); echo $n > n; sed -n ${n}p lag.txt"
          cwd: "${{ vars.dir }}"
          expect: "json == 0"
      - {id: switch, kind: action, type: command, needs: [lag-zero], with: {run: "touch switched", cwd: "${{ vars.dir }}"}}
"""


async def run(store: sqlite.SqliteStore, tmp_path: Path, lags: list[int], give_up: str) -> tuple[acts.RunHandle, float]:
    (tmp_path / "lag.txt").write_text("".join(f"{v}\n" for v in lags))
    loaded = loader.load_text(
        STEADY.replace("STEADY_TIMEOUT", give_up),
        str(tmp_path / "runbook.yaml"),
        var_overrides={"dir": str(tmp_path)},
        environ={},
    )
    clock = FakeClock()
    h = await runner.create_run(store, loaded)
    await asyncio.wait_for(runner.Engine(h, clock=clock, poll=1.0).run(), WAIT_LIMIT)
    return await acts.open_run(store, h.run_id), clock.monotonic()


async def test_a_steady_gate_restarts_its_clock_on_a_breach(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """Lag 0 at 0-20 s, 5 at 30 s (a breach), then 0: the clock restarts at 40 s and the gate passes at 100 s
    (held 60 s), not at 60 s; every probe is recorded with how long it had held; the next step runs after."""
    h, elapsed = await run(store, tmp_path, [0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0], "5m")
    assert h.state.status is RunStatus.PASSED, h.state.reason
    gate = h.state.step("lag-zero")
    assert gate.outcome is not None
    assert gate.outcome.value == "pass"
    assert gate.summary.startswith("steady for 1m: held 1m over 11 probes (1 failed and restarted the clock)")
    probes = [e.data for e in await store.events(h.run_id) if e.type == "step_probe"]
    assert [p["held"] for p in probes] == [0, 10, 20, 0, 0, 10, 20, 30, 40, 50, 60]
    assert [p["restarted"] for p in probes].count(True) == 1
    assert elapsed == 100.0
    assert (tmp_path / "switched").exists()


async def test_a_gate_that_never_holds_long_enough_ends_with_its_timeout_outcome(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    """A breach every third probe never lets the lag hold 60 s: at the 90 s timeout the gate FAILs saying the
    longest it held, and the step after it never runs."""
    h, _ = await run(store, tmp_path, [0, 0, 3] * 6, "90s")
    assert h.state.status is RunStatus.NO_GO
    gate = h.state.step("lag-zero")
    assert gate.outcome is not None
    assert gate.outcome.value == "fail"
    assert gate.summary.startswith("not steady for 1m within 1m30s: held 10s at most over 10 probes (3 failed)")
    assert not (tmp_path / "switched").exists()

"""The payments example's scribe timeline holds the seed's seven slots, T-60 ... T+60.

The real engine runs ``examples/payments-go-live.yaml`` on a fake clock against a real SQLite store, with
people confirming and deciding as the runbook's roles, and hypercare writing its first report. The
production systems the runbook talks to (docker-compose, alembic, the payments API, its database and
Prometheus) cannot run here: their plugins are replaced by rehearsal stand-ins that answer as a healthy
platform would, under the same names and params, so the runbook is unchanged.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from golive import results
from golive.engine import acts, runner
from golive.engine import hypercare as service
from golive.engine.state import RunStatus
from golive.plugins import base
from golive.plugins import registry as registry_mod
from golive.spec import loader, models
from golive.store import sqlite
from golive.testing import FakeClock

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "payments-go-live.yaml"
GOLIVE = str(Path(sys.executable).with_name("golive"))
T_MINUS_60 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
T0 = T_MINUS_60 + timedelta(minutes=60)
ROLES = {
    "ic": "alice",
    "deployer": "dan",
    "db-owner": "bob",
    "payments-owner": "pat",
    "scribe": "sam",
    "on-call": "olga",
}
INPUTS = {
    "release_sha": "3f2a9c1",
    "release_tag": "v7.0.0",
    "snapshot_id": "snap-0815",
    "snapshot_taken_at": "2026-03-01T09:30Z",
    "snapshot_checksum": "9c1e4d",
    "test_amount": "10.00",
}
DRIVE_LIMIT = 5000  # passes of the driver loop before the test gives up
WALK_STEP = 30.0  # seconds; the clock walks to a planned time in steps of the triggers' interval
SETTLE_LIMIT = 200  # looks (10 ms apart) for the engine to stop appending before time moves on
ENGINE_POLL = 1.0  # fake seconds between the engine's looks at the log while people act


def _stand_in(real: type[base.Plugin], summary: str) -> type[base.Plugin]:
    """The real plugin's name and params, answering as a healthy production platform would."""
    if issubclass(real, base.MetricSource):

        class Metric(real):  # type: ignore[valid-type,misc]
            async def read(self, ctx: base.StepContext) -> results.MetricReading:
                return results.MetricReading.of(0.0)

        return Metric

    class Step(real):  # type: ignore[valid-type,misc]
        async def run(self, ctx: base.StepContext) -> results.Result:
            return results.Result.ok(summary)

    return Step


def stand_in_registry() -> registry_mod.Registry:
    reg = registry_mod.Registry()
    reg.load_builtins()
    for kind, name, summary in [
        ("check", "command", "exit_code=0, expected 0 in 812 ms"),
        ("check", "http", "status=200, expected 200 in 41 ms"),
        ("check", "sql", "scalar=1, expected == 1"),
        ("check", "git", "tag v7.0.0 matches pin 3f2a9c1"),
        ("check", "log", "Signature Verified seen 2 min ago, expected within 30m"),
        ("check", "prometheus", "value=0.002, expected <= 0.01"),
        ("action", "command", "exit_code=0, expected 0 in 3 s"),
        ("metric", "prometheus", ""),
        ("metric", "sql", ""),
    ]:
        real = reg.get(kind, name)  # type: ignore[arg-type]
        assert real is not None, (kind, name)
        reg._plugins[(kind, name)] = _stand_in(real, summary)  # the Registry refuses duplicates by design
    return reg


class SteppedClock(FakeClock):
    """A fake clock that moves only when the test moves it: the cutover's minutes pass when the scribe's
    driver says so (to a person's planned time, or to the next moment something is due), never while the
    engine merely polls for people in real time."""

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._mono + max(0.0, seconds), next(self._seq), fut))
        await fut

    def next_wake(self) -> float | None:
        """Seconds until the earliest sleeper is due, or None when nobody sleeps."""
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)
        return self._sleepers[0][0] - self._mono if self._sleepers else None

    def advance_to(self, when: datetime) -> None:
        if when > self.now():
            self.advance((when - self.now()).total_seconds())


async def settle(store: sqlite.SqliteStore, run_id: str) -> None:
    """Let the engine finish what it does in real time (its event log stops growing) before time moves."""
    seen = -1
    for _ in range(SETTLE_LIMIT):
        tail = await store.events(run_id, after_seq=max(seen, 0))
        head = tail[-1].seq if tail else seen
        if head == seen:
            return
        seen = head
        await asyncio.sleep(0.01)


async def pass_time(clock: SteppedClock, store: sqlite.SqliteStore, run_id: str, busy: asyncio.Task[Any]) -> None:
    """Move the clock to the next moment something sleeps until, once the engine has settled."""
    await settle(store, run_id)
    wake = clock.next_wake()
    if wake is not None and not busy.done():
        clock.advance(max(wake, 0.0))
    await asyncio.wait({busy}, timeout=0.005)


async def walk_to(clock: SteppedClock, store: sqlite.SqliteStore, run_id: str, when: datetime) -> None:
    """Move the clock to ``when`` in steps no longer than the triggers' interval, the engine settling after
    each: a running observe window reads its triggers on the way (time passes; it does not jump, which the
    window would rightly count as unwatched)."""
    for _ in range(DRIVE_LIMIT):
        left = (when - clock.now()).total_seconds()
        if left <= 0:
            return
        clock.advance(min(left, WALK_STEP))
        await settle(store, run_id)


def planned(rb: models.Runbook, step_id: str) -> float | None:
    for p in rb.phases:
        for s in p.steps:
            if s.id == step_id:
                return s.at if s.at is not None else p.at
    return None


async def drive(tmp_path: Path, clock: SteppedClock, store: sqlite.SqliteStore) -> str:
    """Run the cutover: each manual step is confirmed at its planned T-time and the IC decides GO at T+15;
    from GO on, hypercare runs beside the cutover's last observation, to its first report (GO+45m)."""
    loaded = loader.load(
        EXAMPLE, var_overrides={"previous_release_tag": "v6.9.3", "prometheus_url": "http://127.0.0.1:9"}
    )
    h = await runner.create_run(store, loaded, roles=ROLES, clock=clock, run_id="pay-tl")
    engine = runner.Engine(h, clock=clock, registry=stand_in_registry(), poll=ENGINE_POLL)
    task = asyncio.create_task(engine.run())
    care: asyncio.Task[None] | None = None
    hc: Any = None
    proof = tmp_path / "proof.txt"
    proof.write_text("attached\n")
    rb = loaded.runbook
    try:
        for _ in range(DRIVE_LIMIT):
            if care is not None and care.done():
                break  # the first hypercare report is written: the slots are all in the log
            await settle(store, h.run_id)
            view = await acts.open_run(store, h.run_id)
            if care is None and view.state.go_at is not None:
                go = datetime.fromisoformat(view.state.go_at.replace("Z", "+00:00"))
                hc = await service.hypercare_runner(store, h.run_id, tmp_path / "reports", lambda s: None)
                care = asyncio.create_task(hc.run_forever(until=go + timedelta(minutes=46)))
            waiting = [s for s in view.state.steps.values() if s.status == "waiting"]
            if not waiting:
                await pass_time(clock, store, h.run_id, task if not task.done() else care or task)
                continue
            for s in waiting:
                spec = rb.step(s.id)
                assert spec is not None
                at = planned(rb, s.id)
                if at is not None:
                    await walk_to(clock, store, h.run_id, T0 + timedelta(seconds=at))
                view = await acts.open_run(store, h.run_id)
                if s.waiting_for == "decision":
                    await acts.decide(view, "go", "alice", "canary PASS, artifacts secured")
                elif s.waiting_for == "manual":
                    who = ROLES[spec.role or ""]
                    values = {i.id: INPUTS.get(i.id, f"{i.id}-1") for i in spec.inputs}
                    evidence = [proof] if any(e.required for e in spec.evidence) else []
                    await acts.confirm(view, s.id, who, inputs=values, evidence=evidence)
            clock.advance(ENGINE_POLL)  # the engine looks at the log and sees the acts
        assert care is not None
        await asyncio.wait_for(care, 60)
        # The cutover itself is in its last observation window (GO to GO+2h), watching, not failed.
        state = (await acts.open_run(store, h.run_id)).state
        assert state.status is RunStatus.RUNNING
        assert state.step("observe-first-2h").status == "running"
    finally:
        for t in (task, care):
            if t is not None and not t.done():
                t.cancel()
        if hc is not None:
            await hc.engine.aclose()
    return h.run_id


@pytest.fixture(scope="module")
def timeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[dict[str, Any]]]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield _timeline(tmp_path_factory.mktemp("payments"), monkeypatch)


def _timeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    monkeypatch.setenv("WAR_ROOM_WEBHOOK_URL", f"log://{tmp_path / 'war-room.log'}")
    # Hypercare's checks talk to the same stand-ins as the cutover's.
    stand_ins = stand_in_registry()
    monkeypatch.setattr(registry_mod, "default_registry", lambda: stand_ins)
    monkeypatch.setenv("PAYMENTS_DATABASE_URL", "postgresql://payments@db.internal/payments")
    monkeypatch.setenv("PAYMENTS_PROD_COPY_DATABASE_URL", "postgresql://payments@db-copy.internal/payments")
    db = tmp_path / "golive.db"

    async def go() -> str:
        clock = SteppedClock(T_MINUS_60)
        store = sqlite.SqliteStore(db, clock)
        await store.open()
        try:
            return await drive(tmp_path, clock, store)
        finally:
            await store.close()

    run_id = asyncio.run(go())
    env = {k: v for k, v in os.environ.items() if k != "GOLIVE_DEBUG"}
    env.update(GOLIVE_DATABASE_URL=str(db), NO_COLOR="1")
    done = subprocess.run(
        [GOLIVE, "timeline", run_id, "--json"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    lines: list[dict[str, Any]] = json.loads(done.stdout)
    return lines


def test_the_payments_timeline_holds_the_seven_scribe_slots(timeline: list[dict[str, Any]]) -> None:
    """T-60 Pre-flight start/end, T-30 Snapshot ID recorded, T-15 Deploy start/end, T-10 Smoke PASS,
    T-0 Canary PASS, T+15 GO decision, T+60 First Hypercare Report: each at its planned T-time, with its
    result and actual time."""

    def at(slot: str) -> list[tuple[str, str]]:
        return [(line["what"], line["result"]) for line in timeline if line["planned"] == slot]

    assert ("Pre-flight start", "") in at("T-60m")
    assert ("Pre-flight end", "PASS") in at("T-60m")
    assert any(
        w.startswith("Prod DB snapshot taken: ") and "snapshot_id=snap-0815" in w and r == "PASS"
        for w, r in at("T-30m")
    )
    assert ("Deploy+Smoke start", "") in at("T-15m")
    assert ("Deploy+Smoke end", "PASS") in at("T-15m")
    assert any(w.startswith("go_live_smoke.sh") and r == "PASS" for w, r in at("T-10m"))
    assert ("Canary end", "PASS") in at("T-0")
    assert ("GO/NO-GO decision", "GO") in at("T+15m")
    assert ("Hypercare report: First Hypercare Report", "PASS") in at("T+60m")
    snapshot = next(line for line in timeline if line["what"].startswith("Prod DB snapshot taken"))
    assert (snapshot["t"], snapshot["actor"]) == ("T-30m", "bob")
    decision = next(line for line in timeline if line["what"] == "GO/NO-GO decision")
    assert (decision["t"], decision["actor"]) == ("T+15m", "alice")


def test_the_timeline_lists_automated_steps_and_acts(timeline: list[dict[str, Any]]) -> None:
    """Automated checks and actions are in the log with PASS and the value judged; role assignments are acts."""
    whats = {line["what"]: line for line in timeline}
    assert whats["API health 200 (/api/health): status=200, expected 200 in 41 ms"]["result"] == "PASS"
    assert any(w.startswith("docker-compose up -d") and line["kind"] == "action" for w, line in whats.items())
    assert any(w == "Role ic assigned to alice" for w in whats)

"""People acting on a running run (real SQLite store): roles, manual confirmations, GO/NO-GO decisions with
their hard rules and deadlines, waivers. The engine runs as a task; acts come through their own handles, as
they would from another terminal."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from golive import exceptions
from golive.engine import acts, runner
from golive.engine.state import RunStatus
from golive.spec import loader
from golive.store import base as store_base
from golive.store import sqlite
from golive.testing import FakeClock, RunningEngine, start_engine
from golive.views import summary

RUNBOOKS = Path(__file__).resolve().parents[1] / "fixtures" / "runbooks"
FAST_POLL = 0.02  # seconds between the engine's looks at the log
WAIT_LIMIT = 30.0  # seconds a test waits for the run to reach a state before it fails
ROLES = {"ic": "alice", "dba": "bob", "qa": "quinn"}
STATEMENT = "GO for engine-gated v1.2.3: snapshot snap-42, IC alice"


def gated(tmp_path: Path, **vars_: str) -> loader.LoadedRunbook:
    return loader.load(RUNBOOKS / "gated.yaml", var_overrides={"dir": str(tmp_path), **vars_}, environ={})


async def start(
    store: store_base.Store,
    loaded: loader.LoadedRunbook,
    *,
    roles: dict[str, str] | None = None,
    clock: Any = None,
    poll: float = FAST_POLL,
) -> RunningEngine:
    return await start_engine(store, loaded, roles=ROLES if roles is None else roles, clock=clock, poll=poll)


async def confirm_snapshot(r: RunningEngine) -> None:
    await acts.confirm(await r.waiting("snapshot"), "snapshot", "bob", inputs={"snapshot_id": "snap-42"})


async def cancel(r: RunningEngine) -> None:
    """Stop the engine task once no command is in flight (a killed command's pipes are then already closed)."""
    await r.until("no step running", lambda s: not any(x.status == "running" for x in s.steps.values()))
    r.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await r.task


# --- roles -----------------------------------------------------------------------------------------------


async def test_roles_are_given_at_start_and_later_with_assign(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """--role at run start records role_assigned; assign fills a vacant role later, attributed to its actor."""
    h = await runner.create_run(store, gated(tmp_path), roles={"ic": "alice"})
    assert h.state.roles == {"ic": "alice"}
    await acts.assign(h, "alice", "dba", "bob")
    h = await acts.open_run(store, h.run_id)
    assert h.state.roles == {"ic": "alice", "dba": "bob"}
    last = (await store.events(h.run_id))[-1]
    assert (last.type, last.actor, last.data) == ("role_assigned", "alice", {"role": "dba", "person": "bob"})


async def test_a_held_role_is_not_taken_by_someone_without_the_power(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """mallory cannot reassign the dba role held by bob: refused, recorded as act_refused."""
    h = await runner.create_run(store, gated(tmp_path), roles=ROLES)
    with pytest.raises(exceptions.RuleRefused, match="held by bob"):
        await acts.assign(h, "mallory", "dba", "mallory")
    h = await acts.open_run(store, h.run_id)
    assert h.state.roles["dba"] == "bob"
    assert h.state.refusals[-1]["by"] == "mallory"
    assert h.state.refusals[-1]["act"] == "assign"


async def test_an_undeclared_role_at_start_is_invalid_input(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """--role for a role the runbook does not declare is a usage error (exit 2) naming the declared ones."""
    with pytest.raises(exceptions.UsageError, match="declares no role 'cto'"):
        await runner.create_run(store, gated(tmp_path), roles={"cto": "x"})


# --- manual steps ------------------------------------------------------------------------------------------


async def test_a_manual_step_waits_for_its_role_holder_and_refuses_anyone_else(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    """carol (not the dba) is refused with why and an act_refused event; bob's confirmation passes the step
    with his input, attributed to him."""
    r = await start(store, gated(tmp_path))
    try:
        h = await r.waiting("snapshot")
        assert h.state.status is RunStatus.WAITING
        with pytest.raises(exceptions.RuleRefused, match=r"carol does not hold role 'dba'.*held by bob"):
            await acts.confirm(h, "snapshot", "carol", inputs={"snapshot_id": "snap-1"})
        refused = await r.events("act_refused")
        assert [(e.actor, e.step_id, e.data["act"]) for e in refused] == [("carol", "snapshot", "confirm")]
        assert (await r.view()).state.step("snapshot").status == "waiting"
        await confirm_snapshot(r)
        h = await r.until("snapshot done", lambda s: s.step("snapshot").status == "done")
        snap = h.state.step("snapshot")
        assert snap.outcome is not None
        assert snap.outcome.value == "pass"
        assert snap.actor == "bob"
        assert snap.inputs == {"snapshot_id": "snap-42"}
    finally:
        await cancel(r)


async def test_a_manual_input_must_match_its_pattern(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """An input that does not match the step's pattern is invalid input, and the step keeps waiting."""
    r = await start(store, gated(tmp_path))
    try:
        h = await r.waiting("snapshot")
        with pytest.raises(exceptions.UsageError, match="does not match"):
            await acts.confirm(h, "snapshot", "bob", inputs={"snapshot_id": "latest"})
        assert (await r.view()).state.step("snapshot").status == "waiting"
    finally:
        await cancel(r)


async def test_a_manual_step_confirmed_as_failed_with_evidence_fails_the_phase(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    """confirm --fail --reason with an evidence file: the step fails with the reason, the evidence is kept
    as a blob, and the run ends NO-GO before the canary phase."""
    note = tmp_path / "snapshot-error.txt"
    note.write_text("snapshot API answered 500\n")
    r = await start(store, gated(tmp_path))
    await acts.confirm(
        await r.waiting("snapshot"), "snapshot", "bob", failed=True, reason="snapshot failed", evidence=[note]
    )
    assert await r.finished() is RunStatus.NO_GO
    h = await r.view()
    snap = h.state.step("snapshot")
    assert snap.outcome is not None
    assert snap.outcome.value == "fail"
    assert snap.summary == "snapshot failed"
    assert await store.get_blob(snap.evidence[0]["sha256"]) == b"snapshot API answered 500\n"
    assert h.state.phases.get("canary") == "not-run"  # it never ran: the run ended first


# --- decisions ---------------------------------------------------------------------------------------------


async def test_go_is_recorded_by_the_ic_with_the_rendered_statement(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """After the canary passed, alice (ic) records GO: the statement is rendered from the runbook's template
    and stored in the decision event; the run goes on and passes."""
    r = await start(store, gated(tmp_path))
    await confirm_snapshot(r)
    h = await r.until("canary passed", lambda s: s.step("canary_check").status == "done")
    h = await r.waiting("go")
    statement = await acts.decide(h, "go", "alice", "canary clean")
    assert statement == STATEMENT
    assert await r.finished() is RunStatus.PASSED
    [dec] = await r.events("decision_recorded")
    assert (dec.actor, dec.data["decision"], dec.data["statement"]) == ("alice", "go", STATEMENT)
    assert (await r.view()).state.decision is not None
    assert (tmp_path / "flip.log").read_text() == "flip\n"


async def test_a_decision_by_someone_without_the_role_is_refused(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """bob (dba) cannot record GO: refused, saying who decides, and recorded as act_refused."""
    r = await start(store, gated(tmp_path))
    try:
        await confirm_snapshot(r)
        h = await r.waiting("go")
        with pytest.raises(exceptions.RuleRefused, match=r"bob does not hold role 'ic'.*held by alice"):
            await acts.decide(h, "go", "bob", "looks fine")
        refused = await r.events("act_refused")
        assert refused[-1].actor == "bob"
        assert refused[-1].data["act"] == "decide go"
        assert (await r.view()).state.step("go").status == "waiting"
    finally:
        await cancel(r)


async def test_go_after_a_failed_canary_is_refused_even_for_the_ic(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """Canary FAIL = NO-GO, no exceptions: alice holds ic and still cannot record GO; NO-GO ends the run and
    the enable phase never runs."""
    r = await start(store, gated(tmp_path, canary_exit="1"))
    await confirm_snapshot(r)
    await r.until("canary failed", lambda s: s.step("canary_check").status == "done")
    h = await r.waiting("go")
    with pytest.raises(exceptions.RuleRefused, match="step 'canary_check' is FAIL"):
        await acts.decide(h, "go", "alice", "ship it anyway")
    assert [e.data["act"] for e in await r.events("act_refused")] == ["decide go"]
    await acts.decide(await r.view(), "no-go", "alice", "canary failed")
    assert await r.finished() is RunStatus.NO_GO
    assert not (tmp_path / "flip.log").exists()
    h = await r.view()
    assert h.state.decision is not None
    assert h.state.decision["decision"] == "no-go"


async def test_a_pending_decision_takes_its_default_when_the_deadline_passes(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    """On a FakeClock, nobody decides within the 5 minute deadline: the default (no-go) applies, recorded as
    decision_defaulted, and the run ends NO-GO. The deadline and default are in the waiting event."""
    clock = FakeClock()
    r = await start(store, gated(tmp_path), clock=clock, poll=1.0)
    await confirm_snapshot(r)
    assert await r.finished() is RunStatus.NO_GO
    [waiting] = [e for e in await r.events("step_waiting") if e.step_id == "go"]
    assert waiting.data["default"] == "no-go"
    assert waiting.data["deadline"] is not None
    [defaulted] = await r.events("decision_defaulted")
    assert defaulted.data["default"] == "no-go"
    h = await r.view()
    assert h.state.decision is not None
    assert h.state.decision["by"] == "deadline"
    go = h.state.step("go")
    assert go.outcome is not None
    assert go.outcome.value == "fail"
    assert clock.monotonic() >= 300.0  # the fake clock moved past the deadline; no real five minutes passed


async def test_a_no_go_decision_with_on_no_go_rollback_rolls_back(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """on_no_go: rollback (the default) turns NO-GO into ROLLED_BACK, started by the IC."""
    loaded = loader.load_text(
        (RUNBOOKS / "gated.yaml").read_text().replace("on_no_go: stop", "on_no_go: rollback"),
        str(RUNBOOKS / "gated.yaml"),
        var_overrides={"dir": str(tmp_path)},
        environ={},
    )
    r = await start(store, loaded)
    await confirm_snapshot(r)
    await r.until("canary done", lambda s: s.step("canary_check").status == "done")
    await acts.decide(await r.waiting("go"), "no-go", "alice", "not today")
    assert await r.finished() is RunStatus.ROLLED_BACK
    h = await r.view()
    assert h.state.rollback is not None
    assert h.state.rollback["by"] == "alice"


# --- waivers -----------------------------------------------------------------------------------------------


async def test_a_waiver_is_refused_for_a_role_without_the_power(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """bob (dba) may not waive: refused, naming the roles that may."""
    r = await start(store, gated(tmp_path))
    try:
        h = await r.waiting("snapshot")
        with pytest.raises(exceptions.RuleRefused, match="bob holds none of the roles that may waive: qa"):
            await acts.waive(h, "snapshot", "bob", "CHG-1", "no time")
        assert (await r.view()).state.waivers == []
    finally:
        await cancel(r)


async def test_a_waiver_by_qa_is_recorded_and_shown_in_the_status(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """quinn (qa) waives the waiting manual step with a ticket: outcome waived, the run goes on, and the waiver
    (who, ticket, reason) is in the status data and on the step."""
    r = await start(store, gated(tmp_path))
    try:
        await acts.waive(await r.waiting("snapshot"), "snapshot", "quinn", "CHG-1234", "snapshot taken by the vendor")
        h = await r.waiting("go")
        snap = h.state.step("snapshot")
        assert snap.outcome is not None
        assert snap.outcome.value == "waived"
        data = summary.summarize(h)
        assert [(w["step"], w["by"], w["ticket"], w["reason"]) for w in data["waivers"]] == [
            ("snapshot", "quinn", "CHG-1234", "snapshot taken by the vendor")
        ]
        step = next(s for s in data["phases"][0]["steps"] if s["id"] == "snapshot")
        assert step["outcome"] == "waived"
        assert step["waiver"]["ticket"] == "CHG-1234"
        [w] = await r.events("waiver_recorded")
        assert w.actor == "quinn"
    finally:
        await cancel(r)


async def test_a_waivers_ticket_with_personal_data_is_redacted_everywhere_it_is_recorded(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    """A ticket is free text: 'CHG-1234 (jane.doe@example.com)' never reaches the log unredacted, not in the
    waiver's event and not in the step's summary."""
    r = await start(store, gated(tmp_path))
    try:
        h = await r.waiting("snapshot")
        await acts.waive(h, "snapshot", "quinn", "CHG-1234 (jane.doe@example.com)", "vendor took it")
        await r.waiting("go")
        logged = repr([(e.type, e.data) for e in await store.events(h.run_id)])
        assert "CHG-1234" in logged
        assert "jane.doe@example.com" not in logged
    finally:
        await cancel(r)


async def test_a_decision_cannot_be_waived(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """Waiving the GO/NO-GO decision is refused, even for a role that may waive."""
    r = await start(store, gated(tmp_path))
    try:
        await confirm_snapshot(r)
        with pytest.raises(exceptions.RuleRefused, match="decision cannot be waived"):
            await acts.waive(await r.waiting("go"), "go", "quinn", "CHG-9", "skip it")
    finally:
        await cancel(r)


async def test_every_act_is_attributed_to_the_person_who_did_it(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """role_assigned, step_confirmed, decision_recorded and the steps they finish carry the person's name."""
    r = await start(store, gated(tmp_path))
    await confirm_snapshot(r)
    await r.until("canary done", lambda s: s.step("canary_check").status == "done")
    await acts.decide(await r.waiting("go"), "go", "alice", "ok")
    assert await r.finished() is RunStatus.PASSED
    evs = await r.events()
    by_type = {(e.type, e.step_id): e.actor for e in evs}
    assert by_type[("step_confirmed", "snapshot")] == "bob"
    assert by_type[("decision_recorded", "go")] == "alice"
    assert {e.actor for e in evs if e.type == "step_finished" and e.step_id in ("snapshot", "go")} == {"bob", "alice"}
    assert all(e.actor for e in evs)


NON_BLOCKING_CANARY = """
golive: 1
name: soft-canary
roles: {ic: {may: [decide]}}
phases:
  - id: canary
    steps:
      - {id: canary_check, kind: check, type: command, blocking: false, with: {run: "exit 1"}}
  - id: gate
    steps:
      - {id: go, kind: decision, role: ic, requires: [canary_check], on_no_go: stop}
"""


async def test_go_is_refused_when_a_required_non_blocking_canary_failed(store: sqlite.SqliteStore) -> None:
    """A canary marked blocking: false fails: its phase goes on (warn), but a decision that requires it still
    refuses GO, saying it failed."""
    r = await start(store, loader.load_text(NON_BLOCKING_CANARY, "soft-canary.yaml", environ={}), roles={"ic": "alice"})
    h = await r.waiting("go")
    assert h.state.phases["canary"] == "warn"
    with pytest.raises(exceptions.RuleRefused, match="step 'canary_check' is FAIL"):
        await acts.decide(h, "go", "alice", "warn is fine")
    await acts.decide(await r.view(), "no-go", "alice", "canary failed")
    assert await r.finished() is RunStatus.NO_GO


@pytest.mark.parametrize(("resumed_after", "fake_wait"), [(200.0, 100.0), (400.0, 0.0)])
async def test_a_decision_deadline_survives_a_crash(
    store: sqlite.SqliteStore, tmp_path: Path, resumed_after: float, fake_wait: float
) -> None:
    """The engine dies while the decision waits (deadline 5m); resumed 200 s later it waits only the 100 s
    left, resumed 400 s later it applies the default at once; the decision is asked for once."""
    r = await start(store, gated(tmp_path))
    await confirm_snapshot(r)
    await r.waiting("go")
    await cancel(r)  # the process died
    [waiting] = [e for e in await r.events("step_waiting") if e.step_id == "go"]
    deadline = datetime.fromisoformat(waiting.data["deadline"].replace("Z", "+00:00"))
    clock = FakeClock(deadline - timedelta(seconds=300) + timedelta(seconds=resumed_after))
    status = await runner.Engine(await r.view(), clock=clock, poll=1.0).run()
    assert status is RunStatus.NO_GO
    assert fake_wait <= clock.monotonic() <= fake_wait + 2.0  # fake seconds waited after the resume
    assert len([e for e in await r.events("step_waiting") if e.step_id == "go"]) == 1
    assert [e.data["default"] for e in await r.events("decision_defaulted")] == ["no-go"]

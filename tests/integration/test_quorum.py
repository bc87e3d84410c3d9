"""Quorum approvals on a real SQLite store with the engine running: GO needs two of three approvers, distinct
people, never the deployer nor the person who performed the change; the IC's NO-GO is a veto; a failed
requirement refuses an approval; the deadline's default wins over a quorum met too late; waivers can need a
quorum too. Acts come through their own handles, as from other terminals."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from golive import exceptions
from golive.engine import acts, runner
from golive.engine.state import RunStatus
from golive.report import formats
from golive.report import html as html_report
from golive.spec import loader
from golive.store import sqlite
from golive.testing import AutoActors, FakeClock, RunningEngine, start_engine
from golive.views import summary

RUNBOOKS = Path(__file__).resolve().parents[1] / "fixtures" / "runbooks"
# dave is the SRE on call and also the deployer: he may not approve the GO.
ROLES = {"ic": "alice", "cab": "carol", "sre": "dave", "deployer": "dave", "dba": "bob", "qa": "quinn"}


def quorum_runbook(tmp_path: Path, **vars_: str) -> loader.LoadedRunbook:
    return loader.load(RUNBOOKS / "quorum.yaml", var_overrides={"dir": str(tmp_path), **vars_}, environ={})


async def at_decision(store: sqlite.SqliteStore, tmp_path: Path, **kw: Any) -> RunningEngine:
    r = await start_engine(store, quorum_runbook(tmp_path, **kw.pop("vars", {})), roles=kw.pop("roles", ROLES))
    await acts.confirm(await r.waiting("snapshot"), "snapshot", "bob", inputs={"snapshot_id": "snap-7"})
    await r.waiting("go")
    await r.until("the canary judged", lambda s: s.step("canary_check").status == "done")
    return r


async def test_two_of_three_quorum_refuses_the_deployer_and_lands_on_the_second_approval(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    """dave (sre, also the deployer) is refused; alice's approval is recorded but is not GO; carol's meets the
    quorum and records GO with both approvers; status and comms show who approved and who was awaited."""
    r = await at_decision(store, tmp_path)
    with pytest.raises(exceptions.RuleRefused, match="dave holds role 'deployer', whose holders may not approve"):
        await acts.decide(await r.view(), "go", "dave", "looks fine")
    said = await acts.decide(await r.view(), "go", "alice", "canary green")
    assert isinstance(said, acts.Approval)
    assert str(said) == "GO approval recorded by alice: 1 of 2 approvals (alice); awaited: carol (cab)"
    h = await r.view()
    assert h.state.step("go").status == "waiting"
    assert h.state.decision is None
    [pending] = summary.summarize(h)["pending"]
    assert pending["wait"]["quorum"]["approved"][0]["by"] == "alice"
    assert pending["wait"]["quorum"]["awaited"] == [{"role": "cab", "holder": "carol"}]
    assert "GO needs 1 of 2 approvals (alice); awaited: carol (cab)" in pending["wait"]["text"]
    with pytest.raises(exceptions.ActConflict, match="alice already approved GO"):
        await acts.decide(await r.view(), "go", "alice", "again")
    statement = await acts.decide(await r.view(), "go", "carol", "change board agrees")
    assert not isinstance(statement, acts.Approval)
    assert statement == "GO for engine-quorum v2.0.0"
    assert await r.finished() is RunStatus.PASSED
    h = await r.view()
    assert h.state.decision is not None
    assert (h.state.decision["by"], h.state.decision["approvers"]) == ("carol", ["alice", "carol"])
    approvals = await r.events("approval_recorded")
    assert [(e.actor, e.data["act"]) for e in approvals] == [("alice", "go"), ("carol", "go")]
    [refused] = [x for x in h.state.refusals if x["by"] == "dave"]
    assert refused["act"] == "decide go"
    texts = {e.data["event"]: e.data["text"] for e in await r.events("comms_sent")}
    assert "GO needs 0 of 2 approvals; awaited: alice (ic), carol (cab)" in texts["decision_pending"]
    assert texts["decision_approved"].endswith("1 of 2 approvals (alice); awaited: carol (cab).")
    assert "approved by alice, carol" in texts["decision_go"]
    report = formats.to_markdown(summary.summarize(h))
    assert "**Decision:** GO by carol" in report
    assert "(quorum: approved by alice, carol)" in report
    assert "<dt>Approved by</dt><dd>alice, carol (quorum)</dd>" in html_report.render(summary.summarize(h))


async def test_the_performer_of_the_change_may_not_approve(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """bob took the snapshot (not_performers_of) and sits on the change board: his approval is refused."""
    r = await at_decision(store, tmp_path, roles={**ROLES, "cab": "bob"})
    with pytest.raises(exceptions.RuleRefused, match="bob performed step 'snapshot' and may not approve"):
        await acts.decide(await r.view(), "go", "bob", "my snapshot is fine")
    await acts.decide(await r.view(), "no-go", "alice", "stop the test")
    assert await r.finished() is RunStatus.NO_GO


async def test_the_ic_veto_lands_at_once_whatever_the_approvals(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """carol approved GO; the IC's NO-GO still lands at once (no quorum for a veto)."""
    r = await at_decision(store, tmp_path)
    await acts.decide(await r.view(), "go", "carol", "fine by the board")
    with pytest.raises(exceptions.RuleRefused, match="carol does not hold role 'ic', the only role that decides"):
        await acts.decide(await r.view(), "no-go", "carol", "changed my mind")
    await acts.decide(await r.view(), "no-go", "alice", "error budget burned")
    assert await r.finished() is RunStatus.NO_GO
    h = await r.view()
    assert h.state.decision is not None
    assert (h.state.decision["decision"], h.state.decision["by"]) == ("no-go", "alice")


async def test_a_failed_requirement_refuses_every_approval(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """The canary failed: an approval is a GO, and GO is refused (Canary FAIL = NO-GO, no exceptions)."""
    r = await at_decision(store, tmp_path, vars={"canary_exit": "1"})
    with pytest.raises(exceptions.RuleRefused, match="GO requires every required step to pass: step 'canary_check'"):
        await acts.decide(await r.view(), "go", "carol", "ship it")
    h = await r.view()
    assert h.state.step("go").approvals == []
    await acts.decide(h, "no-go", "alice", "canary failed")
    assert await r.finished() is RunStatus.NO_GO


async def test_a_quorum_met_after_the_deadline_does_not_count_and_the_default_applies(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    """alice approves in time; carol's approval comes after the 5 minute deadline and is refused; the engine
    that holds the run next records the default NO-GO."""
    r = await at_decision(store, tmp_path)
    await acts.decide(await r.view(), "go", "alice", "canary green")
    r.task.cancel()
    with pytest.raises(BaseException):  # noqa: B017, PT011 - the cancelled engine task
        await r.task
    [waiting] = [e for e in await r.events("step_waiting") if e.step_id == "go"]
    deadline = datetime.fromisoformat(waiting.data["deadline"].replace("Z", "+00:00"))
    late = FakeClock(deadline + timedelta(seconds=30))
    store.clock = late
    with pytest.raises(exceptions.RuleRefused, match="the deadline of decision 'go' passed"):
        await acts.decide(await r.view(), "go", "carol", "sorry, late")
    status = await runner.Engine(await r.view(), clock=late, poll=1.0).run()
    assert status is RunStatus.NO_GO
    h = await r.view()
    assert h.state.decision is not None
    assert (h.state.decision["by"], h.state.decision["default"]) == ("deadline", True)
    assert [e.actor for e in await r.events("approval_recorded")] == ["alice"]


async def test_a_waiver_with_a_quorum_needs_two_distinct_people(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """Waiving flip needs qa and cab (never the deployer): quinn's waive is an approval, dave's is refused,
    carol's records the waiver with both approvers."""
    h = await runner.create_run(store, quorum_runbook(tmp_path), roles={**ROLES, "cab": "carol"})
    said = await acts.waive(h, "flip", "quinn", "CHG-9", "flag already on")
    assert str(said) == "waiver approval of flip recorded by quinn: 1 of 2 approvals (quinn); awaited: carol (cab)"
    h = await acts.open_run(store, h.run_id)
    assert h.state.step("flip").waiver is None
    with pytest.raises(exceptions.RuleRefused, match="dave holds role 'deployer', whose holders may not approve"):
        await acts.waive(h, "flip", "dave", "CHG-9", "me")
    with pytest.raises(exceptions.ActConflict, match="quinn already approved the waiver"):
        await acts.waive(await acts.open_run(store, h.run_id), "flip", "quinn", "CHG-9", "again")
    assert await acts.waive(await acts.open_run(store, h.run_id), "flip", "carol", "CHG-9", "agreed") is None
    h = await acts.open_run(store, h.run_id)
    waiver = h.state.step("flip").waiver
    assert waiver is not None
    assert (waiver["by"], waiver["approvers"]) == ("carol", ["quinn", "carol"])
    lines = [t["what"] for t in summary.timeline(h) if t.get("kind") == "approval"]
    assert lines == [
        "Approval of waiver (CHG-9) on flip: flag already on",
        "Approval of waiver (CHG-9) on flip: agreed",
    ]


async def test_an_approver_who_becomes_the_deployer_no_longer_counts(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """alice approves, then takes the deployer role: her approval is discounted (shown with why), so carol's
    approval makes 1 of 2, not GO."""
    r = await at_decision(store, tmp_path)
    await acts.decide(await r.view(), "go", "alice", "canary green")
    await acts.assign(await r.view(), "alice", "deployer", "alice")
    said = await acts.decide(await r.view(), "go", "carol", "board agrees")
    assert isinstance(said, acts.Approval)
    quorum = summary.summarize(await r.view())["pending"][0]["wait"]["quorum"]
    assert [a["by"] for a in quorum["approved"]] == ["carol"]
    assert quorum["discounted"][0]["by"] == "alice"
    assert "holds role 'deployer'" in quorum["discounted"][0]["why"]
    await acts.decide(await r.view(), "no-go", "alice", "stop here")
    assert await r.finished() is RunStatus.NO_GO


async def _golive(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "golive", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


async def test_the_cli_says_an_approval_is_not_yet_the_decision(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """golive decide prints the approval with who is awaited (exit 0), not 'GO recorded'; golive status shows
    the quorum. (Two CLI processes: about 3 s on a busy box.)"""
    r = await at_decision(store, tmp_path)
    db = str(tmp_path / "db" / "golive.db")
    code, out = await _golive("decide", r.run_id, "go", "--as", "alice", "--reason", "canary green", "--db", db)
    assert (code, out.strip()) == (0, "GO approval recorded by alice: 1 of 2 approvals (alice); awaited: carol (cab)")
    code, out = await _golive("status", r.run_id, "--db", db)
    assert code == 0
    text = " ".join(out.split())  # the view wraps long lines
    assert "GO needs 1 of 2 approvals (alice); awaited: carol (cab); ic (alice) may say NO-GO at once" in text
    await acts.decide(await r.view(), "no-go", "alice", "done testing")
    assert await r.finished() is RunStatus.NO_GO


SCRIPTED = """\
golive: 1
name: scripted
roles:
  ic: {may: [decide]}
  cab: {}
  sre: {}
  deployer: {}
comms: {cadence: []}
phases:
  - id: go-phase
    steps:
      - id: go
        kind: decision
        role: ic
        quorum: {approvals: 2, of: [ic, sre, cab], not: [deployer]}
        on_no_go: stop
"""


async def test_scripted_people_meet_a_quorum_with_distinct_approvers(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """A rehearsal script's GO on a quorum decision is approved by the IC and then by the next awaited
    approver (never the deployer), so the rehearsal reaches GO. (No deadline: the fake clock would run ahead
    of the people while they read the store.)"""
    book = tmp_path / "scripted.yaml"
    book.write_text(SCRIPTED)
    clock = FakeClock(datetime.now(UTC))
    roles = {role: ROLES[role] for role in ("ic", "cab", "sre", "deployer")}
    r = await start_engine(store, loader.load(book, environ={}), roles=roles, clock=clock, poll=1.0)
    people = AutoActors(store, r.run_id, clock=clock, every=5.0)
    task = asyncio.create_task(people.run())
    try:
        assert await r.finished() is RunStatus.PASSED, people.refused
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    h = await r.view()
    assert h.state.decision is not None
    assert h.state.decision["approvers"] == ["alice", "carol"]  # sre's dave is the deployer

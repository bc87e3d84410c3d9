"""Evidence checklist, sign-off and completion of a real run, through the engine and the CLI.

The run (real engine, real SQLite) passes its cutover: a check, a manual backup step that declares
evidence, and a GO. After that, the views show the areas still to sign as 'pending'; the run is COMPLETE
only when every area has signed (each by the holder of its role) and the hypercare report is written.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from golive.engine import acts, runner
from golive.engine.state import RunStatus
from golive.spec import loader
from golive.store import sqlite
from golive.views import summary

GOLIVE = str(Path(sys.executable).with_name("golive"))
LIMIT = 60.0  # seconds one CLI call may take before the test fails
WAIT_STEPS = 600  # polls of 0.05 s: 30 s at most for the run to reach a state
ROLES = {"ic": "alice", "eng": "erin", "qa": "quinn", "ops": "olga"}
AREAS = {"engineering": "erin", "qa": "quinn", "operations": "olga"}
RUNBOOK = """\
golive: 1
name: signoff-test
title: Sign-off test
roles:
  ic: {title: Incident commander, may: [decide]}
  eng: {title: Engineering lead}
  qa: {title: QA lead}
  ops: {title: Operations}
phases:
  - id: preflight
    steps:
      - {id: prod_green, kind: check, type: command, with: {run: "echo 'overall_status PASS'"}}
      - id: backup
        kind: manual
        role: ops
        instructions: Take the backup and attach its log.
        evidence: [{name: Backup log}]
  - id: decide
    steps:
      - {id: go, kind: decision, role: ic, requires: [preflight]}
hypercare:
  tiers: [{from: 0h, until: 1h, every: 30m}]
  checks: [{id: hc_ok, kind: check, type: command, with: {run: "exit 0"}}]
  reports: [{id: control-0, title: First control report, at: 0m}]
signoff:
  areas:
    - {id: engineering, title: Engineering, role: eng}
    - {id: qa, title: QA, role: qa}
    - {id: operations, title: Operations, role: ops}
evidence:
  - {id: preflight_green, title: "Preflight JSON/MD showing prod green", steps: [prod_green]}
  - {id: backup_proof, title: Backup proof, steps: [backup]}
completion:
  - {id: go_done, title: GO recorded, steps: [go]}
  - {id: signed, title: Every area signed, signoffs: [engineering, qa, operations]}
  - {id: hypercare, title: First control report written, reports: [control-0]}
  - {id: evidence, title: Evidence complete, evidence_complete: true}
"""


@dataclass
class Run:
    db: Path
    run_id: str
    work: Path
    before_confirm: list[dict[str, Any]] = field(default_factory=list)  # the checklist while backup waits

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "GOLIVE_DEBUG"}
        env.update(GOLIVE_DATABASE_URL=str(self.db), NO_COLOR="1", COLUMNS="200")
        return subprocess.run(
            [GOLIVE, *args], env=env, cwd=self.work, capture_output=True, text=True, timeout=LIMIT, check=False
        )

    def status(self) -> dict[str, Any]:
        done = self.cli("status", self.run_id, "--json")
        assert done.returncode == 0, done.stderr
        data: dict[str, Any] = json.loads(done.stdout)
        return data


async def _wait(handle: acts.RunHandle, engine: asyncio.Future[Any], ready: Any) -> None:
    for _ in range(WAIT_STEPS):
        await handle.refresh()
        if ready(handle) or engine.done():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the run did not reach the expected state in time")


async def drive(work: Path, *, with_evidence: bool) -> Run:
    db = work / "store" / "golive.db"
    (work / "backup.log").write_text("backup bk-1 done\n")
    store = sqlite.SqliteStore(db)
    await store.open()
    try:
        loaded = loader.load_text(RUNBOOK, str(work / "runbook.yaml"), environ={})
        handle = await runner.create_run(store, loaded, roles=ROLES, run_id="so1")
        engine = asyncio.ensure_future(runner.Engine(handle, poll=0.05).run())
        await _wait(
            handle,
            engine,
            lambda h: h.state.step("backup").status == "waiting" and h.state.step("prod_green").status == "done",
        )
        before = summary.checklist(await acts.open_run(store, handle.run_id))
        evidence = [work / "backup.log"] if with_evidence else []
        await acts.confirm(await acts.open_run(store, handle.run_id), "backup", "olga", evidence=evidence)
        await _wait(handle, engine, lambda h: h.state.step("go").status == "waiting")
        await acts.decide(await acts.open_run(store, handle.run_id), "go", "alice", "green")
        assert await asyncio.wait_for(engine, timeout=30) is RunStatus.PASSED
        return Run(db, handle.run_id, work, before)
    finally:
        await store.close()


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return asyncio.run(drive(tmp_path, with_evidence=True))


def items(checklist: list[dict[str, Any]]) -> dict[str, str]:
    return {i["id"]: i["status"] for i in checklist}


def test_a_checklist_item_is_missing_until_its_steps_evidence_exists(run: Run) -> None:
    """While the backup step waits its item is missing (naming the step); once confirmed with a file, complete."""
    assert items(run.before_confirm) == {"preflight_green": "complete", "backup_proof": "missing"}
    assert next(i for i in run.before_confirm if i["id"] == "backup_proof")["missing_steps"] == ["backup"]
    assert items(run.status()["evidence_checklist"]) == {"preflight_green": "complete", "backup_proof": "complete"}


def test_a_step_that_declares_evidence_confirmed_without_a_file_leaves_its_item_missing(tmp_path: Path) -> None:
    """Confirming the backup without --evidence passes the step but not the checklist item; status and the
    Markdown report say which item is missing."""
    run = asyncio.run(drive(tmp_path, with_evidence=False))
    data = run.status()
    assert items(data["evidence_checklist"])["backup_proof"] == "missing"
    why = {c["id"]: c["why"] for c in data["completion"]["criteria"]}
    assert why["evidence"] == ["evidence checklist incomplete"]
    text = run.cli("status", run.run_id)
    assert "evidence missing: Backup proof" in text.stdout
    md = run.cli("report", run.run_id, "--format", "md").stdout
    assert "- [ ] Backup proof (missing)" in md
    assert "- [x] Preflight JSON/MD showing prod green (complete)" in md


def test_status_text_and_json_show_every_unsigned_area_pending(run: Run) -> None:
    """Before any sign-off: `status` prints the pending areas; `status --json` marks each 'pending' and the run
    PASSED, not COMPLETE, with the reasons."""
    data = run.status()
    assert {a: v["status"] for a, v in data["signoffs"].items()} == dict.fromkeys(AREAS, "pending")
    assert data["status_label"] == "PASSED"
    assert data["completion"]["complete"] is False
    why = {c["id"]: c["why"] for c in data["completion"]["criteria"]}
    assert why["signed"] == [f"sign-off {a} pending" for a in AREAS]
    assert why["hypercare"] == ["report control-0 not written"]
    text = run.cli("status", run.run_id)
    assert text.returncode == 0, text.stderr
    assert "sign-off pending: engineering, qa, operations" in text.stdout


def test_markdown_and_html_reports_show_pending_areas(run: Run) -> None:
    """`golive report` in md says '- Engineering: pending' per unsigned area; the HTML marks them pending."""
    md = run.cli("report", run.run_id, "--format", "md")
    assert md.returncode == 0, md.stderr
    for title in ("Engineering", "QA", "Operations"):
        assert f"- {title}: pending" in md.stdout
    html = run.cli("report", run.run_id, "--format", "html")
    assert html.returncode == 0, html.stderr
    assert "3 pending" in html.stdout
    assert html.stdout.count('class="state s-pending">pending') == 3
    assert run.cli("signoff", run.run_id, "--as", "erin", "--area", "engineering", "--statement", "ok").returncode == 0
    md = run.cli("report", run.run_id, "--format", "md").stdout
    assert "- Engineering: erin at " in md
    assert "- QA: pending" in md


def test_a_signoff_by_someone_without_the_areas_role_is_refused_with_exit_1(run: Run) -> None:
    """quinn (qa) signing engineering: exit 1, the reason on stderr, an act_refused recorded, still pending."""
    done = run.cli("signoff", run.run_id, "--as", "quinn", "--area", "engineering", "--statement", "looks fine")
    assert done.returncode == 1
    assert "does not hold role 'eng'" in done.stderr
    assert "Traceback" not in done.stderr
    data = run.status()
    assert data["signoffs"]["engineering"]["status"] == "pending"
    assert data["refusals"][-1]["act"] == "signoff"
    assert data["refusals"][-1]["by"] == "quinn"


def test_an_area_signed_twice_and_an_unknown_area_are_refused(run: Run) -> None:
    """A second sign-off of an area exits 1 naming who signed; an unknown area exits 2 listing the areas."""
    assert run.cli("signoff", run.run_id, "--as", "olga", "--area", "operations", "--statement", "ok").returncode == 0
    again = run.cli("signoff", run.run_id, "--as", "olga", "--area", "operations", "--statement", "again")
    assert again.returncode == 1
    assert "already signed by olga" in again.stderr
    unknown = run.cli("signoff", run.run_id, "--as", "olga", "--area", "security", "--statement", "x")
    assert unknown.returncode == 2
    assert "engineering, qa, operations" in unknown.stderr


def test_the_run_is_complete_only_after_every_signoff_and_the_hypercare_report(run: Run) -> None:
    """Signing every area is not enough while the hypercare report is unwritten; after `hypercare --tick`
    writes it, status --json says COMPLETE with every criterion met, and status text shows COMPLETE."""
    for area, person in AREAS.items():
        done = run.cli("signoff", run.run_id, "--as", person, "--area", area, "--statement", f"{area} verified")
        assert done.returncode == 0, done.stderr
        assert f"{area}: signed off by {person}" in done.stdout
    data = run.status()
    assert all(v.get("by") == AREAS[a] for a, v in data["signoffs"].items())
    assert data["status_label"] == "PASSED"
    assert [c["id"] for c in data["completion"]["criteria"] if not c["met"]] == ["hypercare"]
    tick = run.cli("hypercare", run.run_id, "--tick", "--out", str(run.work / "reports"))
    assert tick.returncode == 0, tick.stdout + tick.stderr
    assert (run.work / "reports" / "control-0.md").is_file()
    data = run.status()
    assert data["completion"]["complete"] is True
    assert all(c["met"] for c in data["completion"]["criteria"])
    assert data["status_label"] == "COMPLETE"
    assert "COMPLETE" in run.cli("status", run.run_id).stdout
    assert "sign-off pending" not in run.cli("status", run.run_id).stdout

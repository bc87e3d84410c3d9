"""Sign-off fields filled in and rendered, manual hypercare checks confirmed, and a NO-GO decision as the
approval record: real SQLite, the real engine, and the installed CLI in a subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from golive.engine import acts, runner
from golive.engine.state import RunStatus
from golive.spec import loader
from golive.store import sqlite
from golive.testing import start_engine
from golive.views import summary

GOLIVE = str(Path(sys.executable).with_name("golive"))
LIMIT = 60.0  # seconds one CLI call may take
SUPPLY_CHAIN = Path(__file__).resolve().parents[2] / "examples" / "supply-chain-prod-cutover.yaml"
SUPPLY_ROLES = {"engineering": "erin", "qa": "quinn", "operations": "olga"}


def cli(db: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GOLIVE_DEBUG"}
    env.update(GOLIVE_DATABASE_URL=str(db), NO_COLOR="1", COLUMNS="200")
    return subprocess.run([GOLIVE, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=LIMIT, check=False)


async def _create(db: Path, loaded: loader.LoadedRunbook, roles: dict[str, str], run_id: str) -> None:
    store = sqlite.SqliteStore(db)
    await store.open()
    try:
        await runner.create_run(store, loaded, roles=roles, run_id=run_id)
    finally:
        await store.close()


@pytest.fixture
def supply_run(tmp_path: Path) -> tuple[Path, str]:
    db = tmp_path / "store" / "golive.db"
    asyncio.run(_create(db, loader.load(SUPPLY_CHAIN), SUPPLY_ROLES, "sc1"))
    return db, "sc1"


def test_the_supply_chain_signoff_fields_are_filled_and_rendered(tmp_path: Path, supply_run: tuple[Path, str]) -> None:
    """All 33 fields of the supply-chain sheet are listed; the ones people fill in (`--field`) are checked
    against their types, stored, and shown by `status` (text and JSON), the Markdown and HTML reports and the
    evidence pack."""
    db, run_id = supply_run
    done = cli(
        db,
        tmp_path,
        "signoff",
        run_id,
        "--as",
        "quinn",
        "--field",
        "recall_timestamp=2026-02-28T10:08:33+00:00",
        "--field",
        "approvers=Erin (Engineering), Quinn (QA), Olga (Operations)",
        "--field",
        "audit_download_check=200",
    )
    assert done.returncode == 0, done.stderr
    assert "recall_timestamp: 2026-02-28T10:08:33Z (filled in by quinn)" in done.stdout

    status = json.loads(cli(db, tmp_path, "status", run_id, "--json").stdout)
    fields = {f["id"]: f for f in status["signoff_fields"]}
    assert len(fields) == 33
    assert fields["recall_timestamp"]["value"] == "2026-02-28T10:08:33Z"
    assert fields["approvers"] == fields["approvers"] | {"source": "person", "by": "quinn"}
    assert fields["audit_download_check"]["value"] == "200"
    assert fields["recall_endpoint"] == fields["recall_endpoint"] | {
        "value": "POST /api/v1/recall/simulate",
        "source": "run",
    }
    assert fields["revalidation_timestamp"]["value"] is None

    text = cli(db, tmp_path, "status", run_id).stdout
    filled = sum(1 for f in fields.values() if f["value"] is not None)
    assert filled == 7  # three entered, four from the run (the drill endpoints and the batch)
    assert f"sign-off fields: {filled} of 33 filled" in text
    assert "Approver names (Engineering, QA, Operations): Erin (Engineering), Quinn (QA), Olga (Operations)" in text

    md = cli(db, tmp_path, "report", run_id, "--format", "md", "--out", str(tmp_path / "r.md"))
    assert md.returncode == 0, md.stderr
    report = (tmp_path / "r.md").read_text()
    assert "| Recall drill: timestamp (UTC) | 2026-02-28T10:08:33Z | quinn |" in report
    html = cli(db, tmp_path, "report", run_id, "--format", "html", "--out", str(tmp_path / "r.html"))
    assert html.returncode == 0, html.stderr
    assert "Olga (Operations)" in (tmp_path / "r.html").read_text()

    packed = cli(db, tmp_path, "evidence", "pack", run_id, "--out", str(tmp_path / "pack"))
    assert packed.returncode == 0, packed.stderr
    assert (
        "| Recall drill: timestamp (UTC) | 2026-02-28T10:08:33Z | quinn |"
        in (tmp_path / "pack" / "report.md").read_text()
    )


def test_a_signoff_field_of_the_wrong_type_or_unknown_is_refused(tmp_path: Path, supply_run: tuple[Path, str]) -> None:
    """A datetime that is not one, an unknown field and a person without a signing role are refused, and
    nothing is stored."""
    db, run_id = supply_run
    bad = cli(db, tmp_path, "signoff", run_id, "--as", "quinn", "--field", "recall_timestamp=yesterday")
    assert bad.returncode == 2
    assert "--field recall_timestamp='yesterday': 'Recall drill: timestamp (UTC)' is a datetime" in bad.stderr
    unknown = cli(db, tmp_path, "signoff", run_id, "--as", "quinn", "--field", "aprovers=x")
    assert unknown.returncode == 2
    assert "(did you mean 'approvers'?)" in unknown.stderr
    stranger = cli(db, tmp_path, "signoff", run_id, "--as", "mallory", "--field", "approvers=x")
    assert stranger.returncode == 1
    status = json.loads(cli(db, tmp_path, "status", run_id, "--json").stdout)
    assert all(f["source"] != "person" for f in status["signoff_fields"])


HYPERCARE_RUNBOOK = """\
golive: 1
name: manual-hypercare
roles:
  ic: {may: [decide]}
  payments-owner: {title: Payments owner}
phases:
  - id: decision
    steps:
      - {id: go, kind: decision, role: ic}
hypercare:
  tiers: [{from: 0s, until: 6h, every: 30m}]
  checks:
    - id: random-ledger-recon
      title: Random ledger recon
      kind: manual
      role: payments-owner
      inputs: [{id: ledger_refs, title: Ledger entries reconciled}]
"""


async def _passed_run(db: Path, text: str, decision: str) -> str:
    store = sqlite.SqliteStore(db)
    await store.open()
    try:
        loaded = loader.load_text(text, str(db.parent / "runbook.yaml"), environ={})
        roles = {r: p for r, p in {"ic": "alice", "payments-owner": "pat"}.items() if r in loaded.runbook.roles}
        run = await start_engine(store, loaded, roles=roles)
        await run.waiting("go")
        await acts.decide(await run.view(), decision, "alice", "canary green" if decision == "go" else "canary red")
        await run.finished()
        return run.run_id
    finally:
        await store.close()


def test_a_manual_hypercare_check_is_confirmed(tmp_path: Path) -> None:
    """After GO, `golive confirm` records the payments owner's ledger recon as a hypercare result with its
    inputs, each time it is done; it shows in status and the scribe's timeline."""
    db = tmp_path / "store" / "golive.db"
    run_id = asyncio.run(_passed_run(db, HYPERCARE_RUNBOOK, "go"))
    for refs in ("L-1001", "L-1002"):
        done = cli(
            db, tmp_path, "confirm", run_id, "random-ledger-recon", "--as", "pat", "--input", f"ledger_refs={refs}"
        )
        assert done.returncode == 0, done.stderr
    wrong = cli(db, tmp_path, "confirm", run_id, "random-ledger-recon", "--as", "alice", "--input", "ledger_refs=L-9")
    assert wrong.returncode == 1
    status = json.loads(cli(db, tmp_path, "status", run_id, "--json").stdout)
    manual = [c for c in status["hypercare"] if c.get("check_id") == "random-ledger-recon"]
    assert [(c["outcome"], c["inputs"], c["by"]) for c in manual] == [
        ("pass", {"ledger_refs": "L-1001"}, "pat"),
        ("pass", {"ledger_refs": "L-1002"}, "pat"),
    ]
    timeline = json.loads(cli(db, tmp_path, "timeline", run_id, "--json").stdout)
    assert any(
        t["what"] == "Hypercare Random ledger recon: ledger_refs=L-1002" and t["result"] == "PASS" for t in timeline
    )


NO_GO_RUNBOOK = """\
golive: 1
name: no-go-approval
roles:
  ic: {may: [decide]}
phases:
  - id: canary
    steps:
      - {id: canary-check, kind: check, type: command, with: {run: ["true"]}}
  - id: decision
    steps:
      - {id: go, kind: decision, role: ic, requires: [canary], on_no_go: stop}
evidence:
  - {id: approval, title: Approval record, steps: [go]}
"""


def test_a_no_go_runs_checklist_shows_the_approval_record_present(tmp_path: Path) -> None:
    """The IC's NO-GO is the approval record: the checklist item is complete, not MISSING."""
    db = tmp_path / "store" / "golive.db"
    run_id = asyncio.run(_passed_run(db, NO_GO_RUNBOOK, "no-go"))

    async def checklist() -> tuple[RunStatus, list[dict[str, Any]]]:
        store = sqlite.SqliteStore(db)
        await store.open()
        try:
            h = await acts.open_run(store, run_id)
            return h.state.status, summary.checklist(h)
        finally:
            await store.close()

    status, items = asyncio.run(checklist())
    assert status is RunStatus.NO_GO
    assert [(i["title"], i["status"]) for i in items] == [("Approval record", "complete")]


FIELDS_RUNBOOK = """\
golive: 1
name: fields
roles:
  qa: {may: [signoff]}
  ops: {}
phases:
  - id: p
    steps:
      - {id: ok, kind: check, type: command, with: {run: ["true"]}}
signoff:
  areas: [{id: qa, title: QA, role: qa}]
  fields:
    - {id: recall_timestamp, title: "Recall drill: timestamp (UTC)", type: datetime}
    - {id: approvers, title: Approver names}
"""


def test_the_dashboard_shows_the_fields_and_its_form_fills_them(tmp_path: Path) -> None:
    """The run's dashboard panel lists each field (BLANK until filled) with an input for a signer and none for
    anyone else; the form's request (POST .../signoff with fields) fills them, a bad type is a 400 naming it."""
    import httpx

    from golive.server import config as config_mod
    from golive.server.testing import LiveServer

    db = tmp_path / "g.db"
    asyncio.run(
        _create(db, loader.load_text(FIELDS_RUNBOOK, str(tmp_path / "rb.yaml"), environ={}), {"qa": "quinn"}, "f1")
    )
    tokens = {"tok-quinn-0123456789abcdef": ("quinn", ["qa"]), "tok-olga-0123456789abcdefg": ("olga", ["ops"])}
    grants = {
        config_mod.hash_token(t): config_mod.TokenGrant(user_id=u, roles=tuple(r)) for t, (u, r) in tokens.items()
    }
    cfg = config_mod.ServerConfig(token_hashes=grants, token_cache_ttl=0)
    quinn = {"Authorization": "Bearer tok-quinn-0123456789abcdef"}
    olga = {"Authorization": "Bearer tok-olga-0123456789abcdefg"}
    with LiveServer(str(db), cfg) as srv, httpx.Client(base_url=srv.url, timeout=10) as http:
        page = http.get("/ui/runs/f1", headers=quinn)
        assert page.status_code == 200, page.text
        assert 'name="fields.recall_timestamp"' in page.text
        assert "BLANK" in page.text
        assert 'name="fields.recall_timestamp"' not in http.get("/ui/runs/f1", headers=olga).text
        bad = http.post("/api/v1/runs/f1/signoff", json={"fields": {"recall_timestamp": "soon"}}, headers=quinn)
        assert bad.status_code == 400
        assert "is a datetime" in bad.text
        ok = http.post(
            "/api/v1/runs/f1/signoff",
            json={"fields": {"recall_timestamp": "2026-02-28T10:08:33Z", "approvers": "Quinn"}},
            headers=quinn,
        )
        assert ok.status_code == 200, ok.text
        filled = http.get("/ui/runs/f1", headers=quinn).text
        assert "2026-02-28T10:08:33Z" in filled
        assert "by quinn" in filled

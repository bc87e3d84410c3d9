"""One description of every waiting state, the same in `golive status --json`, the API and the dashboard:
a pause is a GO / NO-GO for the roles that decide (not an "unknown outcome" for the observer), an action
left unknown is a resolve, a manual step is a confirm."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from golive.engine import runner
from golive.server import config as config_mod
from golive.server.testing import LiveServer
from golive.spec import loader
from golive.store import sqlite

GOLIVE = str(Path(sys.executable).with_name("golive"))
RUNBOOK = """\
golive: 1
name: waits
roles:
  ic: {may: [decide]}
  observer: {}
  ops: {}
phases:
  - id: cutover
    steps:
      - {id: check-in, kind: manual, role: ops}
      - {id: migrate, kind: action, type: command, role: ops, with: {run: ["true"]}}
      - {id: watch, kind: observe, role: observer, duration: 10m}
triggers:
  - {id: latency, source: {type: command, with: {run: [echo, "9"]}}, when: value > 1, then: pause, deadline: 5m, default: rollback}
"""
ROLES = {"ic": "alice", "observer": "oscar", "ops": "olga"}
TOKENS = {"tok-alice-0123456789abcdef": ("alice", ["ic"]), "tok-oscar-0123456789abcdef": ("oscar", ["observer"])}


async def _waiting_run(db: Path, book: Path) -> str:
    store = sqlite.SqliteStore(db)
    await store.open()
    try:
        h = await runner.create_run(store, loader.load(book, environ={}), roles=ROLES, run_id="w1")
        await h.append("phase_started", step_id="cutover", title="cutover")
        await h.append("step_waiting", step_id="check-in", what="manual", role="ops", holder="olga")
        await h.append("action_started", step_id="migrate", attempt=1, describe="true")
        await h.append("action_unknown", step_id="migrate", idempotent=False, retry=False)
        await h.append("step_started", step_id="watch", attempt=1, duration_planned=600)
        await h.append(
            "step_waiting",
            step_id="watch",
            what="pause",
            trigger="latency",
            reason="value 9 > 1",
            deadline="2026-12-04T10:05:00.000000Z",
            default="rollback",
            remaining=540,
        )
        return h.run_id
    finally:
        await store.close()


def _waits(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["id"]: p["wait"] for p in summary["pending"]}


def test_the_cli_the_api_and_the_dashboard_describe_each_waiting_state_alike(tmp_path: Path) -> None:
    book = tmp_path / "rb.yaml"
    book.write_text(RUNBOOK)
    db = tmp_path / "g.db"
    run_id = asyncio.run(_waiting_run(db, book))
    env = {k: v for k, v in os.environ.items() if k != "GOLIVE_DEBUG"} | {"GOLIVE_DATABASE_URL": str(db)}
    done = subprocess.run([GOLIVE, "status", run_id, "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    cli = _waits(json.loads(done.stdout))
    assert {k: (w["kind"], w["roles"], w["acts"]) for k, w in cli.items()} == {
        "check-in": ("manual", ["ops"], ["confirm", "fail"]),
        "migrate": ("resolve", ["ic", "ops"], ["done", "not-done"]),
        "watch": ("pause", ["ic"], ["go", "no-go"]),
    }
    assert cli["watch"]["text"].startswith("watch is paused by a trigger: ic (alice) decides GO")

    grants = {
        config_mod.hash_token(t): config_mod.TokenGrant(user_id=u, roles=tuple(r)) for t, (u, r) in TOKENS.items()
    }
    cfg = config_mod.ServerConfig(token_hashes=grants, token_cache_ttl=0)
    alice = {"Authorization": "Bearer tok-alice-0123456789abcdef"}
    oscar = {"Authorization": "Bearer tok-oscar-0123456789abcdef"}
    with LiveServer(str(db), cfg) as srv, httpx.Client(base_url=srv.url, timeout=10) as http:
        api = http.get(f"/api/v1/runs/{run_id}", headers=alice)
        assert api.status_code == 200, api.text
        assert _waits(api.json()) == cli
        ic_page = http.get(f"/ui/runs/{run_id}", headers=alice).text
        observer_page = http.get(f"/ui/runs/{run_id}", headers=oscar).text
    # The pause is in the decision panel with its description; the IC gets GO / NO-GO, the observer nothing.
    assert 'id="decision-watch"' in ic_page
    assert cli["watch"]["text"] in ic_page
    assert 'data-testid="go"' in ic_page
    assert 'data-testid="no-go"' in ic_page
    assert 'id="decision-watch"' in observer_page
    assert 'data-testid="go"' not in observer_page
    assert "No decision pending" not in ic_page


DECISION_RUNBOOK = """\
golive: 1
name: gate
roles: {ic: {may: [decide]}}
phases:
  - id: smoke
    steps: [{id: smoke-check, kind: check, type: command, with: {run: ["true"]}}]
  - id: canary
    steps: [{id: canary-check, kind: check, type: command, with: {run: ["true"]}}]
  - id: decision
    steps: [{id: go, kind: decision, role: ic, requires: [smoke, canary]}]
"""


async def _rehearsal_at_the_decision(db: Path, book: Path) -> str:
    store = sqlite.SqliteStore(db)
    await store.open()
    try:
        h = await runner.create_run(store, loader.load(book, environ={}), roles={"ic": "alice"}, mode="rehearsal")
        for phase, outcome in (("smoke", "pass"), ("canary", "fail")):
            await h.append("phase_started", step_id=phase, title=phase)
            await h.append("phase_finished", step_id=phase, outcome=outcome)
        await h.append("step_waiting", step_id="go", what="decision", role="ic", holder="alice")
        return h.run_id
    finally:
        await store.close()


def test_the_dashboard_shows_a_rehearsal_banner_and_each_requirement_green_or_not(tmp_path: Path) -> None:
    """A rehearsal says so at the top; the pending decision marks each requirement green (smoke) or red
    (canary) right now."""
    book = tmp_path / "rb.yaml"
    book.write_text(DECISION_RUNBOOK)
    db = tmp_path / "g.db"
    run_id = asyncio.run(_rehearsal_at_the_decision(db, book))
    grants = {
        config_mod.hash_token(t): config_mod.TokenGrant(user_id=u, roles=tuple(r)) for t, (u, r) in TOKENS.items()
    }
    cfg = config_mod.ServerConfig(token_hashes=grants, token_cache_ttl=0)
    with LiveServer(str(db), cfg) as srv, httpx.Client(base_url=srv.url, timeout=10) as http:
        page = http.get(f"/ui/runs/{run_id}", headers={"Authorization": "Bearer tok-alice-0123456789abcdef"}).text
    assert 'data-testid="mode-banner">REHEARSAL: not the real cutover' in page
    assert 'class="req-green" data-testid="requirement-smoke"' in page
    assert 'class="req-red" data-testid="requirement-canary"' in page


def test_a_pause_answered_go_does_not_make_the_header_read_go(tmp_path: Path) -> None:
    """The IC's GO to a pause lets the window go on; the run's verdict stays what it was (no `WAITING GO`)."""
    from golive.engine import acts
    from golive.views import summary

    book = tmp_path / "rb.yaml"
    book.write_text(RUNBOOK)

    async def go() -> str:
        store = sqlite.SqliteStore(tmp_path / "g.db")
        await store.open()
        try:
            await _waiting_run(tmp_path / "g.db", book)
            h = await acts.open_run(store, "w1")
            await h.append("decision_recorded", step_id="watch", actor="alice", decision="go", reason="ok", pause=True)
            return summary.verdict(await acts.open_run(store, "w1"))
        finally:
            await store.close()

    assert asyncio.run(go()) != "GO"

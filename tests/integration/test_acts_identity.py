"""Every act records who made it and how they authenticated (``auth``, ``auth_subject`` on its events)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from golive import identity
from golive.engine import acts, runner
from golive.server import config as config_mod
from golive.server.testing import LiveServer
from golive.spec import loader
from golive.store import sqlite

RUNBOOK = """golive: 1
name: ident
roles:
  ic: {may: [decide, assign]}
phases:
  - id: p
    steps:
      - {id: gate, kind: decision, role: ic}
"""


async def test_a_local_act_is_recorded_as_local_and_the_engine_is_not_stamped(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    rb = tmp_path / "rb.yaml"
    rb.write_text(RUNBOOK, encoding="utf-8")
    h = await runner.create_run(store, loader.load(rb, environ={}), roles={"ic": "alice"})
    with identity.acting(identity.local("alice")):
        await acts.assign(h, "alice", "ic", "bob")
    events = await store.events(h.run_id)
    decided = [e for e in events if e.type == "role_assigned" and e.actor == "alice"]
    assert decided, [e.type for e in events]
    assert decided[-1].data["auth"] == "local"
    assert decided[-1].data["auth_subject"]
    assert all("auth" not in e.data for e in events if e.actor != "alice")


def test_an_act_through_the_api_records_the_token_user_and_method(tmp_path: Path) -> None:
    d = tmp_path / "runbooks"
    d.mkdir()
    (d / "rb.yaml").write_text(RUNBOOK, encoding="utf-8")
    grants = {
        config_mod.hash_token("tok-admin-0123456789abcdef"): config_mod.TokenGrant(user_id="admin", roles=("admin",)),
        config_mod.hash_token("tok-alice-0123456789abcdef"): config_mod.TokenGrant(user_id="alice", roles=("ic",)),
    }
    cfg = config_mod.ServerConfig(token_hashes=grants, runbook_dir=d, token_cache_ttl=0)
    with LiveServer(str(tmp_path / "g.db"), cfg) as srv, httpx.Client(base_url=srv.url, timeout=10) as http:
        admin = {"Authorization": "Bearer tok-admin-0123456789abcdef"}
        alice = {"Authorization": "Bearer tok-alice-0123456789abcdef"}
        r = http.post("/api/v1/runs", json={"runbook": "rb.yaml", "roles": {"ic": "alice"}}, headers=admin)
        assert r.status_code == 201, r.text
        rid = r.json()["run_id"]
        for _ in range(500):  # bounded: the engine reaches the decision within a few polls
            if '"waiting_for":"decision"' in http.get(f"/api/v1/runs/{rid}", headers=admin).text:
                break
            time.sleep(0.02)
        d2 = http.post(f"/api/v1/runs/{rid}/decide", json={"decision": "no-go", "reason": "x"}, headers=alice)
        assert d2.status_code == 200, d2.text
        seq = d2.json()["seq"]
        with http.stream("GET", f"/api/v1/runs/{rid}/events", params={"after": 0}, headers=admin) as s:
            import json

            seen = []
            for line in s.iter_lines():
                if line.startswith("data:"):
                    ev = json.loads(line[5:])
                    seen.append(ev)
                    if ev["seq"] >= seq:
                        break
    created = next(e for e in seen if e["type"] == "run_created")
    assert created["data"]["auth"] == "token"
    assert created["data"]["auth_subject"] == "admin"
    decided = [e for e in seen if e["actor"] == "alice" and e["type"] == "decision_recorded"]
    assert decided
    assert decided[-1]["data"]["auth"] == "token"
    assert decided[-1]["data"]["auth_subject"] == "alice"

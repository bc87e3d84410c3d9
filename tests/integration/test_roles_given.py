"""Roles are given, not taken: assigning a role, vacant or not, needs the assign power (or is the run's
starter's, or the holder handing over); through the API a token without it gets 403 with the reason."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from golive import exceptions
from golive.engine import acts, runner
from golive.server import config as config_mod
from golive.server.testing import LiveServer
from golive.spec import loader
from golive.store import sqlite

RUNBOOK = """golive: 1
name: roles
roles:
  ic: {may: [decide, assign]}
  ops: {}
phases:
  - id: p
    steps:
      - {id: ask, kind: manual, role: ops}
      - {id: gate, kind: decision, role: ic, needs: [ask]}
"""


async def test_a_vacant_role_cannot_be_taken_by_someone_without_the_assign_power(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    rb = tmp_path / "rb.yaml"
    rb.write_text(RUNBOOK, encoding="utf-8")
    h = await runner.create_run(store, loader.load(rb, environ={}), roles={"ops": "bob"})
    with pytest.raises(exceptions.RuleRefused, match="roles are given, not taken"):
        await acts.assign(h, "bob", "ic", "bob")
    h = await acts.open_run(store, h.run_id)
    assert "ic" not in h.state.roles
    assert h.state.refusals[-1]["act"] == "assign"
    await acts.assign(h, "bob", "ops", "carol")  # the holder hands over
    h = await acts.open_run(store, h.run_id)
    assert h.state.roles["ops"] == "carol"


async def test_the_starter_and_an_assigner_may_give_roles(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    rb = tmp_path / "rb.yaml"
    rb.write_text(RUNBOOK, encoding="utf-8")
    h = await runner.create_run(store, loader.load(rb, environ={}), actor="admin")
    await acts.assign(h, "admin", "ic", "alice")
    h = await acts.open_run(store, h.run_id)
    await acts.assign(h, "alice", "ops", "bob")
    h = await acts.open_run(store, h.run_id)
    assert h.state.roles == {"ic": "alice", "ops": "bob"}


def test_the_api_refuses_a_vacant_role_claim_with_403(tmp_path: Path) -> None:
    d = tmp_path / "runbooks"
    d.mkdir()
    (d / "rb.yaml").write_text(RUNBOOK, encoding="utf-8")
    tokens = {"tok-admin-0123456789abcdef": ("admin", ["admin"]), "tok-bob-0123456789abcdefg": ("bob", ["ops"])}
    grants = {
        config_mod.hash_token(t): config_mod.TokenGrant(user_id=u, roles=tuple(r)) for t, (u, r) in tokens.items()
    }
    cfg = config_mod.ServerConfig(token_hashes=grants, runbook_dir=d, token_cache_ttl=0)
    with LiveServer(str(tmp_path / "g.db"), cfg) as srv, httpx.Client(base_url=srv.url, timeout=10) as http:
        admin = {"Authorization": "Bearer tok-admin-0123456789abcdef"}
        bob = {"Authorization": "Bearer tok-bob-0123456789abcdefg"}
        r = http.post("/api/v1/runs", json={"runbook": "rb.yaml", "roles": {"ops": "bob"}}, headers=admin)
        assert r.status_code == 201, r.text
        rid = r.json()["run_id"]
        claim = http.post(f"/api/v1/runs/{rid}/assign", json={"roles": {"ic": "bob"}}, headers=bob)
        assert claim.status_code == 403
        assert "roles are given, not taken" in claim.text
        given = http.post(f"/api/v1/runs/{rid}/assign", json={"roles": {"ic": "alice"}}, headers=admin)
        assert given.status_code == 200, given.text

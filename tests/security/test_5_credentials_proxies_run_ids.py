"""Issue item 5: golive's own credentials never reach a child process; forwarded headers are believed only
from configured proxies; run ids have one pattern everywhere (CLI, API) and a pack never lands outside."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from golive.server import config as config_mod
from golive.server.testing import LiveServer

Cli = Callable[..., subprocess.CompletedProcess[str]]

CHILD_ENV = """
golive: 1
name: child-env
phases:
  - id: p
    steps:
      - id: dump
        kind: check
        type: command
        with: {run: [sh, -c, 'env > "$OUT"'], env: {OUT: "OUTFILE"}}
"""
OWN = ("GOLIVE_API_TOKEN_MAP_JSON", "GOLIVE_DATABASE_URL", "GOLIVE_VAR_REGION")


def test_a_cli_run_child_sees_none_of_golives_credentials(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "child.env"
    (tmp_path / "rb.yaml").write_text(CHILD_ENV.replace("OUTFILE", str(out)), encoding="utf-8")
    env["GOLIVE_API_TOKEN_MAP_JSON"] = '{"tok-plain-secret-0123456789": {"user_id": "a", "roles": ["admin"]}}'
    env["GOLIVE_VAR_REGION"] = "eu-west-1"
    env["UNRELATED_SETTING"] = "kept"
    r = cli("run", "rb.yaml")
    assert r.returncode == 0, r.stdout + r.stderr
    seen = out.read_text(encoding="utf-8")
    for name in OWN:
        assert f"{name}=" not in seen
    assert "tok-plain-secret" not in seen
    assert "UNRELATED_SETTING=kept" in seen


def test_a_served_run_child_sees_none_of_the_servers_credentials(
    served: httpx.Client, runbook_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "served-child.env"
    (runbook_dir / "rb.yaml").write_text(CHILD_ENV.replace("OUTFILE", str(out)), encoding="utf-8")
    r = served.post("/api/v1/runs", json={"runbook": "rb.yaml", "mode": "rehearsal"})
    assert r.status_code == 201, r.text
    deadline = time.monotonic() + 30
    while not out.exists() or "PATH=" not in out.read_text(encoding="utf-8"):
        assert time.monotonic() < deadline, "the step never ran"
        time.sleep(0.05)
    seen = out.read_text(encoding="utf-8")
    assert "GOLIVE_API_TOKEN_MAP_JSON=" not in seen
    assert "GOLIVE_DATABASE_URL=" not in seen


def _limited(runbook_dir: Path, **kw: Any) -> config_mod.ServerConfig:
    return config_mod.ServerConfig(
        runbook_dir=runbook_dir, auth_failures=config_mod.AuthFailureLimit(max=3, window=60), **kw
    )


@pytest.fixture
def strict_server(tmp_path: Path, runbook_dir: Path) -> Iterator[httpx.Client]:
    with LiveServer(str(tmp_path / "p.db"), _limited(runbook_dir)) as srv, httpx.Client(base_url=srv.url) as http:
        yield http


def test_forwarded_for_from_an_untrusted_peer_does_not_dodge_the_rate_limit(strict_server: httpx.Client) -> None:
    """A loopback client rotating X-Forwarded-For is still one client: the fourth failure is 429."""
    codes = [
        strict_server.get(
            "/api/v1/runs", headers={"Authorization": "Bearer wrong-token-0000000000", "X-Forwarded-For": f"10.0.0.{i}"}
        ).status_code
        for i in range(5)
    ]
    assert codes[:3] == [401, 401, 401]
    assert codes[3:] == [429, 429]


def test_forwarded_for_cannot_lock_out_a_chosen_address(tmp_path: Path, runbook_dir: Path) -> None:
    """Failures claiming to come from 10.1.2.3 count against the real peer, not against 10.1.2.3; with the
    proxy configured as trusted, the header is believed and only that address is limited."""
    bad = {"Authorization": "Bearer wrong-token-0000000000", "X-Forwarded-For": "10.1.2.3"}
    other = {"Authorization": "Bearer wrong-token-0000000000", "X-Forwarded-For": "10.9.9.9"}
    cfg = _limited(runbook_dir, trusted_proxies=("127.0.0.1",))
    with LiveServer(str(tmp_path / "t.db"), cfg) as srv, httpx.Client(base_url=srv.url) as http:
        assert [http.get("/api/v1/runs", headers=bad).status_code for _ in range(4)] == [401, 401, 401, 429]
        assert http.get("/api/v1/runs", headers=other).status_code == 401  # another client behind the proxy


def test_trusted_proxies_must_be_addresses() -> None:
    with pytest.raises(ValueError, match="not an IP address or network"):
        config_mod.ServerConfig(trusted_proxies=("proxy.example.com",))


def test_a_run_id_that_climbs_out_is_refused_by_the_cli_and_the_api(
    cli: Cli, tmp_path: Path, live: httpx.Client, runbook_dir: Path
) -> None:
    rb = "golive: 1\nname: x\nphases: [{id: p, steps: [{id: s, kind: check, type: command, with: {run: [echo]}}]}]\n"
    (tmp_path / "x.yaml").write_text(rb, encoding="utf-8")
    r = cli("run", "x.yaml", "--run-id", "../../escaped")
    assert r.returncode == 2
    assert "a run id starts with a letter or digit" in r.stderr
    assert not (tmp_path.parent / "escaped").exists()
    (runbook_dir / "x.yaml").write_text(rb, encoding="utf-8")
    api = live.post("/api/v1/runs", json={"runbook": "x.yaml", "run_id": "../escaped"})
    assert api.status_code == 422

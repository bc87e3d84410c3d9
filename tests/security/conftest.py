"""What the security tests share: the installed CLI in a subprocess, and the war-room server on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from golive.server import config as config_mod
from golive.server.testing import LiveServer

GOLIVE = str(Path(sys.executable).with_name("golive"))
LIMIT = 60.0  # seconds one CLI command may take before the test fails
ADMIN_TOKEN = "tok-admin-security-0123456789"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("GOLIVE_")}
    e["GOLIVE_DATABASE_URL"] = str(tmp_path / "store" / "golive.db")
    return e


Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(env: dict[str, str], tmp_path: Path) -> Cli:
    """``cli("run", "x.yaml", ...)``: the installed golive in a subprocess, in tmp_path."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [GOLIVE, *args], env=env, capture_output=True, text=True, timeout=LIMIT, check=False, cwd=tmp_path
        )

    return run


def server_config(runbook_dir: Path, **kw: Any) -> config_mod.ServerConfig:
    grants = {config_mod.hash_token(ADMIN_TOKEN): config_mod.TokenGrant(user_id="admin", roles=("admin",))}
    return config_mod.ServerConfig(token_hashes=grants, runbook_dir=runbook_dir, token_cache_ttl=0, **kw)


@pytest.fixture
def runbook_dir(tmp_path: Path) -> Path:
    d = tmp_path / "runbooks"
    d.mkdir()
    return d


@pytest.fixture
def live(tmp_path: Path, runbook_dir: Path) -> Iterator[httpx.Client]:
    with (
        LiveServer(str(tmp_path / "server.db"), server_config(runbook_dir)) as srv,
        httpx.Client(base_url=srv.url, timeout=10.0, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as http,
    ):
        yield http

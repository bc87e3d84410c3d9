"""What the security tests share: the installed CLI in a subprocess, and the war-room server on loopback."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SERVE_START = 30.0  # seconds `golive serve` may take to answer /health


@pytest.fixture
def served(tmp_path: Path, runbook_dir: Path, env: dict[str, str]) -> Iterator[httpx.Client]:
    """`golive serve` in its own process (a hang cannot take the test with it), with an admin token."""
    port = _free_port()
    senv = {**env, "GOLIVE_API_TOKEN_MAP_JSON": json.dumps({ADMIN_TOKEN: {"user_id": "admin", "roles": ["admin"]}})}
    proc = subprocess.Popen(
        [GOLIVE, "serve", "--port", str(port), "--db", str(tmp_path / "serve.db"), "--runbook-dir", str(runbook_dir)],
        env=senv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVE_START
        while True:
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("golive serve did not start")
            time.sleep(0.1)
        with httpx.Client(base_url=base, timeout=10.0, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as http:
            yield http
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.fixture
def live(tmp_path: Path, runbook_dir: Path) -> Iterator[httpx.Client]:
    with (
        LiveServer(str(tmp_path / "server.db"), server_config(runbook_dir)) as srv,
        httpx.Client(base_url=srv.url, timeout=10.0, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as http,
    ):
        yield http

"""`golive serve` as a person starts it: a subprocess on a loopback port, stopped with Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

START_TIMEOUT = 30.0  # seconds the server may take to answer /health
TOKEN = "glv_cli-test-token-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_with_env_tokens_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    """Tokens from $GOLIVE_API_TOKEN_MAP_JSON work; without one only /health answers; SIGINT stops it."""
    port = _free_port()
    env = {
        **os.environ,
        "GOLIVE_API_TOKEN_MAP_JSON": json.dumps({TOKEN: {"user_id": "admin.prod", "roles": ["admin"]}}),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "golive", "serve", "--port", str(port), "--db", str(tmp_path / "g.db")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "golive serve did not answer /health"
            time.sleep(0.1)
        assert httpx.get(base + "/api/v1/runs", timeout=5).status_code == 401
        me = httpx.get(base + "/api/v1/me", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
        assert me.json()["user"] == "admin.prod"
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode in (0, 130), err
    assert "Traceback" not in err
    assert TOKEN not in err


def test_serve_with_a_bad_config_exits_2_with_the_field(tmp_path: Path) -> None:
    """A config mistake is one line naming the file and the field, exit 2, no traceback."""
    bad = tmp_path / "serve.yaml"
    bad.write_text('cors_origins: ["*"]\n')
    done = subprocess.run(
        [sys.executable, "-m", "golive", "serve", "--config", str(bad), "--db", str(tmp_path / "g.db")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "cors_origins" in done.stderr
    assert "Traceback" not in done.stderr

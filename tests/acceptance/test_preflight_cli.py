"""`golive preflight` as a person or CI runs it: the installed CLI in a subprocess against loopback services.

Exit 0 only when overall_status is PASS; 1 when a check failed or errored (a timeout, a refused connection);
2 for bad input (unknown phase, bad --timeout, missing file), with a one-line message and no report written.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pty
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

GOLIVE = str(Path(sys.executable).with_name("golive"))
CLI_TIMEOUT = 120.0  # seconds one CLI call may take before the test fails
PTY_READ_LIMIT = 60.0  # seconds to read a terminal session before giving up


def _integration_fixtures() -> ModuleType:
    """The loopback servers of tests/integration/conftest.py (one implementation for every tier)."""
    path = Path(__file__).resolve().parents[1] / "integration" / "conftest.py"
    spec = importlib.util.spec_from_file_location("golive_integration_fixtures", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


services = _integration_fixtures()


@pytest.fixture
def server() -> Iterator[Any]:
    srv = services.LoopbackHTTPServer()
    srv.route("/health", json={"status": "ok"})
    srv.route("/degraded", json={"status": "degraded"})
    srv.route("/slow", json={"status": "ok"}, delay=0.3)
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers: a request to it can only time out."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def http_check(step_id: str, url: str, **expect: Any) -> dict[str, Any]:
    return {"id": step_id, "kind": "check", "type": "http", "with": {"url": url, "expect": expect or {"status": 200}}}


def write_runbook(
    tmp_path: Path, steps: list[dict[str, Any]], extra_phases: list[dict[str, Any]] | None = None
) -> Path:
    doc = {
        "golive": 1,
        "name": "cli-preflight",
        "vars": {"health_url": {"default": "http://127.0.0.1:1/unused"}},
        "phases": [{"id": "preflight", "title": "Pre-flight checks", "steps": steps}, *(extra_phases or [])],
    }
    path = tmp_path / "runbook.yaml"
    path.write_text(json.dumps(doc, indent=2))
    return path


def golive(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [GOLIVE, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def reports(tmp_path: Path) -> list[str]:
    out = tmp_path / "out"
    return ["--out-json", str(out / "p.json"), "--out-md", str(out / "p.md"), "--out-junit", str(out / "p.xml")]


def checks(tmp_path: Path) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in json.loads((tmp_path / "out" / "p.json").read_text())["checks"]}


def test_all_pass_exits_0_and_writes_every_report(tmp_path: Path, server: Any) -> None:
    """All checks pass: exit 0, the three reports exist, and the defaults (50 at once, 30 s) are recorded."""
    path = write_runbook(
        tmp_path,
        [http_check("api", server.url("/health"), json={"$.status": "ok"}), http_check("slow", server.url("/slow"))],
    )
    proc = golive("preflight", str(path), *reports(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[0] == "overall_status PASS"
    doc = json.loads((tmp_path / "out" / "p.json").read_text())
    assert doc["overall_status"] == "PASS"
    assert doc["preflight"] == {"phase": "preflight", "title": "Pre-flight checks", "concurrency": 50, "timeout": 30.0}
    assert (tmp_path / "out" / "p.md").read_text().count("overall_status PASS") == 1
    assert (tmp_path / "out" / "p.xml").read_text().startswith("<?xml")


def test_one_failing_check_exits_1_with_expected_and_seen(tmp_path: Path, server: Any) -> None:
    """One check failing: exit 1, overall_status FAIL, and its summary says what was expected and what was seen."""
    path = write_runbook(
        tmp_path,
        [
            http_check("api", server.url("/health")),
            http_check("status", server.url("/degraded"), json={"$.status": "ok"}),
        ],
    )
    proc = golive("preflight", str(path), *reports(tmp_path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert json.loads((tmp_path / "out" / "p.json").read_text())["overall_status"] == "FAIL"
    got = checks(tmp_path)
    assert got["status"]["outcome"] == "FAIL"
    assert got["status"]["summary"] == '$.status is "degraded", expected "ok"'
    assert got["api"]["outcome"] == "PASS"
    assert 'status FAIL $.status is "degraded", expected "ok"' in proc.stdout


def test_checks_over_the_timeout_are_errors(tmp_path: Path, silent_port: int) -> None:
    """Under --timeout 1s a request that never gets an answer and a command that sleeps are ERROR, not PASS."""
    path = write_runbook(
        tmp_path,
        [
            http_check("hangs", f"http://127.0.0.1:{silent_port}/"),
            {"id": "sleeps", "kind": "check", "type": "command", "with": {"run": ["sleep", "20"]}},
        ],
    )
    proc = golive("preflight", str(path), "--timeout", "1s", *reports(tmp_path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    got = checks(tmp_path)
    assert got["hangs"]["outcome"] == "ERROR"
    assert got["sleeps"]["outcome"] == "ERROR"
    assert "timed out" in got["hangs"]["summary"]
    assert "timed out" in got["sleeps"]["summary"]


def test_connection_refused_is_an_error(tmp_path: Path, server: Any) -> None:
    """Nothing listening: ERROR (the check could not find out), and the pre-flight exits 1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = write_runbook(
        tmp_path, [http_check("api", server.url("/health")), http_check("down", f"http://127.0.0.1:{port}/")]
    )
    proc = golive("preflight", str(path), *reports(tmp_path))
    assert proc.returncode == 1
    assert checks(tmp_path)["down"]["outcome"] == "ERROR"
    assert "cannot connect" in checks(tmp_path)["down"]["summary"]


@pytest.mark.parametrize("name", ["smoke", "Smoke tests"])
def test_phase_by_id_or_title(tmp_path: Path, server: Any, name: str) -> None:
    """--phase picks a phase by its id or its title; only that phase's checks run."""
    path = write_runbook(
        tmp_path,
        [http_check("down", "http://127.0.0.1:1/")],
        [{"id": "smoke", "title": "Smoke tests", "steps": [http_check("smoke-api", server.url("/health"))]}],
    )
    proc = golive("preflight", str(path), "--phase", name, *reports(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list(checks(tmp_path)) == ["smoke-api"]


def test_var_overrides_reach_the_checks(tmp_path: Path, server: Any) -> None:
    """--var K=V sets a runbook variable the checks use."""
    path = write_runbook(tmp_path, [http_check("api", "${{ vars.health_url }}")])
    assert golive("preflight", str(path), "--quiet").returncode == 1  # the default URL is unreachable
    proc = golive("preflight", str(path), "--var", f"health_url={server.url('/health')}", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""  # --quiet prints nothing; the exit code says it


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--phase", "preflgiht"], "--phase 'preflgiht': no such phase (did you mean 'preflight'?)"),
        (["--timeout", "soon"], "--timeout: malformed duration 'soon'"),
        (["--timeout", "0s"], "--timeout 0s: must be more than 0"),
        (["--concurrency", "0"], "--concurrency"),
        (["--var", "novalue"], "--var 'novalue': write it as NAME=VALUE"),
    ],
)
def test_bad_input_exits_2_with_a_message_and_runs_nothing(
    tmp_path: Path, server: Any, args: list[str], message: str
) -> None:
    """Bad options exit 2 with one clear line (no traceback), before any check runs or any report is written."""
    path = write_runbook(tmp_path, [http_check("api", server.url("/health"))])
    proc = golive("preflight", str(path), *args, *reports(tmp_path))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert server.requests == []
    assert not (tmp_path / "out").exists()


def test_missing_runbook_exits_2(tmp_path: Path) -> None:
    """A runbook path that does not exist is bad input: exit 2, naming the file."""
    proc = golive("preflight", str(tmp_path / "nope.yaml"))
    assert proc.returncode == 2
    assert "nope.yaml: no such file" in proc.stderr


def test_live_progress_on_a_terminal(tmp_path: Path, server: Any) -> None:
    """On a terminal the pre-flight shows a progress bar (on stderr) while the checks run, then the results."""
    path = write_runbook(tmp_path, [http_check(f"c{i}", server.url("/slow")) for i in range(20)])
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI on a pseudo-terminal
        os.environ.update({"COLUMNS": "120", "TERM": "xterm-256color"})
        os.environ.pop("NO_COLOR", None)
        os.execv(GOLIVE, [GOLIVE, "preflight", str(path), "--concurrency", "5"])
    chunks = []
    deadline = time.monotonic() + PTY_READ_LIMIT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if not ready:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) == 0, screen
    assert "pre-flight preflight" in screen
    assert "/20" in screen  # the M/N counter
    assert "overall_status PASS" in screen

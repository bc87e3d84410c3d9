"""The demo's printed follow-up commands work as printed from another directory, and none of them (nor a
read-only command run where there is no store) leaves a store behind there."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

GOLIVE = str(Path(sys.executable).with_name("golive"))
DEMO_LIMIT = 300.0  # seconds `golive demo` may take (about a minute)
CLI_LIMIT = 60.0  # seconds for one follow-up command
SERVE_LIMIT = 30.0  # seconds for `golive serve` to answer on its port
SERVE_PORT = 8080  # the port the demo's printed `golive serve` listens on


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GOLIVE_DATABASE_URL", "GOLIVE_HOME", "GOLIVE_DEBUG")}
    env["NO_COLOR"] = "1"
    return env


def follow_ups(output: str) -> list[str]:
    """Every `golive ...` command the demo printed, as printed (without the trailing explanation)."""
    out = []
    for line in output.splitlines():
        m = re.search(r"(golive (?:status|timeline|token|serve|evidence verify)\b.*)$", line)
        if m:
            out.append(re.split(r"\s{3,}", m.group(1).strip())[0])
    return out


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def serve_answers(argv: list[str], cwd: Path) -> bool:
    """Start `golive serve` as printed, wait until its port answers, then stop it."""
    proc = subprocess.Popen(argv, cwd=cwd, env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + SERVE_LIMIT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", SERVE_PORT), timeout=1):
                    return True
            except OSError:
                time.sleep(0.2)
        return False
    finally:
        proc.terminate()
        proc.wait(timeout=CLI_LIMIT)


def test_every_follow_up_the_demo_prints_works_from_another_directory(tmp_path: Path) -> None:
    """Run the demo in one directory (its store found there), then each printed command in another: each
    exits 0, and the other directory has no `.golive/` afterwards."""
    here, elsewhere = tmp_path / "checkout", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()
    demo = subprocess.run(
        [GOLIVE, "demo"], cwd=here, env=clean_env(), capture_output=True, text=True, timeout=DEMO_LIMIT, check=False
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert (here / ".golive" / "golive.db").is_file()
    commands = follow_ups(demo.stdout)
    assert {c.split()[1] for c in commands} >= {"status", "timeline", "token", "serve", "evidence"}, commands
    for command in commands:
        argv = shlex.split(command)
        argv[0] = GOLIVE
        if argv[1] == "serve":
            if port_free(SERVE_PORT):
                assert serve_answers(argv, elsewhere), command
            continue
        done = subprocess.run(argv, cwd=elsewhere, env=clean_env(), capture_output=True, text=True, timeout=CLI_LIMIT)
        assert done.returncode == 0, f"{command}: {done.stderr}"
    assert not (elsewhere / ".golive").exists()


def test_a_read_only_command_where_there_is_no_store_creates_none(tmp_path: Path) -> None:
    """`golive status` and `golive runs` in a directory with no store above it say where they looked, exit 2,
    and make no `.golive/`."""
    for argv in (["status"], ["runs"], ["timeline", "r1"]):
        done = subprocess.run(
            [GOLIVE, *argv], cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=CLI_LIMIT
        )
        assert done.returncode == 2, done.stderr
        assert "no golive store found" in done.stderr
    assert not (tmp_path / ".golive").exists()


def test_a_store_is_found_from_a_subdirectory_and_through_golive_home(tmp_path: Path) -> None:
    """A run started at the top of a tree is seen from a directory below it, and from anywhere through
    $GOLIVE_HOME; --db still wins over both."""
    top = tmp_path / "ops"
    below = top / "runbooks" / "payments"
    below.mkdir(parents=True)
    (top / "rb.yaml").write_text(
        "golive: 1\nname: tiny\nphases:\n  - id: p\n    steps:\n"
        "      - {id: ok, kind: check, type: command, with: {run: ['true']}}\n"
    )
    started = subprocess.run(
        [GOLIVE, "run", "rb.yaml", "--no-prompt"],
        cwd=top,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=CLI_LIMIT,
    )
    assert started.returncode == 0, started.stderr
    runs = subprocess.run([GOLIVE, "runs", "--json"], cwd=below, env=clean_env(), capture_output=True, text=True)
    assert runs.returncode == 0, runs.stderr
    assert "tiny" in runs.stdout
    away = tmp_path / "away"
    away.mkdir()
    env = clean_env() | {"GOLIVE_HOME": str(top / ".golive")}
    home = subprocess.run([GOLIVE, "runs", "--json"], cwd=away, env=env, capture_output=True, text=True)
    assert home.returncode == 0, home.stderr
    assert "tiny" in home.stdout
    other = subprocess.run(
        [GOLIVE, "runs", "--db", str(away / "none.db")], cwd=below, env=clean_env(), capture_output=True, text=True
    )
    assert other.returncode == 2
    assert "no golive store at" in other.stderr
    assert not (away / ".golive").exists()

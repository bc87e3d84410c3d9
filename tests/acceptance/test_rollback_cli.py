"""`golive rollback`, `golive status`, `golive watch` and `golive flags` with the installed CLI in subprocesses.

Two ways a person's rollback runs: a running `golive run --no-prompt` (waiting on a manual step) picks up the
request, abandons the wait and rolls back; or no engine runs (its process died) and `golive rollback` runs
the plan itself. While the rollback's slow step runs, every view says ROLLING BACK. Someone without a
rollback role is refused with exit 1. `golive flags` shows current against safe values from the provider.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

GOLIVE = str(Path(sys.executable).with_name("golive"))
STEP_LIMIT = 60.0  # seconds one CLI command may take before the test fails
POLL = 0.05  # seconds between reads of the SQLite file
HOLD_LIMIT = 600  # tenths of a second the revert step waits for the test's `release` file at most

RUNBOOK = f"""\
golive: 1
name: routing-cli
title: Ticket routing go-live
roles:
  ic: {{title: Incident commander, may: [decide]}}
  release-manager: {{title: Release manager}}
  support-lead: {{title: Support lead}}
settings:
  rollback_roles: [release-manager]
vars:
  dir: {{required: true}}
flags:
  provider: {{type: json, with: {{path: "${{{{ vars.dir }}}}/flags.json"}}}}
  safe: {{automation_enabled: false, safe_mode: true, templates.whitelist: []}}
phases:
  - id: routing-only
    steps:
      - id: enable-routing
        kind: action
        type: flag
        with: {{flags: {{automation_enabled: true, safe_mode: false, templates.whitelist: [password-reset]}}}}
  - id: handover
    steps:
      - id: support-ready
        title: Support team briefed
        kind: manual
        role: support-lead
rollback:
  steps:
    - id: revert-deploy
      kind: action
      type: command
      # Held until the test has read the views (bounded), so they are read while the rollback runs.
      with: {{run: "for i in $(seq {HOLD_LIMIT}); do [ -f release ] && break; sleep 0.1; done; echo reverted >> rollback.log",
             cwd: "${{{{ vars.dir }}}}"}}
  confirm:
    - id: reverted
      kind: check
      type: command
      with: {{run: "grep -q reverted $DIR/rollback.log", env: {{DIR: "${{{{ vars.dir }}}}"}}}}
"""
ROLES = ["--role", "ic=alice", "--role", "release-manager=rita", "--role", "support-lead=sam"]
SAFE = {"automation_enabled": False, "safe_mode": True, "templates": {"whitelist": []}}


def golive(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GOLIVE, *args], env=env, capture_output=True, text=True, timeout=STEP_LIMIT, check=False)


@dataclass
class Scene:
    """A run in its own directory and SQLite file; ``env`` carries the database and a wide terminal."""

    dir: Path
    run_id: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def db(self) -> Path:
        return self.dir / "golive.db"

    def events(self) -> list[tuple[str, str | None, dict[str, Any]]]:
        if not self.db.exists():
            return []
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5.0)
        try:
            rows = conn.execute(
                "SELECT type, step_id, data FROM events WHERE run_id = ? ORDER BY seq", (self.run_id,)
            ).fetchall()
        except sqlite3.OperationalError:
            return []  # the schema is not there yet
        finally:
            conn.close()
        return [(r[0], r[1], json.loads(r[2])) for r in rows]

    def until(self, what: str, pred: Any, proc: subprocess.Popen[str] | None = None) -> None:
        limit = time.monotonic() + STEP_LIMIT
        while not pred(self.events()):
            if proc is not None and proc.poll() is not None:
                raise AssertionError(
                    f"golive run exited {proc.returncode} before {what}: {(self.dir / 'run.log').read_text()}"
                )
            assert time.monotonic() < limit, f"never saw: {what}"
            time.sleep(POLL)

    def start(self) -> subprocess.Popen[str]:
        """`golive run --no-prompt` in the background, until it waits on the manual step."""
        # The run's output goes to a file (the parent's copy is closed at once; the child keeps its own).
        with (self.dir / "run.log").open("w") as log:
            proc = subprocess.Popen(
                [GOLIVE, "run", str(self.dir / "runbook.yaml"), "--no-prompt", "--quiet", "--run-id", self.run_id,
                 "--var", f"dir={self.dir}", *ROLES],
                env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, text=True,
            )  # fmt: skip
        self.until("the manual step waiting", lambda evs: ("step_waiting", "support-ready") in _kinds(evs), proc)
        return proc

    def flags(self) -> Any:
        return json.loads((self.dir / "flags.json").read_text())


def _kinds(evs: list[tuple[str, str | None, dict[str, Any]]]) -> list[tuple[str, str | None]]:
    return [(t, s) for t, s, _ in evs]


def scene(tmp_path: Path, name: str, *, hold: bool = False) -> Scene:
    """A fresh directory for a run; with ``hold`` the rollback's revert step waits for a `release` file."""
    d = tmp_path / name
    d.mkdir()
    if not hold:
        (d / "release").touch()
    (d / "runbook.yaml").write_text(RUNBOOK)
    (d / "flags.json").write_text("{}")
    env = {**os.environ, "GOLIVE_DATABASE_URL": str(d / "golive.db"), "COLUMNS": "200", "NO_COLOR": "1"}
    return Scene(d, f"rb-{name}", env)


@dataclass
class Picked:
    """What people saw when a running engine picked up a CLI rollback."""

    scene: Scene
    request: subprocess.CompletedProcess[str]
    run_exit: int
    flags_before: subprocess.CompletedProcess[str]
    status_during: subprocess.CompletedProcess[str]
    json_during: dict[str, Any]
    watch_during: subprocess.CompletedProcess[str]
    status_after: dict[str, Any]
    flags_after: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def picked(tmp_path_factory: pytest.TempPathFactory) -> Picked:
    s = scene(tmp_path_factory.mktemp("rollback-cli"), "picked", hold=True)
    proc = s.start()
    try:
        flags_before = golive("flags", s.run_id, env=s.env)
        request = golive("rollback", s.run_id, "--as", "rita", "--reason", "wrong queues for VIP tickets", env=s.env)
        s.until("the slow rollback step running", lambda evs: ("action_started", "revert-deploy") in _kinds(evs))
        status_during = golive("status", s.run_id, env=s.env)
        json_during = json.loads(golive("status", s.run_id, "--json", env=s.env).stdout)
        watch_during = golive("watch", s.run_id, "--once", env=s.env)
        (s.dir / "release").touch()
        run_exit = proc.wait(timeout=STEP_LIMIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    status_after = json.loads(golive("status", s.run_id, "--json", env=s.env).stdout)
    flags_after = golive("flags", s.run_id, env=s.env)
    return Picked(
        s, request, run_exit, flags_before, status_during, json_during, watch_during, status_after, flags_after
    )


def test_the_running_engine_picks_up_the_request_and_ends_rolled_back(picked: Picked) -> None:
    """`golive rollback --as rita` exits 0 saying the running engine started it; `golive run` then ends
    (exit 1) ROLLED_BACK, the person and the reason in the run's reason."""
    assert picked.request.returncode == 0, picked.request.stderr
    assert "rollback started by the running engine" in picked.request.stdout
    assert picked.run_exit == 1
    data = picked.status_after
    assert data["status"] == "rolled_back"
    assert "rita" in data["reason"]
    assert "wrong queues for VIP tickets" in data["reason"]
    assert (data["rollback"]["by"], data["rollback"]["source"], data["rollback"]["outcome"]) == (
        "rita",
        "person",
        "pass",
    )


def test_the_manual_wait_is_abandoned_and_the_plan_runs_in_order(picked: Picked) -> None:
    """The waiting manual step is recorded as not run (abandoned, naming rita); the plan runs flags first,
    then the revert, then the confirmation check; the flags file is back at the safe values."""
    kinds = _kinds(picked.scene.events())
    support = next(d for t, sid, d in picked.scene.events() if t == "step_finished" and sid == "support-ready")
    assert support["outcome"] == "not-run"
    assert support["summary"].startswith("abandoned: the rollback was started by rita")
    started = [sid for t, sid in kinds if t in ("action_started", "step_started")]
    assert started[-3:] == ["restore_safe_flags", "revert-deploy", "reverted"]
    assert kinds.index(("rollback_requested", None)) < kinds.index(("rollback_started", None))
    assert picked.scene.flags() == SAFE


def test_every_view_shows_the_rollback_while_it_runs(picked: Picked) -> None:
    """While the rollback's revert step runs: `status` says ROLLING BACK with the reason, `status --json` has the
    rollback with finished_at null and status rolling_back, `watch --once` says ROLLING BACK too."""
    assert picked.status_during.returncode == 0, picked.status_during.stderr
    assert "ROLLING BACK" in picked.status_during.stdout
    assert "wrong queues for VIP tickets" in picked.status_during.stdout
    assert picked.json_during["status"] == "rolling_back"
    assert picked.json_during["rollback"]["finished_at"] is None
    assert picked.json_during["rollback"]["by"] == "rita"
    assert picked.watch_during.returncode == 0, picked.watch_during.stderr
    assert "ROLLING BACK" in picked.watch_during.stdout
    assert "started by rita" in picked.watch_during.stdout


def test_flags_shows_current_against_safe_before_and_after(picked: Picked) -> None:
    """`golive flags` reads the provider: after the routing-only phase the flags are 'not safe'; after the
    rollback each one reads its safe value (the list too)."""
    before, after = picked.flags_before.stdout, picked.flags_after.stdout
    assert picked.flags_before.returncode == 0, picked.flags_before.stderr
    assert "automation_enabled" in before
    assert "not safe" in before
    assert '["password-reset"]' in before
    assert picked.flags_after.returncode == 0, picked.flags_after.stderr
    assert "not safe" not in after
    assert after.count(" safe ") >= 3


def test_with_no_engine_the_cli_runs_the_rollback_itself(tmp_path: Path) -> None:
    """The engine's process died while waiting on the manual step: `golive rollback` takes the run over, runs
    the plan here and exits 0; the run is ROLLED_BACK with the person in the reason and safe flags."""
    s = scene(tmp_path, "orphan")
    proc = s.start()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    res = golive("rollback", s.run_id, "--as", "alice", "--reason", "engine host lost", env=s.env)
    assert res.returncode == 0, res.stderr
    assert "ROLLED-BACK" in res.stdout
    data = json.loads(golive("status", s.run_id, "--json", env=s.env).stdout)
    assert data["status"] == "rolled_back"
    assert "alice" in data["reason"]
    assert data["rollback"]["by"] == "alice"
    assert [st["outcome"] for st in data["rollback_steps"]] == ["pass", "pass", "pass"]
    assert s.flags() == SAFE
    assert (s.dir / "rollback.log").read_text().split() == ["reverted"]


def test_someone_without_a_rollback_role_is_refused_with_exit_1(tmp_path: Path) -> None:
    """sam (support lead) may not roll back: exit 1, the message names the roles that may; nothing starts."""
    s = scene(tmp_path, "refused")
    proc = s.start()
    try:
        res = golive("rollback", s.run_id, "--as", "sam", "--reason", "I want out", env=s.env)
        assert res.returncode == 1
        assert "sam holds none of the roles that may start the rollback: ic, release-manager" in res.stderr
        assert "Traceback" not in res.stderr
        kinds = _kinds(s.events())
        assert ("act_refused", None) in kinds
        assert ("rollback_requested", None) not in kinds
        assert proc.poll() is None  # the run goes on waiting
    finally:
        proc.kill()
        proc.wait(timeout=10)

"""A rollback killed mid-way is adopted and finishes, with the installed CLI in subprocesses.

`golive run` starts the rollback after a NO-GO and is killed with SIGKILL while a rollback step runs. The run
stays ROLLING-BACK; `golive resume` from another shell (without the war-room webhook's environment variable
that the first one had) adopts it: the interrupted idempotent step runs again, the confirmation check passes,
the comms that cannot be sent are recorded as not delivered, and the run ends ROLLED-BACK.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

GOLIVE = str(Path(sys.executable).with_name("golive"))
STEP_LIMIT = 60.0  # seconds any one CLI call may take before the test fails
POLL = 0.02  # seconds between reads of the SQLite file

RUNBOOK = """\
golive: 1
name: adopt-rollback
roles:
  ic: {title: Incident commander, may: [decide, rollback]}
vars:
  dir: {required: true}
secrets:
  war_room: {provider: env, id: WAR_ROOM_URL}
comms:
  channels: [{id: war-room, url: "${{ secrets.war_room }}"}]
flags:
  provider: {type: json, with: {path: "${{ vars.dir }}/flags.json"}}
  safe: {automation_enabled: false}
phases:
  - id: enable
    steps:
      - {id: automation-on, kind: action, type: flag, with: {flags: {automation_enabled: true}}}
      - {id: go, kind: decision, role: ic, needs: [automation-on], on_no_go: rollback}
rollback:
  steps:
    - id: revert
      kind: action
      type: command
      idempotent: true
      # Held while the file `hold` exists (bounded), so the test can kill the process in the middle of it.
      with: {run: "echo start >> revert.log; i=0; while [ -f hold ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; echo done >> revert.log",
             cwd: "${{ vars.dir }}"}
  confirm:
    - {id: reverted, kind: check, type: command, with: {run: "grep -q done revert.log", cwd: "${{ vars.dir }}"}}
"""


def events(db: Path, run_id: str) -> list[tuple[str, str | None, dict[str, Any]]]:
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5.0)
    try:
        rows = conn.execute(
            "SELECT type, step_id, data FROM events WHERE run_id = ? ORDER BY seq", (run_id,)
        ).fetchall()
    except sqlite3.OperationalError:
        return []  # the schema is not there yet
    finally:
        conn.close()
    return [(r[0], r[1], json.loads(r[2])) for r in rows]


def until(what: str, pred: Any, db: Path, run_id: str) -> None:
    limit = time.monotonic() + STEP_LIMIT
    while not pred(events(db, run_id)):
        if time.monotonic() > limit:
            raise AssertionError(f"never reached: {what}")
        time.sleep(POLL)


def golive(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GOLIVE, *args], env=env, capture_output=True, text=True, timeout=STEP_LIMIT, check=False)


def test_a_rollback_killed_mid_way_is_adopted_by_resume_and_finishes(tmp_path: Path) -> None:
    """SIGKILL during the rollback's revert step leaves the run ROLLING-BACK; `golive resume` in a shell without
    WAR_ROOM_URL adopts it, runs the revert again (idempotent), confirms, records the undeliverable comms and
    ends ROLLED-BACK with the rollback PASS and the flags safe."""
    db = tmp_path / "golive.db"
    (tmp_path / "runbook.yaml").write_text(RUNBOOK)
    (tmp_path / "flags.json").write_text("{}")
    (tmp_path / "hold").touch()
    base = {k: v for k, v in os.environ.items() if k != "WAR_ROOM_URL"}
    base |= {"GOLIVE_DATABASE_URL": str(db), "COLUMNS": "200"}
    first = base | {"WAR_ROOM_URL": f"log://{tmp_path}/war-room.log"}
    run_id = "adopt1"
    proc = subprocess.Popen(
        [
            GOLIVE,
            "run",
            str(tmp_path / "runbook.yaml"),
            "--run-id",
            run_id,
            "--no-prompt",
            "-q",
            "--var",
            f"dir={tmp_path}",
            "--role",
            "ic=alice",
        ],
        env=first,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        until("go waiting", lambda evs: any(t == "step_waiting" and s == "go" for t, s, _ in evs), db, run_id)
        decided = golive("decide", run_id, "no-go", "--as", "alice", "--reason", "misroutes", env=first)
        assert decided.returncode == 0, decided.stderr
        until(
            "revert started",
            lambda evs: any(t == "action_started" and s == "revert" for t, s, _ in evs),
            db,
            run_id,
        )
        limit = time.monotonic() + STEP_LIMIT
        log = tmp_path / "revert.log"
        while not (log.exists() and "start" in log.read_text()):
            assert time.monotonic() < limit, "the revert command never started"
            time.sleep(POLL)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=STEP_LIMIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    status = json.loads(golive("status", run_id, "--json", env=base).stdout)
    assert status["status"] == "rolling_back"
    (tmp_path / "hold").unlink()  # the second attempt runs straight through

    resumed = golive("resume", run_id, "--no-prompt", "-q", env=base)
    assert resumed.returncode == 1, resumed.stderr  # rolled back: exit 1, not a crash
    status = json.loads(golive("status", run_id, "--json", env=base).stdout)
    assert status["status"] == "rolled_back", status["reason"]
    assert status["rollback"]["outcome"] == "pass"
    assert json.loads((tmp_path / "flags.json").read_text()) == {"automation_enabled": False}
    evs = events(db, run_id)
    assert [d.get("outcome") for t, s, d in evs if t == "action_resolved" and s == "revert"] == ["not-done"]
    undelivered = [d for t, _, d in evs if t == "comms_sent" and d.get("event") == "rollback_complete"]
    assert undelivered
    assert not undelivered[-1]["ok"]
    assert "WAR_ROOM_URL is not set" in undelivered[-1]["error"]

"""Store errors fail closed, with real processes: the engine's PostgreSQL connections terminated five times
mid-run, and the SQLite write lock held by another process past the busy timeout.

Whatever the engine was doing, it stops (it never records a step skipped or passed on a failed write);
`golive resume` continues the run, an action caught mid-way is resolved from its side effect, and in the end
every action ran exactly once and the run passed, as an uninterrupted run does.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from tests.acceptance import ownership_support as sup
from tests.integration.conftest import throwaway_database

ACTIONS = 24
TERMINATIONS = 5
SQLITE_BUSY_TIMEOUT = 1.0  # seconds (GOLIVE_SQLITE_BUSY_TIMEOUT; 30 by default)
LOCK_HELD = 4.0  # seconds the other process holds the write lock: well past the busy timeout


@pytest.fixture
def postgres_database() -> Iterator[str]:
    with throwaway_database("golive_fault") as url:
        yield url


def run_args(rb: Path, rid: str, directory: Path) -> list[str]:
    return ["run", str(rb), "--run-id", rid, "--role", "ic=ian", "--var", f"dir={directory}", "--no-prompt", "-q"]


def assert_like_an_uninterrupted_run(obs: sup.Observer, rid: str, directory: Path) -> None:
    assert sup.effects(directory) == {f"a{i:02d}": 1 for i in range(1, ACTIONS + 1)}
    assert obs.final_status(rid) == "passed"
    events = obs.events(rid)
    finished = {e.step_id: e.data["outcome"] for e in events if e.type in ("step_finished", "action_finished")}
    assert finished == {f"a{i:02d}": "pass" for i in range(1, ACTIONS + 1)}
    assert not [e for e in events if e.data.get("outcome") == "skipped"]
    assert obs.verify(rid) > ACTIONS


def continue_until_passed(
    obs: sup.Observer, rid: str, directory: Path, env: dict[str, str], proc: subprocess.Popen[str]
) -> list[tuple[int, str]]:
    """Resume the run whenever its process stopped, resolving unknown actions, until it ends; the exit code
    and stderr of every process that stopped early."""
    stopped: list[tuple[int, str]] = []
    limit = time.monotonic() + sup.LIMIT
    while time.monotonic() < limit:
        if proc.poll() is not None:
            code, _, err = sup.finish(proc)
            if obs.final_status(rid) is not None:
                assert code == 0, err
                return stopped
            stopped.append((code, err))
            proc = sup.spawn("resume", rid, "--no-prompt", "-q", env=env, cwd=directory)
        obs.resolve_unknowns(rid, directory)
        time.sleep(sup.POLL)
    sup.reap(proc)
    raise AssertionError(f"run {rid} did not pass within {sup.LIMIT:g} s; stopped: {stopped}")


@pytest.mark.postgres
def test_engine_connections_terminated_five_times_fail_closed_on_postgres(
    tmp_path: Path, postgres_database: str
) -> None:
    rb = sup.write_runbook(tmp_path, ACTIONS)
    env = sup.env_for(postgres_database)
    obs = sup.Observer(postgres_database)
    rid = "fault-pg"
    proc = sup.spawn(*run_args(rb, rid, tmp_path), env=env, cwd=tmp_path)
    stopped: list[tuple[int, str]] = []
    try:
        terminated = 0
        mark = 0
        limit = time.monotonic() + sup.LIMIT
        while terminated < TERMINATIONS and time.monotonic() < limit:
            done = sum(sup.effects(tmp_path).values())
            if done >= ACTIONS - 2:
                break
            if proc.poll() is not None:  # stopped by the last termination: continue it, as an operator would
                code, _, err = sup.finish(proc)
                stopped.append((code, err))
                proc = sup.spawn("resume", rid, "--no-prompt", "-q", env=env, cwd=tmp_path)
                continue
            obs.resolve_unknowns(rid, tmp_path)  # an action caught mid-way, once the resumed engine says so
            if done >= mark + 3:
                with psycopg.connect(postgres_database, autocommit=True) as conn:
                    killed = conn.execute(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    ).fetchone()
                if killed and killed[0]:
                    terminated += 1
                    mark = done
            time.sleep(sup.POLL)
        assert terminated == TERMINATIONS
        stopped += continue_until_passed(obs, rid, tmp_path, env, proc)
    finally:
        sup.reap(proc)
    assert stopped, "no termination stopped the engine"
    assert all(code == 1 for code, _ in stopped), stopped
    assert_like_an_uninterrupted_run(obs, rid, tmp_path)


def test_sqlite_write_lock_held_past_the_busy_timeout_fails_closed(tmp_path: Path) -> None:
    db = tmp_path / "golive.db"
    rb = sup.write_runbook(tmp_path, ACTIONS)
    env = sup.env_for(str(db), GOLIVE_SQLITE_BUSY_TIMEOUT=str(SQLITE_BUSY_TIMEOUT))
    obs = sup.Observer(str(db))
    rid = "fault-sqlite"
    proc = sup.spawn(*run_args(rb, rid, tmp_path), env=env, cwd=tmp_path)
    holder = None
    try:
        sup.wait_until(lambda: sum(sup.effects(tmp_path).values()) >= 5, "five actions done")
        hold = (
            "import sqlite3, sys, time\n"
            "c = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE')\n"
            "print('locked', flush=True)\n"
            "time.sleep(float(sys.argv[2]))\n"
            "c.execute('ROLLBACK')\n"
        )
        holder = subprocess.Popen(
            [sys.executable, "-c", hold, str(db), str(LOCK_HELD)], stdout=subprocess.PIPE, text=True
        )
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        code, _, err = sup.finish(proc)  # the engine stops while the lock is held
        assert code == 1
        assert "another process holds the write lock" in err or "did not renew the lease" in err, err
        assert obs.final_status(rid) is None
        holder.communicate(timeout=sup.LIMIT)
        proc = sup.spawn("resume", rid, "--no-prompt", "-q", env=env, cwd=tmp_path)
        continue_until_passed(obs, rid, tmp_path, env, proc)
    finally:
        sup.reap(proc)
        if holder is not None:
            holder.kill()
            holder.communicate()
    assert_like_an_uninterrupted_run(obs, rid, tmp_path)

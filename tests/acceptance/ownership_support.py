"""Helpers for the ownership tests: a runbook of non-idempotent actions that each append their id to a side
effects file, golive processes with a short lease TTL, and looks at the store from outside."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from golive.engine import acts
from golive.store import Event, Lease, open_store

GOLIVE = str(Path(sys.executable).with_name("golive"))
TTL = 3.0  # seconds: the lease TTL every golive process of these tests runs with (shorter flakes on a busy box)
LIMIT = 60.0  # seconds any wait of these tests may take before it fails
POLL = 0.05  # seconds between looks


def write_runbook(directory: Path, actions: int, *, decision: bool = False) -> Path:
    """``actions`` non-idempotent command actions in a chain; each appends its id to effects.log once per
    real execution. With ``decision``, a GO/NO-GO decision by the IC comes first."""
    lines = [
        "golive: 1",
        "name: ownership",
        "roles:",
        "  ic: {may: [decide, rollback]}",
        "vars:",
        "  dir: {required: true}",
        "phases:",
    ]
    if decision:
        lines += [
            "  - id: gate",
            "    steps:",
            "      - {id: go, kind: decision, role: ic, on_no_go: stop}",
        ]
    lines += ["  - id: work", "    steps:"]
    prev = None
    for i in range(1, actions + 1):
        sid = f"a{i:02d}"
        needs = f", needs: [{prev}]" if prev else ""
        lines.append(
            f'      - {{id: {sid}, kind: action, type: command{needs}, with: {{cwd: "${{{{ vars.dir }}}}", '
            f'run: "sleep 0.02; echo {sid} >> effects.log"}}}}'
        )
        prev = sid
    path = directory / "runbook.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def env_for(db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOLIVE_")}
    env.update(
        {"GOLIVE_DATABASE_URL": db_url, "GOLIVE_LEASE_TTL": str(TTL), "NO_COLOR": "1", "PYTHONFAULTHANDLER": "1"}
    )
    env.update(extra)
    return env


def descendants(pid: int) -> list[int]:
    """Every live process descending from ``pid`` (from /proc), children first."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        parents[int(stat.parent.name)] = int(fields[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent]
        found += children
        frontier += children
    return found


def spawn(*args: str, env: dict[str, str], cwd: Path, new_session: bool = False) -> subprocess.Popen[str]:
    """A golive process; ``new_session``: in its own process group."""
    return subprocess.Popen(
        [GOLIVE, *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=new_session,
    )


def golive(*args: str, env: dict[str, str], cwd: Path, timeout: float = LIMIT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GOLIVE, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def effects(directory: Path) -> collections.Counter[str]:
    log = directory / "effects.log"
    return collections.Counter(log.read_text().split()) if log.exists() else collections.Counter()


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = LIMIT) -> None:
    limit = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > limit:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(POLL)


def finish(proc: subprocess.Popen[str], timeout: float = LIMIT) -> tuple[int, str, str]:
    """Wait for the process to exit; one that hangs is made to dump its threads (faulthandler) and fails."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        _, err = proc.communicate(timeout=LIMIT)
        raise AssertionError(f"{proc.args} did not exit within {timeout:g} s:\n{err[-6000:]}") from None
    return proc.returncode, out, err


def reap(*procs: subprocess.Popen[str]) -> None:
    """Kill what still runs (continuing a stopped one first) and close every pipe."""
    for proc in procs:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
        proc.communicate(timeout=LIMIT)


class Observer:
    """The store as seen from outside the golive processes (its own connections, its own process)."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url

    def _call(self, fn: Callable[[Any], Any]) -> Any:
        async def go() -> Any:
            store = open_store(self.db_url)
            await store.open()
            try:
                return await fn(store)
            finally:
                await store.close()

        return asyncio.run(go())

    def events(self, run_id: str) -> list[Event]:
        try:
            return list(self._call(lambda s: s.events(run_id)))
        except Exception:  # the run may not exist yet
            return []

    def lease(self, run_id: str) -> Lease | None:
        return self._call(lambda s: s.get_lease(run_id))  # type: ignore[no-any-return]

    def verify(self, run_id: str) -> int:
        return int(self._call(lambda s: s.verify(run_id)))

    def epochs(self, run_id: str) -> list[int]:
        return [int(e.data["epoch"]) for e in self.events(run_id) if e.type == "engine_started"]

    def final_status(self, run_id: str) -> str | None:
        done = [e for e in self.events(run_id) if e.type == "run_finished"]
        return str(done[-1].data["status"]) if done else None

    def resolve_unknowns(self, run_id: str, directory: Path) -> list[str]:
        """As the IC would: each unknown action is done when its side effect is in effects.log, else not."""

        async def go(store: Any) -> list[str]:
            h = await acts.open_run(store, run_id)
            seen = effects(directory)
            resolved = []
            for sid, st in h.state.steps.items():
                if st.status == "unknown":
                    await acts.resolve(h, sid, "ian", "done" if seen[sid] else "not-done")
                    resolved.append(sid)
            return resolved

        try:
            return list(self._call(go))
        except Exception:
            return []

    def resolve_until_final(self, run_id: str, directory: Path, timeout: float = LIMIT) -> str:
        """Resolve unknown actions as they appear until the run ends; its final status."""
        limit = time.monotonic() + timeout
        while (status := self.final_status(run_id)) is None:
            if time.monotonic() > limit:
                raise AssertionError(f"run {run_id} did not end within {timeout:g} s")
            self.resolve_unknowns(run_id, directory)
            time.sleep(POLL)
        return status


def stop_outside_a_transaction(proc: subprocess.Popen[str], locked: Callable[[], bool]) -> None:
    """SIGSTOP the process at a moment it holds no write transaction (a frozen holder of the SQLite write
    lock or of a PostgreSQL row lock blocks everyone, which is not what these tests are about)."""
    for _ in range(200):
        os.kill(proc.pid, signal.SIGSTOP)
        if not locked():
            return
        os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.01)
    raise AssertionError("could not stop the process outside a write transaction")


def sqlite_locked(path: Path) -> Callable[[], bool]:
    def locked() -> bool:
        conn = sqlite3.connect(path, timeout=0.2, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            conn.close()

    return locked


def pg_row_locked(url: str, run_id: str) -> Callable[[], bool]:
    def locked() -> bool:
        with psycopg.connect(url, autocommit=False) as conn:
            try:
                conn.execute("SET lock_timeout = '200ms'")
                conn.execute("SELECT 1 FROM runs WHERE run_id = %s FOR UPDATE", (run_id,))
                return False
            except psycopg.errors.LockNotAvailable:
                return True
            finally:
                conn.rollback()

    return locked

"""Crash and resume, with the installed CLI in subprocesses: `golive run` is killed with SIGKILL at many points
(chosen by waiting for the Nth event in the SQLite file, read-only) and continued with `golive resume`.

What must hold: the resumed runs end with the same step outcomes as an uninterrupted run, no step that had
finished ran again (each step appends a line to its marker file per real execution), every chain verifies,
and an action caught between action_started and action_finished is retried only when idempotent; otherwise
the run waits for `golive resolve`.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

RUNBOOKS = Path(__file__).resolve().parents[1] / "fixtures" / "runbooks"
GOLIVE = str(Path(sys.executable).with_name("golive"))
RESUME_STEPS = ["c1", "c2", "c3", "a1", "m1", "a2", "a3", "c4", "c5", "go", "a4", "a5", "c6", "c7"]
MARKED = [s for s in RESUME_STEPS if s not in ("m1", "go")]  # steps that append to <dir>/<step>.count
# Kill after this many more events than the log had when the process started: runs with different first
# offsets, then every 6 events, so the kills land at different points (each followed by a resume). At least
# MIN_RUNS runs; more (up to all of the plan) only while fewer than MIN_KILL_POINTS distinct points were hit,
# which happens when a loaded machine lets a process pass several events between two looks at the file.
KILL_PLAN = [[first] + [6] * 7 for first in (3, 5, 7, 9, 4, 6, 8, 10)]
MIN_RUNS = 4
MIN_KILL_POINTS = 20  # distinct sequence numbers at which a run was killed
STEP_LIMIT = 60.0  # seconds any one run/resume may take before the test fails
RUN_LIMIT = 300.0  # seconds the people stay around for one run
POLL = 0.005  # seconds between reads of the SQLite file


def golive(*args: str, env: dict[str, str], timeout: float = STEP_LIMIT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GOLIVE, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


def spawn(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [GOLIVE, *args], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


class Db:
    """Read-only looks at the SQLite store, as an outside observer."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        if not self.path.exists():
            return []
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5.0)
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError:
            return []  # the schema is not there yet
        finally:
            conn.close()

    def last_seq(self, run_id: str) -> int:
        rows = self.rows("SELECT max(seq) FROM events WHERE run_id = ?", run_id)
        return int(rows[0][0] or 0) if rows else 0

    def events(self, run_id: str) -> list[tuple[int, str, str | None, dict[str, Any]]]:
        rows = self.rows("SELECT seq, type, step_id, data FROM events WHERE run_id = ? ORDER BY seq", run_id)
        return [(r[0], r[1], r[2], json.loads(r[3])) for r in rows]

    def finished_steps(self, run_id: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for _, type_, step, data in self.events(run_id):
            if type_ in ("step_finished", "action_finished") and step and data.get("final", True) is not False:
                out[step] = data.get("outcome", "")
            if type_ == "action_resolved" and data.get("outcome") == "not-done":
                out.pop(step or "", None)
        return out

    def waiting(self, run_id: str) -> set[str]:
        waiting: set[str] = set()
        for _, type_, step, _data in self.events(run_id):
            if type_ == "step_waiting" and step:
                waiting.add(step)
            elif type_ in ("step_finished", "action_finished") and step:
                waiting.discard(step)
        return waiting


def counts(d: Path) -> dict[str, int]:
    return {s: len((d / f"{s}.count").read_text().splitlines()) if (d / f"{s}.count").exists() else 0 for s in MARKED}


class People(threading.Thread):
    """Stands in for the ops engineer and the IC, in their own processes: confirms m1 and records GO when
    the run waits for them (a thread, so the kill loop is never held up by their commands)."""

    def __init__(self, run_id: str, db: Db, env: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.run_id, self.db, self.env = run_id, db, env
        self.done: set[str] = set()
        self.stop = threading.Event()

    def run(self) -> None:
        limit = time.monotonic() + RUN_LIMIT
        while not self.stop.is_set() and len(self.done) < 2 and time.monotonic() < limit:
            waiting = self.db.waiting(self.run_id) - self.done
            if "m1" in waiting and golive("confirm", self.run_id, "m1", "--as", "olga", env=self.env).returncode == 0:
                self.done.add("m1")
            if "go" in waiting:
                res = golive("decide", self.run_id, "go", "--as", "ian", "--reason", "all green", env=self.env)
                if res.returncode == 0:
                    self.done.add("go")
            self.stop.wait(0.02)


def drive(proc: subprocess.Popen[str], run_id: str, db: Db, kill_at: int | None) -> tuple[int | None, int | None]:
    """Let the process run until it exits (-> its exit code) or the log reaches ``kill_at`` events (-> SIGKILL,
    and the seq it was killed at)."""
    limit = time.monotonic() + STEP_LIMIT
    while time.monotonic() < limit:
        if proc.poll() is not None:
            _, err = proc.communicate()
            if proc.returncode != 0:
                print(err, file=sys.stderr)  # shown by pytest when the caller's assertion fails
            return proc.returncode, None
        if kill_at is not None and db.last_seq(run_id) >= kill_at:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            proc.communicate()
            return None, db.last_seq(run_id)
        time.sleep(POLL)
    proc.kill()
    proc.communicate()
    raise AssertionError(f"golive did not finish or reach event {kill_at} within {STEP_LIMIT:g} s")


def make_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["GOLIVE_DATABASE_URL"] = str(tmp_path / "store" / "golive.db")
    env.pop("GOLIVE_DEBUG", None)
    return env


def outcomes(db: Db, run_id: str) -> list[tuple[str, str | None]]:
    finished = db.finished_steps(run_id)
    return [(s, finished.get(s)) for s in RESUME_STEPS]


def run_status(db: Db, run_id: str) -> str | None:
    ends = [d.get("status") for _, t, _, d in db.events(run_id) if t == "run_finished"]
    return ends[-1] if ends else None


def test_runs_killed_at_twenty_points_resume_to_the_same_outcomes_without_repeating_finished_steps(
    tmp_path: Path,
) -> None:
    """SIGKILL `golive run` / `golive resume` at >= 20 event counts over four or more runs, resuming each time: every
    run ends PASSED with the outcomes of an uninterrupted run, markers show that no finished step ran
    again, idempotent actions caught mid-way ran again automatically, and `golive verify` passes."""
    env = make_env(tmp_path)
    db = Db(tmp_path / "store" / "golive.db")
    book = str(RUNBOOKS / "resume.yaml")

    # The uninterrupted run, for reference.
    base_dir = tmp_path / "baseline"
    base_dir.mkdir()
    proc = spawn("run", book, "--no-prompt", "-q", "--run-id", "baseline", "--var", f"dir={base_dir}",
                 "--role", "ic=ian", "--role", "ops=olga", env=env)  # fmt: skip
    people = People("baseline", db, env)
    people.start()
    code, _ = drive(proc, "baseline", db, None)
    people.stop.set()
    assert code == 0
    expected = outcomes(db, "baseline")
    assert expected == [(s, "pass") for s in RESUME_STEPS]
    assert counts(base_dir) == dict.fromkeys(MARKED, 1)

    kill_points: set[int] = set()
    retried_in_flight = 0
    for n, plan in enumerate(KILL_PLAN):
        if n >= MIN_RUNS and len(kill_points) >= MIN_KILL_POINTS:
            break
        run_id, work = f"crash{n}", tmp_path / f"crash{n}"
        work.mkdir()
        people = People(run_id, db, env)
        people.start()
        snapshots: list[tuple[int, dict[str, str], dict[str, int]]] = []
        proc = spawn("run", book, "--no-prompt", "-q", "--run-id", run_id, "--var", f"dir={work}",
                     "--role", "ic=ian", "--role", "ops=olga", env=env)  # fmt: skip
        deltas = list(plan)
        while True:
            target = db.last_seq(run_id) + deltas.pop(0) if deltas else None
            code, killed_at = drive(proc, run_id, db, target)
            if killed_at is None:
                break
            kill_points.add(killed_at)
            # What had finished when the process died, and how often each step had really run by then.
            snapshots.append((killed_at, db.finished_steps(run_id), counts(work)))
            proc = spawn("resume", run_id, "--no-prompt", "-q", env=env)
        people.stop.set()
        people.join(timeout=STEP_LIMIT)
        assert code == 0, f"{run_id}: golive exited {code}"
        assert run_status(db, run_id) == "passed"
        assert outcomes(db, run_id) == expected, run_id
        final = counts(work)
        assert all(final[s] >= 1 for s in MARKED), final
        for killed_at, finished, seen in snapshots:
            for step in finished:
                if step in final:
                    assert final[step] == seen[step], (
                        f"{run_id}: {step} had finished when killed at event {killed_at} but ran again "
                        f"({seen[step]} -> {final[step]} executions)"
                    )
        evs = db.events(run_id)
        retried_in_flight += sum(1 for _, t, _, d in evs if t == "action_unknown" and d.get("retry"))
        # Only steps caught in flight may have run more than once, and only idempotent ones are actions.
        verify = golive("verify", run_id, env=env)
        assert verify.returncode == 0, verify.stdout + verify.stderr
    assert len(kill_points) >= MIN_KILL_POINTS, sorted(kill_points)
    # The in-flight path was exercised at least once over all kill points (actions sleep 0.1 s each).
    assert retried_in_flight >= 1


def _unknown_runbook(tmp_path: Path, *, idempotent: bool) -> str:
    text = (RUNBOOKS / "unknown.yaml").read_text()
    if idempotent:
        text = text.replace(
            "        type: command\n        with:", "        type: command\n        idempotent: true\n        with:", 1
        )
    path = tmp_path / ("idempotent.yaml" if idempotent else "unknown.yaml")
    path.write_text(text)
    return str(path)


def _kill_in_flight(tmp_path: Path, book: str, run_id: str, env: dict[str, str], db: Db) -> None:
    """Start the run and SIGKILL it once the deploy action's start is durable and the command is running."""
    proc = spawn("run", book, "--no-prompt", "-q", "--run-id", run_id, "--var", f"dir={tmp_path}",
                 "--role", "ic=ian", env=env)  # fmt: skip
    limit = time.monotonic() + STEP_LIMIT
    while time.monotonic() < limit:
        started = any(t == "action_started" and s == "deploy" for _, t, s, _ in db.events(run_id))
        if started and (tmp_path / "deploy.count").exists():
            break
        assert proc.poll() is None, proc.communicate()
        time.sleep(POLL)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    proc.communicate()
    types = [t for _, t, s, _ in db.events(run_id) if s == "deploy"]
    assert types == ["action_started"], types


def _wait_for_event(db: Db, run_id: str, type_: str, proc: subprocess.Popen[str]) -> None:
    limit = time.monotonic() + STEP_LIMIT
    while time.monotonic() < limit:
        if any(t == type_ for _, t, _, _ in db.events(run_id)):
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError(f"no {type_} event within {STEP_LIMIT:g} s")


def _starts(tmp_path: Path) -> int:
    return (tmp_path / "deploy.count").read_text().count("start")


@pytest.mark.parametrize(("answer", "starts"), [("not-done", 2), ("done", 1)])
def test_an_action_killed_in_flight_waits_for_resolve_and_runs_again_only_if_not_done(
    tmp_path: Path, answer: str, starts: int
) -> None:
    """Kill between action_started and action_finished of a non-idempotent action: `golive resume` records it
    unknown and waits (no second start); someone without the role cannot resolve it; `golive resolve
    --outcome not-done` runs it again, `done` records it as taken effect without running it."""
    env = make_env(tmp_path)
    db = Db(tmp_path / "store" / "golive.db")
    _kill_in_flight(tmp_path, _unknown_runbook(tmp_path, idempotent=False), "u1", env, db)
    resume = spawn("resume", "u1", "--no-prompt", "-q", env=env)
    try:
        _wait_for_event(db, "u1", "action_unknown", resume)
        unknown = [d for _, t, s, d in db.events("u1") if t == "action_unknown"]
        assert unknown == [{"idempotent": False, "retry": False}]
        assert [t for _, t, s, _ in db.events("u1") if s == "deploy"].count("action_started") == 1
        assert resume.poll() is None  # still waiting for a person
        refused = golive("resolve", "u1", "deploy", "--as", "mallory", "--outcome", answer, env=env)
        assert refused.returncode == 1
        assert "mallory holds none of the roles that may resolve 'deploy': role 'ic' is held by ian" in refused.stderr
        ok = golive("resolve", "u1", "deploy", "--as", "ian", "--outcome", answer, env=env)
        assert ok.returncode == 0, ok.stderr
        assert resume.wait(timeout=STEP_LIMIT) == 0, resume.communicate()
    finally:
        if resume.poll() is None:
            resume.kill()
        resume.communicate()
    assert _starts(tmp_path) == starts
    finished = db.finished_steps("u1")
    assert finished == {"deploy": "pass", "after": "pass"}
    resolved = [(e[3]["outcome"], e[2]) for e in db.events("u1") if e[1] == "action_resolved"]
    assert resolved == [(answer, "deploy")]
    assert golive("verify", "u1", env=env).returncode == 0


def test_an_idempotent_action_killed_in_flight_runs_again_without_a_person(tmp_path: Path) -> None:
    """The same kill on an action declared idempotent: resume marks it unknown, retries it by itself, passes."""
    env = make_env(tmp_path)
    db = Db(tmp_path / "store" / "golive.db")
    _kill_in_flight(tmp_path, _unknown_runbook(tmp_path, idempotent=True), "i1", env, db)
    res = golive("resume", "i1", "--no-prompt", "-q", env=env)
    assert res.returncode == 0, res.stderr
    types = [t for _, t, s, _ in db.events("i1") if s == "deploy"]
    assert types == ["action_started", "action_unknown", "action_resolved", "action_started", "action_finished"]
    assert _starts(tmp_path) == 2
    assert golive("verify", "i1", env=env).returncode == 0

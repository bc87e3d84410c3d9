"""Ownership and fencing with real processes and real signals, on SQLite and PostgreSQL.

Every action of the runbook appends its id to effects.log once per real execution, so a duplicate is a
line counted twice. The lease TTL is one second (GOLIVE_LEASE_TTL), so "past the lease" is short.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.acceptance import ownership_support as sup
from tests.integration.conftest import throwaway_database

ACTIONS = 30


@pytest.fixture
def postgres_database() -> Iterator[str]:
    with throwaway_database("golive_own") as url:
        yield url


def test_sigstop_owner_is_fenced_after_take_over_on_sqlite(tmp_path: Path) -> None:
    """`golive run` frozen past its lease: `golive resume` refuses and names it; `--take-over` takes the run
    (epoch 2); the old owner, continued, is refused at its next write and exits 1; every action ran once."""
    db = tmp_path / "golive.db"
    rb = sup.write_runbook(tmp_path, ACTIONS)
    env = sup.env_for(str(db))
    obs = sup.Observer(str(db))
    rid = "own-sqlite-stop"
    owner = sup.spawn(
        "run", str(rb), "--run-id", rid, "--role", "ic=ian", "--var", f"dir={tmp_path}", "--no-prompt", "-q",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        sup.wait_until(lambda: sum(sup.effects(tmp_path).values()) >= 5, "five actions done")
        sup.stop_outside_a_transaction(owner, sup.sqlite_locked(db))
        time.sleep(sup.TTL + 0.3)  # past the lease

        refused = sup.golive("resume", rid, "--no-prompt", "-q", env=env, cwd=tmp_path)
        assert refused.returncode == 1, refused.stderr
        assert f"golive run (process {owner.pid} on" in refused.stderr
        assert "--take-over" in refused.stderr

        taker = sup.spawn("resume", rid, "--take-over", "--as", "olga", "--no-prompt", "-q", env=env, cwd=tmp_path)
        sup.wait_until(lambda: obs.epochs(rid) == [1, 2], "the takeover to be recorded")
        os.kill(owner.pid, signal.SIGCONT)
        code, _, err = sup.finish(owner)
        assert code == 1
        assert "stops before any further side effect" in err, err

        limit = time.monotonic() + sup.LIMIT
        while taker.poll() is None and time.monotonic() < limit:
            obs.resolve_unknowns(rid, tmp_path)
            time.sleep(sup.POLL)
        code, _, err = sup.finish(taker)
        assert code == 0, err
    finally:
        sup.reap(owner)
    assert sup.effects(tmp_path) == {f"a{i:02d}": 1 for i in range(1, ACTIONS + 1)}
    assert obs.final_status(rid) == "passed"
    started = [e for e in obs.events(rid) if e.type == "engine_started"]
    assert [(e.data["epoch"], e.data["takeover"], e.actor) for e in started] == [
        (1, False, "golive"),
        (2, True, "olga"),
    ]
    assert obs.verify(rid) > ACTIONS


@pytest.mark.postgres
def test_sigstop_owner_is_fenced_by_a_worker_and_a_killed_worker_is_replaced_on_postgres(
    tmp_path: Path, postgres_database: str
) -> None:
    """PostgreSQL: `golive run` frozen past its lease is adopted by one of two workers (epoch 2) and, continued,
    exits 1 at its next write; the adopting worker is then killed with SIGKILL and the other one finishes the
    run (epoch 3). Every action ran exactly once and the run PASSED."""
    rb = sup.write_runbook(tmp_path, ACTIONS)
    env = sup.env_for(postgres_database)
    obs = sup.Observer(postgres_database)
    rid = "own-pg-stop"
    workers = [sup.spawn("worker", "--poll", "0.1", env=env, cwd=tmp_path) for _ in range(2)]
    owner = sup.spawn(
        "run", str(rb), "--run-id", rid, "--role", "ic=ian", "--var", f"dir={tmp_path}", "--no-prompt", "-q",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        sup.wait_until(lambda: sum(sup.effects(tmp_path).values()) >= 5, "five actions done")
        sup.stop_outside_a_transaction(owner, sup.pg_row_locked(postgres_database, rid))
        sup.wait_until(lambda: obs.epochs(rid) == [1, 2], "a worker to adopt the run")
        os.kill(owner.pid, signal.SIGCONT)
        code, _, err = sup.finish(owner)
        assert code == 1
        assert "stops before any further side effect" in err, err

        lease = obs.lease(rid)
        assert lease is not None
        if lease.epoch != 2:
            for w in workers:
                w.kill()
                print("WORKER", w.communicate()[1])
            for e in obs.events(rid):
                if e.type.startswith("engine"):
                    print(e.seq, e.ts, e.type, e.data)
        assert lease.epoch == 2
        adopter = next(w for w in workers if f":{w.pid}:" in lease.owner)
        adopter.kill()  # SIGKILL
        sup.reap(adopter)
        sup.wait_until(lambda: obs.epochs(rid) == [1, 2, 3], "the other worker to adopt the run")
        obs.resolve_until_final(rid, tmp_path)
    finally:
        sup.reap(owner, *workers)
    assert sup.effects(tmp_path) == {f"a{i:02d}": 1 for i in range(1, ACTIONS + 1)}
    assert obs.final_status(rid) == "passed"
    started = [e for e in obs.events(rid) if e.type == "engine_started"]
    epochs = [e.data["epoch"] for e in started]
    assert epochs == sorted(set(epochs))  # each owner at a higher epoch than the one before
    assert len(epochs) >= 3
    assert all(a.data["owner"] != b.data["owner"] for a, b in itertools.pairwise(started))
    assert obs.verify(rid) > ACTIONS


@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_workers_with_clocks_a_minute_off_never_take_a_healthy_run(
    tmp_path: Path, store: str, request: pytest.FixtureRequest
) -> None:
    """Two workers whose clocks run 60 s ahead and 60 s behind (GOLIVE_TEST_CLOCK_OFFSET) watch the store
    while a healthy `golive run` drives its run: lease expiry is the database's clock, so neither takes it."""
    db_url = str(tmp_path / "golive.db") if store == "sqlite" else request.getfixturevalue("postgres_database")
    rb = sup.write_runbook(tmp_path, ACTIONS)
    obs = sup.Observer(db_url)
    rid = f"own-skew-{store}"
    workers = [
        sup.spawn("worker", "--poll", "0.1", env=sup.env_for(db_url, GOLIVE_TEST_CLOCK_OFFSET=offset), cwd=tmp_path)
        for offset in ("60", "-60")
    ]
    owner = sup.spawn(
        "run", str(rb), "--run-id", rid, "--role", "ic=ian", "--var", f"dir={tmp_path}", "--no-prompt", "-q",
        env=sup.env_for(db_url), cwd=tmp_path,
    )  # fmt: skip
    try:
        code, _, err = sup.finish(owner)
        assert code == 0, err
    finally:
        sup.reap(owner, *workers)
    assert obs.epochs(rid) == [1]
    assert sup.effects(tmp_path) == {f"a{i:02d}": 1 for i in range(1, ACTIONS + 1)}
    assert obs.final_status(rid) == "passed"

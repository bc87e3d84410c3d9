"""Folded-state snapshots and the validated-runbook cache, on SQLite, PostgreSQL and the in-memory store.

A snapshot is a cache of the fold, kept in the store: read back only while the event it folded up to still
has the hash it folded (else discarded), only by the code that wrote it, and never by verify or the pack.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from golive import testing
from golive.engine import acts, driver, runner
from golive.engine import handle as handle_mod
from golive.engine import state as state_mod
from golive.results import Outcome
from golive.spec import loader
from golive.store import base as store_base
from golive.store.postgres import PostgresStore
from golive.store.sqlite import SqliteStore
from golive.views import cached, summary

RUNBOOK = """\
golive: 1
name: snapshots
roles:
  ic: {may: [decide, rollback]}
  ops: {}
triggers:
  - {id: errors, title: Error rate, then: notify}
phases:
  - id: prep
    steps:
      - {id: banner, kind: manual, role: ops, instructions: "Put up the banner."}
      - {id: home, kind: check, type: env, with: {name: HOME}}
  - id: work
    steps:
      - {id: flag, kind: check, type: env, with: {name: HOME}}
"""


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[store_base.Store]:
    s: store_base.Store
    if request.param == "memory":
        s = testing.InMemoryStore()
    elif request.param == "sqlite":
        s = SqliteStore(tmp_path / "golive.db")
    else:
        s = PostgresStore(request.getfixturevalue("postgres_database"))
    await s.open()
    yield s
    await s.close()


def snapshot_rows(s: store_base.Store) -> int:
    """Rows in the snapshots table, read behind the store's back."""
    if isinstance(s, testing.InMemoryStore):
        return len(s._snapshots)
    if isinstance(s, SqliteStore):
        with sqlite3.connect(s.path) as conn:
            return int(conn.execute("SELECT count(*) FROM snapshots").fetchone()[0])
    assert isinstance(s, PostgresStore)
    with psycopg.connect(s.url) as conn:
        row = conn.execute("SELECT count(*) FROM snapshots").fetchone()
        assert row is not None
        return int(row[0])


def evaluation(i: int) -> store_base.NewEvent:
    return store_base.NewEvent(
        "trigger_evaluated",
        step_id="flag",
        data={"trigger_id": "errors", "trigger": "errors", "value": i / 100, "state": "ok", "status": "ok"},
    )


async def finished_run(s: store_base.Store, tmp_path: Path) -> acts.RunHandle:
    """A run through the real engine and driver with a person's confirmation, a waiver, trigger readings, a
    firing, a comms record and a sign-off: a fold with most of its parts filled in."""
    path = tmp_path / "snapshots.yaml"
    path.write_text(RUNBOOK)
    h = await runner.create_run(s, loader.load(path, environ={}), roles={"ops": "olga", "ic": "ian"})
    await h.append_many([evaluation(i) for i in range(12)])
    await h.append_many(
        [
            store_base.NewEvent("trigger_fired", step_id="flag", data={"trigger": "errors", "reason": "x > 1"}),
            store_base.NewEvent(
                "comms_sent", data={"channel": "ops", "event": "phase_passed", "text": "t", "ok": True}
            ),
            store_base.NewEvent(
                "waiver_recorded", step_id="flag", actor="ian", data={"ticket": "CHG-1", "reason": "r"}
            ),
        ]
    )
    task = asyncio.create_task(driver.drive(h, runner.Engine(h, poll=0.02), owner=driver.process_owner("test")))
    view = await acts.open_run(s, h.run_id, snapshot=False)
    for _ in range(1000):
        await view.refresh()
        if view.state.step("banner").status == "waiting":
            break
        await asyncio.sleep(0.01)
    await acts.confirm(view, "banner", "olga")
    assert await asyncio.wait_for(task, 20) is state_mod.RunStatus.PASSED
    return h


async def test_a_finished_run_keeps_a_snapshot_equal_to_the_fold_of_its_log(
    store: store_base.Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handle_mod, "SNAPSHOT_EVERY", 5)
    h = await finished_run(store, tmp_path)
    kind = state_mod.snapshot_kind(h.record.runbook_digest)
    snap = await store.get_snapshot(h.run_id, kind)
    assert snap is not None
    assert (snap.seq, snap.head_hash) == (h.state.last_seq, h.state.head_hash)
    folded = state_mod.fold(h.run_id, await store.events(h.run_id), h.runbook)
    assert state_mod.load_state(snap.data) == folded
    assert folded.waivers
    assert folded.fired
    assert folded.comms
    assert folded.triggers["errors"]["history"]
    reopened = await acts.open_run(store, h.run_id)
    assert reopened.state == folded
    assert reopened.runbook == h.runbook
    assert await store.verify(h.run_id) == h.state.last_seq


async def test_a_snapshot_is_what_views_start_from_and_later_events_are_folded_on_top(
    store: store_base.Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The snapshot is read (an edited one shows), the events after it are applied; snapshot=False (the
    evidence pack) folds the log itself."""
    monkeypatch.setattr(handle_mod, "SNAPSHOT_EVERY", 5)
    h = await finished_run(store, tmp_path)
    kind = state_mod.snapshot_kind(h.record.runbook_digest)
    snap = await store.get_snapshot(h.run_id, kind)
    assert snap is not None
    marked = state_mod.load_state(snap.data)
    marked.reason = "from the snapshot"
    await store.put_snapshot(
        h.run_id, kind, store_base.Snapshot(snap.seq, snap.head_hash, state_mod.dump_state(marked))
    )
    assert (await acts.open_run(store, h.run_id)).state.reason == "from the snapshot"
    assert (await acts.open_run(store, h.run_id, snapshot=False)).state.reason != "from the snapshot"
    await h.append_many([evaluation(100 + i) for i in range(3)])
    later = await acts.open_run(store, h.run_id)
    assert later.state.last_seq == snap.seq + 3
    assert later.state.triggers["errors"]["value"] == 1.02
    assert later.state.reason == "from the snapshot"


async def test_a_snapshot_that_no_longer_matches_the_log_is_discarded(
    store: store_base.Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A snapshot whose event at its seq has another hash (a restored or rewritten log), or whose seq the
    log does not reach, is never read: the whole log is folded and the stale row deleted."""
    monkeypatch.setattr(handle_mod, "SNAPSHOT_EVERY", 5)
    h = await finished_run(store, tmp_path)
    kind = state_mod.snapshot_kind(h.record.runbook_digest)
    snap = await store.get_snapshot(h.run_id, kind)
    assert snap is not None
    wrong = state_mod.load_state(snap.data)
    wrong.reason = "stale"
    for seq, head in ((snap.seq, "f" * 64), (snap.seq + 50, snap.head_hash)):
        await store.put_snapshot(h.run_id, kind, store_base.Snapshot(seq, head, state_mod.dump_state(wrong)))
        rows = snapshot_rows(store)
        assert await store.get_snapshot(h.run_id, kind) is None
        assert snapshot_rows(store) == rows - 1
    monkeypatch.setattr(handle_mod, "SNAPSHOT_EVERY", 10_000)  # the fold below must not keep a new one
    await store.put_snapshot(h.run_id, kind, store_base.Snapshot(snap.seq, "0" * 64, state_mod.dump_state(wrong)))
    reopened = await acts.open_run(store, h.run_id)
    assert reopened.state == state_mod.fold(h.run_id, await store.events(h.run_id), h.runbook)
    assert reopened.state.reason != "stale"


async def test_a_snapshot_that_is_not_a_state_is_ignored(
    store: store_base.Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handle_mod, "SNAPSHOT_EVERY", 5)
    h = await finished_run(store, tmp_path)
    kind = state_mod.snapshot_kind(h.record.runbook_digest)
    for junk in ("not json", "[]", '{"run_id": "x"}'):
        await store.put_snapshot(h.run_id, kind, store_base.Snapshot(h.state.last_seq, h.state.head_hash, junk))
        reopened = await acts.open_run(store, h.run_id)
        assert reopened.state == state_mod.fold(h.run_id, await store.events(h.run_id), h.runbook)


async def test_the_validated_runbook_is_cached_and_read_without_validating_the_text_again(
    store: store_base.Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = await finished_run(store, tmp_path)
    first = await acts.open_run(store, h.run_id)  # validates the stored text and caches the result
    assert first.runbook == h.runbook

    def no_validation(*a: object, **kw: object) -> loader.LoadedRunbook:
        raise AssertionError("validated the stored text again")

    monkeypatch.setattr(loader, "load_text", no_validation)
    second = await acts.open_run(store, h.run_id)
    assert second.runbook == h.runbook
    assert second.loaded.digest == first.loaded.digest
    assert second.loaded.vars == first.loaded.vars
    # Another version of the format's code never reads this cache.
    monkeypatch.setattr(loader, "validated_code_digest", lambda: "another")
    with pytest.raises(AssertionError, match="validated the stored text again"):
        await acts.open_run(store, h.run_id)


async def test_a_kept_summary_is_read_back_only_at_the_run_s_last_event_and_by_this_code(
    store: store_base.Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``golive status`` keeps a finished run's summary (golive.views.cached): read back it equals the summary
    made from the log, as JSON; once the run has another event, or under other code, it is not read."""
    h = await finished_run(store, tmp_path)
    view = await acts.open_run(store, h.run_id)
    made = summary.summarize(view)
    await cached.keep_summary(store, view.record, view.state.last_seq, view.state.head_hash, made)
    assert await cached.cached_summary(store, view.record) == json.loads(json.dumps(made, default=str))
    monkeypatch.setattr(cached, "code_digest", lambda: "another")
    assert await cached.cached_summary(store, view.record) is None
    monkeypatch.undo()
    await h.append_many([evaluation(200)])  # e.g. a sign-off after the end: the summary is of an earlier head
    assert await cached.cached_summary(store, view.record) is None


async def test_a_kept_summary_whose_event_was_rewritten_is_discarded(store: store_base.Store, tmp_path: Path) -> None:
    """Like every snapshot: a summary whose seq no longer has the hash it was made at is never shown."""
    h = await finished_run(store, tmp_path)
    view = await acts.open_run(store, h.run_id)
    made = summary.summarize(view)
    await cached.keep_summary(store, view.record, view.state.last_seq, "f" * 64, made)
    assert await cached.cached_summary(store, view.record) is None


def test_status_of_a_finished_run_shows_the_same_from_its_kept_summary_without_the_models(tmp_path: Path) -> None:
    """The first ``golive status`` of a finished run keeps its summary; the next prints exactly the same text
    and JSON without importing the runbook models or the engine (most of the command's time)."""
    db = tmp_path / "golive.db"

    async def make() -> str:
        s = SqliteStore(db)
        await s.open()
        try:
            return (await finished_run(s, tmp_path)).run_id
        finally:
            await s.close()

    run_id = asyncio.run(make())
    env = {**os.environ, "COLUMNS": "150"}
    outs = []
    for args in (["status", run_id], ["status", run_id], ["status", run_id, "--json"], ["status", run_id, "--json"]):
        done = subprocess.run(
            [sys.executable, "-c", STATUS_IMPORTS, *args, "--db", str(db)],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
        outs.append((done.stdout, done.stderr.strip().splitlines()[-1]))
    assert outs[0][1] == "exit 0 ['golive.engine.acts', 'golive.spec.models']"  # made from the log, then kept
    assert [imported for _, imported in outs[1:]] == ["exit 0 []"] * 3
    assert outs[1][0] == outs[0][0]
    assert "banner" in outs[0][0]
    assert outs[3][0] == outs[2][0]
    assert json.loads(outs[2][0])["run_id"] == run_id


STATUS_IMPORTS = (
    "import sys, runpy\n"
    "try:\n    runpy.run_module('golive', run_name='__main__')\n"
    "except SystemExit as exc:\n"
    "    print('exit', exc.code, sorted(m for m in ('golive.spec.models', 'golive.engine.acts') if m in sys.modules),"
    " file=sys.stderr)\n"
)


def test_golive_run_keeps_the_summary_so_the_first_status_reads_it(tmp_path: Path) -> None:
    """A run that ends under ``golive run`` keeps its summary: the first ``golive status`` already reads it."""
    path = tmp_path / "short.yaml"
    path.write_text(
        "golive: 1\nname: short\nroles:\n  ic: {}\nphases:\n  - id: p\n    steps:\n"
        "      - {id: home, kind: check, type: env, with: {name: HOME}}\n"
    )
    db = f"sqlite:///{tmp_path / 'golive.db'}"
    env = {**os.environ, "COLUMNS": "150"}
    ran = subprocess.run(
        [sys.executable, "-m", "golive", "run", str(path), "--db", db, "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    done = subprocess.run(
        [sys.executable, "-c", STATUS_IMPORTS, "status", "--db", db],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.stderr.strip().splitlines()[-1] == "exit 0 []", done.stderr
    assert "home" in done.stdout


def test_dump_and_load_state_round_trip_every_field() -> None:
    st = state_mod.RunState("r1", status=state_mod.RunStatus.ROLLED_BACK, phase_times={"p": ("a", None)})
    st.steps["s"] = state_mod.StepState("s", "p", status="done", outcome=Outcome.WARN, output={"k": [1]})
    st.last_seq, st.head_hash = 7, "ab" * 32
    assert state_mod.load_state(state_mod.dump_state(st)) == st
    with pytest.raises(ValueError, match="not a folded run state"):
        state_mod.load_state('{"run_id": "r1"}')


@pytest.mark.parametrize("example", sorted(p.name for p in (Path(__file__).parents[2] / "examples").glob("*.yaml")))
def test_every_example_runbook_is_cached_and_read_back_equal(example: str) -> None:
    path = Path(__file__).parents[2] / "examples" / example
    loaded = loader.load_text(path.read_text(encoding="utf-8"), str(path), environ={})
    back = loader.undump_loaded(loader.dump_loaded(loaded), loaded.text)
    assert back.runbook == loaded.runbook
    assert (back.digest, back.vars, back.var_sources) == (loaded.digest, loaded.vars, loaded.var_sources)

"""Store pieces without I/O: hashing, SQL file parsing, URL choice, prefix resolution, head checks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from golive import exceptions, store, testing
from golive.store import base, common, sqlfiles
from golive.store.postgres import PostgresStore
from golive.store.sqlite import SqliteStore, split_statements

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@given(
    data=st.dictionaries(st.text(), json_values, max_size=5),
    actor=st.none() | st.text(),
    step_id=st.none() | st.text(),
    run_id=st.text(min_size=1),
    seq=st.integers(min_value=1, max_value=2**53),
)
def test_hash_from_json_text_equals_hash_from_data(
    data: dict[str, Any], actor: str | None, step_id: str | None, run_id: str, seq: int
) -> None:
    """The writers' fast path (data already encoded) hashes exactly what verify recomputes."""
    data_json = base.canonical_json(data)
    assert base.event_hash_from_json(run_id, seq, "t", "x", step_id, actor, data_json, base.GENESIS) == (
        base.event_hash(run_id, seq, "t", "x", step_id, actor, data, base.GENESIS)
    )


def test_any_changed_field_changes_the_hash() -> None:
    ev = base.seal_event("r", 1, "2026-01-01T00:00:00.000000Z", "x", None, "dana", '{"a":1}', base.GENESIS)
    assert ev.hash == ev.computed_hash()
    for change in ({"actor": "eve"}, {"data": {"a": 2}}, {"seq": 2}, {"ts": "2026-01-01T00:00:01.000000Z"}):
        assert base.Event(**{**ev.as_dict(), **change}).computed_hash() != ev.hash


# SQL files -----------------------------------------------------------------------------------------------


def test_parse_queries_splits_named_blocks() -> None:
    text = "-- header\n\n-- name: one\nSELECT 1\n\n-- name: two\n-- what it does\nSELECT 2\n"
    assert sqlfiles.parse_queries(text, "q.sql") == {"one": "SELECT 1", "two": "-- what it does\nSELECT 2"}


def test_parse_queries_refuses_a_duplicate_name() -> None:
    with pytest.raises(exceptions.StoreError, match=r"q.sql:3: query 'one' is defined twice"):
        sqlfiles.parse_queries("-- name: one\nSELECT 1\n-- name: one\nSELECT 2\n", "q.sql")


def test_parse_queries_refuses_sql_outside_a_block() -> None:
    with pytest.raises(exceptions.StoreError, match="before the first"):
        sqlfiles.parse_queries("SELECT 0\n-- name: one\nSELECT 1\n", "q.sql")


def test_both_dialects_have_the_same_queries_and_schema_versions() -> None:
    """Every store operation exists for SQLite and PostgreSQL, and both schemas move in step."""
    # run_tail: one statement there; PostgreSQL locks first, then reads (run_tails). known_blobs: SQLite keeps
    # blobs as files and answers blob_files in one query; PostgreSQL keeps them in the database (no files).
    # insert_head: SQLite keeps the chain's head in a table of its own (schema version 6), PostgreSQL in runs.
    sqlite_only = {"run_tail", "known_blobs", "insert_head"}
    postgres_only = {"migration_lock", "lock_runs", "run_tails", "notify", "get_blob"}
    sqlite_names = set(sqlfiles.load_queries("sqlite"))
    postgres_names = set(sqlfiles.load_queries("postgres"))
    assert sqlite_names - sqlite_only == postgres_names - postgres_only
    sqlite_versions = [m.version for m in sqlfiles.load_migrations("sqlite")]
    assert sqlite_versions == [m.version for m in sqlfiles.load_migrations("postgres")]
    assert sqlite_versions == list(range(1, len(sqlite_versions) + 1))


def test_split_statements_keeps_a_trigger_whole() -> None:
    script = "CREATE TABLE t (a);\n-- c\nCREATE TRIGGER x BEFORE DELETE ON t\nBEGIN\n  SELECT 1;\nEND;\n-- end\n"
    parts = split_statements(script)
    assert len(parts) == 2
    assert parts[1].endswith("END;")


def test_split_statements_refuses_an_unfinished_statement() -> None:
    with pytest.raises(exceptions.StoreError, match="incomplete"):
        split_statements("CREATE TABLE t (a);\nCREATE TABLE u (b)\n")


# choosing a store from a URL -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("ops/golive.db", "ops/golive.db"),
        ("sqlite:///ops/golive.db", "ops/golive.db"),
        ("sqlite:////var/lib/golive/golive.db", "/var/lib/golive/golive.db"),
        ("SQLITE:///x.db", "x.db"),
    ],
)
def test_file_urls_make_a_sqlite_store(url: str, path: str) -> None:
    s = store.open_store(url)
    assert isinstance(s, SqliteStore)
    assert s.path == Path(path)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
def test_postgres_urls_make_a_postgres_store_with_a_libpq_url(scheme: str) -> None:
    s = store.open_store(f"{scheme}://golive@db.internal:5432/golive")
    assert isinstance(s, PostgresStore)
    assert s.url == "postgresql://golive@db.internal:5432/golive"


def test_memory_url_makes_an_in_memory_store() -> None:
    assert isinstance(store.open_store("memory://"), testing.InMemoryStore)


def test_environment_variable_is_used_when_no_url_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(store.ENV_VAR, "sqlite:///from-env.db")
    s = store.open_store(None)
    assert isinstance(s, SqliteStore)
    assert s.path == Path("from-env.db")


def test_default_is_dot_golive_in_the_working_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(store.ENV_VAR, raising=False)
    s = store.open_store()
    assert isinstance(s, SqliteStore)
    assert s.path == Path(".golive/golive.db")


def test_unknown_scheme_is_a_usage_error_with_the_fix_and_no_password() -> None:
    with pytest.raises(exceptions.UsageError, match="unknown scheme 'mysql'") as info:
        store.open_store("mysql://ops:hunter2@db/golive")
    assert "hunter2" not in str(info.value)
    assert "postgresql://user@host:5432/dbname" in str(info.value)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite://host/x.db", ":memory:", "sqlite:///:memory:"])
def test_sqlite_url_without_a_file_is_a_usage_error(url: str) -> None:
    with pytest.raises(exceptions.UsageError):
        store.open_store(url)


def test_describe_url_masks_the_password() -> None:
    assert store.describe_url("postgresql://golive:pw@db/golive") == "postgresql://golive:***@db/golive"
    assert common.redact_url("postgresql://golive@db/golive") == "postgresql://golive@db/golive"


# run ids, heads, events ----------------------------------------------------------------------------------


def test_prefix_resolution() -> None:
    assert base.resolve_run_prefix("7f", ["7f3a"]) == "7f3a"
    assert base.resolve_run_prefix("run-1", ["run-1", "run-10"]) == "run-1"
    with pytest.raises(exceptions.UsageError, match="run-10, run-11"):
        base.resolve_run_prefix("run-1", ["run-11", "run-10"])
    with pytest.raises(exceptions.NotFound):
        base.resolve_run_prefix("x", [])


def test_check_head_names_the_first_missing_seq() -> None:
    evs = [base.seal_event("r", 1, "t", "x", None, None, "{}", base.GENESIS)]
    base.check_head("r", evs, 1, evs[0].hash)
    with pytest.raises(exceptions.ChainBroken) as info:
        base.check_head("r", evs, 3, "f" * 64)
    assert info.value.seq == 2
    with pytest.raises(exceptions.ChainBroken):
        base.check_head("r", evs, 1, "f" * 64)


@pytest.mark.parametrize("field", ["type", "step_id", "actor"])
def test_nul_in_event_names_is_refused(field: str) -> None:
    """PostgreSQL text cannot hold NUL; every store refuses it the same way."""
    fields: dict[str, Any] = {"type": "x", field: "a\x00b"}
    event = base.NewEvent(**fields)
    with pytest.raises(exceptions.UsageError, match="NUL"):
        common.prepare_event(event)


def test_prepared_event_carries_data_as_json_reads_it_back() -> None:
    p = common.prepare_event(base.NewEvent("x", data={"t": (1, 2)}, ts=datetime(2026, 1, 1, tzinfo=UTC)))
    assert p.data == {"t": [1, 2]}
    assert p.data_json == '{"t":[1,2]}'
    assert p.ts == "2026-01-01T00:00:00.000000Z"


def test_malformed_digests_are_refused() -> None:
    for bad in ("", "ABC", "g" * 64, "../" + "a" * 61, "a" * 65):
        with pytest.raises(exceptions.UsageError):
            common.check_digest(bad)
    assert common.check_digest("a" * 64) == "a" * 64


def test_public_surface_of_golive_store_is_pinned() -> None:
    """What the engine, CLI and server may import from golive.store; a change here is an API change."""
    assert sorted(store.__all__) == sorted(
        [
            "DEFAULT_PATH",
            "ENV_VAR",
            "BlobInfo",
            "Event",
            "Lease",
            "NewEvent",
            "RunRecord",
            "Store",
            "TokenRecord",
            "describe_url",
            "discover",
            "open_store",
            "resolve_url",
            "verify_chain",
        ]
    )

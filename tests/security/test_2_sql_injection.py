"""Issue item 2: a templated value reaches SQL only as a bound parameter. A reference in SQL text is refused
by `validate` with the fix; a var that holds a query on purpose is declared `type: sql`, may be set only by
the runbook or at the start, and is recorded as code."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from golive import exceptions
from golive.engine import runner
from golive.spec import loader
from golive.store import open_store

Cli = Callable[..., subprocess.CompletedProcess[str]]
INJECTION = "x' OR '1'='1"

PASTED = """
golive: 1
name: sqli
vars:
  x: {default: a}
phases:
  - id: p
    steps:
      - id: count
        kind: check
        type: sql
        with:
          url: "sqlite:///DB"
          query: "SELECT count(*) FROM t WHERE v = '${{ vars.x }}'"
          expect: {scalar: 0}
"""

BOUND = """
golive: 1
name: sqli-bound
vars:
  x: {default: a}
  audit_query: {type: sql, default: "SELECT count(*) FROM t"}
phases:
  - id: p
    steps:
      - id: count
        kind: check
        type: sql
        with:
          url: "sqlite:///DB"
          query: "SELECT count(*) FROM t WHERE v = :x"
          parameters: {x: "${{ vars.x }}"}
          expect: {scalar: 0}
      - id: audit
        kind: check
        type: sql
        with: {url: "sqlite:///DB", query: "${{ vars.audit_query }}", expect: {scalar: 2}}
"""


def _db(tmp_path: Path) -> Path:
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (v TEXT)")
        conn.executemany("INSERT INTO t VALUES (?)", [("b",), ("c",)])
    return db


def test_validate_refuses_a_var_pasted_into_sql_text(cli: Cli, tmp_path: Path) -> None:
    db = _db(tmp_path)
    (tmp_path / "sqli.yaml").write_text(PASTED.replace("DB", str(db)), encoding="utf-8")
    v = cli("validate", "sqli.yaml")
    assert v.returncode == 2
    assert "sqli.yaml:14:" in v.stdout
    assert "inside SQL text" in v.stdout
    assert "parameters:" in v.stdout
    r = cli("run", "sqli.yaml", "--var", f"x={INJECTION}")
    assert r.returncode == 2


async def test_a_bound_parameter_matches_nothing_and_a_sql_var_runs_and_is_recorded(tmp_path: Path) -> None:
    db = _db(tmp_path)
    rb = tmp_path / "bound.yaml"
    rb.write_text(BOUND.replace("DB", str(db)), encoding="utf-8")
    store = open_store(str(tmp_path / "golive.db"))
    await store.open()
    try:
        loaded = loader.load(rb, var_overrides={"x": INJECTION}, environ={})
        handle = await runner.create_run(store, loaded)
        status = await runner.Engine(handle).run()
        assert status.value == "passed"
        created = (await store.events(handle.run_id))[0]
        assert created.data["code_vars"] == ["audit_query"]
        assert created.data["var_sources"]["audit_query"] == "runbook"
        assert created.data["var_sources"]["x"] == "start"
        with pytest.raises(exceptions.UsageError, match="set only by the runbook or when the run starts"):
            runner.Engine(handle, var_overrides={"audit_query": "DELETE FROM t"})
    finally:
        await store.close()


def test_a_sql_var_is_not_taken_from_the_environment(tmp_path: Path) -> None:
    rb = tmp_path / "bound.yaml"
    rb.write_text(BOUND.replace("DB", str(tmp_path / "app.db")), encoding="utf-8")
    with pytest.raises(exceptions.RunbookInvalid, match="GOLIVE_VAR_AUDIT_QUERY"):
        loader.load(rb, environ={"GOLIVE_VAR_AUDIT_QUERY": "DELETE FROM t"})


def test_only_a_whole_sql_typed_var_may_stand_for_sql(tmp_path: Path) -> None:
    """A string var as the whole query, or a sql var inside other SQL text, is refused with the hint."""
    rb = tmp_path / "bad.yaml"
    rb.write_text(
        BOUND.replace("DB", str(tmp_path / "app.db")).replace(
            'query: "${{ vars.audit_query }}"', 'query: "${{ vars.x }}"'
        ),
        encoding="utf-8",
    )
    with pytest.raises(exceptions.RunbookInvalid, match=r"declare vars\.x 'type: sql'"):
        loader.load(rb, environ={})

"""SQL check, action and metric source on real SQLite files and a throwaway PostgreSQL database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from golive.plugins.actions.basic import SqlAction, SqlActionParams
from golive.plugins.checks.sql import SqlCheck, SqlParams
from golive.plugins.metrics.sources import SqlMetric, SqlMetricParams
from golive.results import Outcome
from golive.testing import make_ctx


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY, state TEXT)")
        conn.executemany("INSERT INTO outbox (state) VALUES (?)", [("sent",), ("pending",), ("sent",)])
    return f"sqlite:///{db}"


async def test_sql_check_scalar_passes(sqlite_url: str) -> None:
    """`scalar: 2` passes when the query returns 2."""
    p = SqlParams(
        url=sqlite_url,
        query="SELECT count(*) FROM outbox WHERE state = :s",
        parameters={"s": "sent"},
        expect={"scalar": 2},
    )
    result = await SqlCheck().run(make_ctx(p))
    assert result.outcome is Outcome.PASS, result.summary
    assert result.output["scalar"] == 2
    assert result.summary == "scalar=2, expected == 2"


async def test_sql_check_summaries_show_the_value_judged_and_the_expectation(sqlite_url: str) -> None:
    """A row count that drifted reads `row_count=2, expected == 1`, a pass `row_count=2, expected >= 1`, and a
    query with no expectation still shows its scalar rather than `1 row`."""
    drift = SqlParams(url=sqlite_url, query="SELECT * FROM outbox WHERE state = 'sent'", expect={"row_count": 1})
    result = await SqlCheck().run(make_ctx(drift))
    assert (result.outcome, result.summary) == (Outcome.FAIL, "row_count=2, expected == 1")
    enough = SqlParams(url=sqlite_url, query="SELECT * FROM outbox WHERE state = 'sent'", expect={"min_rows": 1})
    result = await SqlCheck().run(make_ctx(enough))
    assert (result.outcome, result.summary) == (Outcome.PASS, "row_count=2, expected >= 1")
    bare = SqlParams(url=sqlite_url, query="SELECT count(*) FROM outbox")
    result = await SqlCheck().run(make_ctx(bare))
    assert result.summary == "1 row, scalar=3 (no expectation)"
    cond = SqlParams(url=sqlite_url, query="SELECT count(*) FROM outbox", expect="scalar < 5")
    result = await SqlCheck().run(make_ctx(cond))
    assert (result.outcome, result.summary) == (Outcome.PASS, "`scalar < 5` holds (scalar=3)")


async def test_sql_check_scalar_fail_says_seen_and_expected(sqlite_url: str) -> None:
    """`scalar: 0` fails with `scalar=1, expected == 0`."""
    p = SqlParams(url=sqlite_url, query="SELECT count(*) FROM outbox WHERE state = 'pending'", expect={"scalar": 0})
    result = await SqlCheck().run(make_ctx(p))
    assert result.outcome is Outcome.FAIL
    assert result.summary == "scalar=1, expected == 0"


async def test_sql_check_rows_and_row_count(sqlite_url: str) -> None:
    """Exact rows and a row count are compared."""
    p = SqlParams(
        url=sqlite_url,
        query="SELECT id, state FROM outbox ORDER BY id",
        expect={"rows": [[1, "sent"], [2, "pending"], [3, "sent"]], "row_count": 3},
    )
    result = await SqlCheck().run(make_ctx(p))
    assert result.outcome is Outcome.PASS, result.summary


async def test_sql_check_condition_fails_with_the_value_seen(sqlite_url: str) -> None:
    """A condition over the scalar fails and says the value it saw."""
    p2 = SqlParams(url=sqlite_url, query="SELECT count(*) FROM outbox WHERE state != 'sent'", expect="scalar == 0")
    result = await SqlCheck().run(make_ctx(p2))
    assert result.outcome is Outcome.FAIL
    assert "scalar=1" in result.summary


async def test_sql_check_bad_query_is_an_error(sqlite_url: str) -> None:
    """A query against a missing table is an ERROR with the database's reason."""
    result = await SqlCheck().run(make_ctx(SqlParams(url=sqlite_url, query="SELECT * FROM nope")))
    assert result.outcome is Outcome.ERROR
    assert "no such table: nope" in result.summary


async def test_sql_check_unreachable_database_is_an_error_without_password(closed_port: int) -> None:
    """A database that does not answer is an ERROR; the password in the URL is never shown."""
    url = f"postgresql+psycopg://golive:pa55word@127.0.0.1:{closed_port}/x?connect_timeout=2"
    result = await SqlCheck().run(make_ctx(SqlParams(url=url, query="SELECT 1"), timeout=10))
    assert result.outcome is Outcome.ERROR
    assert "pa55word" not in result.model_dump_json()


async def test_sql_check_is_rolled_back(sqlite_url: str) -> None:
    """A check never commits, even if its query writes."""
    p = SqlParams(url=sqlite_url, query="DELETE FROM outbox")
    await SqlCheck().run(make_ctx(p))
    count = await SqlCheck().run(
        make_ctx(SqlParams(url=sqlite_url, query="SELECT count(*) FROM outbox", expect={"scalar": 3}))
    )
    assert count.outcome is Outcome.PASS, count.summary


async def test_sql_action_commits(sqlite_url: str) -> None:
    """The SQL action commits its statements."""
    p = SqlActionParams(url=sqlite_url, sql="UPDATE outbox SET state = 'sent' WHERE state = 'pending'")
    result = await SqlAction().run(make_ctx(p))
    assert result.outcome is Outcome.PASS
    assert result.output["row_count"] == 1
    check = await SqlCheck().run(
        make_ctx(
            SqlParams(url=sqlite_url, query="SELECT count(*) FROM outbox WHERE state='sent'", expect={"scalar": 3})
        )
    )
    assert check.outcome is Outcome.PASS


async def test_sql_action_wrong_row_count_rolls_back(sqlite_url: str) -> None:
    """`expect_row_count` that does not match fails and changes nothing."""
    p = SqlActionParams(url=sqlite_url, sql="DELETE FROM outbox", expect_row_count=1)
    result = await SqlAction().run(make_ctx(p))
    assert result.outcome is Outcome.FAIL
    assert "3 rows affected, expected 1" in result.summary
    check = await SqlCheck().run(
        make_ctx(SqlParams(url=sqlite_url, query="SELECT count(*) FROM outbox", expect={"scalar": 3}))
    )
    assert check.outcome is Outcome.PASS


def test_sql_action_describe_hides_the_password() -> None:
    """The dry-run text names the database without its password."""
    p = SqlActionParams(url="postgresql+psycopg://app:pa55word@db/prod", sql="UPDATE flags SET on = false")
    text = SqlAction().describe(make_ctx(p))
    assert "pa55word" not in text
    assert "UPDATE flags SET on = false" in text


async def test_sql_metric_scalar_and_no_rows(sqlite_url: str) -> None:
    """The SQL source reads a scalar; no rows and NULL are no data."""
    ok = await SqlMetric().read(make_ctx(SqlMetricParams(url=sqlite_url, query="SELECT count(*) FROM outbox")))
    none = await SqlMetric().read(make_ctx(SqlMetricParams(url=sqlite_url, query="SELECT id FROM outbox WHERE 0")))
    null = await SqlMetric().read(make_ctx(SqlMetricParams(url=sqlite_url, query="SELECT max(id) FROM outbox WHERE 0")))
    assert ok.value == 3.0
    assert none.status == "no_data"
    assert null.status == "no_data"


@pytest.mark.postgres
async def test_sql_plugins_on_postgresql(postgres_url: str) -> None:
    """Action, check and metric work against PostgreSQL through psycopg's async driver."""
    setup = SqlActionParams(
        url=postgres_url,
        sql=[
            "CREATE TABLE ledger (id serial PRIMARY KEY, amount numeric(10,2))",
            "INSERT INTO ledger (amount) VALUES (10.50), (-10.50)",
        ],
    )
    assert (await SqlAction().run(make_ctx(setup))).outcome is Outcome.PASS
    check = SqlParams(url=postgres_url, query="SELECT sum(amount) FROM ledger", expect={"scalar": 0})
    result = await SqlCheck().run(make_ctx(check))
    assert result.outcome is Outcome.PASS, result.summary
    reading = await SqlMetric().read(make_ctx(SqlMetricParams(url=postgres_url, query="SELECT count(*) FROM ledger")))
    assert reading.value == 2.0


@pytest.mark.postgres
async def test_sql_check_postgres_error_is_an_error(postgres_url: str) -> None:
    """A PostgreSQL error (missing relation) is an ERROR with its message."""
    result = await SqlCheck().run(make_ctx(SqlParams(url=postgres_url, query="SELECT * FROM missing_table")))
    assert result.outcome is Outcome.ERROR
    assert "missing_table" in result.summary

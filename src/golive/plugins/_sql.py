"""SQL for checks, actions and metric sources: any database by SQLAlchemy URL.

Where the dialect has an asyncio driver (sqlite via aiosqlite, postgresql+psycopg, asyncpg, aiomysql)
the query runs on SQLAlchemy's async engine; otherwise it runs on the sync engine in a worker thread,
so a slow database never blocks the event loop. Engines are made per call with no pool: a check runs
once, and a pooled connection left open would outlive the step.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from golive.exceptions import SqlFailure

if TYPE_CHECKING:
    import sqlalchemy as sa

# SQLAlchemy is imported where it is used: loading the plugin registry (every CLI command, every pre-flight)
# must not pay its ~0.15 s import when no step talks to a database.

__all__ = ["SqlFailure", "SqlResult", "async_url", "execute", "safe_url"]

MAX_ROWS = 10_000  # rows fetched by a check; a check that needs more is asking the wrong question


@dataclass(frozen=True, slots=True)
class SqlResult:
    """Columns, rows (JSON-friendly values) and the affected row count of one statement."""

    columns: list[str]
    rows: list[list[Any]]
    rowcount: int
    truncated: bool

    @property
    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r, strict=False)) for r in self.rows]


def safe_url(url: str) -> str:
    """The URL with its password masked, for summaries and dry runs."""
    from sqlalchemy import exc as sa_exc
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (sa_exc.ArgumentError, ValueError):
        return "<invalid database URL>"


# Dialects whose default driver is sync but have an async one we can use instead.
_ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "psycopg"}


def async_url(url: str) -> sa.URL | None:
    """The URL for the async engine, or None when the dialect has no async driver here."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    backend, _, driver = u.drivername.partition("+")
    if driver in ("aiosqlite", "asyncpg", "psycopg", "aiomysql", "asyncmy", "psycopg_async"):
        return u
    if backend in _ASYNC_DRIVERS and driver in ("", "pysqlite", "psycopg2"):
        wanted = _ASYNC_DRIVERS[backend]
        try:
            __import__(wanted)
        except ImportError:
            return None
        return u.set(drivername=f"{backend}+{wanted}")
    return None


def _jsonable(v: Any) -> Any:
    if isinstance(v, decimal.Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, dt.timedelta):
        return v.total_seconds()
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(v)).decode()
    return v


def _collect(result: sa.CursorResult[Any], fetch: bool) -> SqlResult:
    if fetch and result.returns_rows:
        columns = list(result.keys())
        raw = result.fetchmany(MAX_ROWS + 1)
        truncated = len(raw) > MAX_ROWS
        rows = [[_jsonable(v) for v in r] for r in raw[:MAX_ROWS]]
        return SqlResult(columns=columns, rows=rows, rowcount=len(rows), truncated=truncated)
    return SqlResult(columns=[], rows=[], rowcount=max(result.rowcount, 0), truncated=False)


def _describe_error(exc: Exception, url: str) -> str:
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None:
        text = str(exc.orig).strip().splitlines()
        reason = text[0] if text else type(exc.orig).__name__
        if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
            return f"database {safe_url(url)}: {reason}"
        return reason
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


async def execute(
    url: str,
    statements: Sequence[str],
    parameters: Mapping[str, Any] | None = None,
    *,
    timeout: float,  # noqa: ASYNC109  # the boundary owns its deadline; seconds, for connecting and every statement
    write: bool = False,
) -> SqlResult:
    """Run statements in one transaction (committed when ``write``) and return the last one's result."""
    from golive.plugins import _stubbed as stubs

    transport, recorder = stubs.active(), stubs.recording()
    if transport is not None:  # a stubbed rehearsal: the stubs answer in place of the database
        return await transport.sql(url, statements)
    if recorder is not None:  # recording: run it for real, keep its answer
        with stubs.activate(None, None):
            res = await execute(url, statements, parameters, timeout=timeout, write=write)
        recorder.sql(statements, res)
        return res
    import asyncio

    from sqlalchemy import exc as sa_exc

    try:
        aurl = async_url(url)
    except sa_exc.ArgumentError as exc:
        raise SqlFailure(f"invalid database URL: {exc}") from None
    params = dict(parameters or {})
    try:
        async with asyncio.timeout(timeout):
            if aurl is not None:
                return await _run_async(aurl, statements, params, write)
            return await asyncio.to_thread(_run_sync, url, statements, params, write)
    except TimeoutError:
        raise SqlFailure(f"database {safe_url(url)}: no answer within {timeout:g} s") from None
    except (sa_exc.SQLAlchemyError, OSError) as exc:
        raise SqlFailure(_describe_error(exc, url)) from None
    except ModuleNotFoundError as exc:
        raise SqlFailure(f"database driver {exc.name!r} is not installed for {safe_url(url)}") from None


async def _run_async(url: sa.URL, statements: Sequence[str], params: dict[str, Any], write: bool) -> SqlResult:
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            result = SqlResult(columns=[], rows=[], rowcount=0, truncated=False)
            for i, stmt in enumerate(statements):
                res = await conn.execute(sa.text(stmt), params)
                result = _collect(res, fetch=i == len(statements) - 1)
            if write:
                await conn.commit()
            else:
                await conn.rollback()
            return result
    finally:
        await engine.dispose()


def _run_sync(url: str, statements: Sequence[str], params: dict[str, Any], write: bool) -> SqlResult:
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            result = SqlResult(columns=[], rows=[], rowcount=0, truncated=False)
            for i, stmt in enumerate(statements):
                res = conn.execute(sa.text(stmt), params)
                result = _collect(res, fetch=i == len(statements) - 1)
            if write:
                conn.commit()
            else:
                conn.rollback()
            return result
    finally:
        engine.dispose()

"""The event store: pick an implementation from a URL.

``open_store(url)`` chooses where events go; nothing is connected until ``await store.open()``::

    store = open_store()                     # $GOLIVE_DATABASE_URL, else .golive/golive.db
    store = open_store("ops/golive.db")      # a SQLite file (plain path)
    store = open_store("sqlite:////var/lib/golive/golive.db")
    store = open_store("postgresql://golive@db.internal:5432/golive")
    store = open_store("memory://")          # golive.testing.InMemoryStore, gone at exit

Drivers are imported only by the implementation chosen, so importing this package stays cheap.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from golive import exceptions
from golive.store import common
from golive.store.base import (
    BlobInfo,
    Event,
    Lease,
    NewEvent,
    RunRecord,
    Store,
    TokenRecord,
    verify_chain,
)

if TYPE_CHECKING:
    from golive import clock as clock_mod

__all__ = [
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
    "open_store",
    "resolve_url",
    "verify_chain",
]

ENV_VAR = "GOLIVE_DATABASE_URL"
DEFAULT_PATH = ".golive/golive.db"  # relative to the working directory
# Test hook: shift this process's wall clock by this many seconds, as a host with a skewed clock would be.
CLOCK_OFFSET_ENV = "GOLIVE_TEST_CLOCK_OFFSET"

_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<rest>.*)$", re.DOTALL)
_POSTGRES_SCHEMES = {"postgresql", "postgres", "postgresql+psycopg", "postgres+psycopg"}
_FIX = (
    "use a file path (.golive/golive.db), sqlite:///relative/path.db, sqlite:////absolute/path.db "
    "or postgresql://user@host:5432/dbname"
)


def resolve_url(url: str | None = None) -> str:
    """The store URL in effect: ``url``, else $GOLIVE_DATABASE_URL, else the default path."""
    if url:
        return url
    return os.environ.get(ENV_VAR) or DEFAULT_PATH


def describe_url(url: str | None = None) -> str:
    """The store URL in effect, with any password masked: safe to print."""
    return common.redact_url(resolve_url(url))


def open_store(url: str | None = None, *, clock: clock_mod.Clock | None = None, migrate: bool = True) -> Store:
    """A store for ``url`` (not yet opened: ``await store.open()``, or ``async with``).

    ``migrate=False`` leaves the schema alone on open (``golive db upgrade`` uses it to show the version
    before migrating). A bad URL raises UsageError naming the fix.
    """
    target = resolve_url(url)
    if clock is None and os.environ.get(CLOCK_OFFSET_ENV):
        clock = _offset_clock(os.environ[CLOCK_OFFSET_ENV])
    match = _SCHEME.match(target)
    if match is None:
        return _sqlite(target, clock, migrate)
    scheme, rest = match.group("scheme").lower(), match.group("rest")
    if scheme == "sqlite":
        # SQLAlchemy's form: sqlite:///relative.db and sqlite:////absolute.db (three slashes, then the path).
        if not rest.startswith("/") or len(rest) < 2:
            raise exceptions.UsageError(f"store URL {target!r} has no file path; {_FIX}")
        return _sqlite(rest[1:], clock, migrate)
    if scheme in _POSTGRES_SCHEMES:
        from golive.store import postgres

        libpq_url = "postgresql://" + rest  # libpq knows neither "+psycopg" nor every alias
        return postgres.PostgresStore(libpq_url, clock, migrate=migrate)
    if scheme == "memory":
        from golive import testing

        return testing.InMemoryStore(clock)
    shown = common.redact_url(target)
    raise exceptions.UsageError(f"store URL {shown!r}: unknown scheme {scheme!r} (from --db or ${ENV_VAR}); {_FIX}")


def _offset_clock(raw: str) -> clock_mod.Clock:
    from golive import clock as clock_module

    try:
        return clock_module.SystemClock(offset=float(raw))
    except ValueError:
        raise exceptions.UsageError(f"${CLOCK_OFFSET_ENV}={raw!r}: give seconds, e.g. 60 or -60") from None


def _sqlite(path: str, clock: clock_mod.Clock | None, migrate: bool) -> Store:
    if path.strip() in {"", ":memory:"}:
        raise exceptions.UsageError(
            f"store path {path!r} is not a file; {_FIX} (or memory:// for a throwaway in-memory store)"
        )
    from golive.store import sqlite

    return sqlite.SqliteStore(Path(path).expanduser(), clock, migrate=migrate)

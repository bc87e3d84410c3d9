"""The event store: pick an implementation from a URL.

``open_store(url)`` chooses where events go; nothing is connected until ``await store.open()``::

    store = open_store()                     # $GOLIVE_DATABASE_URL, else the discovered store (below)
    store = open_store("ops/golive.db")      # a SQLite file (plain path)
    store = open_store("sqlite:////var/lib/golive/golive.db")
    store = open_store("postgresql://golive@db.internal:5432/golive")
    store = open_store("memory://")          # golive.store.memory.InMemoryStore, gone at exit

Without a URL the store is found as git finds ``.git``: the nearest ``.golive/`` directory from the working
directory up (its ``golive.db``), else ``$GOLIVE_HOME/golive.db``, else ``./.golive/golive.db`` (made by the
first command that writes). ``--db`` and ``$GOLIVE_DATABASE_URL`` win over discovery. ``open_store(...,
create=False)`` (what read-only commands use) refuses a SQLite file that does not exist instead of making
an empty store.

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
    "discover",
    "open_store",
    "resolve_url",
    "verify_chain",
]

ENV_VAR = "GOLIVE_DATABASE_URL"
HOME_VAR = "GOLIVE_HOME"  # a directory holding golive.db, used when no .golive/ is found up the tree
STORE_DIR = ".golive"
STORE_FILE = "golive.db"
DEFAULT_PATH = ".golive/golive.db"  # relative to the working directory, when nothing is found
# Test hook: shift this process's wall clock by this many seconds, as a host with a skewed clock would be.
CLOCK_OFFSET_ENV = "GOLIVE_TEST_CLOCK_OFFSET"

_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<rest>.*)$", re.DOTALL)
_POSTGRES_SCHEMES = {"postgresql", "postgres", "postgresql+psycopg", "postgres+psycopg"}
_FIX = (
    "use a file path (.golive/golive.db), sqlite:///relative/path.db, sqlite:////absolute/path.db "
    "or postgresql://user@host:5432/dbname"
)


def discover(start: Path | None = None) -> tuple[str, str]:
    """The store path found from ``start`` (default: the working directory) and how it was found: the nearest
    ``.golive/`` up the tree, else ``$GOLIVE_HOME``, else ``./.golive/golive.db``."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / STORE_DIR).is_dir():
            return str(d / STORE_DIR / STORE_FILE), f"the nearest {STORE_DIR}/ ({d / STORE_DIR})"
    home = os.environ.get(HOME_VAR)
    if home:
        return str(Path(home).expanduser() / STORE_FILE), f"${HOME_VAR} ({home})"
    return DEFAULT_PATH, f"no {STORE_DIR}/ here or above and no ${HOME_VAR}"


def resolve_url(url: str | None = None) -> str:
    """The store URL in effect: ``url``, else $GOLIVE_DATABASE_URL, else the discovered store."""
    if url:
        return url
    return os.environ.get(ENV_VAR) or discover()[0]


def describe_url(url: str | None = None) -> str:
    """The store URL in effect, with any password masked: safe to print."""
    return common.redact_url(resolve_url(url))


def open_store(
    url: str | None = None, *, clock: clock_mod.Clock | None = None, migrate: bool = True, create: bool = True
) -> Store:
    """A store for ``url`` (not yet opened: ``await store.open()``, or ``async with``).

    ``migrate=False`` leaves the schema alone on open (``golive db upgrade`` uses it to show the version
    before migrating). ``create=False`` refuses (NotFound, naming where it looked) a SQLite store that does
    not exist yet, so a command that only reads never leaves an empty store behind. A bad URL raises
    UsageError naming the fix.
    """
    target = resolve_url(url)
    if not create:
        _must_exist(target, url)
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
        from golive.store import memory

        return memory.InMemoryStore(clock)
    shown = common.redact_url(target)
    raise exceptions.UsageError(f"store URL {shown!r}: unknown scheme {scheme!r} (from --db or ${ENV_VAR}); {_FIX}")


def _must_exist(target: str, url: str | None) -> None:
    match = _SCHEME.match(target)
    if match is not None and match.group("scheme").lower() != "sqlite":
        return  # a server store (PostgreSQL) exists or fails to connect; memory:// is always new
    path = Path(match.group("rest")[1:] if match is not None else target).expanduser()
    if path.exists():
        return
    if url or os.environ.get(ENV_VAR):
        how = f"--db or ${ENV_VAR}" if url else f"${ENV_VAR}"
        raise exceptions.NotFound(f"no golive store at {path} (from {how}); check the path, or start a run there")
    _, why = discover()
    raise exceptions.NotFound(
        f"no golive store found ({why}; looked for {STORE_DIR}/ from {Path.cwd()} up); run this where your runs "
        f"are (or below), set ${HOME_VAR}, or pass --db PATH"
    )


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

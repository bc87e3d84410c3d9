"""Load the hand-written SQL of a store dialect: named query blocks and versioned migrations.

Layout (procrastinate style), under ``golive/store/sql/<dialect>/``::

    queries.sql                 -- name: append_event  blocks, one statement each
    migrations/0001_init.sql    one file per schema version, applied in order, never edited once released

A query block starts at a ``-- name: <identifier>`` line and runs to the next one. Comment lines right
after the name line are the block's documentation and are kept in the SQL (harmless to the server).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources

from golive import exceptions

__all__ = ["DIALECTS", "Migration", "load_migrations", "load_queries", "parse_queries"]

DIALECTS = ("sqlite", "postgres")

_NAME_LINE = re.compile(r"^--\s*name:\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*$")
_MIGRATION_FILE = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema version: the SQL that takes the previous version to this one."""

    version: int
    name: str
    sql: str


def parse_queries(text: str, source: str) -> dict[str, str]:
    """Split ``text`` into named blocks; a duplicate or empty block is an error naming ``source``."""
    queries: dict[str, str] = {}
    name: str | None = None
    lines: list[str] = []

    def flush() -> None:
        if name is None:  # a file header: comments only
            if any(ln.strip() and not ln.strip().startswith("--") for ln in lines):
                raise exceptions.StoreError(f"{source}: SQL before the first '-- name:' line")
            return
        sql = "\n".join(lines).strip()
        if not sql:
            raise exceptions.StoreError(f"{source}: query {name!r} is empty")
        queries[name] = sql

    for lineno, line in enumerate(text.splitlines(), start=1):
        match = _NAME_LINE.match(line.strip())
        if match:
            flush()
            name = match.group("name")
            if name in queries:
                raise exceptions.StoreError(f"{source}:{lineno}: query {name!r} is defined twice")
            lines = []
        else:
            lines.append(line)
    flush()
    return queries


def _dialect_dir(dialect: str) -> resources.abc.Traversable:
    if dialect not in DIALECTS:
        raise exceptions.StoreError(f"unknown SQL dialect {dialect!r}; known: {', '.join(DIALECTS)}")
    return resources.files("golive.store").joinpath("sql", dialect)


@functools.cache
def load_queries(dialect: str) -> dict[str, str]:
    """The named queries of ``dialect`` (cached)."""
    path = _dialect_dir(dialect).joinpath("queries.sql")
    return parse_queries(path.read_text(encoding="utf-8"), f"sql/{dialect}/queries.sql")


@functools.cache
def load_migrations(dialect: str) -> tuple[Migration, ...]:
    """Every migration of ``dialect`` in version order; versions must run 1, 2, 3, ... without gaps."""
    folder = _dialect_dir(dialect).joinpath("migrations")
    found: list[Migration] = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _MIGRATION_FILE.match(entry.name)
        if match is None:
            raise exceptions.StoreError(
                f"sql/{dialect}/migrations/{entry.name}: name must look like 0001_what_it_does.sql"
            )
        found.append(Migration(int(match.group("version")), match.group("name"), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise exceptions.StoreError(
                f"sql/{dialect}/migrations: expected version {expected:04d}, found {migration.version:04d}"
            )
    return tuple(found)

"""Helpers shared by the CLI modules: output, key=value parsing, loading runbooks, opening the store."""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, TypeVar

import click

from golive import exceptions

T = TypeVar("T")

db_option = click.option(
    "--db",
    "db_url",
    envvar="GOLIVE_DATABASE_URL",
    default=None,
    metavar="URL",
    help="Store: a SQLite path or sqlite:///..., or postgresql://... (default: the nearest .golive/ from here "
    "up, else $GOLIVE_HOME, else ./.golive/).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def parse_pairs(values: Iterable[str], what: str) -> dict[str, str]:
    """Parse repeated ``k=v`` options; a bad one is a usage error naming the option and the fix."""
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise exceptions.UsageError(f"--{what} {item!r}: write it as NAME=VALUE")
        out[key.strip()] = value
    return out


def run_async(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """``asyncio.run(factory())``, with the result kept out of the main task.

    On leaving, ``asyncio.run`` asks ``signal.getsignal(SIGINT)``, which on Python 3.11 builds (and drops) a
    ValueError whose message is the repr of its handler: a partial holding the main task, whose repr holds
    its result. A command's result can be a whole report (1,000 checks: tens of milliseconds of repr)."""
    import asyncio

    box: list[T] = []

    async def main() -> None:
        box.append(await factory())

    asyncio.run(main())
    return box[0]


def fail(message: str, code: int = 2) -> None:
    click.echo(f"golive: {message}", err=True)
    sys.exit(code)


async def with_store(
    db_url: str | None,
    fn: Callable[[Any], Awaitable[T]],
    *,
    create: bool = False,
    check: Callable[[Any], None] | None = None,
) -> T:
    """Open the store named by --db (or the discovered one), run ``fn(store)``, and close the store.

    Only commands that start something (``run``, ``token create``, ``worker``) pass ``create=True``: any
    other command needs an existing store and never makes an empty one where it happens to run."""
    from golive.store import open_store

    store = open_store(db_url, create=create)
    if check is not None:  # before connecting: e.g. refuse an act on a shared store
        check(store)
    await store.open()
    try:
        return await fn(store)
    finally:
        await store.close()


async def latest_run_id(store: Any, run_id: str | None) -> str:
    """The run id for RUN (a unique prefix is fine), or the newest run when none is given."""
    if run_id:
        return str((await store.get_run(run_id)).run_id)
    runs = await store.list_runs(limit=1)
    if not runs:
        raise exceptions.NotFound("no runs yet; start one with: golive run FILE")
    return str(runs[0].run_id)

"""``golive db``: manage the event store's schema."""

from __future__ import annotations

import asyncio

import click

from golive import store as store_mod

__all__ = ["db"]


@click.group()
def db() -> None:
    """Manage the event store (SQLite file or PostgreSQL database)."""


@db.command()
@click.option(
    "--db",
    "db_url",
    metavar="URL",
    default=None,
    help=f"Store: a file path, sqlite:///path or postgresql://... "
    f"[default: ${store_mod.ENV_VAR}, else {store_mod.DEFAULT_PATH}]",
)
def upgrade(db_url: str | None) -> None:
    """Apply pending schema migrations and print the version before and after."""
    before, after = asyncio.run(_upgrade(db_url))
    click.echo(f"store: {store_mod.describe_url(db_url)}")
    click.echo(f"schema version before: {before}")
    click.echo(f"schema version after: {after}")
    if before == after:
        click.echo("already up to date")


async def _upgrade(db_url: str | None) -> tuple[int, int]:
    store = store_mod.open_store(db_url, migrate=False)
    await store.open()
    try:
        before = await store.schema_version()
        after = await store.migrate()
    finally:
        await store.close()
    return before, after

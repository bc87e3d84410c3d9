"""``golive export RUN``: a run's events to CloudEvents sinks and its trace to an OTLP endpoint.

The same exports run live with ``golive run --events-to URL --otlp URL``; :func:`start` and :func:`finish`
are what `run` uses around the engine.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from golive.cli import _common

__all__ = ["events_option", "export", "finish", "otlp_option", "start"]

DRAIN = 10.0  # seconds to deliver what is left after the run ended

events_option = click.option(
    "--events-to",
    "events_to",
    multiple=True,
    metavar="URL",
    envvar="GOLIVE_EVENTS_TO",
    help="Send the run's events as CloudEvents (HTTP, binary mode) to this sink (repeatable).",
)
otlp_option = click.option(
    "--otlp",
    "otlp",
    default=None,
    metavar="URL",
    envvar="GOLIVE_OTLP_ENDPOINT",
    help="Export the run as an OpenTelemetry trace to this OTLP/HTTP traces URL (e.g. http://host:4318/v1/traces).",
)


def check_urls(events_to: tuple[str, ...], otlp: str | None) -> None:
    """An http(s) URL with a host for every sink and the OTLP endpoint, else a usage error (exit 2)."""
    from urllib.parse import urlsplit

    from golive import exceptions

    for option, url in [*(("--events-to", u) for u in events_to), *((("--otlp", otlp),) if otlp else ())]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise exceptions.UsageError(f"{option} {url!r}: give an http:// or https:// URL with a host")


def _info(handle: Any) -> Any:
    from golive.export import events as ev_mod

    rb = handle.runbook
    release = rb.release.model_dump(mode="json")
    return ev_mod.RunInfo(handle.run_id, rb.name, rb.service, rb.environment, release)


async def start(store: Any, handle: Any, sinks: tuple[str, ...], after_seq: int = 0) -> Any:
    """A running forwarder for ``sinks`` (None when there are none)."""
    if not sinks:
        return None
    from golive.engine import handle as handle_mod
    from golive.export import events as ev_mod

    red = handle_mod.make_redactor(handle.runbook)
    fwd = ev_mod.EventForwarder(store, handle.run_id, _info(handle), [ev_mod.Sink(u) for u in sinks], redact=red.redact)
    await fwd.start(after_seq)
    return fwd


async def finish(store: Any, handle: Any, forwarder: Any, otlp: str | None, *, quiet: bool = False) -> bool:
    """Deliver what is left and export the trace; print what could not be sent. True when all went out."""
    ok = True
    if forwarder is not None:
        for sink in await forwarder.close(DRAIN):
            s = sink.stats
            if s.failed or s.dropped:
                ok = False
                click.echo(
                    f"golive: events to {sink.url}: {s.delivered} delivered, {s.failed} not delivered"
                    f"{f', {s.dropped} dropped' if s.dropped else ''} ({s.last_error}); "
                    f"send them again with: golive export {handle.run_id} --events-to {sink.url}",
                    err=True,
                )
            elif not quiet:
                click.echo(f"events: {s.delivered} delivered to {sink.url}")
    if otlp:
        from golive.engine import handle as handle_mod
        from golive.export import traces

        events = await store.events(handle.run_id)
        red = handle_mod.make_redactor(handle.runbook)
        try:
            n = await asyncio.to_thread(
                traces.export_trace, events, endpoint=otlp, runbook=handle.runbook, redact=red.redact
            )
        except Exception as exc:  # the endpoint refused or was unreachable: said, never hidden
            ok = False
            click.echo(
                f"golive: trace not exported to {otlp}: {exc}; again with: golive export {handle.run_id} --otlp {otlp}",
                err=True,
            )
        else:
            if not quiet:
                click.echo(f"trace: {n} spans exported to {otlp} (trace id {traces.trace_id_of(handle.run_id):032x})")
    return ok


@click.command()
@click.argument("run_id", metavar="RUN", required=False)
@events_option
@otlp_option
@_common.db_option
def export(run_id: str | None, events_to: tuple[str, ...], otlp: str | None, db_url: str | None) -> None:
    """Send RUN's events (default: the newest run) as CloudEvents and/or its trace over OTLP.

    Exit 0 when everything was delivered, 1 when something was not, 2 for bad input.
    """
    from golive import exceptions
    from golive.engine import acts

    if not events_to and not otlp:
        raise exceptions.UsageError("nothing to export: give --events-to URL and/or --otlp URL")
    check_urls(events_to, otlp)

    async def go(store: Any) -> bool:
        handle = await acts.open_run(store, await _common.latest_run_id(store, run_id))
        fwd = await start(store, handle, events_to)
        return await finish(store, handle, fwd, otlp)

    ok = _common.run_async(lambda: _common.with_store(db_url, go))
    sys.exit(0 if ok else 1)

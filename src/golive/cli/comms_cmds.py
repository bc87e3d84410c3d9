"""``golive comms RUN``: the messages a run sent (channel, event, result, text) and the updates due next."""

from __future__ import annotations

from typing import Any

import click

from golive.cli import _common

__all__ = ["comms"]


@click.command()
@click.argument("run_id", required=False)
@click.option("--upcoming", default=5, show_default=True, type=click.IntRange(0, 100), help="Scheduled updates shown.")
@_common.json_option
@_common.db_option
def comms(run_id: str | None, upcoming: int, as_json: bool, db_url: str | None) -> None:
    """List the messages RUN (default: the newest) sent and the status updates due next."""

    async def go(store: Any) -> dict[str, Any]:
        from golive.clock import SystemClock
        from golive.engine import acts
        from golive.notify import overview
        from golive.views import summary

        run = await _common.latest_run_id(store, run_id)
        h = await acts.open_run(store, run)
        st = h.state
        data = overview.overview(
            h.runbook,
            st.comms,
            started_at=st.created_at,
            go_at=st.go_at,
            finished_at=st.finished_at,
            now=SystemClock().now(),
            upcoming=upcoming,
            passed=st.status.value == "passed",
        )
        for rec in data["sent"]:
            rec["t"] = summary.tminus(h, rec.get("at"))
        data = {"run_id": h.run_id, "runbook": h.runbook.name, "status": st.status.label, **data}
        return data

    async def with_store() -> dict[str, Any]:
        from golive.store import open_store

        store = open_store(db_url, create=False)
        await store.open()
        try:
            return await go(store)
        finally:
            await store.close()

    data = _common.run_async(with_store)
    if as_json:
        _common.echo_json(data)
        return
    _common.console().print(_renderable(data))


def _renderable(data: dict[str, Any]) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from golive.spec.durations import format_duration

    head = Text()
    head.append(f"Comms of run {data['run_id']} ", style="bold")
    head.append(f"({data['runbook']}, {data['status']}): {len(data['sent'])} sent")
    if data["failed"]:
        head.append(f", {data['failed']} not delivered", style="bold red")

    sent = Table(title="Sent", title_justify="left", show_lines=False, expand=False)
    for col in ("at", "T", "event", "channel", "result", "text"):
        sent.add_column(col, overflow="fold")
    for r in data["sent"]:
        ok = bool(r.get("ok"))
        attempts = int(r.get("attempts") or 0)
        result = Text("sent" if ok else "FAILED", style="green" if ok else "bold red")
        if attempts != 1:
            result.append(f" ({attempts} attempts)", style="dim")
        text = Text(str(r.get("text") or ""))
        if not ok and r.get("error"):
            text.append(f"\n{r['error']}", style="red")
        event = str(r.get("event") or "")
        if r.get("tier"):
            event += f" [{r['tier']} #{r.get('slot')}]"
        sent.add_row(
            Text(str(r.get("at") or "")[11:19]),
            Text(str(r.get("t") or "")),
            Text(event),
            Text(str(r.get("channel") or "") + (" (required)" if r.get("required") else "")),
            result,
            text,
        )

    parts: list[Any] = [head, sent]
    nxt = data.get("next")
    if data["due_now"]:
        for d in data["due_now"]:
            parts.append(Text(f"Due now: {d['tier']} update #{d['slot']} (due {d['due_at']})", style="bold yellow"))
    if nxt is None:
        parts.append(Text("No status update is scheduled (cadence over, or waiting for GO)."))
    elif not data["due_now"]:
        parts.append(Text(f"Next update: {nxt['tier']} #{nxt['slot']} at {nxt['due_at']}"))
    if data["upcoming"]:
        up = Table(title="Scheduled", title_justify="left")
        for col in ("due at", "tier", "#", "since anchor"):
            up.add_column(col)
        for d in data["upcoming"]:
            since = f"{format_duration(d['elapsed'])} after {'GO' if d['anchor'] == 'go' else 'start'}"
            up.add_row(d["due_at"], d["tier"], str(d["slot"]), since)
        parts.append(up)
    return Group(*parts)

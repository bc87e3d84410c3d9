"""Pagers: a trigger that fires wakes someone, and the page is resolved when the trigger clears or the run ends.

One PagerDuty alert per pager and trigger, under one dedup key (``golive/<run id>/trigger/<trigger id>``):
``trigger_fired`` sends a ``trigger`` event; the trigger's next ``trigger_evaluated`` at ``ok`` sends
``resolve`` with the same key; ``run_finished`` resolves every page still open. Each event sent is recorded
as ``comms_sent`` (channel ``pager:<id>``); a failed send is recorded and never stops the run (a page that
could not be sent is a comms failure, as a chat message that could not be sent is). Only live runs page
(a pager with ``rehearsal: true`` pages in rehearsals too; dry runs never do). The pages still open
are read back from the run's events, so a resumed run resolves the pages an earlier engine opened.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from golive import exceptions
from golive.plugins import _http
from golive.plugins.actions import pagerduty
from golive.spec import models

__all__ = ["PAGE_EVENTS", "Pagers", "dedup_key"]

PAGE_EVENTS = ("trigger_fired", "trigger_evaluated", "run_finished")
PAGE_TIMEOUT = 10.0  # seconds per PagerDuty event
# golive's trigger severities -> PagerDuty's
SEVERITY = {"critical": "critical", "high": "error", "warning": "warning", "info": "info"}

Record = Callable[[dict[str, Any]], Awaitable[None]]
Render = Callable[[str], Awaitable[str]]


def dedup_key(run_id: str, trigger_id: str) -> str:
    return f"golive/{run_id}/trigger/{trigger_id}"


class Pagers:
    """The run's pagers, fed every engine event; they act on trigger fires, clears and the run's end."""

    def __init__(
        self,
        runbook: models.Runbook,
        run_id: str,
        *,
        render: Render,
        record: Record,
        http: Callable[[], _http.HttpClient],
        comms: Sequence[Mapping[str, Any]] = (),  # the run's earlier comms_sent records
        mode: str = "live",
    ) -> None:
        self._runbook = runbook
        self._mode = mode
        self._run_id = run_id
        self._render = render
        self._record = record
        self._http = http
        self._open: set[tuple[str, str]] = set()  # (pager id, trigger id)
        for sent in comms:  # a resumed run: the pages an earlier engine opened and did not resolve
            channel = str(sent.get("channel", ""))
            if channel.startswith("pager:") and sent.get("ok") and sent.get("trigger"):
                key = (channel.removeprefix("pager:"), str(sent["trigger"]))
                if sent.get("event") == "page_trigger":
                    self._open.add(key)
                elif sent.get("event") == "page_resolve":
                    self._open.discard(key)

    @property
    def open_pages(self) -> set[tuple[str, str]]:
        return set(self._open)

    def _pagers_for(self, trigger_id: str) -> list[models.Pager]:
        return [
            p
            for p in self._runbook.pagers
            if (not p.triggers or trigger_id in p.triggers) and (self._mode == "live" or p.rehearsal)
        ]

    async def on_event(self, type_: str, data: Mapping[str, Any]) -> None:
        if type_ == "trigger_fired":
            tid = str(data.get("trigger_id") or data.get("trigger") or "")
            for pager in self._pagers_for(tid):
                if (pager.id, tid) not in self._open:
                    await self._send(pager, tid, "trigger", data)
        elif type_ == "trigger_evaluated" and data.get("state") == "ok":
            tid = str(data.get("trigger_id") or "")
            for pager in self._pagers_for(tid):
                if (pager.id, tid) in self._open:
                    await self._send(pager, tid, "resolve", data)
        elif type_ == "run_finished":
            by_id = {p.id: p for p in self._runbook.pagers}
            for pager_id, tid in sorted(self._open):
                if pager_id in by_id:
                    await self._send(by_id[pager_id], tid, "resolve", data)

    async def _send(self, pager: models.Pager, trigger_id: str, action: str, data: Mapping[str, Any]) -> None:
        key = dedup_key(self._run_id, trigger_id)
        trig = self._runbook.trigger(trigger_id)
        title = (trig.title if trig and trig.title else trigger_id) or trigger_id
        payload = None
        if action == "trigger":
            payload = {
                "summary": f"{self._runbook.title or self._runbook.name}: {title} fired: {data.get('reason') or ''}"[
                    : pagerduty.SUMMARY_MAX
                ],
                "source": pager.source or self._runbook.service or self._runbook.name,
                "severity": SEVERITY.get(str(data.get("severity") or "critical"), "critical"),
                "component": trigger_id,
                "custom_details": {"run_id": self._run_id, "value": data.get("value"), "when": data.get("when")},
            }
        text = f"{action} {key}"
        try:
            routing_key = await self._render(pager.routing_key)
            await pagerduty.send_event(
                self._http(),
                url=await self._render(pager.url),
                routing_key=routing_key,
                event_action=action,
                dedup_key=key,
                payload=payload,
                timeout=PAGE_TIMEOUT,
            )
        except exceptions.GoliveError as exc:
            await self._record(
                {
                    "channel": f"pager:{pager.id}",
                    "event": f"page_{action}",
                    "trigger": trigger_id,
                    "text": text,
                    "ok": False,
                    "attempts": 1,
                    "error": exc.message,
                }
            )
            return
        if action == "trigger":
            self._open.add((pager.id, trigger_id))
        else:
            self._open.discard((pager.id, trigger_id))
        await self._record(
            {
                "channel": f"pager:{pager.id}",
                "event": f"page_{action}",
                "trigger": trigger_id,
                "text": text,
                "ok": True,
                "attempts": 1,
                "dedup_key": key,
            }
        )

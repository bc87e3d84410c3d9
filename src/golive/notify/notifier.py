"""The notifier: renders a message, redacts it, sends it to each channel with retries, records each
delivery, and keeps the status-update cadence.

Order of precedence for a message's text: an inline ``message`` (a notify step's), a phase's
``announce`` entry, the runbook's ``comms.templates[name]``, golive's default template.

A failed delivery is retried with exponential backoff on the injected clock, then recorded with
``ok: false``; it never raises, so the cutover goes on, unless the channel is ``required``: then, once
every channel was tried and recorded, :class:`golive.exceptions.DeliveryFailed` is raised so the engine
can fail the step that sent it. A template that does not render is recorded as a failed delivery on
every channel it was meant for, with the template error as the reason.

Every text leaves through ``redact`` before it is sent or recorded, and so does every error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from golive import exceptions
from golive.clock import Clock, utc_iso
from golive.notify import cadence, context, routing, templates
from golive.notify import channels as _ch
from golive.spec import models
from golive.spec.durations import format_duration, format_ttime

__all__ = ["DEFAULT_RETRY", "MAX_TICK", "MIN_TICK", "Notifier", "Record"]

Record = Callable[[dict[str, Any]], Awaitable[None]]
Stage = Literal["start", "pass", "fail", "waived"]

# Three attempts 2s then 4s apart: enough for a webhook's brief 5xx, short enough that a dead channel
# costs a cutover seconds, not minutes.
DEFAULT_RETRY = models.Retries.model_validate({"attempts": 3, "backoff": "2s", "factor": 2.0, "max_backoff": "30s"})
MAX_TICK = 60.0  # seconds the cadence loop sleeps at most, so a new GO or end is seen within a minute
MIN_TICK = 1.0  # seconds it sleeps at least, so a slot that keeps coming due cannot spin the loop


class Notifier:
    """Comms for one run."""

    def __init__(
        self,
        comms: models.Comms,
        redact: Callable[[str], str],
        clock: Clock,
        record: Record,
        *,
        base: Mapping[str, Any] | None = None,
        t0: datetime | None = None,
        channel_objects: Mapping[str, _ch.Channel] | None = None,
        resolve_url: Callable[[str], str] | None = None,
        log_sink: Callable[[str], None] | None = None,
        retry: models.Retries = DEFAULT_RETRY,
        timeout: float = _ch.DELIVERY_TIMEOUT,
        min_interval: float = _ch.MIN_INTERVAL,
        mode: str = "live",
    ) -> None:
        """Build every declared channel now, so a bad URL stops the run before it starts.

        ``base``: run-wide context (:func:`golive.notify.context.for_run`). ``t0``: the run's T-0, for
        ``t_minus``. ``channel_objects``: channels to use instead of building them (tests, custom code).
        ``resolve_url``: renders ``${{ secrets.x }}`` in channel URLs. ``log_sink``: where ``log://``
        lines go (the run's log) when the URL names no file. ``min_interval``: seconds between two sends
        to one Apprise channel. ``mode``: the run's mode; in a rehearsal or dry run a channel with a
        ``rehearsal`` destination sends there instead, and every message starts with the mode's marker.
        """
        self.comms = comms
        self._redact = redact
        self.clock = clock
        self._record = record
        self._retry = retry
        self._t0 = t0
        self.tiers = cadence.tiers_for(comms)
        self._sent: dict[str, int] = {}
        self._tasks: set[asyncio.Task[list[_ch.Delivery]]] = set()
        self._renderer = templates.Renderer()
        self.mode = mode
        self.marker = routing.marker(mode)
        self.redirected: set[str] = set()  # channels whose rehearsal destination replaces them in this run

        overrides = dict(channel_objects or {})
        specs = list(comms.channels)
        if not any(c.id == _ch.BUILTIN_LOG.id for c in specs):
            specs.append(_ch.BUILTIN_LOG)
        self._specs = tuple(comms.channels)
        self._channels: dict[str, _ch.Channel] = {}
        for spec in specs:
            if self.marker is not None and spec.rehearsal:
                # A rehearsal never reaches the live channel: its destination replaces it under the same id,
                # so routing and the record read as in a live run.
                self.redirected.add(spec.id)
                dest = "log://" if spec.rehearsal.strip() in ("log", "log:", "log://") else spec.rehearsal
                spec = spec.model_copy(update={"url": dest})
            if spec.id in overrides:
                self._channels[spec.id] = overrides.pop(spec.id)
            else:
                self._channels[spec.id] = _ch.build(
                    spec,
                    resolve_url=resolve_url,
                    log_sink=log_sink,
                    clock=clock,
                    timeout=timeout,
                    min_interval=min_interval,
                )
        self._channels.update(overrides)
        # One message at a time per channel, first come first served (asyncio.Lock is FIFO), so messages
        # sent in the background still arrive in the order the run produced them.
        self._locks = {cid: asyncio.Lock() for cid in self._channels}
        declared = [c.id for c in comms.channels]
        self.default_channels: tuple[str, ...] = tuple(declared) if declared else (_ch.BUILTIN_LOG.id,)

        first = next((t for t in self.tiers if t.anchor == "start"), None)
        self._base = context.blank()
        self._base["update_every"] = format_duration(first.every) if first else None
        self._base.update(base or {})

    # -- channels --------------------------------------------------------------------------------------
    def channel(self, channel_id: str) -> _ch.Channel:
        try:
            return self._channels[channel_id]
        except KeyError:
            raise exceptions.UsageError(
                f"unknown comms channel {channel_id!r}: declared channels are {', '.join(sorted(self._channels))}"
            ) from None

    def route(self, event: str, severity: str, named: Sequence[str] | None = None) -> tuple[str, ...]:
        """The channel ids a message goes to (see :func:`golive.notify.routing.route`)."""
        return routing.route(self._specs, event, severity, named, fallback=_ch.BUILTIN_LOG.id)

    def secrets(self) -> list[str]:
        """Credentials found in channel URLs, for the run's redactor."""
        out: list[str] = []
        for ch in self._channels.values():
            if isinstance(ch, _ch.AppriseChannel):
                out.extend(ch.secrets())
        return out

    # -- messages ----------------------------------------------------------------------------------------
    async def notify(
        self,
        event: str,
        ctx: Mapping[str, Any] | None = None,
        channels: Sequence[str] | None = None,
        message: str | None = None,
        *,
        template: str | None = None,
        announce: str | None = None,
        extra: Mapping[str, Any] | None = None,
        raise_required: bool = True,
        severity: str | None = None,
    ) -> list[_ch.Delivery]:
        """Send the message for ``event`` to ``channels`` (default: the declared channels whose ``events``,
        ``except`` and ``min_severity`` take it, else the log).

        ``message``: inline template text; ``template``: a template name other than ``event``;
        ``announce``: a phase's announce text; ``extra``: fields added to each record (tier, slot, ...);
        ``severity``: the message's (default: the event's, see :mod:`golive.notify.routing`).
        Returns one Delivery per channel. Raises DeliveryFailed only when a required channel failed and
        ``raise_required``; UsageError for an unknown channel id.
        """
        level = routing.severity_of(event, severity)
        chans = [self.channel(cid) for cid in self.route(event, level, channels)]
        data = self._context(event, ctx)
        name = template or event
        title = body = ""
        source = name
        render_error: str | None = None
        try:
            text, source = templates.template_source(name, self.comms.templates, message, announce)
            body = self._redact(self._renderer.render(text, data, source))
            title_text, title_source = templates.template_source(templates.TITLE, self.comms.templates)
            title = self._redact(self._renderer.render(title_text, data, title_source))
            if self.marker is not None:
                body, title = f"{self.marker} {body}", f"{self.marker} {title}"
        except exceptions.UsageError as exc:
            render_error = self._redact(exc.message)

        if render_error is not None:
            deliveries = [channels_failed(ch, render_error) for ch in chans]
        else:
            deliveries = list(await asyncio.gather(*(self._deliver(ch, title, body) for ch in chans)))

        # Recorded one by one in channel order, so the event log reads the same on every run.
        for d in deliveries:
            payload: dict[str, Any] = {
                "channel": d.channel,
                "event": event,
                "template": source,
                "title": title,
                "text": body,
                "ok": d.ok,
                "attempts": d.attempts,
                "error": d.error,
                "duration": round(d.duration, 6),
                "required": d.required,
                "phase_id": data.get("phase_id"),
                "step_id": data.get("step_id"),
                "severity": level,
            }
            if d.channel in self.redirected:
                payload["rehearsal"] = True  # sent to the channel's rehearsal destination, not the live one
            payload.update(extra or {})
            await self._record(payload)

        failed = [d for d in deliveries if d.required and not d.ok]
        if failed and raise_required:
            raise exceptions.DeliveryFailed([d.channel for d in failed], event, [d.error or "failed" for d in failed])
        return deliveries

    def notify_nowait(
        self, event: str, ctx: Mapping[str, Any] | None = None, **kw: Any
    ) -> asyncio.Task[list[_ch.Delivery]]:
        """:meth:`notify` in the background, so a slow channel never holds the engine; :meth:`drain` waits."""
        task = asyncio.get_running_loop().create_task(self.notify(event, ctx, **kw))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self) -> None:
        """Wait for background messages; re-raise the first DeliveryFailed among them."""
        while self._tasks:
            results = await asyncio.gather(*list(self._tasks), return_exceptions=True)
            for r in results:
                if isinstance(r, BaseException):
                    raise r

    # -- what the engine calls at each moment of a run --------------------------------------------------------
    async def announce_phase(
        self, phase: models.Phase, stage: Stage, ctx: Mapping[str, Any] | None = None, **kw: Any
    ) -> list[_ch.Delivery]:
        """A phase started, passed or failed: its ``announce`` text, else the (canary_|phase_) template."""
        canary = context.is_canary(phase)
        event = {
            "start": "phase_started",
            "pass": "canary_passed" if canary else "phase_passed",
            "fail": "canary_failed" if canary else "phase_failed",
            "waived": "canary_waived" if canary else "phase_waived",
        }[stage]
        data = context.for_phase(phase, None if stage == "start" else stage)
        data.update(ctx or {})
        return await self.notify(event, data, announce=phase.announce.get(stage) if stage != "waived" else None, **kw)

    async def notify_step(
        self, step: models.Step, ctx: Mapping[str, Any] | None = None, phase: models.Phase | None = None
    ) -> list[_ch.Delivery]:
        """Run a ``notify`` step: its message or template, to its channels. Required channels raise."""
        data = context.for_step(step, phase=phase)
        data.update(ctx or {})
        event = step.template or "notify"
        return await self.notify(event, data, step.channels or None, step.message, template=step.template)

    # -- cadence ---------------------------------------------------------------------------------------------
    def restore(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Remember the status updates already sent (``comms_sent`` data), after a resume."""
        for key, slot in cadence.last_sent(records).items():
            self._sent[key] = max(self._sent.get(key, 0), slot)

    @property
    def sent_slots(self) -> dict[str, int]:
        return dict(self._sent)

    def due(self, anchors: cadence.Anchors) -> list[cadence.Due]:
        return cadence.due(self.tiers, anchors, self._sent, self.clock.now())

    def next_due(self, anchors: cadence.Anchors) -> cadence.Due | None:
        return cadence.next_due(self.tiers, anchors, self._sent, self.clock.now())

    async def send_due(
        self, anchors: cadence.Anchors, ctx: Mapping[str, Any] | None = None, *, raise_required: bool = True
    ) -> list[_ch.Delivery]:
        """Send every status update due now (one per tier at most) with ``ctx`` as the run's state."""
        out: list[_ch.Delivery] = []
        for d in self.due(anchors):
            # Marked before sending: a slot is attempted once, whatever becomes of it.
            self._sent[d.tier] = d.slot
            data = dict(ctx or {})
            data.update(
                tier=d.tier,
                slot=d.slot,
                elapsed=context.elapsed_text(d.elapsed),
                since="GO" if d.anchor == "go" else "start",
            )
            extra = {"tier": d.tier, "slot": d.slot, "due_at": utc_iso(d.due_at), "missed": d.missed}
            out += await self.notify(
                "status_update",
                data,
                d.channels or None,
                template=d.template,
                extra=extra,
                raise_required=raise_required,
            )
        return out

    async def run_cadence(
        self,
        anchors: Callable[[], cadence.Anchors],
        ctx: Callable[[], Mapping[str, Any]],
        stop: Callable[[], bool],
        *,
        raise_required: bool = False,
    ) -> int:
        """Send status updates until ``stop()`` is true; returns how many updates went out.

        Meant as a background task of the engine: ``anchors()`` and ``ctx()`` read the run's current state
        each time. It sleeps on the injected clock until the next slot (at most MAX_TICK).
        """
        sent = 0
        while not stop():
            sent += len(self.due(anchors()))
            await self.send_due(anchors(), ctx(), raise_required=raise_required)
            nxt = self.next_due(anchors())
            wait = MAX_TICK
            if nxt is not None:
                wait = min(MAX_TICK, (nxt.due_at - self.clock.now()).total_seconds())
            await self.clock.sleep(max(MIN_TICK, wait))
        return sent

    # -- internals -------------------------------------------------------------------------------------------
    def _context(self, event: str, ctx: Mapping[str, Any] | None) -> dict[str, Any]:
        data = dict(self._base)
        now = self.clock.now()
        data["now"] = utc_iso(now)
        if self._t0 is not None:
            data["t_minus"] = format_ttime((now - self._t0).total_seconds())
        data.update(context.normalize(ctx or {}))
        data["event"] = event
        return data

    async def _deliver(self, ch: _ch.Channel, title: str, body: str) -> _ch.Delivery:
        async with self._locks[ch.id]:
            return await self._deliver_now(ch, title, body)

    async def _deliver_now(self, ch: _ch.Channel, title: str, body: str) -> _ch.Delivery:
        start = self.clock.monotonic()
        delay = float(self._retry.backoff)
        attempt = 0
        while True:
            attempt += 1
            try:
                result = await ch.send(title, body)
            except Exception as exc:  # a channel that raises is a failed delivery, never a crashed run
                result = _ch.Delivery(ch.id, False, error=f"{type(exc).__name__}: {exc}")
            if result.ok or attempt >= self._retry.attempts:
                break
            await self.clock.sleep(delay)
            delay = min(delay * self._retry.factor, float(self._retry.max_backoff))
        error = self._redact(result.error) if result.error and not result.ok else None
        return _ch.Delivery(ch.id, result.ok, attempt, error, self.clock.monotonic() - start, required=ch.required)


def channels_failed(ch: _ch.Channel, error: str) -> _ch.Delivery:
    """A delivery that was never attempted (the message did not render)."""
    return _ch.Delivery(ch.id, False, attempts=0, error=error, required=ch.required)

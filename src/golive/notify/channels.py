"""Comms channels: anything Apprise can reach (Slack, Microsoft Teams, Discord, e-mail over SMTP, generic
JSON/form webhooks, ...), the built-in ``log://`` channel, and an in-memory channel for tests.

A channel sends one message once and reports what happened as a :class:`Delivery`; it never raises for a
failed delivery. Retries, backoff, redaction and recording belong to :class:`golive.notify.notifier.Notifier`.

Apprise logs a failure instead of raising; its per-call log capture (``AppriseResult.logs()``) gives the
reason, which becomes the delivery's error text. Channel URLs carry tokens and passwords: they are never
part of an error message, and :meth:`AppriseChannel.secrets` lists their secret parts so the run's redactor
masks them anywhere else.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl, unquote, urlsplit

from golive import exceptions
from golive.clock import Clock, SystemClock, utc_iso
from golive.spec import models

__all__ = [
    "BUILTIN_LOG",
    "AppriseChannel",
    "Channel",
    "Delivery",
    "LogChannel",
    "MemoryChannel",
    "build",
    "url_secrets",
]

DELIVERY_TIMEOUT = 30.0  # seconds one attempt may take before Apprise gives up on it
# Seconds between two sends to the same channel. Apprise's default is 5.5 s for most services; chat
# webhooks accept about one message a second (Slack: 1/s, Discord: 5 per 2 s), and during a cutover a
# checkpoint and the announcement after it should not sit 5 s apart.
MIN_INTERVAL = 1.0
MIN_SECRET_PART = 6  # characters; URL path parts shorter than this are hosts' words, not tokens
_SECRET_KEYS = frozenset({"pass", "password", "token", "key", "apikey", "api_key", "secret", "webhook", "auth"})
_LOGGER = logging.getLogger("golive.comms")

# The channel every runbook has without declaring it (the loader accepts the id `log` everywhere).
BUILTIN_LOG = models.Channel(id="log", url="log://", description="golive's own comms log")


@dataclass(frozen=True, slots=True)
class Delivery:
    """What became of one message on one channel."""

    channel: str
    ok: bool
    attempts: int = 1
    error: str | None = None  # redacted by the notifier before anyone sees it
    duration: float = 0.0  # seconds, from the first attempt to the last answer
    required: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "ok": self.ok,
            "attempts": self.attempts,
            "error": self.error,
            "duration": round(self.duration, 6),
            "required": self.required,
        }


@runtime_checkable
class Channel(Protocol):
    """Somewhere a message goes."""

    @property
    def id(self) -> str: ...

    @property
    def required(self) -> bool: ...

    async def send(self, title: str, body: str) -> Delivery:
        """Send once; a failure is ``Delivery(ok=False, error=...)``, never an exception."""
        ...


def url_secrets(url: str) -> list[str]:
    """The parts of a channel URL that are credentials: password, user, token-like path parts and
    secret-named query values. The engine registers them with the run's redactor."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    found: set[str] = set()
    if parts.password:
        found.add(unquote(parts.password))
    if parts.username and parts.password:
        found.add(unquote(parts.username))
    # slack://TokenA/TokenB/TokenC, discord://id/token, msteams://team/tokenA/tokenB/tokenC: the tokens
    # are path parts (and sometimes the host part).
    host = parts.netloc.rsplit("@", 1)[-1].split(":", 1)[0]  # not .hostname: that lowercases tokens
    for piece in [host, *parts.path.split("/")]:
        piece = unquote(piece)
        if len(piece) >= MIN_SECRET_PART and not _looks_like_host(piece):
            found.add(piece)
    for key, value in parse_qsl(parts.query, keep_blank_values=False):
        if key.lower() in _SECRET_KEYS and len(value) >= MIN_SECRET_PART - 2:
            found.add(value)
    return sorted(found, key=len, reverse=True)


def _looks_like_host(piece: str) -> bool:
    # Hostnames and file-ish names (dots) and plain words are not tokens; tokens are long mixed strings.
    if "." in piece or "@" in piece:
        return True
    has_digit = any(c.isdigit() for c in piece)
    has_alpha = any(c.isalpha() for c in piece)
    return not (has_digit and has_alpha) and len(piece) < 20


def _mask(text: str, secrets: list[str]) -> str:
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return text


class AppriseChannel:
    """A channel for any Apprise URL."""

    def __init__(
        self,
        id: str,
        url: str,
        *,
        required: bool = False,
        timeout: float = DELIVERY_TIMEOUT,
        min_interval: float = MIN_INTERVAL,
    ) -> None:
        import apprise

        self._id = id
        self._required = required
        self._timeout = timeout
        self._secrets = url_secrets(url)
        self._apprise = apprise.Apprise()
        scheme = url.split("://", 1)[0] if "://" in url else ""
        if not scheme or not self._apprise.add(url):
            # Never echo the URL: it holds the channel's credentials.
            raise exceptions.UsageError(
                f"comms.channels[{id}].url: Apprise does not accept this {scheme + '://' if scheme else 'scheme-less'} "
                "URL; check its syntax at https://github.com/caronc/apprise/wiki (e.g. slack://TokenA/TokenB/TokenC, "
                "mailto://user:pass@host:587?to=a@example.com, json://host:port/path)"
            )
        for service in self._apprise:
            service.request_rate_per_sec = min_interval

    @property
    def id(self) -> str:
        return self._id

    @property
    def required(self) -> bool:
        return self._required

    def secrets(self) -> list[str]:
        return list(self._secrets)

    async def send(self, title: str, body: str) -> Delivery:
        import apprise

        from golive.plugins import _stubbed as stubs

        transport = stubs.active()
        if transport is not None:  # a stubbed rehearsal never posts to the outside world; the run keeps it
            transport.deliver(self._id, title, body)
            return Delivery(self._id, True, required=self._required)
        try:
            result = await self._apprise.async_notify(
                body=body, title=title, body_format=apprise.NotifyFormat.TEXT, timeout=self._timeout
            )
        except Exception as exc:  # Apprise catches its plugins' errors; this is the last fence
            return Delivery(self._id, False, error=_mask(f"{type(exc).__name__}: {exc}", self._secrets))
        if bool(result):
            return Delivery(self._id, True, required=self._required)
        return Delivery(self._id, False, error=self._why(result), required=self._required)

    def _why(self, result: Any) -> str:
        messages: list[str] = []
        try:
            messages = [e.message for e in result.logs() if e.level in ("WARNING", "ERROR", "CRITICAL")]
        except Exception:  # an older Apprise without per-call logs: the status is all there is
            messages = []
        status = getattr(getattr(result, "status", None), "name", "FAILURE")
        text = " ".join(dict.fromkeys(m.strip() for m in messages if m.strip())) or f"Apprise reported {status}"
        if status == "TIMEOUT" and "TIMEOUT" not in text:
            text = f"timed out after {self._timeout:g}s: {text}"
        return _mask(text, self._secrets)


class LogChannel:
    """golive's own log of messages: a file (``log:///var/log/golive/comms.log``, ``log://comms.log``),
    or, for plain ``log://``, the ``golive.comms`` logger and the sink the engine gives (the run's log)."""

    def __init__(
        self,
        id: str = "log",
        path: str | os.PathLike[str] | None = None,
        *,
        required: bool = False,
        sink: Callable[[str], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._id = id
        self._required = required
        self.path = Path(path) if path else None
        self._sink = sink
        self._clock = clock or SystemClock()

    @classmethod
    def from_url(
        cls,
        id: str,
        url: str,
        *,
        required: bool = False,
        sink: Callable[[str], None] | None = None,
        clock: Clock | None = None,
    ) -> LogChannel:
        rest = url.split("://", 1)[1] if "://" in url else ""
        return cls(id, unquote(rest) or None, required=required, sink=sink, clock=clock)

    @property
    def id(self) -> str:
        return self._id

    @property
    def required(self) -> bool:
        return self._required

    async def send(self, title: str, body: str) -> Delivery:
        # One record per message: continuation lines are indented so a reader can split records.
        line = f"{utc_iso(self._clock.now())} [{self._id}] {title}: " + body.replace("\n", "\n    ")
        try:
            if self.path is not None:
                await asyncio.to_thread(self._append, self.path, line)
            elif self._sink is not None:
                self._sink(line)
            else:
                _LOGGER.info("%s", line)
        except Exception as exc:  # a full disk must not stop the cutover (unless the channel is required)
            return Delivery(self._id, False, error=f"{type(exc).__name__}: {exc}", required=self._required)
        return Delivery(self._id, True, required=self._required)

    @staticmethod
    def _append(path: Path, line: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")


@dataclass
class MemoryChannel:
    """A test double: keeps every message; fails the first ``fail_first`` sends, or all while ``down``."""

    id: str = "memory"
    required: bool = False
    fail_first: int = 0
    down: bool = False
    messages: list[tuple[str, str]] = field(default_factory=list)
    calls: int = 0

    async def send(self, title: str, body: str) -> Delivery:
        self.calls += 1
        if self.down or self.calls <= self.fail_first:
            return Delivery(self.id, False, error="memory channel refused the message", required=self.required)
        self.messages.append((title, body))
        return Delivery(self.id, True, required=self.required)

    @property
    def bodies(self) -> list[str]:
        return [b for _, b in self.messages]


def build(
    spec: models.Channel,
    *,
    resolve_url: Callable[[str], str] | None = None,
    log_sink: Callable[[str], None] | None = None,
    clock: Clock | None = None,
    timeout: float = DELIVERY_TIMEOUT,
    min_interval: float = MIN_INTERVAL,
) -> Channel:
    """The channel for a runbook's channel declaration. ``resolve_url`` renders ``${{ secrets.x }}`` in it."""
    url = resolve_url(spec.url) if resolve_url else spec.url
    if url.startswith("log://") or url == "log:":
        return LogChannel.from_url(spec.id, url, required=spec.required, sink=log_sink, clock=clock)
    return AppriseChannel(spec.id, url, required=spec.required, timeout=timeout, min_interval=min_interval)

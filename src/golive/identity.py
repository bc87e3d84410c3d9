"""Who is acting and how they proved it: the one :class:`Identity` every act is made under.

An act's event names its actor (the golive user who holds the runbook role). The identity adds how that
user was authenticated, so the log says not only *who* but *on what grounds*:

- ``token``: a bearer token (``golive token create`` or the server's config) presented to ``golive serve``;
- ``oidc``: an OpenID Connect login (the dashboard's browser login, or ``golive login``) at ``golive serve``;
- ``local``: the CLI wrote to the store itself, on the strength of holding the store's credentials.

Callers (the server for each request, the CLI for a local act) put the identity in force with
:func:`acting`; :mod:`golive.engine.acts` stamps the events of the act with ``auth`` (the method) and
``auth_subject`` (who authenticated: the token's user, the OIDC subject, the local OS account). Events of
the engine itself carry neither.

A new way in (an approval link, say) adds its name to ``Method`` and ``METHODS`` and puts its ``Identity`` in
force around the act; the server's :class:`golive.server.auth.Principal` turns into one with ``.identity``.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import getpass
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from golive.store import base as store_base

__all__ = ["METHODS", "Identity", "acting", "current", "local", "stamp", "stamp_events"]

Method = Literal["token", "oidc", "local"]
METHODS: tuple[str, ...] = ("token", "oidc", "local")

_CURRENT: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("golive_identity", default=None)


@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated person: the golive ``user`` acts are attributed to, and how they authenticated."""

    user: str  # the golive user: the actor of the act, the holder of runbook roles
    method: Method
    subject: str  # who authenticated: a token's user, an OIDC ``sub`` (issuer-qualified), a local OS account
    issuer: str | None = None  # the OIDC issuer, for method "oidc"

    def event_data(self) -> dict[str, Any]:
        """The fields an act's events carry."""
        return {"auth": self.method, "auth_subject": self.subject}


def local(user: str) -> Identity:
    """The identity of an act the CLI writes to the store itself, as ``user`` (``--as``)."""
    try:
        account = getpass.getuser()
    except (OSError, KeyError):  # no login name in a bare container
        account = "unknown"
    return Identity(user=user, method="local", subject=account)


def current() -> Identity | None:
    """The identity in force for the act being made, if any."""
    return _CURRENT.get()


@contextlib.contextmanager
def acting(who: Identity | None) -> Iterator[None]:
    """Make acts inside this block under ``who`` (None: no identity, as for the engine)."""
    token = _CURRENT.set(who)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def stamp_events(events: list[store_base.NewEvent]) -> list[store_base.NewEvent]:
    """``events`` with the current identity's auth fields on those its user is the actor of."""
    if _CURRENT.get() is None:
        return events
    return [dataclasses.replace(e, data=stamp(e.actor, e.data)) for e in events]


def stamp(actor: str | None, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with the current identity's auth fields when ``actor`` is that identity's user."""
    who = _CURRENT.get()
    if who is None or actor is None or actor != who.user or "auth" in data:
        return data
    return {**data, **who.event_data()}

"""Who is calling: bearer tokens to users and server roles, SSE tickets, and the auth-failure limiter.

A token speaks for one user. Acts made with it are attributed to that user, and the runbook's rules
(:mod:`golive.engine.acts`) decide whether that user, as the holder of a runbook role in the run, may
do them. The server roles on a token only say what the server lets the token attempt:

- a token whose roles are all read-only (``viewer``, ``observer``, ``auditor`` by default) may read only;
- a token with a start role (``admin`` by default) may also start runs;
- any other token may attempt acts, which the runbook's rules then allow or refuse.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import json
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from golive import clock as clock_mod
from golive import identity as identity_mod
from golive.exceptions import Rejected
from golive.server import config as config_mod
from golive.store import base as store_base

__all__ = [
    "FailureLimiter",
    "Principal",
    "Rejected",
    "Sealer",
    "TicketSigner",
    "TokenAuthority",
    "create_token",
    "new_token",
]

TOKEN_PREFIX = "glv_"
TOKEN_BYTES = 32  # random bytes in a new token (256 bits)
TOKEN_CACHE_MAX = 4096  # store-token lookups remembered at most


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller."""

    user: str
    roles: frozenset[str]
    can_act: bool
    can_start: bool
    source: str  # "config", "store", "oidc" or "ticket"
    subject: str | None = None  # who authenticated, when not the user itself (an OIDC subject)
    issuer: str | None = None  # the OIDC issuer, for source "oidc"
    digest: str | None = None  # the credential's digest: a long request (an event stream) checks it again
    expires: float | None = None  # when the credential expires (epoch seconds), None: never

    @classmethod
    def of(
        cls,
        user: str,
        roles: tuple[str, ...] | frozenset[str],
        cfg: config_mod.ServerConfig,
        source: str,
        *,
        subject: str | None = None,
        issuer: str | None = None,
        digest: str | None = None,
        expires: float | None = None,
    ) -> Principal:
        role_set = frozenset(roles)
        read_only = set(cfg.read_only_roles)
        can_act = any(r not in read_only for r in role_set)
        return cls(
            user=user,
            roles=role_set,
            can_act=can_act,
            can_start=can_act and bool(role_set & set(cfg.start_roles)),
            source=source,
            subject=subject,
            issuer=issuer,
            digest=digest,
            expires=expires,
        )

    @property
    def identity(self) -> identity_mod.Identity:
        """The identity acts made by this caller are recorded under."""
        method: identity_mod.Method = "oidc" if self.source == "oidc" else "token"
        return identity_mod.Identity(self.user, method, self.subject or self.user, self.issuer)


def new_token() -> str:
    """A fresh bearer token: the prefix says what it is when it turns up in a secret scanner."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


async def create_token(
    store: store_base.Store,
    user: str,
    roles: tuple[str, ...],
    clock: clock_mod.Clock | None = None,
    *,
    expires_in: float | None = None,
    method: str = "token",
    subject: str | None = None,
) -> tuple[str, store_base.TokenRecord]:
    """Make a token for ``user`` with ``roles`` (expiring ``expires_in`` seconds from now, if given), keep
    only its sha256, and return (token, record)."""
    token = new_token()
    now = (clock or store.clock).now()
    expires_at = None if expires_in is None else clock_mod.utc_iso(now + datetime.timedelta(seconds=expires_in))
    record = store_base.TokenRecord(
        token_hash=config_mod.hash_token(token),
        user=user,
        roles=tuple(roles),
        created_at=clock_mod.utc_iso(now),
        expires_at=expires_at,
        auth=method,
        subject=subject,
    )
    await store.put_token(record)
    return token, record


def expiry_seconds(expires_at: str | None) -> float | None:
    """Seconds since the epoch of an ISO 8601 expiry (None: never)."""
    if expires_at is None:
        return None
    return clock_mod.parse_time(expires_at).timestamp()


class TokenAuthority:
    """Resolve a bearer token to a :class:`Principal`: the config's digests first, then the store's."""

    def __init__(
        self,
        cfg: config_mod.ServerConfig,
        store: store_base.Store,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.cfg = cfg
        self.store = store
        self._monotonic = monotonic
        self._now = now
        # digest -> (cache entry good until (monotonic), the token's expiry (epoch seconds) or None, principal)
        self._cache: OrderedDict[str, tuple[float, float | None, Principal]] = OrderedDict()
        # Other ways in (an OIDC provider's access tokens): tried, in order, for a token the store does not know.
        self.extra: list[Callable[[str], Awaitable[Principal | None]]] = []

    async def authenticate(self, token: str) -> Principal:
        """The principal for ``token``; :class:`Rejected` (with the reason) when it is unknown, revoked or expired."""
        digest = config_mod.hash_token(token)
        found = await self.by_digest(digest)
        if found is not None:
            return found
        for other in self.extra:
            principal = await other(token)
            if principal is not None:
                return principal
        raise Rejected("the bearer token is unknown or revoked")

    async def by_digest(self, digest: str) -> Principal | None:
        """The principal of the token with this digest; None when no token has it; Rejected when revoked or
        expired. An open event stream asks again with it, so the stream never outlives its token."""
        grant = self.cfg.token_hashes.get(digest)
        if grant is not None:
            return Principal.of(grant.user_id, grant.roles, self.cfg, "config", digest=digest)
        now = self._monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            self._check_expiry(hit[1], hit[2].user)
            return hit[2]
        record = await self.store.find_token(digest)
        if record is None:
            self._cache.pop(digest, None)
            return None
        if record.revoked:
            self._cache.pop(digest, None)
            raise Rejected("the bearer token is unknown or revoked")
        expires = expiry_seconds(record.expires_at)
        self._check_expiry(expires, record.user)
        source = "oidc" if record.auth == "oidc" else "store"
        issuer = self.cfg.oidc.issuer if source == "oidc" and self.cfg.oidc is not None else None
        principal = Principal.of(
            record.user, record.roles, self.cfg, source, subject=record.subject, issuer=issuer, digest=digest,
            expires=expires,
        )  # fmt: skip
        if self.cfg.token_cache_ttl > 0:
            # Only hits are remembered: a token made a moment ago must work at once.
            self._cache[digest] = (now + self.cfg.token_cache_ttl, expires, principal)
            self._cache.move_to_end(digest)
            while len(self._cache) > TOKEN_CACHE_MAX:
                self._cache.popitem(last=False)
        return principal

    def _check_expiry(self, expires: float | None, user: str) -> None:
        if expires is not None and expires <= self._now():
            when = datetime.datetime.fromtimestamp(expires, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            raise Rejected(
                f"the bearer token of {user} expired at {when}; make a new one with `golive token create` "
                "(or log in again with `golive login`)"
            )


class FailureLimiter:
    """Counts failed authentications per client address; past ``max`` in ``window`` seconds, say wait.

    Memory is bounded: at most ``max_clients`` addresses, each with at most ``max`` timestamps; the
    address seen least recently is forgotten first. A success does not clear the count, so one valid
    token cannot be used to reset guessing at others.
    """

    def __init__(self, limit: config_mod.AuthFailureLimit, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.max = limit.max
        self.window = limit.window
        self.max_clients = limit.max_clients
        self._monotonic = monotonic
        self._fails: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, client: str) -> float | None:
        """Seconds ``client`` must wait before authenticating again, or None when it may try now."""
        times = self._fails.get(client)
        if times is None or len(times) < self.max:
            return None
        wait = self.window - (self._monotonic() - times[0])
        return wait if wait > 0 else None

    def failed(self, client: str) -> None:
        times = self._fails.get(client)
        if times is None:
            times = deque(maxlen=self.max)
            self._fails[client] = times
            while len(self._fails) > self.max_clients:
                self._fails.popitem(last=False)
        else:
            self._fails.move_to_end(client)
        times.append(self._monotonic())

    def __len__(self) -> int:
        return len(self._fails)


class Sealer:
    """Signed, expiring JSON payloads for one purpose (the key is derived from the server secret and it)."""

    def __init__(self, secret: bytes, purpose: str, ttl: float, now: Callable[[], float] = time.time) -> None:
        self._key = hashlib.sha256(purpose.encode() + b"\x00" + secret).digest()
        self.ttl = ttl
        self._now = now

    def seal(self, payload: dict[str, Any]) -> str:
        data = {**payload, "e": round(self._now() + self.ttl, 3)}
        body = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=")
        return body.decode() + "." + self._sign(body)

    def open(self, sealed: str) -> dict[str, Any] | None:
        """The payload when ``sealed`` is genuine and unexpired; else None."""
        body, sep, sig = sealed.partition(".")
        if not sep or not hmac.compare_digest(self._sign(body.encode()), sig):
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (binascii.Error, ValueError):
            return None
        if not isinstance(payload, dict):
            return None
        if not isinstance(payload.get("e"), int | float) or payload["e"] < self._now():
            return None
        return payload

    def _sign(self, body: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self._key, body, hashlib.sha256).digest()).rstrip(b"=").decode()


class TicketSigner:
    """Short-lived, signed tickets that let a browser's EventSource (which cannot send headers) follow one run.

    A ticket names the run, the user and the roles, and expires after ``ttl`` seconds; it is checked when
    the stream opens. It grants nothing but reading that run's events.
    """

    def __init__(self, secret: bytes, ttl: float, now: Callable[[], float] = time.time) -> None:
        self._sealer = Sealer(secret, "golive-sse-ticket", ttl, now)
        self.ttl = ttl

    def issue(self, run_id: str, principal: Principal) -> str:
        # The token's digest goes with the ticket: the stream it opens ends when that token expires or is revoked.
        return self._sealer.seal(
            {"r": run_id, "u": principal.user, "g": sorted(principal.roles), "d": principal.digest}
        )

    def verify(self, ticket: str, run_id: str) -> tuple[str, tuple[str, ...], str | None] | None:
        """(user, roles, the issuing token's digest) when the ticket is genuine, unexpired and for ``run_id``;
        else None."""
        payload = self._sealer.open(ticket)
        if payload is None or payload.get("r") != run_id:
            return None
        digest = payload.get("d")
        return (
            str(payload.get("u")),
            tuple(str(r) for r in payload.get("g") or ()),
            digest if isinstance(digest, str) else None,
        )

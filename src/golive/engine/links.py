"""Approval links: signed, single-use links that open a pending act in the dashboard for one named person.

A link names the run, the step, the act (``decide`` or ``confirm``), the person it was sent to, when it expires
(the decision's deadline; a manual step's link lasts :data:`DEFAULT_TTL`) and a nonce; it is signed with HMAC-
SHA256 under a key derived from the server's secret (``secret`` in the server's config, or
``$GOLIVE_SERVER_SECRET``). The link alone never acts: whoever opens it still signs in, the server checks that
they are the named person, records ``link_opened`` once (compare-and-append, so a second use is refused) and
shows the act; the person then acts as from anywhere else, under every rule.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from golive import clock as clock_mod

__all__ = ["DEFAULT_TTL", "ENV_PUBLIC_URL", "ENV_SECRET", "Claim", "Linker", "from_env"]

ENV_SECRET = "GOLIVE_SERVER_SECRET"
ENV_PUBLIC_URL = "GOLIVE_PUBLIC_URL"
DEFAULT_TTL = 24 * 3600.0  # seconds a link to a step without a deadline lasts
PURPOSE = b"golive-approval-link"
NONCE_BYTES = 12


@dataclass(frozen=True)
class Claim:
    """What a genuine link says: who it was sent to, for which act, until when."""

    run_id: str
    step_id: str
    act: str  # decide | confirm
    person: str
    expires: datetime
    nonce: str


class Linker:
    """Makes and reads approval links for a server at ``base_url`` with ``secret``."""

    def __init__(self, secret: bytes, base_url: str) -> None:
        self._key = hashlib.sha256(PURPOSE + b"\x00" + secret).digest()
        self.base_url = base_url.rstrip("/")

    def issue(self, run_id: str, step_id: str, act: str, person: str, expires: datetime) -> str:
        """A link for ``person`` to the ``act`` on ``step_id``, valid until ``expires``."""
        payload = {
            "r": run_id,
            "s": step_id,
            "a": act,
            "p": person,
            "e": clock_mod.utc_iso(expires),
            "n": secrets.token_hex(NONCE_BYTES),
        }
        body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(b"=")
        token = body.decode() + "." + self._sign(body)
        return f"{self.base_url}/runs/{quote(run_id, safe='')}?link={token}"

    def read(self, token: str) -> Claim | None:
        """The claim of a genuine link token (the part after ``?link=``); None when it was not made with this
        secret or is malformed. Expiry, use and the person are judged by the act that opens it."""
        body, sep, sig = token.partition(".")
        if not sep or not hmac.compare_digest(self._sign(body.encode()), sig):
            return None
        try:
            p = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            return Claim(
                run_id=str(p["r"]),
                step_id=str(p["s"]),
                act=str(p["a"]),
                person=str(p["p"]),
                expires=clock_mod.parse_time(str(p["e"])),
                nonce=str(p["n"]),
            )
        except (binascii.Error, ValueError, KeyError, TypeError):
            return None

    def _sign(self, body: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self._key, body, hashlib.sha256).digest()).rstrip(b"=").decode()


def from_env(environ: Mapping[str, str] | None = None) -> Linker | None:
    """The linker of ``$GOLIVE_SERVER_SECRET`` and ``$GOLIVE_PUBLIC_URL`` (the dashboard's address), when both
    are set: an engine outside the server (``golive run``, a worker) then sends links the server accepts."""
    env = os.environ if environ is None else environ
    secret, url = env.get(ENV_SECRET), env.get(ENV_PUBLIC_URL)
    if not secret or not url:
        return None
    return Linker(secret.encode(), url)


def expiry(deadline: str | None, now: datetime) -> datetime:
    """When a link to a step expires: its deadline, else :data:`DEFAULT_TTL` from now."""
    return clock_mod.parse_time(deadline) if deadline else now + timedelta(seconds=DEFAULT_TTL)

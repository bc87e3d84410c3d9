"""The CLI's acts through ``golive serve``: where they go, with which credential, and what the answer means.

An act (assign, confirm, decide, waive, resolve, rollback, sign-off) goes to the server when one is named
(``--server URL`` or ``$GOLIVE_SERVER``): it is authenticated there (``$GOLIVE_TOKEN``, else the login that
``golive login --server URL`` stored) and checked by the same rules as every other act, as the token's user.
Without a server, the act is written to the store here, as ``--as NAME`` and recorded ``auth: local``. A shared
store (PostgreSQL) refuses that unless ``--local`` says that whoever holds the store's credentials means it.

Logins are kept in ``$XDG_CONFIG_HOME/golive/credentials.json`` (``~/.config/golive/``), one per server URL,
readable by the user only (0600, in a 0700 directory).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from golive import exceptions

__all__ = [
    "Remote",
    "credentials_path",
    "load_login",
    "local_option",
    "refuse_shared",
    "save_login",
    "server_option",
]

ENV_SERVER = "GOLIVE_SERVER"
ENV_TOKEN = "GOLIVE_TOKEN"
HTTP_TIMEOUT = 30.0  # seconds for one request to the server
LOGIN_MAX_WAIT = 900.0  # seconds `golive login` waits for the browser approval at most

server_option = click.option(
    "--server",
    "server_url",
    envvar=ENV_SERVER,
    default=None,
    metavar="URL",
    help="Act through this golive server (its API and role model) with $GOLIVE_TOKEN or your golive login.",
)
local_option = click.option(
    "--local",
    is_flag=True,
    help="Write the act to the store directly, even a shared (PostgreSQL) one; recorded as auth: local.",
)


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})  # where plain http keeps a token on this machine


def _norm(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise exceptions.UsageError(f"--server {url!r}: write the server's URL, e.g. https://golive.example.com")
    if url.startswith("http://") and urllib.parse.urlsplit(url).hostname not in LOOPBACK_HOSTS:
        raise exceptions.UsageError(
            f"--server {url!r}: plain http would send your token across the network in clear; use https:// "
            "(plain http is accepted only for a server on this machine: 127.0.0.1, ::1 or localhost)"
        )
    return url


def refuse_shared(store: Any, local: bool, command: str, *, via_server: bool = True) -> None:
    """A person's act written straight into a shared store would skip authentication: refuse it with the fix."""
    if getattr(store, "shared", False) and not local and not via_server:
        raise exceptions.UsageError(
            f"golive {command}: the store is shared (PostgreSQL) and this act is not offered through the server: "
            "give --local to make it yourself with the store's credentials (recorded as auth: local)"
        )
    if getattr(store, "shared", False) and not local:
        raise exceptions.UsageError(
            f"golive {command}: the store is shared (PostgreSQL), so acts go through the server, where they are "
            "authenticated: use --server URL (or $GOLIVE_SERVER) with a token ($GOLIVE_TOKEN or "
            "`golive login --server URL`), or --local to write to the store yourself with its credentials "
            "(recorded as auth: local)"
        )


# --- stored logins --------------------------------------------------------------------------------------


def credentials_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "golive" / "credentials.json"


def _read_all() -> dict[str, Any]:
    path = credentials_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise exceptions.UsageError(f"{path}: cannot read it ({exc}); delete it and run golive login again") from None
    return data if isinstance(data, dict) else {}


def save_login(server: str, login: dict[str, Any]) -> Path:
    """Keep ``login`` (token, user, expiry) for ``server``, readable by this user only."""
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = _read_all()
    servers = data.setdefault("servers", {})
    servers[_norm(server)] = login
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
    os.chmod(tmp, 0o600)  # whatever the umask or an older file said
    os.replace(tmp, path)
    return path


def load_login(server: str) -> dict[str, Any] | None:
    entry = (_read_all().get("servers") or {}).get(_norm(server))
    return entry if isinstance(entry, dict) else None


# --- talking to the server ------------------------------------------------------------------------------


@dataclass
class Remote:
    """A golive server and the bearer token the CLI uses there."""

    url: str
    token: str

    @classmethod
    def for_server(cls, server: str) -> Remote:
        url = _norm(server)
        token = os.environ.get(ENV_TOKEN)
        if not token:
            login = load_login(url)
            token = str(login.get("token")) if login and login.get("token") else None
        if not token:
            raise exceptions.UsageError(
                f"no credential for {url}: run `golive login --server {url}`, or set ${ENV_TOKEN} "
                "(a token from `golive token create`)"
            )
        return cls(url, token)

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: dict[str, str] | None = None,
        files: Sequence[Path] = (),
    ) -> dict[str, Any]:
        """Send one request; an error answer becomes the golive error it stands for (refused: exit 1)."""
        import httpx

        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        try:
            with contextlib.ExitStack() as stack, httpx.Client(timeout=HTTP_TIMEOUT, trust_env=False) as http:
                upload = [("evidence", (p.name, stack.enter_context(p.open("rb")))) for p in files]
                resp = http.request(
                    method,
                    self.url + path,
                    headers=headers,
                    json=json_body,
                    data=data,
                    files=upload or None,
                )
        except FileNotFoundError as exc:
            raise exceptions.UsageError(f"--evidence {exc.filename}: no such file") from None
        except httpx.HTTPError as exc:
            raise exceptions.GoliveError(f"the golive server at {self.url} did not answer: {exc}") from None
        return _answer(resp, self.url)

    def me(self) -> dict[str, Any]:
        return self.request("GET", "/api/v1/me")


def _answer(resp: Any, url: str) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    message = str(body.get("message") or f"HTTP {resp.status_code}")
    status = resp.status_code
    if 200 <= status < 300:
        return body
    if status == 401:
        raise exceptions.UsageError(
            f"{url} refused the credential: {message}. Log in again (`golive login --server {url}`) or set ${ENV_TOKEN}"
        )
    if status == 403:
        raise exceptions.RuleRefused(message)
    if status == 409:
        raise exceptions.ActConflict(message)
    if status == 404:
        raise exceptions.NotFound(message)
    if status in (400, 413, 422):
        raise exceptions.UsageError(message)
    if status == 503:
        raise exceptions.StoreError(message)
    raise exceptions.GoliveError(f"{url}: {message}")


def check_actor(remote: Remote, actor: str | None) -> str:
    """The server's user for this token; ``--as`` may only repeat it (the server decides who acts)."""
    user = str(remote.me().get("user"))
    if actor is not None and actor != user:
        raise exceptions.UsageError(
            f"--as {actor}: through the server you act as {user}, the user of your credential; drop --as "
            "or use that person's login"
        )
    return user


# --- golive login ---------------------------------------------------------------------------------------


def device_login(
    server: str,
    say: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Log in at ``server`` with the identity provider's device flow; return the golive login."""
    import httpx

    url = _norm(server)
    with httpx.Client(timeout=HTTP_TIMEOUT, trust_env=False) as http:
        try:
            start = http.post(url + "/auth/device")
        except httpx.HTTPError as exc:
            raise exceptions.GoliveError(f"the golive server at {url} did not answer: {exc}") from None
        if start.status_code == 404:
            raise exceptions.UsageError(
                f"{url} offers no single sign-on (oidc: in its config); use a token from `golive token create` "
                f"in ${ENV_TOKEN}"
            )
        dev = _answer(start, url)
        where = dev.get("verification_uri_complete") or dev.get("verification_uri")
        say(f"Open {where} and approve the code {dev.get('user_code')}")
        interval = max(1.0, float(dev.get("interval") or 5))
        deadline = monotonic() + min(float(dev.get("expires_in") or LOGIN_MAX_WAIT), LOGIN_MAX_WAIT)
        while True:
            try:
                resp = http.post(url + "/auth/device/token", json={"device_code": dev["device_code"]})
            except httpx.HTTPError as exc:
                raise exceptions.GoliveError(f"the golive server at {url} did not answer: {exc}") from None
            body = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
            if resp.status_code == 200:
                return {k: body.get(k) for k in ("token", "user", "roles", "expires_at", "subject")}
            error = body.get("error")
            if error == "slow_down":
                interval += 5
            elif error != "authorization_pending":
                raise exceptions.RuleRefused(f"login refused: {body.get('message') or error or resp.status_code}")
            if monotonic() + interval > deadline:
                raise exceptions.GoliveError("the login was not approved in time; run golive login again")
            sleep(interval)

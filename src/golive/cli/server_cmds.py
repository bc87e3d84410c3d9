"""``golive serve`` (the war-room API and dashboard) and ``golive token`` (create, list, revoke API tokens)."""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any

import click

from golive import exceptions
from golive.cli import _common

__all__ = ["login", "serve", "token"]

_TICKET_IN_QUERY = re.compile(r"([?&](?:ticket|link)=)[^&\s]+")


class _RedactTickets(logging.Filter):
    """Access log lines carry the request path with its query; SSE tickets and approval link tokens there are
    masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_TICKET_IN_QUERY.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        return True


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free one).")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=str),
    default=None,
    envvar="GOLIVE_SERVER_CONFIG",
    help="YAML/JSON: tokens, cors_origins, auth_failures, start_roles, read_only_roles, runbook_dir.",
)
@click.option(
    "--runbook-dir",
    default=None,
    type=click.Path(file_okay=False, path_type=str),
    help="Where runs may be started from (overrides the config).",
)
@click.option(
    "--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning", "error"])
)
@_common.db_option
def serve(
    host: str, port: int, config_path: str | None, runbook_dir: str | None, log_level: str, db_url: str | None
) -> None:
    """Serve the war-room REST API (/api/v1, OpenAPI at /api/v1/openapi.json) and the live dashboard (/).

    Tokens come from `golive token create` (kept hashed in the store), the config file and
    $GOLIVE_API_TOKEN_MAP_JSON. Without a token only /health answers.
    """
    from golive.server import app as app_mod
    from golive.server import config as config_mod
    from golive.server import serving
    from golive.store import describe_url, open_store

    cfg = config_mod.load_config(config_path)
    if runbook_dir is not None:
        cfg = cfg.model_copy(update={"runbook_dir": __import__("pathlib").Path(runbook_dir).resolve()})
    if host not in ("127.0.0.1", "::1", "localhost"):
        click.echo(
            f"golive: serving on {host}: put TLS in front of it (a reverse proxy); bearer tokens travel in headers",
            err=True,
        )
    store = open_store(db_url)
    application = app_mod.create_app(store, cfg)
    if port:  # approval links point here unless public_url names the address people use
        application.state.golive.service.listening_at(f"http://{host}:{port}")
    logging.getLogger("uvicorn.access").addFilter(_RedactTickets())
    n = len(cfg.token_hashes)
    click.echo(
        f"golive serve: http://{host}:{port}/ (store {describe_url(db_url)}; {n} token(s) from config/env"
        " + tokens in the store" + (f"; single sign-on via {cfg.oidc.issuer}" if cfg.oidc is not None else "") + ")",
        err=True,
    )
    serving.Server(
        serving.config(application, host, port, log_level=log_level, trusted_proxies=cfg.trusted_proxies)
    ).run()


@click.group()
def token() -> None:
    """Manage API tokens (stored as sha256 hashes; a token is shown once, when it is made)."""


def _roles(value: str) -> tuple[str, ...]:
    roles = tuple(r.strip() for r in value.split(",") if r.strip())
    for r in roles:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", r):
            raise exceptions.UsageError(f"--roles: {r!r} is not a role name (letters, digits, _ . -)")
    return roles


@token.command("create")
@click.option("--user", required=True, help="Who the token speaks for: the actor of every act made with it.")
@click.option("--roles", default="", help="Server roles, comma-separated (e.g. ic,observer; admin may start runs).")
@click.option(
    "--expires",
    default=None,
    metavar="DURATION",
    help="The token stops working this long after it is made (e.g. 8h, 30m, 7d); default: never.",
)
@_common.json_option
@_common.db_option
def token_create(user: str, roles: str, expires: str | None, as_json: bool, db_url: str | None) -> None:
    """Make a token for USER and print it once (only its sha256 and expiry are stored)."""
    from golive.server import auth

    if not user.strip():
        raise exceptions.UsageError("--user must not be empty")
    role_list = _roles(roles)
    ttl = _expires(expires)
    made, record = _common.run_async(
        lambda: _common.with_store(
            db_url, lambda s: auth.create_token(s, user.strip(), role_list, expires_in=ttl), create=True
        )
    )
    if as_json:
        _common.echo_json(
            {
                "token": made,
                "sha256": record.token_hash,
                "user": record.user,
                "roles": list(record.roles),
                "expires_at": record.expires_at,
            }
        )
        return
    click.echo(made)
    until = f"; expires {record.expires_at}" if record.expires_at else ""
    click.echo(
        f"token for {record.user} (roles: {', '.join(record.roles) or 'none'}{until}); sha256 "
        f"{record.token_hash[:12]}…. It is not shown again.",
        err=True,
    )


def _expires(text: str | None) -> float | None:
    """--expires DURATION in seconds; a bad one is a usage error with the fix."""
    from golive.spec import durations

    if text is None:
        return None
    try:
        seconds = durations.parse_duration(text)
    except (ValueError, exceptions.GoliveError) as exc:
        raise exceptions.UsageError(
            f"--expires {text!r}: {getattr(exc, 'message', exc)} (write e.g. 8h, 30m, 7d)"
        ) from None
    if seconds <= 0:
        raise exceptions.UsageError(f"--expires {text!r}: must be longer than zero (write e.g. 8h, 30m, 7d)")
    return seconds


@token.command("list")
@_common.json_option
@_common.db_option
def token_list(as_json: bool, db_url: str | None) -> None:
    """List tokens in the store (hash prefix, user, roles, created, revoked); never the tokens."""
    records = _common.run_async(lambda: _common.with_store(db_url, lambda s: s.list_tokens()))
    rows = [
        {
            "sha256": r.token_hash[:12],
            "user": r.user,
            "roles": list(r.roles),
            "created_at": r.created_at,
            "expires_at": r.expires_at,
            "revoked": r.revoked,
            "auth": r.auth,
            "subject": r.subject,
        }
        for r in records
    ]
    if as_json:
        _common.echo_json(rows)
        return
    if not rows:
        click.echo("no tokens in the store; make one with: golive token create --user NAME --roles ROLE,...")
        return
    for r in rows:
        login = f"  (login: oidc {r['subject']})" if r["auth"] == "oidc" else ""
        click.echo(f"{r['sha256']}  {r['user']:<20} {','.join(r['roles']):<24} {r['created_at']}  {_state(r)}{login}")


def _state(row: dict[str, Any]) -> str:
    from golive.server import auth

    if row["revoked"]:
        return "REVOKED"
    expires = auth.expiry_seconds(row["expires_at"])
    if expires is None:
        return "active"
    return f"EXPIRED {row['expires_at']}" if expires <= time.time() else f"active until {row['expires_at']}"


@token.command("revoke")
@click.argument("sha256_prefix")
@_common.db_option
def token_revoke(sha256_prefix: str, db_url: str | None) -> None:
    """Revoke the token whose sha256 starts with SHA256_PREFIX (as shown by `golive token list`)."""
    prefix = sha256_prefix.lower()
    if len(prefix) < 8 or not re.fullmatch(r"[0-9a-f]+", prefix):
        raise exceptions.UsageError("give at least 8 hex digits of the token's sha256 (see `golive token list`)")

    async def go(store: Any) -> str:
        matches = [r for r in await store.list_tokens() if r.token_hash.startswith(prefix)]
        if not matches:
            raise exceptions.NotFound(f"no token whose sha256 starts with {prefix}")
        if len(matches) > 1:
            raise exceptions.UsageError(f"{prefix} matches {len(matches)} tokens; give more digits")
        await store.revoke_token(matches[0].token_hash)
        return f"{matches[0].token_hash[:12]} ({matches[0].user})"

    which = _common.run_async(lambda: _common.with_store(db_url, go))
    click.echo(f"revoked {which}")
    sys.exit(0)


@click.command()
@click.option(
    "--server",
    "server_url",
    envvar="GOLIVE_SERVER",
    required=True,
    metavar="URL",
    help="The golive server to log in to (or $GOLIVE_SERVER).",
)
@click.option(
    "--with-token",
    is_flag=True,
    help="Read a token (from `golive token create`) on standard input and keep it, instead of single sign-on.",
)
def login(server_url: str, with_token: bool) -> None:
    """Log in to a golive server for the CLI's acts: single sign-on in a browser (the identity provider's device
    flow), or --with-token. The login is kept in ~/.config/golive/credentials.json (mode 0600)."""
    from golive.cli import remote

    if with_token:
        token = sys.stdin.readline().strip()
        if not token:
            raise exceptions.UsageError("--with-token: give the token on standard input (e.g. golive login ... < file)")
        me = remote.Remote(server_url.rstrip("/"), token).me()
        got: dict[str, Any] = {"token": token, "user": me.get("user"), "roles": me.get("roles"), "expires_at": None}
    else:
        got = remote.device_login(server_url, lambda line: click.echo(line, err=True))
    path = remote.save_login(server_url, got)
    until = f" until {got['expires_at']}" if got.get("expires_at") else ""
    click.echo(f"logged in to {server_url.rstrip('/')} as {got.get('user')}{until} (kept in {path})")

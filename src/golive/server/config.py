"""The war-room server's settings: who may call it (tokens), from where (CORS), and how hard (rate limits).

Read from ``golive serve --config FILE`` (YAML or JSON) and ``$GOLIVE_API_TOKEN_MAP_JSON``::

    tokens:                                  # bearer token (or "sha256:<hex>" of it) -> identity
      "sha256:9f86d08...":  {user_id: alice, roles: [ic]}
    cors_origins: ["https://warroom.example.com"]
    auth_failures: {max: 10, window: 60}     # failed attempts per client address, then 429
    start_roles: [admin]                     # server roles that may start runs
    read_only_roles: [viewer, observer]      # server roles that may only read
    runbook_dir: runbooks                    # where POST /api/v1/runs finds runbook files
    trusted_proxies: [10.0.0.5]              # X-Forwarded-For is believed only from these (default: none)

A plain token in the file or the environment is hashed when it is read and the plain text is dropped:
the server keeps only sha256 digests, the same as the store does for ``golive token create``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from golive import exceptions

__all__ = [
    "ENV_TOKEN_MAP",
    "AuthFailureLimit",
    "OidcConfig",
    "OidcGroup",
    "ServerConfig",
    "TokenGrant",
    "hash_token",
    "load_config",
]

ENV_TOKEN_MAP = "GOLIVE_API_TOKEN_MAP_JSON"
ENV_SECRET = "GOLIVE_SERVER_SECRET"
ENV_PUBLIC_URL = "GOLIVE_PUBLIC_URL"
ENV_OIDC_SECRET = "GOLIVE_OIDC_CLIENT_SECRET"
HASH_PREFIX = "sha256:"
MIN_TOKEN_LENGTH = 16  # characters; shorter bearer tokens are guessable and refused at load
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def hash_token(token: str) -> str:
    """The sha256 hex digest under which a bearer token is known (the token itself is never kept)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class TokenGrant(_Model):
    """Who a token speaks for: a user name (the actor of every act) and server roles."""

    user_id: str = Field(min_length=1, max_length=200)
    roles: tuple[str, ...] = Field(default=(), description="Server roles, e.g. admin, ic, viewer.")


class AuthFailureLimit(_Model):
    """Failed authentications allowed per client address in a sliding window, then 429."""

    max: int = Field(default=10, ge=1, le=10_000)
    window: float = Field(default=60.0, gt=0, le=86_400, description="Seconds.")
    max_clients: int = Field(default=10_000, ge=1, le=1_000_000, description="Addresses remembered at most.")


LOOPBACK_HOSTS = ("127.0.0.1", "::1", "[::1]", "localhost")


class OidcGroup(_Model):
    """What membership of one identity-provider group gives: server roles, and optionally the golive user."""

    roles: tuple[str, ...] = Field(default=(), description="Server roles (e.g. ic, admin, viewer).")
    user: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Act as this golive user (e.g. a duty rota's name) instead of the person's own name.",
    )


class OidcConfig(_Model):
    """OpenID Connect login: the issuer, this server's client, and how claims map to golive users and roles."""

    issuer: str = Field(description="The provider's issuer URL (https://, or http:// on a loopback address).")
    client_id: str = Field(min_length=1)
    client_secret: str | None = Field(
        default=None, repr=False, description="Or $GOLIVE_OIDC_CLIENT_SECRET (kept out of the file)."
    )
    scopes: tuple[str, ...] = Field(default=("openid", "profile", "email", "groups"))
    user_claim: str = Field(default="preferred_username", description="The claim that names the golive user.")
    groups_claim: str = Field(default="groups", description="The claim that lists the person's groups.")
    groups: dict[str, OidcGroup] = Field(
        default_factory=dict,
        description="Group -> roles (and user). A person in none of these groups is refused at login.",
    )
    users: dict[str, str] = Field(
        default_factory=dict, description="A user_claim value -> the golive user it acts as (renames)."
    )
    session_ttl: float = Field(
        default=8 * 3600.0, gt=0, le=30 * 86400, description="Seconds a login (browser or golive login) lasts."
    )
    redirect_url: str | None = Field(
        default=None,
        description="The callback URL registered at the provider (default: this server's /auth/callback).",
    )

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, v: str) -> str:
        v = v.rstrip("/")
        m = re.match(r"^(https?)://([^/:]+|\[[^\]]+\])(:\d+)?(/.*)?$", v)
        if m is None:
            raise ValueError(f"{v!r} is not an issuer URL; write https://login.example.com/realms/ops")
        if m.group(1) == "http" and m.group(2) not in LOOPBACK_HOSTS:
            raise ValueError(f"{v!r}: an issuer must use https:// (http:// only on a loopback address)")
        return v

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if "openid" not in v:
            raise ValueError("must include 'openid' (write [openid, profile, email, groups])")
        return v


class ServerConfig(_Model):
    """Everything ``golive serve`` needs besides the store URL."""

    token_hashes: dict[str, TokenGrant] = Field(
        default_factory=dict, description="sha256 hex of a token -> identity (plain tokens are hashed on load)."
    )
    cors_origins: tuple[str, ...] = Field(default=(), description="Origins allowed to call the API from a browser.")
    auth_failures: AuthFailureLimit = Field(default_factory=AuthFailureLimit)
    start_roles: tuple[str, ...] = Field(default=("admin",), description="Server roles that may start runs.")
    read_only_roles: tuple[str, ...] = Field(
        default=("viewer", "observer", "auditor"), description="Server roles that may read but never act."
    )
    runbook_dir: Path = Field(default=Path("."), description="POST /api/v1/runs reads runbooks from here only.")
    ticket_ttl: float = Field(default=60.0, gt=0, le=3600, description="Seconds an SSE ticket may be used.")
    secret: str | None = Field(
        default=None,
        repr=False,
        description="Key that signs SSE tickets; share it between servers behind one address (default: random).",
    )
    public_url: str | None = Field(
        default=None,
        description="The dashboard's address as people reach it (https://warroom.example.com): approval links point "
        "there (default: where this server listens). Also $GOLIVE_PUBLIC_URL.",
    )
    token_cache_ttl: float = Field(
        default=5.0, ge=0, le=300, description="Seconds a store token lookup is reused (revocation delay)."
    )
    resume_orphans: bool = Field(default=True, description="Take over runs whose owner stopped renewing its lease.")
    max_upload: int = Field(default=25 * 1024 * 1024, ge=1, description="Bytes per evidence upload.")
    oidc: OidcConfig | None = Field(default=None, description="OpenID Connect login (off when absent).")
    trusted_proxies: tuple[str, ...] = Field(
        default=(),
        description="Addresses or networks of reverse proxies whose X-Forwarded-For is believed (default: none; "
        "the peer's own address counts for rate limits).",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for item in v:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"trusted_proxies: {item!r} is not an IP address or network (e.g. 10.0.0.5)") from None
        return v

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for origin in v:
            if origin == "*":
                raise ValueError(
                    "'*' would let any web page drive the API; list the origins, e.g. https://warroom.example.com"
                )
            if not re.match(r"^https?://[^/\s]+$", origin):
                raise ValueError(f"{origin!r} is not an origin; write scheme://host[:port] with no path")
        return v


def _grants(raw: Any, where: str) -> dict[str, TokenGrant]:
    """Turn a token map (token or sha256:<hex> -> {user_id, roles}) into digests -> grants."""
    if not isinstance(raw, Mapping):
        raise exceptions.UsageError(f"{where}: must be a mapping of token -> {{user_id, roles}}")
    out: dict[str, TokenGrant] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not key:
            raise exceptions.UsageError(f"{where}: a token key is empty")
        # Never echo a token in a message: name its position by a short digest instead.
        label = f"{where}[sha256:{hash_token(key)[:12]}…]"
        if key.startswith(HASH_PREFIX):
            digest = key[len(HASH_PREFIX) :].lower()
            if not _HEX64.match(digest):
                raise exceptions.UsageError(f"{label}: 'sha256:' must be followed by 64 hex digits")
        else:
            if len(key) < MIN_TOKEN_LENGTH:
                raise exceptions.UsageError(
                    f"{label}: the token is shorter than {MIN_TOKEN_LENGTH} characters; make one with `golive token create`"
                )
            digest = hash_token(key)
        if isinstance(value, Mapping) and isinstance(value.get("roles"), str):
            value = {**value, "roles": [r.strip() for r in value["roles"].split(",") if r.strip()]}
        try:
            out[digest] = TokenGrant.model_validate(value)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "value"
            raise exceptions.UsageError(
                f"{label}.{field}: {err['msg']} (write {{user_id: NAME, roles: [ROLE, ...]}})"
            ) from None
    return out


def load_config(path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> ServerConfig:
    """Read the config file (if any) and the token map from the environment; plain tokens become digests."""
    env = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    where = "config"
    if path is not None:
        where = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise exceptions.UsageError(f"--config {path}: cannot read it ({exc.strerror})") from None
        try:
            loaded = yaml.safe_load(text) if text.strip() else {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
            raise exceptions.UsageError(f"{path}{at}: not valid YAML/JSON ({getattr(exc, 'problem', exc)})") from None
        if not isinstance(loaded, dict):
            raise exceptions.UsageError(f"{path}: must be a mapping (tokens, cors_origins, ...)")
        data = dict(loaded)
        base = Path(path).resolve().parent
        if "runbook_dir" in data and isinstance(data["runbook_dir"], str):
            data["runbook_dir"] = str((base / data["runbook_dir"]).resolve())
    if "token_hashes" in data:
        raise exceptions.UsageError(f"{where}: token_hashes: write digests under tokens: as 'sha256:<hex>' keys")
    grants = _grants(data.pop("tokens", {}) or {}, f"{where}: tokens")
    env_map = env.get(ENV_TOKEN_MAP)
    if env_map:
        try:
            parsed = json.loads(env_map)
        except json.JSONDecodeError as exc:
            raise exceptions.UsageError(
                f'${ENV_TOKEN_MAP}: not valid JSON at character {exc.pos} (write \'{{"<token>":{{"user_id":"alice","roles":["ic"]}}}}\')'
            ) from None
        grants.update(_grants(parsed, f"${ENV_TOKEN_MAP}"))
    if env.get(ENV_SECRET) and "secret" not in data:
        data["secret"] = env[ENV_SECRET]
    if env.get(ENV_PUBLIC_URL) and "public_url" not in data:
        data["public_url"] = env[ENV_PUBLIC_URL]
    if isinstance(data.get("oidc"), Mapping) and env.get(ENV_OIDC_SECRET) and "client_secret" not in data["oidc"]:
        data["oidc"] = {**data["oidc"], "client_secret": env[ENV_OIDC_SECRET]}
    try:
        return ServerConfig.model_validate({**data, "token_hashes": grants})
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "value"
        raise exceptions.UsageError(f"{where}: {field}: {err['msg']}") from None

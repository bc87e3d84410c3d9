"""OpenID Connect login for the war room: the browser's authorization code flow (with PKCE) and the CLI's
device authorization grant, both ending in a golive session token.

The server is the relying party. It reads the provider's discovery document and JWKS, sends the browser to
the provider with a PKCE challenge, a state and a nonce (kept in a signed, 10-minute cookie scoped to
``/auth``), exchanges the code with its client secret, and checks the ID token's signature against the JWKS
and its claims (issuer, audience, expiry, nonce) with Authlib's ``CodeIDToken``. The person's groups are then
mapped to golive: the groups named in the config give server roles (and optionally the golive user); a
person in none of them is refused. A login becomes a golive token in the store (hashed, expiring after
``session_ttl``, marked ``auth: oidc`` with the OIDC subject), so every act made with it records how its
actor authenticated, and revoking or expiring it works like any token.

- Browser: ``GET /auth/login`` -> provider -> ``GET /auth/callback`` sets the session cookie (HttpOnly,
  SameSite=Strict, ``Path=/auth``) and returns to the page; the page asks ``GET /auth/session`` for its bearer
  token. The cookie is never sent to the API, whose routes accept only bearer tokens (so no CSRF there).
- CLI (``golive login``): ``POST /auth/device`` starts the provider's device grant (the server holds the client
  secret), the person approves in a browser, and ``POST /auth/device/token`` answers the golive token once
  they have (``authorization_pending`` until then).
"""

from __future__ import annotations

import base64
import math
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus, urlencode

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from golive.exceptions import LoginRefused
from golive.server import auth
from golive.server import config as config_mod

__all__ = ["LoginRefused", "Provider", "map_identity", "routes"]

HTTP_TIMEOUT = 10.0  # seconds for one request to the provider
METADATA_TTL = 300.0  # seconds the discovery document and the JWKS are reused
PENDING_TTL = 600.0  # seconds a browser login may take at the provider
PENDING_COOKIE = "golive_oidc"
SESSION_COOKIE = "golive_session"
ID_TOKEN_ALGS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def map_identity(cfg: config_mod.OidcConfig, claims: dict[str, Any]) -> tuple[str, tuple[str, ...], str]:
    """(golive user, server roles, subject) for a person's ID-token claims; LoginRefused when no group maps."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise LoginRefused("the ID token has no subject (sub)")
    raw_groups = claims.get(cfg.groups_claim) or []
    groups = [raw_groups] if isinstance(raw_groups, str) else [str(g) for g in raw_groups if isinstance(g, str)]
    mapped = [(name, cfg.groups[name]) for name in cfg.groups if name in groups]
    name = claims.get(cfg.user_claim)
    if not isinstance(name, str) or not name:
        raise LoginRefused(f"the ID token has no {cfg.user_claim!r} claim to name the golive user (oidc.user_claim)")
    if not mapped:
        raise LoginRefused(
            f"{name} is in none of the groups this server maps ({', '.join(cfg.groups) or 'none configured'}); "
            "ask an admin to add you to one, or to map one of your groups under oidc.groups"
        )
    user = cfg.users.get(name) or next((g.user for _, g in mapped if g.user), None) or name
    roles = tuple(sorted({r for _, g in mapped for r in g.roles}))
    return user, roles, subject


class Provider:
    """The OpenID provider as this server sees it: discovery, JWKS, the code exchange and the device grant."""

    def __init__(self, cfg: config_mod.OidcConfig, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self._monotonic = monotonic
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._keys: tuple[float, KeySet] | None = None

    def _client(self) -> httpx.AsyncClient:
        # Never follow redirects to elsewhere, never read proxies from the environment for the provider.
        return httpx.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False, trust_env=False)

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (``/.well-known/openid-configuration``), reused for a while."""
        now = self._monotonic()
        if self._metadata is not None and self._metadata[0] > now:
            return self._metadata[1]
        url = self.cfg.issuer + "/.well-known/openid-configuration"
        data = await self._get_json(url)
        if data.get("issuer", "").rstrip("/") != self.cfg.issuer:
            raise LoginRefused(f"{url} names issuer {data.get('issuer')!r}, not {self.cfg.issuer!r} (oidc.issuer)")
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(data.get(key), str):
                raise LoginRefused(f"{url} has no {key}")
        self._metadata = (now + METADATA_TTL, data)
        return data

    async def keys(self, refresh: bool = False) -> KeySet:
        now = self._monotonic()
        if not refresh and self._keys is not None and self._keys[0] > now:
            return self._keys[1]
        meta = await self.metadata()
        data = await self._get_json(str(meta["jwks_uri"]))
        try:
            keys = KeySet.import_key_set(data)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError) as exc:
            raise LoginRefused(f"the provider's JWKS does not read: {exc}") from None
        self._keys = (now + METADATA_TTL, keys)
        return keys

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with self._client() as http:
                resp = await http.get(url)
        except httpx.HTTPError as exc:
            raise LoginRefused(f"the identity provider did not answer at {url}: {exc}") from None
        if resp.status_code != 200:
            raise LoginRefused(f"the identity provider answered {resp.status_code} at {url}")
        try:
            data = resp.json()
        except ValueError:
            raise LoginRefused(f"the identity provider's answer at {url} is not JSON") from None
        if not isinstance(data, dict):
            raise LoginRefused(f"the identity provider's answer at {url} is not a JSON object")
        return data

    async def _post_form(self, url: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        headers = {"Accept": "application/json"}
        if self.cfg.client_secret:  # client_secret_basic
            # RFC 6749 2.3.1: the id and the secret are form-urlencoded before the Basic encoding.
            pair = f"{quote_plus(self.cfg.client_id)}:{quote_plus(self.cfg.client_secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:  # a public client
            form = {**form, "client_id": self.cfg.client_id}
        try:
            async with self._client() as http:
                resp = await http.post(url, data=form, headers=headers)
        except httpx.HTTPError as exc:
            raise LoginRefused(f"the identity provider did not answer at {url}: {exc}") from None
        try:
            data = resp.json()
        except ValueError:
            data = {}
        return resp.status_code, data if isinstance(data, dict) else {}

    # -- the browser: authorization code with PKCE -------------------------------------------------
    async def authorization_url(self, redirect_uri: str) -> tuple[str, dict[str, str]]:
        """The provider URL to send the browser to, and what the callback needs (state, verifier, nonce)."""
        meta = await self.metadata()
        pending = {
            "state": generate_token(32),
            "verifier": generate_token(64),
            "nonce": generate_token(32),
            "redirect_uri": redirect_uri,
        }
        params = {
            "response_type": "code",
            "client_id": self.cfg.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.cfg.scopes),
            "state": pending["state"],
            "nonce": pending["nonce"],
            "code_challenge": create_s256_code_challenge(pending["verifier"]),
            "code_challenge_method": "S256",
        }
        endpoint = str(meta["authorization_endpoint"])
        return endpoint + ("&" if "?" in endpoint else "?") + urlencode(params), pending

    async def finish_code(self, code: str, pending: dict[str, str]) -> dict[str, Any]:
        """Exchange the code (with the PKCE verifier) and return the checked ID token's claims."""
        meta = await self.metadata()
        status, data = await self._post_form(
            str(meta["token_endpoint"]),
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": pending["redirect_uri"],
                "code_verifier": pending["verifier"],
            },
        )
        if status != 200:
            raise LoginRefused(f"the identity provider refused the code: {_oauth_error(data, status)}")
        return await self.id_token_claims(data, pending["nonce"])

    async def id_token_claims(self, token_response: dict[str, Any], nonce: str | None) -> dict[str, Any]:
        """The claims of the ID token in a token response, after checking its signature and claims."""
        raw = token_response.get("id_token")
        if not isinstance(raw, str):
            raise LoginRefused("the identity provider sent no ID token (is 'openid' among oidc.scopes?)")
        try:
            token = jwt.decode(raw, await self.keys(), algorithms=ID_TOKEN_ALGS)
        except JoseError:
            # A rotated key: read the JWKS again, once.
            try:
                token = jwt.decode(raw, await self.keys(refresh=True), algorithms=ID_TOKEN_ALGS)
            except (JoseError, ValueError) as exc:
                raise LoginRefused(f"the ID token's signature does not verify: {exc}") from None
        except ValueError as exc:
            raise LoginRefused(f"the ID token does not read: {exc}") from None
        claims = CodeIDToken(
            token.claims,
            token.header,
            options={
                "iss": {"essential": True, "value": self.cfg.issuer},
                "aud": {"essential": True, "value": self.cfg.client_id},
            },
            params={"nonce": nonce, "client_id": self.cfg.client_id} if nonce else {"client_id": self.cfg.client_id},
        )
        try:
            claims.validate(leeway=60)
        except JoseError as exc:
            raise LoginRefused(f"the ID token is not valid for this server: {exc}") from None
        return dict(claims)

    # -- the CLI: device authorization grant ----------------------------------------------------------
    async def start_device(self) -> dict[str, Any]:
        meta = await self.metadata()
        endpoint = meta.get("device_authorization_endpoint")
        if not isinstance(endpoint, str):
            raise LoginRefused("the identity provider offers no device authorization endpoint; use a token")
        status, data = await self._post_form(endpoint, {"scope": " ".join(self.cfg.scopes)})
        if status != 200 or not isinstance(data.get("device_code"), str):
            raise LoginRefused(f"the identity provider refused the device login: {_oauth_error(data, status)}")
        keep = ("device_code", "user_code", "verification_uri", "verification_uri_complete", "expires_in", "interval")
        return {k: data[k] for k in keep if k in data}

    async def poll_device(self, device_code: str) -> tuple[str | None, dict[str, Any]]:
        """(None, claims) once approved; (error, {}) while pending or when refused (an OAuth error code)."""
        meta = await self.metadata()
        status, data = await self._post_form(
            str(meta["token_endpoint"]), {"grant_type": DEVICE_GRANT, "device_code": device_code}
        )
        if status != 200:
            return str(data.get("error") or f"http_{status}"), {}
        return None, await self.id_token_claims(data, None)


def _oauth_error(data: dict[str, Any], status: int) -> str:
    err = data.get("error")
    desc = data.get("error_description")
    if err:
        return f"{err}" + (f" ({desc})" if desc else "")
    return f"HTTP {status}"


# --- routes --------------------------------------------------------------------------------------------


def _state(request: Request) -> Any:
    return request.app.state.golive


def _cookie_secure(request: Request) -> bool:
    return request.url.scheme == "https"


_LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*")


def safe_next(value: str | None) -> str:
    """Only a path on this server: never //host, a backslash after the first slash, a scheme, or a path with
    white space or control characters (a browser drops a tab between two slashes and goes to another host).
    Anything else becomes ``/``."""
    if not value or not _LOCAL_PATH.fullmatch(value):
        return "/"
    return value


def _redirect_uri(request: Request, cfg: config_mod.OidcConfig) -> str:
    return cfg.redirect_url or str(request.url_for("oidc_callback"))


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": "login_refused", "message": message}, status_code=status)


async def login(request: Request) -> Response:
    st = _state(request)
    cfg: config_mod.OidcConfig = st.config.oidc
    try:
        url, pending = await st.oidc.authorization_url(_redirect_uri(request, cfg))
    except LoginRefused as exc:
        return _problem(502, exc.message)
    pending["next"] = safe_next(request.query_params.get("next"))
    resp = RedirectResponse(url, status_code=302)
    resp.set_cookie(
        PENDING_COOKIE,
        st.login_sealer.seal(pending),
        max_age=int(PENDING_TTL),
        path="/auth",
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back to /auth/callback
        secure=_cookie_secure(request),
    )
    return resp


async def callback(request: Request) -> Response:
    st = _state(request)
    cfg: config_mod.OidcConfig = st.config.oidc
    pending = st.login_sealer.open(request.cookies.get(PENDING_COOKIE, ""))
    if pending is None:
        return _problem(400, "the login expired or was started in another browser; start again at /auth/login")
    if request.query_params.get("state") != pending.get("state"):
        return _problem(400, "the login's state does not match (a forged or stale callback); start again")
    if request.query_params.get("error"):
        return _problem(403, f"the identity provider refused the login: {request.query_params.get('error')}")
    code = request.query_params.get("code")
    if not code:
        return _problem(400, "the callback carries no code; start again at /auth/login")
    try:
        claims = await st.oidc.finish_code(code, pending)
        token, _ = await _session_token(st, cfg, claims)
    except LoginRefused as exc:
        return _problem(403, exc.message)
    resp = RedirectResponse(safe_next(pending.get("next")), status_code=302)
    resp.delete_cookie(PENDING_COOKIE, path="/auth")
    resp.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(cfg.session_ttl),
        path="/auth",
        httponly=True,
        samesite="strict",
        secure=_cookie_secure(request),
    )
    return resp


async def _session_token(st: Any, cfg: config_mod.OidcConfig, claims: dict[str, Any]) -> tuple[str, Any]:
    user, roles, subject = map_identity(cfg, claims)
    return await auth.create_token(
        st.store, user, roles, expires_in=cfg.session_ttl, method="oidc", subject=f"{subject}"
    )


async def session(request: Request) -> Response:
    """The bearer token of this browser's login (from the session cookie), for the page to use."""
    st = _state(request)
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return JSONResponse({"error": "unauthorized", "message": "not logged in"}, status_code=401)
    client = request.client.host if request.client else "unknown"
    wait = st.limiter.retry_after(client)
    if wait is not None:  # a cookie is a token: guessing them counts like guessing bearer tokens
        return JSONResponse(
            {"error": "rate_limited", "message": f"too many failed authentications from {client}"},
            status_code=429,
            headers={"Retry-After": str(math.ceil(wait))},
        )
    try:
        p = await st.authority.authenticate(token)
    except auth.Rejected as exc:
        st.limiter.failed(client)
        resp = JSONResponse({"error": "unauthorized", "message": exc.message}, status_code=401)
        resp.delete_cookie(SESSION_COOKIE, path="/auth")
        return resp
    return JSONResponse(
        {"token": token, "user": p.user, "roles": sorted(p.roles), "subject": p.subject},
        headers={"Cache-Control": "no-store"},
    )


async def logout(request: Request) -> Response:
    st = _state(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await st.store.revoke_token(config_mod.hash_token(token))
    resp = JSONResponse({"status": "logged out"})
    resp.delete_cookie(SESSION_COOKIE, path="/auth")
    return resp


async def device_start(request: Request) -> Response:
    st = _state(request)
    try:
        return JSONResponse(await st.oidc.start_device(), headers={"Cache-Control": "no-store"})
    except LoginRefused as exc:
        return _problem(502, exc.message)


async def device_token(request: Request) -> Response:
    st = _state(request)
    cfg: config_mod.OidcConfig = st.config.oidc
    try:
        body = await request.json()
    except ValueError:
        body = None
    code = body.get("device_code") if isinstance(body, dict) else None
    if not isinstance(code, str) or not code:
        return JSONResponse({"error": "invalid_request", "message": 'send {"device_code": ...}'}, status_code=400)
    try:
        error, claims = await st.oidc.poll_device(code)
        if error is not None:
            return JSONResponse({"error": error, "message": _DEVICE_ERRORS.get(error, error)}, status_code=400)
        token, record = await _session_token(st, cfg, claims)
    except LoginRefused as exc:
        return _problem(403, exc.message)
    return JSONResponse(
        {
            "token": token,
            "user": record.user,
            "roles": list(record.roles),
            "expires_at": record.expires_at,
            "subject": record.subject,
        },
        headers={"Cache-Control": "no-store"},
    )


_DEVICE_ERRORS = {
    "authorization_pending": "waiting for you to approve the login in the browser",
    "slow_down": "waiting for you to approve the login in the browser (polling slower)",
    "access_denied": "the login was denied at the identity provider",
    "expired_token": "the login code expired; run golive login again",
}


async def auth_config(request: Request) -> Response:
    """Whether this server offers OpenID Connect login (the sign-in page shows the button)."""
    cfg = _state(request).config.oidc
    return JSONResponse({"oidc": cfg is not None, "issuer": cfg.issuer if cfg is not None else None})


def routes(enabled: bool) -> list[BaseRoute]:
    out: list[BaseRoute] = [Route("/auth/config", auth_config, methods=["GET"], name="auth_config")]
    if enabled:
        out += [
            Route("/auth/login", login, methods=["GET"], name="oidc_login"),
            Route("/auth/callback", callback, methods=["GET"], name="oidc_callback"),
            Route("/auth/session", session, methods=["GET"], name="oidc_session"),
            Route("/auth/logout", logout, methods=["POST"], name="oidc_logout"),
            Route("/auth/device", device_start, methods=["POST"], name="oidc_device"),
            Route("/auth/device/token", device_token, methods=["POST"], name="oidc_device_token"),
        ]
    return out

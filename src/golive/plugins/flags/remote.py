"""Flags behind an HTTP API: a generic GET/PUT API, and Unleash's admin API."""

from __future__ import annotations

import os
import urllib.parse
from typing import Any

from pydantic import Field, SecretStr

from golive import exceptions, expr
from golive.plugins import _http, _util, base

__all__ = ["FLAG_HTTP_TIMEOUT", "HttpFlagOptions", "HttpFlags", "UnleashFlags", "UnleashOptions", "call"]

FLAG_HTTP_TIMEOUT = 10.0  # seconds per flag API call


def _fill(template: str, name: str) -> str:
    return template.replace("{name}", urllib.parse.quote(name, safe=""))


async def call(
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    json_body: Any = None,
    timeout: float,  # noqa: ASYNC109  # the boundary owns its deadline
    tls: _http.TlsOptions,
    ok: tuple[int, ...] = (200, 201, 202, 204),
) -> _http.HttpResponse:
    """One flag API call; no answer, or a status outside ``ok``, raises :class:`golive.exceptions.PluginError`."""
    async with _http.make_http_client(max_connections=4) as client:
        try:
            kwargs: dict[str, Any] = {} if json_body is None else {"json": json_body}
            resp = await client.request(method, url, headers=headers, timeout=timeout, tls=tls, **kwargs)
        except _http.HttpFailure as exc:
            raise exceptions.PluginError(exc.message) from None
    if resp.status not in ok:
        body = _util.cut_head(resp.text().strip().replace("\n", " "), 200)  # the engine redacts the message
        raise exceptions.PluginError(
            f"{method} {url.split('?', 1)[0]} answered status {resp.status}, expected {' or '.join(map(str, ok))}"
            + (f": {body}" if body else "")
        )
    return resp


class HttpFlagOptions(base.Params):
    """Options of the generic HTTP flag provider."""

    get_url: str = Field(description="URL to read a flag; `{name}` is replaced, e.g. https://flags/api/flags/{name}.")
    set_url: str | None = Field(default=None, description="URL to write a flag (default: get_url).")
    set_method: str = Field(default="PUT", description="Method of the write call (PUT, POST or PATCH).")
    value_path: str = Field(default="$.value", description="JSON path of the value in the GET answer.")
    body_key: str | None = Field(
        default="value", description="The write body is {body_key: value}; null sends the bare JSON value."
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Headers of every call.")
    bearer: SecretStr | None = Field(default=None, description="Bearer token; never shown.")
    timeout: _util.Duration = Field(default=FLAG_HTTP_TIMEOUT, description="Time limit per call.")
    verify_tls: bool = Field(default=True, description="Verify the server certificate.")
    ca_file: str | None = Field(default=None, description="PEM file of CA certificates to trust.")


class HttpFlags(base.FlagProvider):
    """A flag service with a read URL and a write URL per flag."""

    name = "http"
    params = HttpFlagOptions
    description = "Generic HTTP flag API: GET/PUT URL templates with {name}; value at a JSON path."

    def _headers(self) -> dict[str, str]:
        opts: HttpFlagOptions = self.options  # type: ignore[assignment]
        headers = {"Accept": "application/json", **opts.headers}
        if opts.bearer is not None:
            headers["Authorization"] = f"Bearer {opts.bearer.get_secret_value()}"
        return headers

    def _tls(self) -> _http.TlsOptions:
        opts: HttpFlagOptions = self.options  # type: ignore[assignment]
        return _http.TlsOptions(verify=opts.verify_tls, ca_file=opts.ca_file)

    async def get(self, name: str) -> Any:
        opts: HttpFlagOptions = self.options  # type: ignore[assignment]
        url = _fill(opts.get_url, name)
        resp = await call("GET", url, headers=self._headers(), timeout=opts.timeout, tls=self._tls())
        try:
            doc = resp.json()
        except ValueError as exc:
            raise exceptions.PluginError(f"GET {url.split('?', 1)[0]}: {exc}") from None
        return expr.json_path(doc, opts.value_path)

    async def set(self, name: str, value: Any) -> None:
        opts: HttpFlagOptions = self.options  # type: ignore[assignment]
        url = _fill(opts.set_url or opts.get_url, name)
        body = {opts.body_key: value} if opts.body_key else value
        await call(
            opts.set_method.upper(), url, headers=self._headers(), json_body=body, timeout=opts.timeout, tls=self._tls()
        )


class UnleashOptions(base.Params):
    """Options of the Unleash provider (admin API)."""

    url: str = Field(description="Unleash base URL, e.g. https://unleash.example.com (without /api).")
    environment: str = Field(description="Environment whose toggle is read and switched, e.g. production.")
    project: str = Field(default="default", description="Unleash project id.")
    token: SecretStr | None = Field(default=None, description="Admin API token (default: from token_env).")
    token_env: str = Field(default="UNLEASH_TOKEN", description="Environment variable holding the admin token.")
    timeout: _util.Duration = Field(default=FLAG_HTTP_TIMEOUT, description="Time limit per call.")
    verify_tls: bool = Field(default=True, description="Verify the server certificate.")
    ca_file: str | None = Field(default=None, description="PEM file of CA certificates to trust.")


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in (
        "true",
        "on",
        "1",
        "enabled",
        "false",
        "off",
        "0",
        "disabled",
    ):
        return value.strip().lower() in ("true", "on", "1", "enabled")
    raise exceptions.PluginError(f"an Unleash toggle is on or off; {_util.fmt(value)} is neither")


class UnleashFlags(base.FlagProvider):
    """Unleash feature toggles, enabled or disabled per environment through the admin API.

    Read: ``GET /api/admin/projects/{project}/features/{name}`` (``environments[].enabled``).
    Write: ``POST /api/admin/projects/{project}/features/{name}/environments/{env}/on`` (or ``/off``).
    """

    name = "unleash"
    params = UnleashOptions
    description = "Unleash admin API: feature toggle on/off in one environment."

    def _headers(self) -> dict[str, str]:
        opts: UnleashOptions = self.options  # type: ignore[assignment]
        token = opts.token.get_secret_value() if opts.token else os.environ.get(opts.token_env)
        if not token:
            raise exceptions.PluginError(f"no Unleash admin token: set `token` or ${opts.token_env}")
        # Unleash takes the raw token in Authorization, without a scheme.
        return {"Authorization": token, "Accept": "application/json"}

    def _feature_url(self, name: str) -> str:
        opts: UnleashOptions = self.options  # type: ignore[assignment]
        project = urllib.parse.quote(opts.project, safe="")
        return f"{opts.url.rstrip('/')}/api/admin/projects/{project}/features/{urllib.parse.quote(name, safe='')}"

    def _tls(self) -> _http.TlsOptions:
        opts: UnleashOptions = self.options  # type: ignore[assignment]
        return _http.TlsOptions(verify=opts.verify_tls, ca_file=opts.ca_file)

    async def get(self, name: str) -> Any:
        opts: UnleashOptions = self.options  # type: ignore[assignment]
        resp = await call(
            "GET", self._feature_url(name), headers=self._headers(), timeout=opts.timeout, tls=self._tls()
        )
        try:
            doc = resp.json()
            envs = doc["environments"]
        except (ValueError, KeyError, TypeError):
            raise exceptions.PluginError(f"unexpected Unleash answer for feature {name!r}") from None
        for env in envs:
            if isinstance(env, dict) and env.get("name") == opts.environment:
                return bool(env.get("enabled"))
        names = ", ".join(str(e.get("name")) for e in envs if isinstance(e, dict)) or "none"
        raise exceptions.PluginError(
            f"feature {name!r} has no environment {opts.environment!r} (environments: {names})"
        )

    async def set(self, name: str, value: Any) -> None:
        opts: UnleashOptions = self.options  # type: ignore[assignment]
        switch = "on" if _as_bool(value) else "off"
        env = urllib.parse.quote(opts.environment, safe="")
        url = f"{self._feature_url(name)}/environments/{env}/{switch}"
        await call("POST", url, headers=self._headers(), timeout=opts.timeout, tls=self._tls())

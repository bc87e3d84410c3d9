"""HTTP request params and sending, shared by the http check and action, graphql and http-json."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator

from golive import exceptions, expr
from golive.plugins import _http, _util, base

__all__ = ["BasicAuth", "HttpRequestParams", "http_client", "send"]

Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class BasicAuth(base.Params):
    """HTTP basic credentials."""

    username: str = Field(description="User name.")
    password: SecretStr = Field(description="Password, usually `${{ secrets.name }}`; never shown.")


class HttpRequestParams(base.Params):
    """What to send: method, URL, headers, body, credentials and TLS settings."""

    url: str = Field(description="Full URL, e.g. https://api.example.com/health.", min_length=1)
    method: Method = Field(default="GET", description="HTTP method.")
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers.")
    query: dict[str, str] = Field(default_factory=dict, description="Query string parameters.")
    body: str | None = Field(default=None, description="Raw request body (text). Use `json` for JSON.")
    json_body: Any = Field(
        default=None, alias="json", description="Request body sent as JSON (sets Content-Type: application/json)."
    )
    bearer: SecretStr | None = Field(
        default=None, description="Bearer token, usually `${{ secrets.name }}`; sent as Authorization, never shown."
    )
    basic: BasicAuth | None = Field(default=None, description="HTTP basic credentials.")
    timeout: _util.Duration | None = Field(
        default=None, description="Time limit for the whole exchange (default: the step's timeout)."
    )
    verify_tls: bool = Field(
        default=True, description="Verify the server certificate. Turn off only for a known self-signed test host."
    )
    ca_file: str | None = Field(default=None, description="PEM file of CA certificates to trust for this request.")
    follow_redirects: bool = Field(default=True, description="Follow 3xx redirects.")

    @model_validator(mode="after")
    def _one_body(self) -> HttpRequestParams:
        if self.body is not None and self.json_body is not None:
            raise ValueError("give either `body` or `json`, not both")
        if self.bearer is not None and self.basic is not None:
            raise ValueError("give either `bearer` or `basic`, not both")
        return self


@contextlib.asynccontextmanager
async def http_client(ctx: base.StepContext) -> AsyncIterator[_http.HttpClient]:
    """The run's pooled client if the engine gave one, else a client for this call only."""
    if ctx.http_pool is not None:
        yield ctx.http_pool()
        return
    if ctx.http_client is not None:
        # An engine may hand the pooled client through the older `http_client` field.
        shared: Any = ctx.http_client()
        if isinstance(shared, _http.HttpClient):
            yield shared
            return
    client = _http.make_http_client(max_connections=100)
    try:
        yield client
    finally:
        await client.aclose()


async def send(ctx: base.StepContext, p: HttpRequestParams, *, json_override: Any = None) -> _http.HttpResponse:
    """Send the request ``p`` describes; :class:`golive.plugins._http.HttpFailure` if no response."""
    headers = dict(p.headers)
    if p.bearer is not None:
        headers["Authorization"] = f"Bearer {p.bearer.get_secret_value()}"
    basic = (p.basic.username, p.basic.password.get_secret_value()) if p.basic else None
    tls = _http.TlsOptions(verify=p.verify_tls, ca_file=str(_util.resolve_path(ctx, p.ca_file)) if p.ca_file else None)
    timeout = _util.step_timeout(ctx, p.timeout)
    kwargs: dict[str, Any] = {}
    if json_override is not None:
        kwargs["json"] = json_override
    elif p.json_body is not None:
        kwargs["json"] = p.json_body
    elif p.body is not None:
        kwargs["content"] = p.body
    async with http_client(ctx) as client:
        return await client.request(
            p.method,
            p.url,
            headers=headers,
            params=p.query or None,
            timeout=timeout,
            tls=tls,
            basic_auth=basic,
            follow_redirects=p.follow_redirects,
            **kwargs,
        )


def describe_request(ctx: base.StepContext, p: HttpRequestParams) -> str:
    """``POST https://x/y (JSON body, bearer auth)`` for dry runs; redacted, without the query string."""
    extras = []
    if p.json_body is not None:
        extras.append("JSON body")
    elif p.body is not None:
        extras.append(f"{len(p.body)}-character body")
    if p.bearer is not None:
        extras.append("bearer auth")
    if p.basic is not None:
        extras.append(f"basic auth as {p.basic.username}")
    tail = f" ({', '.join(extras)})" if extras else ""
    return ctx.redact(f"{p.method} {p.url.split('?', 1)[0]}{tail}")


def check_paths(paths: dict[str, Any]) -> None:
    """Compile every JSON path key at load time (ValueError names the bad one)."""
    for path in paths:
        try:
            expr.compile_path(path)
        except exceptions.UsageError as exc:
            raise ValueError(exc.message) from None

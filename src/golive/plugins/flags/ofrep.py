"""OpenFeature Remote Evaluation Protocol (OFREP): evaluate one flag for a context, read-only.

``POST {url}/ofrep/v1/evaluate/flags/{key}`` with ``{"context": {...}}`` answers
``{"key", "value", "reason", "variant", "metadata"}``; an error answers ``{"key", "errorCode",
"errorDetails"}`` (400 ``PARSE_ERROR``/``TARGETING_KEY_MISSING``/``INVALID_CONTEXT``/``GENERAL``, 404
``FLAG_NOT_FOUND``). Any flag system with an OFREP endpoint (flagd, GO Feature Flag, DevCycle, ...)
can be read this way; OFREP has no write call, so ``set`` is refused.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from pydantic import Field, SecretStr

from golive import exceptions
from golive.plugins import _http, _util, base
from golive.plugins.flags import remote

__all__ = ["OfrepFlags", "OfrepOptions"]


class OfrepOptions(base.Params):
    """Options of the OFREP reader."""

    url: str = Field(description="Base URL of the OFREP service (without /ofrep/v1), e.g. https://flags.example.com.")
    context: dict[str, Any] = Field(
        default_factory=dict,
        description="Evaluation context sent with every evaluation, e.g. {targetingKey: golive, region: eu}.",
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Headers of every call (e.g. an API key).")
    bearer: SecretStr | None = Field(default=None, description="Bearer token; never shown.")
    timeout: _util.Duration = Field(default=remote.FLAG_HTTP_TIMEOUT, description="Time limit per call.")
    verify_tls: bool = Field(default=True, description="Verify the server certificate.")
    ca_file: str | None = Field(default=None, description="PEM file of CA certificates to trust.")


class OfrepFlags(base.FlagProvider):
    """Evaluates flags through any OFREP endpoint; read-only."""

    name = "ofrep"
    params = OfrepOptions
    read_only = True
    description = "OpenFeature Remote Evaluation Protocol: evaluate a flag for a context (read-only)."

    async def get(self, name: str) -> Any:
        opts: OfrepOptions = self.options  # type: ignore[assignment]
        url = f"{opts.url.rstrip('/')}/ofrep/v1/evaluate/flags/{urllib.parse.quote(name, safe='')}"
        headers = {"Accept": "application/json", **opts.headers}
        if opts.bearer is not None:
            headers["Authorization"] = f"Bearer {opts.bearer.get_secret_value()}"
        tls = _http.TlsOptions(verify=opts.verify_tls, ca_file=opts.ca_file)
        resp = await remote.call(
            "POST",
            url,
            headers=headers,
            json_body={"context": opts.context},
            timeout=opts.timeout,
            tls=tls,
            ok=(200, 400, 404),
        )
        try:
            doc = resp.json()
        except ValueError as exc:
            raise exceptions.PluginError(f"OFREP flag {name!r}: {exc}") from None
        if not isinstance(doc, dict):
            raise exceptions.PluginError(f"OFREP flag {name!r}: the answer is not an object")
        if resp.status != 200 or "errorCode" in doc:
            code = doc.get("errorCode", "GENERAL")
            details = _util.cut_head(str(doc.get("errorDetails") or ""), 200)
            raise exceptions.PluginError(
                f"OFREP could not evaluate {name!r} (status {resp.status}, {code})"
                + (f": {details}" if details else "")
            )
        if "value" not in doc:
            raise exceptions.PluginError(f"OFREP flag {name!r}: the answer has no value")
        return doc["value"]

    async def set(self, name: str, value: Any) -> None:
        raise exceptions.PluginError(
            f"OFREP is a read-only evaluation API: change {name!r} in the flag system behind it "
            "(or use its own provider, e.g. launchdarkly or flagd)"
        )

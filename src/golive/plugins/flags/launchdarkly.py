"""LaunchDarkly feature flags through its REST API (v2), written with a semantic patch and read back.

Read: ``GET /api/v2/flags/{projectKey}/{featureFlagKey}?env={environmentKey}`` (the flag with its
variations and that environment's ``on``, ``fallthrough`` and ``offVariation``).

Write: ``PATCH /api/v2/flags/{projectKey}/{featureFlagKey}`` with
``Content-Type: application/json; domain-model=launchdarkly.semanticpatch`` and a body
``{"environmentKey": ..., "comment": ..., "instructions": [{"kind": "turnFlagOff"}]}``. A semantic patch
says what to do ("turn the flag off") instead of which JSON pointer to overwrite, so a write never
clobbers a targeting change someone made a second earlier. The answer is the updated flag; ``set``
checks it shows the new value (and the flag action reads the flag back again with a GET).

The API access token goes in ``Authorization`` as is (LaunchDarkly tokens take no scheme).
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Any, Literal

from pydantic import Field, SecretStr

from golive import exceptions
from golive.plugins import _http, _util, base
from golive.plugins.flags import remote

__all__ = ["SEMANTIC_PATCH", "LaunchDarklyFlags", "LaunchDarklyOptions"]

DEFAULT_LD_URL = "https://app.launchdarkly.com"
LD_API_VERSION = "20240415"  # the REST API version golive was written against (LD-API-Version header)
SEMANTIC_PATCH = "application/json; domain-model=launchdarkly.semanticpatch"


class LaunchDarklyOptions(base.Params):
    """Options of the LaunchDarkly provider."""

    project: str = Field(description="Project key, e.g. default.", min_length=1)
    environment: str = Field(description="Environment key whose targeting is read and changed, e.g. production.")
    reads: Literal["state", "variation"] = Field(
        default="state",
        description="`state`: a flag's value is its targeting state (true = on, false = off); setting it turns "
        "targeting on or off. `variation`: a flag's value is the variation it serves by default (the fallthrough "
        "when on, the off variation when off); setting it turns targeting on and serves the variation with "
        "that value.",
    )
    url: str = Field(default=DEFAULT_LD_URL, description="API base URL (without /api/v2).")
    token: SecretStr | None = Field(
        default=None, description="API access token with writer role, usually `${{ secrets.ld_token }}`; never shown."
    )
    token_env: str = Field(default="LD_API_KEY", description="Environment variable holding the token when no `token`.")
    comment: str = Field(default="golive", description="Comment recorded in the flag's audit log with each change.")
    timeout: _util.Duration = Field(default=remote.FLAG_HTTP_TIMEOUT, description="Time limit per call.")
    verify_tls: bool = Field(default=True, description="Verify the server certificate.")
    ca_file: str | None = Field(default=None, description="PEM file of CA certificates to trust.")


def _env_of(doc: Any, flag: str, env: str) -> dict[str, Any]:
    try:
        envs = doc["environments"]
    except (KeyError, TypeError):
        raise exceptions.PluginError(f"unexpected LaunchDarkly answer for flag {flag!r} (no environments)") from None
    if not isinstance(envs, dict) or not isinstance(envs.get(env), dict):
        names = ", ".join(sorted(envs)) if isinstance(envs, dict) else "none"
        raise exceptions.PluginError(f"flag {flag!r} has no environment {env!r} (environments: {names or 'none'})")
    return envs[env]  # type: ignore[no-any-return]


def _variations(doc: Any, flag: str) -> list[dict[str, Any]]:
    variations = doc.get("variations") if isinstance(doc, dict) else None
    if not isinstance(variations, list) or not all(isinstance(v, dict) for v in variations):
        raise exceptions.PluginError(f"unexpected LaunchDarkly answer for flag {flag!r} (no variations)")
    return variations


def _served(doc: Any, flag: str, env: str) -> Any:
    """The value the flag serves by default in ``env``: the fallthrough when on, the off variation when off."""
    cfg = _env_of(doc, flag, env)
    variations = _variations(doc, flag)
    if cfg.get("on"):
        fallthrough = cfg.get("fallthrough") or {}
        index = fallthrough.get("variation") if isinstance(fallthrough, dict) else None
        if index is None:
            raise exceptions.PluginError(
                f"flag {flag!r} serves a percentage rollout in {env!r}, not one variation; read it with reads: state"
            )
    else:
        index = cfg.get("offVariation")
        if index is None:
            raise exceptions.PluginError(f"flag {flag!r} is off in {env!r} and has no off variation")
    if not isinstance(index, int) or not 0 <= index < len(variations):
        raise exceptions.PluginError(f"flag {flag!r}: variation index {index!r} is out of range")
    return variations[index].get("value")


def _as_state(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "on", "false", "off"):
        return value.strip().lower() in ("true", "on")
    raise exceptions.PluginError(
        f"with reads: state a LaunchDarkly flag is on (true) or off (false); {_util.fmt(value)} is neither "
        "(use reads: variation to serve a variation by its value)"
    )


class LaunchDarklyFlags(base.FlagProvider):
    """LaunchDarkly flags in one project and environment: targeting on/off, or the variation served."""

    name = "launchdarkly"
    params = LaunchDarklyOptions
    description = "LaunchDarkly REST API: targeting on/off or the served variation, via semantic patch."

    def _opts(self) -> LaunchDarklyOptions:
        return self.options  # type: ignore[return-value]

    def _headers(self) -> dict[str, str]:
        opts = self._opts()
        token = opts.token.get_secret_value() if opts.token else os.environ.get(opts.token_env)
        if not token:
            raise exceptions.PluginError(f"no LaunchDarkly API token: set `token` or ${opts.token_env}")
        return {"Authorization": token, "Accept": "application/json", "LD-API-Version": LD_API_VERSION}

    def _flag_url(self, name: str) -> str:
        opts = self._opts()
        project = urllib.parse.quote(opts.project, safe="")
        return f"{opts.url.rstrip('/')}/api/v2/flags/{project}/{urllib.parse.quote(name, safe='')}"

    def _tls(self) -> _http.TlsOptions:
        opts = self._opts()
        return _http.TlsOptions(verify=opts.verify_tls, ca_file=opts.ca_file)

    async def _read(self, name: str) -> Any:
        opts = self._opts()
        url = f"{self._flag_url(name)}?env={urllib.parse.quote(opts.environment, safe='')}"
        resp = await remote.call("GET", url, headers=self._headers(), timeout=opts.timeout, tls=self._tls())
        try:
            return resp.json()
        except ValueError as exc:
            raise exceptions.PluginError(f"LaunchDarkly flag {name!r}: {exc}") from None

    def _value(self, doc: Any, name: str) -> Any:
        opts = self._opts()
        if opts.reads == "state":
            return bool(_env_of(doc, name, opts.environment).get("on"))
        return _served(doc, name, opts.environment)

    async def get(self, name: str) -> Any:
        return self._value(await self._read(name), name)

    async def set(self, name: str, value: Any) -> None:
        opts = self._opts()
        if opts.reads == "state":
            instructions: list[dict[str, Any]] = [{"kind": "turnFlagOn" if _as_state(value) else "turnFlagOff"}]
        else:
            doc = await self._read(name)
            variations = _variations(doc, name)
            match = [v for v in variations if _util.same(v.get("value"), value)]
            if not match or not isinstance(match[0].get("_id"), str):
                shown = ", ".join(_util.fmt(v.get("value")) for v in variations)
                raise exceptions.PluginError(f"flag {name!r} has no variation {_util.fmt(value)} (variations: {shown})")
            instructions = [
                {"kind": "turnFlagOn"},
                {"kind": "updateFallthroughVariationOrRollout", "variationId": match[0]["_id"]},
            ]
        body = {"environmentKey": opts.environment, "comment": opts.comment, "instructions": instructions}
        headers = {**self._headers(), "Content-Type": SEMANTIC_PATCH}
        resp = await remote.call(
            "PATCH", self._flag_url(name), headers=headers, json_body=body, timeout=opts.timeout, tls=self._tls()
        )
        # The answer is the updated flag: confirm the change took before anyone reads it back.
        try:
            after = self._value(resp.json(), name)
        except ValueError as exc:
            raise exceptions.PluginError(f"LaunchDarkly flag {name!r}: {exc}") from None
        want = _as_state(value) if opts.reads == "state" else value
        if not _util.same(after, want):
            raise exceptions.PluginError(
                f"LaunchDarkly accepted the change to {name!r} but the flag it returned serves {_util.fmt(after)}, "
                f"not {_util.fmt(want)}"
            )

"""``vault-write``: write fields of a Vault KV v2 secret, then read the secret back to prove it took.

Create/replace: ``POST /v1/{mount}/data/{path}`` with ``{"data": {...}, "options": {"cas": n}}``.
Merge into the existing fields: ``PATCH`` on the same path with ``Content-Type: application/merge-patch+json``.
The answer carries the new version; the read-back (``GET /v1/{mount}/data/{path}``) must show that version
and every written value, or the step fails.

Values are secrets by definition: they are never part of a summary, an output, a log line or an error
(only the field names and the version are). The calls go through the run's pooled aiohttp client rather
than hvac (which the read-only ``vault`` secret provider uses): a write must obey the step's own timeout,
and an async call can be cancelled where a thread cannot.
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Any

from pydantic import Field, SecretStr

from golive import results
from golive.plugins import _http, _request, _util, base
from golive.plugins.secrets.vault import DEFAULT_VAULT_ADDR

__all__ = ["VaultWriteAction", "VaultWriteParams"]

MERGE_PATCH = "application/merge-patch+json"


class VaultWriteParams(base.Params):
    """A KV v2 secret and the fields to write into it."""

    path: str = Field(min_length=1, description="Secret path inside the mount, e.g. app/prod.")
    data: dict[str, SecretStr] = Field(
        min_length=1,
        description="Field -> value, e.g. {DATABASE_URL: '${{ secrets.new_database_url }}'}; values are never shown.",
    )
    merge: bool = Field(
        default=True,
        description="Keep the secret's other fields (PATCH, needs the `patch` capability and an existing secret); "
        "false replaces the whole secret with `data` (POST, creates it when missing).",
    )
    cas: int | None = Field(
        default=None,
        ge=0,
        description="Check-and-set: write only if the secret's current version is this (0: only if it does not exist).",
    )
    mount: str = Field(default="secret", description="Mount point of the KV v2 engine.")
    url: str | None = Field(default=None, description=f"Vault address (default: $VAULT_ADDR or {DEFAULT_VAULT_ADDR}).")
    token: SecretStr | None = Field(
        default=None, description="Vault token, e.g. `${{ secrets.vault_token }}`; never shown."
    )
    token_env: str = Field(default="VAULT_TOKEN", description="Environment variable holding the token when no `token`.")
    namespace: str | None = Field(default=None, description="Vault Enterprise namespace.")
    timeout: _util.Duration | None = Field(default=None, description="Time limit per call (default: the step's).")
    verify_tls: bool = Field(default=True, description="Verify the server certificate.")
    ca_file: str | None = Field(default=None, description="PEM file of CA certificates to trust.")


def _errors(resp: _http.HttpResponse) -> str:
    """Vault's ``{"errors": [...]}`` as one line (messages, never values)."""
    try:
        errs = resp.json().get("errors")
    except (ValueError, AttributeError):
        errs = None
    if isinstance(errs, list) and errs:
        return _util.cut_head("; ".join(str(e) for e in errs), 200)
    return ""


class VaultWriteAction(base.ActionPlugin):
    """Write a Vault KV v2 secret's fields and confirm them by reading the secret back."""

    name = "vault-write"
    params = VaultWriteParams
    description = "Write fields of a Vault KV v2 secret (merge or replace, check-and-set), confirmed by read-back."

    async def run(self, ctx: base.StepContext) -> results.Result:
        p: VaultWriteParams = ctx.params
        where = f"{p.mount}/{p.path}"
        keys = sorted(p.data)
        output: dict[str, Any] = {"mount": p.mount, "path": p.path, "keys": keys, "merge": p.merge}
        token = p.token.get_secret_value() if p.token else os.environ.get(p.token_env)
        if not token:
            return _util.finish(ctx, results.Outcome.ERROR, f"no Vault token: set `token` or ${p.token_env}")
        base_url = (p.url or os.environ.get("VAULT_ADDR") or DEFAULT_VAULT_ADDR).rstrip("/")
        url = (
            f"{base_url}/v1/{urllib.parse.quote(p.mount.strip('/'), safe='/')}"
            f"/data/{urllib.parse.quote(p.path.strip('/'), safe='/')}"
        )
        headers = {"X-Vault-Token": token, "Accept": "application/json"}
        if p.namespace:
            headers["X-Vault-Namespace"] = p.namespace
        tls = _http.TlsOptions(
            verify=p.verify_tls, ca_file=str(_util.resolve_path(ctx, p.ca_file)) if p.ca_file else None
        )
        timeout = _util.step_timeout(ctx, p.timeout)
        body: dict[str, Any] = {"data": {k: v.get_secret_value() for k, v in p.data.items()}}
        if p.cas is not None:
            body["options"] = {"cas": p.cas}
        method = "PATCH" if p.merge else "POST"
        if p.merge:
            headers["Content-Type"] = MERGE_PATCH
        async with _request.http_client(ctx) as client:
            try:
                resp = await client.request(method, url, headers=headers, json=body, timeout=timeout, tls=tls)
            except _http.HttpFailure as exc:
                return _util.finish(
                    ctx, results.Outcome.ERROR, f"writing {where} in Vault failed: {exc.message}", output=output
                )
            if resp.status not in (200, 204):
                detail = _errors(resp)
                hint = ""
                if resp.status == 404 and p.merge:
                    hint = " (merge patches an existing secret; use merge: false to create it)"
                return _util.finish(
                    ctx,
                    results.Outcome.ERROR,
                    f"Vault refused the write to {where}: status {resp.status}"
                    + (f" ({detail})" if detail else "")
                    + hint,
                    output=output,
                )
            try:
                version = resp.json()["data"]["version"]
            except (ValueError, KeyError, TypeError):
                return _util.finish(
                    ctx, results.Outcome.ERROR, f"Vault's answer to the write to {where} has no version", output=output
                )
            output["version"] = version
            try:
                back = await client.request("GET", url, headers=headers, timeout=timeout, tls=tls)
            except _http.HttpFailure as exc:
                return _util.finish(
                    ctx, results.Outcome.ERROR, f"reading {where} back from Vault failed: {exc.message}", output=output
                )
        if back.status != 200:
            detail = _errors(back)
            return _util.finish(
                ctx,
                results.Outcome.ERROR,
                f"reading {where} back from Vault answered status {back.status}" + (f" ({detail})" if detail else ""),
                output=output,
            )
        try:
            doc = back.json()["data"]
            stored, read_version = doc["data"], doc["metadata"]["version"]
        except (ValueError, KeyError, TypeError):
            return _util.finish(
                ctx, results.Outcome.ERROR, f"unexpected Vault answer reading {where} back", output=output
            )
        output["read_back_version"] = read_version
        if read_version != version:
            return _util.finish(
                ctx,
                results.Outcome.FAIL,
                f"{where} reads back at version {read_version}, not the version {version} just written "
                "(someone else wrote it in between)",
                output=output,
            )
        differ = [k for k in keys if not isinstance(stored, dict) or stored.get(k) != p.data[k].get_secret_value()]
        if differ:
            return _util.finish(
                ctx, results.Outcome.FAIL, f"{where} reads back different values for {', '.join(differ)}", output=output
            )
        return _util.finish(
            ctx,
            results.Outcome.PASS,
            f"wrote {', '.join(keys)} to {where} in Vault (version {version}, read back)",
            output=output,
        )

    def describe(self, ctx: base.StepContext) -> str:
        p: VaultWriteParams = ctx.params
        how = "merge into" if p.merge else "replace"
        cas = f" if at version {p.cas}" if p.cas is not None else ""
        return ctx.redact(f"would {how} {p.mount}/{p.path} in Vault: fields {', '.join(sorted(p.data))}{cas}")

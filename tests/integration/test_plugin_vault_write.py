"""The vault-write action against a loopback Vault KV v2 API checked against Vault's API description."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from golive.plugins.actions.vault import VaultWriteAction, VaultWriteParams
from golive.results import Outcome
from golive.testing import make_ctx

from .vendor_api import Call, VendorApi, load

VAULT_TOKEN = "hvs.CAESIvault-write-token-6d1f"
OLD_URL = "postgresql://app:old-pass-81@db-old:5432/orders"
NEW_URL = "postgresql://app:new-pass-93@db-new:5432/orders"


class Kv2:
    """Versions of each secret at `mount/path`, with check-and-set as Vault does it."""

    def __init__(self) -> None:
        self.versions: dict[str, list[dict[str, Any]]] = {
            "secret/app/prod": [{"DATABASE_URL": OLD_URL, "REDIS_URL": "redis://cache:6379"}]
        }
        self.stale_reads = False  # answer reads with the previous version (a concurrent writer)

    def _key(self, call: Call) -> str:
        return f"{call.params['mount']}/{call.params['path']}"

    def read(self, call: Call) -> tuple[int, Any]:
        versions = self.versions.get(self._key(call))
        if not versions:
            return 404, {"errors": []}
        n = len(versions) - (1 if self.stale_reads and len(versions) > 1 else 0)
        return 200, {
            "data": {"data": versions[n - 1], "metadata": {"version": n, "destroyed": False, "deletion_time": ""}}
        }

    def _write(self, call: Call, merge: bool) -> tuple[int, Any]:
        key, body = self._key(call), call.json()
        versions = self.versions.get(key, [])
        if merge and not versions:
            return 404, {"errors": []}
        cas = (body.get("options") or {}).get("cas")
        if cas is not None and cas != len(versions):
            return 400, {"errors": ["check-and-set parameter did not match the current version"]}
        data = {**versions[-1], **body["data"]} if merge else dict(body["data"])
        self.versions[key] = [*versions, data]
        return 200, {"data": {"version": len(versions) + 1, "destroyed": False, "deletion_time": ""}}

    def write(self, call: Call) -> tuple[int, Any]:
        return self._write(call, merge=False)

    def patch(self, call: Call) -> tuple[int, Any]:
        return self._write(call, merge=True)


@pytest.fixture
async def vault() -> AsyncIterator[tuple[VendorApi, Kv2]]:
    kv = Kv2()
    api = VendorApi(
        load("vault-kv2.yaml"),
        {"kvV2Read": kv.read, "kvV2Write": kv.write, "kvV2Patch": kv.patch},
        credentials={"VaultToken": {VAULT_TOKEN}},
        unauthorized=(403, {"errors": ["permission denied"]}),  # Vault's answer to a bad or missing token
    )
    await api.start()
    try:
        yield api, kv
    finally:
        await api.close()


def params(api: VendorApi, **kw: Any) -> VaultWriteParams:
    return VaultWriteParams.model_validate(
        {"url": api.url(), "token": VAULT_TOKEN, "path": "app/prod", "data": {"DATABASE_URL": NEW_URL}, **kw}
    )


def secrets_ctx(p: VaultWriteParams, **kw: Any) -> Any:
    return make_ctx(p, secrets={"vault_token": VAULT_TOKEN, "new_url": NEW_URL, "old_url": OLD_URL}, **kw)


def dumped(result: Any) -> str:
    return json.dumps(result.model_dump(mode="json"), default=str)


async def test_vault_write_merges_a_field_and_reads_it_back(vault: tuple[VendorApi, Kv2]) -> None:
    """merge (default): PATCH merge-patch+json keeps REDIS_URL; the read-back shows the new version and value;
    no value is in the result."""
    api, kv = vault
    result = await VaultWriteAction().run(secrets_ctx(params(api, cas=1)))
    assert result.outcome is Outcome.PASS, result.summary
    assert kv.versions["secret/app/prod"][-1] == {"DATABASE_URL": NEW_URL, "REDIS_URL": "redis://cache:6379"}
    assert result.output == {
        "mount": "secret",
        "path": "app/prod",
        "keys": ["DATABASE_URL"],
        "merge": True,
        "version": 2,
        "read_back_version": 2,
    }
    (patch,) = api.calls("kvV2Patch")
    assert patch.headers["x-vault-token"] == VAULT_TOKEN
    assert patch.media_type == "application/merge-patch+json"
    assert patch.json() == {"data": {"DATABASE_URL": NEW_URL}, "options": {"cas": 1}}
    assert len(api.calls("kvV2Read")) == 1
    for value in (NEW_URL, VAULT_TOKEN, "new-pass-93"):
        assert value not in dumped(result)
    assert not api.rejected, api.rejected


async def test_vault_write_replace_creates_a_secret(vault: tuple[VendorApi, Kv2]) -> None:
    """merge: false POSTs the whole secret (creating it; cas 0 = only if it does not exist)."""
    api, kv = vault
    p = params(api, path="app/new-service/prod", merge=False, cas=0, data={"API_KEY": "k-123", "MODE": "live"})
    result = await VaultWriteAction().run(secrets_ctx(p))
    assert result.outcome is Outcome.PASS, result.summary
    assert kv.versions["secret/app/new-service/prod"] == [{"API_KEY": "k-123", "MODE": "live"}]
    assert api.calls("kvV2Write")[0].params["path"] == "app/new-service/prod"
    assert not api.rejected


async def test_vault_write_check_and_set_conflict_and_bad_token_are_errors(vault: tuple[VendorApi, Kv2]) -> None:
    """A cas mismatch (400) names Vault's reason; a refused token (403) is an ERROR; nothing leaks."""
    api, kv = vault
    conflict = await VaultWriteAction().run(secrets_ctx(params(api, cas=5)))
    assert conflict.outcome is Outcome.ERROR
    assert "check-and-set parameter did not match" in conflict.summary
    wrong = await VaultWriteAction().run(secrets_ctx(params(api, token="hvs.wrong")))
    assert wrong.outcome is Outcome.ERROR
    assert "status 403 (permission denied)" in wrong.summary
    assert len(kv.versions["secret/app/prod"]) == 1
    for result in (conflict, wrong):
        assert NEW_URL not in dumped(result)
        assert VAULT_TOKEN not in dumped(result)


@pytest.mark.parametrize("fault", ["401", "500", "503", "timeout"])
async def test_vault_write_outage_fails_closed(vault: tuple[VendorApi, Kv2], fault: str) -> None:
    """A 401, a 5xx or a timeout is an ERROR, never a pass."""
    api, _ = vault
    if fault == "timeout":
        api.delay = 1.0
    else:
        api.fault_status = int(fault)
    result = await VaultWriteAction().run(secrets_ctx(params(api, timeout="300ms")))
    assert result.outcome is Outcome.ERROR
    assert ("timed out" in result.summary) if fault == "timeout" else (f"status {fault}" in result.summary)


async def test_vault_write_fails_when_the_read_back_is_not_the_version_written(vault: tuple[VendorApi, Kv2]) -> None:
    """A read-back at another version (someone wrote in between) fails the step."""
    api, kv = vault
    kv.stale_reads = True
    result = await VaultWriteAction().run(secrets_ctx(params(api)))
    assert result.outcome is Outcome.FAIL
    assert "reads back at version 1, not the version 2 just written" in result.summary


def test_vault_write_describe_names_fields_not_values() -> None:
    """The dry-run description names the path and fields; the value is not in it."""
    p = VaultWriteParams.model_validate({"path": "app/prod", "data": {"DATABASE_URL": NEW_URL}, "cas": 3})
    text = VaultWriteAction().describe(make_ctx(p))
    assert text == "would merge into secret/app/prod in Vault: fields DATABASE_URL if at version 3"


async def test_vault_fake_rejects_a_malformed_write(vault: tuple[VendorApi, Kv2]) -> None:
    """A body without `data`, an unknown option, a PATCH without merge-patch+json and no token are refused."""
    api, _ = vault
    url = api.url("/v1/secret/data/app/prod")
    token = {"X-Vault-Token": VAULT_TOKEN, "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=json.dumps({"DATABASE_URL": "x"}), headers=token) as resp:
            assert resp.status == 400
        async with session.post(url, data=json.dumps({"data": {}, "options": {"cas": -1}}), headers=token) as resp:
            assert resp.status == 400
        async with session.patch(url, data=json.dumps({"data": {"a": "b"}}), headers=token) as resp:
            assert resp.status == 400
        async with session.get(url) as resp:
            assert resp.status == 403
    assert len(api.rejected) == 4
    assert not api.calls("kvV2Write")
    assert not api.calls("kvV2Patch")

"""LaunchDarkly and OFREP flag providers and the `flag` check, against loopback servers checked against
the vendors' API descriptions (tests/integration/vendor_apis/)."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from openapi_spec_validator import validate as validate_openapi

from golive import exceptions
from golive.plugins.actions.flag import FlagAction, FlagActionParams
from golive.plugins.checks.flag import FlagCheck, FlagCheckParams
from golive.plugins.flags.launchdarkly import SEMANTIC_PATCH, LaunchDarklyFlags, LaunchDarklyOptions
from golive.plugins.flags.ofrep import OfrepFlags, OfrepOptions
from golive.results import Outcome
from golive.testing import make_ctx

from .vendor_api import Call, VendorApi, load

LD_TOKEN = "api-7f3c1e2a-ld-writer-token-0042"
OFREP_TOKEN = "ofrep-bearer-5b9d0c77e1"

FLAG: dict[str, Any] = {
    "key": "orders.write_new_db",
    "name": "Orders write to the new database",
    "kind": "boolean",
    "variations": [{"_id": "v-true", "value": True}, {"_id": "v-false", "value": False}],
    "environments": {
        "production": {"on": False, "offVariation": 1, "fallthrough": {"variation": 0}, "_version": 7},
        "staging": {"on": True, "offVariation": 1, "fallthrough": {"variation": 0}, "_version": 3},
    },
}


class LaunchDarkly:
    """The flags of one project, changed only through semantic patch instructions."""

    def __init__(self) -> None:
        self.flags = {FLAG["key"]: copy.deepcopy(FLAG)}
        self.flags["checkout.mode"] = {
            "key": "checkout.mode",
            "kind": "multivariate",
            "variations": [{"_id": "v-old", "value": "old"}, {"_id": "v-new", "value": "new"}],
            "environments": {
                "production": {"on": True, "offVariation": 0, "fallthrough": {"variation": 0}, "_version": 1}
            },
        }

    def get(self, call: Call) -> tuple[int, Any]:
        flag = self.flags.get(call.params["featureFlagKey"])
        if call.params["projectKey"] != "default" or flag is None:
            return 404, {"code": "not_found", "message": "Unknown resource"}
        env = call.query.get("env")
        doc = copy.deepcopy(flag)
        if env:
            doc["environments"] = {k: v for k, v in doc["environments"].items() if k == env}
        return 200, doc

    def patch(self, call: Call) -> tuple[int, Any]:
        flag = self.flags.get(call.params["featureFlagKey"])
        if flag is None:
            return 404, {"code": "not_found", "message": "Unknown resource"}
        if call.media_type != SEMANTIC_PATCH.replace(" ", ""):
            return 400, {"code": "invalid_request", "message": "this fake only takes semantic patches"}
        body = call.json()
        env = flag["environments"].get(body.get("environmentKey"))
        if env is None:
            return 400, {"code": "invalid_request", "message": "instruction requires a valid environmentKey"}
        ids = [v["_id"] for v in flag["variations"]]
        for ins in body["instructions"]:
            if ins["kind"] in ("turnFlagOn", "turnFlagOff"):
                env["on"] = ins["kind"] == "turnFlagOn"
            elif ins["kind"] == "updateFallthroughVariationOrRollout":
                if ins.get("variationId") not in ids:
                    return 400, {"code": "invalid_request", "message": "unknown variationId"}
                env["fallthrough"] = {"variation": ids.index(ins["variationId"])}
            else:
                return 400, {"code": "invalid_request", "message": f"unsupported instruction {ins['kind']}"}
        env["_version"] += 1
        return 200, copy.deepcopy(flag)


@pytest.fixture
async def ld() -> AsyncIterator[tuple[VendorApi, LaunchDarkly]]:
    state = LaunchDarkly()
    api = VendorApi(
        load("launchdarkly.yaml"),
        {"getFeatureFlag": state.get, "patchFeatureFlag": state.patch},
        credentials={"ApiKey": {LD_TOKEN}},
    )
    await api.start()
    try:
        yield api, state
    finally:
        await api.close()


def ld_opts(api: VendorApi, **kw: Any) -> LaunchDarklyOptions:
    return LaunchDarklyOptions(
        project=kw.pop("project", "default"), environment="production", url=api.url(), token=LD_TOKEN, **kw
    )


@pytest.mark.parametrize(
    "name", ["launchdarkly.yaml", "ofrep.yaml", "vault-kv2.yaml", "servicenow-table.yaml", "jira-issues.yaml"]
)
def test_the_api_descriptions_are_valid_openapi(name: str) -> None:
    """Each transcribed API description is a valid OpenAPI document (so the fakes check real shapes)."""
    validate_openapi(load(name))  # raises on an invalid document


async def test_launchdarkly_turns_a_flag_off_with_a_semantic_patch_and_reads_it_back(
    ld: tuple[VendorApi, LaunchDarkly],
) -> None:
    """The flag action turns the flag on via turnFlagOn in one environment; GET reads the new state back."""
    api, state = ld
    provider = LaunchDarklyFlags(ld_opts(api, comment="cutover CHG-1"))
    assert await provider.get("orders.write_new_db") is False
    result = await FlagAction().run(make_ctx(FlagActionParams(flags={"orders.write_new_db": True}), flags=provider))
    assert result.outcome is Outcome.PASS, result.summary
    assert result.output["flags"]["orders.write_new_db"] == {"before": False, "wanted": True, "after": True}
    assert state.flags["orders.write_new_db"]["environments"]["production"]["on"] is True
    assert state.flags["orders.write_new_db"]["environments"]["staging"]["on"] is True  # untouched
    (patch,) = api.calls("patchFeatureFlag")
    assert patch.headers["authorization"] == LD_TOKEN
    assert patch.headers["content-type"].replace(" ", "") == SEMANTIC_PATCH.replace(" ", "")
    assert patch.json() == {
        "environmentKey": "production",
        "comment": "cutover CHG-1",
        "instructions": [{"kind": "turnFlagOn"}],
    }
    assert [c.query.get("env") for c in api.calls("getFeatureFlag")] == ["production"] * 3
    assert not api.rejected, api.rejected


async def test_launchdarkly_variation_mode_serves_the_variation_with_that_value(
    ld: tuple[VendorApi, LaunchDarkly],
) -> None:
    """reads: variation: setting 'new' sends turnFlagOn + updateFallthroughVariationOrRollout by variation id."""
    api, _state = ld
    provider = LaunchDarklyFlags(ld_opts(api, reads="variation"))
    assert await provider.get("checkout.mode") == "old"
    await provider.set("checkout.mode", "new")
    assert await provider.get("checkout.mode") == "new"
    (patch,) = api.calls("patchFeatureFlag")
    assert patch.json()["instructions"] == [
        {"kind": "turnFlagOn"},
        {"kind": "updateFallthroughVariationOrRollout", "variationId": "v-new"},
    ]
    with pytest.raises(exceptions.PluginError, match='no variation "newest"'):
        await provider.set("checkout.mode", "newest")
    assert not api.rejected, api.rejected


async def test_launchdarkly_fake_rejects_a_malformed_semantic_patch(ld: tuple[VendorApi, LaunchDarkly]) -> None:
    """The fake refuses what LaunchDarkly refuses: an unknown instruction, no instructions, a JSON patch body
    under the semantic patch media type, and a request without the token."""
    api, _ = ld
    url = api.url("/api/v2/flags/default/orders.write_new_db")
    headers = {"Authorization": LD_TOKEN, "Content-Type": SEMANTIC_PATCH}
    bad_bodies = [
        {"environmentKey": "production", "instructions": [{"kind": "flipFlag"}]},
        {"environmentKey": "production", "instructions": []},
        [{"op": "replace", "path": "/environments/production/on", "value": True}],
    ]
    async with aiohttp.ClientSession() as session:
        for body in bad_bodies:
            async with session.patch(url, data=json.dumps(body), headers=headers) as resp:
                assert resp.status == 400
        async with session.get(url) as resp:
            assert resp.status == 401
        async with session.delete(url, headers=headers) as resp:
            assert resp.status == 405
    assert len(api.rejected) == 5
    assert not api.calls("patchFeatureFlag")


async def test_launchdarkly_bad_token_fails_closed_and_is_never_shown(ld: tuple[VendorApi, LaunchDarkly]) -> None:
    """A refused token (401) makes the flag check an ERROR; the token is in no summary or output."""
    api, _ = ld
    wrong = "api-wrong-token-99"
    source = {"type": "launchdarkly", "with": ld_opts(api).model_dump(mode="json") | {"token": wrong}}
    ctx = make_ctx(FlagCheckParams.model_validate({"flag": "orders.write_new_db", "is": False, "source": source}))
    result = await FlagCheck().run(ctx)
    assert result.outcome is Outcome.ERROR
    assert "status 401" in result.summary
    assert wrong not in json.dumps(result.model_dump(mode="json"), default=str)


@pytest.mark.parametrize("fault", ["500", "503", "timeout"])
async def test_launchdarkly_outage_fails_closed(ld: tuple[VendorApi, LaunchDarkly], fault: str) -> None:
    """A 5xx or a timeout is an ERROR for the check and the action, never a pass."""
    api, _ = ld
    if fault == "timeout":
        api.delay = 1.0
    else:
        api.fault_status = int(fault)
    provider = LaunchDarklyFlags(ld_opts(api, timeout="300ms"))
    check = await FlagCheck().run(
        make_ctx(FlagCheckParams.model_validate({"flag": "orders.write_new_db", "is": False}), flags=provider)
    )
    assert check.outcome is Outcome.ERROR, check.summary
    assert ("timed out" in check.summary) if fault == "timeout" else (f"status {fault}" in check.summary)
    action = await FlagAction().run(make_ctx(FlagActionParams(flags={"orders.write_new_db": True}), flags=provider))
    assert action.outcome is Outcome.ERROR


async def test_launchdarkly_unknown_environment_is_named(ld: tuple[VendorApi, LaunchDarkly]) -> None:
    """A flag without the environment is an error naming the environments it has."""
    api, _ = ld
    provider = LaunchDarklyFlags(ld_opts(api).model_copy(update={"environment": "prod"}))
    with pytest.raises(exceptions.PluginError, match="no environment 'prod'"):
        await provider.get("orders.write_new_db")


async def test_flag_check_passes_and_fails_on_the_value(ld: tuple[VendorApi, LaunchDarkly]) -> None:
    """ "flag X is Y": a matching value passes, a different one fails with both values."""
    api, _ = ld
    provider = LaunchDarklyFlags(ld_opts(api))
    ok = await FlagCheck().run(
        make_ctx(FlagCheckParams.model_validate({"flag": "orders.write_new_db", "is": False}), flags=provider)
    )
    assert ok.outcome is Outcome.PASS, ok.summary
    assert ok.output["value"] is False
    bad = await FlagCheck().run(
        make_ctx(FlagCheckParams.model_validate({"flag": "orders.write_new_db", "is": "on"}), flags=provider)
    )
    assert bad.outcome is Outcome.FAIL
    assert "is false" in bad.summary
    assert 'expected "on"' in bad.summary
    off = await FlagCheck().run(
        make_ctx(FlagCheckParams.model_validate({"flag": "orders.write_new_db", "is": "off"}), flags=provider)
    )
    assert off.outcome is Outcome.PASS, off.summary


async def test_flag_check_without_a_provider_is_an_error() -> None:
    """No provider configured and no `source`: ERROR, never a pass."""
    result = await FlagCheck().run(make_ctx(FlagCheckParams.model_validate({"flag": "x", "is": True})))
    assert result.outcome is Outcome.ERROR


# ------------------------------------------------------------------------------------------------- OFREP


@pytest.fixture
async def ofrep() -> AsyncIterator[VendorApi]:
    values = {"orders.write_new_db": False, "checkout.percent": 25}

    def evaluate(call: Call) -> tuple[int, Any]:
        key = call.params["key"]
        ctx = (call.json() or {}).get("context", {})
        if "targetingKey" not in ctx:
            return 400, {"key": key, "errorCode": "TARGETING_KEY_MISSING", "errorDetails": "targetingKey is required"}
        if key not in values:
            return 404, {"key": key, "errorCode": "FLAG_NOT_FOUND", "errorDetails": f"flag {key} was not found"}
        return 200, {"key": key, "value": values[key], "reason": "STATIC", "variant": str(values[key])}

    api = VendorApi(load("ofrep.yaml"), {"evaluateFlag": evaluate}, credentials={"BearerAuth": {OFREP_TOKEN}})
    await api.start()
    try:
        yield api
    finally:
        await api.close()


def ofrep_opts(api: VendorApi, **kw: Any) -> OfrepOptions:
    return OfrepOptions(url=api.url(), bearer=OFREP_TOKEN, context={"targetingKey": "golive", "env": "prod"}, **kw)


async def test_ofrep_evaluates_a_flag_for_the_context(ofrep: VendorApi) -> None:
    """OFREP: POST /ofrep/v1/evaluate/flags/{key} with the context and bearer; the value is returned."""
    provider = OfrepFlags(ofrep_opts(ofrep))
    assert await provider.get("orders.write_new_db") is False
    assert await provider.get("checkout.percent") == 25
    call = ofrep.calls("evaluateFlag")[0]
    assert call.json() == {"context": {"targetingKey": "golive", "env": "prod"}}
    assert call.headers["authorization"] == f"Bearer {OFREP_TOKEN}"
    assert not ofrep.rejected


async def test_ofrep_errors_fail_closed(ofrep: VendorApi) -> None:
    """FLAG_NOT_FOUND, a missing targeting key, a bad token and a 500 are errors; set is refused."""
    with pytest.raises(exceptions.PluginError, match="FLAG_NOT_FOUND"):
        await OfrepFlags(ofrep_opts(ofrep)).get("nope")
    with pytest.raises(exceptions.PluginError, match="TARGETING_KEY_MISSING"):
        await OfrepFlags(ofrep_opts(ofrep).model_copy(update={"context": {}})).get("checkout.percent")
    bad = OfrepFlags(ofrep_opts(ofrep).model_copy(update={"bearer": None, "headers": {"X-API-Key": "nope"}}))
    with pytest.raises(exceptions.PluginError, match="status 401"):
        await bad.get("checkout.percent")
    with pytest.raises(exceptions.PluginError, match="read-only"):
        await OfrepFlags(ofrep_opts(ofrep)).set("checkout.percent", 50)
    ofrep.fault_status = 500
    result = await FlagCheck().run(
        make_ctx(
            FlagCheckParams.model_validate(
                {
                    "flag": "checkout.percent",
                    "is": 25,
                    "source": {
                        "type": "ofrep",
                        "with": ofrep_opts(ofrep).model_dump(mode="json") | {"bearer": OFREP_TOKEN},
                    },
                }
            )
        )
    )
    assert result.outcome is Outcome.ERROR
    assert OFREP_TOKEN not in json.dumps(result.model_dump(mode="json"), default=str)


async def test_ofrep_fake_rejects_a_malformed_evaluation(ofrep: VendorApi) -> None:
    """A context that is not an object, a non-JSON body and a GET are refused by the fake."""
    url = ofrep.url("/ofrep/v1/evaluate/flags/checkout.percent")
    auth = {"Authorization": f"Bearer {OFREP_TOKEN}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=json.dumps({"context": "golive"}), headers=auth) as resp:
            assert resp.status == 400
        async with session.post(url, data=b"context=golive", headers=auth) as resp:
            assert resp.status == 400
        async with session.get(url, headers=auth) as resp:
            assert resp.status == 405
    assert len(ofrep.rejected) == 3
    assert not ofrep.calls("evaluateFlag")


async def test_ofrep_timeout_fails_closed(ofrep: VendorApi) -> None:
    """An OFREP service that does not answer in time makes the flag check an ERROR."""
    ofrep.delay = 1.0
    provider = OfrepFlags(ofrep_opts(ofrep, timeout="300ms"))
    result = await FlagCheck().run(
        make_ctx(FlagCheckParams.model_validate({"flag": "checkout.percent", "is": 25}), flags=provider)
    )
    assert result.outcome is Outcome.ERROR
    assert "timed out" in result.summary

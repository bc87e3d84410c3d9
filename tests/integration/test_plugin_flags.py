"""Flag providers on real files and loopback APIs, and the flag action's read-back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from golive import exceptions
from golive.plugins import base
from golive.plugins.actions.flag import FlagAction, FlagActionParams
from golive.plugins.flags.files import DotenvFlags, FileFlagOptions, FlagdFlags, JsonFlags, YamlFlags
from golive.plugins.flags.remote import HttpFlagOptions, HttpFlags, UnleashFlags, UnleashOptions
from golive.results import Outcome
from golive.testing import make_ctx

from .conftest import LoopbackHTTPServer, Reply, Request


def temp_files(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if p.name.endswith(".tmp")]


async def test_dotenv_flags_set_keeps_other_lines(tmp_path: Path) -> None:
    """dotenv: setting a flag rewrites its line only; comments and other lines stay."""
    f = tmp_path / "prod.env"
    f.write_text("# prod flags\nORDER_STATUS_OUTBOUND_ENABLED=true\nREGION=us-east-2\n")
    flags = DotenvFlags(FileFlagOptions(path=str(f)))
    await flags.set("ORDER_STATUS_OUTBOUND_ENABLED", False)
    assert await flags.get("ORDER_STATUS_OUTBOUND_ENABLED") == "false"
    assert f.read_text() == "# prod flags\nORDER_STATUS_OUTBOUND_ENABLED=false\nREGION=us-east-2\n"
    assert not temp_files(tmp_path), "temp file left behind"


async def test_json_and_yaml_flags_use_dotted_paths(tmp_path: Path) -> None:
    """json/yaml: `features.outbound.enabled` reads and writes nested keys."""
    j = tmp_path / "flags.json"
    j.write_text(json.dumps({"features": {"outbound": {"enabled": True}}}))
    y = tmp_path / "flags.yaml"
    y.write_text("features:\n  outbound:\n    enabled: true\n")
    for provider, path in ((JsonFlags, j), (YamlFlags, y)):
        flags = provider(FileFlagOptions(path=str(path)))
        await flags.set("features.outbound.enabled", False)
        await flags.set("features.canary.percent", 5)
        assert await flags.get("features.outbound.enabled") is False
        assert await flags.get("features.canary.percent") == 5
    assert yaml.safe_load(y.read_text())["features"]["canary"] == {"percent": 5}


async def test_missing_flag_file_is_an_error_unless_create(tmp_path: Path) -> None:
    """A missing file is refused, or created with `create: true`."""
    with pytest.raises(exceptions.PluginError, match="does not exist"):
        await JsonFlags(FileFlagOptions(path=str(tmp_path / "none.json"))).get("a")
    created = JsonFlags(FileFlagOptions(path=str(tmp_path / "new.json"), create=True))
    await created.set("a.b", True)
    assert await created.get("a.b") is True


FLAGD = {
    "flags": {
        "outbound-enabled": {
            "state": "ENABLED",
            "variants": {"on": True, "off": False},
            "defaultVariant": "on",
        },
        "routing": {"state": "ENABLED", "variants": {"legacy": "v1", "new": "v2"}, "defaultVariant": "legacy"},
    }
}


async def test_flagd_flags_switch_the_default_variant(tmp_path: Path) -> None:
    """flagd: setting a value picks the variant with that value; the file keeps flagd's shape."""
    f = tmp_path / "flags.flagd.json"
    f.write_text(json.dumps(FLAGD))
    flags = FlagdFlags(FileFlagOptions(path=str(f)))
    assert await flags.get("outbound-enabled") is True
    await flags.set("outbound-enabled", False)
    await flags.set("routing", "new")  # by variant name
    doc = json.loads(f.read_text())
    assert doc["flags"]["outbound-enabled"]["defaultVariant"] == "off"
    assert await flags.get("routing") == "v2"
    with pytest.raises(exceptions.PluginError, match="no variant with value"):
        await flags.set("routing", "v3")


async def test_http_flags_get_and_put(http_server: LoopbackHTTPServer) -> None:
    """http: PUT {value} to the set URL, GET reads `$.value`; the bearer token is sent."""
    state: dict[str, Any] = {"outbound": True}

    def flag(req: Request) -> Reply:
        name = req.path.rsplit("/", 1)[-1]
        if req.method == "PUT":
            state[name] = req.json()["value"]
            return Reply(status=204)
        return Reply.of_json({"name": name, "value": state.get(name)})

    http_server.handle("/api/flags/outbound", flag)
    flags = HttpFlags(HttpFlagOptions(get_url=http_server.url("/api/flags/{name}"), bearer="tok"))
    await flags.set("outbound", False)
    assert await flags.get("outbound") is False
    assert http_server.requests[0].headers["authorization"] == "Bearer tok"


async def test_http_flags_error_status_is_refused(http_server: LoopbackHTTPServer) -> None:
    """A 500 from the flag API raises with the status."""
    http_server.route("/api/flags/outbound", status=500, body="boom")
    flags = HttpFlags(HttpFlagOptions(get_url=http_server.url("/api/flags/{name}")))
    with pytest.raises(exceptions.PluginError, match="status 500"):
        await flags.set("outbound", False)


@pytest.fixture
def unleash(http_server: LoopbackHTTPServer) -> tuple[LoopbackHTTPServer, dict[str, bool]]:
    """A loopback server emulating Unleash's admin endpoints for one feature in two environments."""
    envs = {"development": True, "production": True}
    feature = "/api/admin/projects/default/features/order-status-outbound"

    def get_feature(req: Request) -> Reply:
        if req.headers.get("authorization") != "admin-token":
            return Reply.of_json({"message": "unauthorized"}, status=401)
        return Reply.of_json(
            {
                "name": "order-status-outbound",
                "environments": [{"name": n, "enabled": on, "type": n} for n, on in envs.items()],
            }
        )

    def switch(env: str, on: bool) -> Any:
        def handler(req: Request) -> Reply:
            if req.headers.get("authorization") != "admin-token":
                return Reply.of_json({"message": "unauthorized"}, status=401)
            envs[env] = on
            return Reply.of_json({})

        return handler

    http_server.handle(feature, get_feature, method="GET")
    for env in envs:
        http_server.handle(f"{feature}/environments/{env}/on", switch(env, True), method="POST")
        http_server.handle(f"{feature}/environments/{env}/off", switch(env, False), method="POST")
    return http_server, envs


async def test_unleash_flags_switch_one_environment(unleash: tuple[LoopbackHTTPServer, dict[str, bool]]) -> None:
    """unleash: off in production leaves development on; the admin token goes in Authorization."""
    server, envs = unleash
    flags = UnleashFlags(UnleashOptions(url=server.url(""), environment="production", token="admin-token"))
    assert await flags.get("order-status-outbound") is True
    await flags.set("order-status-outbound", False)
    assert envs == {"development": True, "production": False}
    assert await flags.get("order-status-outbound") is False


async def test_unleash_bad_token_is_refused(unleash: tuple[LoopbackHTTPServer, dict[str, bool]]) -> None:
    """A wrong admin token raises with status 401."""
    server, _ = unleash
    flags = UnleashFlags(UnleashOptions(url=server.url(""), environment="production", token="nope"))
    with pytest.raises(exceptions.PluginError, match="401"):
        await flags.get("order-status-outbound")


async def test_flag_action_sets_and_reads_back(
    unleash: tuple[LoopbackHTTPServer, dict[str, bool]], tmp_path: Path
) -> None:
    """The flag action sets each flag through the provider and passes when read-back agrees."""
    server, envs = unleash
    provider = UnleashFlags(UnleashOptions(url=server.url(""), environment="production", token="admin-token"))
    ctx = make_ctx(
        FlagActionParams(flags={"order-status-outbound": False}, provider="unleash"), flags={"unleash": provider}
    )
    result = await FlagAction().run(ctx)
    assert result.outcome is Outcome.PASS, result.summary
    assert result.output["flags"]["order-status-outbound"] == {"before": True, "wanted": False, "after": False}
    assert envs["production"] is False


async def test_flag_action_dotenv_text_values_read_back_as_equal(tmp_path: Path) -> None:
    """`false` written to a dotenv file reads back as the text "false", which counts as equal."""
    f = tmp_path / "prod.env"
    f.write_text("OUTBOUND=true\n")
    ctx = make_ctx(FlagActionParams(flags={"OUTBOUND": False}), flags=DotenvFlags(FileFlagOptions(path=str(f))))
    result = await FlagAction().run(ctx)
    assert result.outcome is Outcome.PASS, result.summary


class StuckFlags(base.FlagProvider):
    """A backend that accepts writes and ignores them (a cache in front, a read replica)."""

    name = "stuck"
    params = FileFlagOptions

    async def get(self, name: str) -> Any:
        return True

    async def set(self, name: str, value: Any) -> None:
        return None


async def test_flag_action_fails_when_read_back_differs() -> None:
    """A write that does not stick fails with what was read and what was wanted."""
    ctx = make_ctx(FlagActionParams(flags={"outbound": False}), flags=StuckFlags(FileFlagOptions(path="x")))
    result = await FlagAction().run(ctx)
    assert result.outcome is Outcome.FAIL
    assert result.summary == "outbound reads back true, expected false"


async def test_flag_action_backend_failure_is_an_error(http_server: LoopbackHTTPServer) -> None:
    """A flag API that fails makes the action an ERROR."""
    http_server.route("/api/flags/outbound", status=503)
    provider = HttpFlags(HttpFlagOptions(get_url=http_server.url("/api/flags/{name}")))
    result = await FlagAction().run(make_ctx(FlagActionParams(flags={"outbound": False}), flags=provider))
    assert result.outcome is Outcome.ERROR
    assert "503" in result.summary


def test_flag_action_describe() -> None:
    """Dry-run text lists the flags and the provider."""
    text = FlagAction().describe(make_ctx(FlagActionParams(flags={"outbound": False}, provider="unleash")))
    assert text == "would set outbound=false via unleash"

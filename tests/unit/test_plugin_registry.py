"""The built-in plugins register, and the registry refuses duplicates and malformed plugins."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from golive import exceptions, results
from golive.plugins import base, registry

EXPECTED = {
    "check": [
        "change-record",
        "command",
        "dns",
        "env",
        "file",
        "flag",
        "git",
        "graphql",
        "http",
        "log",
        "prometheus",
        "secret",
        "sql",
        "tcp",
        "tls",
    ],
    "action": ["change-close", "command", "flag", "http", "pagerduty", "sql", "statuspage", "vault-write", "wait"],
    "secret": ["aws-secretsmanager", "env", "file", "vault"],
    "flag": ["dotenv", "flagd", "http", "json", "launchdarkly", "ofrep", "unleash", "yaml"],
    "metric": ["command", "http-json", "log", "prometheus", "scrape", "sql"],
}


@pytest.fixture
def reg() -> registry.Registry:
    r = registry.Registry()
    r.load_builtins()
    return r


def test_every_builtin_registers(reg: registry.Registry) -> None:
    """All built-in plugins of every kind are in the registry under their documented names."""
    for kind, names in EXPECTED.items():
        assert reg.names(kind) == names  # type: ignore[arg-type]


def test_every_builtin_has_a_description_and_described_params(reg: registry.Registry) -> None:
    """Each plugin has a description and every params field a description (for the JSON Schema)."""
    for plugin in reg.all():
        assert plugin.description, f"{plugin.kind} {plugin.name} has no description"
        for field_name, info in plugin.params.model_fields.items():
            assert info.description, f"{plugin.kind} {plugin.name}: field {field_name} has no description"


def test_every_builtin_params_model_gives_a_json_schema(reg: registry.Registry) -> None:
    """The runbook schema can be generated from every params model."""
    for plugin in reg.all():
        schema = plugin.params.model_json_schema()
        json.dumps(schema)
        assert schema["type"] == "object"
        assert schema.get("additionalProperties") is False


def test_checks_are_read_only_and_actions_are_not(reg: registry.Registry) -> None:
    """Checks are read-only; actions change things except `wait`."""
    for name in reg.names("check"):
        assert reg.get("check", name).read_only is True  # type: ignore[union-attr]
    assert [n for n in reg.names("action") if reg.get("action", n).read_only] == ["wait"]  # type: ignore[union-attr]


def test_duplicate_name_is_refused(reg: registry.Registry) -> None:
    """A second `http` check is refused with DuplicatePlugin naming the first."""

    class OtherHttp(base.CheckPlugin):
        name = "http"
        params = base.Params

        async def run(self, ctx: base.StepContext) -> results.Result:
            return results.Result.ok()

    with pytest.raises(exceptions.DuplicatePlugin, match=r"already registered by golive\.plugins\.checks\.http"):
        reg.register(OtherHttp)


def test_malformed_plugin_is_refused_at_registration(reg: registry.Registry) -> None:
    """A plugin with a sync run(), or with no params model, is refused when it registers."""

    class SyncRun(base.CheckPlugin):
        name = "sync-run"
        params = base.Params

        def run(self, ctx: base.StepContext) -> Any:  # type: ignore[override]
            return results.Result.ok()

    class NoParams(base.CheckPlugin):
        name = "no-params"

        async def run(self, ctx: base.StepContext) -> results.Result:
            return results.Result.ok()

    with pytest.raises(exceptions.PluginError, match="must be async"):
        reg.register(SyncRun)
    with pytest.raises(exceptions.PluginError, match="params must be a subclass"):
        reg.register(NoParams)


def test_a_builtin_is_imported_when_first_asked_for() -> None:
    """Asking for the http check imports its module and not the other built-ins' (Vault, SQL, LaunchDarkly)."""
    code = (
        "import sys\n"
        "from golive.plugins import registry\n"
        "reg = registry.default_registry()\n"
        "assert 'http' in reg.names('check') and 'vault' in reg.names('secret')\n"
        "assert reg.get('check', 'http').__name__ == 'HttpCheck'\n"
        "print(sorted(m for m in sys.modules if m.startswith('golive.plugins.') and m.count('.') == 3))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['golive.plugins.checks.http']"


def test_a_declared_builtin_that_is_not_that_plugin_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A BUILTINS entry whose class has another kind or name is a PluginError when it is asked for, not a swap."""
    monkeypatch.setitem(registry.BUILTINS, ("check", "tcp"), "golive.plugins.checks.net:DnsCheck")
    r = registry.Registry()
    r.load_builtins()
    with pytest.raises(
        exceptions.PluginError, match=r"golive\.plugins\.checks\.net:DnsCheck is not the check plugin 'tcp'"
    ):
        r.get("check", "tcp")

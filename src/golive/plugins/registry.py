"""The one plugin registry: built-ins and the entry-point group ``golive.plugins``.

A plugin's shape is checked when it registers, not when it runs; a second plugin with a taken
``(kind, name)`` is refused with :class:`golive.exceptions.DuplicatePlugin`, a built-in's name included
whether or not that built-in has been imported yet.

Built-ins are imported on first use: :data:`BUILTINS` names the module and class of each, so a run of 100
``http`` checks imports the ``http`` check and not the Vault, LaunchDarkly or SQL plugins. ``get`` imports
the one it is asked for (and registers it, with the same shape checks); ``all`` imports every one; ``names``
imports none. Third-party plugins (entry points) are loaded eagerly, so a clash with a built-in's name is
refused on every run, not only on runs that use that name.
"""

from __future__ import annotations

import importlib
import inspect
import re
from importlib import metadata

from golive import exceptions
from golive.plugins import base

__all__ = ["ENTRY_POINT_GROUP", "Registry", "default_registry"]

ENTRY_POINT_GROUP = "golive.plugins"
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")

# Every built-in plugin: (kind, name) -> "module:Class". A module is imported when one of its plugins is
# first asked for; the class found there must have this kind and name (else PluginError).
BUILTINS: dict[tuple[base.PluginKind, str], str] = {
    ("action", "change-close"): "golive.plugins.actions.change:ChangeCloseAction",
    ("action", "command"): "golive.plugins.actions.basic:CommandAction",
    ("action", "flag"): "golive.plugins.actions.flag:FlagAction",
    ("action", "http"): "golive.plugins.actions.basic:HttpAction",
    ("action", "pagerduty"): "golive.plugins.actions.pagerduty:PagerDutyAction",
    ("action", "sql"): "golive.plugins.actions.basic:SqlAction",
    ("action", "statuspage"): "golive.plugins.actions.statuspage:StatuspageAction",
    ("action", "vault-write"): "golive.plugins.actions.vault:VaultWriteAction",
    ("action", "wait"): "golive.plugins.actions.basic:WaitAction",
    ("check", "change-record"): "golive.plugins.checks.change:ChangeRecordCheck",
    ("check", "command"): "golive.plugins.checks.command:CommandCheck",
    ("check", "dns"): "golive.plugins.checks.net:DnsCheck",
    ("check", "env"): "golive.plugins.checks.env:EnvCheck",
    ("check", "file"): "golive.plugins.checks.files:FileCheck",
    ("check", "flag"): "golive.plugins.checks.flag:FlagCheck",
    ("check", "git"): "golive.plugins.checks.git:GitCheck",
    ("check", "graphql"): "golive.plugins.checks.http:GraphqlCheck",
    ("check", "http"): "golive.plugins.checks.http:HttpCheck",
    ("check", "log"): "golive.plugins.checks.files:LogCheck",
    ("check", "prometheus"): "golive.plugins.checks.prometheus:PrometheusCheck",
    ("check", "secret"): "golive.plugins.checks.env:SecretCheck",
    ("check", "sql"): "golive.plugins.checks.sql:SqlCheck",
    ("check", "tcp"): "golive.plugins.checks.net:TcpCheck",
    ("check", "tls"): "golive.plugins.checks.net:TlsCheck",
    ("flag", "dotenv"): "golive.plugins.flags.files:DotenvFlags",
    ("flag", "flagd"): "golive.plugins.flags.files:FlagdFlags",
    ("flag", "http"): "golive.plugins.flags.remote:HttpFlags",
    ("flag", "json"): "golive.plugins.flags.files:JsonFlags",
    ("flag", "launchdarkly"): "golive.plugins.flags.launchdarkly:LaunchDarklyFlags",
    ("flag", "ofrep"): "golive.plugins.flags.ofrep:OfrepFlags",
    ("flag", "unleash"): "golive.plugins.flags.remote:UnleashFlags",
    ("flag", "yaml"): "golive.plugins.flags.files:YamlFlags",
    ("metric", "command"): "golive.plugins.metrics.sources:CommandMetric",
    ("metric", "http-json"): "golive.plugins.metrics.sources:HttpJsonMetric",
    ("metric", "log"): "golive.plugins.metrics.sources:LogMetric",
    ("metric", "prometheus"): "golive.plugins.metrics.sources:PrometheusMetric",
    ("metric", "scrape"): "golive.plugins.metrics.scrape:ScrapeMetric",
    ("metric", "sql"): "golive.plugins.metrics.sources:SqlMetric",
    ("secret", "aws-secretsmanager"): "golive.plugins.secrets.aws:AwsSecretsManager",
    ("secret", "env"): "golive.plugins.secrets.local:EnvSecrets",
    ("secret", "file"): "golive.plugins.secrets.local:FileSecrets",
    ("secret", "vault"): "golive.plugins.secrets.vault:VaultSecrets",
}

_BASES: dict[base.PluginKind, type[base.Plugin]] = {
    "check": base.CheckPlugin,
    "action": base.ActionPlugin,
    "secret": base.SecretProvider,
    "flag": base.FlagProvider,
    "metric": base.MetricSource,
}
_METHOD: dict[base.PluginKind, str] = {
    "check": "run",
    "action": "run",
    "secret": "resolve",
    "flag": "get",
    "metric": "read",
}


class Registry:
    """Plugins by kind and name."""

    def __init__(self) -> None:
        self._plugins: dict[tuple[str, str], type[base.Plugin]] = {}
        self._lazy: dict[tuple[str, str], str] = {}  # built-ins declared by load_builtins, not imported yet

    def register(self, plugin: type[base.Plugin]) -> type[base.Plugin]:
        """Add a plugin class after checking its shape; usable as a class decorator."""
        if not inspect.isclass(plugin) or not issubclass(plugin, base.Plugin):
            raise exceptions.PluginError(
                f"{plugin!r} is not a golive plugin class (subclass golive.plugins.base.Plugin)"
            )
        kind = getattr(plugin, "kind", None)
        if kind not in _BASES:
            raise exceptions.PluginError(f"plugin {plugin.__qualname__}: kind {kind!r} is not one of {list(_BASES)}")
        if not issubclass(plugin, _BASES[kind]):
            raise exceptions.PluginError(
                f"plugin {plugin.__qualname__}: a {kind} plugin must subclass {_BASES[kind].__qualname__}"
            )
        name = getattr(plugin, "name", None)
        if not isinstance(name, str) or not _NAME.match(name):
            raise exceptions.PluginError(f"plugin {plugin.__qualname__}: name {name!r} must match {_NAME.pattern}")
        params = getattr(plugin, "params", None)
        if not (inspect.isclass(params) and issubclass(params, base.Params)):
            raise exceptions.PluginError(
                f"plugin {kind} {name!r}: params must be a subclass of golive.plugins.base.Params"
            )
        if inspect.isabstract(plugin):
            raise exceptions.PluginError(f"plugin {kind} {name!r}: abstract methods are not implemented")
        method = getattr(plugin, _METHOD[kind])
        if not inspect.iscoroutinefunction(method):
            raise exceptions.PluginError(f"plugin {kind} {name!r}: {_METHOD[kind]}() must be async")
        key = (kind, name)
        existing = self._plugins.get(key)
        if existing is None and key in self._lazy and self._lazy[key] != f"{plugin.__module__}:{plugin.__qualname__}":
            existing = self._import_builtin(key)  # a built-in holds that name: named in the refusal below
        if existing is not None and existing is not plugin:
            raise exceptions.DuplicatePlugin(
                f"{kind} plugin {name!r} is already registered by {existing.__module__}.{existing.__qualname__}; "
                f"rename {plugin.__module__}.{plugin.__qualname__}"
            )
        self._plugins[key] = plugin
        self._lazy.pop(key, None)
        return plugin

    def get(self, kind: base.PluginKind, name: str) -> type[base.Plugin] | None:
        key = (kind, name)
        plugin = self._plugins.get(key)
        if plugin is None and key in self._lazy:
            plugin = self._import_builtin(key)
        return plugin

    def names(self, kind: base.PluginKind) -> list[str]:
        return sorted({n for k, n in self._plugins if k == kind} | {n for k, n in self._lazy if k == kind})

    def all(self) -> list[type[base.Plugin]]:
        for key in list(self._lazy):
            self._import_builtin(key)
        return [self._plugins[k] for k in sorted(self._plugins)]

    def load_builtins(self) -> None:
        """Declare every built-in plugin; each is imported (and its shape checked) when first asked for."""
        for key, where in BUILTINS.items():
            if key not in self._plugins:
                self._lazy[key] = where

    def _import_builtin(self, key: tuple[str, str]) -> type[base.Plugin]:
        where = self._lazy[key]
        mod_name, _, attr = where.partition(":")
        plugin = getattr(importlib.import_module(mod_name), attr)
        if (getattr(plugin, "kind", None), getattr(plugin, "name", None)) != key:
            raise exceptions.PluginError(f"built-in {where} is not the {key[0]} plugin {key[1]!r}")
        del self._lazy[key]
        return self.register(plugin)

    def load_entry_points(self) -> None:
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            try:
                obj = ep.load()
            except Exception as exc:
                raise exceptions.PluginError(f"entry point {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
            for plugin in obj if isinstance(obj, list | tuple) else [obj]:
                self.register(plugin)


_default: Registry | None = None


def default_registry() -> Registry:
    """The process-wide registry with built-ins and installed third-party plugins loaded."""
    global _default
    if _default is None:
        reg = Registry()
        reg.load_builtins()
        reg.load_entry_points()
        _default = reg
    return _default

"""The one plugin registry: built-ins and the entry-point group ``golive.plugins``.

A plugin's shape is checked when it registers, not when it runs; a second plugin with a taken
``(kind, name)`` is refused with :class:`golive.exceptions.DuplicatePlugin`.
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

# Modules that define the built-in plugins; each exposes ``PLUGINS: list[type[base.Plugin]]``.
BUILTIN_MODULES = (
    "golive.plugins.checks",
    "golive.plugins.actions",
    "golive.plugins.secrets",
    "golive.plugins.flags",
    "golive.plugins.metrics",
)

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
        if existing is not None and existing is not plugin:
            raise exceptions.DuplicatePlugin(
                f"{kind} plugin {name!r} is already registered by {existing.__module__}.{existing.__qualname__}; "
                f"rename {plugin.__module__}.{plugin.__qualname__}"
            )
        self._plugins[key] = plugin
        return plugin

    def get(self, kind: base.PluginKind, name: str) -> type[base.Plugin] | None:
        return self._plugins.get((kind, name))

    def names(self, kind: base.PluginKind) -> list[str]:
        return sorted(n for k, n in self._plugins if k == kind)

    def all(self) -> list[type[base.Plugin]]:
        return [self._plugins[k] for k in sorted(self._plugins)]

    def load_builtins(self) -> None:
        for mod_name in BUILTIN_MODULES:
            try:
                mod = importlib.import_module(mod_name)
            except ModuleNotFoundError as exc:
                if exc.name == mod_name:
                    continue  # a kind with no built-ins yet
                raise
            for plugin in getattr(mod, "PLUGINS", ()):
                self.register(plugin)

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

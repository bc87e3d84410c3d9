"""Built-in flag providers (kind ``flag``): dotenv, json, yaml, flagd files; generic HTTP; Unleash;
LaunchDarkly; OFREP (read-only).

A provider is made with its options (``Provider(Provider.params(**options))``) and offers
``async get(name)`` and ``async set(name, value)``. File writes are atomic (temp file + rename).
"""

from __future__ import annotations

from golive.plugins import base
from golive.plugins.flags.files import DotenvFlags, FlagdFlags, JsonFlags, YamlFlags
from golive.plugins.flags.launchdarkly import LaunchDarklyFlags
from golive.plugins.flags.ofrep import OfrepFlags
from golive.plugins.flags.remote import HttpFlags, UnleashFlags

__all__ = [
    "PLUGINS",
    "DotenvFlags",
    "FlagdFlags",
    "HttpFlags",
    "JsonFlags",
    "LaunchDarklyFlags",
    "OfrepFlags",
    "UnleashFlags",
    "YamlFlags",
]

PLUGINS: list[type[base.Plugin]] = [
    DotenvFlags,
    JsonFlags,
    YamlFlags,
    FlagdFlags,
    HttpFlags,
    UnleashFlags,
    LaunchDarklyFlags,
    OfrepFlags,
]

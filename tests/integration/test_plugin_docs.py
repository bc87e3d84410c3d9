"""docs/plugins.md stays true: every built-in and every param is documented, every example validates."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from golive.plugins import registry

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def _registry() -> registry.Registry:
    r = registry.Registry()
    r.load_builtins()
    return r


def test_every_builtin_param_is_in_the_reference() -> None:
    """Each built-in plugin's params (by their runbook names) appear in a params table of the doc."""
    text = DOC.read_text()
    missing = []
    for plugin in _registry().all():
        for name, info in plugin.params.model_fields.items():
            key = info.alias or name
            if f"| `{key}` |" not in text:
                missing.append(f"{plugin.kind} {plugin.name}: {key}")
    assert not missing, missing


def test_every_yaml_example_validates() -> None:
    """Each `with:` in the doc's YAML examples is valid params for the plugin it names."""
    reg = _registry()
    checked = 0
    for block in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S):
        data = yaml.safe_load(block)
        items: list[tuple[Any, str, dict[str, Any]]] = []
        if isinstance(data, list):
            items = [(s["kind"], s["type"], s.get("with", {})) for s in data]
        elif isinstance(data, dict):
            for ref in data.get("secrets", {}).values():
                items.append(("secret", ref["provider"], ref.get("options", {})))
            if "flags" in data:
                items.append(("flag", data["flags"]["provider"]["type"], data["flags"]["provider"]["with"]))
            for trig in data.get("triggers", []):
                items.append(("metric", trig["source"]["type"], trig["source"]["with"]))
        for kind, name, params in items:
            plugin = reg.get(kind, name)
            assert plugin is not None, f"doc example uses unknown {kind} plugin {name!r}"
            plugin.params.model_validate(params)
            checked += 1
    assert checked >= 20

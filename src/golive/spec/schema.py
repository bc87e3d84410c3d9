"""The runbook JSON Schema, generated from the models and every registered plugin's params model.

Editors with the YAML language server use it for completion and inline errors (see docs/runbook-format.md).
"""

from __future__ import annotations

from typing import Any

from golive.plugins import registry as registry_mod
from golive.spec import models

__all__ = ["SCHEMA_ID", "runbook_schema"]

SCHEMA_ID = "https://golive.invalid/schema/runbook-v1.json"


def _defs_name(kind: str, name: str) -> str:
    return f"{kind}__{name}".replace("-", "_")


def runbook_schema(registry: registry_mod.Registry | None = None) -> dict[str, Any]:
    reg = registry or registry_mod.default_registry()
    schema = models.Runbook.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "golive runbook (format v1)"
    defs: dict[str, Any] = schema.setdefault("$defs", {})

    def add_params(kind: str) -> list[tuple[str, str]]:
        out = []
        for name in reg.names(kind):  # type: ignore[arg-type]
            plugin = reg.get(kind, name)  # type: ignore[arg-type]
            assert plugin is not None
            sub = plugin.params.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
            for k, v in sub.pop("$defs", {}).items():
                defs.setdefault(k, v)
            sub.setdefault("description", plugin.description or plugin.__doc__ or "")
            key = _defs_name(kind, name)
            defs[key] = sub
            out.append((name, key))
        return out

    # Steps: `type` lists check and action plugins; `with` follows the chosen plugin.
    step = defs.get("Step")
    if step is not None:
        rules = []
        names: set[str] = set()
        for kind in ("check", "action"):
            for name, key in add_params(kind):
                names.add(name)
                rules.append(
                    {
                        "if": {
                            "properties": {"kind": {"const": kind}, "type": {"const": name}},
                            "required": ["kind", "type"],
                        },
                        "then": {"properties": {"with": {"$ref": f"#/$defs/{key}"}}},
                    }
                )
        # The canary judge is a check the engine runs itself; its `with` is a Judge (in $defs via Step.judge).
        names.add(models.JUDGE_CHECK)
        rules.append(
            {
                "if": {
                    "properties": {"kind": {"const": "check"}, "type": {"const": models.JUDGE_CHECK}},
                    "required": ["kind", "type"],
                },
                "then": {"properties": {"with": {"$ref": "#/$defs/Judge"}}},
            }
        )
        type_prop = step["properties"]["type"]
        type_prop.pop("anyOf", None)
        type_prop.update({"type": "string", "enum": sorted(names)} if names else {"type": "string"})
        if rules:
            step["allOf"] = rules

    for def_name, kind in (("MetricRef", "metric"), ("FlagProviderRef", "flag")):
        ref_def = defs.get(def_name)
        if ref_def is None:
            continue
        pairs = add_params(kind)
        if pairs:
            ref_def["properties"]["type"] = {"type": "string", "enum": [n for n, _ in pairs]}
            ref_def["allOf"] = [
                {
                    "if": {"properties": {"type": {"const": n}}, "required": ["type"]},
                    "then": {"properties": {"with": {"$ref": f"#/$defs/{k}"}}},
                }
                for n, k in pairs
            ]
    secret = defs.get("SecretRef")
    if secret is not None:
        pairs = add_params("secret")
        if pairs:
            secret["properties"]["provider"] = {"type": "string", "enum": [n for n, _ in pairs]}
            secret["allOf"] = [
                {
                    "if": {"properties": {"provider": {"const": n}}, "required": ["provider"]},
                    "then": {"properties": {"options": {"$ref": f"#/$defs/{k}"}}},
                }
                for n, k in pairs
            ]
    return schema

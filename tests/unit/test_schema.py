"""The runbook JSON Schema: generated from the models and every registered plugin's params model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from pydantic import Field

from golive import results
from golive.plugins import base
from golive.plugins import registry as registry_mod
from golive.spec import durations, schema

jsonschema = pytest.importorskip("jsonschema")

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"
SEED_EXAMPLES = sorted(
    EXAMPLES / n
    for n in (
        "order-status-prod-cutover.yaml",
        "order-status-preflight-and-monitoring.yaml",
        "first-production-deploy.yaml",
        "payments-go-live.yaml",
        "supply-chain-prod-cutover.yaml",
    )
)


@pytest.fixture(scope="module")
def runbook_schema() -> dict[str, Any]:
    return schema.runbook_schema()


@pytest.fixture(scope="module")
def validator(runbook_schema: dict[str, Any]) -> Any:
    return jsonschema.Draft202012Validator(runbook_schema)


def test_schema_is_a_valid_draft_2020_12_schema(runbook_schema: dict[str, Any]) -> None:
    """The generated document is itself a valid JSON Schema, with its id and title."""
    jsonschema.Draft202012Validator.check_schema(runbook_schema)
    assert runbook_schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert runbook_schema["$id"] == schema.SCHEMA_ID
    assert "golive" in runbook_schema["required"]


def test_schema_contains_every_plugins_params(runbook_schema: dict[str, Any]) -> None:
    """Each registered plugin of every kind has its params model under $defs as <kind>__<name>."""
    reg = registry_mod.default_registry()
    defs = runbook_schema["$defs"]
    for plugin in reg.all():
        key = f"{plugin.kind}__{plugin.name}".replace("-", "_")
        assert key in defs, key
        fields = {f.alias or n for n, f in plugin.params.model_fields.items()}
        assert set(defs[key].get("properties", {})) == fields, key


def test_step_type_lists_check_and_action_plugins(runbook_schema: dict[str, Any]) -> None:
    """An editor completes `type:` from the check and action plugin names, and the engine's `judge` check."""
    reg = registry_mod.default_registry()
    want = sorted(set(reg.names("check")) | set(reg.names("action")) | {"judge"})
    assert runbook_schema["$defs"]["Step"]["properties"]["type"]["enum"] == want


def test_a_judge_check_with_follows_the_judge_model(runbook_schema: dict[str, Any]) -> None:
    """`kind: check` + `type: judge` makes `with:` a Judge (metrics, baseline, window, bands)."""
    rules = runbook_schema["$defs"]["Step"]["allOf"]
    rule = next(r for r in rules if r["if"]["properties"]["type"]["const"] == "judge")
    assert rule["then"]["properties"]["with"] == {"$ref": "#/$defs/Judge"}
    assert "metrics" in runbook_schema["$defs"]["Judge"]["properties"]


def test_step_allof_has_an_http_rule(runbook_schema: dict[str, Any]) -> None:
    """`kind: check` + `type: http` makes `with:` follow the http check's params."""
    rules = runbook_schema["$defs"]["Step"]["allOf"]
    http = [r for r in rules if r["if"]["properties"]["type"] == {"const": "http"}]
    kinds = {r["if"]["properties"]["kind"]["const"]: r["then"]["properties"]["with"]["$ref"] for r in http}
    assert kinds == {"check": "#/$defs/check__http", "action": "#/$defs/action__http"}
    assert "url" in runbook_schema["$defs"]["check__http"]["required"]


def test_metric_flag_and_secret_providers_are_enumerated(runbook_schema: dict[str, Any]) -> None:
    """Trigger sources, flag providers and secret providers list their plugin names."""
    reg = registry_mod.default_registry()
    defs = runbook_schema["$defs"]
    assert defs["MetricRef"]["properties"]["type"]["enum"] == reg.names("metric")
    assert defs["FlagProviderRef"]["properties"]["type"]["enum"] == reg.names("flag")
    assert defs["SecretRef"]["properties"]["provider"]["enum"] == reg.names("secret")


def test_durations_and_t_times_have_patterns(runbook_schema: dict[str, Any]) -> None:
    """Durations and T-times are strings with the loader's patterns, so an editor flags '30' or 'T-60'."""
    props = runbook_schema["$defs"]["Step"]["properties"]
    timeout = next(s for s in props["timeout"]["anyOf"] if s.get("type") == "string")
    assert timeout["pattern"] == durations.DURATION_PATTERN
    at = next(s for s in props["at"]["anyOf"] if s.get("type") == "string")
    assert at["pattern"] == durations.TTIME_PATTERN


@pytest.mark.parametrize("path", SEED_EXAMPLES, ids=[p.stem for p in SEED_EXAMPLES])
def test_examples_validate_against_the_schema(path: Path, validator: Any) -> None:
    """What the loader accepts, the schema accepts: each seed example is valid JSON Schema-wise."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]
    assert errors == []


def _minimal(step: dict[str, Any]) -> dict[str, Any]:
    return {"golive": 1, "name": "x", "phases": [{"id": "p", "steps": [step]}]}


@pytest.mark.parametrize(
    "step",
    [
        {"id": "a", "kind": "check", "type": "htp", "with": {"url": "https://api.example.com"}},
        {"id": "a", "kind": "check", "type": "http", "with": {"url": "https://api.example.com", "method": "FETCH"}},
        {"id": "a", "kind": "check", "type": "http", "with": {"uri": "https://api.example.com"}},
        {"id": "a", "kind": "manual", "role": "ops", "timout": "5m"},
        {"id": "a", "kind": "manual", "role": "ops", "timeout": "5 minutes"},
        {"id": "a", "kind": "chek"},
    ],
    ids=["unknown-type", "bad-method", "unknown-param", "unknown-field", "bad-duration", "unknown-kind"],
)
def test_schema_rejects_what_an_editor_should_underline(step: dict[str, Any], validator: Any) -> None:
    """Typos in plugin names, plugin params, step fields, durations and kinds fail schema validation."""
    assert list(validator.iter_errors(_minimal(step)))


def test_schema_follows_the_registry_it_is_given() -> None:
    """A third-party plugin registered in a registry appears in that registry's schema."""

    class DeployParams(base.Params):
        service: str = Field(description="Service to deploy.")
        canary_percent: int = Field(default=5, ge=0, le=100)

    class DeployAction(base.ActionPlugin):
        name: ClassVar[str] = "acme-deploy"
        params = DeployParams
        description = "Deploy with ACME."

        async def run(self, ctx: base.StepContext) -> results.Result:  # pragma: no cover - never run
            raise NotImplementedError

    reg = registry_mod.Registry()
    reg.register(DeployAction)
    doc = schema.runbook_schema(reg)
    assert doc["$defs"]["Step"]["properties"]["type"]["enum"] == ["acme-deploy", "judge"]
    assert doc["$defs"]["action__acme_deploy"]["properties"]["canary_percent"]["maximum"] == 100
    assert doc["$defs"]["action__acme_deploy"]["description"] == "Deploy with ACME."
    json.dumps(doc)  # the whole document serialises

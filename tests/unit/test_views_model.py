"""The typed read model: mypy refuses a misspelt key, and the shape checker used on real runs works."""

from __future__ import annotations

from typing import Any, get_type_hints

import pytest
from mypy import api as mypy_api
from tests.shape import shape_errors

from golive.views import model


def _mypy(code: str) -> tuple[str, int]:
    out, err, status = mypy_api.run(["--strict", "--config-file", "", "--cache-dir", "/dev/null", "-c", code])
    return out + err, status


def test_mypy_refuses_a_misspelt_key_of_the_summary_and_its_nested_views() -> None:
    """`summary["verdcit"]` and a phase's `["stpes"]` are type errors; the right keys check clean."""
    bad = (
        "from golive.views.model import Summary\n"
        "def f(s: Summary) -> object:\n"
        '    return s["verdcit"], s["phases"][0]["stpes"]\n'
    )
    out, status = _mypy(bad)
    assert status == 1, out
    assert 'TypedDict "Summary" has no key "verdcit"' in out
    assert 'TypedDict "PhaseView" has no key "stpes"' in out
    good = (
        "from golive.views.model import Summary\n"
        "def f(s: Summary) -> object:\n"
        '    d = s["decision"]\n'
        '    return s["verdict"], s["phases"][0]["steps"][0]["kind"], d["by"] if d else None\n'
    )
    out, status = _mypy(good)
    assert status == 0, out


def _step(**extra: Any) -> dict[str, Any]:
    base = {k: None for k in model.StepView.__required_keys__}
    return (
        base
        | {"id": "s", "title": "S", "section": "p", "kind": "check", "summary": "", "status": "done", "evidence": []}
        | extra
    )


def test_the_shape_checker_names_a_missing_or_unknown_key_by_its_path() -> None:
    """An unknown key and a missing required key are each reported with where they are."""
    assert shape_errors(_step(), model.StepView) == []
    wrong = _step(stauts="done")
    del wrong["kind"]
    errors = shape_errors(wrong, model.StepView, "step")
    assert "step: unknown key 'stauts'" in errors
    assert "step: missing key 'kind'" in errors
    nested = {k: None for k in model.PhaseView.__required_keys__} | {"steps": [_step(extra=1)]}
    assert "phase.steps[0]: unknown key 'extra'" in shape_errors(nested, model.PhaseView, "phase")


@pytest.mark.parametrize("name", model.__all__)
def test_every_view_is_a_typeddict(name: str) -> None:
    """The read model is dicts (the JSON is what it was) whose keys mypy knows."""
    td = getattr(model, name)
    assert isinstance(td, type)
    assert issubclass(td, dict)
    assert hasattr(td, "__required_keys__")


@pytest.mark.parametrize(
    ("schema", "view", "extra"),
    [
        ("RunSummary", "Summary", {"preflight", "chain", "blob_status"}),  # added by the CLI and the HTML report
        ("PhaseOut", "PhaseView", set()),
        ("StepOut", "PendingView", set()),  # one API schema for a step, waiting or not
        ("RoleOut", "RoleView", set()),
        ("FollowUpOut", "FollowUpView", set()),
        ("JudgementOut", "JudgementView", set()),
        ("JudgedMetricOut", "MetricView", set()),
    ],
)
def test_the_api_schema_names_the_keys_of_the_read_model(schema: str, view: str, extra: set[str]) -> None:
    """The OpenAPI document's run (server.schemas) and the read model it serializes declare the same keys."""
    from golive.server import schemas

    declared = set(getattr(schemas, schema).model_fields)
    typed = set(get_type_hints(getattr(model, view)))
    assert declared == typed - extra

"""Typed vars: coerced and checked at the CLI and the API; durations, thresholds and counts may come from vars."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from golive import exceptions
from golive.engine import acts, runner
from golive.spec import loader
from golive.store import open_store

RUNBOOK = """
golive: 1
name: typed-vars
vars:
  automation_enabled: {type: bool, default: false}
  batch: {type: int, default: 10}
  max_error_rate: {type: number, default: 0.05}
  observe_for: {type: duration, default: 10m}
  base_url: {type: url, default: "https://api.example.com"}
flags:
  provider: {type: json, with: {path: flags.json}}
  safe: {automation: false}
triggers:
  - id: errors
    source: {type: command, with: {run: [echo, "0.01"]}}
    when: "value > ${{ vars.max_error_rate }}"
phases:
  - id: enable
    steps:
      - id: flip
        kind: action
        type: flag
        with: {flags: {automation: "${{ vars.automation_enabled }}", batch: "${{ vars.batch }}"}}
      - id: watch
        kind: observe
        needs: [flip]
        duration: "${{ vars.observe_for }}"
        timeout: "${{ vars.observe_for }}"
"""


def _write(tmp_path: Path) -> Path:
    rb = tmp_path / "rb.yaml"
    rb.write_text(RUNBOOK, encoding="utf-8")
    (tmp_path / "flags.json").write_text("{}", encoding="utf-8")
    return rb


def test_cli_values_are_coerced_to_the_declared_types(tmp_path: Path) -> None:
    """--var automation_enabled=true is the boolean True; a duration var shapes the observe step."""
    loaded = loader.load(
        _write(tmp_path),
        var_overrides={"automation_enabled": "true", "batch": "25", "observe_for": "90s", "max_error_rate": "0.2"},
        environ={},
    )
    assert loaded.vars["automation_enabled"] is True
    assert loaded.vars["batch"] == 25
    assert loaded.vars["max_error_rate"] == 0.2
    step = loaded.runbook.step("watch")
    assert step is not None
    assert step.duration == 90.0
    assert step.timeout == 90.0
    trig = loaded.runbook.trigger("errors")
    assert trig is not None
    assert trig.when == "value > 0.2"
    assert loaded.var_sources["batch"] == "start"
    assert loaded.var_sources["base_url"] == "runbook"


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("automation_enabled", "maybe", "(bool) must be true or false"),
        ("batch", "ten", "(int) must be a whole number"),
        ("max_error_rate", "5%", "(number) must be a number"),
        ("observe_for", "10", "has no unit"),
        ("base_url", "not a url", "(url) must be an absolute URL"),
    ],
)
def test_a_value_that_does_not_fit_its_type_is_refused_with_the_fix(
    tmp_path: Path, name: str, value: str, words: str
) -> None:
    with pytest.raises(exceptions.UsageError) as err:
        loader.load(_write(tmp_path), var_overrides={name: value}, environ={})
    assert f"--var {name}" in err.value.message
    assert words in err.value.message
    assert err.value.exit_code == 2


def test_an_environment_value_is_checked_like_a_flag(tmp_path: Path) -> None:
    with pytest.raises(exceptions.RunbookInvalid) as err:
        loader.load(_write(tmp_path), environ={"GOLIVE_VAR_BATCH": "lots"})
    assert "GOLIVE_VAR_BATCH" in str(err.value)


def test_a_default_that_does_not_fit_its_type_is_a_located_problem(tmp_path: Path) -> None:
    rb = tmp_path / "bad.yaml"
    rb.write_text(RUNBOOK.replace("default: 10}", "default: ten}"), encoding="utf-8")
    with pytest.raises(exceptions.RunbookInvalid) as err:
        loader.load(rb, environ={})
    assert "vars.batch" in str(err.value)
    assert "type: int" in str(err.value)


def test_an_untyped_var_in_a_duration_field_is_refused_with_the_fix(tmp_path: Path) -> None:
    rb = tmp_path / "bad.yaml"
    rb.write_text(RUNBOOK.replace("{type: duration, default: 10m}", "{default: 10m}"), encoding="utf-8")
    with pytest.raises(exceptions.RunbookInvalid) as err:
        loader.load(rb, environ={})
    assert "phases[0].steps[1].duration" in str(err.value)
    assert "'type: duration'" in str(err.value)


async def test_a_bool_var_reaches_the_flag_provider_as_a_boolean_and_survives_resume(tmp_path: Path) -> None:
    """`--var automation_enabled=true` with type bool is written to the flag store as JSON true, not 'true'."""
    rb = _write(tmp_path)
    text = (
        RUNBOOK.replace('duration: "${{ vars.observe_for }}"', "duration: 1ms")
        .replace('timeout: "${{ vars.observe_for }}"', "timeout: 5s")
        .replace("path: flags.json", f"path: {tmp_path / 'flags.json'}")
    )
    rb.write_text(text, encoding="utf-8")
    store = open_store(str(tmp_path / "golive.db"))
    await store.open()
    try:
        loaded = loader.load(rb, var_overrides={"automation_enabled": "true", "batch": "7"}, environ={})
        handle = await runner.create_run(store, loaded)
        await runner.Engine(handle).run()
        flags = json.loads((tmp_path / "flags.json").read_text(encoding="utf-8"))
        assert flags["automation"] is True
        assert flags["batch"] == 7
        rec = await store.get_run(handle.run_id)
        assert rec.params["vars"]["automation_enabled"] is True
        reopened = await acts.open_run(store, handle.run_id)
        assert runner.Engine(reopened).vars["automation_enabled"] is True
    finally:
        await store.close()

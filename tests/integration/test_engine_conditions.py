"""`if:` on steps and phases: a false condition records skipped, an unevaluable one fails closed."""

from __future__ import annotations

from pathlib import Path

import pytest

from golive import exceptions
from golive.engine import runner
from golive.engine.state import RunStatus
from golive.spec import loader
from golive.testing import InMemoryStore

RUNBOOK = """
golive: 1
name: conditions
roles:
  dbo: {description: DB owner}
vars:
  data_corruption: {default: "no"}
  enable_tier2: {default: "no"}
phases:
  - id: restore
    steps:
      - id: choose
        kind: check
        type: command
        with: {run: "echo migration-rollback"}
      - id: restore_snapshot
        kind: check
        type: command
        needs: [choose]
        if: "vars.data_corruption == 'yes'"
        with: {run: "echo restoring snapshot"}
      - id: rollback_migration
        kind: check
        type: command
        needs: [choose]
        if: "contains(steps.choose.output.stdout, 'migration-rollback')"
        with: {run: "echo alembic downgrade -1"}
  - id: tier2
    if: "vars.enable_tier2 == 'yes'"
    steps:
      - {id: tier2_on, kind: check, type: command, with: {run: "echo tier 2"}}
  - id: done
    steps:
      - {id: last, kind: check, type: command, if: "steps.tier2_on.outcome == 'skipped'", with: {run: "true"}}
"""


async def _run(tmp_path: Path, text: str, **overrides: str) -> runner.acts.RunHandle:
    rb = tmp_path / "rb.yaml"
    rb.write_text(text, encoding="utf-8")
    loaded = loader.load(rb, var_overrides=overrides or None, environ={})
    store = InMemoryStore()
    await store.open()
    handle = await runner.create_run(store, loaded)
    await runner.Engine(handle).run()
    return handle


async def test_a_false_step_condition_is_recorded_as_skipped_and_a_true_one_runs(tmp_path: Path) -> None:
    """'Restore the snapshot OR roll back the migration': only the branch whose condition holds runs."""
    h = await _run(tmp_path, RUNBOOK)
    assert h.state.step("restore_snapshot").outcome is not None
    assert h.state.step("restore_snapshot").outcome.value == "skipped"
    assert "is false" in h.state.step("restore_snapshot").summary
    assert h.state.step("rollback_migration").outcome is not None
    assert h.state.step("rollback_migration").outcome.value == "pass"


async def test_a_phase_whose_condition_is_false_is_skipped_with_its_steps(tmp_path: Path) -> None:
    """An optional phase (Tier 2 later) is skipped, its steps recorded, and the run goes on and passes."""
    h = await _run(tmp_path, RUNBOOK)
    assert h.state.phases["tier2"] == "skipped"
    assert h.state.step("tier2_on").outcome is not None
    assert h.state.step("tier2_on").outcome.value == "skipped"
    assert h.state.step("last").outcome is not None
    assert h.state.step("last").outcome.value == "pass"
    assert h.state.status is RunStatus.PASSED


async def test_a_var_turns_the_phase_on(tmp_path: Path) -> None:
    """With --var enable_tier2=yes the phase runs."""
    h = await _run(tmp_path, RUNBOOK, enable_tier2="yes")
    assert h.state.phases["tier2"] == "pass"


async def test_a_condition_that_cannot_be_evaluated_fails_closed(tmp_path: Path) -> None:
    """Reading a key that is not there is an error, never a silent skip or a pass."""
    text = RUNBOOK.replace(
        "contains(steps.choose.output.stdout, 'migration-rollback')", "steps.choose.output.nope == 1"
    )
    h = await _run(tmp_path, text)
    assert h.state.step("rollback_migration").outcome is not None
    assert h.state.step("rollback_migration").outcome.value == "error"
    assert h.state.status is RunStatus.NO_GO


def test_a_malformed_condition_is_a_load_error_naming_the_field(tmp_path: Path) -> None:
    """`if:` is checked when the runbook loads: file:line:col and the field path."""
    rb = tmp_path / "rb.yaml"
    rb.write_text(RUNBOOK.replace("if: \"vars.enable_tier2 == 'yes'\"", 'if: "vars.enable_tier2 =="'), "utf-8")
    with pytest.raises(exceptions.RunbookInvalid) as err:
        loader.load(rb, environ={})
    assert "phases[1].if" in str(err.value)

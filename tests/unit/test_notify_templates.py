"""Comms templates: defaults, overrides, sandboxing and clear errors."""

from __future__ import annotations

import pytest

from golive import exceptions
from golive.notify import context, templates
from golive.spec import models


def _ctx(**kw: object) -> dict[str, object]:
    data = context.blank()
    data.update(kw)
    return data


def test_every_event_has_a_default_template() -> None:
    """Each event golive announces renders from its default with a blank context."""
    for event in templates.EVENTS:
        text = templates.render(event, _ctx(event=event, phase_title="Backup", step_title="Snapshot"))
        assert text, event


@pytest.mark.parametrize(
    ("event", "kw", "expected"),
    [
        ("phase_passed", {"phase_title": "Pre-flight"}, "Pre-flight PASS"),
        ("phase_passed", {"phase_title": "Backup"}, "Backup PASS"),
        ("phase_passed", {"phase_title": "Deploy+Smoke"}, "Deploy+Smoke PASS"),
        ("phase_failed", {"phase_title": "Deploy+Smoke"}, "Deploy+Smoke FAIL"),
        ("canary_passed", {"phase_title": "Canary Money Loop"}, "Canary PASS"),
        ("canary_failed", {"phase_title": "Canary Money Loop"}, "Canary FAIL"),
        ("decision_go", {}, "GO decision made. System live. Hypercare started."),
        (
            "rollback_triggered",
            {"reason": "Payout failure rate 0.21 > 0.15"},
            "Rollback triggered. Reason: Payout failure rate 0.21 > 0.15. Restoration in progress.",
        ),
        ("run_started", {"update_every": "15m"}, "Cutover initiated. Updates every 15m."),
    ],
)
def test_defaults_say_what_the_payments_seed_says(event: str, kw: dict[str, object], expected: str) -> None:
    """With the seed's phase titles and no runbook templates, the defaults give the seed's exact words."""
    assert templates.render(event, _ctx(**kw)) == expected


def test_phase_failed_default_carries_the_reason() -> None:
    """A failed phase's default message says why when the engine gives a reason."""
    text = templates.render("phase_failed", _ctx(phase_title="Deploy+Smoke", reason="status 503, expected 200"))
    assert text == "Deploy+Smoke FAIL (status 503, expected 200)"


def test_runbook_template_overrides_the_default() -> None:
    """comms.templates[event] replaces golive's default for that event."""
    overrides = {"run_started": "Cutover initiated. Maintenance window active. Updates every {{ update_every }}."}
    text = templates.render("run_started", _ctx(update_every="15m"), overrides)
    assert text == "Cutover initiated. Maintenance window active. Updates every 15m."


def test_source_precedence_inline_then_announce_then_runbook_then_default() -> None:
    """An inline message beats a phase announce, which beats the runbook's template, which beats the default."""
    over = {"phase_passed": "runbook"}
    assert templates.template_source("phase_passed", over, "inline", "announce") == ("inline", "inline")
    assert templates.template_source("phase_passed", over, None, "announce") == ("announce", "announce")
    assert templates.template_source("phase_passed", over) == ("runbook", "runbook:phase_passed")
    assert templates.template_source("phase_passed", {})[1] == "default:phase_passed"


def test_unknown_variable_is_a_clear_error() -> None:
    """A misspelt variable raises UsageError naming the template, the variable and the known ones."""
    with pytest.raises(exceptions.UsageError) as err:
        templates.render("rollback_triggered", _ctx(), {"rollback_triggered": "Reason: {{ resaon }}"})
    assert "runbook:rollback_triggered" in err.value.message
    assert "'resaon' is undefined" in err.value.message
    assert "reason" in err.value.message


def test_sandbox_refuses_python_internals() -> None:
    """A template cannot reach Python internals: the sandbox turns it into a UsageError."""
    with pytest.raises(exceptions.UsageError, match="unsafe"):
        templates.render("x", _ctx(), {"x": "{{ ''.__class__.__mro__ }}"})


def test_syntax_error_names_the_line() -> None:
    """A template with a syntax error is a UsageError naming the template and line."""
    with pytest.raises(exceptions.UsageError, match=r"'runbook:x': syntax error on line 2"):
        templates.render("x", _ctx(), {"x": "ok\n{% if %}"})


def test_unknown_template_name_suggests_the_close_one() -> None:
    """Asking for a template that does not exist names the closest one."""
    with pytest.raises(exceptions.UsageError, match="did you mean 'decision_go'"):
        templates.render("decision_goo", _ctx())


def test_reference_syntax_reads_the_same_context() -> None:
    """`${{ run.id }}` and `${{ steps.db-backup.inputs.snapshot_id }}` work in comms templates."""
    ctx = _ctx(run={"id": "r-123"}, steps={"db-backup": {"inputs": {"snapshot_id": "snap-9"}}})
    text = templates.render("x", ctx, {"x": "Run ${{ run.id }} snapshot ${{ steps.db-backup.inputs.snapshot_id }}"})
    assert text == "Run r-123 snapshot snap-9"


def test_secrets_are_not_in_the_template_context() -> None:
    """A comms template cannot read secrets: `${{ secrets.x }}` is an undefined variable."""
    with pytest.raises(exceptions.UsageError, match="'secrets' is undefined"):
        templates.render("x", _ctx(), {"x": "${{ secrets.psp_key }}"})


def test_canary_is_recognised_by_flag_or_name() -> None:
    """A phase is the canary when its id or title has the word 'canary'; 'canaryish' is not."""
    step = {"id": "s", "kind": "manual", "role": "ic"}
    assert context.is_canary(models.Phase(id="canary", steps=(step,)))  # type: ignore[arg-type]
    assert context.is_canary(models.Phase(id="p4", title="Canary Money Loop", steps=(step,)))  # type: ignore[arg-type]
    assert not context.is_canary(models.Phase(id="canaryish", title="Smoke", steps=(step,)))  # type: ignore[arg-type]


def test_counts_split_outcomes() -> None:
    """Step counts: pass/warn/waived passed, fail/error failed, None pending, skipped neither."""
    assert context.counts(["pass", "warn", "waived", "fail", "error", None, "skipped"]) == {
        "steps_total": 7,
        "steps_passed": 3,
        "steps_failed": 2,
        "steps_pending": 1,
    }


def test_nested_context_is_flattened_for_templates() -> None:
    """phase/step/decision/counts/runbook mappings fill the flat variables; outcomes become lower case."""
    flat = context.normalize(
        {
            "phase": {"id": "backup", "title": "Backup", "outcome": "PASS"},
            "step": {"id": "smoke", "title": "Smoke", "summary": "status 503, expected 200"},
            "decision": {"decision": "no-go", "by": "alice"},
            "counts": {"passed": 3, "failed": 1},
            "runbook": {"name": "payments", "title": "Payments go-live", "environment": "production"},
        }
    )
    assert (flat["phase_title"], flat["outcome"], flat["verdict"]) == ("Backup", "pass", "PASS")
    assert (flat["step_title"], flat["reason"]) == ("Smoke", "status 503, expected 200")
    assert (flat["decision"], flat["actor"]) == ("NO-GO", "alice")
    assert (flat["steps_passed"], flat["steps_failed"]) == (3, 1)
    assert (flat["runbook"], flat["runbook_title"], flat["environment"]) == (
        "payments",
        "Payments go-live",
        "production",
    )


def test_failed_rollback_is_never_announced_as_complete() -> None:
    """rollback_complete with outcome FAIL (any case) says the rollback FAILED."""
    data = _ctx(**context.normalize({"outcome": "FAIL", "reason": "revert-deploy error"}))
    assert templates.render("rollback_complete", data) == (
        "Rollback FAILED: revert-deploy error. Restoration is not confirmed; escalate now."
    )
    ok = _ctx(**context.normalize({"outcome": "PASS"}))
    assert templates.render("rollback_complete", ok) == "Rollback complete. Previous release restored."


def test_every_templated_event_is_one_a_channel_may_name() -> None:
    """One list of comms events: a channel may route every event golive has a template for (the two lists had
    drifted, and `events: [run_stopped]` was refused at load)."""
    from golive.notify import templates
    from golive.spec import comms

    assert set(templates.EVENTS) <= set(comms.EVENTS)
    assert set(comms.EVENTS) - set(templates.EVENTS) == {"notify"}
    for event in ("run_stopped", "phase_waived", "canary_waived", "rollback_interrupted"):
        assert event in comms.known_events({})

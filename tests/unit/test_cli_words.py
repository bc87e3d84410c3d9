"""What the terminal says about a run's end: the verdict only when it adds something."""

from __future__ import annotations

from typing import Any, get_args, get_origin, get_type_hints

from golive.cli import views
from golive.views import model


def _blank(tp: Any) -> Any:
    """The empty value of a read-model type: every required key of a view, lists and dicts empty, else None."""
    if isinstance(tp, type) and hasattr(tp, "__required_keys__"):
        hints = get_type_hints(tp)
        return {k: _blank(hints[k]) for k in tp.__required_keys__}
    origin = get_origin(tp)
    if origin in (list, dict):
        return origin()
    return {str: "", int: 0, bool: False}.get(tp) if not get_args(tp) else None


def _full(summary: dict[str, Any]) -> Any:
    """A summary as summarize() returns it (views.model.Summary): the keys a test is about, the rest empty."""
    phases = [
        _blank(model.PhaseView) | ph | {"steps": [_blank(model.StepView) | s for s in ph.get("steps", [])]}
        for ph in summary.get("phases", [])
    ]
    return _blank(model.Summary) | summary | {"phases": phases}


def test_a_verdict_that_repeats_the_status_is_not_said_twice() -> None:
    """`NO-GO (NO-GO)` and `ROLLED-BACK (ROLLED BACK)` read `NO-GO` and `ROLLED-BACK`; `PASSED (GO)` stays."""
    assert views.outcome_words("NO-GO", "NO-GO") == "NO-GO"
    assert views.outcome_words("ROLLED-BACK", "ROLLED BACK") == "ROLLED-BACK"
    assert views.outcome_words("PASSED", "GO") == "PASSED (GO)"
    assert views.outcome_words("COMPLETE", "GO") == "COMPLETE (GO)"


def test_an_unknown_step_names_golive_resolve() -> None:
    """A step left unknown by a crash shows the resolve command in the status table."""
    from rich.console import Console

    summary = {
        "run_id": "r1",
        "title": "t",
        "mode": "live",
        "status_label": "WAITING",
        "status": "waiting",
        "reason": "",
        "roles": {},
        "rollback": None,
        "phases": [
            {
                "title": "Deploy",
                "outcome": "running",
                "steps": [
                    {
                        "id": "migrate",
                        "kind": "action",
                        "role": None,
                        "outcome": None,
                        "status": "unknown",
                        "summary": "",
                    }
                ],
            }
        ],
    }
    console = Console(width=200, record=True)
    console.print(views.status_renderable(_full(summary)))
    assert "golive resolve r1 migrate --outcome done|not-done" in console.export_text()


def test_status_at_80_columns_keeps_every_step_id_on_one_line() -> None:
    """At 80 columns the step ids are whole (the summary wraps instead)."""
    from rich.console import Console

    ids = ["verify-prod-env-and-secrets", "payouts-router-reachable", "canary-withdraw-request"]
    summary = {
        "run_id": "r1",
        "title": "Payments",
        "mode": "live",
        "status_label": "RUNNING",
        "status": "running",
        "reason": "",
        "roles": {},
        "rollback": None,
        "phases": [
            {
                "title": "Deploy+Smoke",
                "outcome": "running",
                "steps": [
                    {
                        "id": i,
                        "kind": "check",
                        "role": "deployer",
                        "outcome": "pass",
                        "status": "done",
                        "summary": 'status=200, expected 200; $.status="ok", expected == "ok" in 41 ms',
                    }
                    for i in ids
                ],
            }
        ],
    }
    console = Console(width=80, record=True)
    console.print(views.status_renderable(_full(summary)))
    text = console.export_text()
    assert all(i in text for i in ids), text


def test_a_run_rolled_back_after_go_is_shown_red_like_any_rollback() -> None:
    """`golive status` colours ROLLED-BACK-AFTER-GO as it colours ROLLED-BACK (red), never as a run going on."""
    from rich.console import Console

    def style_of(label: str) -> str:
        summary = {"run_id": "r1", "title": "t", "mode": "live", "status_label": label, "status": "x", "reason": ""}
        summary |= {"roles": {}, "rollback": None, "phases": []}
        console = Console(width=120, record=True, color_system="truecolor", force_terminal=True)
        console.print(views.status_renderable(_full(summary)))
        line = console.export_html(inline_styles=True)
        return line.split(label)[0].rsplit("<span", 1)[-1]

    assert style_of("ROLLED-BACK-AFTER-GO") == style_of("ROLLED-BACK")

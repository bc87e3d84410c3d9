"""Judges and baselines at load time: shapes, metric sources and what a baseline can read, with file:line."""

from __future__ import annotations

import pytest

from golive import exceptions
from golive.spec import loader, models

HEAD = """\
golive: 1
name: judged
phases:
  - id: canary
    steps:
"""

PROM = '{type: prometheus, with: {url: "http://127.0.0.1:9090", query: "up"}}'


def load(text: str) -> loader.LoadedRunbook:
    return loader.load_text(text, "runbook.yaml", environ={})


def problems(text: str) -> str:
    with pytest.raises(exceptions.RunbookInvalid) as err:
        load(text)
    return str(err.value)


def test_a_judge_check_loads_with_its_metrics_and_baseline() -> None:
    """`type: judge` takes a Judge in `with`: metrics, baseline, window, bands."""
    rb = load(
        HEAD
        + f"""\
      - id: judge
        kind: check
        type: judge
        with:
          window: 30m
          baseline: {{offset: 1w}}
          metrics:
            - {{id: p99, source: {PROM}, critical: true}}
            - {{id: errors, kind: rate, source: {PROM}, total: {PROM}}}
"""
    ).runbook
    step = rb.step("judge")
    assert step is not None
    spec = models.Judge.model_validate(step.with_)
    assert spec.window == 1800.0
    assert [m.id for m in spec.metrics] == ["p99", "errors"]


def test_a_judge_check_without_a_window_is_refused() -> None:
    """A check reads the last `window`: without one there is nothing to judge."""
    text = (
        HEAD
        + f"""\
      - id: judge
        kind: check
        type: judge
        with:
          baseline: {{offset: 1w}}
          metrics: [{{id: p99, source: {PROM}}}]
"""
    )
    assert "runbook.yaml:9:" in problems(text)
    assert "needs 'window'" in problems(text)


def test_an_offset_baseline_on_a_source_that_cannot_read_the_past_is_refused() -> None:
    """`offset` and `before` read history: a command source cannot, and the error says what to use instead."""
    text = (
        HEAD
        + """\
      - id: judge
        kind: check
        type: judge
        with:
          window: 30m
          baseline: {offset: 1w}
          metrics: [{id: depth, source: {type: command, with: {run: [echo, "1"]}}}]
"""
    )
    msg = problems(text)
    assert "runbook.yaml:11:" in msg
    assert "cannot; use a prometheus source" in msg


def test_bad_metric_params_inside_a_judge_are_refused_with_their_line() -> None:
    """A metric source's params are checked like a trigger's."""
    text = (
        HEAD
        + """\
      - id: soak
        kind: observe
        duration: 10m
        judge:
          baseline: {offset: 1w}
          metrics: [{id: p99, source: {type: prometheus, with: {query: up}}}]
"""
    )
    msg = problems(text)
    assert "judge.metrics[0].source.with" in msg
    assert "url" in msg


def test_trigger_conditions_see_the_baseline_names_only_with_a_baseline() -> None:
    """`delta_pts` is known to a trigger with a baseline, and an unknown name without one."""
    ok = (
        HEAD
        + "      - {id: soak, kind: observe, duration: 10m}\n"
        + f"triggers:\n  - {{id: auth, source: {PROM}, baseline: {{offset: 1w}}, when: 'delta_pts <= -2'}}\n"
    )
    assert load(ok).runbook.triggers[0].baseline is not None
    bad = (
        HEAD
        + "      - {id: soak, kind: observe, duration: 10m}\n"
        + f"triggers:\n  - {{id: auth, source: {PROM}, when: 'delta_pts <= -2'}}\n"
    )
    assert "delta_pts" in problems(bad)

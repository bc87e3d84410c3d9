"""Comms routing rules: event filters and groups, minimum severity, named channels, the log fallback, and
the loader's check of the names a channel uses."""

from __future__ import annotations

import pytest

from golive import exceptions
from golive.notify import routing
from golive.spec import loader, models


def channel(**kw: object) -> models.Channel:
    return models.Channel.model_validate({"id": "c", "url": "log://", **kw})


def test_an_event_group_matches_its_members() -> None:
    """`decision_recorded` takes the GO and the NO-GO messages and not the pending decision."""
    c = channel(events=["decision_recorded"])
    assert routing.takes(c, "decision_go", "info")
    assert routing.takes(c, "decision_no_go", "high")
    assert not routing.takes(c, "decision_pending", "warning")


def test_except_and_min_severity_filter_out_messages() -> None:
    """`except: [status_update]` drops status updates; `min_severity: high` drops a warning."""
    assert not routing.takes(channel(**{"except": ["status_update"]}), "status_update", "info")
    assert routing.takes(channel(**{"except": ["status_update"]}), "run_started", "info")
    assert not routing.takes(channel(min_severity="high"), "step_failed", "warning")
    assert routing.takes(channel(min_severity="high"), "rollback_triggered", "critical")


def test_named_channels_win_and_an_unrouted_message_goes_to_the_log() -> None:
    """A message that names channels goes to exactly those; one no channel takes is kept in the log."""
    chans = [channel(id="a", events=["run_started"]), channel(id="b", min_severity="critical")]
    assert routing.route(chans, "trigger_fired", "warning", ["b"]) == ("b",)
    assert routing.route(chans, "run_started", "info") == ("a",)
    assert routing.route(chans, "status_update", "info") == ("log",)


def test_a_rehearsal_is_marked_and_a_live_run_is_not() -> None:
    assert routing.marker("rehearsal") == "[REHEARSAL]"
    assert routing.marker("dry-run") == "[DRY RUN]"
    assert routing.marker("live") is None


RUNBOOK = """\
golive: 1
name: r
phases:
  - id: p
    steps:
      - {id: s, kind: check, type: command, with: {run: ["true"]}}
triggers:
  - {id: t, then: notify, channels: [dba-pagr]}
comms:
  channels:
    - {id: dba-pager, url: "log://", events: [decision_recordd]}
"""


def test_the_loader_names_an_unknown_event_and_an_unknown_trigger_channel() -> None:
    """A misspelt event name and a trigger's unknown channel are errors with the fix suggested."""
    with pytest.raises(exceptions.RunbookInvalid) as info:
        loader.load_text(RUNBOOK, "rb.yaml", environ={})
    text = str(info.value)
    assert (
        "comms.channels[0].events[0]: unknown comms event 'decision_recordd' (did you mean 'decision_recorded'?)"
        in text
    )
    assert "triggers[0].channels[0]: unknown channel 'dba-pagr' (did you mean 'dba-pager'?)" in text

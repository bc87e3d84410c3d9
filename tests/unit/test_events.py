"""Every event a run writes goes through its typed payload: each EventType is written and folded back, and an
unknown type or field is refused before the store sees it."""

from __future__ import annotations

from typing import Any

import pytest

from golive import exceptions
from golive.clock import FakeClock
from golive.engine import acts, runner
from golive.engine import events as events_mod
from golive.engine.events import EventType
from golive.spec import loader
from golive.store import base as store_base
from golive.store.memory import InMemoryStore

RUNBOOK = """\
golive: 1
name: events
roles:
  ic: {title: Incident Commander, may: [decide]}
phases:
  - id: prep
    steps:
      - id: look
        kind: check
        type: command
        with: {run: "true"}
      - id: go
        kind: decision
        role: ic
"""

T = "2026-01-01T00:10:00.000000Z"

# A plausible payload for every event type (the fold reads these fields).
SAMPLES: dict[EventType, tuple[str | None, dict[str, Any]]] = {
    EventType.ROLE_ASSIGNED: (None, {"role": "ic", "person": "dana"}),
    EventType.ENGINE_STARTED: (None, {"owner": "host:1", "epoch": 1, "takeover": False, "reason": "start"}),
    EventType.START_GATE: (None, {"outcome": "open", "blocks": [], "next_allowed": None}),
    EventType.ARMED_COVERAGE: (None, {"segment": "cutover", "ok": True, "triggers": {"errors": {"fraction": 1.0}}}),
    EventType.GATE_WAIVED: (None, {"gate": "freeze", "kind": "freeze", "what": "x", "why": "y", "ticket": "T-1"}),
    EventType.PHASE_STARTED: ("prep", {"title": "Prep"}),
    EventType.SCHEDULED_WAIT: ("look", {"what": "step", "until": T, "planned": "T-0"}),
    EventType.STEP_STARTED: ("look", {"attempt": 1}),
    EventType.STEP_PROBE: ("look", {"probe": 1, "outcome": "pass", "held": 1.0, "restarted": False, "summary": "ok"}),
    EventType.STEP_RETRY: ("look", {"attempt": 1, "summary": "failed once", "wait": 1.0}),
    EventType.ACTION_STARTED: ("look", {"attempt": 1, "describe": "would run true"}),
    EventType.ACTION_UNKNOWN: ("look", {"idempotent": False, "retry": False}),
    EventType.ACTION_RESOLVED: ("look", {"outcome": "pass", "reason": "checked by hand"}),
    EventType.ACTION_FINISHED: ("look", {"outcome": "pass", "summary": "ran", "attempt": 1, "duration": 0.5}),
    EventType.STEP_FINISHED: ("look", {"outcome": "pass", "summary": "exit 0", "duration": 0.1, "evidence": []}),
    EventType.STEP_WAITING: ("go", {"what": "decision", "deadline": T, "default": "hold", "role": "ic"}),
    EventType.STEP_RECHECKED: ("look", {"outcome": "pass", "summary": "still fine", "decision": "go"}),
    EventType.DECISION_RECORDED: ("go", {"decision": "GO", "reason": "canary clean", "statement": "GO"}),
    EventType.DECISION_DEFAULTED: ("go", {"default": "hold", "reason": "deadline"}),
    EventType.STEP_CONFIRMED: ("look", {"outcome": "pass", "inputs": {}, "evidence": [], "reason": "done"}),
    EventType.WAIVER_RECORDED: ("look", {"ticket": "CHG-1", "reason": "known"}),
    EventType.ACT_REFUSED: ("go", {"act": "decide", "why": "not the IC"}),
    EventType.APPROVAL_RECORDED: ("go", {"act": "go", "reason": "canary clean"}),
    EventType.LINK_OPENED: ("go", {"act": "decide", "nonce": "n-1"}),
    EventType.EVIDENCE_ADDED: ("look", {"name": "out.txt", "sha256": "0" * 64}),
    EventType.TRIGGER_EVALUATED: (None, {"trigger": "errors", "trigger_id": "errors", "status": "ok", "value": 0.1}),
    EventType.TRIGGER_FIRED: (None, {"trigger": "errors", "reason": "above 5%", "then": "notify", "severity": "sev2"}),
    EventType.WINDOW_EXTENDED: ("look", {"extension": 10.0, "coverage": {"fraction": 0.5}, "reason": "gaps"}),
    EventType.WINDOW_OVERRUN: (None, {"scope": "run", "not_after": T, "deadline": T, "default": "rollback"}),
    EventType.TRIGGER_PAUSED: (None, {"scope": "trigger:lag", "trigger": "lag", "deadline": T, "default": "rollback"}),
    EventType.OVERRUN_DECIDED: (None, {"scope": "run", "decision": "continue", "reason": "IC", "default": False}),
    EventType.FREEZE_STARTED: (None, {"freeze": "eoy", "title": "Year end", "start": T, "end": T}),
    EventType.COMMS_SENT: (None, {"channel": "log", "event": "run_started", "text": "hi", "ok": True, "attempts": 1}),
    EventType.SIGNOFF_RECORDED: (None, {"area": "ops", "statement": "signed"}),
    EventType.SIGNOFF_FIELDS_RECORDED: (None, {"fields": {"ticket": "CHG-1"}}),
    EventType.FOLLOW_UP_CONFIRMED: (None, {"follow_up": "postmortem", "note": "booked"}),
    EventType.HYPERCARE_CHECK: ("look", {"slot": T, "check_id": "look", "outcome": "pass", "summary": "ok", "ts": T}),
    EventType.HYPERCARE_MISSED: (None, {"slot": T, "check_ids": ["look"]}),
    EventType.HYPERCARE_ALERT: (None, {"kind": "slot_missed", "slot": T, "message": "missed"}),
    EventType.HYPERCARE_REPORT: (
        None,
        {"report": "24h", "title": "24 h", "due_at": T, "written_at": T, "status": "ok"},
    ),
    EventType.REHEARSAL_REPORT: (None, {"calls": 1, "unstubbed": []}),
    EventType.ROLLBACK_REQUESTED: (None, {"reason": "errors", "source": "trigger"}),
    EventType.ROLLBACK_STARTED: (None, {"reason": "errors", "by": "engine", "source": "trigger"}),
    EventType.ROLLBACK_INTERRUPTED: (None, {"error": "store down"}),
    EventType.ROLLBACK_FINISHED: (None, {"outcome": "pass", "failed": []}),
    EventType.PHASE_FINISHED: ("prep", {"outcome": "pass"}),
    EventType.ENGINE_STOPPED: (None, {"owner": "host:1", "epoch": 1, "reason": "crash"}),
    EventType.RUN_REOPENED: (None, {"reason": "resume", "reenter_phases": [], "reenter_steps": []}),
    EventType.RUN_FINISHED: (None, {"status": "rolled_back", "reason": "trigger"}),
}


async def _created() -> tuple[InMemoryStore, acts.RunHandle]:
    store = InMemoryStore(FakeClock())
    await store.open()
    loaded = loader.load_text(RUNBOOK, "events.yaml", environ={})
    return store, await runner.create_run(store, loaded, mode="dry-run")


def test_every_event_type_has_a_sample_and_a_payload() -> None:
    """The samples cover every EventType (run_created is written by create_run), and each has a payload model."""
    assert set(SAMPLES) | {EventType.RUN_CREATED} == set(EventType)
    assert set(events_mod.PAYLOADS) == set(EventType)


async def test_each_type_is_written_and_folded_back() -> None:
    """Each type goes through the handle to the store, reads back with the data written, and folds."""
    store, h = await _created()
    before = h.state.last_seq
    for kind, (step_id, data) in SAMPLES.items():
        await h.append(kind.value, step_id=step_id, actor="dana", **data)
    again = await acts.open_run(store, h.run_id)
    assert again.state.last_seq == before + len(SAMPLES)
    written = (await store.events(h.run_id))[before:]
    assert [ev.type for ev in written] == [k.value for k in SAMPLES]
    for ev, (_, data) in zip(written, SAMPLES.values(), strict=True):
        payload = events_mod.payload(ev.type, ev.data)
        assert payload.model_dump(exclude_unset=True, by_alias=True) == {
            k: v for k, v in ev.data.items() if k in data or k.startswith("auth")
        }


async def test_an_unknown_field_is_refused_before_the_store() -> None:
    """A field the type's payload does not declare is refused with its name, and nothing is written."""
    store, h = await _created()
    n = len(await store.events(h.run_id))
    with pytest.raises(exceptions.UsageError, match=r"'step_finished': colour: not a field of this event"):
        await h.append("step_finished", step_id="look", outcome="pass", colour="red")
    assert len(await store.events(h.run_id)) == n


async def test_an_unknown_type_is_refused_before_the_store() -> None:
    """A type that is not an EventType is refused, and nothing is written."""
    store, h = await _created()
    n = len(await store.events(h.run_id))
    with pytest.raises(exceptions.UsageError, match="'step_exploded' is not an EventType"):
        await h.append_many([store_base.NewEvent("step_exploded", step_id="look")])
    assert len(await store.events(h.run_id)) == n


def test_a_wrongly_typed_field_is_refused() -> None:
    """A field of the wrong JSON type is refused, naming the field."""
    with pytest.raises(exceptions.UsageError, match=r"'step_finished': outcome"):
        events_mod.payload("step_finished", {"outcome": ["pass"]})


def test_the_fold_reads_each_event_through_its_payload() -> None:
    """The fold reads typed payloads: a field left out takes the fold's default, and an event stored with a
    field its payload no longer declares still folds (the field is left out, never refused)."""
    from golive.engine import state as state_mod

    def event(seq: int, type_: str, step_id: str | None, **data: Any) -> store_base.Event:
        return store_base.Event("r1", seq, T, type_, step_id, "dana", data, "", f"h{seq}")

    folded = state_mod.fold(
        "r1",
        [
            event(1, "run_created", None, runbook="events", phases=["prep"], sections={"look": "prep"}),
            event(2, "step_started", "look"),
            event(3, "step_finished", "look", outcome="pass", summary="exit 0", retired_field=1),
            event(4, "phase_finished", "prep"),
        ],
    )
    look = folded.step("look")
    assert (folded.mode, look.attempts, look.outcome, look.summary) == ("live", 1, "pass", "exit 0")
    assert folded.phases["prep"] == "fail"  # a phase_finished without an outcome is not a pass
    read = events_mod.read({"outcome": "pass", "retired_field": 1}, events_mod.StepFinished)
    assert read.outcome == "pass"
    assert read.model_fields_set == {"outcome"}

"""The notifier with in-memory channels and a fake clock: exact messages, retries, records, required
channels, redaction."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from golive import exceptions
from golive.notify import MemoryChannel, Notifier, context
from golive.spec import models
from golive.testing import FakeClock

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)

SEED_TEMPLATES = {
    "run_started": "Cutover initiated. Maintenance window active. Updates every {{ update_every }}.",
    "decision_go": "GO decision made. System live. Hypercare started.",
    "rollback_triggered": "Rollback triggered. Reason: {{ reason }}. Restoration in progress.",
}


def _phase(pid: str, title: str, at: str, pass_text: str, fail_text: str) -> dict[str, Any]:
    return {
        "id": pid,
        "title": title,
        "at": at,
        "announce": {"pass": pass_text, "fail": fail_text},
        "steps": [{"id": f"{pid}-confirm", "kind": "manual", "role": "ic"}],
    }


def payments_runbook(channels: list[dict[str, Any]] | None = None) -> models.Runbook:
    """The payments seed's communication plan, as a runbook (independent of examples/)."""
    return models.Runbook.model_validate(
        {
            "golive": 1,
            "name": "payments-go-live",
            "title": "Payments go-live",
            "service": "payments",
            "environment": "production",
            "roles": {"ic": {"may": ["decide", "rollback"]}},
            "phases": [
                _phase("preflight", "Pre-flight", "T-60m", "Pre-flight PASS", "Pre-flight FAIL"),
                _phase("backup", "Backup", "T-30m", "Backup PASS", "Backup FAIL"),
                _phase("deploy", "Deploy + migration + smoke", "T-15m", "Deploy+Smoke PASS", "Deploy+Smoke FAIL"),
                _phase("canary", "Canary Money Loop", "T-0", "Canary PASS", "Canary FAIL"),
            ],
            "comms": {
                "channels": channels or [{"id": "war-room", "url": "json://127.0.0.1:9/hook"}],
                "templates": SEED_TEMPLATES,
                "cadence": [
                    {"name": "cutover", "anchor": "start", "every": "15m"},
                    {"name": "first-2h", "anchor": "go", "until": "2h", "every": "30m"},
                    {"name": "2h-24h", "anchor": "go", "from": "2h", "until": "24h", "every": "1h"},
                ],
            },
        }
    )


class Recorder:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    async def __call__(self, payload: dict[str, Any]) -> None:
        self.records.append(payload)


def _notifier(
    runbook: models.Runbook, chans: dict[str, MemoryChannel], redact: Any = None, clock: FakeClock | None = None
) -> tuple[Notifier, Recorder, FakeClock]:
    clock = clock or FakeClock(T0)
    rec = Recorder()
    base = context.for_run(runbook, run_id="run-1", mode="live")
    n = Notifier(runbook.comms, redact or (lambda s: s), clock, rec, base=base, t0=T0, channel_objects=chans)
    return n, rec, clock


async def test_payments_checkpoints_are_the_seeds_exact_words() -> None:
    """Start, each checkpoint, GO and a rollback produce the seed's messages, in order."""
    rb = payments_runbook()
    room = MemoryChannel("war-room")
    n, rec, _ = _notifier(rb, {"war-room": room})
    await n.notify("run_started")
    for phase in rb.phases:
        await n.announce_phase(phase, "pass")
    await n.notify("decision_go", {"actor": "alice", "decision": "GO"})
    await n.notify("rollback_triggered", {"reason": "Payout failure rate 21% > 15%"})
    assert room.bodies == [
        "Cutover initiated. Maintenance window active. Updates every 15m.",
        "Pre-flight PASS",
        "Backup PASS",
        "Deploy+Smoke PASS",
        "Canary PASS",
        "GO decision made. System live. Hypercare started.",
        "Rollback triggered. Reason: Payout failure rate 21% > 15%. Restoration in progress.",
    ]
    assert {t for t, _ in room.messages} == {"Payments go-live (production)"}
    assert [r["event"] for r in rec.records] == [
        "run_started",
        "phase_passed",
        "phase_passed",
        "phase_passed",
        "canary_passed",
        "decision_go",
        "rollback_triggered",
    ]
    assert rec.records[1]["template"] == "announce"
    assert rec.records[0]["template"] == "runbook:run_started"


async def test_failed_checkpoints_use_the_fail_announcements() -> None:
    """Deploy and canary failures say 'Deploy+Smoke FAIL' and 'Canary FAIL'."""
    rb = payments_runbook()
    room = MemoryChannel("war-room")
    n, rec, _ = _notifier(rb, {"war-room": room})
    deploy, canary = rb.phases[2], rb.phases[3]
    await n.announce_phase(deploy, "fail", {"reason": "smoke: status 503, expected 200"})
    await n.announce_phase(canary, "fail")
    assert room.bodies == ["Deploy+Smoke FAIL", "Canary FAIL"]
    assert [r["event"] for r in rec.records] == ["phase_failed", "canary_failed"]
    assert rec.records[0]["phase_id"] == "deploy"


async def test_each_delivery_is_recorded_with_channel_text_and_result() -> None:
    """A message to two channels gives two records with channel, event, template, text and result."""
    rb = payments_runbook([{"id": "a", "url": "json://127.0.0.1:9/a"}, {"id": "b", "url": "json://127.0.0.1:9/b"}])
    n, rec, _ = _notifier(rb, {"a": MemoryChannel("a"), "b": MemoryChannel("b")})
    out = await n.notify("decision_go")
    assert [d.channel for d in out] == ["a", "b"]
    assert [(r["channel"], r["event"], r["ok"], r["attempts"], r["error"]) for r in rec.records] == [
        ("a", "decision_go", True, 1, None),
        ("b", "decision_go", True, 1, None),
    ]
    assert rec.records[0]["text"] == "GO decision made. System live. Hypercare started."
    assert rec.records[0]["template"] == "runbook:decision_go"


async def test_failing_delivery_is_retried_with_backoff_then_succeeds() -> None:
    """A channel failing twice is retried: 3 attempts, 2s then 4s apart on the injected clock."""
    rb = payments_runbook()
    flaky = MemoryChannel("war-room", fail_first=2)
    n, rec, clock = _notifier(rb, {"war-room": flaky})
    [d] = await n.notify("decision_go")
    assert (d.ok, d.attempts) == (True, 3)
    assert clock.monotonic() == 6.0
    assert rec.records[0]["attempts"] == 3
    assert rec.records[0]["ok"] is True
    assert d.duration == 6.0


async def test_dead_channel_is_recorded_and_does_not_raise() -> None:
    """A channel that never answers: ok=False after 3 attempts, recorded with its error, no exception."""
    rb = payments_runbook()
    n, rec, _ = _notifier(rb, {"war-room": MemoryChannel("war-room", down=True)})
    [d] = await n.notify("rollback_triggered", {"reason": "ledger invariant breach"})
    assert (d.ok, d.attempts) == (False, 3)
    assert rec.records[0]["ok"] is False
    assert rec.records[0]["error"] == "memory channel refused the message"


async def test_required_channel_failure_raises_after_recording() -> None:
    """A required channel that fails raises DeliveryFailed, and the failure is recorded first."""
    rb = payments_runbook([{"id": "pager", "url": "json://127.0.0.1:9/p", "required": True}])
    n, rec, _ = _notifier(rb, {"pager": MemoryChannel("pager", required=True, down=True)})
    with pytest.raises(exceptions.DeliveryFailed, match="pager") as err:
        await n.notify("decision_go")
    assert err.value.channels == ["pager"]
    assert rec.records[0]["ok"] is False
    assert rec.records[0]["required"] is True


async def test_channel_that_raises_is_a_failed_delivery() -> None:
    """A custom channel raising an exception is recorded as a failed delivery, not a crash."""

    class Broken:
        id = "war-room"
        required = False

        async def send(self, title: str, body: str) -> Any:
            raise RuntimeError("socket closed")

    rb = payments_runbook()
    n, rec, _ = _notifier(rb, {"war-room": Broken()})  # type: ignore[dict-item]
    [d] = await n.notify("decision_go")
    assert not d.ok
    assert rec.records[0]["error"] == "RuntimeError: socket closed"


async def test_text_and_errors_are_redacted_before_sending_and_recording() -> None:
    """The redactor sees every text: the channel and the record both get the redacted message."""
    rb = payments_runbook()
    room = MemoryChannel("war-room")

    def redact(s: str) -> str:
        return re.sub(r"[\w.]+@[\w.]+", "<email>", s).replace("sk_live_abc123", "<secret>")

    n, rec, _ = _notifier(rb, {"war-room": room}, redact=redact)
    await n.notify("rollback_triggered", {"reason": "payout to bob@example.com failed with key sk_live_abc123"})
    expected = "Rollback triggered. Reason: payout to <email> failed with key <secret>. Restoration in progress."
    assert room.bodies == [expected]
    assert rec.records[0]["text"] == expected


async def test_template_error_is_a_recorded_failure_not_a_crash() -> None:
    """A runbook template with a misspelt variable fails the delivery (recorded with the reason)."""
    rb = payments_runbook()
    comms = rb.comms.model_copy(update={"templates": {"decision_go": "GO by {{ actr }}"}})
    room = MemoryChannel("war-room")
    rec = Recorder()
    n = Notifier(comms, lambda s: s, FakeClock(T0), rec, channel_objects={"war-room": room})
    [d] = await n.notify("decision_go")
    assert not d.ok
    assert d.attempts == 0
    assert "'actr' is undefined" in (rec.records[0]["error"] or "")
    assert room.messages == []


async def test_notify_step_uses_its_message_and_channels() -> None:
    """A notify step sends its inline message (rendered) to the channels it names only."""
    rb = payments_runbook([{"id": "a", "url": "json://127.0.0.1:9/a"}, {"id": "b", "url": "json://127.0.0.1:9/b"}])
    a, b = MemoryChannel("a"), MemoryChannel("b")
    n, rec, _ = _notifier(rb, {"a": a, "b": b})
    step = models.Step.model_validate(
        {
            "id": "tell-support",
            "kind": "notify",
            "channels": ["b"],
            "message": "Support: {{ runbook_title }} at {{ t_minus }}",
        }
    )
    await n.notify_step(step)
    assert a.messages == []
    assert b.bodies == ["Support: Payments go-live at T-0"]
    assert rec.records[0]["step_id"] == "tell-support"
    assert rec.records[0]["template"] == "inline"


async def test_without_declared_channels_messages_go_to_the_log() -> None:
    """A runbook with no channels still announces: to the built-in log channel."""
    rec = Recorder()
    log = MemoryChannel("log")
    n = Notifier(models.Comms(), lambda s: s, FakeClock(T0), rec, channel_objects={"log": log})
    await n.notify("phase_passed", {"phase_title": "Backup"})
    assert log.bodies == ["Backup PASS"]
    assert rec.records[0]["channel"] == "log"


async def test_unknown_channel_is_a_usage_error() -> None:
    """Naming a channel that is not declared is a UsageError listing the declared ones."""
    n, _, _ = _notifier(payments_runbook(), {"war-room": MemoryChannel("war-room")})
    with pytest.raises(exceptions.UsageError, match="unknown comms channel 'slack'"):
        await n.notify("decision_go", channels=["slack"])


async def test_background_messages_are_drained() -> None:
    """notify_nowait sends in the background; drain waits for it."""
    room = MemoryChannel("war-room", fail_first=1)
    n, rec, _ = _notifier(payments_runbook(), {"war-room": room})
    task = n.notify_nowait("decision_go")
    await n.drain()
    assert task.done()
    assert room.bodies == ["GO decision made. System live. Hypercare started."]
    assert rec.records[0]["attempts"] == 2


async def test_status_update_records_its_slot_and_restore_prevents_a_repeat() -> None:
    """A status update is recorded with tier/slot/due_at; a new notifier restored from the records does
    not send it again."""
    from golive.notify import cadence

    rb = payments_runbook()
    clock = FakeClock(T0)
    room = MemoryChannel("war-room")
    n, rec, _ = _notifier(rb, {"war-room": room}, clock=clock)
    anchors = cadence.Anchors(T0)
    clock.advance(16 * 60)
    await n.send_due(anchors, {"current_phase": "Backup"})
    assert [(r["tier"], r["slot"], r["due_at"]) for r in rec.records] == [("cutover", 1, "2026-03-01T10:15:00.000000Z")]
    again, rec2, _ = _notifier(rb, {"war-room": MemoryChannel("war-room")}, clock=clock)
    again.restore(rec.records)
    assert await again.send_due(anchors) == []
    assert rec2.records == []


async def test_runbook_default_canary_message_without_announce() -> None:
    """A canary phase without announce uses canary_passed: 'Canary PASS'."""
    rec = Recorder()
    log = MemoryChannel("log")
    n = Notifier(models.Comms(), lambda s: s, FakeClock(T0), rec, channel_objects={"log": log})
    phase = models.Phase.model_validate(
        {"id": "p4", "title": "Canary Money Loop", "steps": [{"id": "s", "kind": "manual", "role": "ic"}]}
    )
    await n.announce_phase(phase, "pass")
    assert log.bodies == ["Canary PASS"]
    assert rec.records[0]["event"] == "canary_passed"


async def test_background_messages_keep_their_order_per_channel() -> None:
    """Messages sent with notify_nowait reach a channel in the order they were produced, even when the
    first one needs retries."""
    room = MemoryChannel("war-room", fail_first=1)
    n, rec, _ = _notifier(payments_runbook(), {"war-room": room})
    rb = payments_runbook()
    for phase in rb.phases:
        n.notify_nowait("phase_passed", announce=phase.announce["pass"])
    await n.drain()
    assert room.bodies == ["Pre-flight PASS", "Backup PASS", "Deploy+Smoke PASS", "Canary PASS"]
    assert [r["text"] for r in rec.records] == room.bodies

"""Comms over real transports: an aiosmtpd SMTP server and a loopback HTTP receiver for the webhook-style
channels (generic JSON, form, and Mattermost's Slack-compatible incoming webhook)."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from golive import exceptions
from golive.notify import Notifier, context
from golive.redact import Redactor
from golive.spec import models
from golive.testing import FakeClock

from .conftest import LoopbackHTTPServer, Reply, Request

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
FROM = "golive@example.org"
TO = "war-room@example.org"
MM_TOKEN = "k3jd83hfm2n4b5v6c7x8z9a0q1"  # the Mattermost hook id: a credential in the URL

SEED_TEMPLATES = {
    "run_started": "Cutover initiated. Maintenance window active. Updates every {{ update_every }}.",
    "decision_go": "GO decision made. System live. Hypercare started.",
    "rollback_triggered": "Rollback triggered. Reason: {{ reason }}. Restoration in progress.",
}
SEED_MESSAGES = [
    "Cutover initiated. Maintenance window active. Updates every 15m.",
    "Pre-flight PASS",
    "Backup PASS",
    "Deploy+Smoke PASS",
    "Canary PASS",
    "GO decision made. System live. Hypercare started.",
    "Rollback triggered. Reason: Payout failure rate 21% > 15%. Restoration in progress.",
]


class Mailbox:
    """An SMTP handler keeping every message."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"

    def messages(self) -> list[email.message.EmailMessage]:
        out = []
        for env in self.envelopes:
            raw = env.content if isinstance(env.content, bytes) else str(env.content).encode()
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            assert isinstance(msg, email.message.EmailMessage)
            out.append(msg)
        return out


@pytest.fixture
async def smtp_server() -> AsyncIterator[tuple[Mailbox, int]]:
    """aiosmtpd on a free loopback port, in the test's event loop (Apprise's SMTP client runs in a thread)."""
    box = Mailbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(box, hostname="golive-test"), "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    try:
        yield box, port
    finally:
        server.close()
        await server.wait_closed()


def _phase(pid: str, title: str, pass_text: str, fail_text: str) -> dict[str, Any]:
    return {
        "id": pid,
        "title": title,
        "announce": {"pass": pass_text, "fail": fail_text},
        "steps": [{"id": f"{pid}-confirm", "kind": "manual", "role": "ic"}],
    }


def payments_runbook(channels: list[dict[str, Any]]) -> models.Runbook:
    """The payments seed's communication plan (independent of examples/)."""
    return models.Runbook.model_validate(
        {
            "golive": 1,
            "name": "payments-go-live",
            "title": "Payments go-live",
            "environment": "production",
            "roles": {"ic": {"may": ["decide"]}},
            "phases": [
                _phase("preflight", "Pre-flight", "Pre-flight PASS", "Pre-flight FAIL"),
                _phase("backup", "Backup", "Backup PASS", "Backup FAIL"),
                _phase("deploy", "Deploy + migration + smoke", "Deploy+Smoke PASS", "Deploy+Smoke FAIL"),
                _phase("canary", "Canary Money Loop", "Canary PASS", "Canary FAIL"),
            ],
            "comms": {"channels": channels, "templates": SEED_TEMPLATES},
        }
    )


class Recorder:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    async def __call__(self, payload: dict[str, Any]) -> None:
        self.records.append(payload)


def _notifier(runbook: models.Runbook, redact: Any = None) -> tuple[Notifier, Recorder]:
    rec = Recorder()
    base = context.for_run(runbook, run_id="run-1")
    # FakeClock: the backoff between attempts advances the fake clock instead of sleeping. min_interval=0:
    # no pacing between two sends to one channel, which real chat services need and a test does not.
    n = Notifier(
        runbook.comms, redact or (lambda s: s), FakeClock(T0), rec, base=base, t0=T0, timeout=10.0, min_interval=0.0
    )
    return n, rec


async def _send_seed_sequence(n: Notifier, runbook: models.Runbook) -> None:
    await n.notify("run_started")
    for phase in runbook.phases:
        await n.announce_phase(phase, "pass")
    await n.notify("decision_go")
    await n.notify("rollback_triggered", {"reason": "Payout failure rate 21% > 15%"})


async def test_seed_checkpoints_arrive_exactly_by_email_and_webhooks(
    smtp_server: tuple[Mailbox, int], http_server: LoopbackHTTPServer
) -> None:
    """Every checkpoint message of the payments seed reaches a real SMTP server, a JSON webhook and a
    Slack-style (Mattermost) webhook with exactly the seed's words."""
    box, smtp_port = smtp_server
    http_server.route("/hooks/golive", status=200, body="ok")
    http_server.route(f"/hooks/{MM_TOKEN}", status=200, body="ok")
    rb = payments_runbook(
        [
            {"id": "email", "url": f"mailto://127.0.0.1:{smtp_port}?from={FROM}&to={TO}"},
            {"id": "webhook", "url": f"json://127.0.0.1:{http_server.port}/hooks/golive"},
            {"id": "chat", "url": f"mmost://127.0.0.1:{http_server.port}/{MM_TOKEN}"},
        ]
    )
    n, rec = _notifier(rb)
    await _send_seed_sequence(n, rb)

    mails = box.messages()
    assert [m.get_content().rstrip("\r\n") for m in mails] == SEED_MESSAGES
    assert {m["Subject"] for m in mails} == {"Payments go-live (production)"}
    assert {m["To"] for m in mails} == {TO}

    hooks = [r.json() for r in http_server.requests if r.path == "/hooks/golive"]
    assert [h["message"] for h in hooks] == SEED_MESSAGES
    assert {h["title"] for h in hooks} == {"Payments go-live (production)"}

    chat = [r.json()["text"] for r in http_server.requests if r.path == f"/hooks/{MM_TOKEN}"]
    assert chat == [f"Payments go-live (production)\r\n{m}" for m in SEED_MESSAGES]

    assert len(rec.records) == 3 * len(SEED_MESSAGES)
    assert all(r["ok"] and r["attempts"] == 1 for r in rec.records)
    assert [r["text"] for r in rec.records if r["channel"] == "email"] == SEED_MESSAGES


async def test_failed_checkpoints_arrive_by_email(smtp_server: tuple[Mailbox, int]) -> None:
    """'Deploy+Smoke FAIL' and 'Canary FAIL' reach the mailbox exactly."""
    box, port = smtp_server
    rb = payments_runbook([{"id": "email", "url": f"mailto://127.0.0.1:{port}?from={FROM}&to={TO}"}])
    n, _ = _notifier(rb)
    await n.announce_phase(rb.phases[2], "fail", {"reason": "smoke: status 503"})
    await n.announce_phase(rb.phases[3], "fail")
    assert [m.get_content().rstrip("\r\n") for m in box.messages()] == ["Deploy+Smoke FAIL", "Canary FAIL"]


async def test_form_webhook_receives_title_and_message(http_server: LoopbackHTTPServer) -> None:
    """A form:// channel posts the title and the exact message as form fields."""
    http_server.route("/form", status=200, body="ok")
    rb = payments_runbook([{"id": "form", "url": f"form://127.0.0.1:{http_server.port}/form"}])
    n, _ = _notifier(rb)
    await n.notify("decision_go")
    [req] = http_server.requests
    fields = parse_qs(req.body.decode())
    assert fields["message"] == ["GO decision made. System live. Hypercare started."]
    assert fields["title"] == ["Payments go-live (production)"]


async def test_webhook_failing_twice_is_retried_and_recorded(http_server: LoopbackHTTPServer) -> None:
    """A receiver answering 500, 500, then 200: the message arrives, recorded with attempts=3."""
    answers = iter([500, 500, 200])

    def flaky(_req: Request) -> Reply:
        return Reply(status=next(answers), body=b"x")

    http_server.handle("/hooks/golive", flaky)
    rb = payments_runbook([{"id": "webhook", "url": f"json://127.0.0.1:{http_server.port}/hooks/golive"}])
    n, rec = _notifier(rb)
    [d] = await n.notify("decision_go")
    assert (d.ok, d.attempts) == (True, 3)
    assert len(http_server.requests) == 3
    assert [r.json()["message"] for r in http_server.requests] == [
        "GO decision made. System live. Hypercare started."
    ] * 3
    assert (rec.records[0]["ok"], rec.records[0]["attempts"], rec.records[0]["error"]) == (True, 3, None)


async def test_webhook_always_failing_records_the_http_reason(http_server: LoopbackHTTPServer) -> None:
    """A receiver answering 503 every time: ok=False, 3 attempts, the error names the 503, no exception."""
    http_server.route("/hooks/golive", status=503, body="down")
    rb = payments_runbook([{"id": "webhook", "url": f"json://127.0.0.1:{http_server.port}/hooks/golive"}])
    n, rec = _notifier(rb)
    [d] = await n.notify("phase_passed", {"phase_title": "Backup"})
    assert (d.ok, d.attempts) == (False, 3)
    assert "503" in (rec.records[0]["error"] or "")


async def test_receivers_that_are_down_are_recorded_and_do_not_stop_the_run(closed_port: int) -> None:
    """A webhook and an SMTP server that refuse connections: both recorded ok=False, nothing raised."""
    rb = payments_runbook(
        [
            {"id": "webhook", "url": f"json://127.0.0.1:{closed_port}/hooks/golive"},
            {"id": "email", "url": f"mailto://127.0.0.1:{closed_port}?from={FROM}&to={TO}"},
        ]
    )
    n, rec = _notifier(rb)
    out = await n.notify("decision_go")
    assert [(d.channel, d.ok, d.attempts) for d in out] == [("webhook", False, 3), ("email", False, 3)]
    assert [r["ok"] for r in rec.records] == [False, False]
    assert "Connection error" in (rec.records[0]["error"] or "")
    assert rec.records[1]["error"]


async def test_required_channel_down_raises_after_recording(closed_port: int) -> None:
    """A required channel that is down raises DeliveryFailed, and the failure is recorded first."""
    rb = payments_runbook([{"id": "pager", "url": f"json://127.0.0.1:{closed_port}/p", "required": True}])
    n, rec = _notifier(rb)
    with pytest.raises(exceptions.DeliveryFailed, match="pager"):
        await n.notify("rollback_triggered", {"reason": "ledger invariant breach"})
    assert rec.records[0]["ok"] is False
    assert rec.records[0]["required"] is True


async def test_messages_arrive_redacted(smtp_server: tuple[Mailbox, int], http_server: LoopbackHTTPServer) -> None:
    """A reason with an e-mail address and a registered secret arrives redacted at the mailbox and the
    webhook, and is recorded redacted."""
    box, smtp_port = smtp_server
    http_server.route("/hooks/golive", status=200, body="ok")
    secret = "psp-live-9f8e7d6c5b4a"
    redactor = Redactor()
    redactor.add_secret(secret)
    rb = payments_runbook(
        [
            {"id": "email", "url": f"mailto://127.0.0.1:{smtp_port}?from={FROM}&to={TO}"},
            {"id": "webhook", "url": f"json://127.0.0.1:{http_server.port}/hooks/golive"},
        ]
    )
    n, rec = _notifier(rb, redact=redactor.redact)
    await n.notify("rollback_triggered", {"reason": f"payout to jane.doe@customer.com rejected with key {secret}"})
    delivered = [box.messages()[0].get_content().rstrip("\r\n"), http_server.requests[0].json()["message"]]
    for text in [*delivered, *(r["text"] for r in rec.records)]:
        assert "jane.doe@customer.com" not in text
        assert secret not in text
        assert "<email:1>" in text
    assert delivered[0] == delivered[1]


async def test_log_channel_appends_to_its_file(tmp_path: Path) -> None:
    """log://<path> appends one line per message, with the time, the channel and the text."""
    path = tmp_path / "comms" / "war-room.log"
    rb = payments_runbook([{"id": "scribe", "url": f"log://{path}"}])
    n, rec = _notifier(rb)
    await n.notify("phase_passed", {"phase_title": "Pre-flight"})
    await n.notify("decision_go")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines == [
        "2026-03-01T10:00:00.000000Z [scribe] Payments go-live (production): Pre-flight PASS",
        "2026-03-01T10:00:00.000000Z [scribe] Payments go-live (production): GO decision made. System live. Hypercare started.",
    ]
    assert [r["ok"] for r in rec.records] == [True, True]


def test_bad_channel_url_is_a_usage_error_that_hides_the_url() -> None:
    """An URL Apprise does not understand stops the run before it starts, without echoing the URL."""
    rb = payments_runbook([{"id": "chat", "url": "slakc://T0AAAAAAA/B0BBBBBBB/s3cr3tTok3nXYZ"}])
    with pytest.raises(exceptions.UsageError, match=r"comms.channels\[chat\].url") as err:
        _notifier(rb)
    assert "s3cr3tTok3nXYZ" not in err.value.message


def test_channel_url_credentials_are_listed_for_the_redactor() -> None:
    """The tokens and passwords inside channel URLs are offered to the run's redactor."""
    rb = payments_runbook(
        [
            {"id": "chat", "url": f"mmost://127.0.0.1:8065/{MM_TOKEN}"},
            {"id": "email", "url": f"mailto://bot:Pa55w0rd-x@127.0.0.1:2525?from={FROM}&to={TO}"},
        ]
    )
    n, _ = _notifier(rb)
    assert {MM_TOKEN, "Pa55w0rd-x"} <= set(n.secrets())
    assert "127.0.0.1" not in n.secrets()

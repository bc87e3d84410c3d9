"""Routed comms through the real engine and real transports: a channel's ``events`` filter and minimum
severity, a trigger that pages the one channel it names, and rehearsals that never reach a live channel.

Channels: ``releases`` (e-mail through aiosmtpd) and ``hooks`` (a JSON webhook on a loopback receiver) take
only the run's start, the decision and the rollback; ``dba-pager`` (a webhook) takes critical messages and
what a trigger sends to it by name; ``war-room`` (a log file) takes everything routed.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from golive.engine import acts
from golive.engine.state import RunStatus
from golive.spec import loader
from golive.store import sqlite
from golive.testing import FakeClock, start_engine

from .conftest import LoopbackHTTPServer

FROM = "golive@example.org"
TO = "releases@example.org"
ROLES = {"ic": "alice"}
RELEASE_EVENTS = ["run_started", "decision_no_go", "rollback_triggered"]


class Mailbox:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"

    def bodies(self) -> list[str]:
        out = []
        for env in self.envelopes:
            raw = env.content if isinstance(env.content, bytes) else str(env.content).encode()
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            assert isinstance(msg, email.message.EmailMessage)
            out.append(str(msg.get_content()).rstrip("\r\n"))
        return out


@pytest.fixture
async def smtp_server() -> AsyncIterator[tuple[Mailbox, int]]:
    box = Mailbox()
    server = await asyncio.get_running_loop().create_server(lambda: SMTP(box, hostname="golive-test"), "127.0.0.1", 0)
    try:
        yield box, int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


def runbook_text(smtp_port: int, http_port: int, war_room: Path, *, rehearsal: bool = False) -> str:
    hook = f"json://127.0.0.1:{http_port}/hooks"
    releases_rehearsal = f"\n      rehearsal: '{hook}/rehearsal'" if rehearsal else ""
    hooks_rehearsal = "\n      rehearsal: log" if rehearsal else ""
    return f"""\
golive: 1
name: routed-comms
title: Routed comms
roles: {{ic: {{may: [decide]}}}}
phases:
  - id: preflight
    title: Pre-flight
    steps:
      - {{id: ok, kind: check, type: command, with: {{run: ["true"]}}}}
      - {{id: watch, kind: observe, duration: 3s, needs: [ok]}}
  - id: decision
    steps:
      - {{id: go, kind: decision, role: ic, requires: [preflight], on_no_go: rollback}}
triggers:
  - id: reverse-replication
    title: Reverse replication broken
    source: {{type: fake, with: {{name: replication}}}}
    when: value > 0
    interval: 1s
    then: notify
    severity: warning
    channels: [dba-pager]
rollback:
  steps:
    - {{id: revert, kind: action, type: command, with: {{run: ["true"]}}}}
comms:
  cadence: []
  channels:
    - id: releases
      url: "mailto://127.0.0.1:{smtp_port}?from={FROM}&to={TO}"
      events: [run_started, decision_recorded, rollback_started]{releases_rehearsal}
    - id: hooks
      url: "{hook}/releases"
      events: [run_started, decision_recorded, rollback_started]{hooks_rehearsal}
    - {{id: dba-pager, url: "{hook}/dba", min_severity: critical}}
    - {{id: war-room, url: "log://{war_room}"}}
"""


@pytest.fixture(autouse=True)
def replication_broken(fake_metrics: Any) -> None:
    """The reverse-replication reading breaches from the start of the watch."""
    fake_metrics["replication"].set(3)


async def drive(tmp_path: Path, text: str, mode: str) -> list[dict[str, Any]]:
    """Run the runbook to a NO-GO and its rollback; return the run's comms records."""
    store = sqlite.SqliteStore(tmp_path / "db" / "golive.db")
    await store.open()
    try:
        loaded = loader.load_text(text, str(tmp_path / "runbook.yaml"), environ={})
        run = await start_engine(store, loaded, roles=ROLES, clock=FakeClock(), mode=mode)
        await run.waiting("go")
        await acts.decide(await run.view(), "no-go", "alice", "replication is broken")
        assert await run.finished() is RunStatus.ROLLED_BACK
        return list((await run.view()).state.comms)
    finally:
        await store.close()


def bodies(http: LoopbackHTTPServer, path: str) -> list[str]:
    return [str(r.json()["message"]) for r in http.requests if r.path == path]


async def test_a_channel_with_events_receives_exactly_those(
    tmp_path: Path, smtp_server: tuple[Mailbox, int], http_server: LoopbackHTTPServer
) -> None:
    """`events: [run_started, decision_recorded, rollback_started]` on an e-mail channel and on a webhook:
    each receives the start, the NO-GO and the rollback, and nothing else of the run's messages."""
    box, smtp_port = smtp_server
    for path in ("/hooks/releases", "/hooks/dba"):
        http_server.route(path, status=200, body="ok")
    war_room = tmp_path / "war-room.log"
    comms = await drive(tmp_path, runbook_text(smtp_port, http_server.port, war_room), "live")

    by_channel: dict[str, list[str]] = {}
    for rec in comms:
        by_channel.setdefault(rec["channel"], []).append(rec["event"])
    assert by_channel["releases"] == RELEASE_EVENTS
    assert by_channel["hooks"] == RELEASE_EVENTS
    mails = box.bodies()
    assert len(mails) == 3
    assert mails[0].startswith("Cutover initiated")
    assert mails[1].startswith("NO-GO decision made")
    assert mails[2].startswith("Rollback triggered")
    assert bodies(http_server, "/hooks/releases") == mails
    # The unfiltered channel heard the rest of the run (the checkpoint, the pending decision, the end).
    assert {"phase_passed", "decision_pending", "rollback_complete"} <= set(by_channel["war-room"])
    assert all(r["ok"] for r in comms), [r for r in comms if not r["ok"]]


async def test_a_trigger_naming_a_channel_reaches_only_that_channel(
    tmp_path: Path, smtp_server: tuple[Mailbox, int], http_server: LoopbackHTTPServer
) -> None:
    """The replication trigger (`channels: [dba-pager]`) pages the DBA channel and no other; the pager's
    `min_severity: critical` lets the rollback through and keeps the rest of the run out."""
    _, smtp_port = smtp_server
    for path in ("/hooks/releases", "/hooks/dba"):
        http_server.route(path, status=200, body="ok")
    war_room = tmp_path / "war-room.log"
    comms = await drive(tmp_path, runbook_text(smtp_port, http_server.port, war_room), "live")

    fired = [r for r in comms if r["event"] == "trigger_fired"]
    assert [r["channel"] for r in fired] == ["dba-pager"]
    assert "Reverse replication broken" in fired[0]["text"]
    dba = bodies(http_server, "/hooks/dba")
    assert len(dba) == 2
    assert "Reverse replication broken" in dba[0]
    assert dba[1].startswith("Rollback triggered")
    assert "Reverse replication broken" not in war_room.read_text()


async def test_a_rehearsal_reaches_no_live_channel_that_has_a_rehearsal_destination(
    tmp_path: Path, smtp_server: tuple[Mailbox, int], http_server: LoopbackHTTPServer
) -> None:
    """In a rehearsal, the e-mail channel's messages go to its rehearsal webhook and the live webhook's to
    golive's log; the live mailbox and webhook receive nothing, and every message starts with the marker."""
    box, smtp_port = smtp_server
    for path in ("/hooks/releases", "/hooks/dba", "/hooks/rehearsal"):
        http_server.route(path, status=200, body="ok")
    war_room = tmp_path / "war-room.log"
    text = runbook_text(smtp_port, http_server.port, war_room, rehearsal=True)
    comms = await drive(tmp_path, text, "rehearsal")

    assert box.bodies() == []
    assert bodies(http_server, "/hooks/releases") == []
    rehearsed = bodies(http_server, "/hooks/rehearsal")
    assert len(rehearsed) == 3
    assert all(b.startswith("[REHEARSAL] ") for b in rehearsed)
    assert all(r["text"].startswith("[REHEARSAL] ") and r["title"].startswith("[REHEARSAL] ") for r in comms)
    assert {r["channel"] for r in comms if r.get("rehearsal")} == {"releases", "hooks"}
    # A channel without a rehearsal destination still hears the rehearsal, marked as such.
    lines = [ln for ln in war_room.read_text().splitlines() if not ln.startswith("    ")]
    assert lines
    assert all("[REHEARSAL]" in ln for ln in lines)
    assert all(b.startswith("[REHEARSAL] ") for b in bodies(http_server, "/hooks/dba"))

"""`golive comms RUN` against a real SQLite store: what a run sent and which status update is due next."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from golive.cli import main
from golive.engine import runner
from golive.notify import Notifier, context
from golive.redact import Redactor
from golive.spec import loader
from golive.store import open_store
from golive.testing import FakeClock

RUNBOOK = """\
golive: 1
name: payments-mini
title: Payments go-live
environment: production
roles:
  ic: {may: [decide]}
phases:
  - id: preflight
    title: Pre-flight
    announce: {pass: "Pre-flight PASS", fail: "Pre-flight FAIL"}
    steps:
      - {id: env, kind: manual, role: ic}
comms:
  channels:
    - {id: scribe, url: "log://%(log)s"}
    - {id: pager, url: "json://127.0.0.1:%(port)d/hook"}
  templates:
    run_started: "Cutover initiated. Maintenance window active. Updates every {{ update_every }}."
"""
STARTED_AGO = timedelta(minutes=40)


def _make_run(tmp_path: Path, closed_port: int) -> tuple[str, datetime]:
    """A run that started 40 minutes ago and sent three messages, one of which failed."""
    db = tmp_path / "golive.db"
    rb = tmp_path / "rb.yaml"
    rb.write_text(RUNBOOK % {"log": tmp_path / "comms.log", "port": closed_port}, encoding="utf-8")
    started = datetime.now(UTC) - STARTED_AGO
    clock = FakeClock(started)

    async def go() -> None:
        async with open_store(str(db), clock=clock) as store:
            h = await runner.create_run(store, loader.load(rb), run_id="run-comms-1", roles={"ic": "alice"})

            async def record(payload: dict[str, Any]) -> None:
                await h.append("comms_sent", **payload)

            n = Notifier(
                h.runbook.comms,
                Redactor().redact,
                clock,
                record,
                base=context.for_run(h.runbook, run_id=h.run_id),
                min_interval=0.0,
            )
            await n.notify("run_started", channels=["scribe"])
            await n.announce_phase(h.runbook.phases[0], "pass", channels=["scribe"])
            await n.notify("phase_started", {"phase_title": "Backup"}, channels=["pager"])

    asyncio.run(go())
    return str(db), started


def test_comms_json_lists_sent_messages_and_the_update_due(
    tmp_path: Path, closed_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json: the three deliveries in order with their results, and the cutover update #2 (30m) due now
    standing in for the missed #1, then #3 at 45m on the schedule."""
    db, started = _make_run(tmp_path, closed_port)
    main(["comms", "run-comms-1", "--json", "--db", db])
    data = json.loads(capsys.readouterr().out)
    assert [(r["event"], r["channel"], r["ok"], r["text"]) for r in data["sent"]] == [
        ("run_started", "scribe", True, "Cutover initiated. Maintenance window active. Updates every 15m."),
        ("phase_passed", "scribe", True, "Pre-flight PASS"),
        ("phase_started", "pager", False, "Backup started."),
    ]
    assert data["sent"][2]["attempts"] == 3
    assert data["failed"] == 1
    [due] = data["due_now"]
    assert (due["tier"], due["slot"], due["missed"]) == ("cutover", 2, 1)
    assert data["next"] == due
    assert datetime.fromisoformat(data["upcoming"][0]["due_at"].replace("Z", "+00:00")) == started + timedelta(
        minutes=45
    )


def test_comms_table_shows_failures_and_what_is_due(
    tmp_path: Path, closed_port: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table names each message, marks the failed delivery and says which update is due."""
    monkeypatch.setenv("COLUMNS", "200")
    db, _ = _make_run(tmp_path, closed_port)
    main(["comms", "run-comms-1", "--db", db])
    out = capsys.readouterr().out
    assert "Pre-flight PASS" in out
    assert "FAILED (3 attempts)" in out
    assert "Due now: cutover update #2" in out


def test_comms_of_unknown_run_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], closed_port: int) -> None:
    """An unknown run id exits 2 with a one-line message, no traceback."""
    db, _ = _make_run(tmp_path, closed_port)
    with pytest.raises(SystemExit) as exc:
        main(["comms", "no-such-run", "--db", db])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "no run 'no-such-run'" in err
    assert "Traceback" not in err


def test_comms_where_there_is_no_store_is_exit_2_and_creates_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A --db path with no store behind it is named, exit 2, and no empty store is left there."""
    with pytest.raises(SystemExit) as exc:
        main(["comms", "no-such-run", "--db", str(tmp_path / "empty.db")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "no golive store at" in err
    assert "Traceback" not in err
    assert not (tmp_path / "empty.db").exists()

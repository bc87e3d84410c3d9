"""The start gate of a live run: windows and freezes (RRULEs, a shared .ics file, public holidays), judged before
anything runs, with one refusal format; a block waived by a named role with a ticket lets the run proceed
(FakeClock, real SQLite)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from golive.engine import acts, gate, runner
from golive.engine.state import RunStatus
from golive.spec import loader
from golive.store import sqlite
from golive.testing import FakeClock

WAIT_LIMIT = 30.0  # seconds (real) a run may take before the test fails

RUNBOOK = """\
golive: 1
name: gated
comms: {cadence: []}
roles:
  ic: {title: Incident Commander, may: [decide, rollback, waive]}
  cab: {title: Change Advisory Board}
window:
  not_before: "2026-12-01T00:00:00Z"
  not_after: "2027-01-31T00:00:00Z"
freeze:
  - id: friday-afternoons
    title: No changes on Friday afternoons
    start: "2026-01-02T12:00:00Z"
    end: "2026-01-03T00:00:00Z"
    rrule: FREQ=WEEKLY;BYDAY=FR
  - id: holidays-de
    holidays: {country: DE}
    timezone: Europe/Berlin
    waivable_by: [cab]
  - id: shared
    ics: freezes.ics
phases:
  - id: switch
    steps:
      - {id: flip, kind: action, type: command, with: {run: "true"}}
"""

ICS = """\
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//acme//change calendar//EN
BEGIN:VEVENT
UID:peak-1@acme
DTSTAMP:20260101T000000Z
DTSTART;VALUE=DATE:20261127
DTEND;VALUE=DATE:20261201
SUMMARY:Black Friday peak
END:VEVENT
END:VCALENDAR
"""

TUESDAY = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)  # outside every freeze, inside the window
FRIDAY_AFTERNOON = datetime(2026, 12, 11, 14, 0, tzinfo=UTC)
CHRISTMAS = datetime(2026, 12, 25, 10, 0, tzinfo=UTC)  # a public holiday in Germany


def write(tmp_path: Path, text: str = RUNBOOK) -> loader.LoadedRunbook:
    (tmp_path / "freezes.ics").write_text(ICS)
    path = tmp_path / "gated.yaml"
    path.write_text(text)
    return loader.load(path, environ={})


async def start(
    tmp_path: Path, at: datetime, *, roles: dict[str, str] | None = None, waivers: list[gate.GateWaiver] | None = None
) -> acts.RunHandle:
    clock = FakeClock(at)
    store = sqlite.SqliteStore(tmp_path / f"{at:%m%d%H}-{len(waivers or [])}.db", clock)
    await store.open()
    try:
        h = await runner.create_run(
            store, write(tmp_path), clock=clock, roles=roles or {"ic": "alice"}, gate_waivers=waivers or []
        )
        await asyncio.wait_for(runner.Engine(h, clock=clock, poll=1.0).run(), WAIT_LIMIT)
        return await acts.open_run(store, h.run_id)
    finally:
        await store.close()


def blocks(h: acts.RunHandle) -> list[tuple[str, str]]:
    assert h.state.gate is not None
    return [(b["gate"], b["until"]) for b in h.state.gate["blocks"]]


async def test_a_live_run_outside_every_freeze_and_inside_its_window_starts(tmp_path: Path) -> None:
    h = await start(tmp_path, TUESDAY)
    assert h.state.status is RunStatus.PASSED
    assert h.state.gate is not None
    assert (h.state.gate["outcome"], h.state.gate["blocks"]) == ("open", [])


async def test_a_live_run_inside_a_weekly_rrule_freeze_is_refused_until_it_ends(tmp_path: Path) -> None:
    h = await start(tmp_path, FRIDAY_AFTERNOON)
    assert h.state.status is RunStatus.FAILED
    assert blocks(h) == [("friday-afternoons", "2026-12-12T00:00:00.000000Z")]
    assert h.state.step("flip").outcome is not None
    assert h.state.step("flip").outcome.value == "not-run"
    assert h.state.reason.startswith("refused at the start gate: freeze friday-afternoons")
    assert h.state.gate is not None
    assert h.state.gate["next_allowed"] == "2026-12-12T00:00:00.000000Z"
    lines = gate.format_refusal(h.run_id, h.state.gate["blocks"], h.state.gate["next_allowed_text"])
    assert lines[1] == (
        "  freeze friday-afternoons (No changes on Friday afternoons): in force since 2026-12-11 12:00 UTC (2h ago); "
        "blocks until 2026-12-12 00:00 UTC (in 10h)"
    )
    assert "--waive friday-afternoons --as NAME --ticket TICKET --reason TEXT" in lines[2]
    assert "a holder of ic" in lines[2]


async def test_a_live_run_on_a_public_holiday_is_refused_through_the_next_holiday(tmp_path: Path) -> None:
    """Christmas Day and Boxing Day in Germany (Europe/Berlin days) are one block: refused until 26 Dec 23:00Z."""
    h = await start(tmp_path, CHRISTMAS)
    assert h.state.status is RunStatus.FAILED
    assert blocks(h) == [("holidays-de", "2026-12-26T23:00:00.000000Z")]
    assert h.state.gate is not None
    (b,) = h.state.gate["blocks"]
    assert b["waivable_by"] == ["cab"]
    assert "Christmas" in b["what"]


async def test_a_shared_ics_freeze_refuses_and_the_window_refuses_before_it_opens(tmp_path: Path) -> None:
    h = await start(tmp_path, datetime(2026, 11, 28, 9, 0, tzinfo=UTC))
    assert {g for g, _ in blocks(h)} == {"window", "shared"}
    assert h.state.gate is not None
    assert h.state.gate["next_allowed"] == "2026-12-01T00:00:00.000000Z"


async def test_a_waived_freeze_proceeds_and_the_waiver_is_attributed(tmp_path: Path) -> None:
    waiver = gate.GateWaiver(gate="holidays-de", by="carol", ticket="CAB-77", reason="regulator deadline")
    h = await start(tmp_path, CHRISTMAS, roles={"ic": "alice", "cab": "carol"}, waivers=[waiver])
    assert h.state.status is RunStatus.PASSED
    (w,) = h.state.gate_waived
    assert (w["gate"], w["by"], w["role"], w["ticket"]) == ("holidays-de", "carol", "cab", "CAB-77")


async def test_a_waiver_by_someone_without_a_waiving_role_does_not_count(tmp_path: Path) -> None:
    """alice is the IC, but only the CAB may waive the holiday freeze: the run is refused and says why."""
    waiver = gate.GateWaiver(gate="holidays-de", by="alice", ticket="CAB-77", reason="we are in a hurry")
    h = await start(tmp_path, CHRISTMAS, waivers=[waiver])
    assert h.state.status is RunStatus.FAILED
    assert h.state.gate_waived == []
    assert h.state.gate is not None
    assert "the waiver by alice does not count: alice holds ic in this run, not cab" in h.state.gate["blocks"][0]["why"]


async def test_a_rehearsal_has_no_start_gate(tmp_path: Path) -> None:
    clock = FakeClock(CHRISTMAS)
    store = sqlite.SqliteStore(tmp_path / "rehearsal.db", clock)
    await store.open()
    try:
        h = await runner.create_run(store, write(tmp_path), clock=clock, mode="rehearsal")
        assert await asyncio.wait_for(runner.Engine(h, clock=clock, poll=1.0).run(), WAIT_LIMIT) is RunStatus.PASSED
        assert h.state.gate is None
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("rrule: FREQ=WEEKLY;BYDAY=FR", "rrule: FREQ=WEEKLI", "bad RRULE 'FREQ=WEEKLI': Expected frequency"),
        (
            "timezone: Europe/Berlin",
            "timezone: Europe/Berln",
            "unknown timezone 'Europe/Berln' (did you mean 'Europe/Berlin'?)",
        ),
        ("holidays: {country: DE}", "holidays: {country: XX}", "unknown country 'XX'"),
        ("ics: freezes.ics", "ics: missing.ics", "cannot read the freeze calendar"),
    ],
)
def test_a_bad_freeze_names_file_line_and_field(tmp_path: Path, field: str, value: str, message: str) -> None:
    from golive import exceptions

    text = RUNBOOK.replace(field, value)
    line = text.splitlines().index(next(ln for ln in text.splitlines() if value in ln)) + 1
    with pytest.raises(exceptions.RunbookInvalid) as err:
        write(tmp_path, text)
    (problem,) = err.value.problems
    assert problem.file.endswith("gated.yaml")
    assert problem.line == line
    assert problem.path.startswith("freeze[")
    assert message in problem.message


def test_plan_shows_the_next_allowed_start_after_every_freeze_and_inside_the_window(tmp_path: Path) -> None:
    """golive plan's schedule: on Christmas Day (a Friday) the German holidays and the Friday freeze chain up
    to the end of Boxing Day in Berlin; before the window opens, the window's start."""
    loaded = write(tmp_path)
    sched = gate.schedule(loaded.runbook, loaded.path, CHRISTMAS)
    assert sched is not None
    assert sched["next_allowed"] == "2026-12-26T23:00:00.000000Z"
    assert {b["gate"] for b in sched["blocks_now"]} == {"holidays-de"}
    early = gate.schedule(loaded.runbook, loaded.path, datetime(2026, 11, 20, tzinfo=UTC))
    assert early is not None
    assert early["next_allowed"] == "2026-12-01T00:00:00.000000Z"
    late = gate.schedule(loaded.runbook, loaded.path, datetime(2027, 2, 1, tzinfo=UTC))
    assert late is not None
    assert late["next_allowed"] is None
    assert late["next_allowed_text"] == "none within the window (or the coming year)"
    free = gate.schedule(loaded.runbook, loaded.path, TUESDAY)
    assert free is not None
    assert (free["next_allowed_text"], free["blocks_now"]) == ("now", [])


BROKEN_EVENTS = {
    "a bad RRULE": "DTSTART:20261201T000000Z\nDTEND:20261203T000000Z\nRRULE:FREQ=BOGUS\n",
    "no DTSTART": "SUMMARY:peak\n",
    "a bad DTSTART": "DTSTART:2026XX01T000000Z\nDTEND:20261203T000000Z\n",
}


def broken_ics(event: str) -> str:
    return f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//acme//x//EN\nBEGIN:VEVENT\nUID:b@acme\n{event}END:VEVENT\nEND:VCALENDAR\n"


@pytest.mark.parametrize("event", list(BROKEN_EVENTS.values()), ids=list(BROKEN_EVENTS))
def test_a_shared_ics_whose_events_do_not_read_is_refused_at_load(tmp_path: Path, event: str) -> None:
    from golive import exceptions

    (tmp_path / "gated.yaml").write_text(RUNBOOK)
    (tmp_path / "freezes.ics").write_text(broken_ics(event))
    with pytest.raises(exceptions.RunbookInvalid) as err:
        loader.load(tmp_path / "gated.yaml", environ={})
    (problem,) = err.value.problems
    assert problem.path == "freeze[2].ics"
    assert "freezes.ics" in problem.message


@pytest.mark.parametrize("event", list(BROKEN_EVENTS.values()), ids=list(BROKEN_EVENTS))
async def test_a_freeze_calendar_broken_after_load_refuses_the_start(tmp_path: Path, event: str) -> None:
    """The shared .ics is rewritten between validation and the start: the gate fails closed with a block for
    that freeze (one refusal format), never a traceback and never a start."""
    loaded = write(tmp_path)
    (tmp_path / "freezes.ics").write_text(broken_ics(event) + "\n")
    clock = FakeClock(TUESDAY)
    store = sqlite.SqliteStore(tmp_path / "broken.db", clock)
    await store.open()
    try:
        h = await runner.create_run(store, loaded, clock=clock, roles={"ic": "alice"})
        assert await asyncio.wait_for(runner.Engine(h, clock=clock, poll=1.0).run(), WAIT_LIMIT) is RunStatus.FAILED
        h = await acts.open_run(store, h.run_id)
    finally:
        await store.close()
    assert [g for g, _ in blocks(h)] == ["shared"]
    assert h.state.step("flip").outcome is not None
    assert h.state.step("flip").outcome.value == "not-run"
    assert h.state.gate is not None
    assert h.state.gate["next_allowed"] is None
    (b,) = h.state.gate["blocks"]
    assert "calendar cannot be read" in b["why"]


async def test_a_gate_waivers_ticket_and_reason_with_personal_data_are_redacted_in_the_log(tmp_path: Path) -> None:
    waiver = gate.GateWaiver(
        gate="holidays-de", by="carol", ticket="CAB-77 (jane.doe@example.com)", reason="asked by +44 20 7946 0958"
    )
    clock = FakeClock(CHRISTMAS)
    store = sqlite.SqliteStore(tmp_path / "pii.db", clock)
    await store.open()
    try:
        h = await runner.create_run(
            store, write(tmp_path), clock=clock, roles={"ic": "alice", "cab": "carol"}, gate_waivers=[waiver]
        )
        assert await asyncio.wait_for(runner.Engine(h, clock=clock, poll=1.0).run(), WAIT_LIMIT) is RunStatus.PASSED
        logged = repr([(e.type, e.data) for e in await store.events(h.run_id)])
    finally:
        await store.close()
    assert "CAB-77" in logged
    assert "jane.doe@example.com" not in logged
    assert "7946 0958" not in logged


def test_a_freeze_longer_than_the_horizon_blocks_with_no_end_and_no_next_start(tmp_path: Path) -> None:
    """A freeze "until further notice" (ending past the year golive looks ahead) is in force with no end in view;
    the gate and golive plan say so (it once raised from the calendar library)."""
    text = RUNBOOK.replace(
        'end: "2026-01-03T00:00:00Z"\n    rrule: FREQ=WEEKLY;BYDAY=FR', 'end: "2099-01-01T00:00:00Z"'
    )
    loaded = write(tmp_path, text)
    sched = gate.schedule(loaded.runbook, loaded.path, TUESDAY)
    assert sched is not None
    (b,) = [b for b in sched["blocks_now"] if b["gate"] == "friday-afternoons"]
    assert (b["until"], b["until_text"]) == (None, "with no end within a year")
    assert sched["next_allowed"] is None


CHANGE_GATED = """\
golive: 1
name: change-gated
roles: {ic: {may: [decide, waive]}}
secrets:
  sn_password: {provider: env, id: SN_PASSWORD}
phases:
  - id: go
    steps:
      - {id: flip, kind: action, type: command, with: {run: "touch MARKER"}}
  - id: close
    steps:
      - id: change_approved
        kind: check
        type: change-record
        with:
          system: servicenow
          url: "http://127.0.0.1:9"
          record: CHG0030001
          username: golive
          password: "${{ secrets.sn_password }}"
          check_window: false
          timeout: 2s
"""


async def test_a_crash_between_a_failed_change_record_and_the_refusal_never_opens_the_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The change record cannot be read (ERROR, recorded as its step's result) and the engine dies before the
    refusal is recorded: the engine that takes the run next judges the gate again and refuses, never counting the
    recorded failure as a pass, and the action (in a phase before the change record's) never runs."""
    monkeypatch.setenv("SN_PASSWORD", "pw-123")
    marker = tmp_path / "MARKER"
    (tmp_path / "cg.yaml").write_text(CHANGE_GATED.replace("touch MARKER", f"touch {marker}"))
    loaded = loader.load(tmp_path / "cg.yaml", environ={"SN_PASSWORD": "pw-123"})
    clock = FakeClock(TUESDAY)
    store = sqlite.SqliteStore(tmp_path / "cg.db", clock)
    await store.open()

    class Died(Exception):
        pass

    try:
        h = await runner.create_run(store, loaded, clock=clock, roles={"ic": "alice"})
        first = runner.Engine(h, clock=clock, poll=1.0)
        emit = first.emit

        async def dies_at_the_refusal(type_: str, **kw: object) -> None:
            if type_ == "start_gate":
                raise Died
            await emit(type_, **kw)  # type: ignore[arg-type]

        first.emit = dies_at_the_refusal  # type: ignore[method-assign]
        with pytest.raises(Died):
            await asyncio.wait_for(first.run(), WAIT_LIMIT)
        await first.aclose()
        h = await acts.open_run(store, h.run_id)
        status = await asyncio.wait_for(runner.Engine(h, clock=clock, poll=1.0).run(), WAIT_LIMIT)
        h = await acts.open_run(store, h.run_id)
    finally:
        await store.close()
    assert not marker.exists()
    assert status is RunStatus.FAILED
    assert h.state.gate is not None
    assert h.state.gate["outcome"] == "refused"
    assert [b["gate"] for b in h.state.gate["blocks"]] == ["change_approved"]

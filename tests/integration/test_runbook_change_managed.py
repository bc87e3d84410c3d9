"""examples/change-managed-cutover.yaml run by the engine against loopback ServiceNow, Statuspage and
PagerDuty APIs checked against their API descriptions (FakeClock; the trigger's Prometheus source is swapped
for a `fake` source the test scripts).

- a live run is refused while the change request is unapproved, and runs once it is approved;
- the Statuspage incident is created at cutover start and resolved at completion;
- the database trigger pages through PagerDuty when it fires and the page is resolved with the same dedup
  key when it clears;
- the change request is closed with the outcome, the decision and the evidence pack's digest;
- a failing database rolls back by trigger: the IC moves orders back, the incident is resolved as rolled back;
- no credential reaches the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from golive.engine import acts, runner
from golive.engine.state import RunStatus
from golive.evidence import closeout, runpack
from golive.results import Outcome
from golive.spec import loader
from golive.store import sqlite
from golive.testing import AutoActors, FakeClock, FakeMetricSource, start_engine

from .test_plugin_change import SN_PASSWORD, SN_USER, ServiceNow, basic
from .test_plugin_statuspage_pagerduty import DB, PD_KEY, SP_KEY, PagerDuty, Statuspage
from .vendor_api import VendorApi, load

GOLIVE = str(Path(sys.executable).with_name("golive"))
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "change-managed-cutover.yaml"
START = datetime(2026, 12, 4, 22, 5, tzinfo=UTC)
WAIT_LIMIT = 60.0  # seconds a run may take before the test fails


@dataclass
class Vendors:
    sn_api: VendorApi
    sn: ServiceNow
    sp_api: VendorApi
    sp: Statuspage
    pd_api: VendorApi
    pd: PagerDuty

    def apis(self) -> list[VendorApi]:
        return [self.sn_api, self.sp_api, self.pd_api]


@pytest.fixture
async def vendors(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Vendors]:
    sn, sp, pd = ServiceNow(), Statuspage(), PagerDuty()
    sn_api = VendorApi(
        load("servicenow-table.yaml"),
        {"listChangeRequests": sn.list, "getChangeRequest": sn.get, "updateChangeRequest": sn.patch},
        credentials={"basicAuth": {basic(SN_USER, SN_PASSWORD)}},
    )
    sp_api = VendorApi(
        load("statuspage.yaml"),
        {
            "postPagesPageIdIncidents": sp.create,
            "getPagesPageIdIncidentsIncidentId": sp.get,
            "patchPagesPageIdIncidentsIncidentId": sp.update,
        },
        credentials={"api_key": {f"OAuth {SP_KEY}"}},
    )
    pd_api = VendorApi(load("pagerduty-events.yaml"), {"sendAlertEvent": pd.enqueue})
    for api in (sn_api, sp_api, pd_api):
        await api.start()
    monkeypatch.setenv("SERVICENOW_PASSWORD", SN_PASSWORD)
    monkeypatch.setenv("STATUSPAGE_API_KEY", SP_KEY)
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", PD_KEY)
    try:
        yield Vendors(sn_api, sn, sp_api, sp, pd_api, pd)
    finally:
        for api in (sn_api, sp_api, pd_api):
            await api.close()


def example(tmp_path: Path, v: Vendors) -> loader.LoadedRunbook:
    """The example with its Prometheus source swapped for the `fake` source named after the trigger."""
    doc = yaml.safe_load(EXAMPLE.read_text())
    for trig in doc["triggers"]:
        trig["source"] = {"type": "fake", "with": {"name": trig["id"]}}
    path = tmp_path / "change-managed-cutover.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return loader.load(
        path,
        var_overrides={
            "servicenow_url": v.sn_api.url(),
            "statuspage_url": v.sp_api.url(),
            "pagerduty_url": v.pd_api.url(),
        },
        environ={},
    )


async def run(store: sqlite.SqliteStore, loaded: loader.LoadedRunbook) -> acts.RunHandle:
    h = await runner.create_run(store, loaded, roles={"ic": "Ana Ruiz"})
    await asyncio.wait_for(runner.Engine(h, clock=FakeClock(START), poll=1.0).run(), WAIT_LIMIT)
    return await acts.open_run(store, h.run_id)


async def test_live_run_refused_until_approved_then_statuspage_and_pager_follow_the_cutover(
    vendors: Vendors, store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    v = vendors
    # The error rate breaches twice (fires: page), then is back under 2% (clears: page resolved).
    fake_metrics["db_errors"].__init__([0.001, 0.031, 0.028, 0.004])
    assert isinstance(fake_metrics["db_errors"], FakeMetricSource)
    loaded = example(tmp_path, v)

    refused = await run(store, loaded)
    assert refused.state.status is RunStatus.FAILED
    assert refused.state.reason.startswith("refused at the start gate: change CHG0030001: is not approved")
    assert refused.state.gate is not None
    assert refused.state.gate["outcome"] == "refused"
    (block,) = refused.state.gate["blocks"]
    assert (block["gate"], block["kind"]) == ("change_approved", "change")
    assert block["until_text"] == "until the change record is approved and inside its window"
    assert block["waivable_by"] == ["ic"]
    assert all(refused.state.phases[p] == "not-run" for p in refused.state.phases)
    gate = refused.state.step("change_approved")
    assert gate.outcome is Outcome.FAIL
    assert gate.summary == "refused: change CHG0030001 is not approved (approval: requested, state: Assess (-4))"
    assert not v.sp.incidents, "nothing may change while the change is unapproved"
    assert not v.pd.events

    v.sn.approve()
    h = await run(store, loaded)
    assert h.state.status is RunStatus.PASSED, {s.id: s.summary for s in h.state.steps.values()}
    assert h.state.step("change_approved").outcome is Outcome.PASS
    assert h.state.gate is not None
    assert (h.state.gate["outcome"], h.state.gate["blocks"]) == ("open", [])

    # Statuspage: created at the start (component under maintenance), resolved at completion (operational).
    (incident,) = v.sp.incidents.values()
    assert incident["status"] == "resolved"
    assert v.sp.components[DB] == "operational"
    assert h.state.step("open_incident").output["components"] == {DB: "under_maintenance"}
    assert h.state.step("resolve_incident").output["incident_id"] == incident["id"]
    assert [u["status"] for u in reversed(incident["incident_updates"])] == ["investigating", "resolved"]

    # PagerDuty: one trigger when the trigger fired, one resolve with the same dedup key when it cleared.
    key = f"golive/{h.run_id}/trigger/db_errors"
    assert [(e["event_action"], e["dedup_key"]) for e in v.pd.events] == [("trigger", key), ("resolve", key)]
    assert v.pd.alerts == {key: "resolved"}
    assert v.pd.events[0]["payload"]["severity"] == "error"  # golive's `high`
    pages = [c for c in h.state.comms if str(c.get("channel")).startswith("pager:")]
    assert [(c["event"], c["ok"]) for c in pages] == [("page_trigger", True), ("page_resolve", True)]
    events = await store.events(h.run_id)
    db_errors = [e for e in events if e.type.startswith("trigger_") and e.data.get("trigger_id") == "db_errors"]
    fired_at = next(e.seq for e in db_errors if e.type == "trigger_fired")
    cleared_at = next(
        e.seq for e in db_errors if e.type == "trigger_evaluated" and e.data.get("state") == "ok" and e.seq > fired_at
    )
    resolve_at = next(e.seq for e in events if e.type == "comms_sent" and e.data.get("event") == "page_resolve")
    assert fired_at < resolve_at
    # The page is resolved right after the clearing reading (only the other trigger's reading may come between).
    between = [e for e in events if cleared_at < e.seq < resolve_at]
    assert all(e.type == "trigger_evaluated" and e.data.get("trigger_id") == "db_failing" for e in between), between
    assert h.state.rollback is None  # db_failing (over 10% for 2 minutes) never fired

    # Afterwards: `golive close-change` closes the change with the outcome, the decision and the pack's digest.
    pack = tmp_path / "pack.zip"
    await runpack.pack_run(store, h.run_id, pack)
    digest = hashlib.sha256(pack.read_bytes()).hexdigest()
    closed = await closeout.close_change(store, h.run_id, pack, clock=FakeClock(START + timedelta(minutes=20)))
    assert closed.outcome is Outcome.PASS, closed.summary
    assert closed.summary.startswith("closed change CHG0030001 (Closed (3))")
    assert v.sn.record["state"] == "3"
    assert v.sn.record["close_code"] == "successful"
    notes = v.sn.record["close_notes"].splitlines()
    assert notes[0] == "golive: outcome PASSED"
    assert notes[1] == "Decision: no GO/NO-GO decision step: the outcome follows from the steps"
    assert notes[2] == f"Evidence pack sha256: {digest}"

    for api in v.apis():
        assert not api.rejected, api.rejected
    for path in (tmp_path / "db").iterdir():
        data = path.read_bytes()
        for secret in (SN_PASSWORD, SP_KEY, PD_KEY):
            assert secret.encode() not in data, f"{secret} is in {path.name}"


async def test_a_page_left_open_is_resolved_when_the_run_ends(
    vendors: Vendors, store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """A trigger still firing when the window ends: its page is resolved with the same key at run end."""
    v = vendors
    v.sn.approve()
    fake_metrics["db_errors"].set(0.05)
    h = await run(store, example(tmp_path, v))
    assert h.state.status is RunStatus.PASSED  # a notify trigger informs; it does not fail the window
    key = f"golive/{h.run_id}/trigger/db_errors"
    assert [(e["event_action"], e["dedup_key"]) for e in v.pd.events] == [("trigger", key), ("resolve", key)]
    events = await store.events(h.run_id)
    finished = next(e.seq for e in events if e.type == "run_finished")
    resolved = next(e.seq for e in events if e.type == "comms_sent" and e.data.get("event") == "page_resolve")
    assert resolved > finished


async def test_a_pager_failure_is_recorded_and_does_not_stop_the_run(
    vendors: Vendors, store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """PagerDuty answering 500: the failed page is recorded (comms_sent ok=false, no key in it); the run goes on."""
    v = vendors
    v.sn.approve()
    v.pd_api.fault_status = 500
    fake_metrics["db_errors"].set(0.05)
    h = await run(store, example(tmp_path, v))
    pages = [c for c in h.state.comms if str(c.get("channel")).startswith("pager:")]
    assert pages
    assert not pages[0]["ok"]
    assert "status 500" in pages[0]["error"]
    assert PD_KEY not in repr(pages)
    assert h.state.status is RunStatus.PASSED


async def test_a_refused_change_can_be_waived_by_the_ic_with_a_ticket_and_the_run_resumed(
    vendors: Vendors, store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """The refusal is waivable: the IC (who holds `waive`) waives it with a ticket and a reason, and the
    resumed run goes on; the waiver names who, why and the ticket."""
    v = vendors
    refused = await run(store, example(tmp_path, v))
    assert refused.state.step("change_approved").outcome is Outcome.FAIL
    await acts.waive(refused, "change_approved", "Ana Ruiz", "INC-4711", "emergency change approved by the CAB chair")
    h = await acts.open_run(store, refused.run_id)
    await asyncio.wait_for(runner.Engine(h, clock=FakeClock(START), poll=1.0).run(), WAIT_LIMIT)
    h = await acts.open_run(store, refused.run_id)
    assert h.state.status is RunStatus.PASSED, {s.id: s.summary for s in h.state.steps.values()}
    gate = h.state.step("change_approved")
    assert gate.outcome is Outcome.WAIVED
    assert gate.waiver is not None
    assert gate.waiver["ticket"] == "INC-4711"
    assert len(v.sp.incidents) == 1


async def test_a_rehearsal_pages_no_one(
    vendors: Vendors, store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """A rehearsal of the same cutover, the trigger firing: no PagerDuty event is sent (pagers page live runs)."""
    v = vendors
    v.sn.approve()
    fake_metrics["db_errors"].set(0.05)
    h = await runner.create_run(store, example(tmp_path, v), mode="rehearsal", roles={"ic": "Ana Ruiz"})
    await asyncio.wait_for(runner.Engine(h, clock=FakeClock(START), poll=1.0).run(), WAIT_LIMIT)
    events = await store.events(h.run_id)
    assert any(e.type == "trigger_fired" for e in events)
    assert not v.pd.events


CHANGE_ONLY = """
golive: 1
name: change-only
roles: {ic: {may: [decide, waive]}}
vars:
  servicenow_url: {default: "https://acme.service-now.com"}
secrets:
  servicenow_password: {provider: env, id: SERVICENOW_PASSWORD}
phases:
  - id: preflight
    steps:
      - id: change_approved
        kind: check
        type: change-record
        with:
          system: servicenow
          url: "${{ vars.servicenow_url }}"
          record: CHG0030001
          username: golive.integration
          password: "${{ secrets.servicenow_password }}"
          check_window: false
"""


async def test_golive_close_change_closes_the_record_of_a_finished_run(
    vendors: Vendors, store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    """`golive close-change RUN --pack PACK`: the record closed with the run's outcome and the pack's digest;
    a pack of another run is refused (exit 2); the password is in no output."""
    v = vendors
    v.sn.approve()
    path = tmp_path / "change-only.yaml"
    path.write_text(CHANGE_ONLY)
    loaded = loader.load(path, var_overrides={"servicenow_url": v.sn_api.url()}, environ={})
    first, second = await run(store, loaded), await run(store, loaded)
    assert first.state.status is RunStatus.PASSED
    pack, other = tmp_path / "pack.zip", tmp_path / "other.zip"
    await runpack.pack_run(store, first.run_id, pack)
    await runpack.pack_run(store, second.run_id, other)

    async def cli(*args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            GOLIVE, "close-change", *args, "--db", str(tmp_path / "db" / "golive.db"),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "SERVICENOW_PASSWORD": SN_PASSWORD},
        )  # fmt: skip
        out, _ = await asyncio.wait_for(proc.communicate(), WAIT_LIMIT)
        assert proc.returncode is not None
        return proc.returncode, out.decode()

    code, out = await cli(first.run_id, "--pack", str(other))
    assert code == 2, out
    assert f"is the pack of run {second.run_id}, not of {first.run_id}" in out
    assert v.sn.record["state"] == "-2"
    code, out = await cli(first.run_id, "--pack", str(pack))
    assert code == 0, out
    assert out.startswith("pass: closed change CHG0030001 (Closed (3))")
    assert v.sn.record["state"] == "3"
    assert (
        v.sn.record["close_notes"].splitlines()[2]
        == f"Evidence pack sha256: {hashlib.sha256(pack.read_bytes()).hexdigest()}"
    )
    assert SN_PASSWORD not in out


async def test_a_failing_database_rolls_back_and_the_incident_is_resolved_as_rolled_back(
    vendors: Vendors, store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any
) -> None:
    """The error rate at 15% through the watch: `db_errors` pages, `db_failing` (over 10% for 2 minutes) rolls
    back by itself; once the IC confirms the orders service is back on the old database, the same Statuspage
    incident is resolved with the rollback's message and the component operational, and both pages resolve."""
    v = vendors
    v.sn.approve()
    fake_metrics["db_errors"].set(0.15)
    fake_metrics["db_failing"].set(0.15)
    clock = FakeClock(START)
    r = await start_engine(store, example(tmp_path, v), roles={"ic": "Ana Ruiz"}, clock=clock, poll=1.0)
    ic = AutoActors(store, r.run_id, clock=clock, every=30.0)
    people = asyncio.create_task(ic.run())
    try:
        assert await r.finished(WAIT_LIMIT) is RunStatus.ROLLED_BACK
    finally:
        people.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await people
    h = await r.view()
    assert (h.state.rollback or {}).get("by") == "trigger:db_failing"
    assert h.state.step("observe_db").outcome is Outcome.FAIL
    assert h.state.step("resolve_incident").outcome is Outcome.NOT_RUN  # completion never ran
    assert (h.state.step("back_to_old_db").outcome, h.state.step("back_to_old_db").actor) == (Outcome.PASS, "Ana Ruiz")
    assert h.state.step("incident_rolled_back").outcome is Outcome.PASS
    (incident,) = v.sp.incidents.values()
    assert incident["status"] == "resolved"
    assert incident["incident_updates"][0]["body"].startswith("The orders database move was rolled back")
    assert v.sp.components[DB] == "operational"
    triggered = {e["dedup_key"] for e in v.pd.events if e["event_action"] == "trigger"}
    assert triggered == {f"golive/{r.run_id}/trigger/db_errors", f"golive/{r.run_id}/trigger/db_failing"}
    assert set(v.pd.alerts.values()) == {"resolved"}  # every page resolved by the end of the run
    for api in v.apis():
        assert not api.rejected, api.rejected

"""statuspage and pagerduty actions against loopback Statuspage and PagerDuty Events v2 servers that check every
request against the vendors' API descriptions (tests/integration/vendor_apis/)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from golive.plugins.actions.pagerduty import PagerDutyAction, PagerDutyParams
from golive.plugins.actions.statuspage import StatuspageAction, StatuspageParams
from golive.results import Outcome
from golive.testing import make_ctx

from .vendor_api import Call, VendorApi, load

SP_KEY = "b4f0c1e2-statuspage-key-7781"
PAGE = "kctbh9vrtdwd"
DB = "8kbf7d35c070"
API = "5j6ph6tmgxq4"
PD_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"  # 32 characters, as PagerDuty's integration keys


class Statuspage:
    def __init__(self) -> None:
        self.incidents: dict[str, dict[str, Any]] = {}
        self.components = {DB: "operational", API: "operational"}

    def _apply(self, inc: dict[str, Any], fields: dict[str, Any]) -> None:
        for k in ("name", "status", "impact_override", "scheduled_for", "scheduled_until"):
            if k in fields:
                inc[k] = fields[k]
        if "body" in fields:
            inc["incident_updates"].insert(0, {"status": inc["status"], "body": fields["body"]})
        for cid, status in (fields.get("components") or {}).items():
            self.components[cid] = status
            if cid not in inc["component_ids"]:
                inc["component_ids"].append(cid)

    def _view(self, inc: dict[str, Any]) -> dict[str, Any]:
        comps = [{"id": c, "status": self.components[c]} for c in inc["component_ids"]]
        return {**{k: v for k, v in inc.items() if k != "component_ids"}, "components": comps}

    def create(self, call: Call) -> tuple[int, Any]:
        if call.params["page_id"] != PAGE:
            return 404, {"error": "Could not find page"}
        fields = call.json()["incident"]
        if any(c not in self.components for c in fields.get("components") or {}):
            return 422, {"error": "Component not found"}
        iid = f"inc{len(self.incidents) + 1:09d}"
        inc = {"id": iid, "page_id": PAGE, "status": "investigating", "incident_updates": [], "component_ids": [],
               "shortlink": f"https://stspg.io/{iid}"}  # fmt: skip
        self._apply(inc, fields)
        self.incidents[iid] = inc
        return 201, self._view(inc)

    def get(self, call: Call) -> tuple[int, Any]:
        inc = self.incidents.get(call.params["incident_id"])
        return (200, self._view(inc)) if inc else (404, {"error": "Could not find incident"})

    def update(self, call: Call) -> tuple[int, Any]:
        inc = self.incidents.get(call.params["incident_id"])
        if inc is None:
            return 404, {"error": "Could not find incident"}
        self._apply(inc, call.json()["incident"])
        return 200, self._view(inc)


class PagerDuty:
    def __init__(self) -> None:
        self.alerts: dict[str, str] = {}  # dedup key -> triggered | acknowledged | resolved
        self.events: list[dict[str, Any]] = []

    def enqueue(self, call: Call) -> tuple[int, Any]:
        event = call.json()
        if event["routing_key"] != PD_KEY:
            return 400, {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": ["Invalid routing key"],
            }
        self.events.append(event)
        key = event.get("dedup_key") or f"auto-{len(self.events)}"
        action = event["event_action"]
        if action != "trigger" and key not in self.alerts:
            return 202, {"status": "success", "message": "Event processed", "dedup_key": key}  # PagerDuty drops it
        self.alerts[key] = {"trigger": "triggered", "acknowledge": "acknowledged", "resolve": "resolved"}[action]
        return 202, {"status": "success", "message": "Event processed", "dedup_key": key}


@pytest.fixture
async def statuspage() -> AsyncIterator[tuple[VendorApi, Statuspage]]:
    sp = Statuspage()
    api = VendorApi(
        load("statuspage.yaml"),
        {
            "postPagesPageIdIncidents": sp.create,
            "getPagesPageIdIncidentsIncidentId": sp.get,
            "patchPagesPageIdIncidentsIncidentId": sp.update,
        },
        credentials={"api_key": {f"OAuth {SP_KEY}"}},
        unauthorized=(401, {"error": "Could not authenticate"}),
    )
    await api.start()
    try:
        yield api, sp
    finally:
        await api.close()


@pytest.fixture
async def pagerduty() -> AsyncIterator[tuple[VendorApi, PagerDuty]]:
    pd = PagerDuty()
    api = VendorApi(load("pagerduty-events.yaml"), {"sendAlertEvent": pd.enqueue})
    await api.start()
    try:
        yield api, pd
    finally:
        await api.close()


def sp(api: VendorApi, **kw: Any) -> StatuspageParams:
    return StatuspageParams.model_validate({"page_id": PAGE, "url": api.url(), "api_key": SP_KEY, **kw})


def dumped(result: Any) -> str:
    return json.dumps(result.model_dump(mode="json"), default=str)


async def test_statuspage_incident_created_updated_and_resolved_with_components(
    statuspage: tuple[VendorApi, Statuspage],
) -> None:
    """create (investigating, DB under maintenance) -> update (monitoring) -> resolve (DB operational), each read back."""
    api, state = statuspage
    ctx_kw = {"secrets": {"sp": SP_KEY}}
    created = await StatuspageAction().run(
        make_ctx(
            sp(
                api,
                op="create_incident",
                name="Orders database cutover",
                body="Starting.",
                components={DB: "under_maintenance"},
                impact="maintenance",
            ),
            **ctx_kw,
        )
    )
    assert created.outcome is Outcome.PASS, created.summary
    iid = created.output["incident_id"]
    assert created.output["components"] == {DB: "under_maintenance"}
    updated = await StatuspageAction().run(
        make_ctx(sp(api, op="update_incident", incident_id=iid, status="monitoring", body="Watching."), **ctx_kw)
    )
    assert updated.outcome is Outcome.PASS, updated.summary
    resolved = await StatuspageAction().run(
        make_ctx(
            sp(api, op="resolve_incident", incident_id=iid, body="Done.", components={DB: "operational"}), **ctx_kw
        )
    )
    assert resolved.outcome is Outcome.PASS, resolved.summary
    assert state.incidents[iid]["status"] == "resolved"
    assert state.components[DB] == "operational"
    (post,) = api.calls("postPagesPageIdIncidents")
    assert post.headers["authorization"] == f"OAuth {SP_KEY}"
    assert post.json()["incident"]["components"] == {DB: "under_maintenance"}
    assert post.json()["incident"]["component_ids"] == [DB]
    assert [c.json()["incident"].get("status") for c in api.calls("patchPagesPageIdIncidentsIncidentId")] == [
        "monitoring",
        "resolved",
    ]
    assert not api.rejected, api.rejected
    for result in (created, updated, resolved):
        assert SP_KEY not in dumped(result)


async def test_statuspage_scheduled_maintenance_lifecycle(statuspage: tuple[VendorApi, Statuspage]) -> None:
    """schedule (with window) -> start (in_progress) -> complete (completed)."""
    api, state = statuspage
    scheduled = await StatuspageAction().run(
        make_ctx(
            sp(
                api,
                op="schedule_maintenance",
                name="Orders DB maintenance",
                scheduled_for="2026-12-04T22:00:00Z",
                scheduled_until="2026-12-04T23:30:00Z",
                components={DB: "under_maintenance"},
            )
        )
    )
    assert scheduled.outcome is Outcome.PASS, scheduled.summary
    iid = scheduled.output["incident_id"]
    body = api.calls("postPagesPageIdIncidents")[0].json()["incident"]
    assert body["status"] == "scheduled"
    assert body["scheduled_for"] == "2026-12-04T22:00:00Z"
    for op, status in (("start_maintenance", "in_progress"), ("complete_maintenance", "completed")):
        result = await StatuspageAction().run(make_ctx(sp(api, op=op, incident_id=iid)))
        assert result.outcome is Outcome.PASS, result.summary
        assert state.incidents[iid]["status"] == status
    assert not api.rejected, api.rejected
    with pytest.raises(ValueError, match="needs `scheduled_for` and `scheduled_until`"):
        sp(api, op="schedule_maintenance", name="x")
    with pytest.raises(ValueError, match="needs the `incident_id`"):
        sp(api, op="resolve_incident")


@pytest.mark.parametrize("fault", ["401", "500", "503", "timeout"])
async def test_statuspage_failures_fail_closed(statuspage: tuple[VendorApi, Statuspage], fault: str) -> None:
    """A refused key, a 5xx or a timeout is an ERROR; the key is never in the result."""
    api, _ = statuspage
    kw: dict[str, Any] = {"timeout": "300ms"}
    if fault == "401":
        kw["api_key"] = "wrong-key-5"
    elif fault == "timeout":
        api.delay = 1.0
    else:
        api.fault_status = int(fault)
    result = await StatuspageAction().run(make_ctx(sp(api, op="create_incident", name="Cutover", **kw)))
    assert result.outcome is Outcome.ERROR
    assert ("timed out" in result.summary) if fault == "timeout" else (f"status {fault}" in result.summary)
    assert SP_KEY not in dumped(result)


async def test_statuspage_fake_rejects_malformed_incidents(statuspage: tuple[VendorApi, Statuspage]) -> None:
    """An unknown status, a component status Statuspage does not have, a body without `incident`, and a
    request without the OAuth key are refused."""
    api, _ = statuspage
    url = api.url(f"/v1/pages/{PAGE}/incidents")
    auth = {"Authorization": f"OAuth {SP_KEY}", "Content-Type": "application/json"}
    bad = [
        {"incident": {"name": "x", "status": "fixed"}},
        {"incident": {"name": "x", "components": {DB: "down"}}},
        {"name": "x"},
    ]
    async with aiohttp.ClientSession() as session:
        for body in bad:
            async with session.post(url, data=json.dumps(body), headers=auth) as resp:
                assert resp.status == 400
        async with session.post(url, data=json.dumps({"incident": {"name": "x"}})) as resp:
            assert resp.status == 401
    assert len(api.rejected) == 4
    assert not api.calls("postPagesPageIdIncidents")


async def test_pagerduty_trigger_acknowledge_resolve_share_one_dedup_key(
    pagerduty: tuple[VendorApi, PagerDuty],
) -> None:
    """Three steps with the same `key` in one run send one dedup key; the alert ends resolved."""
    api, pd = pagerduty

    def params(action: str, **kw: Any) -> PagerDutyParams:
        return PagerDutyParams.model_validate({"event_action": action, "url": api.url(), "routing_key": PD_KEY, **kw})

    ctx_kw = {"run_id": "run-7f3a", "secrets": {"pd": PD_KEY}}
    trig = await PagerDutyAction().run(
        make_ctx(
            params("trigger", key="db", summary="Orders DB error rate over 2%", custom_details={"rate": 0.031}),
            **ctx_kw,
        )
    )
    assert trig.outcome is Outcome.PASS, trig.summary
    assert pd.alerts == {"golive/run-7f3a/db": "triggered"}
    ack = await PagerDutyAction().run(make_ctx(params("acknowledge", key="db"), **ctx_kw))
    res = await PagerDutyAction().run(make_ctx(params("resolve", key="db"), **ctx_kw))
    assert ack.outcome is Outcome.PASS
    assert res.outcome is Outcome.PASS
    assert pd.alerts == {"golive/run-7f3a/db": "resolved"}
    assert [e["event_action"] for e in pd.events] == ["trigger", "acknowledge", "resolve"]
    assert {e["dedup_key"] for e in pd.events} == {"golive/run-7f3a/db"}
    assert pd.events[0]["payload"] == {
        "summary": "Orders DB error rate over 2%",
        "source": "golive",
        "severity": "critical",
        "custom_details": {"rate": 0.031},
    }
    assert not api.rejected, api.rejected
    for result in (trig, ack, res):
        assert PD_KEY not in dumped(result)


@pytest.mark.parametrize("fault", ["400", "500", "timeout"])
async def test_pagerduty_failures_fail_closed(pagerduty: tuple[VendorApi, PagerDuty], fault: str) -> None:
    """A refused routing key (400 invalid event), a 5xx or a timeout is an ERROR; the key is never shown."""
    api, _ = pagerduty
    key = PD_KEY
    if fault == "400":
        key = "X" * 32
    elif fault == "timeout":
        api.delay = 1.0
    else:
        api.fault_status = int(fault)
    p = PagerDutyParams.model_validate(
        {"event_action": "trigger", "summary": "s", "url": api.url(), "routing_key": key, "timeout": "300ms"}
    )
    result = await PagerDutyAction().run(make_ctx(p))
    assert result.outcome is Outcome.ERROR
    assert ("timed out" in result.summary) if fault == "timeout" else (f"status {fault}" in result.summary)
    assert key not in dumped(result)


async def test_pagerduty_fake_rejects_malformed_events(pagerduty: tuple[VendorApi, PagerDuty]) -> None:
    """A trigger without payload, a resolve without dedup_key, an unknown severity and a short routing key are refused."""
    api, _ = pagerduty
    bad = [
        {"routing_key": PD_KEY, "event_action": "trigger"},
        {"routing_key": PD_KEY, "event_action": "resolve"},
        {
            "routing_key": PD_KEY,
            "event_action": "trigger",
            "payload": {"summary": "s", "source": "g", "severity": "high"},
        },
        {"routing_key": "short", "event_action": "resolve", "dedup_key": "k"},
    ]
    async with aiohttp.ClientSession() as session:
        for body in bad:
            async with session.post(api.url("/v2/enqueue"), json=body) as resp:
                assert resp.status == 400
    assert len(api.rejected) == 4

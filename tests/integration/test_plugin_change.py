"""change-record check and change-close action against loopback ServiceNow (Table API) and Jira (REST v3)
servers that check every request against the vendors' API descriptions (tests/integration/vendor_apis/)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from golive.plugins.actions.change import ChangeCloseAction, ChangeCloseParams
from golive.plugins.checks.change import ChangeRecordCheck, ChangeRecordParams
from golive.results import Outcome
from golive.testing import FakeClock, make_ctx

from .vendor_api import Call, VendorApi, load

SN_USER, SN_PASSWORD = "golive.integration", "sn-pass-4c1d9e7f"
JIRA_EMAIL, JIRA_TOKEN = "release@example.com", "ATATT3xFfGF0-jira-token-88"
SYS_ID = "c83c5e5347c12200e0ef563dbb9a7190"
DIGEST = "9f2c4ab1" * 8
NOW = datetime(2026, 12, 4, 22, 30, tzinfo=UTC)


def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


class ServiceNow:
    def __init__(self) -> None:
        self.record: dict[str, Any] = {
            "sys_id": SYS_ID,
            "number": "CHG0030001",
            "state": "-4",
            "approval": "requested",
            "start_date": "2026-12-04 22:00:00",
            "end_date": "2026-12-04 23:30:00",
            "short_description": "Orders database cutover",
        }

    def approve(self) -> None:
        self.record.update(approval="approved", state="-2")

    def _fields(self, call: Call) -> dict[str, Any]:
        wanted = call.query.get("sysparm_fields")
        return {k: v for k, v in self.record.items() if not wanted or k in wanted.split(",")}

    def list(self, call: Call) -> tuple[int, Any]:
        # An encoded query: terms joined by ^OR match when any of them does (as ServiceNow reads it).
        match = f"number={self.record['number']}" in call.query["sysparm_query"].split("^OR")
        return 200, {"result": [self._fields(call)] if match else []}

    def get(self, call: Call) -> tuple[int, Any]:
        if call.params["sys_id"] != SYS_ID:
            return 404, {"error": {"message": "No Record found"}, "status": "failure"}
        return 200, {"result": self._fields(call)}

    def patch(self, call: Call) -> tuple[int, Any]:
        if call.params["sys_id"] != SYS_ID:
            return 404, {"error": {"message": "No Record found"}, "status": "failure"}
        self.record.update(call.json())
        return 200, {"result": self._fields(call)}


class Jira:
    def __init__(self) -> None:
        self.status = "Awaiting approval"
        self.stuck = False  # a workflow post-function that leaves the status as it was
        self.comments: list[Any] = []
        self.fields = {
            "customfield_10050": "2026-12-04T22:00:00.000+0000",
            "customfield_10051": "2026-12-04T23:30:00.000+0000",
        }

    def get(self, call: Call) -> tuple[int, Any]:
        if call.params["issueIdOrKey"] != "OPS-42":
            return 404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."]}
        wanted = call.query.get("fields", "").split(",")
        fields = {"status": {"name": self.status}, "summary": "Orders database cutover", **self.fields}
        return 200, {"key": "OPS-42", "fields": {k: v for k, v in fields.items() if k in wanted}}

    def comment(self, call: Call) -> tuple[int, Any]:
        self.comments.append(call.json()["body"])
        return 201, {"id": str(len(self.comments))}

    def transitions(self, call: Call) -> tuple[int, Any]:
        return 200, {
            "transitions": [
                {"id": "31", "name": "Done", "to": {"name": "Done"}},
                {"id": "41", "name": "Cancel", "to": {"name": "Canceled"}},
            ]
        }

    def transition(self, call: Call) -> tuple[int, Any]:
        names = {"31": "Done", "41": "Canceled"}
        tid = call.json()["transition"]["id"]
        if tid not in names:
            return 400, {"errorMessages": ["Transition id is not valid"]}
        if not self.stuck:
            self.status = names[tid]
        return 204, None


@pytest.fixture
async def servicenow() -> AsyncIterator[tuple[VendorApi, ServiceNow]]:
    sn = ServiceNow()
    api = VendorApi(
        load("servicenow-table.yaml"),
        {"listChangeRequests": sn.list, "getChangeRequest": sn.get, "updateChangeRequest": sn.patch},
        credentials={"basicAuth": {basic(SN_USER, SN_PASSWORD)}},
        unauthorized=(401, {"error": {"message": "User Not Authenticated"}, "status": "failure"}),
    )
    await api.start()
    try:
        yield api, sn
    finally:
        await api.close()


@pytest.fixture
async def jira() -> AsyncIterator[tuple[VendorApi, Jira]]:
    j = Jira()
    api = VendorApi(
        load("jira-issues.yaml"),
        {"getIssue": j.get, "addComment": j.comment, "getTransitions": j.transitions, "doTransition": j.transition},
        credentials={"basicAuth": {basic(JIRA_EMAIL, JIRA_TOKEN)}},
    )
    await api.start()
    try:
        yield api, j
    finally:
        await api.close()


def sn_params(api: VendorApi, **kw: Any) -> dict[str, Any]:
    return {
        "system": "servicenow",
        "url": api.url(),
        "record": "CHG0030001",
        "username": SN_USER,
        "password": SN_PASSWORD,
        **kw,
    }


def jira_params(api: VendorApi, **kw: Any) -> dict[str, Any]:
    return {
        "system": "jira",
        "url": api.url(),
        "record": "OPS-42",
        "username": JIRA_EMAIL,
        "password": JIRA_TOKEN,
        **kw,
    }


def at(now: datetime, params: Any) -> Any:
    return make_ctx(params, clock=FakeClock(now), secrets={"sn": SN_PASSWORD, "jira": JIRA_TOKEN})


def dumped(result: Any) -> str:
    return json.dumps(result.model_dump(mode="json"), default=str)


async def test_servicenow_change_unapproved_is_refused_then_passes_once_approved(
    servicenow: tuple[VendorApi, ServiceNow],
) -> None:
    """Requested -> FAIL 'refused: ... not approved'; approved and scheduled, inside the window -> PASS."""
    api, sn = servicenow
    params = ChangeRecordParams.model_validate(sn_params(api))
    refused = await ChangeRecordCheck().run(at(NOW, params))
    assert refused.outcome is Outcome.FAIL
    assert refused.summary == "refused: change CHG0030001 is not approved (approval: requested, state: Assess (-4))"
    sn.approve()
    ok = await ChangeRecordCheck().run(at(NOW, params))
    assert ok.outcome is Outcome.PASS, ok.summary
    assert ok.summary == "change CHG0030001 is approved (Scheduled (-2)), window 22:00–23:30 UTC (1h left)"
    call = api.calls("listChangeRequests")[0]
    assert call.query["sysparm_query"] == "number=CHG0030001"
    assert call.query["sysparm_display_value"] == "false"
    assert call.headers["authorization"] == f"Basic {basic(SN_USER, SN_PASSWORD)}"
    assert not api.rejected, api.rejected
    for result in (refused, ok):
        assert SN_PASSWORD not in dumped(result)


async def test_servicenow_change_outside_its_window_is_refused(servicenow: tuple[VendorApi, ServiceNow]) -> None:
    """Approved but before the window opens, or after it closed: FAIL with the window and the time to it."""
    api, sn = servicenow
    sn.approve()
    params = ChangeRecordParams.model_validate(sn_params(api))
    early = await ChangeRecordCheck().run(at(datetime(2026, 12, 4, 21, 10, tzinfo=UTC), params))
    assert early.outcome is Outcome.FAIL
    assert early.summary == "refused: change CHG0030001 window 2026-12-04 22:00–23:30 UTC has not opened (opens in 50m)"
    late = await ChangeRecordCheck().run(at(datetime(2026, 12, 5, 0, 0, tzinfo=UTC), params))
    assert late.outcome is Outcome.FAIL
    assert "closed 30m ago" in late.summary


@pytest.mark.parametrize("fault", ["401", "500", "503", "timeout"])
async def test_change_system_failures_fail_closed(servicenow: tuple[VendorApi, ServiceNow], fault: str) -> None:
    """A refused sign-in, a 5xx or a timeout is an ERROR (never a pass); no credential is in the result."""
    api, sn = servicenow
    sn.approve()
    kw: dict[str, Any] = {"timeout": "300ms"}
    if fault == "401":
        kw["password"] = "wrong-password-1"
    elif fault == "timeout":
        api.delay = 1.0
    else:
        api.fault_status = int(fault)
    result = await ChangeRecordCheck().run(at(NOW, ChangeRecordParams.model_validate(sn_params(api, **kw))))
    assert result.outcome is Outcome.ERROR
    assert ("timed out" in result.summary) if fault == "timeout" else (f"status {fault}" in result.summary)
    assert SN_PASSWORD not in dumped(result)
    assert "wrong-password-1" not in dumped(result)


async def test_servicenow_unknown_change_is_an_error(servicenow: tuple[VendorApi, ServiceNow]) -> None:
    """A change number ServiceNow does not know is an ERROR naming it."""
    api, _ = servicenow
    result = await ChangeRecordCheck().run(
        at(NOW, ChangeRecordParams.model_validate(sn_params(api, record="CHG0099999")))
    )
    assert result.outcome is Outcome.ERROR
    assert "ServiceNow has no change request CHG0099999" in result.summary


async def test_a_change_number_is_matched_exactly_never_as_an_encoded_query(
    servicenow: tuple[VendorApi, ServiceNow],
) -> None:
    """A record such as 'CHG0099999^ORnumber=CHG0030001' would let ServiceNow answer another, approved change:
    the check never passes on a record other than the one named."""
    api, sn = servicenow
    sn.approve()
    params = ChangeRecordParams.model_validate(sn_params(api, record="CHG0099999^ORnumber=CHG0030001"))
    result = await ChangeRecordCheck().run(at(NOW, params))
    assert result.outcome is Outcome.ERROR
    assert "CHG0099999" in result.summary


async def test_servicenow_close_posts_outcome_decision_and_digest(servicenow: tuple[VendorApi, ServiceNow]) -> None:
    """change-close: PATCH state 3 with close_code and close notes holding outcome, decision and digest; read back Closed."""
    api, sn = servicenow
    sn.approve()
    params = ChangeCloseParams.model_validate(
        sn_params(api, outcome="PASSED", successful=True, decision="GO by Ana Ruiz", evidence_digest=DIGEST)
    )
    result = await ChangeCloseAction().run(at(NOW, params))
    assert result.outcome is Outcome.PASS, result.summary
    assert sn.record["state"] == "3"
    assert sn.record["close_code"] == "successful"
    assert (
        sn.record["close_notes"] == f"golive: outcome PASSED\nDecision: GO by Ana Ruiz\nEvidence pack sha256: {DIGEST}"
    )
    (patch,) = api.calls("updateChangeRequest")
    assert patch.params["sys_id"] == SYS_ID
    assert result.output["state"] == "Closed (3)"
    assert not api.rejected, api.rejected


async def test_jira_change_is_gated_on_status_and_window_then_closed_with_a_comment(
    jira: tuple[VendorApi, Jira],
) -> None:
    """Jira: 'Awaiting approval' is refused; 'Approved' inside the window passes; close comments (ADF) and
    transitions to Done."""
    api, j = jira
    params = ChangeRecordParams.model_validate(
        jira_params(api, start_field="customfield_10050", end_field="customfield_10051")
    )
    refused = await ChangeRecordCheck().run(at(NOW, params))
    assert refused.outcome is Outcome.FAIL
    assert "refused: change OPS-42 is in state Awaiting approval" in refused.summary
    j.status = "Approved"
    ok = await ChangeRecordCheck().run(at(NOW, params))
    assert ok.outcome is Outcome.PASS, ok.summary
    assert api.calls("getIssue")[0].query["fields"] == "status,summary,customfield_10050,customfield_10051"
    close = ChangeCloseParams.model_validate(
        jira_params(api, outcome="ROLLED_BACK", successful=False, decision="NO-GO by Ana Ruiz", evidence_digest=DIGEST)
    )
    closed = await ChangeCloseAction().run(at(NOW, close))
    assert closed.outcome is Outcome.PASS, closed.summary
    assert j.status == "Done"
    texts = [node["content"][0]["text"] for node in j.comments[0]["content"]]
    assert texts == ["golive: outcome ROLLED_BACK", "Decision: NO-GO by Ana Ruiz", f"Evidence pack sha256: {DIGEST}"]
    assert api.calls("doTransition")[0].json() == {"transition": {"id": "31"}}
    assert not api.rejected, api.rejected
    with pytest.raises(ValueError, match="give `start_field` and `end_field`"):
        ChangeRecordParams.model_validate(jira_params(api))


async def test_change_fakes_reject_malformed_requests(
    servicenow: tuple[VendorApi, ServiceNow], jira: tuple[VendorApi, Jira]
) -> None:
    """ServiceNow: an unknown close_code, an unknown field, a bad sys_id, no query; Jira: a plain-text comment
    body (v3 takes ADF), a transition without id: all refused by the fakes."""
    sn_api, sn = servicenow
    jira_api, _ = jira
    sn_auth = {"Authorization": f"Basic {basic(SN_USER, SN_PASSWORD)}", "Content-Type": "application/json"}
    jira_auth = {"Authorization": f"Basic {basic(JIRA_EMAIL, JIRA_TOKEN)}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as session:
        record = sn_api.url(f"/api/now/table/change_request/{SYS_ID}")
        for body in ({"close_code": "done"}, {"state": "3", "closed_by_golive": True}):
            async with session.patch(record, data=json.dumps(body), headers=sn_auth) as resp:
                assert resp.status == 400
        async with session.patch(
            sn_api.url("/api/now/table/change_request/CHG0030001"), data=json.dumps({"state": "3"}), headers=sn_auth
        ) as resp:
            assert resp.status == 400
        async with session.get(sn_api.url("/api/now/table/change_request"), headers=sn_auth) as resp:
            assert resp.status == 400
        comment = jira_api.url("/rest/api/3/issue/OPS-42/comment")
        async with session.post(comment, data=json.dumps({"body": "closed"}), headers=jira_auth) as resp:
            assert resp.status == 400
        transitions = jira_api.url("/rest/api/3/issue/OPS-42/transitions")
        async with session.post(
            transitions, data=json.dumps({"transition": {"name": "Done"}}), headers=jira_auth
        ) as resp:
            assert resp.status == 400
    assert len(sn_api.rejected) == 4
    assert len(jira_api.rejected) == 2
    assert "state" not in sn.record or sn.record["state"] == "-4"


async def test_jira_close_fails_when_the_issue_does_not_read_back_closed(jira: tuple[VendorApi, Jira]) -> None:
    """A transition Jira accepts but that leaves the status as it was fails the close (read-back)."""
    api, j = jira
    j.status, j.stuck = "Implementing", True
    close = ChangeCloseParams.model_validate(jira_params(api, outcome="PASSED", successful=True))
    result = await ChangeCloseAction().run(at(NOW, close))
    assert result.outcome is Outcome.FAIL
    assert result.summary == "change OPS-42 reads back in state Implementing, not Done"


@pytest.mark.parametrize("fault", ["401", "502", "timeout"])
async def test_jira_failures_fail_closed(jira: tuple[VendorApi, Jira], fault: str) -> None:
    """Jira: a refused API token, a 5xx or a timeout is an ERROR for the check and the close; no token shown."""
    api, j = jira
    j.status = "Approved"
    kw: dict[str, Any] = {"timeout": "300ms", "check_window": False}
    if fault == "401":
        kw["password"] = "wrong-token-3"
    elif fault == "timeout":
        api.delay = 1.0
    else:
        api.fault_status = int(fault)
    check = await ChangeRecordCheck().run(at(NOW, ChangeRecordParams.model_validate(jira_params(api, **kw))))
    kw.pop("check_window")
    close = await ChangeCloseAction().run(
        at(NOW, ChangeCloseParams.model_validate(jira_params(api, outcome="PASSED", successful=True, **kw)))
    )
    for result in (check, close):
        assert result.outcome is Outcome.ERROR
        assert ("timed out" in result.summary) if fault == "timeout" else (f"status {fault}" in result.summary)
        assert JIRA_TOKEN not in dumped(result)
    assert j.status == "Approved"

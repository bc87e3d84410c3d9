"""A two-person GO in headless Chromium: alice and carol approve from two browser contexts and each dashboard
shows the quorum fill up live (0 of 2, 1 of 2, then GO with both approvers); carol arrives by her approval
link, which opens the decision for her and records nothing by itself."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from tests.browser.conftest import TOKENS, War

pytestmark = pytest.mark.browser

WAIT = 20.0  # seconds a run may take to reach the state a test needs
LINK = re.compile(r"(\w+): (http://\S+)")

RUNBOOKS = {
    "quorum.yaml": """\
golive: 1
name: quorum
title: Two-person cutover
roles:
  ic: {title: Incident Commander, may: [decide]}
  cab: {title: Change board}
  sre: {title: SRE}
  deployer: {title: Deployer}
phases:
  - id: go
    steps:
      - id: decide
        title: GO / NO-GO
        kind: decision
        role: ic
        quorum: {approvals: 2, of: [ic, cab, sre], not: [deployer]}
        deadline: 30m
        default: no-go
""",
}


def admin(war: War, method: str, path: str, **kw: Any) -> Any:
    r = httpx.request(
        method, f"{war.url}{path}", headers={"Authorization": f"Bearer {TOKENS['admin'][0]}"}, timeout=10, **kw
    )
    assert r.status_code < 300, r.text
    return r.json()


def wait_for(war: War, rid: str, pred: Any, what: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        data = admin(war, "GET", f"/api/v1/runs/{rid}")
        if pred(data):
            return dict(data)
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {WAIT:g} s")


def decide_step(data: dict[str, Any]) -> dict[str, Any]:
    return next(s for ph in data["phases"] for s in ph["steps"] if s["id"] == "decide")


def count(page: Any) -> str:
    return str(page.locator('[data-testid="quorum-count"]').text_content()).strip()


def approve(page: Any, reason: str) -> None:
    page.fill('.decide-form input[name="reason"]', reason)
    page.click('[data-testid="go"]')


def test_two_people_approve_from_two_browsers_and_the_quorum_fills_up(war: War) -> None:
    """0 of 2 on both pages; alice approves: both show 1 of 2 with alice approved and carol awaited; carol,
    arriving by her link, approves: GO by carol with both approvers, on both pages, without a reload."""
    roles = {"ic": "alice", "cab": "carol", "sre": "dave", "deployer": "dave"}
    rid = admin(war, "POST", "/api/v1/runs", json={"runbook": "quorum.yaml", "mode": "rehearsal", "roles": roles})[
        "run_id"
    ]
    wait_for(war, rid, lambda d: decide_step(d)["status"] == "waiting", "the decision waiting")
    sent = next(
        dict(LINK.findall(c["text"]))
        for c in admin(war, "GET", f"/api/v1/runs/{rid}")["comms"]
        if c.get("event") == "decision_pending"
    )

    ic = war.page("ic")
    war.open_run(ic, rid, "ic")
    ic.wait_for_selector("#live.on")
    ic.evaluate("window.__noReload = true")

    cab = war.page("cab")
    cab.goto(sent["carol"])
    cab.fill("#token", TOKENS["cab"][0])
    cab.click("#login-form button[type=submit]")
    cab.wait_for_selector("#flash:has-text('Your link opened the decision decide')")
    cab.wait_for_selector("#decision-decide.linked")
    assert "link=" not in cab.url  # used once: dropped from the address
    cab.wait_for_selector("#live.on")
    cab.evaluate("window.__noReload = true")
    assert count(ic) == count(cab) == "0 of 2"
    assert cab.locator('[data-testid="no-go"]').count() == 0  # NO-GO is the IC's veto alone
    war.shot(cab, "quorum-0-of-2")

    approve(ic, "canary green")
    for page in (ic, cab):
        page.wait_for_selector('[data-testid="quorum-count"]:has-text("1 of 2")')
        page.wait_for_selector('[data-testid="approved-alice"]')
        page.wait_for_selector('[data-testid="awaited-cab"]:has-text("carol")')
    assert cab.locator('[data-testid="awaited-sre"]').count() == 0  # dave is the deployer: never awaited
    war.shot(cab, "quorum-1-of-2")

    approve(cab, "change board agrees")
    for page in (ic, cab):
        page.wait_for_selector("#panel-decision:has-text('GO by carol')")
    data = wait_for(war, rid, lambda d: d["decision"] is not None, "GO recorded")
    assert (data["decision"]["by"], data["decision"]["approvers"]) == ("carol", ["alice", "carol"])
    assert ic.evaluate("window.__noReload") is True
    assert cab.evaluate("window.__noReload") is True
    war.shot(ic, "quorum-met")
    assert ic.errors == []
    assert cab.errors == []

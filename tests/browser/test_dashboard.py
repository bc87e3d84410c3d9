"""The war-room dashboard in headless Chromium: a manual step confirmed by the IC, GO disabled after a failed
canary, a rollback started from the CLI shown live, and the layout at phone width. Screenshots are kept."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
from tests.browser.conftest import TOKENS, UI_TIMEOUT, War

pytestmark = pytest.mark.browser

PHONE = (390, 844)  # px: a current phone in portrait
WAIT = 20.0  # seconds a run may take to reach the state a test needs

RUNBOOKS = {
    "freeze.yaml": """\
golive: 1
name: freeze
title: Orders cutover
service: orders
environment: prod
roles:
  ic: {title: Incident Commander, may: [decide, rollback]}
  ops: {title: Operations}
phases:
  - id: prep
    at: T-30m
    steps:
      - id: freeze
        title: Freeze deploys
        kind: manual
        role: ic
        instructions: Announce the change freeze in the release channel.
  - id: go
    at: T-0
    steps:
      - id: decide
        title: GO / NO-GO
        kind: decision
        role: ic
        requires: [prep]
        deadline: 30m
        default: no-go
""",
    "canary.yaml": """\
golive: 1
name: canary
title: Canary cutover
roles:
  ic: {title: Incident Commander, may: [decide]}
phases:
  - id: canary-phase
    steps:
      - id: canary
        title: Canary error rate
        kind: check
        type: command
        with: {run: "exit 1"}
      - id: decide
        title: GO / NO-GO
        kind: decision
        role: ic
        requires: [canary]
        deadline: 15m
        default: no-go
""",
}


def start(war: War, runbook: str, roles: dict[str, str]) -> str:
    r = httpx.post(
        f"{war.url}/api/v1/runs",
        json={"runbook": runbook, "mode": "rehearsal", "roles": roles},
        headers={"Authorization": f"Bearer {TOKENS['admin'][0]}"},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["run_id"])


def wait_for(war: War, rid: str, pred: Any, what: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        data = httpx.get(
            f"{war.url}/api/v1/runs/{rid}", headers={"Authorization": f"Bearer {TOKENS['admin'][0]}"}, timeout=10
        ).json()
        if pred(data):
            return dict(data)
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {WAIT:g} s")


def step_of(data: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(s for ph in data["phases"] for s in ph["steps"] if s["id"] == step_id)


def test_ic_confirms_a_manual_step_and_a_second_viewer_sees_it_live(war: War) -> None:
    """The IC confirms from the dashboard; another viewer's open page shows PASS without a reload."""
    rid = start(war, "freeze.yaml", {"ic": "alice", "ops": "bob"})
    wait_for(war, rid, lambda d: step_of(d, "freeze")["status"] == "waiting", "freeze waiting")
    ic = war.page("ic")
    viewer = war.page("viewer")
    war.open_run(ic, rid, "ic")
    war.open_run(viewer, rid, "viewer")
    viewer.wait_for_selector("#live.on")
    viewer.evaluate("window.__noReload = true")
    assert viewer.locator('[data-testid="confirm-freeze"]').count() == 0
    war.shot(ic, "ic-before-confirm")
    ic.click('[data-testid="confirm-freeze"]')
    # "attached", not visible: the phase folds away once it has passed.
    viewer.wait_for_selector('#step-freeze[data-outcome="pass"]', state="attached")
    ic.wait_for_selector('#step-freeze[data-outcome="pass"]', state="attached")
    assert viewer.evaluate("window.__noReload") is True
    assert "alice" in viewer.locator("#step-freeze").text_content()
    war.shot(viewer, "viewer-sees-confirmation")
    assert step_of(wait_for(war, rid, lambda d: True, "read"), "freeze")["actor"] == "alice"
    assert ic.errors == []
    assert viewer.errors == []


def test_go_is_disabled_with_the_reason_after_a_failed_canary(war: War) -> None:
    """After the canary fails, the IC sees GO disabled with the failed requirement named; NO-GO works."""
    rid = start(war, "canary.yaml", {"ic": "alice"})
    wait_for(war, rid, lambda d: step_of(d, "canary")["outcome"] == "fail", "canary FAIL")
    ic = war.page("ic")
    war.open_run(ic, rid, "ic")
    go = ic.locator('[data-testid="go"]')
    go.wait_for()
    assert go.is_disabled()
    reason = ic.locator('[data-testid="go-blocked"]').inner_text()
    assert "canary" in reason
    assert "FAIL" in reason
    assert ic.locator('[data-testid="no-go"]').is_enabled()
    war.shot(ic, "go-disabled-after-failed-canary")
    ic.fill('.decide-form input[name="reason"]', "canary error rate too high")
    ic.click('[data-testid="no-go"]')
    ic.wait_for_selector('#run[data-status="rolled_back"], #run[data-status="no_go"]', timeout=UI_TIMEOUT)
    assert ic.errors == []


def test_rollback_from_the_cli_appears_on_an_open_dashboard_without_reload(war: War) -> None:
    """`golive rollback` in a terminal: the open dashboard shows the rollback and ROLLED-BACK live."""
    rid = start(war, "freeze.yaml", {"ic": "alice", "ops": "bob"})
    wait_for(war, rid, lambda d: step_of(d, "freeze")["status"] == "waiting", "freeze waiting")
    page = war.page("viewer")
    war.open_run(page, rid, "viewer")
    page.wait_for_selector("#live.on")
    page.evaluate("window.__noReload = true")
    assert "No rollback" in page.locator("#panel-rollback").inner_text()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "golive",
            "rollback",
            rid,
            "--as",
            "alice",
            "--reason",
            "checkout errors",
            "--db",
            str(war.db),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    page.wait_for_selector('#run[data-status="rolled_back"]')
    panel = page.locator("#panel-rollback").inner_text()
    assert "checkout errors" in panel
    assert "alice" in panel
    assert page.evaluate("window.__noReload") is True
    war.shot(page, "rollback-from-cli")
    assert page.errors == []


def test_dashboard_fits_a_phone_and_a_laptop(war: War) -> None:
    """At phone width nothing overflows sideways and GO/NO-GO stay reachable; laptop width shows two columns."""
    rid = start(war, "freeze.yaml", {"ic": "alice", "ops": "bob"})
    wait_for(war, rid, lambda d: step_of(d, "freeze")["status"] == "waiting", "freeze waiting")
    phone = war.page("ic", *PHONE)
    war.open_run(phone, rid, "ic")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
    assert phone.locator('[data-testid="confirm-freeze"]').is_visible()
    war.shot(phone, "phone")
    laptop = war.page("ic", 1280, 900)
    war.open_run(laptop, rid, "ic")
    main_box = laptop.locator(".col-main").bounding_box()
    side_box = laptop.locator(".col-side").bounding_box()
    assert main_box is not None
    assert side_box is not None
    assert side_box["x"] > main_box["x"] + main_box["width"] - 1
    war.shot(laptop, "laptop")
    assert phone.errors == []


def test_a_refused_act_shows_the_rules_message(war: War) -> None:
    """A person whose act the rules refuse (here: rollback by someone without the power) sees why."""
    rid = start(war, "freeze.yaml", {"ic": "alice", "ops": "bob"})
    wait_for(war, rid, lambda d: step_of(d, "freeze")["status"] == "waiting", "freeze waiting")
    ops = war.page("ops")
    war.open_run(ops, rid, "ops")
    ops.once("dialog", lambda d: d.accept())
    ops.fill('.rollback-form input[name="reason"]', "I think it is broken")
    ops.click(".rollback-form button[type=submit]")
    ops.wait_for_selector("#flash.error")
    assert "holds none of the roles that may start the rollback" in ops.locator("#flash").inner_text()
    assert ops.errors == []

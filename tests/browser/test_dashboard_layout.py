"""The war room at the moments that matter, on a 1280x800 laptop and a 390x844 phone: while rolling back, the
rollback panel is in the first viewport; a pause offers GO / NO-GO to the IC and nothing to an observer."""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

import pytest
from tests.browser.conftest import War

from golive.engine import runner
from golive.spec import loader
from golive.store import sqlite

RUNBOOK = """\
golive: 1
name: layout
roles:
  ic: {may: [decide, rollback]}
  ops: {}
phases:
  - id: preflight
    steps:
      - {id: a, kind: check, type: command, with: {run: ["true"]}}
      - {id: b, kind: check, type: command, with: {run: ["true"]}}
      - {id: c, kind: check, type: command, with: {run: ["true"]}}
  - id: canary
    steps:
      - {id: watch, kind: observe, role: ops, duration: 10m}
  - id: decide
    steps:
      - {id: go, kind: decision, role: ic, requires: [canary]}
triggers:
  - {id: latency, source: {type: command, with: {run: [echo, "9"]}}, when: value > 1, then: pause, deadline: 5m}
rollback:
  steps:
    - {id: revert, kind: action, type: command, with: {run: ["true"]}}
    - {id: verify, kind: check, type: command, with: {run: ["true"]}}
"""
LAPTOP = (1280, 800)
PHONE = (390, 844)
SCREENS = pytest.mark.parametrize("screen", [LAPTOP, PHONE], ids=["laptop", "phone"])


def seed(war: War, rolling: bool, paused: bool = True) -> str:
    """The run, written to the store from another thread (Playwright's sync API holds this one's event loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _seed(war, rolling, paused)).result()


async def _seed(war: War, rolling: bool, paused: bool = True) -> str:
    store = sqlite.SqliteStore(war.db)
    await store.open()
    try:
        loaded = loader.load_text(RUNBOOK, "layout.yaml", environ={})
        h = await runner.create_run(store, loaded, roles={"ic": "alice", "ops": "bob"})
        await h.append("phase_started", step_id="preflight", title="preflight")
        for sid in ("a", "b", "c"):
            await h.append("step_finished", step_id=sid, outcome="pass", summary="exit_code=0, expected 0")
        await h.append("phase_finished", step_id="preflight", outcome="pass")
        await h.append("phase_started", step_id="canary", title="canary")
        await h.append("step_started", step_id="watch", attempt=1, duration_planned=600)
        if not paused:
            return h.run_id
        await h.append(
            "step_waiting",
            step_id="watch",
            what="pause",
            trigger="latency",
            reason="value 9 > 1",
            deadline="2099-01-01T00:00:00.000000Z",
            default="rollback",
            remaining=540,
        )
        if rolling:
            await h.append("rollback_started", reason="latency breach", by="alice", source="person")
            await h.append("action_started", step_id="revert", attempt=1, describe="revert")
        return h.run_id
    finally:
        await store.close()


def within(box: dict[str, float] | None, screen: tuple[int, int]) -> bool:
    """The box lies entirely inside the first viewport of `screen` (width, height)."""
    assert box is not None
    return bool(
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= screen[0]
        and box["y"] + box["height"] <= screen[1]
    )


@SCREENS
def test_the_rollback_panel_is_in_the_first_viewport_while_rolling_back(war: War, screen: tuple[int, int]) -> None:
    run_id = seed(war, rolling=True)
    page: Any = war.page("ic", *screen)
    war.open_run(page, run_id, "ic")
    box = page.locator("#panel-rollback").bounding_box()
    assert within(box, screen), box
    war.shot(page, f"rolling-back-{screen[0]}x{screen[1]}")
    assert page.errors == []


@SCREENS
def test_a_pause_offers_go_and_no_go_to_the_ic_and_nothing_to_the_observer(war: War, screen: tuple[int, int]) -> None:
    """The IC's GO and NO-GO are on the screen (not cut off at the side); the observer gets no button."""
    run_id = seed(war, rolling=False)
    ic: Any = war.page("ic", *screen)
    war.open_run(ic, run_id, "ic")
    panel = ic.locator("#decision-watch")
    for testid in ("go", "no-go"):
        button = panel.locator(f"[data-testid={testid}]")
        assert button.is_visible()
        button.scroll_into_view_if_needed()
        assert within(button.bounding_box(), screen), (testid, button.bounding_box())
    assert "paused by a trigger" in panel.inner_text()
    war.shot(ic, f"pause-ic-{screen[0]}x{screen[1]}")
    ops: Any = war.page("ops", *screen)
    war.open_run(ops, run_id, "ops")
    theirs = ops.locator("#decision-watch")
    assert theirs.is_visible()
    assert theirs.locator("button").count() == 0
    assert "It took effect" not in ops.locator("#panel-manual").inner_text()


def test_a_running_observe_window_shows_the_time_left(war: War) -> None:
    """The 10-minute watch that just started counts down (m:ss) beside its step, at laptop and phone widths."""
    run_id = seed(war, rolling=False, paused=False)
    for width, height in (LAPTOP, (390, 844)):
        page: Any = war.page("ic", width, height)
        war.open_run(page, run_id, "ic")
        left = page.locator("[data-testid=watch-left-watch]")
        page.wait_for_function("document.querySelector('[data-testid=watch-left-watch]').textContent.includes(':')")
        minutes = int(left.inner_text().split(":")[0])
        assert 8 <= minutes <= 10, left.inner_text()  # 10:00 when the page loads within the first second
        assert page.errors == []

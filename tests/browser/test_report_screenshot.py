"""The HTML report in headless Chromium: what a reader sees at laptop and phone widths, and in print.

Chromium comes from the tier's ``playwright_browser`` fixture (tests/browser/conftest.py: Debian's
/usr/bin/chromium, skipped with a reason when it is absent). Two runs are made in-process from a small runbook with command checks (a GO run and one whose trigger metric
climbs past its threshold so it rolls back); their reports are opened from file:// and screenshotted into the
test artifacts directory for a person to look at.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import re
from pathlib import Path
from typing import Any

import pytest

from golive.engine import acts, runner
from golive.report import formats, html
from golive.spec import loader
from golive.store import sqlite
from golive.views import summary

pytestmark = pytest.mark.browser

WIDTHS = (1280, 390)  # CSS pixels: a laptop and a phone
FAST_POLL = 0.02  # seconds between the engine's looks at the log
IC = "Ines Commander"

RUNBOOK = """
golive: 1
name: browser-fixture
title: Checkout service v3 cutover
service: checkout
environment: staging
release: {tag: v3.0.0, sha: 9f8e7d6c5b4a39281706f5e4d3c2b1a098765432}
roles:
  ic: {title: Incident commander, description: Sole GO / NO-GO decision maker, may: [decide, rollback, waive]}
  ops: {title: Deployer, description: Runs deploy and smoke}
vars:
  dir: {required: true}
  metric: {default: rising}
phases:
  - id: preflight
    title: Pre-flight
    at: T-30m
    steps:
      - {id: path_set, title: PATH is set, kind: check, type: env, with: {name: PATH}}
      - {id: disk_ok, title: Enough disk for the release, kind: check, type: command, with: {run: "df -P . >/dev/null"}}
  - id: deploy
    title: Deploy + smoke
    at: T-10m
    on_failure: rollback
    steps:
      - id: deploy_app
        title: Deploy v3.0.0
        kind: action
        type: command
        role: ops
        with: {cwd: "${{ vars.dir }}", run: "echo v3.0.0 > release.txt && cat release.txt"}
      - {id: smoke, title: "Smoke: release file present", kind: check, type: command, needs: [deploy_app], with: {cwd: "${{ vars.dir }}", run: "grep -q v3 release.txt"}}
  - id: decision
    title: GO / NO-GO
    at: T-0
    steps:
      - id: go
        title: GO / NO-GO
        kind: decision
        role: ic
        requires: [deploy]
        deadline: 5m
        default: no-go
        on_no_go: stop
        statement: "Deploy and smoke PASS. GO for ${{ release.tag }} by ${{ roles.ic }}."
  - id: observe
    title: Observation window
    at: T+5m
    on_failure: rollback
    steps:
      - {id: watch, title: Watch the checkout error rate, kind: observe, duration: 20s}
triggers:
  - id: error_rate
    title: Checkout 5xx rate above 25%
    source:
      type: command
      with:
        cwd: "${{ vars.dir }}"
        env: {METRIC: "${{ vars.metric }}"}
        run: >-
          if [ "$METRIC" = rising ]; then n=$(cat n 2>/dev/null || echo 0);
          echo $((n+1)) > n; echo "0.$n"; else echo 0.02; fi
    when: value > 0.25
    interval: 200ms
    for: 300ms
    then: rollback
rollback:
  roles: [ic]
  steps:
    - {id: revert, title: Revert to v2, kind: action, type: command, with: {cwd: "${{ vars.dir }}", run: "rm -f release.txt"}}
  confirm:
    - {id: reverted, title: v3 is gone, kind: check, type: command, with: {cwd: "${{ vars.dir }}", run: "test ! -e release.txt"}}
comms:
  channels: [{id: log, url: "log://"}]
signoff:
  areas:
    - {id: engineering, title: Engineering, role: ic}
    - {id: business, title: Business owner}
evidence:
  - {id: deploy_log, title: Deploy output kept, steps: [deploy_app]}
completion:
  - {id: deployed, title: Deploy + smoke PASS, steps: [deploy]}
  - {id: quiet, title: No rollback trigger fired, no_triggers: true}
"""


async def _decide_go(h: acts.RunHandle) -> None:
    """The IC's GO, as `golive decide` would record it from another terminal."""
    for _ in range(3000):  # bounded: 60 s at the poll below
        await asyncio.sleep(FAST_POLL)
        await h.refresh()
        if any(s.waiting_for == "decision" for s in h.state.waiting):
            await acts.decide(h, "go", IC, "deploy and smoke passed")
            return


async def _make(tmp: Path, metric: str, watch: str) -> tuple[Path, dict[str, Any]]:
    store = sqlite.SqliteStore(tmp / "golive.db")
    await store.open()
    try:
        work = tmp / "work"
        work.mkdir()
        text = RUNBOOK.replace("duration: 20s", f"duration: {watch}")
        loaded = loader.load_text(text, "browser.yaml", var_overrides={"dir": str(work), "metric": metric}, environ={})
        h = await runner.create_run(store, loaded, roles={"ic": IC, "ops": "Olga Operator"})
        ic = asyncio.create_task(_decide_go(h))
        try:
            await asyncio.wait_for(runner.Engine(h, poll=FAST_POLL).run(), timeout=60)
        finally:
            ic.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ic
        await h.refresh()
        data = summary.summarize(h)
        page = tmp / "report.html"
        page.write_text(await html.render_run(h, data), encoding="utf-8")
        return page, data
    finally:
        await store.close()


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, Any]]]:
    """The report files of a rolled-back run and of a GO run."""
    # In a thread of its own: Playwright's sync API keeps an event loop running on this one.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        made = {
            "rolled-back": pool.submit(asyncio.run, _make(tmp_path_factory.mktemp("rb"), "rising", "20s")).result(),
            "go": pool.submit(asyncio.run, _make(tmp_path_factory.mktemp("go"), "flat", "1s")).result(),
        }
    assert made["rolled-back"][1]["verdict"] == "ROLLED BACK", made["rolled-back"][1]["reason"]
    assert made["go"][1]["verdict"] == "GO", made["go"][1]["reason"]
    return made


def _open(browser: Any, path: Path, width: int) -> tuple[Any, list[str]]:
    """A page at this width with the report loaded, and every URL it requested."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, requests


def _visible_timeline(page: Any) -> Any:
    tl = page.locator("svg.timeline:visible")
    assert tl.count() == 1, "exactly one timeline layout is visible at a time"
    return tl


def _threshold_drawn(page: Any, trigger: str) -> str:
    """The label of the trigger's threshold line, after checking the line spans its chart on screen.

    (A horizontal SVG line has a zero-height box, which Playwright's is_visible counts as hidden.)
    """
    chart = page.locator(f'svg.metric[data-trigger="{trigger}"]:visible')
    assert chart.count() == 1, "exactly one chart layout is visible at a time"
    assert chart.is_visible()
    line_w = chart.locator("line.threshold").evaluate("e => e.getBoundingClientRect().width")
    chart_w = chart.evaluate("e => e.getBoundingClientRect().width")
    assert line_w > chart_w / 2, f"threshold line {line_w}px wide in a {chart_w}px chart"
    label = chart.locator("text.threshold-label")
    assert label.is_visible()
    return str(label.text_content())


@pytest.mark.parametrize("width", WIDTHS)
def test_rolled_back_report_reads_at_this_width(
    playwright_browser: Any, reports: dict[str, tuple[Path, dict[str, Any]]], artifacts_dir: Path, width: int
) -> None:
    """ROLLED BACK verdict, a bar per step that ran, the threshold line, the rollback, a sha256; no network."""
    path, data = reports["rolled-back"]
    page, requests = _open(playwright_browser, path, width)
    try:
        assert page.locator("#verdict").inner_text() == "ROLLED BACK"
        ran = [s["id"] for s in formats.checks_of(data) if s.get("started_at")]
        bars = _visible_timeline(page).locator("rect.bar")
        assert sorted(bars.evaluate_all("els => els.map(e => e.dataset.step)")) == sorted(ran)
        assert _threshold_drawn(page, "error_rate") == "threshold > 0.25"
        rollback = page.locator("#rollback")
        assert rollback.is_visible()
        assert "trigger:error_rate" in rollback.inner_text()
        sha = page.locator(".sha256").first
        assert sha.is_visible()
        assert re.fullmatch(r"[0-9a-f]{64}", sha.inner_text().strip())
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {width}px"
        page.screenshot(path=str(artifacts_dir / f"report-rolled-back-{width}.png"), full_page=True)
    finally:
        page.close()
    assert requests
    assert all(u.startswith(("file:", "data:")) for u in requests), requests


@pytest.mark.parametrize("width", WIDTHS)
def test_go_report_reads_at_this_width(
    playwright_browser: Any, reports: dict[str, tuple[Path, dict[str, Any]]], artifacts_dir: Path, width: int
) -> None:
    """GO verdict with who decided, a bar per step, the threshold line, no rollback section; no network."""
    path, data = reports["go"]
    page, requests = _open(playwright_browser, path, width)
    try:
        assert page.locator("#verdict").inner_text() == "GO"
        assert f"GO decided by {IC}" in page.locator(".verdict").inner_text()
        ran = [s["id"] for s in formats.checks_of(data) if s.get("started_at")]
        assert _visible_timeline(page).locator("rect.bar").count() == len(ran)
        assert _threshold_drawn(page, "error_rate") == "threshold > 0.25"
        assert page.locator("#rollback").count() == 0
        assert "Business owner pending" in page.locator("#signoff").inner_text()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {width}px"
        page.screenshot(path=str(artifacts_dir / f"report-go-{width}.png"), full_page=True)
    finally:
        page.close()
    assert all(u.startswith(("file:", "data:")) for u in requests), requests


def test_print_shows_the_wide_timeline_and_hides_the_section_links(
    playwright_browser: Any, reports: dict[str, tuple[Path, dict[str, Any]]], artifacts_dir: Path
) -> None:
    """Under print media the laptop timeline is the one shown (even on a narrow page) and the nav is gone."""
    path, _ = reports["rolled-back"]
    page, _ = _open(playwright_browser, path, 700)
    try:
        page.emulate_media(media="print")
        assert page.locator("svg.timeline.tl-wide").is_visible()
        assert not page.locator("svg.timeline.tl-narrow").is_visible()
        assert not page.locator("nav.toc").is_visible()
        pdf = artifacts_dir / "report-rolled-back.pdf"
        page.pdf(path=str(pdf), format="A4", print_background=True)
        assert pdf.read_bytes().startswith(b"%PDF")
    finally:
        page.close()

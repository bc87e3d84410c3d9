"""The HTML report of real runs on a real SQLite store: what it shows, that it stands alone, that it escapes.

Two runs are made once per module from one small runbook with command checks: one that goes GO and passes,
and one whose trigger metric climbs past its threshold so the run rolls back. A stand-in incident commander
decides GO and waives the manual step, as a person would through ``golive decide`` / ``golive waive``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import html as html_lib
import re
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import jinja2
import pytest
from tests.shape import shape_errors

from golive.engine import acts, runner
from golive.engine.state import RunStatus
from golive.report import formats, html
from golive.spec import loader
from golive.store import base as store_base
from golive.store import sqlite
from golive.views import model, summary

FAST_POLL = 0.02  # seconds between the engine's looks at the log
IC = "Ines Commander"
T = TypeVar("T")
HOSTILE = "<script>alert('x')</script>"
HOSTILE_REASON = '<img src="https://evil.example/x.png" onerror="alert(1)"> & more'

# The trigger metric: 0.0, 0.1, 0.2, ... one step per read (a counter file), so it crosses 0.25 after a few
# reads; in the GO run it stays at 0.01. `for: 0.3s` makes the breach sustained over two reads.
RUNBOOK = """
golive: 1
name: report-fixture
title: Report fixture cutover
service: fixture-svc
environment: test
release: {tag: v9.9.9, sha: 0123456789abcdef0123456789abcdef01234567}
roles:
  ic: {title: Incident commander, description: Decides GO / NO-GO, may: [decide, rollback, waive]}
  ops: {title: Operator, description: Runs the deploy}
  qa: {title: QA lead}
vars:
  dir: {required: true}
  metric: {default: rising}
phases:
  - id: preflight
    title: Pre-flight
    at: T-30m
    steps:
      - {id: env_ok, title: "Environment is set HOSTILE_TITLE", kind: check, type: env, with: {name: PATH}}
      - id: approval
        title: Change ticket approved
        kind: manual
        role: qa
        instructions: Confirm the change ticket is approved.
  - id: deploy
    title: Deploy
    at: T-10m
    on_failure: rollback
    steps:
      - id: deploy_app
        title: Deploy the release
        kind: action
        type: command
        role: ops
        with: {cwd: "${{ vars.dir }}", run: "echo deployed v9.9.9 > deployed.txt && cat deployed.txt"}
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
        statement: "GO for ${{ release.tag }}, IC ${{ roles.ic }}"
  - id: observe
    title: Observation
    at: T+5m
    on_failure: rollback
    steps:
      - {id: watch, title: Watch the error rate, kind: observe, duration: 20s}
triggers:
  - id: error_rate
    title: Error rate above 25%
    source:
      type: command
      with:
        cwd: "${{ vars.dir }}"
        env: {METRIC: "${{ vars.metric }}"}
        run: >-
          if [ "$METRIC" = rising ]; then n=$(cat n 2>/dev/null || echo 0);
          echo $((n+1)) > n; echo "0.$n"; else echo 0.01; fi
    when: value > 0.25
    interval: 200ms
    for: 300ms
    then: rollback
  - id: traffic
    title: Traffic floor
    source: {type: command, with: {run: "echo 42"}}
    when: value < 5
    interval: 200ms
    then: notify
    severity: info
rollback:
  roles: [ic]
  steps:
    - {id: revert, title: Revert the release, kind: action, type: command, with: {cwd: "${{ vars.dir }}", run: "rm -f deployed.txt && echo reverted"}}
  confirm:
    - {id: reverted, title: Release is gone, kind: check, type: command, with: {cwd: "${{ vars.dir }}", run: "test ! -e deployed.txt"}}
comms:
  channels: [{id: log, url: "log://"}]
  templates:
    decision_go: "GO decision made for fixture."
signoff:
  areas:
    - {id: engineering, title: Engineering, role: ic}
    - {id: business, title: Business owner}
evidence:
  - {id: deploy_log, title: Deploy output kept, steps: [deploy_app]}
  - {id: approval_proof, title: Approval screenshot, steps: [approval]}
  - {id: rollback_proof, title: Rollback confirmed, steps: [reverted], when: rollback}
completion:
  - {id: deployed, title: Deploy passed, steps: [deploy]}
  - {id: quiet, title: No rollback trigger fired, no_triggers: true}
  - {id: signed, title: Engineering signed off, signoffs: [engineering]}
""".replace("HOSTILE_TITLE", HOSTILE)


@dataclass
class Made:
    run_id: str
    page: str
    data: dict[str, Any]
    evidence_blob: bytes


async def _stand_in_ic(h: acts.RunHandle) -> None:
    """Waive the manual step (as the IC, with a ticket) and decide GO, as people would from their terminals."""
    done: set[str] = set()
    for _ in range(3000):  # bounded: 60 s at the poll below, far beyond what the runs need
        await asyncio.sleep(FAST_POLL)
        await h.refresh()
        for s in list(h.state.waiting):
            if s.id in done:
                continue
            if s.waiting_for == "manual":
                await acts.waive(h, s.id, IC, "CHG-1234", HOSTILE_REASON)
            elif s.waiting_for == "decision":
                await acts.decide(h, "go", IC, "every requirement passed", step_id=s.id)
            done.add(s.id)


async def _make(tmp: Path, metric: str, watch: str) -> Made:
    store = sqlite.SqliteStore(tmp / "golive.db")
    await store.open()
    try:
        work = tmp / "work"
        work.mkdir()
        text = RUNBOOK.replace("duration: 20s", f"duration: {watch}")
        loaded = loader.load_text(text, "report.yaml", var_overrides={"dir": str(work), "metric": metric}, environ={})
        h = await runner.create_run(store, loaded, roles={"ic": IC, "ops": "Olga Operator", "qa": "Quinn QA"})
        ic = asyncio.create_task(_stand_in_ic(h))
        try:
            status = await asyncio.wait_for(runner.Engine(h, poll=FAST_POLL).run(), timeout=60)
        finally:
            ic.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ic
        await h.refresh()
        if status is RunStatus.PASSED:
            await acts.signoff(h, "engineering", IC, "engineering is satisfied")
        data = summary.summarize(h)
        page = await html.render_run(h, data)
        ev = next(e for p in data["phases"] for s in p["steps"] for e in s["evidence"] if s["id"] == "deploy_app")
        blob = await store.get_blob(ev["sha256"])
        return Made(h.run_id, page, data, blob)
    finally:
        await store.close()


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end on a fresh loop in a thread of its own.

    Sync tests that drive their own loop keep working when the session has a loop running on the main
    thread (Playwright's sync API keeps one for the whole session once the browser tier has started it).
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Made]:
    """One GO run (a 1 s watch) and one rolled-back run (its 20 s watch ends when the trigger fires, ~1 s)."""
    made = {
        "go": _run(_make(tmp_path_factory.mktemp("go"), "flat", "1s")),
        "rolled_back": _run(_make(tmp_path_factory.mktemp("rb"), "rising", "20s")),
    }
    assert made["go"].data["verdict"] == "GO", made["go"].data["reason"]
    assert made["rolled_back"].data["verdict"] == "ROLLED BACK", made["rolled_back"].data["reason"]
    return made


def test_summaries_of_real_runs_have_exactly_the_keys_of_the_typed_read_model(runs: dict[str, Made]) -> None:
    """A GO run and a rolled-back run: every dict of the summary (phases, steps, pending, decision, rollback,
    waivers, triggers, coverage, sign-offs, timeline ...) has the keys golive.views.model declares, no other."""
    for name, made in runs.items():
        assert shape_errors(made.data, model.Summary) == [], name
    assert runs["rolled_back"].data["rollback"] is not None
    assert runs["go"].data["decision"] is not None


def _text(page: str) -> str:
    """The page's visible text, roughly: tags dropped, entities decoded, whitespace collapsed."""
    body = re.sub(r"<style>.*?</style>|<title>.*?</title>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", body)))


def _wide_timeline(page: str) -> str:
    m = re.search(r'<svg class="timeline tl-wide".*?</svg>', page, flags=re.S)
    assert m, "no wide timeline SVG"
    return m.group(0)


def test_rolled_back_run_shows_the_verdict_the_rollback_and_who_started_it(runs: dict[str, Made]) -> None:
    """The verdict ROLLED BACK, the rollback section, its trigger source and each rollback step's outcome."""
    text = _text(runs["rolled_back"].page)
    assert 'id="verdict">ROLLED BACK<' in runs["rolled_back"].page
    assert 'id="rollback"' in runs["rolled_back"].page
    assert "Rollback started by trigger:error_rate" in text
    assert re.search(r"Revert the release revert PASS", text)
    assert re.search(r"Release is gone reverted PASS", text)


def test_go_run_shows_the_decision_who_made_it_when_and_the_statement(runs: dict[str, Made]) -> None:
    """GO, decided by the IC at the recorded time (UTC and T-time), with the rendered decision statement."""
    made = runs["go"]
    d = made.data["decision"]
    when = d["at"][:19].replace("T", " ") + " UTC"
    text = _text(made.page)
    assert 'id="verdict">GO<' in made.page
    assert f"GO decided by {IC} at {when}" in text
    assert f"GO for v9.9.9, IC {IC}" in text
    assert 'id="rollback"' not in made.page


def test_timeline_has_one_bar_per_step_that_ran_coloured_by_its_outcome(runs: dict[str, Made]) -> None:
    """Every step with a start time has exactly one bar, whose outcome class is the step's outcome."""
    made = runs["rolled_back"]
    svg = _wide_timeline(made.page)
    bars = {step: outcome for outcome, step in re.findall(r'class="bar o-(\w+)" data-step="(\w+)"', svg)}
    ran = {s["id"]: s["outcome"] for s in formats.checks_of(made.data) if s.get("started_at")}
    assert ran, "the fixture run started no steps"
    assert bars == ran
    assert bars["watch"] == "fail"
    assert bars["approval"] == "waived"
    assert bars["revert"] == "pass"


def test_timeline_axis_is_in_t_time(runs: dict[str, Made]) -> None:
    """The axis labels are T-times around the first phase's T-30m."""
    ticks = re.findall(r'<text class="tick"[^>]*>(T[-+][^<]*)</text>', _wide_timeline(runs["go"].page))
    assert ticks
    assert all(t.startswith(("T-30m", "T-29m")) for t in ticks), ticks


def test_trigger_chart_draws_the_series_and_the_threshold_parsed_from_when(runs: dict[str, Made]) -> None:
    """The error-rate chart has a threshold line labelled from `value > 0.25` and the recorded values as points."""
    page = runs["rolled_back"].page
    m = re.search(r'<svg class="metric mc-wide"[^>]*data-trigger="error_rate".*?</svg>', page, flags=re.S)
    assert m
    chart = m.group(0)
    assert 'class="threshold"' in chart
    assert "threshold &gt; 0.25" in chart
    assert chart.count('class="pt') >= 2
    assert 'class="pt breach"' in chart  # the values past 0.25 are marked
    traffic = re.search(r'<svg class="metric mc-wide"[^>]*data-trigger="traffic".*?</svg>', page, flags=re.S)
    assert traffic
    assert "threshold &lt; 5" in traffic.group(0)


def test_evidence_lists_each_blob_with_its_sha256_checked_against_the_store(runs: dict[str, Made]) -> None:
    """The deploy step's command log is listed with the sha256 of its stored bytes, re-hashed and verified."""
    made = runs["go"]
    digest = hashlib.sha256(made.evidence_blob).hexdigest()
    assert f'<span class="mono hash sha256">{digest}</span>' in made.page
    assert re.search(rf"{digest} verified re-hashed from the store: matches", _text(made.page))


def test_evidence_whose_blob_is_not_in_the_store_is_flagged_missing(tmp_path: Path) -> None:
    """An evidence entry naming a sha256 the store does not hold is shown as missing, never as verified."""

    async def go() -> str:
        store = sqlite.SqliteStore(tmp_path / "golive.db")
        await store.open()
        try:
            loaded = loader.load_text(RUNBOOK, "report.yaml", var_overrides={"dir": str(tmp_path)}, environ={})
            h = await runner.create_run(store, loaded, roles={"ic": IC})
            data = summary.summarize(h)
            step = data["phases"][1]["steps"][0]
            step.update(started_at=data["created_at"], evidence=[{"name": "gone.log", "sha256": "0" * 64, "size": 3}])
            return await html.render_run(h, data)
        finally:
            await store.close()

    page = _run(go())
    assert re.search(r"0{64} missing not in the store", _text(page))
    assert "verified re-hashed" not in page


def test_pending_signoffs_and_missing_checklist_items_are_flagged(runs: dict[str, Made]) -> None:
    """Business sign-off shows as pending; the approval evidence (a waived manual step) as missing."""
    text = _text(runs["go"].page)
    assert "Sign-off 1 pending" in text
    assert "Business owner pending" in text
    assert f"Engineering signed by {IC}" in text
    assert "Evidence Checklist 1 missing" in text
    assert re.search(r"Approval screenshot missing steps: approval; missing: approval", text)


def test_facts_pin_release_digest_head_hash_and_a_verified_chain(runs: dict[str, Made]) -> None:
    """Release tag and sha, runbook digest and the event chain head (checked) are on the page."""
    made = runs["go"]
    text = _text(made.page)
    assert "v9.9.9" in text
    assert "0123456789abcdef0123456789abcdef01234567" in text
    assert made.data["digest"] in text
    assert made.data["head_hash"] in text
    assert "chain verified" in text


def test_roles_comms_and_completion_are_shown(runs: dict[str, Made]) -> None:
    """Role holders, the comms that were sent and each completion criterion with why it is not met."""
    text = _text(runs["rolled_back"].page)
    assert f"Incident commander ic {IC}" in text
    assert "Operator ops Olga Operator" in text
    assert "GO decision made for fixture." in text
    assert "NOT COMPLETE" in text
    assert "No rollback trigger fired a rollback trigger fired" in text


def test_untrusted_text_is_escaped_everywhere(runs: dict[str, Made]) -> None:
    """A step title and a waiver reason holding markup come out as text; the page has no script or image."""
    page = runs["go"].page
    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert HOSTILE_REASON in _text(page)


def test_page_needs_no_network(runs: dict[str, Made]) -> None:
    """No external stylesheet, script, font or image: only fragment links and inline data, under a strict CSP."""
    for made in runs.values():
        page = made.page
        assert "default-src 'none'" in page
        assert not re.search(r"<(link|script|iframe|object|embed|img)\b", page)
        refs = re.findall(r'\s(?:href|src|xlink:href)="([^"]*)"', page)
        assert all(r.startswith("#") for r in refs), refs
        assert not re.search(r"url\((?!#)", page)
        assert "@import" not in page
        assert "@font-face" not in page


def test_render_is_pure_and_reachable_through_the_format_switch(runs: dict[str, Made]) -> None:
    """render(summary) gives the same page twice, and formats.render('html', ...) is that page."""
    data = runs["go"].data
    assert html.render(data) == html.render(data) == formats.render("html", data)


def test_the_compiled_templates_draw_the_same_page_as_the_templates(
    runs: dict[str, Made], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page from the shipped compiled templates is the page the templates compile to, byte for byte; a
    template that no longer matches sources.json is compiled from source instead."""
    assert html._template().environment.loader is not None
    assert isinstance(html._template().environment.loader, jinja2.ChoiceLoader)  # the compiled ones are used
    pages = {name: html.render(made.data) for name, made in runs.items()}
    html._template.cache_clear()
    monkeypatch.setattr(html, "COMPILED_SOURCES", "no-such-file.json")
    try:
        assert not isinstance(html._template().environment.loader, jinja2.ChoiceLoader)
        assert {name: html.render(made.data) for name, made in runs.items()} == pages
    finally:
        html._template.cache_clear()


def test_a_run_that_has_not_started_renders_without_a_timeline(tmp_path: Path) -> None:
    """A just-created run (no step started) still renders, saying so, with its verdict as the run status."""

    async def go() -> str:
        store = sqlite.SqliteStore(tmp_path / "golive.db")
        await store.open()
        try:
            loaded = loader.load_text(RUNBOOK, "report.yaml", var_overrides={"dir": str(tmp_path)}, environ={})
            h = await runner.create_run(store, loaded, roles={"ic": IC})
            return await html.render_run(h)
        finally:
            await store.close()

    page = _run(go())
    assert 'id="verdict">RUNNING<' in page
    assert "No step has started yet." in page
    assert "Operator ops unassigned" in _text(page)


def test_thresholds_parse_from_simple_and_compound_conditions() -> None:
    """`value > 0.2`, a reversed comparison and a range each give their numbers with value on the left."""
    assert html.parse_thresholds("value > 0.2") == [(">", 0.2)]
    assert html.parse_thresholds("0.5 <= value and value < 2e3") == [(">=", 0.5), ("<", 2000.0)]
    assert html.parse_thresholds("len(value) > 3 or flag") == []
    assert html.parse_thresholds(None) == []


def test_long_series_are_thinned_keeping_their_peaks() -> None:
    """Thousands of evaluations become at most MAX_SERIES_POINTS points, and the single spike survives."""
    events = [
        store_base.Event(
            run_id="r",
            seq=i + 1,
            ts=f"2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z",
            type="trigger_evaluated",
            step_id=None,
            actor="golive",
            data={"trigger_id": "t", "value": 9.5 if i == 1234 else 0.1, "status": "ok"},
            prev_hash="",
            hash="",
        )
        for i in range(3000)
    ]
    events.append(
        store_base.Event(
            "r",
            3001,
            "2026-01-01T01:00:00Z",
            "trigger_evaluated",
            None,
            "golive",
            {"trigger_id": "t", "value": None, "status": "no_data"},
            "",
            "",
        )
    )
    series = html.series_from_events(events)["t"]
    assert len(series["points"]) <= html.MAX_SERIES_POINTS
    assert max(v for _, v in series["points"]) == 9.5
    assert series["gaps"] == [["2026-01-01T01:00:00.000000Z", "no_data"]]  # golive's one stored format

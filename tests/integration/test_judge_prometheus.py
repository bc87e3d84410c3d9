"""Canary judgement against a real Prometheus holding a week of backfilled history.

The history is written as OpenMetrics and turned into TSDB blocks by ``promtool tsdb
create-blocks-from openmetrics`` before Prometheus starts, so ``offset: 1w`` reads real data from last
week. Series (one sample a minute for 7 days and 40 minutes, ending a minute ago):

- ``golive_p99_seconds{canary="clean"|"bad"}``: 0.25 s with noise; "bad" is 0.33 s in the last 30 minutes;
- ``golive_errors{fleet}`` / ``golive_requests{fleet}``: per-minute counts, 1% errors; the "canary" fleet
  has 3% in the last 30 minutes, the "stable" fleet stays at 1%;
- ``golive_auth_ratio``: 0.97 last week, 0.93 now (a 4-point drop).
"""

from __future__ import annotations

import asyncio
import math
import random
import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from golive import exceptions
from golive.engine import acts, runner
from golive.engine.state import RunStatus
from golive.report import html
from golive.results import Outcome
from golive.server import dashboard, schemas
from golive.spec import loader
from golive.store import sqlite
from golive.views import summary

from .conftest import LOOPBACK, free_port, wait_until

pytestmark = pytest.mark.prometheus

WAIT_LIMIT = 60.0  # seconds a test waits for the run before it fails
WEEK = 7 * 86400  # seconds
HISTORY = WEEK + 40 * 60  # seconds of backfilled history
RECENT = 30 * 60  # seconds: the "now" window where regressions are planted


def _openmetrics(end: int) -> str:
    rng = random.Random(5)
    lines = [
        "# TYPE golive_p99_seconds gauge",
        "# TYPE golive_errors gauge",
        "# TYPE golive_requests gauge",
        "# TYPE golive_auth_ratio gauge",
    ]
    p99: list[str] = []
    err: list[str] = []
    req: list[str] = []
    auth: list[str] = []
    for t in range(end - HISTORY, end + 1, 60):
        recent = t > end - RECENT
        base = 0.25 + rng.gauss(0, 0.01)
        p99.append(f'golive_p99_seconds{{canary="clean"}} {base + rng.gauss(0, 0.01):.5f} {t}')
        p99.append(f'golive_p99_seconds{{canary="bad"}} {base + (0.08 if recent else 0.0):.5f} {t}')
        for fleet in ("canary", "stable"):
            rate = 0.03 if (recent and fleet == "canary") else 0.01
            n = 3000
            e = max(0, round(rng.gauss(n * rate, math.sqrt(n * rate))))
            err.append(f'golive_errors{{fleet="{fleet}"}} {e} {t}')
            req.append(f'golive_requests{{fleet="{fleet}"}} {n} {t}')
        auth.append(f"golive_auth_ratio {0.93 if recent else 0.97} {t}")
    return "\n".join([*lines[:1], *p99, lines[1], *err, lines[2], *req, lines[3], *auth, "# EOF", ""])


@pytest.fixture(scope="module")
def history_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prometheus whose TSDB was backfilled with a week of history by promtool; yields its URL."""
    binary, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if binary is None or promtool is None:
        pytest.skip("prometheus/promtool are not installed (scripts/setup installs the Debian package)")
    work = tmp_path_factory.mktemp("prometheus-history")
    data = work / "data"
    data.mkdir()
    source = work / "history.om"
    end = int(time.time()) - 60
    source.write_text(_openmetrics(end))
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", str(source), str(data)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    config = work / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 15s\nscrape_configs: []\n")
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    with (work / "prometheus.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={data}",
                f"--web.listen-address={LOOPBACK}:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:

        def ready() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with {proc.returncode}; see {work / 'prometheus.log'}")
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as resp:
                    return bool(resp.status == 200)
            except OSError:
                return False

        wait_until(ready, "prometheus ready")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


JUDGE_RUNBOOK = """\
golive: 1
name: judge-prometheus
roles:
  ic: {may: [decide, rollback]}
vars:
  prometheus: {required: true}
comms: {cadence: []}
phases:
  - id: canary
    on_failure: decide
    steps:
      - id: judge-canary
        kind: check
        type: judge
        with:
          window: 30m
          step: 1m
          baseline: {offset: 1w}
          metrics:
            - id: p99
              critical: true
              source:
                type: prometheus
                with: {url: "${{ vars.prometheus }}", query: 'golive_p99_seconds{canary="CANARY"}'}
            - id: errors
              kind: rate
              source: {type: prometheus, with: {url: "${{ vars.prometheus }}", query: 'golive_errors{fleet="stable"}'}}
              total: {type: prometheus, with: {url: "${{ vars.prometheus }}", query: 'golive_requests{fleet="stable"}'}}
  - id: go-live
    steps:
      - {id: go, kind: decision, role: ic, requires: [judge-canary]}
"""


async def _run(store: sqlite.SqliteStore, tmp_path: Path, text: str, **vars_: str) -> acts.RunHandle:
    loaded = loader.load_text(text, str(tmp_path / "runbook.yaml"), var_overrides=vars_, environ={})
    h = await runner.create_run(store, loaded, roles={"ic": "alice"})
    task = asyncio.create_task(runner.Engine(h, poll=0.05).run())
    limit = time.monotonic() + WAIT_LIMIT
    while not task.done():
        await h.refresh()
        if h.runbook.step("go") is not None and h.state.step("go").status == "waiting":
            return h  # the decision is pending: the test decides
        judge = h.state.step("judge-canary")
        if judge.waiting_for == "pause":
            events = await store.events(h.run_id)
            why = next(e.data for e in reversed(events) if e.type == "step_waiting")
            raise AssertionError(f"the judge asks the IC: {why['reason']} {why['details']}")
        assert time.monotonic() < limit, "the run neither finished nor reached the decision"
        await asyncio.sleep(0.05)
    await task
    return await acts.open_run(store, h.run_id)


async def test_a_clean_canary_passes_against_last_week(
    store: sqlite.SqliteStore, tmp_path: Path, history_prometheus: str
) -> None:
    """`offset: 1w` reads last week's window: the clean canary's p99 and error rate pass, GO is allowed."""
    h = await _run(store, tmp_path, JUDGE_RUNBOOK.replace("CANARY", "clean"), prometheus=history_prometheus)
    s = h.state.step("judge-canary")
    assert s.outcome is Outcome.PASS, s.summary
    judged = s.details["judge"]
    assert judged["verdict"] == "PASS"
    p99 = next(m for m in judged["metrics"] if m["id"] == "p99")
    assert p99["n_canary"] >= 25
    assert p99["n_baseline"] >= 25
    assert p99["baseline"]["median"] == pytest.approx(0.25, abs=0.02)
    await acts.decide(h, "go", "alice", "judge passed")
    await h.refresh()
    assert h.state.step("go").decision == "go"


async def test_a_planted_regression_refuses_go(
    store: sqlite.SqliteStore, tmp_path: Path, history_prometheus: str
) -> None:
    """The "bad" canary's p99 is 80 ms above last week's: FAIL (critical metric), and GO is refused."""
    h = await _run(store, tmp_path, JUDGE_RUNBOOK.replace("CANARY", "bad"), prometheus=history_prometheus)
    s = h.state.step("judge-canary")
    assert s.outcome is Outcome.FAIL
    judged = s.details["judge"]
    assert judged["verdict"] == "FAIL"
    p99 = next(m for m in judged["metrics"] if m["id"] == "p99")
    assert p99["status"] == "fail"
    assert p99["p_adjusted"] < 0.01
    assert p99["effect"] == pytest.approx(0.32, abs=0.06)
    with pytest.raises(exceptions.RuleRefused):
        await acts.decide(h, "go", "alice", "ship it anyway")
    # The report and the dashboard show canary against baseline, metric by metric.
    await h.refresh()
    data = summary.summarize(h)
    [judged] = data["judgements"]
    schemas.JudgementOut.model_validate(judged)  # the API documents it
    row = next(m for m in judged["metrics"] if m["id"] == "p99")
    assert (row["status"], round(row["canary"], 2), round(row["baseline"], 2)) == ("fail", 0.33, 0.25)
    page = await html.render_run(h, data)
    assert "Canary judgements" in page
    assert re.search(r"<td>p99 <b>critical</b></td><td>0\.3\d*</td><td>0\.2\d*</td><td>\+\d", page)
    panel = dashboard.render_run(h, data, dashboard.Perspective(can_act=True, held=frozenset({"ic"})))
    assert 'id="panel-judgements"' in panel
    assert re.search(r"<td>p99</td><td>0\.3\d*</td><td>0\.2\d*</td><td>\+\d", panel)


TWO_QUERY_RUNBOOK = """\
golive: 1
name: judge-two-queries
roles:
  ic: {may: [decide, rollback]}
vars:
  prometheus: {required: true}
comms: {cadence: []}
phases:
  - id: canary
    steps:
      - id: judge-canary
        kind: check
        type: judge
        with:
          window: 30m
          step: 1m
          metrics:
            - id: errors
              kind: rate
              source: {type: prometheus, with: {url: "${{ vars.prometheus }}", query: 'golive_errors{fleet="canary"}'}}
              total: {type: prometheus, with: {url: "${{ vars.prometheus }}", query: 'golive_requests{fleet="canary"}'}}
              baseline:
                source: {type: prometheus, with: {url: "${{ vars.prometheus }}", query: 'golive_errors{fleet="stable"}'}}
                total: {type: prometheus, with: {url: "${{ vars.prometheus }}", query: 'golive_requests{fleet="stable"}'}}
"""


async def test_a_two_query_baseline_catches_the_canary_fleet(
    store: sqlite.SqliteStore, tmp_path: Path, history_prometheus: str
) -> None:
    """The canary fleet's 3% errors against the stable fleet's 1% (a second query): FAIL, run NO-GO."""
    h = await _run(store, tmp_path, TWO_QUERY_RUNBOOK, prometheus=history_prometheus)
    assert h.state.status is RunStatus.NO_GO
    errors = h.state.step("judge-canary").details["judge"]["metrics"][0]
    assert errors["status"] == "fail"
    assert errors["canary"]["rate"] == pytest.approx(0.03, rel=0.15)
    assert errors["baseline"]["rate"] == pytest.approx(0.01, rel=0.15)


TRIGGER_RUNBOOK = """\
golive: 1
name: trigger-vs-last-week
roles:
  ic: {may: [decide, rollback]}
vars:
  prometheus: {required: true}
  dir: {required: true}
comms: {cadence: []}
phases:
  - id: watch
    steps:
      - {id: window, kind: observe, duration: 1.5s}
triggers:
  - id: auth-drop
    title: auth rate drop of 2 points or more vs last week
    source: {type: prometheus, with: {url: "${{ vars.prometheus }}", query: golive_auth_ratio}}
    baseline: {offset: 1w}
    when: delta_pts <= -2
    interval: 0.25s
    then: rollback
rollback:
  steps:
    - id: revert
      kind: action
      type: command
      with: {run: [sh, -c, 'echo reverted >> "$DIR/rollback.log"'], env: {DIR: "${{ vars.dir }}"}}
"""


async def test_a_trigger_compares_with_last_week(
    store: sqlite.SqliteStore, tmp_path: Path, history_prometheus: str
) -> None:
    """`when: delta_pts <= -2` with `baseline: {offset: 1w}`: 0.93 now vs 0.97 last week fires and rolls back."""
    h = await _run(store, tmp_path, TRIGGER_RUNBOOK, prometheus=history_prometheus, dir=str(tmp_path))
    assert h.state.status is RunStatus.ROLLED_BACK
    [fired] = h.state.fired
    assert fired["trigger"] == "auth-drop"
    ev = next(e for e in await store.events(h.run_id) if e.type == "trigger_fired")
    assert ev.data["value"] == pytest.approx(0.93)
    assert ev.data["baseline"] == pytest.approx(0.97)
    assert (tmp_path / "rollback.log").read_text().split() == ["reverted"]


OBSERVE_RUNBOOK = """\
golive: 1
name: observe-judge
roles:
  ic: {may: [decide, rollback]}
vars:
  prometheus: {required: true}
comms: {cadence: []}
phases:
  - id: canary
    steps:
      - id: soak
        kind: observe
        duration: 0.5s
        judge:
          window: 30m
          baseline: {offset: 1w}
          deadline: 10m
          default: rollback
          metrics:
            - id: p99
              source: {type: prometheus, with: {url: "${{ vars.prometheus }}", query: 'golive_p99_seconds{canary="none"}'}}
"""


async def test_an_inconclusive_judge_pauses_for_the_ic(
    store: sqlite.SqliteStore, tmp_path: Path, history_prometheus: str
) -> None:
    """A judge with no data at the end of an observe window is INCONCLUSIVE: the step waits for the IC
    (deadline, default rollback); NO-GO rolls back."""
    loaded = loader.load_text(
        OBSERVE_RUNBOOK, str(tmp_path / "r.yaml"), var_overrides={"prometheus": history_prometheus}, environ={}
    )
    h = await runner.create_run(store, loaded, roles={"ic": "alice"})
    task = asyncio.create_task(runner.Engine(h, poll=0.05).run())
    limit = time.monotonic() + WAIT_LIMIT
    while h.state.step("soak").waiting_for != "pause":
        assert time.monotonic() < limit, "the judge never paused"
        assert not task.done(), "the run ended without asking the IC"
        await asyncio.sleep(0.05)
        await h.refresh()
    s = h.state.step("soak")
    assert s.default == "rollback"
    assert s.deadline is not None
    await acts.decide(h, "no-go", "alice", "no evidence")
    await asyncio.wait_for(task, WAIT_LIMIT)
    h = await acts.open_run(store, h.run_id)
    assert h.state.status is RunStatus.ROLLED_BACK


PINNED_RUNBOOK = """\
golive: 1
name: judge-pinned
roles:
  ic: {may: [decide, rollback]}
vars:
  prometheus: {required: true}
comms: {cadence: []}
phases:
  - id: canary
    steps:
      - id: judge-canary
        kind: check
        type: judge
        with:
          window: 30m
          baseline: BASELINE
          metrics:
            - id: p99
              source: {type: prometheus, with: {url: "${{ vars.prometheus }}", query: 'golive_p99_seconds{canary="CANARY"}'}}
"""


async def test_a_pinned_earlier_run_is_the_baseline(
    store: sqlite.SqliteStore, tmp_path: Path, history_prometheus: str
) -> None:
    """A rehearsal's recorded canary samples are the baseline of a later run (`baseline: {run: ID}`): the
    clean rehearsal passes against last week, and the regressed canary fails against the rehearsal."""
    rehearsal = PINNED_RUNBOOK.replace("BASELINE", "{offset: 1w}").replace("CANARY", "clean")
    first = await _run(store, tmp_path, rehearsal, prometheus=history_prometheus)
    assert first.state.status is RunStatus.PASSED
    pinned = PINNED_RUNBOOK.replace("BASELINE", f"{{run: {first.run_id}}}").replace("CANARY", "bad")
    second = await _run(store, tmp_path, pinned, prometheus=history_prometheus)
    assert second.state.status is RunStatus.NO_GO
    [p99] = second.state.step("judge-canary").details["judge"]["metrics"]
    recorded = first.state.step("judge-canary").details["judge"]["metrics"][0]["samples"]["canary"]
    assert p99["samples"]["baseline"] == recorded
    assert p99["status"] == "fail"


BEFORE_RUNBOOK = """\
golive: 1
name: judge-before-t0
t0: "T0"
roles:
  ic: {may: [decide, rollback]}
vars:
  prometheus: {required: true}
comms: {cadence: []}
phases:
  - id: canary
    steps:
      - id: judge-canary
        kind: check
        type: judge
        with:
          window: 30m
          baseline: {before: 30m}
          metrics:
            - id: p99
              source: {type: prometheus, with: {url: "${{ vars.prometheus }}", query: 'golive_p99_seconds{canary="CANARY"}'}}
"""


@pytest.mark.parametrize(("canary", "status"), [("bad", RunStatus.NO_GO), ("clean", RunStatus.PASSED)])
async def test_a_window_before_t0_is_the_baseline(
    store: sqlite.SqliteStore, tmp_path: Path, history_prometheus: str, canary: str, status: RunStatus
) -> None:
    """`before: 30m` with T-0 35 minutes ago reads the 30 minutes before T-0 (all healthy): the regressed
    canary's last 30 minutes fail against it, the clean one passes."""
    t0 = datetime.now(UTC) - timedelta(minutes=35)
    text = BEFORE_RUNBOOK.replace("T0", t0.isoformat(timespec="seconds")).replace("CANARY", canary)
    h = await _run(store, tmp_path, text, prometheus=history_prometheus)
    assert h.state.status is status, h.state.step("judge-canary").summary
    [p99] = h.state.step("judge-canary").details["judge"]["metrics"]
    assert p99["baseline"]["median"] == pytest.approx(0.25, abs=0.02)
    assert p99["n_baseline"] >= 25


@pytest.mark.parametrize(("canary", "outcome"), [("bad", Outcome.FAIL), ("clean", Outcome.PASS)])
async def test_a_judge_check_runs_outside_the_phase_flow(
    store: sqlite.SqliteStore, tmp_path: Path, history_prometheus: str, canary: str, outcome: Outcome
) -> None:
    """A judge as a hypercare-style check (Engine.check_result): PASS passes, FAIL fails, with the judgement."""
    text = PINNED_RUNBOOK.replace("BASELINE", "{offset: 1w}").replace("CANARY", canary)
    loaded = loader.load_text(
        text, str(tmp_path / "r.yaml"), var_overrides={"prometheus": history_prometheus}, environ={}
    )
    h = await runner.create_run(store, loaded, roles={"ic": "alice"})
    engine = runner.Engine(h, poll=0.05)
    step = h.runbook.step("judge-canary")
    assert step is not None
    try:
        result = await engine.check_result(step)
    finally:
        await engine.aclose()
    assert result.outcome is outcome, result.summary
    assert result.details["judge"]["verdict"] == outcome.value.upper()

"""Stubs at the transport: each kind drives a real plugin through its real parsing (a stubbed answer fails the
same expectation a live one fails), an unstubbed call fails closed and is listed, a live run refuses stubs,
time scaling and recording, and a run recorded against the demo service replays with the service stopped."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from golive import exceptions
from golive.demo.service import DemoService
from golive.plugins import stubs
from golive.plugins.checks.command import CommandCheck, CommandParams
from golive.plugins.checks.http import HttpCheck, HttpParams
from golive.plugins.checks.prometheus import PrometheusCheck, PrometheusParams
from golive.plugins.checks.sql import SqlCheck, SqlParams
from golive.results import Outcome
from golive.testing import make_ctx

from .conftest import LoopbackHTTPServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rehearsal"
GOLIVE = str(Path(sys.executable).with_name("golive"))


def transport(**doc: Any) -> stubs.StubTransport:
    return stubs.StubTransport(stubs.StubsFile.model_validate({"stubs": 1, **doc}))


async def test_an_http_stub_fails_the_same_expectation_a_live_answer_fails(http_server: LoopbackHTTPServer) -> None:
    http_server.route("/health", status=503, json={"status": "down"})
    live = await HttpCheck().run(make_ctx(HttpParams(url=http_server.url("/health")), timeout=5.0))
    t = transport(
        http=[{"url": "https://api.example.com/health", "respond": {"status": 503, "json": {"status": "down"}}}]
    )
    with stubs.activate(t):
        stubbed = await HttpCheck().run(make_ctx(HttpParams(url="https://api.example.com/health"), timeout=5.0))
    assert live.outcome is stubbed.outcome is Outcome.FAIL
    assert "status 503, expected 200" in live.summary
    assert "status 503, expected 200" in stubbed.summary
    assert stubbed.output["json"] == live.output["json"] == {"status": "down"}


async def test_an_http_stub_sequence_changes_its_answer_over_run_time() -> None:
    from golive.testing import FakeClock

    clock = FakeClock()
    t = stubs.StubTransport(
        stubs.StubsFile.model_validate(
            {
                "stubs": 1,
                "http": [
                    {"url": "https://api.example.com/h", "sequence": [{"until": "3m", "status": 200}, {"status": 500}]}
                ],
            }
        ),
        clock,
    )
    with stubs.activate(t):
        first = await HttpCheck().run(make_ctx(HttpParams(url="https://api.example.com/h"), timeout=5.0))
        clock.advance(181)
        later = await HttpCheck().run(make_ctx(HttpParams(url="https://api.example.com/h"), timeout=5.0))
    assert first.outcome is Outcome.PASS
    assert later.outcome is Outcome.FAIL


async def test_a_command_stub_fails_the_same_expectation_a_live_command_fails(tmp_path: Path) -> None:
    live = await CommandCheck().run(make_ctx(CommandParams(run=["false"]), workdir=tmp_path, timeout=5.0))
    t = transport(commands=[{"argv": ["false"], "result": {"exit": 1}}])
    with stubs.activate(t):
        stubbed = await CommandCheck().run(make_ctx(CommandParams(run=["false"]), workdir=tmp_path, timeout=5.0))
    assert live.outcome is stubbed.outcome is Outcome.FAIL
    assert live.summary.split(" in ")[0] == stubbed.summary.split(" in ")[0]


async def test_a_command_stub_writes_its_files_under_the_working_directory(tmp_path: Path) -> None:
    t = transport(commands=[{"argv": ["pg_dump", "**"], "result": {"files": {"backup/db.sql": "-- dump\n"}}}])
    with stubs.activate(t):
        res = await CommandCheck().run(
            make_ctx(CommandParams(run=["pg_dump", "-f", "backup/db.sql"]), workdir=tmp_path, timeout=5.0)
        )
    assert res.outcome is Outcome.PASS
    assert (tmp_path / "backup" / "db.sql").read_text() == "-- dump\n"


async def test_a_sql_stub_fails_the_same_expectation_a_live_database_fails(tmp_path: Path) -> None:
    db = tmp_path / "orders.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE orders (id INTEGER)")
    conn.executemany("INSERT INTO orders VALUES (?)", [(i,) for i in range(999)])
    conn.commit()
    conn.close()
    params = {"query": "SELECT count(*) FROM orders", "expect": {"scalar": 1000}}
    live = await SqlCheck().run(make_ctx(SqlParams(url=f"sqlite:///{db}", **params), timeout=10.0))
    t = transport(sql=[{"query": "count\\(\\*\\) from orders", "result": {"columns": ["count"], "rows": [[999]]}}])
    with stubs.activate(t):
        stubbed = await SqlCheck().run(
            make_ctx(SqlParams(url="postgresql://app@db.invalid/app", **params), timeout=10.0)
        )
    assert live.outcome is stubbed.outcome is Outcome.FAIL
    assert live.summary == stubbed.summary


@pytest.mark.parametrize(("value", "outcome"), [(0.002, Outcome.PASS), (0.08, Outcome.FAIL), (None, Outcome.ERROR)])
async def test_a_metric_series_stub_goes_through_the_prometheus_parser(value: float | None, outcome: Outcome) -> None:
    query = 'sum(rate(http_requests_total{status=~"5.."}[5m]))'
    t = transport(metrics=[{"query": query, "series": [{"value": value}]}])
    with stubs.activate(t):
        res = await PrometheusCheck().run(
            make_ctx(PrometheusParams(url="http://prom.invalid:9090", query=query, expect={"max": 0.01}), timeout=5.0)
        )
    assert res.outcome is outcome, res.summary  # no data is an error, never 0 and never a pass


async def test_secrets_and_flags_come_from_the_stubs_and_a_missing_one_fails_closed() -> None:
    t = transport(secrets={"db_url": "postgresql://x:stub@db/app"}, flags={"new_flow": False})
    assert t.secret("db_url", "APP_DATABASE_URL", None) == "postgresql://x:stub@db/app"
    with pytest.raises(exceptions.SecretError, match="unstubbed"):
        t.secret("api_token", "APP_API_TOKEN", None)
    flags = t.flag_provider()
    assert flags is not None
    await flags.set("new_flow", True)
    assert await flags.get("new_flow") is True
    assert t.unstubbed == ["secret api_token (APP_API_TOKEN)"]


async def test_an_unstubbed_call_fails_closed_and_is_listed(tmp_path: Path) -> None:
    t = transport(http=[{"url": "https://api.example.com/health", "respond": {"status": 200}}])
    with stubs.activate(t):
        res = await HttpCheck().run(make_ctx(HttpParams(url="https://api.example.com/other"), timeout=5.0))
        cmd = await CommandCheck().run(make_ctx(CommandParams(run=["kubectl", "get", "pods"]), workdir=tmp_path))
    assert res.outcome is Outcome.ERROR
    assert cmd.outcome is Outcome.ERROR
    assert t.unstubbed == ["HTTP GET https://api.example.com/other", "command kubectl get pods"]


def test_a_bad_stubs_file_is_refused_with_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("stubs: 1\nhttp:\n  - url: https://x/y\n    respond: {status: 999}\n")
    with pytest.raises(exceptions.UsageError) as err:
        stubs.load_stubs(bad)
    assert f"{bad}:4: http.0.respond.status" in err.value.message


def golive(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GOLIVE, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = dict(os.environ)
    e["GOLIVE_DATABASE_URL"] = str(tmp_path / "golive.db")
    return e


def test_a_live_run_refuses_stubs_time_scaling_and_recording(env: dict[str, str], tmp_path: Path) -> None:
    rb, st = str(FIXTURES / "stubbed.yaml"), str(FIXTURES / "stubbed.stubs.yaml")
    for args, word in (
        (["--stubs", st], "--stubs only with --mode rehearsal"),
        (["--time-scale", "60"], "--time-scale only with --mode rehearsal"),
        (["--record", str(tmp_path / "r.yaml")], "--record only with --mode rehearsal or --mode dry-run"),
    ):
        res = golive("run", rb, *args, env=env)
        assert res.returncode == 2, res.stderr
        assert word in res.stderr
    assert golive("run", rb, "--mode", "dry-run", "--stubs", st, env=env).returncode == 2


def _events(db: str) -> list[tuple[str, str | None, dict[str, Any]]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT type, step_id, data FROM events ORDER BY run_id, seq").fetchall()
    finally:
        conn.close()
    return [(r[0], r[1], json.loads(r[2])) for r in rows]


def test_a_stubbed_time_scaled_rehearsal_through_the_cli(env: dict[str, str]) -> None:
    """Every outside call answered by the stubs; the report says the run was scaled and stubbed."""
    res = golive(
        "run",
        str(FIXTURES / "stubbed.yaml"),
        "--mode",
        "rehearsal",
        "--time-scale",
        "600",
        "--stubs",
        str(FIXTURES / "stubbed.stubs.yaml"),
        "--role",
        "ic=alice",
        "--no-prompt",
        env=env,
    )
    assert "time x600" in res.stdout
    events = _events(env["GOLIVE_DATABASE_URL"])
    outcomes = {s: d.get("outcome") for t, s, d in events if t in ("step_finished", "action_finished") and s}
    assert outcomes["health"] == outcomes["rows"] == outcomes["rollout"] == outcomes["watch"] == "pass"
    report = next(d for t, _, d in events if t == "rehearsal_report")
    assert report["unstubbed"] == []
    assert report["calls"] > 3
    assert report["flags"]["new_flow"] is False  # the NO-GO by deadline rolled the flag back, in memory
    md = golive("report", events[0][2].get("run_id") or _run_id(env), "--format", "md", env=env).stdout
    assert "time-scaled x600" in md
    assert "against stubs" in md


def _run_id(env: dict[str, str]) -> str:
    conn = sqlite3.connect(f"file:{env['GOLIVE_DATABASE_URL']}?mode=ro", uri=True)
    try:
        return str(conn.execute("SELECT run_id FROM runs").fetchone()[0])
    finally:
        conn.close()


def test_record_against_the_demo_service_then_replay_with_it_stopped(env: dict[str, str], tmp_path: Path) -> None:
    recorded = tmp_path / "demo.stubs.yaml"
    with DemoService(tmp_path / "flags.json") as svc:
        first = golive(
            "run",
            str(FIXTURES / "demo-record.yaml"),
            "--mode",
            "rehearsal",
            "--var",
            f"base_url={svc.url}",
            "--record",
            str(recorded),
            "--run-id",
            "recorded-run",
            env=env,
        )
    assert first.returncode == 0, first.stdout + first.stderr
    assert recorded.exists()
    # the service is stopped: the replay must get every answer from the recording
    second = golive(
        "run",
        str(FIXTURES / "demo-record.yaml"),
        "--mode",
        "rehearsal",
        "--var",
        f"base_url={svc.url}",
        "--stubs",
        str(recorded),
        "--run-id",
        "replayed-run",
        env=env,
    )
    assert second.returncode == 0, second.stdout + second.stderr
    conn = sqlite3.connect(f"file:{env['GOLIVE_DATABASE_URL']}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT run_id, step_id, data FROM events WHERE type = 'step_finished' ORDER BY run_id, seq"
        ).fetchall()
    finally:
        conn.close()
    by_run: dict[str, dict[str, Any]] = {}
    for run_id, step_id, data in rows:
        by_run.setdefault(run_id, {})[step_id] = json.loads(data)
    rec, rep = by_run["recorded-run"], by_run["replayed-run"]
    assert {s: d["outcome"] for s, d in rec.items()} == {s: d["outcome"] for s, d in rep.items()}
    assert all(d["outcome"] == "pass" for d in rep.values())
    # the same data gives the same evidence: what each check judged digests the same (timings aside)
    for step in ("health", "version", "flags", "uname"):
        assert _digest(rec[step]) == _digest(rep[step]), step


def _digest(finished: dict[str, Any]) -> str:
    import hashlib

    timing = {"latency_ms", "elapsed_ms", "duration", "duration_ms"}
    judged = {
        "output": {k: v for k, v in (finished.get("output") or {}).items() if k not in timing},
        "details": {k: v for k, v in (finished.get("details") or {}).items() if k not in timing},
    }
    assert judged["output"] or judged["details"]
    return hashlib.sha256(json.dumps(judged, sort_keys=True).encode()).hexdigest()

"""The reporters: JSON keys, the Markdown proof style, JUnit that parses with its counts, several reporters from
one pre-flight, and `golive report RUN --format json|md|junit|html` on a run finished by `golive run`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from golive.cli import preflight_cmds
from golive.report import formats
from golive.spec import loader

from .conftest import LoopbackHTTPServer

GOLIVE = str(Path(sys.executable).with_name("golive"))
CLI_TIMEOUT = 120.0  # seconds
CHECK_TIMEOUT = 10.0  # seconds per check
OUTCOME_WORDS = "PASS|WARN|FAIL|ERROR|SKIPPED|WAIVED|MISSING"
PROOF_LINE = re.compile(rf"(?P<id>[A-Za-z0-9_.-]+) (?P<outcome>{OUTCOME_WORDS})(?P<rest>.*)")
KV = re.compile(r'[a-z_]+=(?:"[^"]*"|\S+)')


def mixed_runbook(tmp_path: Path, server: LoopbackHTTPServer, closed_port: int) -> loader.LoadedRunbook:
    """Five checks: two pass (command, log), one FAILs (503), one ERRORs (refused), one passes over HTTP."""
    server.route("/ok", json={"status": "ok"})
    server.route("/down", status=503, json={"status": "down"})
    log = tmp_path / "refresh.log"
    log.write_text(f"{(datetime.now(UTC) - timedelta(minutes=30)).isoformat()} token refresh succeeded\n")
    doc = {
        "golive": 1,
        "name": "mixed",
        "phases": [
            {
                "id": "preflight",
                "title": "Pre-flight",
                "steps": [
                    {
                        "id": "api_ok",
                        "kind": "check",
                        "type": "http",
                        "with": {"url": server.url("/ok"), "expect": {"status": 200, "json": {"$.status": "ok"}}},
                    },
                    {"id": "api_down", "kind": "check", "type": "http", "with": {"url": server.url("/down")}},
                    {
                        "id": "api_refused",
                        "kind": "check",
                        "type": "http",
                        "with": {"url": f"http://127.0.0.1:{closed_port}/"},
                    },
                    {
                        "id": "script",
                        "kind": "check",
                        "type": "command",
                        "with": {"run": "echo a long line of output that is evidence, not a headline; echo e >&2"},
                    },
                    {
                        "id": "refresh_last_success",
                        "kind": "check",
                        "type": "log",
                        "with": {"path": str(log), "pattern": "token refresh succeeded", "within": "8h"},
                    },
                ],
            }
        ],
    }
    path = tmp_path / "mixed.yaml"
    path.write_text(json.dumps(doc))
    return loader.load(str(path))


@pytest.fixture
async def mixed(
    tmp_path: Path, http_server: LoopbackHTTPServer, closed_port: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    data, steps, _ = await preflight_cmds.run_preflight(
        mixed_runbook(tmp_path, http_server, closed_port), None, 50, CHECK_TIMEOUT
    )
    return data, steps


def proof_block(md: str) -> list[str]:
    return md.split("```text\n", 1)[1].split("\n```", 1)[0].splitlines()


def test_json_has_overall_status_times_and_each_check(mixed: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    """JSON: overall_status, started_at, finished_at, and per check id, outcome, duration and summary."""
    doc = json.loads(formats.to_json(*mixed))
    assert doc["overall_status"] == "FAIL"
    started = datetime.fromisoformat(doc["started_at"])
    finished = datetime.fromisoformat(doc["finished_at"])
    assert started <= finished
    checks = {c["id"]: c for c in doc["checks"]}
    assert list(checks) == ["api_ok", "api_down", "api_refused", "script", "refresh_last_success"]
    for c in checks.values():
        assert {"id", "outcome", "duration", "summary"} <= c.keys()
        assert isinstance(c["duration"], float)
        assert c["summary"]
    assert {k: c["outcome"] for k, c in checks.items()} == {
        "api_ok": "PASS",
        "api_down": "FAIL",
        "api_refused": "ERROR",
        "script": "PASS",
        "refresh_last_success": "PASS",
    }
    assert checks["api_down"]["summary"] == "status 503, expected 200"


def test_markdown_is_in_the_seeds_proof_style(mixed: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    """Markdown: `overall_status X`, then `<id> <OUTCOME> k=v ...` per check; a failure adds what was expected
    against what was seen; headline values only (no stdout/stderr/line noise)."""
    block = proof_block(formats.to_markdown(*mixed))
    assert block[0] == "overall_status FAIL"
    lines = {}
    for line in block[1:]:
        m = PROOF_LINE.fullmatch(line)
        assert m, line
        lines[m["id"]] = (m["outcome"], m["rest"].strip())
    assert list(lines) == ["api_ok", "api_down", "api_refused", "script", "refresh_last_success"]
    for outcome, rest in lines.values():
        if outcome == "PASS":
            assert rest, "a passing line shows its headline values"
            assert all(KV.fullmatch(pair) for pair in rest.split(" ")), rest
    assert re.fullmatch(r"status=200 latency_ms=[\d.]+", lines["api_ok"][1])
    assert re.fullmatch(r"status=503 latency_ms=[\d.]+ -- status 503, expected 200", lines["api_down"][1])
    assert lines["api_refused"][0] == "ERROR"
    assert "cannot connect" in lines["api_refused"][1]
    assert re.fullmatch(r"exit_code=0 elapsed_ms=[\d.]+", lines["script"][1])
    assert lines["refresh_last_success"] == ("PASS", "last_success_age_hours=0.5")
    assert "stdout=" not in "\n".join(block)
    assert "stderr=" not in "\n".join(block)


def test_a_plugin_headline_attribute_picks_the_keys_shown() -> None:
    """A step's `headline` (from its plugin class) wins over the built-in preference; noise never shows."""
    step = {"id": "x", "outcome": "pass", "output": {"exit_code": 0, "ratio": 0.1234567, "stdout": "hi"}}
    assert formats.proof_line(step) == "x PASS exit_code=0"
    assert formats.proof_line({**step, "headline": ["ratio"]}) == "x PASS ratio=0.1235"
    assert formats.proof_line({**step, "output": {"stdout": "x", "note": "two words"}}) == 'x PASS note="two words"'


def test_junit_parses_with_failures_and_errors_counted(mixed: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    """JUnit XML parses; the suite counts 5 tests, 1 failure and 1 error, each case carries its message."""
    root = ET.fromstring(formats.to_junit(*mixed))
    (suite,) = root.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
        "5",
        "1",
        "1",
        "0",
    )
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    failure = cases["api_down"].find("failure")
    assert failure is not None
    assert failure.get("message") == "status 503, expected 200"
    error = cases["api_refused"].find("error")
    assert error is not None
    assert "cannot connect" in (error.get("message") or "")
    assert cases["api_ok"].find("failure") is None
    assert cases["api_ok"].find("error") is None


def test_several_reporters_at_once_from_one_preflight(
    tmp_path: Path, http_server: LoopbackHTTPServer, closed_port: int
) -> None:
    """`golive preflight --out-json --out-md --out-junit` writes all three from the same checks."""
    loaded = mixed_runbook(tmp_path, http_server, closed_port)
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            GOLIVE,
            "preflight",
            loaded.path,
            "--out-json",
            str(out / "p.json"),
            "--out-md",
            str(out / "p.md"),
            "--out-junit",
            str(out / "p.xml"),
            "--timeout",
            "10s",
        ],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    doc = json.loads((out / "p.json").read_text())
    block = proof_block((out / "p.md").read_text())
    suite = ET.parse(out / "p.xml").getroot().find("testsuite")
    assert suite is not None
    assert [c["id"] for c in doc["checks"]] == [PROOF_LINE.fullmatch(line)["id"] for line in block[1:]]  # type: ignore[index]
    assert [c.get("name") for c in suite.findall("testcase")] == [c["id"] for c in doc["checks"]]
    assert block[0] == f"overall_status {doc['overall_status']}"
    assert proc.stdout.splitlines()[0] == "overall_status FAIL"


RUN_RUNBOOK = """\
golive: 1
name: report-me
title: Report me
phases:
  - id: preflight
    title: Pre-flight
    steps:
      - {id: api, kind: check, type: http, with: {url: "%(url)s", expect: {status: 200, json: {$.status: ok}}}}
      - {id: script, kind: check, type: command, with: {run: "echo checked"}}
  - id: deploy
    title: Deploy
    steps:
      - {id: ship, kind: action, type: command, with: {run: "echo shipped"}}
"""


@pytest.fixture
def finished_run(tmp_path: Path, http_server: LoopbackHTTPServer) -> tuple[Path, str]:
    """A run of a small runbook, driven to its end by `golive run` in a subprocess, stored in SQLite."""
    http_server.route("/health", json={"status": "ok"})
    path = tmp_path / "report-me.yaml"
    path.write_text(RUN_RUNBOOK % {"url": http_server.url("/health")})
    db = tmp_path / "runs.db"
    proc = subprocess.run(
        [GOLIVE, "run", str(path), "--db", str(db), "--run-id", "rep-1", "--no-prompt"],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return db, "rep-1"


def report(db: Path, run_id: str, fmt: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GOLIVE, "report", run_id, "--format", fmt, "--db", str(db), *extra],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )


def test_report_of_a_finished_run_in_every_format(finished_run: tuple[Path, str], tmp_path: Path) -> None:
    """`golive report RUN --format json|md|junit|html`: the same steps and outcome in each form."""
    db, run_id = finished_run
    as_json = report(db, run_id, "json")
    assert as_json.returncode == 0, as_json.stderr
    doc = json.loads(as_json.stdout)
    assert doc["overall_status"] == "PASS"
    assert doc["run_id"] == run_id
    assert doc["status"] == "PASSED"
    assert [(c["id"], c["outcome"]) for c in doc["checks"]] == [("api", "PASS"), ("script", "PASS"), ("ship", "PASS")]

    md = report(db, run_id, "md")
    assert md.returncode == 0, md.stderr
    block = proof_block(md.stdout)
    assert block[0] == "overall_status PASS"
    assert re.fullmatch(r"api PASS status=200 latency_ms=[\d.]+", block[1])
    assert re.fullmatch(r"script PASS exit_code=0 elapsed_ms=[\d.]+", block[2])

    junit = report(db, run_id, "junit")
    assert junit.returncode == 0, junit.stderr
    suites = ET.fromstring(junit.stdout).findall("testsuite")
    assert [(s.get("name"), s.get("tests"), s.get("failures"), s.get("errors")) for s in suites] == [
        ("preflight", "2", "0", "0"),
        ("deploy", "1", "0", "0"),
    ]

    out = tmp_path / "report.html"
    html = report(db, run_id, "html", "--out", str(out))
    assert html.returncode == 0, html.stderr
    page = out.read_text()
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert run_id in page
    assert "script" in page


def test_report_of_an_unknown_run_is_a_clear_error(finished_run: tuple[Path, str]) -> None:
    """An unknown run id exits 2 with a one-line message, never a traceback."""
    db, _ = finished_run
    proc = report(db, "no-such-run", "md")
    assert proc.returncode == 2
    assert "no run 'no-such-run'" in proc.stderr
    assert "Traceback" not in proc.stderr

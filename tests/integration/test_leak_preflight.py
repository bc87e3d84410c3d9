"""Leak test: a planted secret appears in no event, report, log line or terminal output.

The secret comes from the `env` provider (`${{ secrets.token }}`) and is used as a bearer token, as a custom
header and in a query string. A loopback service echoes the Authorization header and the token in its JSON
body, its GraphQL errors and a response header; a command prints it (plain, on stderr, base64-encoded) and
fails with it in its output; a failing JSON expectation would quote it in its summary; a log line holds it;
an `env` check compares a variable holding the same value under a name that does not look secret.

Searched: every event of the in-memory pre-flight run, the SQLite file (and its WAL) of the same runbook
run with `golive run`, the JSON/Markdown/JUnit files of `golive preflight`, the JSON/Markdown/JUnit/HTML of
`golive report`, stdout and stderr of every CLI call, and Python log records. The secret must be absent in
its raw, base64, URL-safe base64 and JSON-escaped forms.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from golive import testing
from golive.cli import preflight_cmds
from golive.spec import loader

from .conftest import LoopbackHTTPServer, Reply, Request

GOLIVE = str(Path(sys.executable).with_name("golive"))
CLI_TIMEOUT = 120.0  # seconds one CLI call may take before the test fails


def forms(secret: str) -> list[str]:
    raw = secret.encode()
    return [
        secret,
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        json.dumps(secret)[1:-1],
    ]


def assert_clean(where: str, text: str | bytes, secret: str) -> None:
    blob = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    for form in forms(secret):
        assert form not in blob, f"the secret (as {form[:6]}...) leaked into {where}"


@pytest.fixture
def token() -> str:
    # Long and random, and shaped like nothing the pattern rules know, so only its registration can mask it.
    return "lk" + secrets.token_hex(16)


@pytest.fixture
def echo(http_server: LoopbackHTTPServer, token: str) -> LoopbackHTTPServer:
    def answer(req: Request) -> Reply:
        auth = req.headers.get("authorization", "")
        doc = {
            "status": "ok",
            "authorization": auth,
            "api_key": req.headers.get("x-api-key", ""),
            "token": token,
            "encoded": base64.b64encode(token.encode()).decode(),
            "query": req.query,
        }
        return Reply.of_json(doc, headers={"X-Echo-Token": token})

    def graphql(req: Request) -> Reply:
        return Reply.of_json({"data": None, "errors": [{"message": f"token {token} is not allowed"}]})

    http_server.handle("/echo", answer)
    http_server.handle("/graphql", graphql)
    return http_server


def runbook(tmp_path: Path, echo: LoopbackHTTPServer, closed_port: int, token: str, *, blocking: bool = True) -> Path:
    """The leak runbook; ``blocking=False`` lets a `golive run` go through every step (failures become warns)."""
    log = tmp_path / "refresh.log"
    log.write_text(f"2026-01-01T00:00:00Z token refresh succeeded with key {token}\n")
    doc: dict[str, Any] = {
        "golive": 1,
        "name": "leak-test",
        "secrets": {"token": {"provider": "env", "id": "GOLIVE_LEAK_TOKEN"}},
        "phases": [
            {
                "id": "preflight",
                "steps": [
                    # First, and referencing no secret: they may finish before any step resolves the token.
                    {
                        "id": "env-holds-it",
                        "kind": "check",
                        "type": "env",
                        "with": {"name": "GOLIVE_LEAK_PLAIN", "state": "equals", "value": "expected-other"},
                    },
                    {
                        "id": "command-prints-env-var",
                        "kind": "check",
                        "type": "command",
                        "with": {"run": 'echo "$GOLIVE_LEAK_TOKEN"'},
                    },
                    {
                        "id": "bearer-echoed",
                        "kind": "check",
                        "type": "http",
                        "with": {
                            "url": echo.url("/echo"),
                            "bearer": "${{ secrets.token }}",
                            "expect": {"status": 200, "json": {"$.status": "ok"}},
                        },
                    },
                    {
                        "id": "header-and-query-echoed",
                        "kind": "check",
                        "type": "http",
                        "with": {
                            "url": echo.url("/echo") + "?key=${{ secrets.token }}",
                            "headers": {"X-Api-Key": "${{ secrets.token }}"},
                            "expect": {"status": 200},
                        },
                    },
                    {
                        "id": "summary-would-quote-it",
                        "kind": "check",
                        "type": "http",
                        "with": {
                            "url": echo.url("/echo"),
                            "bearer": "${{ secrets.token }}",
                            "expect": {"json": {"$.token": "something-else", "$.authorization": "Bearer x"}},
                        },
                    },
                    {
                        "id": "graphql-error-quotes-it",
                        "kind": "check",
                        "type": "graphql",
                        "with": {
                            "url": echo.url("/graphql"),
                            "query": "{ shop { name } }",
                            "bearer": "${{ secrets.token }}",
                        },
                    },
                    {
                        "id": "refused-with-secret-in-url",
                        "kind": "check",
                        "type": "http",
                        "with": {"url": f"http://127.0.0.1:{closed_port}/x?key=${{{{ secrets.token }}}}"},
                    },
                    {
                        "id": "command-prints-it",
                        "kind": "check",
                        "type": "command",
                        "with": {
                            "run": ["sh", "-c", 'echo "token=$T"; echo "$T" >&2; printf %s "$T" | base64'],
                            "env": {"T": "${{ secrets.token }}"},
                        },
                    },
                    {
                        "id": "command-fails-with-it",
                        "kind": "check",
                        "type": "command",
                        "with": {
                            "run": ["sh", "-c", 'echo "bad token $T"; exit 3'],
                            "env": {"T": "${{ secrets.token }}"},
                            "expect": {"exit_code": 0, "stdout": "^never$"},
                        },
                    },
                    {
                        "id": "log-line-holds-it",
                        "kind": "check",
                        "type": "log",
                        "with": {"path": str(log), "pattern": "token refresh succeeded", "within": "8h"},
                    },
                ],
            }
        ],
    }
    if not blocking:
        for step in doc["phases"][0]["steps"]:
            step["blocking"] = False
    path = tmp_path / "leak.yaml"
    path.write_text(json.dumps(doc, indent=2))
    return path


@pytest.fixture
def leak_env(monkeypatch: pytest.MonkeyPatch, token: str) -> dict[str, str]:
    monkeypatch.setenv("GOLIVE_LEAK_TOKEN", token)
    monkeypatch.setenv("GOLIVE_LEAK_PLAIN", token)  # a name that does not look secret, holding the same value
    return {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GOLIVE, *args], env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False)


class RecordingStore(testing.InMemoryStore):
    """The in-memory store the pre-flight uses, kept so the test can read every event afterwards."""

    made: list[RecordingStore] = []  # noqa: RUF012 -- class-level registry, reset per test

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        RecordingStore.made.append(self)


@pytest.fixture
def recording_store(monkeypatch: pytest.MonkeyPatch) -> type[RecordingStore]:
    RecordingStore.made = []
    monkeypatch.setattr(testing, "InMemoryStore", RecordingStore)
    return RecordingStore


async def test_no_event_of_the_preflight_run_holds_the_secret(
    tmp_path: Path,
    echo: LoopbackHTTPServer,
    closed_port: int,
    token: str,
    leak_env: dict[str, str],
    recording_store: type[RecordingStore],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every event (and blob) of the ephemeral pre-flight run and every log record is free of the secret."""
    caplog.set_level(logging.DEBUG)
    loaded = loader.load(str(runbook(tmp_path, echo, closed_port, token)))
    data, steps, _ = await preflight_cmds.run_preflight(loaded, None, 50, 10.0)
    # The planted paths really ran: the service saw the token, and the failing checks failed.
    assert any(r.headers.get("authorization") == f"Bearer {token}" for r in echo.requests)
    outcomes = {s["id"]: s["outcome"] for s in steps}
    assert outcomes["summary-would-quote-it"] == "fail"
    assert outcomes["command-prints-it"] == "pass"
    assert outcomes["refused-with-secret-in-url"] == "error"
    assert "skipped" not in outcomes.values()  # every planted path ran
    (store,) = recording_store.made
    events = await store.events(data["run_id"])
    assert len(events) > len(steps)
    for ev in events:
        assert_clean(f"event {ev.seq} {ev.type}", json.dumps(ev.data, default=str), token)
    for digest, (blob, _info) in store._blobs.items():
        assert_clean(f"blob {digest[:12]}", blob, token)
    assert_clean("the summary", json.dumps(data, default=str), token)
    assert_clean("Python log records", caplog.text, token)


def test_no_report_file_or_terminal_output_holds_the_secret(
    tmp_path: Path, echo: LoopbackHTTPServer, closed_port: int, token: str, leak_env: dict[str, str]
) -> None:
    """The JSON, Markdown and JUnit files and stdout/stderr of `golive preflight` are free of the secret."""
    path = runbook(tmp_path, echo, closed_port, token)
    out = {fmt: tmp_path / f"pre.{fmt}" for fmt in ("json", "md", "xml")}
    proc = cli(
        "preflight",
        str(path),
        "--out-json",
        str(out["json"]),
        "--out-md",
        str(out["md"]),
        "--out-junit",
        str(out["xml"]),
        "--timeout",
        "10s",
        env=leak_env,
    )
    assert proc.returncode == 1, proc.stderr
    assert "summary-would-quote-it FAIL" in proc.stdout
    assert_clean("stdout of golive preflight", proc.stdout, token)
    assert_clean("stderr of golive preflight", proc.stderr, token)
    for fmt, file in out.items():
        assert_clean(f"the {fmt} report", file.read_bytes(), token)
    doc = json.loads(out["json"].read_text())
    assert {c["id"]: c["outcome"] for c in doc["checks"]}["command-prints-it"] == "PASS"


def test_no_byte_of_the_sqlite_store_or_run_report_holds_the_secret(
    tmp_path: Path, echo: LoopbackHTTPServer, closed_port: int, token: str, leak_env: dict[str, str]
) -> None:
    """The same checks as a stored run: the SQLite file, its WAL and `golive report` in every format."""
    path = runbook(tmp_path, echo, closed_port, token, blocking=False)
    db = tmp_path / "store.db"
    run = cli("run", str(path), "--db", str(db), "--run-id", "leak-run", "--no-prompt", env=leak_env)
    assert run.returncode == 0, run.stderr  # every step ran; the failing ones are recorded as non-blocking warns
    assert_clean("stdout of golive run", run.stdout, token)
    assert_clean("stderr of golive run", run.stderr, token)
    files = [p for p in tmp_path.iterdir() if p.name.startswith("store.db")]
    assert db in files
    for file in files:
        assert_clean(f"the store file {file.name}", file.read_bytes(), token)
    for fmt in ("json", "md", "junit", "html"):
        rep = cli("report", "leak-run", "--format", fmt, "--db", str(db), env=leak_env)
        assert rep.returncode == 0, rep.stderr
        assert "command-prints-it" in rep.stdout
        if fmt == "json":
            outcomes = {c["id"]: c["outcome"] for c in json.loads(rep.stdout)["checks"]}
            assert outcomes["command-prints-it"] == "PASS"
            assert outcomes["summary-would-quote-it"] == "WARN"
        assert_clean(f"golive report --format {fmt}", rep.stdout + rep.stderr, token)

"""Run events out as CloudEvents/CDEvents to a loopback sink, and a run's trace to a loopback OTLP receiver.

The sink parses every request with the CloudEvents SDK's HTTP binding and answers 400 to anything that is
not a CloudEvent; the OTLP receiver parses the protobuf ExportTraceServiceRequest and answers 400 to
anything else. The runs are real: the engine, a SQLite store, a command check that prints a secret.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from cloudevents.core.bindings import http as ce_http
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from golive.cli import export_cmds
from golive.engine import acts, runner
from golive.engine import handle as handle_mod
from golive.engine.state import RunStatus
from golive.export import events as ev_mod
from golive.export import traces
from golive.spec import loader
from golive.store import sqlite

from .conftest import LoopbackHTTPServer, Reply, Request

SECRET = "s3cr3t-token-value-7781"
RUNBOOK = """\
golive: 1
name: events-test
service: payments-api
environment: prod
release:
  tag: v2.0.0
  artifacts: [{name: api, digest: "sha256:%s"}]
roles:
  ic: {title: IC, may: [decide, rollback]}
secrets:
  api_token: {provider: env, id: EVENTS_TEST_TOKEN}
phases:
  - id: preflight
    steps:
      - id: token-check
        kind: check
        type: command
        with: {run: [sh, -c, 'echo "token is $TOKEN"'], env: {TOKEN: "${{ secrets.api_token }}"}}
      - {id: echo-ok, kind: check, type: command, with: {run: [echo, ok]}}
  - id: decide
    steps:
      - {id: go, kind: decision, role: ic, requires: [preflight], on_no_go: rollback}
rollback:
  steps:
    - {id: undo, kind: check, type: command, with: {run: [echo, undone]}}
""" % ("ab" * 32)


def cloudevent_sink(server: LoopbackHTTPServer) -> list[Any]:
    received: list[Any] = []

    def handle(req: Request) -> Reply:
        try:
            event = ce_http.from_http_event(ce_http.HTTPMessage(headers=req.headers, body=req.body))
        except Exception as exc:  # not a CloudEvent: refused like a real broker would
            return Reply(status=400, body=f"not a CloudEvent: {exc}".encode())
        received.append((event, req))
        return Reply(status=202)

    server.handle("/events", handle, method="POST")
    return received


def otlp_receiver(server: LoopbackHTTPServer) -> list[ExportTraceServiceRequest]:
    received: list[ExportTraceServiceRequest] = []

    def handle(req: Request) -> Reply:
        if req.headers.get("content-type") != "application/x-protobuf":
            return Reply(status=415, body=b"want application/x-protobuf")
        msg = ExportTraceServiceRequest()
        try:
            msg.ParseFromString(req.body)
        except Exception:
            return Reply(status=400, body=b"not an ExportTraceServiceRequest")
        if not msg.resource_spans:
            return Reply(status=400, body=b"no resource spans")
        received.append(msg)
        return Reply(status=200, body=b"", headers={"Content-Type": "application/x-protobuf"})

    server.handle("/v1/traces", handle, method="POST")
    return received


async def run_with_events(
    tmp_path: Path, sink_urls: list[str], decision: str, **fwd: Any
) -> tuple[RunStatus, Any, sqlite.SqliteStore, Any]:
    book = tmp_path / "runbook.yaml"
    book.write_text(RUNBOOK)
    store = sqlite.SqliteStore(tmp_path / "golive.db")
    await store.open()
    handle = await runner.create_run(store, loader.load(book), roles={"ic": "alice"})
    red = handle_mod.make_redactor(handle.runbook)
    forwarder = ev_mod.EventForwarder(
        store,
        handle.run_id,
        export_cmds._info(handle),
        [ev_mod.Sink(u) for u in sink_urls],
        redact=red.redact,
        poll=0.02,
        **fwd,
    )
    await forwarder.start()
    engine = asyncio.ensure_future(runner.Engine(handle, poll=0.02).run())
    for _ in range(1500):
        await handle.refresh()
        if handle.state.step("go").status == "waiting" or engine.done():
            break
        await asyncio.sleep(0.02)
    await acts.decide(await acts.open_run(store, handle.run_id), decision, "alice", "checks green")
    status = await asyncio.wait_for(engine, 30)
    return status, forwarder, store, handle


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTS_TEST_TOKEN", SECRET)


async def test_events_reach_the_sink_typed_and_without_secrets(
    tmp_path: Path, http_server: LoopbackHTTPServer, secret_env: None
) -> None:
    received = cloudevent_sink(http_server)
    status, fwd, store, handle = await run_with_events(tmp_path, [http_server.url("/events")], "go")
    try:
        assert status is RunStatus.PASSED
        sinks = await fwd.close(10.0)
    finally:
        await store.close()
    assert sinks[0].stats.failed == 0
    assert sinks[0].stats.delivered == len(received)
    types = [e.get_type() for e, _ in received]
    stored = await _stored_types(tmp_path, handle.run_id)
    assert [t for t in types if t.startswith("dev.golive.")] == [f"dev.golive.{t}.v1" for t in stored]
    assert types.count("dev.cdevents.service.deployed.0.2.0") == 1
    deployed = next(e for e, _ in received if e.get_type() == "dev.cdevents.service.deployed.0.2.0")
    data = deployed.get_data()
    assert data["context"]["type"] == "dev.cdevents.service.deployed.0.2.0"
    assert data["subject"]["content"] == {
        "environment": {"id": "prod"},
        "artifactId": "pkg:generic/api@sha256:" + "ab" * 32,
    }
    ids = [e.get_id() for e, _ in received]
    assert len(ids) == len(set(ids))  # each event once, with a stable id
    finished = next(
        e for e, _ in received if e.get_subject() == "token-check" and e.get_type().endswith("step_finished.v1")
    )
    assert finished.get_data()["outcome"] == "pass"
    for _, req in received:  # the check printed the secret; no request carries it
        assert SECRET not in req.body.decode()
        assert SECRET not in json.dumps(req.headers)


async def _stored_types(tmp_path: Path, run_id: str) -> list[str]:
    store = sqlite.SqliteStore(tmp_path / "golive.db")
    await store.open()
    try:
        return [e.type for e in await store.events(run_id)]
    finally:
        await store.close()


async def test_a_rollback_is_a_cdevents_rolledback(
    tmp_path: Path, http_server: LoopbackHTTPServer, secret_env: None
) -> None:
    received = cloudevent_sink(http_server)
    status, fwd, store, _ = await run_with_events(tmp_path, [http_server.url("/events")], "no-go")
    try:
        assert status is RunStatus.ROLLED_BACK
        await fwd.close(10.0)
    finally:
        await store.close()
    types = [e.get_type() for e, _ in received]
    assert "dev.cdevents.service.rolledback.0.2.0" in types
    assert "dev.cdevents.service.deployed.0.2.0" not in types


async def test_a_sink_that_fails_is_retried_and_a_dead_one_never_blocks_the_run(
    tmp_path: Path, http_server: LoopbackHTTPServer, closed_port: int, secret_env: None
) -> None:
    received: list[Any] = []
    calls = {"n": 0}

    def flaky(req: Request) -> Reply:
        calls["n"] += 1
        if calls["n"] % 3 != 0:  # two failures before each success
            return Reply(status=503)
        received.append(ce_http.from_http_event(ce_http.HTTPMessage(headers=req.headers, body=req.body)))
        return Reply(status=200)

    http_server.handle("/flaky", flaky, method="POST")
    dead = f"http://127.0.0.1:{closed_port}/events"
    status, fwd, store, _handle = await run_with_events(
        tmp_path, [http_server.url("/flaky"), dead], "go", attempts=3, backoff=0.01
    )
    try:
        assert status is RunStatus.PASSED  # the dead sink did not hold the run up
        flaky_sink, dead_sink = await fwd.close(20.0)
    finally:
        await store.close()
    assert flaky_sink.stats.failed == 0
    assert flaky_sink.stats.delivered == len(received) > 10
    assert dead_sink.stats.delivered == 0
    assert dead_sink.stats.failed == flaky_sink.stats.delivered  # every event, given up after 3 attempts
    assert "Connect" in dead_sink.stats.last_error or "refused" in dead_sink.stats.last_error.lower()


def test_the_sink_refuses_a_request_that_is_not_a_cloudevent(http_server: LoopbackHTTPServer) -> None:
    import urllib.error
    import urllib.request

    cloudevent_sink(http_server)
    req = urllib.request.Request(http_server.url("/events"), data=b'{"hello": 1}', method="POST")
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req, timeout=5)
    exc.value.close()
    assert exc.value.code == 400


async def test_the_trace_has_one_span_per_step_under_its_phase(
    tmp_path: Path, http_server: LoopbackHTTPServer, secret_env: None
) -> None:
    received = otlp_receiver(http_server)
    status, fwd, store, handle = await run_with_events(tmp_path, [], "go")
    try:
        assert status is RunStatus.PASSED
        await fwd.close(1.0)
        ok = await export_cmds.finish(store, handle, None, http_server.url("/v1/traces"), quiet=True)
    finally:
        await store.close()
    assert ok
    spans = [s for msg in received for rs in msg.resource_spans for ss in rs.scope_spans for s in ss.spans]
    by_name = {s.name: s for s in spans}
    assert len(by_name) == len(spans)
    attrs = {s.name: {a.key: _value(a.value) for a in s.attributes} for s in spans}
    task_spans = [n for n, a in attrs.items() if "cicd.pipeline.task.name" in a]
    assert sorted(task_spans) == ["echo-ok", "go", "token-check"]  # one span per step run, each once
    root = by_name["RUN events-test"]
    assert attrs["RUN events-test"]["cicd.pipeline.result"] == "success"
    assert by_name["phase preflight"].parent_span_id == root.span_id
    assert by_name["token-check"].parent_span_id == by_name["phase preflight"].span_id
    assert attrs["token-check"]["cicd.pipeline.task.type"] == "test"
    assert attrs["token-check"]["cicd.pipeline.task.run.result"] == "success"
    assert all(s.trace_id == root.trace_id for s in spans)
    assert root.trace_id.hex() == f"{traces.trace_id_of(handle.run_id):032x}"
    resource = {a.key: _value(a.value) for a in received[0].resource_spans[0].resource.attributes}
    assert resource["service.name"] == "golive"
    assert resource["deployment.environment.name"] == "prod"
    assert SECRET not in str(received)


def test_the_otlp_receiver_refuses_what_is_not_a_trace_export(http_server: LoopbackHTTPServer) -> None:
    import urllib.error
    import urllib.request

    otlp_receiver(http_server)
    req = urllib.request.Request(
        http_server.url("/v1/traces"),
        data=b"\xff\x00junk",
        method="POST",
        headers={"Content-Type": "application/x-protobuf"},
    )
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req, timeout=5)
    exc.value.close()
    assert exc.value.code == 400


def _value(v: Any) -> Any:
    return getattr(v, v.WhichOneof("value")) if v.WhichOneof("value") else None


CLI_RUNBOOK = """\
golive: 1
name: cli-export
phases:
  - id: checks
    steps:
      - {id: one, kind: check, type: command, with: {run: [echo, one]}}
      - {id: two, kind: check, type: command, needs: [one], with: {run: [echo, two]}}
"""


def test_golive_run_sends_events_and_the_trace_and_export_sends_them_again(
    tmp_path: Path, http_server: LoopbackHTTPServer
) -> None:
    import os
    import subprocess
    import sys

    received = cloudevent_sink(http_server)
    spans = otlp_receiver(http_server)
    (tmp_path / "book.yaml").write_text(CLI_RUNBOOK)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOLIVE_")}
    common = ["--db", str(tmp_path / "golive.db")]
    sink, otlp = http_server.url("/events"), http_server.url("/v1/traces")
    done = subprocess.run(
        [sys.executable, "-m", "golive", "run", "book.yaml", "--no-prompt", "--run-id", "r1", *common, "--events-to", sink, "--otlp", otlp],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "events:" in done.stdout
    assert "delivered" in done.stdout
    assert "trace: " in done.stdout
    first = [e.get_id() for e, _ in received]
    assert first[-1] == "r1-" + first[-1].split("-")[-1]
    assert received[-1][0].get_type() == "dev.golive.run_finished.v1"
    task_names = sorted(s.name for m in spans for rs in m.resource_spans for ss in rs.scope_spans for s in ss.spans)
    assert task_names == ["RUN cli-export", "one", "phase checks", "two"]
    again = subprocess.run(
        [sys.executable, "-m", "golive", "export", "r1", *common, "--events-to", sink],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert [e.get_id() for e, _ in received[len(first) :]] == first  # the same events, the same ids
    refused = subprocess.run(
        [sys.executable, "-m", "golive", "export", "r1", *common, "--events-to", http_server.url("/nowhere")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert refused.returncode == 1
    assert "not delivered" in refused.stderr


def test_a_sink_that_is_not_an_http_url_is_refused_before_the_run(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    (tmp_path / "book.yaml").write_text(CLI_RUNBOOK)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOLIVE_")}
    done = subprocess.run(
        [sys.executable, "-m", "golive", "run", "book.yaml", "--no-prompt", "--db", str(tmp_path / "g.db"), "--events-to", "broker.example.com/events"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--events-to 'broker.example.com/events': give an http:// or https:// URL" in done.stderr
    assert not (tmp_path / "g.db").exists() or "started" not in done.stdout

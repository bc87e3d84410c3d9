"""HTTP and GraphQL checks, the HTTP action and the http-json metric source against loopback servers."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from golive.plugins import _util
from golive.plugins.actions.basic import HttpAction, HttpActionParams
from golive.plugins.checks.http import GraphqlCheck, GraphqlParams, HttpCheck, HttpParams
from golive.plugins.metrics.sources import HttpJsonMetric, HttpJsonMetricParams
from golive.results import Outcome
from golive.testing import make_ctx

from .conftest import LoopbackHTTPServer, LoopbackHTTPSServer, Reply, Request

TOKEN = "s3cr3t-token-value-123"


async def check(**params: Any) -> Any:
    return await HttpCheck().run(make_ctx(HttpParams(**params), secrets={"token": TOKEN}, timeout=5.0))


async def test_http_check_passes_on_expected_status_and_json(http_server: LoopbackHTTPServer) -> None:
    """200 with the expected JSON value is a pass, and the JSON is in the step output."""
    http_server.route("/health", json={"status": "ok", "items": [1, 2]})
    result = await check(url=http_server.url("/health"), expect={"status": 200, "json": {"$.status": "ok"}})
    assert result.outcome is Outcome.PASS, result.summary
    assert result.output["json"] == {"status": "ok", "items": [1, 2]}
    assert result.output["status"] == 200


async def test_http_check_fail_summary_says_status_seen_and_expected(http_server: LoopbackHTTPServer) -> None:
    """A 503 for an expected 200 fails with `status 503, expected 200`."""
    http_server.route("/health", status=503, json={"status": "down"})
    result = await check(url=http_server.url("/health"))
    assert result.outcome is Outcome.FAIL
    assert "status 503, expected 200" in result.summary


async def test_http_check_fail_summary_says_json_value_seen_and_expected(http_server: LoopbackHTTPServer) -> None:
    """A JSON path with another value fails with `$.status is "degraded", expected "ok"`."""
    http_server.route("/health", json={"status": "degraded"})
    result = await check(url=http_server.url("/health"), expect={"json": {"$.status": "ok"}})
    assert result.outcome is Outcome.FAIL
    assert '$.status is "degraded", expected "ok"' in result.summary


async def test_http_check_accepts_a_list_of_statuses(http_server: LoopbackHTTPServer) -> None:
    """`status: [200, 204]` accepts a 204."""
    http_server.route("/x", status=204)
    result = await check(url=http_server.url("/x"), expect={"status": [200, 204]})
    assert result.outcome is Outcome.PASS


async def test_http_check_malformed_json_is_an_error(http_server: LoopbackHTTPServer) -> None:
    """A body that is not JSON when JSON paths are expected is an ERROR, never a pass."""
    http_server.route("/health", body="<html>oops</html>", headers={"Content-Type": "text/html"})
    result = await check(url=http_server.url("/health"), expect={"json": {"$.status": "ok"}})
    assert result.outcome is Outcome.ERROR
    assert "not JSON" in result.summary


async def test_http_check_timeout_is_an_error(http_server: LoopbackHTTPServer) -> None:
    """A server slower than the timeout gives ERROR with `timed out`."""
    http_server.route("/slow", json={"status": "ok"}, delay=1.0)
    result = await check(url=http_server.url("/slow"), timeout="200ms")
    assert result.outcome is Outcome.ERROR
    assert "timed out after 0.2 s" in result.summary


async def test_http_check_connection_refused_is_an_error(closed_port: int) -> None:
    """Nothing listening gives ERROR naming the host and port."""
    result = await check(url=f"http://127.0.0.1:{closed_port}/health")
    assert result.outcome is Outcome.ERROR
    assert f"127.0.0.1:{closed_port}" in result.summary
    assert "refused" in result.summary.lower()


async def test_http_check_self_signed_without_ca_file_is_an_error(tls_server: LoopbackHTTPSServer) -> None:
    """TLS is verified by default: a self-signed server is an ERROR, not a pass."""
    tls_server.route("/health", json={"status": "ok"})
    result = await check(url=tls_server.url("/health"))
    assert result.outcome is Outcome.ERROR
    assert "TLS" in result.summary


async def test_http_check_trusts_the_given_ca_file(tls_server: LoopbackHTTPSServer) -> None:
    """With `ca_file` the self-signed server verifies and the check passes."""
    tls_server.route("/health", json={"status": "ok"})
    result = await check(url=tls_server.url("/health"), ca_file=tls_server.ca_file)
    assert result.outcome is Outcome.PASS, result.summary


async def test_http_check_verify_tls_false_skips_verification(tls_server: LoopbackHTTPSServer) -> None:
    """`verify_tls: false` accepts the self-signed server."""
    tls_server.route("/health", json={"status": "ok"})
    result = await check(url=tls_server.url("/health"), verify_tls=False)
    assert result.outcome is Outcome.PASS, result.summary


async def test_http_check_latency_budget_fails_a_slow_answer(http_server: LoopbackHTTPServer) -> None:
    """An answer slower than `max_latency_ms` fails with the latency and the budget."""
    http_server.route("/slow", json={"status": "ok"}, delay=0.3)
    result = await check(url=http_server.url("/slow"), expect={"max_latency_ms": 50})
    assert result.outcome is Outcome.FAIL
    assert "over the 50 ms budget" in result.summary


async def test_http_check_bearer_is_sent_and_never_shown(http_server: LoopbackHTTPServer) -> None:
    """The bearer token reaches the server; an echo of it in the body is redacted in the result."""
    http_server.handle("/echo", lambda req: Reply.of_json({"auth": req.headers.get("authorization")}, status=401))
    result = await check(url=http_server.url("/echo"), bearer=TOKEN)
    assert http_server.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"
    assert result.outcome is Outcome.FAIL
    assert TOKEN not in result.model_dump_json()


async def test_http_check_sends_basic_auth(http_server: LoopbackHTTPServer) -> None:
    """`basic` credentials arrive as an Authorization: Basic header."""
    http_server.route("/x", json={})
    result = await check(url=http_server.url("/x"), basic={"username": "ops", "password": "pw"})
    assert result.outcome is Outcome.PASS
    assert http_server.requests[-1].headers["authorization"] == "Basic " + base64.b64encode(b"ops:pw").decode()


async def test_http_check_header_and_body_expectations(http_server: LoopbackHTTPServer) -> None:
    """Header values are regexes; a missing header fails with its name."""
    http_server.route("/x", body="version=1.4.2", headers={"Content-Type": "text/plain; charset=utf-8"})
    ok = await check(url=http_server.url("/x"), expect={"headers": {"content-type": "^text/plain"}, "body": r"1\.4\."})
    assert ok.outcome is Outcome.PASS, ok.summary
    bad = await check(url=http_server.url("/x"), expect={"headers": {"X-Release": "1.4"}})
    assert bad.outcome is Outcome.FAIL
    assert "header X-Release is missing" in bad.summary


async def test_http_check_condition_over_the_body(http_server: LoopbackHTTPServer) -> None:
    """A condition string reads the parsed body: `len(body.items) > 0`."""
    http_server.route("/list", json={"items": []})
    result = await check(url=http_server.url("/list"), expect="len(body.items) > 0")
    assert result.outcome is Outcome.FAIL
    assert "len(body.items) > 0" in result.summary


async def test_http_check_posts_json(http_server: LoopbackHTTPServer) -> None:
    """`json` is sent as the body with a JSON content type."""
    http_server.route("/q", json={"ok": True})
    await check(url=http_server.url("/q"), method="POST", json={"a": 1})
    req = http_server.requests[-1]
    assert req.method == "POST"
    assert req.json() == {"a": 1}
    assert req.headers["content-type"].startswith("application/json")


async def test_http_check_uses_the_run_pool_when_given(http_server: LoopbackHTTPServer) -> None:
    """With `http_pool` the check uses the engine's client (and leaves it open)."""
    http_server.route("/health", json={"status": "ok"})
    async with _util.make_http_client() as client:
        ctx = make_ctx(HttpParams(url=http_server.url("/health")), http_pool=lambda: client)
        first = await HttpCheck().run(ctx)
        second = await HttpCheck().run(ctx)
    assert first.outcome is Outcome.PASS
    assert second.outcome is Outcome.PASS


def _graphql(req: Request) -> Reply:
    query = req.json()["query"]
    if "broken" in query:
        return Reply.of_json({"data": None, "errors": [{"message": "Field 'broken' doesn't exist"}]})
    return Reply.of_json({"data": {"shop": {"name": "Acme", "id": req.json()["variables"].get("id")}}})


async def test_graphql_check_passes_without_errors(http_server: LoopbackHTTPServer) -> None:
    """A GraphQL answer with data, no errors and the expected value passes."""
    http_server.handle("/graphql", _graphql)
    params = GraphqlParams(
        url=http_server.url("/graphql"),
        query="query($id: ID) { shop { name id } }",
        variables={"id": "7"},
        expect={"json": {"$.data.shop.name": "Acme"}},
    )
    result = await GraphqlCheck().run(make_ctx(params))
    assert result.outcome is Outcome.PASS, result.summary
    assert result.output["data"]["shop"]["id"] == "7"


async def test_graphql_check_fails_on_errors(http_server: LoopbackHTTPServer) -> None:
    """GraphQL `errors` fail the check with the first message."""
    http_server.handle("/graphql", _graphql)
    params = GraphqlParams(url=http_server.url("/graphql"), query="{ broken }")
    result = await GraphqlCheck().run(make_ctx(params))
    assert result.outcome is Outcome.FAIL
    assert "Field 'broken' doesn't exist" in result.summary


async def test_http_action_posts_and_accepts_2xx(http_server: LoopbackHTTPServer) -> None:
    """The HTTP action defaults to POST and accepts a 202."""
    http_server.route("/rules/unpause", status=202, json={"paused": False})
    p = HttpActionParams(url=http_server.url("/rules/unpause"), json={"rule": "order-status"})
    result = await HttpAction().run(make_ctx(p))
    assert result.outcome is Outcome.PASS, result.summary
    assert http_server.requests[-1].method == "POST"


def test_http_action_describe_names_the_call_without_secrets() -> None:
    """Dry-run text says method and URL, and never the bearer token."""
    p = HttpActionParams(url="https://api.example.com/rules/1?token=abc", bearer=TOKEN, json={"paused": False})
    text = HttpAction().describe(make_ctx(p))
    assert text.startswith("would send POST https://api.example.com/rules/1")
    assert TOKEN not in text
    assert "abc" not in text


async def test_http_json_metric_reads_the_number_at_a_path(http_server: LoopbackHTTPServer) -> None:
    """The http-json source reads `$.queue.backlog`."""
    http_server.route("/stats", json={"queue": {"backlog": 17}})
    reading = await HttpJsonMetric().read(
        make_ctx(HttpJsonMetricParams(url=http_server.url("/stats"), path="$.queue.backlog"))
    )
    assert reading.status == "ok"
    assert reading.value == 17.0


async def test_http_json_metric_missing_path_is_no_data(http_server: LoopbackHTTPServer) -> None:
    """A path that is not in the answer is no data, not 0."""
    http_server.route("/stats", json={"queue": {}})
    reading = await HttpJsonMetric().read(
        make_ctx(HttpJsonMetricParams(url=http_server.url("/stats"), path="$.queue.backlog"))
    )
    assert reading.status == "no_data"


@pytest.mark.parametrize("status", [500, 404])
async def test_http_json_metric_http_error_is_an_error(http_server: LoopbackHTTPServer, status: int) -> None:
    """A non-2xx answer is an error reading."""
    http_server.route("/stats", status=status, json={"queue": {"backlog": 1}})
    reading = await HttpJsonMetric().read(
        make_ctx(HttpJsonMetricParams(url=http_server.url("/stats"), path="$.queue.backlog"))
    )
    assert reading.status == "error"
    assert str(status) in (reading.error or "")

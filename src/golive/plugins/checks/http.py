"""HTTP and GraphQL checks: one request, then status, headers, JSON paths, body and latency."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, SecretStr, field_validator

from golive import patterns, results
from golive.plugins import _http, _request, _util, base
from golive.spec import codecheck

__all__ = ["GraphqlCheck", "GraphqlParams", "HttpCheck", "HttpExpect", "HttpParams"]

BODY_EXCERPT_CHARS = 500  # characters of the response body kept in details
REDACT_MARGIN = 512  # characters past a cut that are redacted with it, so a value across the cut is still found
OUTPUT_JSON_MAX_BYTES = 64 * 1024  # bytes; larger JSON bodies are not copied into the step output


class HttpExpect(_util.ExpectBase):
    """What the response must look like. A string is a condition (names: status, headers, body, json, text,
    latency_ms)."""

    names: ClassVar[frozenset[str]] = frozenset({"status", "headers", "body", "json", "text", "latency_ms"})

    status: int | list[int] = Field(default=200, description="Expected status code, or a list of accepted codes.")
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Response headers (case-insensitive names) whose values must match these regular expressions.",
        json_schema_extra=codecheck.code_field("regex"),
    )
    json_paths: dict[str, Any] = Field(
        default_factory=dict,
        alias="json",
        description='JSON path -> expected value, e.g. {"$.status": "ok", "$.items[0].id": 7}.',
    )
    body: str | None = Field(
        default=None,
        description="Regular expression the body must contain a match for.",
        json_schema_extra=codecheck.code_field("regex"),
    )
    max_latency_ms: float | None = Field(default=None, gt=0, description="Latency budget in milliseconds.")

    @field_validator("json_paths")
    @classmethod
    def _paths(cls, v: dict[str, Any]) -> dict[str, Any]:
        _request.check_paths(v)
        return v

    @field_validator("body")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            patterns.check(v)
        return v

    @field_validator("headers")
    @classmethod
    def _header_regexes(cls, v: dict[str, str]) -> dict[str, str]:
        for pattern in v.values():
            patterns.check(pattern)
        return v


class HttpParams(_request.HttpRequestParams):
    """An HTTP request and what its response must be."""

    expect: HttpExpect = Field(default_factory=HttpExpect, description="What the response must look like.")


def _status_ok(status: int, want: int | list[int]) -> bool:
    return status in want if isinstance(want, list) else status == want


def _fmt_status(want: int | list[int]) -> str:
    return " or ".join(str(s) for s in want) if isinstance(want, list) else str(want)


def evaluate_response(
    ctx: base.StepContext, resp: _http.HttpResponse, exp: HttpExpect
) -> tuple[results.Outcome, list[str], Any]:
    """Compare a response with an expect block: the outcome, the failures, and the parsed JSON (or None)."""
    failures: list[str] = []
    status_ok = _status_ok(resp.status, exp.status)
    if not status_ok:
        failures.append(f"status {resp.status}, expected {_fmt_status(exp.status)}")
    for name, pattern in exp.headers.items():
        seen = resp.headers.get(name.lower())
        if seen is None:
            failures.append(f"header {name} is missing, expected /{pattern}/")
        elif patterns.search(pattern, seen) is None:
            failures.append(f"header {name} is {_util.fmt(seen)}, expected /{pattern}/")
    doc: Any = None
    needs_json = bool(exp.json_paths) or (
        exp.condition is not None and ("json" in exp.condition or "$" in exp.condition)
    )
    parsed = False
    try:
        doc = resp.json()
        parsed = True
    except ValueError as exc:
        if needs_json:
            if status_ok:
                # A body that should be JSON and is not is an error of the service, not a verdict.
                return (
                    results.Outcome.ERROR,
                    [f"{exc}; body starts {_util.fmt(_util.cut_head(ctx.redact(resp.text()), 80))}"],
                    None,
                )
            return results.Outcome.FAIL, failures, None
    if exp.json_paths and parsed:
        failures.extend(_util.compare_paths(doc, exp.json_paths))
    if exp.body is not None and patterns.search(exp.body, resp.text()) is None:
        failures.append(f"body does not match /{exp.body}/")
    if exp.max_latency_ms is not None and resp.elapsed_ms > exp.max_latency_ms:
        failures.append(f"latency {resp.elapsed_ms:.0f} ms, over the {exp.max_latency_ms:g} ms budget")
    why = exp.check_condition(
        {
            "status": resp.status,
            "headers": resp.headers,
            "body": doc if parsed else resp.text(),
            "json": doc,
            "text": resp.text(),
            "latency_ms": resp.elapsed_ms,
        }
    )
    if why:
        failures.append(why)
    return (results.Outcome.FAIL if failures else results.Outcome.PASS), failures, doc if parsed else None


def response_result(
    ctx: base.StepContext, p: _request.HttpRequestParams, resp: _http.HttpResponse, exp: HttpExpect
) -> results.Result:
    """The Result of an HTTP check or action from its response."""
    outcome, failures, doc = evaluate_response(ctx, resp, exp)
    output: dict[str, Any] = {
        "status": resp.status,
        "latency_ms": round(resp.elapsed_ms, 1),
        "headers": resp.headers,
    }
    if doc is not None and len(resp.body) <= OUTPUT_JSON_MAX_BYTES:
        output["json"] = doc
    details = {
        "method": p.method,
        "url": p.url.split("?", 1)[0],
        "status": resp.status,
        "latency_ms": round(resp.elapsed_ms, 1),
        # Redacted before it is cut: half a card number or token is no longer recognised by any rule.
        "body_excerpt": ctx.redact(resp.text()[: BODY_EXCERPT_CHARS + REDACT_MARGIN])[:BODY_EXCERPT_CHARS],
    }
    summary = "; ".join(failures) if failures else f"{_judged(resp, exp)} in {resp.elapsed_ms:.0f} ms"
    return _util.finish(ctx, outcome, summary, details=details, output=output)


def _judged(resp: _http.HttpResponse, exp: HttpExpect) -> str:
    """What a passing response was judged on, value and expectation (``status=200, expected 200``)."""
    parts = [f"status={resp.status}, expected {_fmt_status(exp.status)}"]
    # Every path passed, so what was seen is what was expected.
    parts += [f"{path}={_util.fmt(want)}, expected == {_util.fmt(want)}" for path, want in exp.json_paths.items()]
    if exp.body is not None:
        parts.append(f"body matches /{exp.body}/")
    if exp.condition is not None:
        parts.append(f"`{exp.condition}` holds")
    if exp.max_latency_ms is not None:
        parts.append(f"latency_ms={resp.elapsed_ms:.0f}, expected <= {exp.max_latency_ms:g}")
    return "; ".join(parts)


class HttpCheck(base.CheckPlugin):
    """Send one HTTP request and check status, headers, JSON paths, body and latency."""

    name = "http"
    params = HttpParams
    description = "HTTP request; expect status, headers, JSON path values, body regex, latency budget."

    async def run(self, ctx: base.StepContext) -> results.Result:
        p: HttpParams = ctx.params
        try:
            resp = await _request.send(ctx, p)
        except _http.HttpFailure as exc:
            return _util.finish(
                ctx, results.Outcome.ERROR, exc.message, details={"url": p.url.split("?", 1)[0], "failure": exc.kind}
            )
        return response_result(ctx, p, resp, p.expect)


class GraphqlExpect(_util.ExpectBase):
    """What the GraphQL answer must hold besides "no errors". A string is a condition (names: data, errors,
    json, status, latency_ms)."""

    names: ClassVar[frozenset[str]] = frozenset({"data", "errors", "json", "status", "latency_ms"})

    json_paths: dict[str, Any] = Field(
        default_factory=dict,
        alias="json",
        description='JSON path (from the response root) -> expected value, e.g. {"$.data.shop.name": "Acme"}.',
    )

    @field_validator("json_paths")
    @classmethod
    def _paths(cls, v: dict[str, Any]) -> dict[str, Any]:
        _request.check_paths(v)
        return v


class GraphqlParams(base.Params):
    """A GraphQL query over HTTP POST."""

    url: str = Field(description="GraphQL endpoint URL.", min_length=1)
    query: str = Field(
        description="The GraphQL query document (values go in `variables`).",
        min_length=1,
        json_schema_extra=codecheck.code_field("graphql"),
    )
    variables: dict[str, Any] = Field(default_factory=dict, description="Query variables.")
    operation_name: str | None = Field(default=None, description="Operation to run, if the document has several.")
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers.")
    bearer: SecretStr | None = Field(
        default=None, description="Bearer token, usually `${{ secrets.name }}`; never shown."
    )
    basic: _request.BasicAuth | None = Field(default=None, description="HTTP basic credentials.")
    timeout: _util.Duration | None = Field(default=None, description="Time limit (default: the step's timeout).")
    verify_tls: bool = Field(default=True, description="Verify the server certificate.")
    ca_file: str | None = Field(default=None, description="PEM file of CA certificates to trust.")
    expect: GraphqlExpect = Field(default_factory=GraphqlExpect, description="Values the answer must hold.")


class GraphqlCheck(base.CheckPlugin):
    """Run a GraphQL query: status 200, no `errors`, and the expected values."""

    name = "graphql"
    params = GraphqlParams
    description = "GraphQL query; expect no errors and JSON path values."

    async def run(self, ctx: base.StepContext) -> results.Result:
        p: GraphqlParams = ctx.params
        payload: dict[str, Any] = {"query": p.query, "variables": p.variables}
        if p.operation_name:
            payload["operationName"] = p.operation_name
        req = _request.HttpRequestParams(
            url=p.url,
            method="POST",
            headers={"Accept": "application/json", **p.headers},
            bearer=p.bearer,
            basic=p.basic,
            timeout=p.timeout,
            verify_tls=p.verify_tls,
            ca_file=p.ca_file,
        )
        try:
            resp = await _request.send(ctx, req, json_override=payload)
        except _http.HttpFailure as exc:
            return _util.finish(ctx, results.Outcome.ERROR, exc.message, details={"failure": exc.kind})
        details = {"url": p.url.split("?", 1)[0], "status": resp.status, "latency_ms": round(resp.elapsed_ms, 1)}
        try:
            doc = resp.json()
        except ValueError as exc:
            if resp.status != 200:
                return _util.finish(ctx, results.Outcome.FAIL, f"status {resp.status}, expected 200", details=details)
            return _util.finish(ctx, results.Outcome.ERROR, str(exc), details=details)
        failures: list[str] = []
        if resp.status != 200:
            failures.append(f"status {resp.status}, expected 200")
        errors = doc.get("errors") if isinstance(doc, dict) else None
        if errors:
            first = errors[0].get("message", errors[0]) if isinstance(errors[0], dict) else errors[0]
            more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
            failures.append(f"GraphQL errors: {first}{more}, expected none")
        data = doc.get("data") if isinstance(doc, dict) else None
        if data is None and not errors:
            failures.append("no `data` in the answer, expected some")
        failures.extend(_util.compare_paths(doc, p.expect.json_paths))
        why = p.expect.check_condition(
            {"data": data, "errors": errors, "json": doc, "status": resp.status, "latency_ms": resp.elapsed_ms}
        )
        if why:
            failures.append(why)
        output = {"status": resp.status, "latency_ms": round(resp.elapsed_ms, 1), "data": data}
        if failures:
            return _util.finish(ctx, results.Outcome.FAIL, "; ".join(failures), details=details, output=output)
        return _util.finish(
            ctx, results.Outcome.PASS, f"no errors in {resp.elapsed_ms:.0f} ms", details=details, output=output
        )

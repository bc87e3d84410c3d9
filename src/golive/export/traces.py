"""A run as an OpenTelemetry trace, exported over OTLP/HTTP (protobuf).

One trace per run, built from its stored events: a root span for the run (``RUN <runbook>``), a span per
phase under it, a span per step under its phase (the rollback plan's steps under a ``rollback`` span,
hypercare checks under the root). Start and end times are the events' times, so a trace exported after
the run is the same as one exported at its end. Attributes follow OpenTelemetry's CI/CD semantic
conventions: ``cicd.pipeline.name`` (the runbook), ``cicd.pipeline.run.id`` (the run),
``cicd.pipeline.task.name`` / ``cicd.pipeline.task.run.id`` / ``cicd.pipeline.task.type`` (the step)
and ``cicd.pipeline.result`` / ``cicd.pipeline.task.run.result`` (``success``, ``failure``, ``error``,
``skip``); a step that failed or errored has the span status ERROR with its redacted summary.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from golive import clock as clock_mod
from golive.store import base as store_base

__all__ = ["RESULTS", "export_trace", "trace_id_of"]

RESULTS = {"pass": "success", "warn": "success", "fail": "failure", "error": "error", "skipped": "skip"}
RUN_RESULTS = {
    "passed": "success",
    "no_go": "failure",
    "rolled_back": "failure",
    "rolled_back_after_go": "failure",
    "failed": "failure",
}
TASK_TYPES = {"check": "test", "action": "deploy"}
EXPORT_TIMEOUT = 10.0  # seconds for the whole export, retries included


def _ns(ts: str) -> int:
    return int(clock_mod.parse_time(ts).timestamp() * 1_000_000_000)


def trace_id_of(run_id: str) -> int:
    """The run's trace id: derived from the run id, so exporting a run twice gives the same trace."""
    return int.from_bytes(hashlib.sha256(run_id.encode()).digest()[:16], "big") or 1


def export_trace(
    events: list[store_base.Event],
    *,
    endpoint: str,
    runbook: Any,
    redact: Callable[[str], str] = str,
    headers: dict[str, str] | None = None,
    timeout: float = EXPORT_TIMEOUT,
) -> int:
    """Export the run of ``events`` to ``endpoint`` (an OTLP/HTTP traces URL, e.g. .../v1/traces).

    Returns the number of spans exported. Raises RuntimeError when the endpoint did not take them.
    """
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExportResult
    from opentelemetry.sdk.trace.id_generator import IdGenerator
    from opentelemetry.trace import Status, StatusCode

    class _Ids(IdGenerator):
        """Span ids from the run and the span's key, the trace id from the run: an export is repeatable."""

        def __init__(self, run_id: str) -> None:
            self.run_id = run_id
            self.next_key = "run"

        def generate_span_id(self) -> int:
            digest = hashlib.sha256(f"{self.run_id}/{self.next_key}".encode()).digest()
            return int.from_bytes(digest[:8], "big") or 1

        def generate_trace_id(self) -> int:
            return trace_id_of(self.run_id)

        def is_trace_id_random(self) -> bool:
            return False

    if not events:
        return 0
    run_id = events[0].run_id
    ids = _Ids(run_id)
    resource = Resource.create(
        {
            "service.name": "golive",
            "deployment.environment.name": runbook.environment or "default",
            "service.namespace": runbook.service or runbook.name,
        }
    )
    finished: list[Any] = []

    class _Collect(SpanProcessor):
        """Keeps the ended spans; they are exported together in one request at the end."""

        def on_end(self, span: Any) -> None:
            finished.append(span)

    provider = TracerProvider(resource=resource, id_generator=ids)
    provider.add_span_processor(_Collect())
    tracer = provider.get_tracer("golive")
    last_ts = events[-1].ts
    first = events[0]
    base = {"cicd.pipeline.name": runbook.name, "cicd.pipeline.run.id": run_id}
    ids.next_key = "run"
    root = tracer.start_span(f"RUN {runbook.name}", start_time=_ns(first.ts), attributes=base)
    root_ctx = trace.set_span_in_context(root)
    phases: dict[str, Any] = {}
    steps: dict[str, Any] = {}
    rollback: Any = None
    section_of = {s.id: sec for sec, s in runbook.all_steps()}
    status = ""

    def parent_for(step_id: str) -> Any:
        nonlocal rollback
        sec = section_of.get(step_id, "")
        if sec.startswith("rollback"):
            if rollback is None:
                ids.next_key = "rollback"
                rollback = tracer.start_span("rollback", context=root_ctx, start_time=_ns(ev.ts), attributes=base)
            return trace.set_span_in_context(rollback)
        if sec in phases:
            return trace.set_span_in_context(phases[sec])
        return root_ctx

    for ev in events:
        d = ev.data
        if ev.type == "phase_started":
            pid = str(ev.step_id or d.get("phase") or "")
            ids.next_key = f"phase/{pid}"
            phases[pid] = tracer.start_span(
                f"phase {pid}", context=root_ctx, start_time=_ns(ev.ts), attributes={**base, "golive.phase": pid}
            )
        elif ev.type == "phase_finished":
            pid = str(ev.step_id or d.get("phase") or "")
            span = phases.get(pid)
            if span is not None and span.is_recording():
                outcome = str(d.get("outcome") or "")
                span.set_attribute("golive.outcome", outcome)
                if outcome in ("fail", "error"):
                    span.set_status(Status(StatusCode.ERROR, f"phase {pid}: {outcome}"))
                span.end(end_time=_ns(ev.ts))
        elif ev.type in ("step_started", "action_started") and ev.step_id and ev.step_id not in steps:
            step = runbook.step(ev.step_id)
            kind = step.kind.value if step is not None else str(d.get("kind") or "")
            ids.next_key = f"step/{ev.step_id}"
            attrs = {
                **base,
                "cicd.pipeline.task.name": ev.step_id,
                "cicd.pipeline.task.run.id": f"{run_id}/{ev.step_id}",
                "cicd.pipeline.task.type": TASK_TYPES.get(kind, kind),
                "golive.step.kind": kind,
            }
            if step is not None and step.type:
                attrs["golive.step.plugin"] = step.type
            steps[ev.step_id] = tracer.start_span(
                ev.step_id, context=parent_for(ev.step_id), start_time=_ns(ev.ts), attributes=attrs
            )
        elif ev.type in ("step_finished", "action_finished") and ev.step_id:
            span = steps.get(ev.step_id)
            if span is None:  # a step that finished without starting (skipped, waived, confirmed)
                ids.next_key = f"step/{ev.step_id}"
                span = tracer.start_span(
                    ev.step_id,
                    context=parent_for(ev.step_id),
                    start_time=_ns(str(d.get("started_at") or ev.ts)),
                    attributes={**base, "cicd.pipeline.task.name": ev.step_id},
                )
                steps[ev.step_id] = span
            if span.is_recording():
                outcome = str(d.get("outcome") or "error")
                span.set_attribute("cicd.pipeline.task.run.result", RESULTS.get(outcome, "error"))
                span.set_attribute("golive.outcome", outcome)
                if outcome in ("fail", "error"):
                    span.set_status(Status(StatusCode.ERROR, redact(str(d.get("summary") or outcome))[:500]))
                span.end(end_time=_ns(ev.ts))
        elif ev.type == "rollback_finished" and rollback is not None and rollback.is_recording():
            rollback.end(end_time=_ns(ev.ts))
        elif ev.type == "run_finished":
            status = str(d.get("status") or "")
    end = _ns(last_ts)
    for span in [*steps.values(), *phases.values(), *([rollback] if rollback is not None else [])]:
        if span.is_recording():  # still open when the log ends (a run in progress, or interrupted)
            span.end(end_time=end)
    if status:
        root.set_attribute("cicd.pipeline.result", RUN_RESULTS.get(status, "error"))
        if RUN_RESULTS.get(status) != "success":
            root.set_status(Status(StatusCode.ERROR, status))
    root.end(end_time=end)
    exporter = OTLPSpanExporter(endpoint=endpoint, headers=headers or {}, timeout=timeout)
    try:
        result = exporter.export(finished)
    finally:
        exporter.shutdown()  # type: ignore[no-untyped-call]
    if result is not SpanExportResult.SUCCESS:
        raise RuntimeError(f"{endpoint} did not take the trace ({len(finished)} spans)")
    return len(finished)

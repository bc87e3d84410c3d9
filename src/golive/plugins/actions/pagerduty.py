"""``pagerduty``: PagerDuty Events API v2 — trigger, acknowledge and resolve one alert by its dedup key.

``POST /v2/enqueue`` with ``{"routing_key", "event_action", "dedup_key", "payload": {...}}`` answers
``202 {"status": "success", "dedup_key": ...}``. The dedup key ties the three together: the step that
triggers a page and the step (or rollback) that resolves it use the same ``key``, and golive derives one
dedup key per run and key (``golive/<run id>/<key>``) unless ``dedup_key`` is given. The routing key is
a credential: it is never shown.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import Field, SecretStr

from golive import exceptions, results
from golive.plugins import _http, _request, _util, base

__all__ = ["PagerDutyAction", "PagerDutyParams", "dedup_key_for", "send_event"]

DEFAULT_EVENTS_URL = "https://events.pagerduty.com"
PAGERDUTY_TIMEOUT = 10.0  # seconds per event
SUMMARY_MAX = 1024  # characters; the Events API refuses a longer summary


class PagerDutyParams(base.Params):
    """One event on one alert."""

    event_action: Literal["trigger", "acknowledge", "resolve"] = Field(
        description="trigger (open or update the alert), acknowledge, or resolve."
    )
    key: str = Field(
        default="page",
        min_length=1,
        description="Names the alert inside the run: steps with the same key share a dedup key.",
    )
    dedup_key: str | None = Field(
        default=None,
        description="The dedup key itself (default: golive/<run id>/<key>), e.g. to resolve another run's page.",
    )
    summary: str | None = Field(default=None, description="What is wrong (trigger; required there).")
    severity: Literal["critical", "error", "warning", "info"] = Field(default="critical", description="Alert severity.")
    source: str = Field(default="golive", description="Where the problem is (host, service).")
    component: str | None = Field(default=None, description="Component of the source.")
    group: str | None = Field(default=None, description="Logical grouping, e.g. the service.")
    custom_details: dict[str, Any] = Field(default_factory=dict, description="Extra fields shown on the alert.")
    routing_key: SecretStr | None = Field(
        default=None, description="Integration (routing) key, usually `${{ secrets.pd_routing_key }}`; never shown."
    )
    routing_key_env: str = Field(
        default="PAGERDUTY_ROUTING_KEY",
        description="Environment variable holding the routing key when no `routing_key`.",
    )
    url: str = Field(default=DEFAULT_EVENTS_URL, description="Events API base URL (without /v2/enqueue).")
    timeout: _util.Duration = Field(default=PAGERDUTY_TIMEOUT, description="Time limit per event.")


def dedup_key_for(run_id: str | None, key: str) -> str:
    """The dedup key golive uses for ``key`` in a run."""
    return f"golive/{run_id or 'adhoc'}/{key}"


async def send_event(
    client: _http.HttpClient,
    *,
    url: str,
    routing_key: str,
    event_action: str,
    dedup_key: str,
    payload: dict[str, Any] | None,
    timeout: float,  # noqa: ASYNC109  # the boundary owns its deadline
) -> str:
    """Send one Events v2 event; the dedup key PagerDuty answers, or PluginError (message without the key)."""
    body: dict[str, Any] = {"routing_key": routing_key, "event_action": event_action, "dedup_key": dedup_key}
    if payload is not None:
        body["payload"] = payload
    endpoint = f"{url.rstrip('/')}/v2/enqueue"
    try:
        resp = await client.request("POST", endpoint, json=body, timeout=timeout)
    except _http.HttpFailure as exc:
        raise exceptions.PluginError(exc.message) from None
    if resp.status != 202:
        detail = _util.cut_head(resp.text().strip().replace("\n", " "), 200).replace(routing_key, "***")
        raise exceptions.PluginError(f"PagerDuty answered status {resp.status}" + (f": {detail}" if detail else ""))
    try:
        doc = resp.json()
        answered = str(doc["dedup_key"])
        ok = doc.get("status") == "success"
    except (ValueError, KeyError, TypeError):
        raise exceptions.PluginError("PagerDuty's answer has no dedup_key") from None
    if not ok:
        raise exceptions.PluginError(f"PagerDuty did not accept the event: {doc.get('message')}")
    return answered


class PagerDutyAction(base.ActionPlugin):
    """Trigger, acknowledge or resolve a PagerDuty alert with one dedup key per run and key."""

    name = "pagerduty"
    params = PagerDutyParams
    description = "PagerDuty Events API v2: trigger, acknowledge or resolve an alert by dedup key."

    async def run(self, ctx: base.StepContext) -> results.Result:
        p: PagerDutyParams = ctx.params
        routing_key = p.routing_key.get_secret_value() if p.routing_key else os.environ.get(p.routing_key_env)
        if not routing_key:
            return _util.finish(
                ctx, results.Outcome.ERROR, f"no PagerDuty routing key: set `routing_key` or ${p.routing_key_env}"
            )
        dedup = p.dedup_key or dedup_key_for(ctx.run_id, p.key)
        payload: dict[str, Any] | None = None
        if p.event_action == "trigger":
            if not p.summary:
                return _util.finish(ctx, results.Outcome.ERROR, "a trigger event needs a `summary`")
            payload = {"summary": _util.cut_head(p.summary, SUMMARY_MAX), "source": p.source, "severity": p.severity}
            for name in ("component", "group"):
                if getattr(p, name):
                    payload[name] = getattr(p, name)
            if p.custom_details:
                payload["custom_details"] = p.custom_details
        try:
            async with _request.http_client(ctx) as client:
                answered = await send_event(
                    client,
                    url=p.url,
                    routing_key=routing_key,
                    event_action=p.event_action,
                    dedup_key=dedup,
                    payload=payload,
                    timeout=p.timeout,
                )
        except exceptions.GoliveError as exc:
            return _util.finish(ctx, results.Outcome.ERROR, f"PagerDuty {p.event_action} failed: {exc.message}")
        output = {"event_action": p.event_action, "dedup_key": answered}
        if answered != dedup:
            return _util.finish(
                ctx, results.Outcome.FAIL, f"PagerDuty answered dedup key {answered!r}, not {dedup!r}", output=output
            )
        return _util.finish(ctx, results.Outcome.PASS, f"PagerDuty {p.event_action}: {dedup}", output=output)

    def describe(self, ctx: base.StepContext) -> str:
        p: PagerDutyParams = ctx.params
        dedup = p.dedup_key or dedup_key_for(ctx.run_id, p.key)
        return ctx.redact(
            f"would send a PagerDuty {p.event_action} for {dedup}" + (f": {p.summary}" if p.summary else "")
        )

"""``statuspage``: Atlassian Statuspage incidents and scheduled maintenances, with component statuses.

``POST /v1/pages/{page_id}/incidents`` creates an incident (or, with ``status: scheduled`` and
``scheduled_for``/``scheduled_until``, a scheduled maintenance); ``PATCH .../incidents/{incident_id}``
updates or resolves it. Bodies are ``{"incident": {...}}``; the API key goes in ``Authorization: OAuth <key>``.
Every write is read back (``GET .../incidents/{incident_id}``): the incident's status and each named
component's status must be what was asked for.
"""

from __future__ import annotations

import os
import urllib.parse
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator

from golive import exceptions, results
from golive.plugins import _http, _request, _util, base

__all__ = ["StatuspageAction", "StatuspageParams"]

DEFAULT_STATUSPAGE_URL = "https://api.statuspage.io"
STATUSPAGE_TIMEOUT = 15.0  # seconds per call

Op = Literal[
    "create_incident", "update_incident", "resolve_incident", "schedule_maintenance", "start_maintenance",
    "complete_maintenance",
]  # fmt: skip
IncidentStatus = Literal[
    "investigating", "identified", "monitoring", "resolved", "scheduled", "in_progress", "verifying", "completed"
]
ComponentStatus = Literal["operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage"]
Impact = Literal["none", "maintenance", "minor", "major", "critical"]

_DEFAULT_STATUS: dict[str, IncidentStatus | None] = {
    "create_incident": "investigating",
    "update_incident": None,
    "resolve_incident": "resolved",
    "schedule_maintenance": "scheduled",
    "start_maintenance": "in_progress",
    "complete_maintenance": "completed",
}
_CREATES = ("create_incident", "schedule_maintenance")


class StatuspageParams(base.Params):
    """One change to a Statuspage incident or maintenance."""

    op: Op = Field(
        description="create_incident, update_incident, resolve_incident, schedule_maintenance, start_maintenance "
        "or complete_maintenance."
    )
    page_id: str = Field(min_length=1, description="The page's id.")
    incident_id: str | None = Field(
        default=None,
        description="The incident or maintenance to change (all ops but the creates), e.g. "
        "`${{ steps.open_incident.output.incident_id }}`.",
    )
    name: str | None = Field(default=None, description="Title (the creates).")
    body: str | None = Field(default=None, description="The update's message to subscribers.")
    status: IncidentStatus | None = Field(
        default=None,
        description="Incident status (default by op: investigating, unchanged, resolved, scheduled, in_progress, "
        "completed).",
    )
    components: dict[str, ComponentStatus] = Field(
        default_factory=dict,
        description="Component id -> status, e.g. {8kbf7d35c070: under_maintenance}; set them back to operational "
        "when resolving.",
    )
    impact: Impact | None = Field(
        default=None, description="Impact override: none, maintenance, minor, major, critical."
    )
    scheduled_for: datetime | None = Field(default=None, description="Maintenance start (schedule_maintenance).")
    scheduled_until: datetime | None = Field(default=None, description="Maintenance end (schedule_maintenance).")
    auto_transition: bool = Field(
        default=False, description="Maintenance moves to in progress and completed on its own at its times."
    )
    deliver_notifications: bool = Field(default=True, description="Notify the page's subscribers.")
    url: str = Field(default=DEFAULT_STATUSPAGE_URL, description="API base URL (without /v1).")
    api_key: SecretStr | None = Field(default=None, description="API key, usually `${{ secrets.statuspage_key }}`.")
    api_key_env: str = Field(
        default="STATUSPAGE_API_KEY", description="Environment variable holding the key when no `api_key`."
    )
    timeout: _util.Duration = Field(default=STATUSPAGE_TIMEOUT, description="Time limit per call.")

    @model_validator(mode="after")
    def _shape(self) -> StatuspageParams:
        if self.op in _CREATES:
            if not self.name:
                raise ValueError(f"{self.op} needs a `name`")
            if self.incident_id is not None:
                raise ValueError(f"{self.op} creates an incident: drop `incident_id`")
        elif not self.incident_id:
            raise ValueError(f"{self.op} needs the `incident_id` to change")
        if self.op == "schedule_maintenance":
            if self.scheduled_for is None or self.scheduled_until is None:
                raise ValueError("schedule_maintenance needs `scheduled_for` and `scheduled_until`")
            if self.scheduled_until <= self.scheduled_for:
                raise ValueError("`scheduled_until` must be after `scheduled_for`")
        return self


def _iso(when: datetime) -> str:
    """``2026-12-04T22:00:00Z``; a time without a zone is taken as UTC."""
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return f"{aware.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def _incident_body(p: StatuspageParams) -> dict[str, Any]:
    inc: dict[str, Any] = {}
    status = p.status or _DEFAULT_STATUS[p.op]
    if p.name:
        inc["name"] = p.name
    if status:
        inc["status"] = status
    if p.body:
        inc["body"] = p.body
    if p.components:
        inc["components"] = dict(p.components)
        inc["component_ids"] = sorted(p.components)
    if p.impact:
        inc["impact_override"] = p.impact
    if p.op == "schedule_maintenance":
        assert p.scheduled_for is not None
        assert p.scheduled_until is not None
        inc["scheduled_for"] = _iso(p.scheduled_for)
        inc["scheduled_until"] = _iso(p.scheduled_until)
        inc["scheduled_auto_in_progress"] = p.auto_transition
        inc["scheduled_auto_completed"] = p.auto_transition
    inc["deliver_notifications"] = p.deliver_notifications
    return {"incident": inc}


class StatuspageAction(base.ActionPlugin):
    """Create, update or resolve a Statuspage incident or maintenance; confirmed by reading it back."""

    name = "statuspage"
    params = StatuspageParams
    description = (
        "Atlassian Statuspage: incidents and scheduled maintenances (create, update, resolve), with component statuses."
    )

    async def run(self, ctx: base.StepContext) -> results.Result:
        p: StatuspageParams = ctx.params
        key = p.api_key.get_secret_value() if p.api_key else os.environ.get(p.api_key_env)
        if not key:
            return _util.finish(ctx, results.Outcome.ERROR, f"no Statuspage API key: set `api_key` or ${p.api_key_env}")
        headers = {"Authorization": f"OAuth {key}", "Accept": "application/json"}
        page = urllib.parse.quote(p.page_id, safe="")
        base_url = f"{p.url.rstrip('/')}/v1/pages/{page}/incidents"
        try:
            async with _request.http_client(ctx) as client:
                if p.op in _CREATES:
                    resp = await self._call(client, "POST", base_url, headers, p, _incident_body(p), (201, 200))
                else:
                    url = f"{base_url}/{urllib.parse.quote(p.incident_id or '', safe='')}"
                    resp = await self._call(client, "PATCH", url, headers, p, _incident_body(p), (200,))
                incident_id = self._field(resp, "id")
                back = await self._call(
                    client, "GET", f"{base_url}/{urllib.parse.quote(incident_id, safe='')}", headers, p, None, (200,)
                )
        except exceptions.GoliveError as exc:
            return _util.finish(ctx, results.Outcome.ERROR, f"Statuspage {p.op} failed: {exc.message}")
        doc = back.json()
        got_components = {
            str(c.get("id")): str(c.get("status")) for c in doc.get("components") or [] if isinstance(c, dict)
        }
        output = {
            "incident_id": incident_id,
            "status": doc.get("status"),
            "shortlink": doc.get("shortlink"),
            "components": got_components,
        }
        want = p.status or _DEFAULT_STATUS[p.op]
        problems = []
        if want and doc.get("status") != want:
            problems.append(f"status reads back {doc.get('status')!r}, not {want!r}")
        for cid, status in p.components.items():
            if got_components.get(cid) != status:
                problems.append(f"component {cid} reads back {got_components.get(cid)!r}, not {status!r}")
        if problems:
            return _util.finish(ctx, results.Outcome.FAIL, f"Statuspage {p.op}: " + "; ".join(problems), output=output)
        what = "maintenance" if "maintenance" in p.op else "incident"
        comps = f", {len(p.components)} component(s) set" if p.components else ""
        return _util.finish(
            ctx,
            results.Outcome.PASS,
            f"{p.op.replace('_', ' ')}: {what} {incident_id} is {doc.get('status')}{comps}",
            output=output,
        )

    @staticmethod
    def _field(resp: _http.HttpResponse, name: str) -> str:
        try:
            value = resp.json()[name]
        except (ValueError, KeyError, TypeError):
            raise exceptions.PluginError(f"the answer has no incident {name}") from None
        return str(value)

    @staticmethod
    async def _call(
        client: _http.HttpClient,
        method: str,
        url: str,
        headers: dict[str, str],
        p: StatuspageParams,
        body: Any,
        ok: tuple[int, ...],
    ) -> _http.HttpResponse:
        kwargs: dict[str, Any] = {} if body is None else {"json": body}
        try:
            resp = await client.request(method, url, headers=headers, timeout=p.timeout, **kwargs)
        except _http.HttpFailure as exc:
            raise exceptions.PluginError(exc.message) from None
        if resp.status not in ok:
            detail = _util.cut_head(resp.text().strip().replace("\n", " "), 200)
            raise exceptions.PluginError(
                f"{method} {url} answered status {resp.status}" + (f": {detail}" if detail else "")
            )
        try:
            resp.json()
        except ValueError as exc:
            raise exceptions.PluginError(f"{method} {url}: {exc}") from None
        return resp

    def describe(self, ctx: base.StepContext) -> str:
        p: StatuspageParams = ctx.params
        target = p.name if p.op in _CREATES else p.incident_id
        comps = f" with components {dict(p.components)}" if p.components else ""
        return ctx.redact(f"would {p.op.replace('_', ' ')} on Statuspage page {p.page_id}: {target}{comps}")

"""Change records in ServiceNow (Table API, ``change_request``) and Jira (REST API v3 issues), one shape.

ServiceNow
  read   ``GET /api/now/table/change_request?sysparm_query=number=<CHG>&sysparm_display_value=false``
         -> ``{"result": [{"sys_id", "number", "state", "approval", "start_date", "end_date", ...}]}``;
         ``approval`` is ``approved`` once approved; ``state`` -2 Scheduled, -1 Implement, 0 Review,
         3 Closed, 4 Canceled; dates are UTC ``YYYY-MM-DD HH:MM:SS`` (display values off).
  close  ``PATCH /api/now/table/change_request/<sys_id>`` with ``state``, ``close_code``, ``close_notes``.
Jira
  read   ``GET /rest/api/3/issue/<KEY>?fields=status,summary,<start>,<end>`` -> ``fields.status.name`` and the
         planned window in two date-time fields (custom fields in Jira Service Management).
  close  ``POST /rest/api/3/issue/<KEY>/comment`` (an Atlassian Document Format body), then
         ``GET``/``POST /rest/api/3/issue/<KEY>/transitions`` to the closing transition.

Every failure (no answer, an unexpected status, an unexpected body) raises
:class:`golive.exceptions.PluginError` with a message that holds no credential.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator

from golive import clock as clock_mod
from golive import exceptions
from golive.plugins import _http, _request, _util, base

__all__ = ["ChangeParams", "ChangeRecord", "close", "read"]

System = Literal["servicenow", "jira"]
CHANGE_HTTP_TIMEOUT = 15.0  # seconds per call to a change system
SN_FIELDS = "sys_id,number,state,approval,start_date,end_date,short_description"
SN_STATES = {"-5": "New", "-4": "Assess", "-3": "Authorize", "-2": "Scheduled", "-1": "Implement", "0": "Review",
             "3": "Closed", "4": "Canceled"}  # fmt: skip


class ChangeParams(base.Params):
    """Where the change record is and how to sign in."""

    system: System = Field(description="servicenow (a change request) or jira (an issue).")
    url: str = Field(description="Instance URL, e.g. https://acme.service-now.com or https://acme.atlassian.net.")
    record: str = Field(min_length=1, description="The change request number (CHG0030001) or issue key (OPS-123).")
    username: str | None = Field(default=None, description="User for basic auth (Jira Cloud: the account e-mail).")
    password: SecretStr | None = Field(
        default=None, description="Password (ServiceNow) or API token (Jira Cloud) for basic auth; never shown."
    )
    bearer: SecretStr | None = Field(
        default=None, description="Bearer token instead (ServiceNow OAuth, Jira personal access token); never shown."
    )
    timeout: _util.Duration = Field(default=CHANGE_HTTP_TIMEOUT, description="Time limit per call.")
    verify_tls: bool = Field(default=True, description="Verify the server certificate.")
    ca_file: str | None = Field(default=None, description="PEM file of CA certificates to trust.")

    @model_validator(mode="after")
    def _auth(self) -> ChangeParams:
        if self.bearer is not None and (self.username is not None or self.password is not None):
            raise ValueError("give either `bearer` or `username` + `password`, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("basic auth needs both `username` and `password`")
        if self.bearer is None and self.username is None:
            raise ValueError("give credentials: `username` + `password` (or API token), or `bearer`")
        return self


@dataclass(frozen=True)
class ChangeRecord:
    """What golive needs to know about a change record."""

    system: str
    record: str
    ref: str  # ServiceNow sys_id or Jira key: what a write addresses
    approved_by_field: str  # ServiceNow `approval`, Jira status name
    state: str
    start: datetime | None
    end: datetime | None
    title: str

    def as_output(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "record": self.record,
            "approval": self.approved_by_field,
            "state": self.state,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "title": self.title,
        }


def _headers(p: ChangeParams) -> tuple[dict[str, str], tuple[str, str] | None]:
    headers = {"Accept": "application/json"}
    if p.bearer is not None:
        headers["Authorization"] = f"Bearer {p.bearer.get_secret_value()}"
        return headers, None
    if p.username is None or p.password is None:  # the params validator already refuses this
        raise exceptions.PluginError("no credentials for the change system")
    return headers, (p.username, p.password.get_secret_value())


async def _call(
    ctx: base.StepContext,
    p: ChangeParams,
    method: str,
    path: str,
    *,
    json_body: Any = None,
    ok: tuple[int, ...] = (200,),
) -> _http.HttpResponse:
    headers, basic = _headers(p)
    url = f"{p.url.rstrip('/')}{path}"
    tls = _http.TlsOptions(verify=p.verify_tls, ca_file=str(_util.resolve_path(ctx, p.ca_file)) if p.ca_file else None)
    kwargs: dict[str, Any] = {} if json_body is None else {"json": json_body}
    async with _request.http_client(ctx) as client:
        try:
            resp = await client.request(
                method, url, headers=headers, basic_auth=basic, timeout=p.timeout, tls=tls, **kwargs
            )
        except _http.HttpFailure as exc:
            raise exceptions.PluginError(exc.message) from None
    if resp.status not in ok:
        detail = _util.cut_head(resp.text().strip().replace("\n", " "), 200)
        raise exceptions.PluginError(
            f"{method} {url.split('?', 1)[0]} answered status {resp.status}" + (f": {detail}" if detail else "")
        )
    return resp


def _json(resp: _http.HttpResponse, what: str) -> Any:
    try:
        return resp.json()
    except ValueError as exc:
        raise exceptions.PluginError(f"{what}: {exc}") from None


def parse_time(value: Any, what: str) -> datetime | None:
    """ServiceNow ``2026-12-04 22:00:00`` (UTC) or Jira ``2026-12-04T22:00:00.000+0000``; empty is None."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    try:
        return clock_mod.parse_time(text)
    except ValueError:
        raise exceptions.PluginError(f"{what}: {text!r} is not a date and time") from None


async def read(
    ctx: base.StepContext, p: ChangeParams, *, start_field: str | None = None, end_field: str | None = None
) -> ChangeRecord:
    """The change record, or :class:`golive.exceptions.PluginError` (not found included)."""
    if p.system == "servicenow":
        query = urllib.parse.urlencode(
            {
                "sysparm_query": f"number={p.record}",
                "sysparm_fields": SN_FIELDS,
                "sysparm_limit": "1",
                "sysparm_display_value": "false",
            }
        )
        doc = _json(await _call(ctx, p, "GET", f"/api/now/table/change_request?{query}"), p.record)
        rows = doc.get("result") if isinstance(doc, dict) else None
        if not isinstance(rows, list):
            raise exceptions.PluginError(f"unexpected ServiceNow answer for {p.record}")
        if not rows:
            raise exceptions.PluginError(f"ServiceNow has no change request {p.record}")
        row = rows[0]
        if not isinstance(row, dict) or str(row.get("number")) != p.record:
            # The record is matched by an encoded query: one with query syntax in it ("^OR...") could match another
            # change. Only the record named is ever judged.
            raise exceptions.PluginError(
                f"ServiceNow answered {row.get('number') if isinstance(row, dict) else 'no record'!s} for {p.record}; "
                "give the change number alone (e.g. CHG0030001)"
            )
        state = str(row.get("state", ""))
        return ChangeRecord(
            system="servicenow",
            record=p.record,
            ref=str(row.get("sys_id", "")),
            approved_by_field=str(row.get("approval", "")),
            state=f"{SN_STATES.get(state, state)} ({state})" if state in SN_STATES else state,
            start=parse_time(row.get("start_date"), f"{p.record} start_date"),
            end=parse_time(row.get("end_date"), f"{p.record} end_date"),
            title=str(row.get("short_description", "")),
        )
    fields = ",".join(f for f in ("status", "summary", start_field, end_field) if f)
    key = urllib.parse.quote(p.record, safe="")
    resp = await _call(
        ctx, p, "GET", f"/rest/api/3/issue/{key}?{urllib.parse.urlencode({'fields': fields})}", ok=(200, 404)
    )
    doc = _json(resp, p.record)
    if resp.status == 404:
        raise exceptions.PluginError(f"Jira has no issue {p.record} (or the account may not see it)")
    try:
        f = doc["fields"]
        status = str(f["status"]["name"])
    except (KeyError, TypeError):
        raise exceptions.PluginError(f"unexpected Jira answer for {p.record}") from None
    return ChangeRecord(
        system="jira",
        record=str(doc.get("key", p.record)),
        ref=str(doc.get("key", p.record)),
        approved_by_field=status,
        state=status,
        start=parse_time(f.get(start_field), f"{p.record} {start_field}") if start_field else None,
        end=parse_time(f.get(end_field), f"{p.record} {end_field}") if end_field else None,
        title=str(f.get("summary", "")),
    )


def _adf(text: str) -> dict[str, Any]:
    """Plain text as an Atlassian Document Format document: one paragraph per line."""
    paragraphs = [
        {"type": "paragraph", "content": [{"type": "text", "text": line}]} for line in text.splitlines() if line.strip()
    ]
    return {"type": "doc", "version": 1, "content": paragraphs}


async def close(
    ctx: base.StepContext, p: ChangeParams, rec: ChangeRecord, *, notes: str, successful: bool, transition: str
) -> tuple[str, str]:
    """Post ``notes`` to the record and close it; the state read back afterwards and the state expected."""
    if p.system == "servicenow":
        body = {
            "state": "3",
            "close_code": "successful" if successful else "unsuccessful",
            "close_notes": notes,
        }
        sys_id = urllib.parse.quote(rec.ref, safe="")
        path = f"/api/now/table/change_request/{sys_id}?sysparm_display_value=false&sysparm_fields={SN_FIELDS}"
        doc = _json(await _call(ctx, p, "PATCH", path, json_body=body), rec.record)
        state = str((doc.get("result") or {}).get("state", "")) if isinstance(doc, dict) else ""
        again = await read(ctx, p)
        return (again.state or state), "Closed (3)"
    key = urllib.parse.quote(rec.ref, safe="")
    await _call(ctx, p, "POST", f"/rest/api/3/issue/{key}/comment", json_body={"body": _adf(notes)}, ok=(201,))
    doc = _json(await _call(ctx, p, "GET", f"/rest/api/3/issue/{key}/transitions"), rec.record)
    options = doc.get("transitions") if isinstance(doc, dict) else None
    if not isinstance(options, list):
        raise exceptions.PluginError(f"unexpected Jira answer listing the transitions of {rec.record}")
    want = transition.strip().lower()
    chosen = next(
        (
            t
            for t in options
            if isinstance(t, dict)
            and (str(t.get("name", "")).lower() == want or str((t.get("to") or {}).get("name", "")).lower() == want)
        ),
        None,
    )
    if chosen is None:
        names = ", ".join(str(t.get("name")) for t in options if isinstance(t, dict)) or "none"
        raise exceptions.PluginError(f"{rec.record} has no transition {transition!r} now (available: {names})")
    await _call(
        ctx,
        p,
        "POST",
        f"/rest/api/3/issue/{key}/transitions",
        json_body={"transition": {"id": str(chosen["id"])}},
        ok=(204,),
    )
    target = str((chosen.get("to") or {}).get("name") or chosen.get("name") or transition)
    return (await read(ctx, p)).state, target

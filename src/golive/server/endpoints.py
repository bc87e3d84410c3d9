"""The route table: every API and dashboard-fragment route declared once, with its handler, access level,
body and response models, parameters and error codes.

The app (golive.server.app) makes its routes from :func:`table` and golive.server.openapi makes the OpenAPI
document from the same list, so a route cannot exist undocumented and a documented route cannot be missing.
Path and query parameters shared by several routes are declared here once.
"""

from __future__ import annotations

from golive.server import exports, handlers, openapi, schemas
from golive.server.call import Call

__all__ = ["table"]

_RUN = "/api/v1/runs/{run_id}"
_AFTER = openapi.Param("after", "query", "Replay events after this seq (Last-Event-ID wins when both are sent).")
_LEI = openapi.Param("Last-Event-ID", "header", "Resume after this event seq (sent by EventSource on reconnect).")
_TICKET = openapi.Param("ticket", "query", "An SSE ticket, for clients that cannot send headers (EventSource).")


def table() -> list[openapi.Endpoint[Call]]:
    """Every API and dashboard-fragment route, in the order the document lists them."""
    E = openapi.Endpoint[Call]
    h = handlers
    s = schemas
    return [
        E("GET", "/health", "health", "Liveness", h.health, access="public", response=s.Health, tag="server"),
        E("GET", "/api/v1/openapi.json", "openapi", "This document", h.get_openapi, tag="server"),
        E("GET", "/api/v1/me", "me", "Who the token speaks for", h.me, response=s.Me, tag="server"),
        E(
            "GET",
            "/api/v1/runbooks",
            "listRunbooks",
            "List runbook files that runs can be started from",
            h.list_runbooks,
            response=s.RunbookList,
        ),
        E(
            "GET",
            "/api/v1/runs",
            "listRuns",
            "List runs, newest first",
            h.list_runs,
            response=s.RunList,
            params=(
                openapi.Param(
                    "limit",
                    "query",
                    "How many runs (1-500, default 50).",
                    {"type": "integer", "minimum": 1, "maximum": 500},
                ),
            ),
            errors=(422,),
        ),
        E(
            "POST",
            "/api/v1/runs",
            "startRun",
            "Start a run",
            h.start_run,
            access="start",
            body=s.StartRunRequest,
            response=s.StartRunResult,
            status=201,
            errors=(400, 404),
            description="Creates the run and drives it in the server process; acts then come through this API or the CLI.",
        ),
        E("GET", _RUN, "getRun", "A run as plain data", h.get_run, response=s.RunSummary, errors=(404,)),
        E(
            "GET",
            _RUN + "/events",
            "streamEvents",
            "Follow a run's events (SSE)",
            h.stream_events,
            media_type="text/event-stream",
            params=(_AFTER, _LEI, _TICKET),
            errors=(404, 422),
            description="Authenticate with the bearer header, or with ?ticket= from POST .../events/ticket.",
        ),
        E(
            "POST",
            _RUN + "/events/ticket",
            "issueTicket",
            "Get a short-lived ticket to open the event stream from a browser",
            h.issue_ticket,
            response=s.Ticket,
            errors=(404,),
        ),
        E(
            "POST",
            _RUN + "/assign",
            "assign",
            "Assign people to roles",
            h.assign,
            access="act",
            body=s.AssignRequest,
            response=s.ActResult,
            errors=(400, 404),
        ),
        E(
            "POST",
            _RUN + "/steps/{step_id}/confirm",
            "confirm",
            "Confirm or fail a manual step",
            h.confirm,
            access="act",
            body=s.ConfirmRequest,
            response=s.ActResult,
            errors=(400, 404, 411, 413),
            alt_body_media=("multipart/form-data",),
        ),
        E(
            "POST",
            _RUN + "/decide",
            "decide",
            "Record GO or NO-GO",
            h.decide,
            access="act",
            body=s.DecideRequest,
            response=s.ActResult,
            errors=(400, 404),
        ),
        E(
            "POST",
            _RUN + "/steps/{step_id}/waive",
            "waive",
            "Waive a step",
            h.waive,
            access="act",
            body=s.WaiveRequest,
            response=s.ActResult,
            errors=(400, 404),
        ),
        E(
            "POST",
            _RUN + "/links/open",
            "openLink",
            "Open an approval link",
            h.open_link,
            access="act",
            body=s.OpenLinkRequest,
            response=s.LinkOpened,
            errors=(404,),
            description="The signed-in person opens a link sent to them (once, before it expires); it shows the act "
            "and never acts.",
        ),
        E(
            "POST",
            _RUN + "/steps/{step_id}/resolve",
            "resolve",
            "Resolve an action left unknown by a crash",
            h.resolve,
            access="act",
            body=s.ResolveRequest,
            response=s.ActResult,
            errors=(400, 404),
        ),
        E(
            "POST",
            _RUN + "/rollback",
            "rollback",
            "Start the rollback",
            h.rollback,
            access="act",
            body=s.RollbackRequest,
            response=s.ActResult,
            status=202,
            errors=(400, 404),
        ),
        E(
            "POST",
            _RUN + "/signoff",
            "signoff",
            "Sign off an area",
            h.signoff,
            access="act",
            body=s.SignoffRequest,
            response=s.ActResult,
            errors=(400, 404),
        ),
        E(
            "GET",
            _RUN + "/verify",
            "verifyRun",
            "Verify the run's event hash chain",
            h.verify,
            response=s.VerifyResult,
            errors=(404,),
        ),
        E(
            "GET",
            _RUN + "/report.{fmt}",
            "getReport",
            "Download the run's report",
            h.report,
            media_type="application/octet-stream",
            params=(
                openapi.Param(
                    "fmt", "path", "Report format.", {"type": "string", "enum": list(exports.REPORT_FORMATS)}, True
                ),
            ),
            errors=(404, 501),
        ),
        E(
            "GET",
            _RUN + "/evidence.zip",
            "getEvidencePack",
            "Download the run's evidence pack",
            h.evidence_pack,
            media_type="application/zip",
            errors=(404, 501),
        ),
        E(
            "GET",
            _RUN + "/blobs/{digest}",
            "getEvidenceFile",
            "Download one evidence file of the run",
            h.blob,
            params=(openapi.Param("digest", "path", "The file's sha256 (hex).", required=True),),
            errors=(404,),
            media_type="application/octet-stream",
        ),
        E(
            "GET",
            "/ui/runs",
            "uiRuns",
            "Dashboard fragment: the runs list",
            h.ui_runs,
            media_type="text/html",
            tag="dashboard",
        ),
        E(
            "GET",
            "/ui/runs/{run_id}",
            "uiRun",
            "Dashboard fragment: one run's panels",
            h.ui_run,
            media_type="text/html",
            errors=(404,),
            tag="dashboard",
        ),
    ]

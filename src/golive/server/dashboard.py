"""The war-room dashboard: server-rendered HTML (Jinja2), one small script and one stylesheet, no CDN.

Pages (``/``, ``/runs/{id}``) are shells with a login form and no run data. The script keeps the token in
sessionStorage, fetches the HTML fragments below ``/ui`` with it, and on each event from the run's SSE stream
fetches the run fragment again and swaps only the panels that changed. Everything a person reads is rendered
here, once, on the server; buttons for acts are shown to the people the run's state names (the holder of
the decision's role sees GO/NO-GO), and the server still checks every act with the shared rules.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from golive.engine import acts
from golive.server import auth
from golive.spec import models
from golive.views import format as fmt
from golive.views import summary
from golive.views.model import PendingView, Summary

__all__ = ["CSP", "Perspective", "fragment", "page_routes", "render_run", "render_runs", "sparkline"]

# No inline script or style anywhere: every script and stylesheet comes from /static on this server.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
STATIC_DIR = Path(__file__).resolve().parent / "static"
SPARK_WIDTH = 120  # px
SPARK_HEIGHT = 28  # px
SPARK_POINTS = 60  # most recent values drawn

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("golive.server", "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    # Lenient: summaries leave optional keys out (a release without a tag), and a missing key reads as empty.
    undefined=jinja2.Undefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _asset_version() -> str:
    """A digest of the static files, appended to their URLs so a new build is never served from cache."""
    h = hashlib.sha256()
    for p in sorted(STATIC_DIR.glob("*")):
        if p.is_file():
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:12]


ASSET_VERSION = _asset_version()


def sparkline(history: Any, width: int = SPARK_WIDTH, height: int = SPARK_HEIGHT, label: str = "") -> Markup:
    """An inline SVG polyline of a trigger's recent numeric values (empty when fewer than two)."""
    values: list[float] = []
    for item in history or []:
        v = item[1] if isinstance(item, list | tuple) and len(item) >= 2 else item
        if isinstance(v, int | float) and not isinstance(v, bool):
            values.append(float(v))
    values = values[-SPARK_POINTS:]
    if len(values) < 2:
        return Markup('<span class="spark-empty">no data yet</span>')
    lo, hi = min(values), max(values)
    span = hi - lo or 1.0
    pad = 2.0
    step = (width - 2 * pad) / (len(values) - 1)
    points = " ".join(
        f"{pad + i * step:.1f},{height - pad - (v - lo) / span * (height - 2 * pad):.1f}" for i, v in enumerate(values)
    )
    last_x, last_y = points.rsplit(" ", 1)[-1].split(",")
    title = escape(f"{label}: last {values[-1]:g}, min {lo:g}, max {hi:g}")
    return Markup(
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{title}"><title>{title}</title>'
        f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{points}"/>'
        f'<circle cx="{last_x}" cy="{last_y}" r="2" fill="currentColor"/></svg>'
    )


def _badge(value: Any) -> str:
    return str(value or "pending").lower().replace("_", "-")


_env.filters["clock"] = fmt.time_of_day
_env.filters["duration"] = fmt.duration_text
_env.filters["badge"] = _badge
_env.globals["sparkline"] = sparkline
_env.globals["asset_version"] = ASSET_VERSION


def fragment(html: str) -> HTMLResponse:
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def render_runs(rows: list[dict[str, Any]], principal: auth.Principal) -> str:
    return _env.get_template("runs.html").render(runs=rows, viewer=principal)


@dataclass(frozen=True, slots=True)
class Perspective:
    """All that makes one viewer's run fragment differ from another's: whether the token may act, and
    which runbook roles the user holds in this run. Viewers with the same perspective share one render."""

    can_act: bool
    held: frozenset[str]

    @classmethod
    def of(cls, h: acts.RunHandle, principal: auth.Principal) -> Perspective:
        return cls(principal.can_act, frozenset(r for r, p in h.state.roles.items() if p == principal.user))

    def holds(self, role: str | None) -> bool:
        return self.can_act and role is not None and role in self.held


def _decision_view(h: acts.RunHandle, step: models.Step, viewer: Perspective) -> dict[str, Any]:
    s = h.state.step(step.id)
    blockers = acts.decision_blockers(h, step)
    q = step.quorum
    # Approve GO for the approving roles, never for a holder of an excluded role (the deployer); the rule
    # still judges the person (the run's starter, the performer of the change).
    approves = q is not None and any(viewer.holds(r) for r in q.of) and not any(viewer.holds(r) for r in q.not_)
    return {
        "id": step.id,
        "title": step.title or step.id,
        "role": step.role,
        "holder": h.state.roles.get(step.role or ""),
        "deadline": s.deadline,
        "default": s.default or step.default,
        "statement": step.statement,
        "requires": list(step.requires),
        # Each requirement, green or not right now (a blocker names it as 'phase ...' or 'step ...').
        "requirements": [{"id": r, "green": not any(f"{r!r}" in b for b in blockers)} for r in step.requires],
        # The same function the rule uses, so the button and the rule can never disagree.
        "blockers": blockers,
        # Under a quorum NO-GO stays the deciding role's (its veto); GO is each approver's.
        "mine": viewer.holds(step.role) or approves,
        "veto": viewer.holds(step.role),
        "approves": approves,
        "quorum": summary.quorum_state(h, step, "go"),
    }


def render_run(h: acts.RunHandle, data: Summary, viewer: Perspective) -> str:
    """The run's panels as ``viewer`` sees them."""
    rb = h.runbook
    decisions = []
    manual = []
    unknown = []
    rolling = data["status"] in ("rolling_back", "rolled_back", "rolled_back_after_go")
    final = data["status"] in ("passed", "no_go", "rolled_back", "rolled_back_after_go", "stopped", "failed")
    # Once the run has ended or is rolling back, nobody is waited for any more (the engine stopped waiting).
    pending: list[PendingView] = [] if rolling or final else data["pending"]
    for item in pending:
        step = rb.step(item["id"])
        if step is None:
            continue
        if item["waiting_for"] == "decision" and step.kind is models.StepKind.DECISION:
            decisions.append(_decision_view(h, step, viewer))
        elif item["waiting_for"] == "pause":
            # A trigger paused an observe window: a GO / NO-GO for the roles that decide (never an "unknown
            # outcome" for whoever watches the window), from the same description the CLI and the API give.
            w = item["wait"] or {}
            deciders = list(w["roles"] or [])
            decisions.append(
                {
                    "id": step.id,
                    "title": f"Paused: {step.title or step.id}",
                    "role": " or ".join(deciders),
                    "holder": ", ".join(p for p in (w["holders"] or {}).values() if p),
                    "deadline": w["deadline"],
                    "default": w["default"],
                    "statement": None,
                    "requires": [],
                    "blockers": [],
                    "mine": any(viewer.holds(r) for r in deciders),
                    "wait": w,
                }
            )
        elif item["waiting_for"] == "manual":
            manual.append(
                {
                    **item,
                    "instructions": step.instructions,
                    "inputs": [i.model_dump() for i in step.inputs],
                    "needs_evidence": [e.name for e in step.evidence if e.required],
                    "mine": viewer.holds(step.role),
                }
            )
        else:
            unknown.append({**item, "mine": any(viewer.holds(r) for r in acts.resolver_roles(h, step))})
    confirmers = rb.roles_with("decide") | rb.roles_with("rollback")
    follow_ups = [
        {
            **f,
            "mine": f["status"] == "due"
            and (viewer.holds(f["role"]) if f["role"] else any(viewer.holds(r) for r in confirmers)),
        }
        for f in data["follow_ups"] or []
        if f["status"] != "not-due"
    ]
    area_roles = {a.id: a.role for a in rb.signoff.areas}
    signoffs = [
        {
            "id": area,
            **info,
            "role": area_roles.get(area),
            "holder": h.state.roles.get(area_roles.get(area) or "") if area_roles.get(area) else None,
            "mine": info.get("status") == "pending"
            and (viewer.can_act if area_roles.get(area) is None else viewer.holds(area_roles.get(area))),
        }
        for area, info in data["signoffs"].items()
    ]
    signers = {r for r in area_roles.values() if r} | rb.roles_with("signoff")
    field_roles = {f.id: f.role for f in rb.signoff.fields}
    signoff_fields = [
        {
            **f,
            "mine": viewer.holds(field_roles[f["id"]])
            if field_roles.get(f["id"])
            else any(viewer.holds(r) for r in signers),
        }
        for f in data["signoff_fields"] or []
    ]
    evidence = []
    for ph in data["phases"]:
        for s in ph["steps"]:
            for ev in s["evidence"] or []:
                if isinstance(ev, dict) and ev.get("sha256"):
                    evidence.append({**ev, "step": s["id"]})
    for s in data["rollback_steps"]:
        for ev in s["evidence"] or []:
            if isinstance(ev, dict) and ev.get("sha256"):
                evidence.append({**ev, "step": s["id"]})
    timeline = []
    for ph in data["phases"]:
        timeline.append(
            {"kind": "phase", "title": ph["title"], "planned": ph["planned_at"], "t": ph["t"], "outcome": ph["outcome"]}
        )
        for s in ph["steps"]:
            if s.get("planned_at") or s["kind"] in ("decision",):
                timeline.append(
                    {
                        "kind": s["kind"],
                        "title": s["title"],
                        "planned": s.get("planned_at"),
                        "t": s["t"],
                        "outcome": s.get("decision") or s["outcome"] or s["status"],
                        "actor": s.get("actor") if s["kind"] in ("manual", "decision") else None,
                        "auth": s.get("auth"),
                        "auth_subject": s.get("auth_subject"),
                    }
                )
    rbk = data["rollback"]
    if rbk:
        timeline.append(
            {
                "kind": "rollback",
                "title": f"Rollback: {rbk['reason'] or ''}",
                "planned": None,
                "t": summary.tminus(h, rbk["started_at"]),
                "outcome": rbk["outcome"] or "running",
            }
        )
    return _env.get_template("run.html").render(
        run=data,
        viewer=viewer,
        held=sorted(viewer.held),
        decisions=decisions,
        manual=manual,
        unknown=unknown,
        signoffs=signoffs,
        signoff_fields=signoff_fields,
        signoff_fields_mine=any(f["mine"] for f in signoff_fields),
        follow_ups=follow_ups,
        evidence=evidence,
        timeline=timeline,
        can_rollback=viewer.can_act
        and bool(viewer.held)
        and not rolling
        and not (final and data["status"] != "passed"),
        can_assign=viewer.can_act,
        ended=final,
        rolling_back=data["status"] == "rolling_back",
        role_names=sorted(rb.roles),
    )


# --- pages (shells: no run data) ----------------------------------------------------------------------------


def _page(request: Request, page: str, run_id: str = "") -> Response:
    html = _env.get_template("page.html").render(page=page, run_id=run_id)
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


async def runs_page(request: Request) -> Response:
    return _page(request, "runs")


async def run_page(request: Request) -> Response:
    return _page(request, "run", str(request.path_params["run_id"]))


def page_routes() -> list[BaseRoute]:
    return [
        Route("/", runs_page, methods=["GET"], name="page_runs"),
        Route("/runs/{run_id}", run_page, methods=["GET"], name="page_run"),
    ]

"""The HTML report of a run: one self-contained page (inline CSS and SVG, no script, no network).

:func:`render` turns the run summary (:func:`golive.views.summary.summarize`) into the page and is pure: the
same summary always gives the same bytes. :func:`render_run` first reads what the summary leaves out from the
store (every trigger evaluation for the full metric series, the event chain check, the evidence blobs
re-hashed) and then calls :func:`render`.

Every value from a run is untrusted text: the templates autoescape everything, and the page carries a
Content-Security-Policy that allows no script and no fetch, so a value that slipped through could neither
run nor phone home. The chart geometry is computed in Python (:mod:`golive.report.charts`); the templates only draw it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from golive import __version__, exceptions
from golive import clock as clock_mod
from golive.report import charts
from golive.views import format as fmt
from golive.views.model import FiredView, Summary
from golive.watch import samples as samples_mod

if TYPE_CHECKING:
    from golive.engine import acts
    from golive.store import base as store_base

__all__ = ["MAX_SERIES_POINTS", "parse_thresholds", "render", "render_run", "series_from_events"]

MAX_SERIES_POINTS = 600  # points per metric chart; longer series are thinned keeping each bucket's min and max
MAX_REHASH_BYTES = 64 * 1024 * 1024  # bytes; a larger evidence blob is reported as stored, not re-hashed
SUMMARY_CHARS = 400  # characters of a step summary shown before the cell scrolls

parse_thresholds = charts.parse_thresholds


FINAL_STATUSES = (
    "passed",
    "no_go",
    "rolled_back",
    "rolled_back_after_go",
    "stopped",
    "failed",
)  # golive.engine.state.FINAL, as summary values
VERDICT_CLASS = {"GO": "go", "NO-GO": "nogo", "ROLLED BACK": "rolledback", "ROLLED BACK AFTER GO": "rolledback"}


# -- public API ---------------------------------------------------------------------------------------------


def render(summary: Summary) -> str:
    """The report page of a run summary (extra keys from :func:`render_run` are used when present)."""
    return _template().render(r=_view(summary))


async def render_run(
    handle: acts.RunHandle,
    data: Summary | None = None,
    *,
    rehash_evidence: bool = True,
    verified_events: list[store_base.Event] | None = None,
) -> str:
    """The report page of a stored run, with full metric series, the chain check and the evidence re-hashed.

    ``rehash_evidence=False`` is for the evidence packer, which hashes every blob as it copies it and refuses
    the pack on a mismatch: the page then says the hashes are checked by the pack, instead of reading every
    blob a second time. ``verified_events`` is for a caller that has just read the run's events and checked
    their chain (the packer refuses a broken chain): the page is drawn from them and reports the chain
    verified over them, instead of reading and checking the log again.
    """
    if data is None:
        from golive.views import summary as summary_mod

        data = summary_mod.summarize(handle)
    store = handle.store
    if verified_events is None:
        events = await store.events(handle.run_id)
        chain = await _chain_status(store, handle.run_id)
    else:
        events = verified_events
        chain = {"status": "verified", "detail": f"{len(events)} events, every hash links to the one before"}
    series = series_from_events(events)
    triggers = []
    for t in data["triggers"] or []:
        full = series.get(str(t.get("id")))
        if full is not None:
            t = {**t, "history": full["points"], "gaps": full["gaps"]}
            if full["points"]:
                t["value"] = full["points"][-1][1]
        triggers.append(t)
    digests = sorted({str(e["sha256"]) for e in _evidence_items(data) if e.get("sha256")})
    return render(
        {
            **data,
            "triggers": triggers,
            "chain": chain,
            "blob_status": {
                d: (
                    await _blob_status(store, d)
                    if rehash_evidence
                    else {"status": "verified", "detail": "re-hashed as it was packed (checksums.json)"}
                )
                for d in digests
            },
        }
    )


def series_from_events(events: Iterable[store_base.Event]) -> dict[str, dict[str, list[list[Any]]]]:
    """Each trigger's recorded values ``points`` [[ts, value]] and its no-data/error evaluations ``gaps``.

    Reads ``trigger_evaluated`` and ``trigger_fired`` (the evaluation that fired carries its value too).
    """
    out: dict[str, dict[str, list[list[Any]]]] = {}
    for ev in events:
        if ev.type not in ("trigger_evaluated", "trigger_fired"):
            continue
        d = ev.data
        tid = str(d.get("trigger_id") or d.get("trigger") or "")
        if not tid:
            continue
        entry = out.setdefault(tid, {"points": [], "gaps": []})
        for at, status, value, _ in samples_mod.samples_of(d, ev.ts):
            ts = clock_mod.utc_iso(at)
            if value is not None and math.isfinite(value):
                entry["points"].append([ts, float(value)])
            else:
                entry["gaps"].append([ts, status or "no data"])
    for entry in out.values():
        entry["points"] = charts.thin(entry["points"], MAX_SERIES_POINTS)
        entry["gaps"] = entry["gaps"][-MAX_SERIES_POINTS:]
    return out


# -- store reads for render_run -----------------------------------------------------------------------------


async def _chain_status(store: store_base.Store, run_id: str) -> dict[str, Any]:
    try:
        count = await store.verify(run_id)
    except exceptions.GoliveError as exc:
        return {"status": "broken", "detail": exc.message}
    except NotImplementedError:
        return {"status": "unchecked", "detail": "this store cannot verify chains"}
    return {"status": "verified", "detail": f"{count} events, every hash links to the one before"}


async def _blob_status(store: store_base.Store, digest: str) -> dict[str, Any]:
    """Whether the evidence blob is in the store and still hashes to its name."""
    try:
        try:
            info = await store.blob_info(digest)
            if info.size > MAX_REHASH_BYTES:
                return {"status": "stored", "detail": f"stored, {info.size} bytes (too large to re-hash here)"}
        except NotImplementedError:
            pass
        data = await store.get_blob(digest)
    except exceptions.NotFound:
        return {"status": "missing", "detail": "not in the store"}
    except exceptions.GoliveError as exc:
        return {"status": "missing", "detail": exc.message}
    actual = hashlib.sha256(data).hexdigest()
    if actual != digest:
        return {"status": "mismatch", "detail": f"stored bytes hash to {actual}"}
    return {"status": "verified", "detail": "re-hashed from the store: matches"}


# -- the view model ---------------------------------------------------------------------------------------


# The templates compiled to Python (scripts/compile-templates), so a fresh process does not compile them
# (~40-100 ms): used only when sources.json beside them names this Jinja version and the sha256 of every
# template as it is now; otherwise the templates are compiled from source, as before.
TEMPLATES = Path(__file__).parent / "templates"
COMPILED = TEMPLATES / "compiled"
COMPILED_SOURCES = "sources.json"


def _environment(loader: jinja2.BaseLoader) -> jinja2.Environment:
    return jinja2.Environment(
        loader=loader,
        autoescape=True,  # every value from a run is untrusted text, the CSS and SVG templates included
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def compiled_sources() -> dict[str, Any]:
    """What compiled templates must have been made from: this Jinja version and each template's sha256."""
    return {
        "jinja2": jinja2.__version__,
        "templates": {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(TEMPLATES.iterdir()) if p.is_file()
        },
    }


def compile_templates(target: Path) -> None:
    """Compile the report templates to Python modules in ``target``, with the sources.json they match."""
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("tmpl_*.py"):
        old.unlink()
    env = _environment(jinja2.FileSystemLoader(TEMPLATES))
    env.compile_templates(target, zip=None, filter_func=lambda name: "/" not in name, ignore_errors=False)
    text = json.dumps(compiled_sources(), indent=2, sort_keys=True) + "\n"
    (target / COMPILED_SOURCES).write_text(text, encoding="utf-8")


@functools.cache
def _template() -> jinja2.Template:
    loader: jinja2.BaseLoader = jinja2.PackageLoader("golive.report", "templates")
    try:
        current = json.loads((COMPILED / COMPILED_SOURCES).read_bytes()) == compiled_sources()
    except (OSError, ValueError):
        current = False
    if current:
        loader = jinja2.ChoiceLoader([jinja2.ModuleLoader(COMPILED), loader])
    return _environment(loader).get_template("report.html.j2")


def _size(n: Any) -> str:
    if not isinstance(n, int) or isinstance(n, bool):
        return ""
    size = float(n)
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def _between(start: Any, end: Any) -> float | None:
    """Seconds from one timestamp to another, or None when either is missing."""
    a, b = fmt.parse_ts(start), fmt.parse_ts(end)
    return (b - a).total_seconds() if a is not None and b is not None else None


def _groups(summary: Summary) -> list[dict[str, Any]]:
    """Phases in order, then the rollback steps that ran, each with its steps."""
    groups = []
    final = summary["status"] in FINAL_STATUSES
    for ph in summary["phases"] or []:
        outcome = ph["outcome"] or "pending"
        if final and outcome == "running":
            outcome = "stopped"  # the run ended (a rollback, a NO-GO) while this phase was still running
        groups.append(
            {
                "id": ph["id"],
                "title": ph["title"] or ph["id"],
                "outcome": outcome,
                "planned_at": ph["planned_at"],
                "started_at": ph["started_at"],
                "finished_at": ph["finished_at"],
                "steps": list(ph["steps"] or []),
                "is_rollback": False,
            }
        )
    rb_steps = [s for s in summary["rollback_steps"] or [] if s["status"] not in (None, "pending")]
    if rb_steps:
        rb = summary["rollback"]
        groups.append(
            {
                "id": "rollback",
                "title": "Rollback",
                "outcome": (rb["outcome"] if rb else None) or "running",
                "planned_at": None,
                "started_at": rb["started_at"] if rb else None,
                "finished_at": rb["finished_at"] if rb else None,
                "steps": rb_steps,
                "is_rollback": True,
            }
        )
    return groups


def _evidence_items(summary: Summary) -> list[dict[str, Any]]:
    out = []
    for g in _groups(summary):
        for s in g["steps"]:
            for e in s.get("evidence") or []:
                if isinstance(e, dict):
                    out.append({**e, "step": s.get("id"), "step_title": s.get("title") or s.get("id")})
    return out


def _judgements(summary: Summary) -> list[dict[str, Any]]:
    """Each judged step: its verdict and a row per metric, canary against baseline."""

    def num(v: Any) -> str:
        return charts.num_text(float(v)) if isinstance(v, int | float) else "–"

    out = []
    for j in summary["judgements"] or []:
        rows = []
        for m in j["metrics"] or []:
            effect = m["effect"]
            p = m["p_adjusted"]
            rows.append(
                {
                    "id": m["id"] or "",
                    "kind": m["kind"] or "",
                    "critical": bool(m["critical"]),
                    "status": str(m["status"] or ""),
                    "test": m["test"] or "",
                    "canary": num(m["canary"]),
                    "baseline": num(m["baseline"]),
                    "n": f"{m['n_canary'] or 0} / {m['n_baseline'] or 0}",
                    "effect": f"{effect:+.1%}"
                    if isinstance(effect, int | float) and abs(effect) != float("inf")
                    else "–",
                    "p": f"{p:.3g}" if isinstance(p, int | float) else "–",
                    "reason": m["reason"] or "",
                }
            )
        score = j["score"]
        out.append(
            {
                "step": j["step"] or "",
                "title": j["title"] or j["step"] or "",
                "verdict": str(j["verdict"] or ""),
                "score": f"{score:.0f}" if isinstance(score, int | float) else "–",
                "reason": j["reason"] or "",
                "rows": rows,
            }
        )
    return out


def _view(summary: Summary) -> dict[str, Any]:
    """Everything the template shows, already formatted; the template adds no logic beyond loops."""
    groups = _groups(summary)
    timeline = charts.timeline(summary, groups, charts.WIDE)
    ref, has_anchor = charts.reference(summary, [])
    verdict = str(summary["verdict"] or summary["status_label"] or "UNKNOWN")

    def tt(ts: Any) -> str:
        s = charts.seconds_since(ref, ts) if ref is not None and has_anchor else None
        return fmt.ttext(s) if s is not None else ""

    decision = summary["decision"]
    dec_view = None
    if decision:
        dec_view = {
            "decision": str(decision["decision"] or "").upper(),
            "by": decision["by"] or "",
            "at": fmt.clock_text(decision["at"]),
            "t": tt(decision["at"]),
            "reason": decision["reason"] or "",
            "statement": decision["statement"] or "",
            "step": decision["step"] or "",
            "default": bool(decision["default"]),
            "approvers": list(decision.get("approvers") or []),
        }
    rb = summary["rollback"]
    rb_view = None
    if rb:
        rb_view = {
            "reason": rb["reason"] or "",
            "by": rb["by"] or "",
            "source": rb["source"] or "",
            "started_at": fmt.clock_text(rb["started_at"]),
            "t": tt(rb["started_at"]),
            "finished_at": fmt.clock_text(rb["finished_at"]),
            "outcome": str(rb["outcome"] or "running"),
            "took": fmt.duration_text(_between(rb["started_at"], rb["finished_at"])),
        }

    step_rows: list[dict[str, Any]] = []
    rollback_rows: list[dict[str, Any]] = []
    for g in groups:
        if not g["is_rollback"]:
            step_rows.append({"group": True, "title": g["title"], "outcome": g["outcome"], "planned": g["planned_at"]})
        for s in g["steps"]:
            summary_text = str(s.get("summary") or "")
            (rollback_rows if g["is_rollback"] else step_rows).append(
                {
                    "group": False,
                    "id": s.get("id"),
                    "title": s.get("title") or s.get("id"),
                    "kind": s.get("kind") or "",
                    "planned": s.get("planned_at") or "",
                    "t": tt(s.get("started_at"))
                    or fmt.clock_text(s.get("started_at"))[11:19],  # no T-0: the time of day
                    "duration": fmt.duration_text(s.get("duration")),
                    "expected": fmt.duration_text(s.get("expected")),
                    "outcome": charts.outcome_key(s),
                    "who": s.get("actor") or s.get("holder") or "",
                    "role": s.get("role") or "",
                    "attempts": s.get("attempts") or 0,
                    "summary": summary_text,
                    "long": len(summary_text) > SUMMARY_CHARS,
                    "waiver": s.get("waiver"),
                    "blocking": s.get("blocking", True),
                }
            )

    blob_status = summary.get("blob_status") or {}
    evidence = []
    for e in _evidence_items(summary):
        st = blob_status.get(str(e.get("sha256"))) or {}
        evidence.append(
            {
                "step": e["step"],
                "step_title": e["step_title"],
                "name": e.get("name") or "",
                "media_type": e.get("media_type") or "",
                "size": _size(e.get("size")),
                "sha256": str(e.get("sha256") or ""),
                "status": st.get("status") or "",
                "detail": st.get("detail") or "",
            }
        )

    fired_by_trigger: dict[str, list[FiredView]] = {}
    for f in summary["fired"] or []:
        fired_by_trigger.setdefault(str(f["trigger"]), []).append(f)
    triggers = []
    for t in summary["triggers"] or []:
        fired = fired_by_trigger.get(str(t.get("id")), [])
        triggers.append(
            {
                "id": t.get("id"),
                "title": t.get("title") or t.get("id"),
                "when": t.get("when") or "",
                "then": t.get("then") or "",
                "severity": t.get("severity") or "",
                "state": t.get("state") or "not evaluated",
                "value": charts.num_text(t["value"]) if isinstance(t.get("value"), int | float) else "",
                "reason": t.get("reason") or "",
                "fired": [{"at": fmt.clock_text(f["at"]), "t": tt(f["at"]), "reason": f["reason"]} for f in fired],
                "chart": charts.metric_chart({**t, "fired_list": fired}, ref, has_anchor, charts.CHART_WIDE),
                "chart_narrow": charts.metric_chart({**t, "fired_list": fired}, ref, has_anchor, charts.CHART_NARROW),
            }
        )

    checklist = [
        {
            "title": i["title"] or i["id"],
            "status": i["status"] or "missing",
            "steps": ", ".join(i["steps"] or []),
            "missing": ", ".join(i.get("missing_steps") or []),
        }
        for i in summary["evidence_checklist"] or []
    ]
    comp = summary["completion"]
    signoffs = [
        {
            "area": area,
            "title": v["title"] or area,
            "signed": bool(v.get("by")),
            "by": v.get("by") or "",
            "at": fmt.clock_text(v.get("at")),
            "statement": v.get("statement") or "",
        }
        for area, v in (summary["signoffs"] or {}).items()
    ]
    rel = summary["release"] or {}
    artifacts = [
        ", ".join(f"{k}: {v}" for k, v in a.items()) if isinstance(a, dict) else str(a)
        for a in rel.get("artifacts") or []
    ]
    return {
        "title": summary["title"] or summary["runbook"] or "golive run",
        "run_id": summary["run_id"] or "",
        "runbook": summary["runbook"] or "",
        "service": summary["service"] or "",
        "environment": summary["environment"] or "",
        "mode": summary["mode"] or "",
        "rehearsal_note": summary["rehearsal_note"] or "",
        "verdict": verdict,
        "verdict_class": VERDICT_CLASS.get(verdict, "other"),
        "status_label": summary["status_label"] or "",
        "reason": summary["reason"] or "",
        "started": fmt.clock_text(summary["created_at"]),
        "finished": fmt.clock_text(summary["finished_at"]) or "not finished",
        "elapsed": fmt.duration_text(_between(summary["created_at"], summary["finished_at"])),
        "anchor": fmt.clock_text(summary["anchor"]),
        "release": {
            "tag": rel.get("tag") or "",
            "sha": rel.get("sha") or "",
            "artifacts": artifacts,
            "other": {k: v for k, v in rel.items() if k not in ("tag", "sha", "artifacts")},
        },
        "digest": summary["digest"] or "",
        "head_hash": summary["head_hash"] or "",
        "events": summary["events"] or 0,
        "chain": summary.get("chain"),
        "decision": dec_view,
        "rollback": rb_view,
        "waivers": [{**w, "at": fmt.clock_text(w["at"]), "t": tt(w["at"])} for w in summary["waivers"] or []],
        "refusals": [{**r, "at": fmt.clock_text(r["at"]), "t": tt(r["at"])} for r in summary["refusals"] or []],
        "pending": [
            {
                "id": p["id"],
                "title": p["title"] or p["id"],
                "waiting_for": p.get("waiting_for"),
                "deadline": fmt.clock_text(p.get("deadline")),
            }
            for p in summary["pending"] or []
        ],
        "timeline": timeline,
        "timeline_narrow": charts.timeline(summary, groups, charts.NARROW),
        "steps": step_rows,
        "rollback_steps": rollback_rows,
        "follow_ups": [f for f in summary["follow_ups"] or [] if f["status"] != "not-due"],
        "steps_planned": any(row.get("planned") for row in step_rows if not row["group"]),
        "triggers": triggers,
        "judgements": _judgements(summary),
        "coverage": summary["coverage"] or [],
        "evidence": evidence,
        "checklist": checklist,
        "checklist_missing": sum(1 for i in checklist if i["status"] == "missing"),
        "completion": {
            "complete": bool(comp and comp["complete"]),
            "criteria": [
                {"title": c["title"] or c["id"], "met": bool(c["met"]), "why": list(c["why"] or [])}
                for c in (comp["criteria"] if comp else None) or []
            ],
        },
        "signoffs": signoffs,
        "signoffs_pending": sum(1 for s in signoffs if not s["signed"]),
        "signoff_fields": [
            {
                "title": f["title"] or f["id"],
                "value": "" if f["value"] is None else str(f["value"]),
                "by": f.get("by") or "",
            }
            for f in summary["signoff_fields"] or []
        ],
        "scribe": [
            {
                "planned": t["planned"] or "",
                "t": t["t"] or "",
                "what": t["what"] or "",
                "result": t["result"] or "",
                "at": fmt.clock_text(t["at"]),
                "actor": t["actor"] or "",
            }
            for t in summary["timeline"] or []
        ],
        "roles": [
            {
                "id": rid,
                "title": r["title"] or rid,
                "holder": r["holder"] or "",
                "description": r["description"] or "",
            }
            for rid, r in (summary["roles"] or {}).items()
        ],
        "comms": [
            {
                "at": fmt.clock_text(c.get("at")),
                "t": tt(c.get("at")),
                "channel": c.get("channel") or "",
                "event": c.get("event") or "",
                "ok": bool(c.get("ok")),
                "error": c.get("error") or "",
                "text": c.get("text") or "",
            }
            for c in summary["comms"] or []
        ],
        "hypercare": [
            {
                "at": fmt.clock_text(h.get("at")),
                "step": h.get("step") or "",
                "slot": h.get("slot") if h.get("slot") is not None else "",
                "outcome": str(h.get("outcome") or ""),
            }
            for h in summary["hypercare"] or []
        ],
        "reports": [
            {"id": rid, "at": fmt.clock_text(r.get("at")), "summary": r.get("summary") or ""}
            for rid, r in (summary["reports"] or {}).items()
        ],
        "outcomes": charts.OUTCOMES,
        "version": __version__,
    }

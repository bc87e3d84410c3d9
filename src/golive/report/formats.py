"""JSON, Markdown and JUnit reports of a run (or of a pre-flight), all from the run summary.

The Markdown follows the seeds' proof style, so it can be pasted into a pull request::

    overall_status PASS
    shopify_token_refresh_last_success PASS last_success_age_hours=0.07
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from xml.etree import ElementTree as ET

__all__ = ["FORMATS", "checks_of", "overall_status", "render", "to_json", "to_junit", "to_markdown"]

FORMATS = ("json", "md", "junit")
OK = ("pass", "warn", "waived", "skipped")
MAX_KV = 4  # output values shown per line in Markdown


def checks_of(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Every step of every phase, then the rollback steps that ran, in order."""
    out = []
    for ph in summary["phases"]:
        for s in ph["steps"]:
            out.append({**s, "phase": ph["id"], "phase_title": ph["title"]})
    for s in summary.get("rollback_steps") or []:
        if s.get("status") not in (None, "pending"):
            out.append({**s, "phase": "rollback", "phase_title": "Rollback"})
    return out


def overall_status(summary: dict[str, Any], steps: Iterable[dict[str, Any]] | None = None) -> str:
    """PASS only when every step that counts finished with pass/warn/waived/skipped and the run did not fail.

    A step that has no outcome (never ran, still waiting) counts as a failure: no result is not a pass.
    """
    steps = list(steps if steps is not None else checks_of(summary))
    if summary.get("status") in ("no_go", "rolled_back", "failed"):
        return "FAIL"
    if not steps:
        return "FAIL"
    return "PASS" if all((s.get("outcome") or "") in OK for s in steps) else "FAIL"


def _kv(output: Any) -> str:
    if not isinstance(output, dict):
        return ""
    pairs = []
    for k, v in output.items():
        if isinstance(v, bool):
            pairs.append(f"{k}={'true' if v else 'false'}")
        elif isinstance(v, int | float):
            pairs.append(f"{k}={round(v, 4) if isinstance(v, float) else v}")
        elif isinstance(v, str) and v and len(v) <= 40 and "\n" not in v:
            pairs.append(f"{k}={v}")
        if len(pairs) >= MAX_KV:
            break
    return " ".join(pairs)


def to_json(summary: dict[str, Any], steps: list[dict[str, Any]] | None = None) -> str:
    steps = steps if steps is not None else checks_of(summary)
    doc = {
        "overall_status": overall_status(summary, steps),
        "run_id": summary.get("run_id"),
        "runbook": summary.get("runbook"),
        "service": summary.get("service"),
        "environment": summary.get("environment"),
        "release": summary.get("release"),
        "status": summary.get("status_label"),
        "verdict": summary.get("verdict"),
        "reason": summary.get("reason"),
        "started_at": summary.get("created_at"),
        "finished_at": summary.get("finished_at"),
        "decision": summary.get("decision"),
        "waivers": summary.get("waivers"),
        "rollback": summary.get("rollback"),
        "checks": [
            {
                "id": s["id"],
                "title": s.get("title"),
                "phase": s.get("phase"),
                "kind": s.get("kind"),
                "outcome": (s.get("outcome") or "missing").upper(),
                "duration": s.get("duration"),
                "summary": s.get("summary"),
                "output": s.get("output"),
                "started_at": s.get("started_at"),
                "finished_at": s.get("finished_at"),
                "actor": s.get("actor"),
                "waiver": s.get("waiver"),
                "evidence": s.get("evidence"),
            }
            for s in steps
        ],
        "evidence_checklist": summary.get("evidence_checklist"),
        "signoffs": summary.get("signoffs"),
        "completion": summary.get("completion"),
        "head_hash": summary.get("head_hash"),
    }
    return json.dumps(doc, indent=2, default=str) + "\n"


def to_markdown(summary: dict[str, Any], steps: list[dict[str, Any]] | None = None, *, title: str | None = None) -> str:
    steps = steps if steps is not None else checks_of(summary)
    lines = [f"# {title or summary.get('title') or summary.get('runbook')}", ""]
    rel = summary.get("release") or {}
    meta = [f"run `{summary.get('run_id')}`"]
    if summary.get("environment"):
        meta.append(f"environment `{summary['environment']}`")
    if rel.get("tag") or rel.get("sha"):
        meta.append(
            f"release `{rel.get('tag') or ''}{' ' if rel.get('tag') and rel.get('sha') else ''}{rel.get('sha') or ''}`"
        )
    lines += [", ".join(meta), "", "```text", f"overall_status {overall_status(summary, steps)}"]
    for s in steps:
        outcome = (s.get("outcome") or "missing").upper()
        detail = _kv(s.get("output")) or (s.get("summary") or "").replace("\n", " ")[:160]
        lines.append(f"{s['id']} {outcome} {detail}".rstrip())
    lines += ["```", ""]
    if summary.get("decision"):
        d = summary["decision"]
        lines += [f"**Decision:** {str(d.get('decision')).upper()} by {d.get('by')} at {d.get('at')}", ""]
        if d.get("statement"):
            lines += [f"> {d['statement']}", ""]
    if summary.get("rollback"):
        rb = summary["rollback"]
        lines += [
            f"**Rollback:** {rb.get('reason')} (started by {rb.get('by')}, outcome {str(rb.get('outcome')).upper()})",
            "",
        ]
    if summary.get("waivers"):
        lines += ["**Waivers:**", ""]
        lines += [f"- `{w['step']}` by {w['by']}, ticket {w['ticket']}: {w['reason']}" for w in summary["waivers"]]
        lines.append("")
    checklist = summary.get("evidence_checklist") or []
    if checklist:
        lines += ["**Evidence checklist:**", ""]
        lines += [f"- [{'x' if i['status'] == 'complete' else ' '}] {i['title']} ({i['status']})" for i in checklist]
        lines.append("")
    signoffs = summary.get("signoffs") or {}
    if signoffs:
        lines += ["**Sign-off:**", ""]
        for area, v in signoffs.items():
            who = f"{v.get('by')} at {v.get('at')}" if v.get("by") else "pending"
            lines.append(f"- {v.get('title') or area}: {who}")
        lines.append("")
    return "\n".join(lines)


def to_junit(summary: dict[str, Any], steps: list[dict[str, Any]] | None = None) -> str:
    steps = steps if steps is not None else checks_of(summary)
    suites = ET.Element("testsuites", name=str(summary.get("runbook") or "golive"))
    by_phase: dict[str, list[dict[str, Any]]] = {}
    for s in steps:
        by_phase.setdefault(s.get("phase") or "run", []).append(s)
    for phase, items in by_phase.items():
        failures = sum(1 for s in items if (s.get("outcome") or "") == "fail")
        errors = sum(1 for s in items if (s.get("outcome") or "missing") in ("error", "missing", ""))
        skipped = sum(1 for s in items if (s.get("outcome") or "") in ("skipped", "waived"))
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=phase,
            tests=str(len(items)),
            failures=str(failures),
            errors=str(errors),
            skipped=str(skipped),
            time=f"{sum(float(s.get('duration') or 0) for s in items):.3f}",
        )
        for s in items:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{summary.get('runbook')}.{phase}",
                name=s["id"],
                time=f"{float(s.get('duration') or 0):.3f}",
            )
            outcome = s.get("outcome") or ""
            text = s.get("summary") or ""
            if outcome == "fail":
                ET.SubElement(case, "failure", message=text[:500]).text = text
            elif outcome in ("error", ""):
                ET.SubElement(case, "error", message=(text or "no result")[:500]).text = text or "no result"
            elif outcome in ("skipped", "waived"):
                w = s.get("waiver")
                ET.SubElement(
                    case, "skipped", message=f"waived: {w.get('ticket')}: {w.get('reason')}" if w else text[:500]
                )
            if text and outcome in ("pass", "warn"):
                ET.SubElement(case, "system-out").text = text
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def render(fmt: str, summary: dict[str, Any], steps: list[dict[str, Any]] | None = None) -> str:
    if fmt == "json":
        return to_json(summary, steps)
    if fmt == "md":
        return to_markdown(summary, steps)
    if fmt == "junit":
        return to_junit(summary, steps)
    if fmt == "html":
        from golive.report import html

        return html.render(summary)
    from golive import exceptions

    raise exceptions.UsageError(f"--format {fmt!r}: use json, md, junit or html")

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

from golive.views.model import Summary

__all__ = [
    "FORMATS",
    "checks_of",
    "headline_keys",
    "overall_status",
    "proof_line",
    "render",
    "to_json",
    "to_junit",
    "to_markdown",
]

FORMATS = ("json", "md", "junit")
OK = ("pass", "warn", "waived", "skipped", "not-taken")
MAX_KV = 4  # output values shown per line in Markdown
SUMMARY_CHARS = 300  # characters of a summary on a Markdown proof line


def checks_of(summary: Summary) -> list[dict[str, Any]]:
    """Every step of every phase, then the rollback steps that ran, in order."""
    out = []
    for ph in summary["phases"]:
        for s in ph["steps"]:
            out.append({**s, "phase": ph["id"], "phase_title": ph["title"]})
    for s in summary["rollback_steps"] or []:
        if s["status"] not in (None, "pending"):
            out.append({**s, "phase": "rollback", "phase_title": "Rollback"})
    return out


def overall_status(summary: Summary, steps: Iterable[dict[str, Any]] | None = None) -> str:
    """PASS only when every step that counts finished with pass/warn/waived/skipped and the run did not fail.

    A step that has no outcome (never ran, still waiting) counts as a failure: no result is not a pass.
    """
    steps = list(steps if steps is not None else checks_of(summary))
    if summary["status"] in ("no_go", "rolled_back", "rolled_back_after_go", "stopped", "failed"):
        return "FAIL"
    if not steps:
        return "FAIL"
    return "PASS" if all((s.get("outcome") or "") in OK for s in steps) else "FAIL"


# Output keys that carry a check's headline value, most telling first: the numbers the built-in plugins
# report (log age, certificate days, metric value, exit code, status...). A plugin class may name its own
# with a ``headline = ("key", ...)`` attribute; the CLI passes those in the step's ``headline``.
HEADLINE_KEYS = (
    "last_success_age_hours",
    "days_remaining",
    "value",
    "scalar",
    "row_count",
    "exit_code",
    "status",
    "present",
    "exists",
    "age_seconds",
    "bytes",
    "connect_ms",
    "latency_ms",
    "elapsed_ms",
    "sha",
    "tag",
    "decision",
)
# Output keys never shown as k=v: process streams, bodies, documents and log lines are evidence, not a
# headline (and are long); they stay in the JSON report.
NOISE_KEYS = frozenset(
    {
        "stdout",
        "stderr",
        "line",
        "body",
        "text",
        "json",
        "data",
        "headers",
        "rows",
        "columns",
        "names",
        "subject",
        "issuer",
        "addresses",
        "points",
        "evidence",
    }
)
MAX_VALUE_CHARS = 40  # a string output longer than this is not a headline


def _fmt_value(v: Any) -> str | None:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(round(v, 4) if isinstance(v, float) else v)
    if isinstance(v, str) and v and len(v) <= MAX_VALUE_CHARS and "\n" not in v:
        return json.dumps(v) if any(c.isspace() or c in '"=' for c in v) else v
    return None


def headline_keys(output: Any, preferred: Iterable[str] | None = None) -> list[str]:
    """The output keys shown on a check's proof line: the plugin's own headline keys when it names them, else
    the known headline keys present, else any short scalar that is not noise."""
    if not isinstance(output, dict):
        return []
    if preferred:
        keys = [k for k in preferred if k in output]
        if keys:
            return keys[:MAX_KV]
    keys = [k for k in HEADLINE_KEYS if k in output and _fmt_value(output[k]) is not None]
    if not keys:
        keys = [k for k in output if k not in NOISE_KEYS and _fmt_value(output[k]) is not None]
    return keys[:MAX_KV]


def _kv(output: Any, preferred: Iterable[str] | None = None) -> str:
    pairs = []
    for k in headline_keys(output, preferred):
        shown = _fmt_value(output[k])
        if shown is not None:
            pairs.append(f"{k}={shown}")
    return " ".join(pairs)


def proof_line(step: dict[str, Any]) -> str:
    """One check as a proof line: ``<id> <OUTCOME> k=v ...``; a check that did not pass adds ``-- <summary>``
    (what was expected against what was seen), and one without headline values shows its summary."""
    outcome = (step.get("outcome") or "missing").upper()
    kv = _kv(step.get("output"), step.get("headline"))
    summary = " ".join((step.get("summary") or "").split())[:SUMMARY_CHARS]
    failed = outcome not in ("PASS", "WARN") and summary
    detail = (f"{kv} -- {summary}" if kv else summary) if failed else (kv or summary)
    return f"{step['id']} {outcome} {detail}".rstrip()


def to_json(summary: Summary, steps: list[dict[str, Any]] | None = None) -> str:
    steps = steps if steps is not None else checks_of(summary)
    doc = {
        "overall_status": overall_status(summary, steps),
        "run_id": summary["run_id"],
        "runbook": summary["runbook"],
        "service": summary["service"],
        "environment": summary["environment"],
        "release": summary["release"],
        "status": summary["status_label"],
        "verdict": summary["verdict"],
        "reason": summary["reason"],
        "started_at": summary["created_at"],
        "finished_at": summary["finished_at"],
        **({"preflight": summary["preflight"]} if summary.get("preflight") else {}),
        "decision": summary["decision"],
        "waivers": summary["waivers"],
        "rollback": summary["rollback"],
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
        "evidence_checklist": summary["evidence_checklist"],
        "signoffs": summary["signoffs"],
        "signoff_fields": summary["signoff_fields"],
        "timeline": summary["timeline"],
        "follow_ups": summary["follow_ups"],
        "completion": summary["completion"],
        "head_hash": summary["head_hash"],
    }
    return json.dumps(doc, indent=2, default=str) + "\n"


def to_markdown(summary: Summary, steps: list[dict[str, Any]] | None = None, *, title: str | None = None) -> str:
    steps = steps if steps is not None else checks_of(summary)
    lines = [f"# {title or summary['title'] or summary['runbook']}", ""]
    rel = summary["release"] or {}
    meta = [f"run `{summary['run_id']}`"]
    if summary["environment"]:
        meta.append(f"environment `{summary['environment']}`")
    if rel.get("tag") or rel.get("sha"):
        meta.append(
            f"release `{rel.get('tag') or ''}{' ' if rel.get('tag') and rel.get('sha') else ''}{rel.get('sha') or ''}`"
        )
    if summary["rehearsal_note"]:
        meta.append(f"rehearsal: {summary['rehearsal_note']}")
    lines += [", ".join(meta), "", "```text", f"overall_status {overall_status(summary, steps)}"]
    lines += [proof_line(s) for s in steps]
    lines += ["```", ""]
    d = summary["decision"]
    if d:
        approved = f" (quorum: approved by {', '.join(d['approvers'])})" if d.get("approvers") else ""
        lines += [f"**Decision:** {str(d['decision']).upper()} by {d['by']} at {d['at']}{approved}", ""]
        if d["statement"]:
            lines += [f"> {d['statement']}", ""]
    rb = summary["rollback"]
    if rb:
        lines += [
            f"**Rollback:** {rb['reason']} (started by {rb['by']}, outcome {str(rb['outcome']).upper()})",
            "",
        ]
    due = [f for f in summary["follow_ups"] or [] if f["status"] != "not-due"]
    if due:
        lines += ["**Follow-up after the rollback:**", ""]
        for f in due:
            done = f"confirmed by {f['by']} at {f['at']}" if f["by"] else "due"
            lines.append(f"- [{'x' if f['by'] else ' '}] {f['title']} (`{f['id']}`, {done})")
        lines.append("")
    windows = summary["coverage"] or []
    if windows:
        lines += [
            "**Watched windows:**",
            "",
            "| window | watched | min | extended | met |",
            "| --- | ---: | ---: | ---: | --- |",
        ]
        for c in windows:
            lines.append(
                f"| `{c['step']}` | {float(c['fraction'] or 0) * 100:.0f}% | "
                f"{float(c['min_coverage'] or 0) * 100:.0f}% | {float(c['extended'] or 0):.0f}s | "
                f"{'yes' if c['ok'] else 'NO (' + str(c['least']) + ' least watched)'} |"
            )
        lines.append("")
    if summary["waivers"]:
        lines += ["**Waivers:**", ""]
        lines += [f"- `{w['step']}` by {w['by']}, ticket {w['ticket']}: {w['reason']}" for w in summary["waivers"]]
        lines.append("")
    checklist = summary["evidence_checklist"] or []
    if checklist:
        lines += ["**Evidence checklist:**", ""]
        lines += [f"- [{'x' if i['status'] == 'complete' else ' '}] {i['title']} ({i['status']})" for i in checklist]
        lines.append("")
    signoffs = summary["signoffs"] or {}
    if signoffs:
        lines += ["**Sign-off:**", ""]
        for area, v in signoffs.items():
            who = f"{v.get('by')} at {v.get('at')}" if v.get("by") else "pending"
            lines.append(f"- {v['title'] or area}: {who}")
        lines.append("")
    fields = summary["signoff_fields"] or []
    if fields:
        lines += ["**Sign-off fields:**", "", "| field | value | by |", "| --- | --- | --- |"]
        for sf in fields:
            value = sf["value"]
            shown = _md_cell(str(value)) if value not in (None, "") else "_(blank)_"
            lines.append(
                f"| {_md_cell(str(sf['title'] or sf['id']))} | {shown} | {sf.get('by') or sf['source'] or ''} |"
            )
        lines.append("")
    timeline = summary["timeline"] or []
    if timeline:
        lines += ["**Timeline (scribe's log):**", "", "| planned | actual | what | result | at (UTC) | by |"]
        lines.append("| --- | --- | --- | --- | --- | --- |")
        for t in timeline:
            lines.append(
                f"| {t['planned'] or ''} | {t['t'] or ''} | {_md_cell(str(t['what'] or ''))} | "
                f"{t['result'] or ''} | {t['at'] or ''} | {_md_cell(str(t['actor'] or ''))} |"
            )
        lines.append("")
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    """Text that stays inside one Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def to_junit(summary: Summary, steps: list[dict[str, Any]] | None = None) -> str:
    steps = steps if steps is not None else checks_of(summary)
    suites = ET.Element("testsuites", name=str(summary["runbook"] or "golive"))
    by_phase: dict[str, list[dict[str, Any]]] = {}
    for s in steps:
        by_phase.setdefault(s.get("phase") or "run", []).append(s)
    for phase, items in by_phase.items():
        failures = sum(1 for s in items if (s.get("outcome") or "") == "fail")
        errors = sum(1 for s in items if (s.get("outcome") or "missing") in ("error", "missing", ""))
        skipped = sum(1 for s in items if (s.get("outcome") or "") in ("skipped", "waived", "not-run", "not-taken"))
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
                classname=f"{summary['runbook']}.{phase}",
                name=s["id"],
                time=f"{float(s.get('duration') or 0):.3f}",
            )
            outcome = s.get("outcome") or ""
            text = s.get("summary") or ""
            if outcome == "fail":
                ET.SubElement(case, "failure", message=text[:500]).text = text
            elif outcome in ("error", ""):
                ET.SubElement(case, "error", message=(text or "no result")[:500]).text = text or "no result"
            elif outcome in ("skipped", "waived", "not-run", "not-taken"):
                w = s.get("waiver") if outcome == "waived" else None
                ET.SubElement(
                    case,
                    "skipped",
                    message=f"waived by {w.get('by')}: {w.get('ticket')}: {w.get('reason')}" if w else text[:500],
                )
            if text and outcome in ("pass", "warn"):
                ET.SubElement(case, "system-out").text = text
    due = [f for f in summary["follow_ups"] or [] if f["status"] != "not-due"]
    if due:
        suite = ET.SubElement(
            suites,
            "testsuite",
            name="follow-up",
            tests=str(len(due)),
            failures="0",
            errors="0",
            skipped=str(sum(1 for f in due if f["status"] == "due")),
            time="0.000",
        )
        for f in due:
            case = ET.SubElement(
                suite, "testcase", classname=f"{summary['runbook']}.follow-up", name=f["id"], time="0.000"
            )
            if f["status"] == "due":
                ET.SubElement(case, "skipped", message=f"due: {f['title']}")
            else:
                ET.SubElement(case, "system-out").text = f"{f['title']}: confirmed by {f['by']} at {f['at']}"
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def render(fmt: str, summary: Summary, steps: list[dict[str, Any]] | None = None) -> str:
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

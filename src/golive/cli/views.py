"""Rich renderings of a run: the status table (also the live view of ``golive run``) and the timeline."""

from __future__ import annotations

from typing import Any

from golive.views import format as fmt
from golive.views.model import PhaseView, StepView, Summary

OUTCOME_STYLE = {
    "pass": "green",
    "warn": "yellow",
    "fail": "bold red",
    "error": "bold red",
    "skipped": "dim",
    "waived": "magenta",
    "waiting": "cyan",
    "running": "blue",
    "unknown": "bold magenta",
}


def status_renderable(summary: Summary) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[Any] = []
    head = Text()
    head.append(f"{summary['title']} ", style="bold")
    head.append(f"run {summary['run_id']} ({summary['mode']}) ")
    if summary["rehearsal_note"]:
        head.append(f"[{summary['rehearsal_note']}] ", style="magenta")
    label = summary["status_label"]
    failed = ("NO-GO", "ROLLED-BACK", "ROLLED-BACK-AFTER-GO", "FAILED")
    style = "green" if label in ("PASSED", "COMPLETE") else "red" if label in failed else "cyan"
    rollback = summary["rollback"]
    if rollback and not rollback["finished_at"]:
        label = "ROLLING BACK"
        style = "bold white on red"
    head.append(label, style=style)
    if summary["reason"]:
        head.append(f"  {summary['reason']}", style="dim")
    parts.append(head)
    stopped = summary["engine"]["stopped"]
    if stopped and summary["status"] not in ("passed", "no_go", "rolled_back", "rolled_back_after_go", "failed"):
        parts.append(
            Text(
                f"ENGINE STOPPED at {stopped.get('at')}: {stopped.get('reason')} "
                f"(continue with: golive resume {summary['run_id']}, or a worker adopts it)",
                style="bold white on red",
            )
        )
    if rollback:
        rb = rollback
        parts.append(Text(f"ROLLBACK: {rb['reason']} (started by {rb['by']})", style="bold red"))
    roles = ", ".join(f"{r}={v['holder'] or '-'}" for r, v in summary["roles"].items())
    if roles:
        parts.append(Text(f"roles: {roles}", style="dim"))
    table = Table(expand=False, show_lines=False)
    # Ids, T-times, kinds and outcomes stay whole on one line (people copy step ids into commands); the
    # summary and the role take what width is left and wrap.
    # Planned and actual T-times side by side: planned is the `at` (with t0: its wall time), actual when it
    # started, both from T-0.
    for col in ("T plan/act", "phase / step", "kind"):
        table.add_column(col, no_wrap=True)
    table.add_column("role", overflow="fold", max_width=16)
    table.add_column("outcome", no_wrap=True)
    table.add_column("took", no_wrap=True)
    table.add_column("summary", overflow="fold", ratio=1)
    for ph in summary["phases"]:
        table.add_row(
            t_cell(ph),
            Text(ph["title"], style="bold"),
            "",
            "",
            Text(ph["outcome"].upper(), style=OUTCOME_STYLE.get(ph["outcome"], "")),
            "",
            "",
        )
        for s in ph["steps"]:
            shown = s["outcome"] or s["status"]
            if s["status"] == "unknown" and not s["summary"]:
                # An action a crash left without a result waits for a person: say how to settle it.
                s = {
                    **s,
                    "summary": f"did it take effect? check, then: golive resolve {summary['run_id']} {s['id']} "
                    "--outcome done|not-done --as NAME",
                }
            table.add_row(
                t_cell(s),
                f"  {s['id']}",
                s["kind"],
                f"{s.get('role') or ''}{'=' + str(s.get('holder')) if s.get('holder') else ''}",
                Text(shown.upper(), style=OUTCOME_STYLE.get(shown, "")),
                fmt.duration_text(s["duration"]),
                (s["summary"] or "")[:120],
            )
    for s in summary["rollback_steps"] or []:
        if s["status"] not in (None, "pending"):
            shown = s["outcome"] or s["status"]
            table.add_row(
                s["t"] or "",
                f"  rollback: {s['id']}",
                s["kind"],
                "",
                Text(shown.upper(), style=OUTCOME_STYLE.get(shown, "")),
                fmt.duration_text(s["duration"]),
                (s["summary"] or "")[:120],
            )
    parts.append(table)
    for p in summary["pending"] or []:
        if p["wait"]:  # the shared description (views.summary.wait): the API and dashboard say the same
            w = p["wait"]
            who = " or ".join(f"{r}={h or '<unassigned>'}" for r, h in (w["holders"] or {}).items())
            line = f"waiting: {p['id']} ({w['kind']}) for {who or 'someone'}: {w['text']}"
        elif p.get("resolvers"):  # an unknown action: whoever may resolve it
            line = f"waiting: {p['id']} (resolve) for {' or '.join(p['resolvers'])}"
        else:
            extra = f" deadline {p['deadline']} default {p['default']}" if p.get("deadline") else ""
            who = p.get("holder") or f"<{p.get('role')} unassigned>"
            line = f"waiting: {p['id']} ({p['waiting_for']}) for {p.get('role')}={who}{extra}"
        parts.append(Text(line, style="cyan"))
    for c in summary["coverage"] or []:
        parts.append(Text(f"coverage: {c['step']} {c['text']}", style="green" if c["ok"] else "red"))
    for a in summary["armed_coverage"] or []:
        parts.append(Text(f"armed ({a['segment']}): {a['text']}", style="green" if a["ok"] else "red"))
    gate = summary["start_gate"] or {}
    if gate.get("outcome") == "refused":
        for b in gate.get("blocks") or []:
            if not b.get("waived"):
                parts.append(Text(f"start gate: {b['what']}: {b['why']}; blocks {b['until_text']}", style="bold red"))
    for g in summary["gate_waived"] or []:
        parts.append(Text(f"start gate waived: {g['what']} by {g['by']} ({g['role']}) ticket {g['ticket']}",
                          style="magenta"))  # fmt: skip
    ov = summary["overrun"]
    if ov:
        parts.append(
            Text(
                f"waiting: {ov.get('reason')}; {' or '.join(ov.get('roles') or [])} decides by {ov.get('deadline')} "
                f"(default {ov.get('default')}): golive decide {summary['run_id']} continue|rollback --as NAME "
                "--reason TEXT",
                style="bold cyan",
            )
        )
    for wv in summary["waivers"] or []:
        parts.append(Text(f"waiver: {wv['step']} by {wv['by']} ticket {wv['ticket']}: {wv['reason']}", style="magenta"))
    for ident, until in (summary["scheduled"] or {}).items():
        parts.append(Text(f"scheduled: {ident} waits for its planned T-time, {until} UTC", style="cyan"))
    if summary["status"] == "stopped":
        ids = [p["id"] for p in summary["phases"] or []]
        at = next((i for i, ph in enumerate(summary["phases"] or []) if ph["outcome"] == "stopped"), None)
        if at is not None:
            choices = " or ".join(ids[at : at + 2])
            parts.append(
                Text(
                    f"stopped in {ids[at]}: what passed stays live; continue with: golive resume "
                    f"{summary['run_id']} --from {choices} --as NAME",
                    style="yellow",
                )
            )
    for f in summary["follow_ups"] or []:
        if f["status"] == "confirmed":
            parts.append(
                Text(f"follow-up {f['id']}: {f['title']} (confirmed by {f['by']} at {f['at']})", style="green")
            )
        elif f["status"] == "due":
            parts.append(
                Text(
                    f"follow-up {f['id']}: {f['title']} (due; confirm with: golive confirm {summary['run_id']} {f['id']})",
                    style="yellow",
                )
            )
    d = summary["decision"]
    if d:
        parts.append(Text(f"decision: {str(d['decision']).upper()} by {d['by']} at {d['at']}", style="bold"))
    missing = [i for i in summary["evidence_checklist"] or [] if i["status"] == "missing"]
    if missing:
        parts.append(Text("evidence missing: " + "; ".join(i["title"] for i in missing), style="yellow"))
    pending_signoffs = [a for a, v in (summary["signoffs"] or {}).items() if v.get("status") == "pending"]
    if pending_signoffs:
        parts.append(Text("sign-off pending: " + ", ".join(pending_signoffs), style="yellow"))
    fields = summary["signoff_fields"] or []
    if fields:
        blank = [sf["id"] for sf in fields if sf["value"] in (None, "")]
        parts.append(Text(f"sign-off fields: {len(fields) - len(blank)} of {len(fields)} filled", style="bold"))
        for sf in fields:
            if sf["value"] not in (None, ""):
                by = f" (by {sf['by']})" if sf.get("by") else ""
                parts.append(Text(f"  {sf['title']}: {sf['value']}{by}"))
        if blank:
            parts.append(
                Text("  blank: " + ", ".join(blank) + " (golive signoff RUN --field ID=VALUE)", style="yellow")
            )
    return Group(*parts)


def outcome_words(status_label: str, verdict: str) -> str:
    """``PASSED (GO)``, but ``NO-GO`` rather than ``NO-GO (NO-GO)``: the verdict only when it adds something."""

    def norm(text: str) -> str:
        return "".join(ch for ch in text.upper() if ch.isalnum())

    return status_label if not verdict or norm(verdict) == norm(status_label) else f"{status_label} ({verdict})"


def t_cell(item: PhaseView | StepView | dict[str, Any]) -> str:
    """The table's T column: "T-1m/T+2m" (planned/actual), "T-1m/-" before it starts, "T+2m" when unplanned."""
    planned, actual = item.get("planned_at"), item.get("t")
    if planned:
        return f"{planned}/{actual or '-'}"
    return str(actual or "")

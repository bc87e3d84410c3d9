"""``golive import``: a Markdown runbook becomes a draft golive runbook that validates.

:func:`import_markdown` reads the bytes of a Markdown file and returns the draft's YAML text and a report
that accounts for every non-blank source line (a step, a field, a TODO, or layout such as a rule or a
fence marker). The draft is loaded by the real loader before it is returned: an import never hands back
a runbook that ``golive validate`` refuses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from golive import exceptions
from golive.importer import document, draft

__all__ = ["MAX_BYTES", "MAX_STEPS", "ImportReport", "ImportResult", "import_markdown"]

MAX_BYTES = 4 * 1024 * 1024  # a runbook is a few hundred lines; this only stops abuse
MAX_STEPS = 5000  # the loader's tested scale is 2,000-step runbooks; more is a document to split


@dataclass
class ImportReport:
    source: str
    lines: dict[int, draft.LineAccount]
    non_blank: int
    phases: int
    steps: int
    executable: int
    manual: int
    decisions: int
    observe: int
    todos: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "phases": self.phases,
            "steps": self.steps,
            "executable": self.executable,
            "manual": self.manual,
            "decisions": self.decisions,
            "observe": self.observe,
            "todos": len(self.todos),
            "lines": self.non_blank,
            "lines_accounted": len(self.lines),
        }

    def ranges(self) -> list[tuple[int, int, str, str]]:
        """Consecutive lines with the same account, as (first, last, what, target)."""
        out: list[tuple[int, int, str, str]] = []
        for ln in sorted(self.lines):
            acc = self.lines[ln]
            if out and out[-1][1] >= ln - 2 and out[-1][2] == acc.what and out[-1][3] == acc.target:
                out[-1] = (out[-1][0], ln, acc.what, acc.target)
            else:
                out.append((ln, ln, acc.what, acc.target))
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "counts": self.counts(),
            "todos": self.todos,
            "lines": [{"first": a, "last": b, "what": w, "target": t} for a, b, w, t in self.ranges()],
        }

    def text(self) -> str:
        c = self.counts()
        head = (
            f"{self.source}: {c['phases']} phases, {c['steps']} steps ({c['executable']} executable, "
            f"{c['manual']} manual, {c['decisions']} decisions, {c['observe']} observe), {c['todos']} TODOs; "
            f"{c['lines_accounted']}/{c['lines']} non-blank lines accounted for"
        )
        rows = [head]
        for a, b, w, t in self.ranges():
            where = f"line {a}" if a == b else f"lines {a}-{b}"
            rows.append(f"  {where:<14} {w:<6} {t}")
        for note in self.todos:
            rows.append(f"  TODO(import): {note}")
        return "\n".join(rows)


@dataclass
class ImportResult:
    yaml_text: str
    report: ImportReport
    runbook: Any  # the validated golive.spec.models.Runbook


def _decode(raw: bytes, name: str) -> str:
    if len(raw) > MAX_BYTES:
        raise exceptions.RunbookInvalid(
            [exceptions.Problem(name, 0, 0, "", f"{len(raw)} bytes is more than {MAX_BYTES}; split the document")]
        )
    from golive.spec import loader

    text = loader.decode_text(raw, name)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _unaccounted(d: draft.Draft) -> None:
    """Lines nothing claimed become manual steps with their text (never silently dropped)."""
    runs: list[list[int]] = []
    for ln, line in enumerate(d.lines, start=1):
        if line.strip() and ln not in d.account:
            if runs and runs[-1][-1] == ln - 1:
                runs[-1].append(ln)
            else:
                runs.append([ln])
    if not runs:
        return
    role = d.ensure_default_role()
    steps: list[dict[str, Any]] = []
    ph: dict[str, Any] = {"id": d.new_id("unrecognised", "phase"), "title": "Text the import did not recognise"}
    ph["steps"] = steps
    for run in runs:
        text = "\n".join(d.lines[i - 1].strip() for i in run)
        sid = d.new_id("review " + text[:40], "review")
        steps.append(
            {"id": sid, "title": draft.short(text, 80), "kind": "manual", "role": role, "instructions": text[:4000]}
        )
        d.todo(sid, run[0], "text not recognised; translate it or delete this step")
        d.mark(run[0], run[-1], "todo", f"phases.{ph['id']}: {sid} (manual)")
    d.doc["phases"] = [*d.doc["phases"], ph]
    if "roles" not in d.doc:
        d.doc["roles"] = d.roles


class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str_presenter)


def _clean(text: str) -> str:
    """No control characters in YAML text (they are not printable, and block scalars refuse them)."""
    return (
        re.sub(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029\ufeff]", " ", text).rstrip()
        if "\n" in text
        else re.sub(r"[\x00-\x1f\x7f\u2028\u2029\ufeff]", " ", text)
    )


_PROSE_KEYS = frozenset({"title", "description", "instructions", "statement", "name"})


def _sanitize(value: Any, key: str = "") -> Any:
    if isinstance(value, str):
        return _clean(draft.scrub(value) if key in _PROSE_KEYS else value)
    if isinstance(value, dict):
        return {k: _sanitize(v, k if isinstance(k, str) else "") for k, v in value.items()}
    if isinstance(value, list):
        return [_sanitize(v, key) for v in value]
    return value


def to_yaml(d: draft.Draft) -> str:
    body = yaml.dump(
        _sanitize(d.doc), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110, default_flow_style=False
    )
    out: list[str] = [
        f"# Draft imported from {d.name} by `golive import`.",
        "# Review every TODO(import) note, then check it with `golive validate` and rehearse it with a dry run.",
    ]
    out += [f"# TODO(import): {_clean(n)}" for n in d.top_todos]
    by_id = {sid: notes for sid, notes in d.step_todos.items()}
    for line in body.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("- id: "):
            sid = stripped[len("- id: ") :].strip().strip("'\"")
            notes = by_id.pop(sid, None)
            if notes:
                indent = line[: len(line) - len(stripped)]
                out += [f"{indent}# TODO(import): {_clean(n)}" for n in notes]
        out.append(line)
    for notes in by_id.values():  # a step whose id line was not found: keep its notes at the top
        out[2:2] = [f"# TODO(import): {_clean(n)}" for n in notes]
    return "\n".join(out) + "\n"


def import_markdown(raw: bytes, name: str = "<markdown>") -> ImportResult:
    """Import Markdown bytes. Raises RunbookInvalid (exit 2) for input it refuses."""
    from golive.spec import loader

    text = _decode(raw, name)
    try:
        tree = document.parse(text)
        d = draft.build(tree, text, name.rsplit("/", 1)[-1])
        _unaccounted(d)
    except RecursionError:
        raise exceptions.RunbookInvalid([exceptions.Problem(name, 0, 0, "", "nested too deeply to import")]) from None
    steps = [s for p in d.doc["phases"] for s in p["steps"]]
    steps += list(d.doc.get("rollback", {}).get("steps", [])) + list(d.doc.get("rollback", {}).get("confirm", []))
    steps += list(d.doc.get("hypercare", {}).get("checks", []))
    if len(steps) > MAX_STEPS:
        raise exceptions.RunbookInvalid(
            [
                exceptions.Problem(
                    name, 0, 0, "", f"{len(steps)} steps is more than {MAX_STEPS}; split the document into runbooks"
                )
            ]
        )
    yaml_text = to_yaml(d)
    loaded = loader.load_bytes(yaml_text.encode("utf-8"), name + " (draft)", environ={})
    kinds = [s["kind"] for s in steps]
    notes = list(d.top_todos) + [n for notes in d.step_todos.values() for n in notes]
    report = ImportReport(
        source=name,
        lines=dict(d.account),
        non_blank=sum(1 for line in d.lines if line.strip()),
        phases=len(d.doc["phases"]),
        steps=len(steps),
        executable=sum(1 for k in kinds if k in ("check", "action")),
        manual=kinds.count("manual"),
        decisions=kinds.count("decision"),
        observe=kinds.count("observe"),
        todos=sorted(notes, key=_note_line),
    )
    return ImportResult(yaml_text=yaml_text, report=report, runbook=loaded.runbook)


def _note_line(note: str) -> int:
    m = re.match(r"line (\d+)", note)
    return int(m.group(1)) if m else 0

"""Turn a parsed Markdown runbook (:mod:`golive.importer.document`) into a draft golive runbook.

The draft is a plain ``dict`` in the runbook format plus, for every non-blank source line, an account of
where it went (a step, a field, a TODO). What cannot be translated with confidence becomes a manual step
carrying the original text, with a ``TODO(import): line N: ...`` note that the YAML writer puts above it.

Values found in the document (URLs, names, batch codes) become ``vars`` and reach commands only through
``env`` or as argv words; credentials become ``secrets`` references (the env provider by default) and a
value written in the document is never copied.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from golive.importer import shell
from golive.importer.document import Block, Fence, Html, Inline, Item, ListBlock, Para, Rule, Section, Table

__all__ = ["Draft", "LineAccount", "build"]

# --- small text helpers (over plain inline text, never raw Markdown) -----------------------------------

_TTIME = re.compile(r"\bT\s*([+-])\s*(\d+)\s*(m|min|h|d)?\b")
_DURATION_WORDS = {
    "ms": "ms",
    "s": "s",
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "m": "m",
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
    "h": "h",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "d": "d",
    "day": "d",
    "days": "d",
}
_DUR = r"(\d+(?:\.\d+)?)\s*(ms|seconds?|secs?|s|minutes?|mins?|min|m|hours?|hrs?|hr|h|days?|d)\b"
_WITHIN = re.compile(r"\b(?:within|under|in less than|less than|<)\s*" + _DUR, re.I)
_FOR = re.compile(r"\bfor\s+(?:at least\s+)?" + _DUR, re.I)
_EVERY = re.compile(r"\bevery\s+" + _DUR, re.I)
_EVERY_RANGE = re.compile(r"\bevery\s+(\d+)\s*-\s*\d+\s*(minutes?|mins?|m|hours?|h)\b", re.I)
_GT = re.compile(r"(?:>|above|over|exceeds?)\s*(\d+(?:\.\d+)?)\s*(%|ms|s\b)?", re.I)
_KV = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(\S+)$")
_HTTP_STATUS = re.compile(r"\b(?:HTTP|status)\s*(\d{3})\b", re.I)
_RANGE_H = re.compile(r"^(\d+)\s*-\s*(\d+)\s*h", re.I)
_BLANK = re.compile(r"_{4,}")
_PLACEHOLDER = re.compile(r"<([A-Za-z][A-Za-z0-9 _.-]*)>")
_SECRET_WORDS = ("secret", "password", "token", "api_key", "apikey", "authorization", "private", "credential")
_READ_ONLY = (
    "check",
    "verify",
    "smoke",
    "preflight",
    "detect",
    "report",
    "status",
    "health",
    "gate",
    "test",
    "validate",
    "get",
    "describe",
    "list",
    "logs",
    "simulate",
    "acceptance",
    "regression",
)
_CHANGE = ("deploy", "migrat", "upgrade", "apply", "enable", "disable", "rollback", "revert", "restore", "rotate")

INFO_WORDS = (
    "scope",
    "summary",
    "why",
    "background",
    "overview",
    "context",
    "purpose",
    "accounts",
    "region",
    "what changed",
    "files",
    "touched",
    "reviewer",
    "results",
    "notes",
    "references",
    "expected behavior",
    "invariants",
    "criteria (met)",
    "rules",
    "timeline",
)


def slug(text: str, fallback: str = "step") -> str:
    out: list[str] = []
    for ch in text.lower():
        if ch.isascii() and ch.isalnum():
            out.append(ch)
        elif out and out[-1] != "-":
            out.append("-")
    s = "".join(out).strip("-")
    words = s.split("-")
    s = "-".join(words[:6])[:48].strip("-")
    if not s or not s[0].isalpha():
        s = f"{fallback}-{s}" if s else fallback
    return s


def snake(name: str) -> str:
    s = slug(name.replace("_", "-"), "value").replace("-", "_")
    return s


def duration(num: str, unit: str) -> str:
    u = _DURATION_WORDS.get(unit.lower(), "m")
    n = float(num)
    return f"{int(n)}{u}" if n == int(n) else f"{num}{u}"


def ttime(text: str) -> str | None:
    m = _TTIME.search(text)
    if not m:
        return None
    sign, num, unit = m.groups()
    if num == "0":
        return "T-0"
    return f"T{sign}{num}{(unit or 'm')[0]}"


def strip_label(text: str) -> str:
    return text.strip().rstrip(":").strip()


def short(text: str, n: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def title_of(inl: Inline) -> str:
    lead = inl.lead_bold
    if lead:
        return strip_label(lead)
    return short(inl.text.rstrip("."), 80)


_CRED_PATTERNS = (
    (re.compile(r"\b(Bearer|Basic|Token)\s+(?!<)[^\s\"']+", re.I), r"\1 ***"),
    (re.compile(r"://[^/\s:@]+:[^@\s/]+@"), "://***:***@"),
    (
        re.compile(
            r"\b([A-Za-z_][A-Za-z0-9_]*(?:TOKEN|SECRET|PASSWORD|KEY|token|secret|password|key)[A-Za-z0-9_]*)=(\S+)"
        ),
        r"\1=***",
    ),
)


def scrub(text: str) -> str:
    """Credentials written in the document (a bearer token, a URL's password, TOKEN=...) as ***."""
    for pat, rep in _CRED_PATTERNS:
        text = pat.sub(rep, text)
    return text


def is_secret(name: str) -> bool:
    low = name.lower()
    return any(w in low for w in _SECRET_WORDS) or low in ("database_url", "db_url") or low.endswith("_key")


# --- the draft -----------------------------------------------------------------------------------------


@dataclass
class LineAccount:
    what: str  # step | field | todo | layout
    target: str


@dataclass
class Draft:
    name: str
    source: str
    lines: list[str]
    doc: dict[str, Any] = field(default_factory=dict)
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)
    phases: list[dict[str, Any]] = field(default_factory=list)
    rollback_steps: list[dict[str, Any]] = field(default_factory=list)
    rollback_confirm: list[dict[str, Any]] = field(default_factory=list)
    follow_up: list[str] = field(default_factory=list)
    triggers: list[dict[str, Any]] = field(default_factory=list)
    templates: dict[str, str] = field(default_factory=dict)
    cadence: list[dict[str, Any]] = field(default_factory=list)
    hc_tiers: list[dict[str, Any]] = field(default_factory=list)
    hc_checks: list[dict[str, Any]] = field(default_factory=list)
    hc_focus: list[str] = field(default_factory=list)
    hc_reports: list[dict[str, Any]] = field(default_factory=list)
    signoff_fields: list[dict[str, Any]] = field(default_factory=list)
    signoff_areas: list[dict[str, Any]] = field(default_factory=list)
    evidence_items: list[tuple[int, str, bool]] = field(default_factory=list)  # (line, title, rollback?)
    completion: list[dict[str, Any]] = field(default_factory=list)
    release: dict[str, Any] = field(default_factory=dict)
    description: list[str] = field(default_factory=list)
    decision_deadline: str | None = None
    flags_used: dict[str, Any] = field(default_factory=dict)
    step_todos: dict[str, list[str]] = field(default_factory=dict)
    top_todos: list[str] = field(default_factory=list)
    account: dict[int, LineAccount] = field(default_factory=dict)
    scripts: dict[str, list[str]] = field(default_factory=dict)  # script file name -> argv
    tool_labels: dict[str, str] = field(default_factory=dict)  # a tools list's label (lower case) -> script
    alarms_check: dict[str, Any] | None = None  # the step that finds the document's alarms
    script_refs: set[str] = field(default_factory=set)
    captures: dict[str, str] = field(default_factory=dict)  # shell NAME -> ${{ steps.x.output.json.f }}
    raw_values: dict[str, str] = field(default_factory=dict)  # env NAME -> value as written
    ids: set[str] = field(default_factory=set)
    id_next: dict[str, int] = field(default_factory=dict)
    decision_role: str | None = None
    default_role: str | None = None
    n_todos: int = 0
    flags_line: int = 0
    comms_line: int = 0

    # -- ids, accounting, TODOs --

    def new_id(self, text: str, fallback: str = "step") -> str:
        base = slug(text, fallback)
        sid, k = base, self.id_next.get(base, 2)
        while sid in self.ids:
            sid = f"{base}-{k}"
            k += 1
        self.id_next[base] = k
        self.ids.add(sid)
        return sid

    def mark(self, first: int, last: int, what: str, target: str, *, force: bool = False) -> None:
        for ln in range(first, last + 1):
            if 1 <= ln <= len(self.lines) and self.lines[ln - 1].strip() and (force or ln not in self.account):
                self.account[ln] = LineAccount(what, target)

    def todo(self, owner: str | None, line: int, text: str) -> None:
        note = f"line {line}: {short(text, 140)}"
        self.n_todos += 1
        if owner:
            self.step_todos.setdefault(owner, []).append(note)
        else:
            self.top_todos.append(note)

    # -- roles, vars, secrets --

    def role_for(self, text: str) -> str | None:
        low = text.lower()
        best: str | None = None
        for rid, r in self.roles.items():
            names = [rid.replace("-", " ")]
            if r.get("title"):
                t = str(r["title"]).lower()
                names += [t, re.sub(r"\s*\(.*?\)", "", t).strip()]
            if any(n and re.search(r"\b" + re.escape(n) + r"\b", low) for n in names):
                best = rid
                break
        return best

    def ensure_default_role(self) -> str:
        if self.default_role:
            return self.default_role
        if self.roles:
            self.default_role = next(iter(self.roles))
        else:
            self.roles["operator"] = {
                "title": "Operator",
                "description": "Added by the import: the document names no roles.",
                "may": ["decide", "rollback", "waive", "signoff"],
            }
            self.default_role = "operator"
            self.todo(None, 1, "the document names no roles; every manual step and decision is the operator's")
        return self.default_role

    def ensure_decider(self) -> str:
        if self.decision_role:
            return self.decision_role
        for rid, r in self.roles.items():
            if "decide" in r.get("may", []):
                self.decision_role = rid
                return rid
        rid = self.ensure_default_role()
        may = self.roles[rid].setdefault("may", [])
        if "decide" not in may:
            may.append("decide")
            self.todo(None, 1, f"no role is named as the decision maker; role {rid!r} was given the 'decide' power")
        self.decision_role = rid
        return rid

    def var(self, name: str, default: Any = None, description: str = "") -> str:
        vid = snake(name)
        if vid not in self.vars:
            if default is None or (isinstance(default, str) and _PLACEHOLDER.search(default)):
                desc = description or (f"was {default!r} in the document" if default else "")
                self.vars[vid] = {"required": True, "description": desc} if desc else {"required": True}
            else:
                self.vars[vid] = {"default": default, "description": description} if description else default
        return "${{ vars." + vid + " }}"

    def secret(self, env_name: str, description: str = "") -> str:
        sid = snake(env_name)
        if sid not in self.secrets:
            entry: dict[str, Any] = {"provider": "env", "id": re.sub(r"[^A-Z0-9_]", "_", env_name.upper())}
            if description:
                entry["description"] = description
            self.secrets[sid] = entry
        return "${{ secrets." + sid + " }}"

    def value_ref(self, env_name: str, raw: str) -> str:
        """A document value as a reference: a secret for credential names, else a var."""
        if is_secret(env_name):
            return self.secret(env_name)
        if raw.startswith("$"):
            m = shell.SHELL_VAR.fullmatch(raw)
            if m:
                return self.shell_var(m.group(1)) or raw
        return self.var(env_name, raw)

    def shell_var(self, name: str) -> str | None:
        if name in self.captures:
            return self.captures[name]
        if name in self.raw_values:
            return self.value_ref(name, self.raw_values[name])
        return None

    def templated(self, text: str) -> str:
        """A URL or word with the document's values turned into references."""
        for name, raw in sorted(self.raw_values.items(), key=lambda kv: -len(kv[1])):
            if raw and len(raw) > 8 and text.startswith(raw) and not is_secret(name):
                text = self.var(name, raw) + text[len(raw) :]
                break

        def shell_sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if (ref := self.shell_var(name)) is not None:
                return ref
            # `$API_KEY` the document never sets: the environment's, as a secret (credential names) or a var
            return self.secret(name) if is_secret(name) else self.var(name, None, f"was ${name} in the document")

        text = shell.SHELL_VAR.sub(shell_sub, text)

        def ph_sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if is_secret(name):
                return self.secret(name)
            return self.var(name, None, f"was <{name}> in the document")

        return _PLACEHOLDER.sub(ph_sub, text)


# --- classification ------------------------------------------------------------------------------------


def classify(title: str) -> str:
    low = title.lower()
    if re.search(r"\broles?\b", low) and len(low.split()) <= 4:
        return "roles"
    if "hypercare" in low or "post-release monitoring" in low or "production monitoring" in low:
        return "hypercare"
    if "rollback" in low or "roll back" in low or "emergency" in low:
        if "trigger" in low or "matrix" in low:
            return "triggers"
        return "rollback"
    if "follow-up" in low or "follow up" in low or "post-incident" in low:
        return "followup"
    if re.search(r"\bcomm(s|unication)\b|broadcast|update cadence|channels? & messages", low):
        return "comms"
    if "evidence checklist" in low or low.strip() == "evidence" or low.startswith("evidence"):
        return "evidence"
    if "completion" in low:
        return "completion"
    if "sign-off log" in low or "signoff log" in low or low.strip() in ("sign-off", "signoff"):
        return "signoff"
    if "tools" in low and "script" in low:
        return "tools"
    if any(w in low for w in INFO_WORDS):
        return "rules" if ("rules" in low or "timeline" in low) else "info"
    if re.search(r"go\s*/\s*no-go|go/no-go|no-go criteria", low) and "checklist" not in low:
        return "decision"
    if re.search(r"pre-?reqs?|prerequisite|precondition|pre-?flight|pre-deploy|pre-cutover|readiness|gates", low):
        return "preflight"
    return "steps"


# --- building ------------------------------------------------------------------------------------------


@dataclass
class Ctx:
    cls: str
    section: Section
    at: str | None
    phase: dict[str, Any] | None = None
    mode: str | None = None  # set by a label paragraph ("Expected:", "Triggers:", ...)
    mode_line: int = 0
    last_exec: dict[str, Any] | None = None
    last_step: dict[str, Any] | None = None
    pending_title: tuple[str, int] | None = None
    mode_text: str = ""
    chain: bool = False
    chain_prev: str | None = None


def _set_parts(**parts: Any) -> dict[str, Any]:
    """The parts that are set (not empty), in the order given: a runbook section without empty keys."""
    return {k: v for k, v in parts.items() if v}


def build(doc: Section, text: str, name: str) -> Draft:
    d = Draft(name=name, source=text, lines=text.split("\n"))  # markdown-it counts lines by \n only
    _prescan(d, doc)
    # title: the first level-1 heading (or the first heading)
    top = doc
    if not doc.blocks and len(doc.children) == 1 and doc.children[0].level == 1:
        top = doc.children[0]
        d.doc["title"] = top.title
        d.mark(top.line, top.line, "field", "title")
    elif doc.children and doc.children[0].level == 1:
        top = doc
        d.doc["title"] = doc.children[0].title
    d.doc["name"] = slug(d.doc.get("title") or name, "imported")
    ctx = Ctx(cls="info", section=top, at=None)
    _blocks(d, top.blocks, ctx, description_target="description")
    for child in top.children:
        _section(d, child, parent_cls="steps", parent_at=None)
    _finish(d)
    return d


def _prescan(d: Draft, sec: Section) -> None:
    """Roles, env values and the tools list are needed before the sections that use them."""
    stack = [sec]
    while stack:
        s = stack.pop()
        stack.extend(reversed(s.children))
        cls = classify(s.title) if s.level else "steps"
        for blk in _walk_blocks(s.blocks):
            if isinstance(blk, Fence) and _is_env_file(blk):
                for _, _, line in shell.join_continuations(blk.content):
                    m = shell.ASSIGNMENT.match(line.strip())
                    if m:
                        d.raw_values.setdefault(m.group(1), _unquote(m.group(2)))
            if cls == "roles" and isinstance(blk, ListBlock):
                for it in blk.items:
                    _role_item(d, it)
            if cls == "tools" and isinstance(blk, ListBlock):
                for it in blk.items:
                    for code in _codes(it):
                        if shell.looks_like_command(code):
                            cmd = shell.parse_command(code)
                            if cmd.argv and not cmd.needs_shell:
                                script = _script_name(cmd.argv)
                                if script:
                                    d.scripts.setdefault(script, cmd.argv)
                                    label = strip_label(it.lead.inline.lead_bold or "") if it.lead else ""
                                    if len(label.split()) >= 2:
                                        d.tool_labels.setdefault(label.lower(), script)


def _unquote(v: str) -> str:
    v = v.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        return v[1:-1]
    return v


def _walk_blocks(blocks: list[Block]) -> list[Block]:
    out: list[Block] = []
    stack = list(reversed(blocks))
    while stack:
        b = stack.pop()
        out.append(b)
        if isinstance(b, ListBlock):
            for it in reversed(b.items):
                stack.extend(reversed(it.blocks))
    return out


def _codes(item: Item) -> list[str]:
    out: list[str] = []
    for b in _walk_blocks(item.blocks):
        if isinstance(b, Para):
            out.extend(b.inline.codes)
    return out


def _script_name(argv: list[str]) -> str | None:
    for w in argv[:3]:
        base = w.rsplit("/", 1)[-1]
        if base.endswith((".py", ".sh")):
            return base
    return None


def _is_env_file(f: Fence) -> bool:
    cmds = shell.join_continuations(f.content)
    if not cmds:
        return False
    return all(shell.ASSIGNMENT.match(c[2].strip()) and " " not in c[2].split("=", 1)[0] for c in cmds) and all(
        shell.parse_command(c[2]).assigns_only for c in cmds
    )


def _role_item(d: Draft, it: Item) -> None:
    lead = it.lead
    if lead is None:
        return
    label = lead.inline.lead_bold or lead.inline.text.split("—")[0].split(":")[0]
    label = strip_label(label)
    abbrev = re.search(r"\(([A-Z]{2,6})\)", label)
    rid = abbrev.group(1).lower() if abbrev else slug(re.sub(r"\(.*?\)", "", label), "role")
    if rid in d.roles:
        return
    rest = lead.inline.text[len(lead.inline.lead_bold or "") :].strip(" :—-–")
    low = rest.lower()
    may: list[str] = []
    if "decision" in low or "decide" in low or "go/no-go" in low:
        may.append("decide")
    if "rollback" in low or "kill switch" in low or "authority" in low:
        may.append("rollback")
    role: dict[str, Any] = {"title": label}
    if rest:
        role["description"] = rest
    if may:
        role["may"] = may
    d.roles[rid] = role
    d.mark(it.first, it.last, "field", f"roles.{rid}")


def _section(d: Draft, sec: Section, parent_cls: str, parent_at: str | None) -> None:
    own = classify(sec.title)
    cls = own if own != "steps" else parent_cls
    if cls in ("roles",) and own == "steps":
        cls = "steps"
    if cls == "info" and own == "steps":
        cls = "steps"
    at = ttime(sec.title) or parent_at
    title = sec.title
    d.mark(sec.line, sec.line, "field", f"section {slug(title, 'section')} ({cls})")
    ctx = Ctx(cls=cls, section=sec, at=at)
    if cls == "decision":
        _decision_section(d, sec, ctx)
    else:
        _blocks(d, sec.blocks, ctx, description_target=None)
    if ctx.phase is not None:
        d.mark(sec.line, sec.line, "field", f"phases.{ctx.phase['id']}.title", force=True)
    for child in sec.children:
        _section(d, child, cls if cls not in ("info", "roles", "rules") else "steps", at)


# --- phases and steps ----------------------------------------------------------------------------------


def _phase(d: Draft, ctx: Ctx) -> dict[str, Any]:
    if ctx.phase is None:
        title = ctx.section.title or d.doc.get("title", "Steps")
        ph: dict[str, Any] = {"id": d.new_id(title, "phase"), "title": title}
        if ctx.at:
            ph["at"] = ctx.at
        ph["_cls"] = ctx.cls
        ph["steps"] = []
        d.phases.append(ph)
        ctx.phase = ph
    return ctx.phase


def _add_step(d: Draft, ctx: Ctx, step: dict[str, Any], first: int, last: int) -> dict[str, Any]:
    if ctx.cls == "rollback":
        d.rollback_steps.append(step)
        where = "rollback.steps"
    elif ctx.cls == "hypercare" and step["kind"] == "check":
        d.hc_checks.append(step)
        where = "hypercare.checks"
    else:
        ph = _phase(d, ctx)
        ph["steps"].append(step)
        where = f"phases.{ph['id']}"
    if where.startswith("phases.") and step.get("with"):
        blob = json.dumps(step["with"])
        refs = set(re.findall(r"steps\.([A-Za-z][A-Za-z0-9_.-]*?)\.output", blob))
        ids = {s["id"] for s in ctx.phase["steps"]} if ctx.phase and refs else set()
        needs = sorted(refs & ids)
        if needs:
            step["needs"] = needs
    if where.startswith("phases.") and ctx.chain:
        # document order is execution order in numbered lists, fences and step tables
        ids_here = {s["id"] for s in ctx.phase["steps"]} if ctx.phase else set()
        if ctx.chain_prev and ctx.chain_prev in ids_here and ctx.chain_prev not in step.get("needs", []):
            step["needs"] = [*step.get("needs", []), ctx.chain_prev]
        ctx.chain_prev = step["id"]
    kind = step["kind"] + (f" {step['type']}" if step.get("type") else "")
    d.mark(first, last, "step", f"{where}: {step['id']} ({kind})", force=True)
    ctx.last_step = step
    if step["kind"] in ("check", "action"):
        ctx.last_exec = step
    return step


def _manual(
    d: Draft, ctx: Ctx, title: str, text: str, first: int, last: int, todo: str | None = None
) -> dict[str, Any]:
    role = d.role_for(text) or d.role_for(ctx.section.title) or d.ensure_default_role()
    step: dict[str, Any] = {"id": d.new_id(title), "title": title, "kind": "manual", "role": role}
    step["instructions"] = text
    blanks = _BLANK.findall(text)
    if blanks:
        label = re.split(r"[:(]", text)[0].strip() or title
        step["inputs"] = [{"id": "value", "title": short(label, 60)}]
    if ctx.at and ctx.cls != "rollback":
        step["at"] = ctx.at
    _add_step(d, ctx, step, first, last)
    if todo:
        d.todo(step["id"], first, todo)
    return step


def _blocks(d: Draft, blocks: list[Block], ctx: Ctx, description_target: str | None) -> None:
    for blk in blocks:
        if isinstance(blk, Para):
            _para(d, blk, ctx, description_target)
        elif isinstance(blk, ListBlock):
            mode = ctx.mode
            saved = ctx.chain
            if blk.ordered and not saved:
                ctx.chain, ctx.chain_prev = True, None
            for it in blk.items:
                _item(d, it, ctx, mode)
            ctx.chain = saved
            ctx.mode = None
        elif isinstance(blk, Fence):
            _fence(d, blk, ctx, title=None)
            ctx.mode = None
        elif isinstance(blk, Table):
            _table(d, blk, ctx)
        elif isinstance(blk, Html):
            _html(d, blk, ctx)
        elif isinstance(blk, Rule):
            d.mark(blk.first, blk.last, "layout", "horizontal rule")


def _label_mode(text: str) -> str | None:
    low = text.lower().strip().rstrip(":").strip("*_ ")
    if not text.strip().rstrip("*_ ").endswith(":"):
        return None
    if low.startswith(("expected", "expect", "acceptance", "*acceptance")):
        return "expect"
    if (low.startswith("set ") and "config" in low) or "flag" in low:
        return "flags"
    if low.startswith("if "):
        return "if"
    if "trigger" in low or "rollback immediately if" in low:
        return "triggers"
    if low.startswith("rollback actions") or low == "steps":
        return "rollback-steps" if "rollback" in low else "steps"
    if low.startswith(("watch", "add daily review")):
        return "watch"
    if low.startswith(("artifacts", "artifacts / proof")):
        return "artifacts"
    if low.startswith(("refs", "references")):
        return "refs"
    if low.startswith(("only proceed if", "do not start", "go only if")) or "unless these are met" in low:
        return "preconditions" if not low.startswith("go only if") else "go-criteria"
    if "requires" in low and ("rollback" in low or "near-miss" in low):
        return "followup"
    return "label"


def _para(d: Draft, p: Para, ctx: Ctx, description_target: str | None) -> None:
    text = p.inline.text
    mode = _label_mode(text)
    if mode:
        ctx.mode, ctx.mode_line, ctx.mode_text = mode, p.first, strip_label(text)
        if mode in ("rollback-steps",):
            d.mark(p.first, p.last, "field", "rollback.steps (label)")
        else:
            d.mark(p.first, p.last, "field", f"label for the list below ({mode})")
        return
    # commands in a paragraph ("Run preflight: `python ...`")
    cmds = [c for c in p.inline.codes if shell.looks_like_command(c)]
    if cmds and ctx.cls not in ("signoff",):
        for k, c in enumerate(cmds):
            _command_step(d, ctx, title_of(p.inline) if k == 0 else short(c, 60), c, p.first, p.last, text)
        return
    lead = (p.inline.lead_bold or "").lower()
    if lead.startswith(("go/no-go decision", "go / no-go decision")) or lead.startswith("decider"):
        _decision(d, ctx, text, p.first, p.last, statement=None)
        return
    if ctx.last_step is not None and ctx.last_step["kind"] == "decision" and text.count('"') >= 2:
        ctx.last_step["statement"] = text.strip('"“” ')
        d.mark(p.first, p.last, "field", f"{ctx.last_step['id']}.statement")
        return
    m = re.search(r"decides? within\s+" + _DUR, text, re.I)
    if m:
        d.decision_deadline = duration(m.group(1), m.group(2))
    if ctx.cls in ("info", "rules") or description_target:
        d.description.append(text)
        d.mark(p.first, p.last, "field", "description")
        return
    if ctx.phase is not None or ctx.cls in ("steps", "preflight"):
        if ctx.cls == "steps" and _looks_like_instruction(text):
            _manual(d, ctx, title_of(p.inline), text, p.first, p.last)
            return
        ph = _phase(d, ctx) if ctx.cls in ("steps", "preflight") else None
        if ph is not None:
            ph["description"] = (ph.get("description", "") + " " + text).strip()
            d.mark(p.first, p.last, "field", f"phases.{ph['id']}.description")
            return
    if ctx.cls == "rollback":
        d.description.append(text)
        d.mark(p.first, p.last, "field", "description")
        return
    d.description.append(text)
    d.mark(p.first, p.last, "field", "description")


def _looks_like_instruction(text: str) -> bool:
    first = text.split(" ", 1)[0].lower().strip("*")
    return first in ("deploy", "run", "execute", "perform", "disable", "enable", "set", "ensure", "confirm", "verify")


def _item_text(it: Item) -> str:
    parts: list[str] = []
    for b in it.blocks:
        if isinstance(b, Para):
            parts.append(b.inline.text)
        elif isinstance(b, ListBlock):
            for sub in b.items:
                parts.append("- " + _item_text(sub))
        elif isinstance(b, Fence):
            parts.append(b.content.strip())
    return "\n".join(parts)


def _item(d: Draft, it: Item, ctx: Ctx, mode: str | None, prefix: str = "") -> None:
    lead = it.lead
    inl = lead.inline if lead else Inline()
    text = inl.text
    full = _item_text(it)
    title = title_of(inl) if text else "Step"
    if prefix and len(inl.codes) == 1 and text.strip() == inl.codes[0].strip():
        title = prefix
    elif prefix:
        title = short(f"{prefix}: {title}", 90)
    cls = ctx.cls
    # modes set by a label paragraph, and sections whose items are not steps
    if mode == "expect" and ctx.last_exec is not None:
        _expectation(d, ctx.last_exec, it, ctx)
        return
    if mode == "expect" and ctx.last_step is not None:
        ctx.last_step["instructions"] = (ctx.last_step.get("instructions", "") + "\nExpected: " + full).strip()
        d.mark(it.first, it.last, "field", f"{ctx.last_step['id']}.instructions")
        return
    if mode == "artifacts" and ctx.last_step is not None:
        ctx.last_step.setdefault("evidence", []).append({"name": short(text, 120)})
        d.mark(it.first, it.last, "field", f"{ctx.last_step['id']}.evidence")
        return
    if (alarms := _cloudwatch_alarms(d, inl)) is not None:
        _alarms_check(d, ctx, title, alarms, it.first, lead.last if lead else it.first)
        return
    if mode == "refs" or (cls == "info" and not _has_command(it)):
        if mode == "refs" and ctx.last_step is not None:
            ctx.last_step.setdefault("refs", []).append(inl.codes[0] if inl.codes else text)
            d.mark(it.first, it.last, "field", f"{ctx.last_step['id']}.refs")
        else:
            d.description.append(full if not prefix else f"{prefix}: {full}")
            d.mark(it.first, it.last, "field", "description")
        return
    if mode == "preconditions":
        ph = _phase(d, ctx)
        ph.setdefault("preconditions", []).append(full)
        d.mark(it.first, it.last, "field", f"phases.{ph['id']}.preconditions")
        if cls != "preflight":
            return
    if mode == "go-criteria":
        _decision(d, ctx, full, it.first, it.last, statement=None, criteria=True)
        return
    if mode in ("rollback-steps", "steps") and cls in ("triggers", "rollback"):
        saved = ctx.cls
        ctx.cls = "rollback"
        _step_item(d, it, ctx, title, prefix)
        ctx.cls = saved
        return
    if mode == "if" and re.search(r"\b(rollback|roll back|kill switch)\b", text, re.I):
        _trigger(d, f"{ctx.mode_text}: {text}", it.first, it.last, then="rollback")
        return
    if text.strip("() .").lower() in ("none", "n/a", "na", "-"):
        d.description.append(f"{ctx.section.title}: {text}")
        d.mark(it.first, it.last, "field", "description")
        return
    if mode == "triggers" or cls == "triggers":
        _trigger(d, text or full, it.first, it.last, then=None)
        for b in it.blocks[1:]:
            d.mark(b.first, b.last, "field", "triggers")
        return
    if mode == "followup" or cls == "followup":
        d.follow_up.append(full)
        d.mark(it.first, it.last, "field", "rollback.follow_up")
        return
    if mode == "watch" or (cls == "hypercare" and not _has_command(it) and not inl.codes):
        if cls == "hypercare":
            _hypercare_item(d, it, ctx)
            return
        _observe_or_focus(d, it, ctx)
        return
    if cls == "roles":
        if it.first not in d.account:
            _role_item(d, it)
        return
    if cls == "rules":
        m = re.search(r"decides? within\s+" + _DUR, text, re.I)
        if m:
            d.decision_deadline = duration(m.group(1), m.group(2))
            d.mark(it.first, it.last, "field", "settings.decision_deadline")
            return
        d.description.append(full)
        d.mark(it.first, it.last, "field", "description")
        return
    if cls == "comms":
        _comms_item(d, it)
        return
    if cls == "evidence":
        d.evidence_items.append((it.first, short(full.replace("\n", " "), 200), "rollback" in full.lower()))
        d.mark(it.first, it.last, "field", "evidence")
        return
    if cls == "completion":
        _completion_item(d, it)
        return
    if cls == "signoff":
        _signoff_item(d, it, prefix)
        return
    if cls == "tools":
        _tool_item(d, it, ctx)
        return
    if cls == "hypercare":
        _hypercare_item(d, it, ctx)
        return
    _step_item(d, it, ctx, title, prefix)


def _has_command(it: Item) -> bool:
    if any(shell.looks_like_command(c) for c in _codes(it)):
        return True
    return any(isinstance(b, Fence) for b in _walk_blocks(it.blocks))


def _step_item(d: Draft, it: Item, ctx: Ctx, title: str, prefix: str) -> None:
    lead = it.lead
    inl = lead.inline if lead else Inline()
    text = inl.text
    low = text.lower()
    nested = [b for b in it.blocks[1:]]
    label_only = bool(inl.lead_bold) and strip_label(text) == strip_label(inl.lead_bold or "")
    label_only = label_only or text.rstrip().endswith(":")
    # GO / NO-GO
    if (
        re.search(r"\bdecision\b", low)
        and any("go" in _item_text(it).lower().split() or "no-go" in _item_text(it).lower() for _ in [0])
        and "go" in _item_text(it).lower()
    ):
        _decision(d, ctx, _item_text(it), it.first, it.last, statement=None)
        return
    lead_cmds = [c for c in inl.codes if shell.looks_like_command(c)]
    if "secret" in low and nested and all(_is_secret_path_list(b) for b in nested):
        for b in nested:
            assert isinstance(b, ListBlock)
            for sub in b.items:
                _secret_check(d, ctx, sub, text)
        d.mark(it.first, it.first, "field", "title of the secret checks below")
        return
    ctx.last_exec = None
    if label_only and nested and not lead_cmds and (tool := _tool_for_label(d, strip_label(inl.lead_bold or text))):
        _tool_group(d, it, ctx, strip_label(inl.lead_bold or text), tool)
        return
    if label_only and nested and not lead_cmds:
        d.mark(it.first, lead.last if lead else it.first, "field", "title of the steps below")
        label = strip_label(inl.lead_bold or text)
        if label.lower() in ("run", "confirm", "expect", "execute"):
            label = prefix
        for b in nested:
            _nested(d, b, ctx, label or prefix)
        return
    # one step for the item's own text
    if lead_cmds:
        for k, c in enumerate(lead_cmds):
            _command_step(d, ctx, title if k == 0 else short(c, 60), c, it.first, lead.last if lead else it.first, text)
    elif _flag_sets(inl, ctx):
        _flag_step(d, ctx, title, inl, it.first, lead.last if lead else it.first)
    elif _script_ref(d, inl):
        script = _script_ref(d, inl)
        assert script is not None
        d.script_refs.add(script)
        _command_step(d, ctx, title, None, it.first, lead.last if lead else it.first, text, argv=d.scripts[script])
    elif _env_assignments(inl) and re.search(r"\b(verif|check|confirm)", (prefix + " " + low).lower()):
        _env_checks(d, ctx, title, inl, it.first, lead.last if lead else it.first)
    elif _api_path(inl) and re.search(r"\b(verify|check|confirm|health)\b", low):
        _http_path_step(d, ctx, title, _api_path(inl) or "", text, it.first, lead.last if lead else it.first)
    elif not inl.codes and (health := _health_status(d, low)) is not None:
        # "API health 200": the health path the document names elsewhere, with that status
        step = _http_path_step(d, ctx, title, health[0], text, it.first, lead.last if lead else it.first)
        step["with"]["expect"] = {"status": health[1]}
    elif (aws := _aws_access(d, inl)) is not None:
        _command_step(d, ctx, title, None, it.first, lead.last if lead else it.first, text, argv=aws)
        if ctx.last_exec is not None:
            d.todo(
                ctx.last_exec["id"],
                it.first,
                "drafted as `aws sts get-caller-identity`: proves the credentials, not the permissions",
            )
    elif (rerun := _rerun(d, low)) is not None:
        _command_step(d, ctx, title, None, it.first, lead.last if lead else it.first, text, argv=rerun)
        rest = low.split(" and ", 1)[1] if " and " in low else ""
        if re.search(r"\balarms? (?:are |is )?still (?:present|there|exist)", rest) and d.alarms_check is not None:
            again = d.alarms_check
            step = {
                "id": d.new_id(f"re-run {again['title']}"),
                "title": f"Alarms still present: {again['title']}",
                "kind": "check",
                "type": "command",
                "with": json.loads(json.dumps(again["with"])),
            }
            _place(d, ctx, step, it.first, lead.last if lead else it.first)
        elif ctx.last_exec is not None and rest:
            d.todo(ctx.last_exec["id"], it.first, f"re-runs the earlier command; the rest is not checked: {text}")
    elif (m := re.search(r"\b(?:observe|watch)\b.*?\bfor\s+" + _DUR, text, re.I)) is not None:
        _observe(d, ctx, title, text, duration(m.group(1), m.group(2)), it.first, it.last)
    elif text.rstrip().endswith(":") and not nested:
        ctx.pending_title = (strip_label(text), it.first)
        d.mark(it.first, it.last, "field", "title of the command below")
    elif text and _prose_step(d, ctx, it, title, prefix):
        pass
    elif text:
        _manual(d, ctx, title, text, it.first, lead.last if lead else it.first)
    for b in nested:
        _nested(d, b, ctx, title)


# --- prose that names something a machine can check or do ----------------------------------------------

_PROSE_LIMIT = 2000  # characters of one item's words that the prose recognitions read
_FLAG_STATE = {"disabled": False, "off": False, "false": False, "enabled": True, "on": True, "true": True}
_IDENT = re.compile(r"[a-z][a-z0-9_.-]*")
_SECRET_NOUN = re.compile(r"[A-Za-z][A-Za-z0-9 .-]{0,40}\b(?:token|key|secret|password)s?", re.I)


def _prose_step(d: Draft, ctx: Ctx, it: Item, title: str, prefix: str) -> bool:
    """A list item in words that still names a flag, template switches, secrets, a directory, an earlier
    check to re-run or a tool: the executable steps for it (True), else False (it stays a manual step)."""
    assert it.lead is not None
    inl = it.lead.inline
    text, first, last = inl.text, it.first, it.lead.last
    label = prefix or (ctx.mode_text if ctx.mode == "label" else "")
    if len(text) > _PROSE_LIMIT:
        return False  # a line that long is not one step's words (and hostile input stays linear)
    if re.search(r"\broll(?:ing)? ?back\b", text, re.I) and _GT.search(text) and _FOR.search(text):
        # "If 5xx > 2% for 3 min, roll back": a rollback trigger (drafted; it needs a metric source)
        _trigger(d, text, it.first, it.last, then="rollback")
        return True
    if (url := _verify_url(inl)) is not None:
        check: dict[str, Any] = {"url": d.templated(url)}  # `<placeholders>` and `$NAMES` become references
        status = _HTTP_STATUS.search(text) or re.search(r"\breturns?\s+([1-5]\d\d)\b", text)
        if status:
            check["expect"] = {"status": int(status.group(1))}
        _place(
            d, ctx, {"id": d.new_id(title), "title": title, "kind": "check", "type": "http", "with": check}, first, last
        )
        return True
    if (flag := _flag_words(text, prefix)) is not None:
        name, value, kind = flag
        d.flags_line = d.flags_line or first
        d.flags_used.setdefault(name, value)
        if kind == "check":
            step: dict[str, Any] = {"kind": "check", "type": "flag", "with": {"flag": name, "is": value}}
        else:
            step = {"kind": "action", "type": "flag", "with": {"flags": {name: value}}}
        _place(d, ctx, {"id": d.new_id(title), "title": title, **step}, first, last)
        return True
    if enables := _enable_codes(inl, label):
        value = not label.lower().lstrip().startswith("disable")
        for code, optional in enables:
            d.flags_line = d.flags_line or first
            d.flags_used.setdefault(code, not value)  # before the switch, the template was the other way
            verb = "Enable" if value else "Disable"
            step = {
                "id": d.new_id(f"{verb} {code}"),
                "title": f"{verb} {code}",
                "kind": "action",
                "type": "flag",
                "with": {"flags": {code: value}},
            }
            _place(d, ctx, step, first, last)
            if optional:
                d.todo(step["id"], first, f"optional in the document: keep or drop this step ({short(text, 80)})")
        return True
    if names := _secret_words(text):
        for noun in names:
            env = re.sub(r"[^A-Za-z0-9]+", "_", noun).strip("_").upper()
            d.secret(env, f"named '{noun}' in the document")
            ref = d.secrets[snake(env)]
            step = _presence_check(d, ctx, noun, {"provider": ref["provider"], "id": ref["id"]}, first, last)
        d.todo(
            step["id"],
            first,
            "secret names drafted from the words "
            + ", ".join(f"'{n}'" for n in names)
            + "; give each its real name"
            + (
                " and provider (the document keeps secrets in Secrets Manager)"
                if "secrets manager" in d.source.lower()
                else ""
            ),
        )
        return True
    if (stored := _stored_secret(d, text)) is not None:
        _presence_check(d, ctx, stored["id"], dict(stored), first, last, title=title)
        return True
    if (folder := _dir_present(inl)) is not None:
        name = snake(re.sub(r"[^A-Za-z0-9]+", "_", folder.rstrip("/").rsplit("/", 1)[-1]) + "_dir")
        step = {
            "id": d.new_id(title),
            "title": title,
            "kind": "check",
            "type": "command",
            "with": {"run": ["test", "-d", d.var(name, folder)]},
        }
        _place(d, ctx, step, first, last)
        if re.search(r"\bhash", text, re.I):
            d.todo(step["id"], first, f"only that the directory exists is checked, not its hashes: {text}")
        return True
    if again := _rerun_checks(d, text.lower()):
        for orig in again:
            step = {
                "id": d.new_id(f"re-run {orig['title']}"),
                "title": f"Re-run: {orig['title']}",
                "kind": "check",
                "type": orig["type"],
                "with": json.loads(json.dumps(orig["with"])),
            }
            _place(d, ctx, step, first, last)
        return True
    if (wanted := _log_words(inl)) is not None:
        win = _WITHIN.search(text)
        within = duration(win.group(1), win.group(2)) if win else "1h"
        path = d.var("log_file", None, "the log file to read (the document names none)")
        step = {
            "id": d.new_id(title),
            "title": title,
            "kind": "check",
            "type": "log",
            "with": {"path": path, "pattern": re.escape(wanted), "within": within},
        }
        _place(d, ctx, step, first, last)
        d.todo(
            step["id"],
            first,
            "the document names no log file (vars.log_file, or read the logs with `command:`)"
            + ("" if win else "; 'within: 1h' is drafted"),
        )
        return True
    if (pull := _image_pull(d, text)) is not None:
        _place(
            d,
            ctx,
            {"id": d.new_id(title), "title": title, "kind": "action", "type": "command", "with": {"run": pull}},
            first,
            last,
        )
        return True
    return False


def _verify_url(inl: Inline) -> str | None:
    """ "Verify https://api.example.com/health returns 200", "Check `https://.../ready` is up": the one URL."""
    if not re.match(r"\s*(verify|check|confirm|ensure|test)\b", inl.text, re.I):
        return None
    urls = {u.rstrip(".,;:)") for u in re.findall(r"https?://[^\s`\"']+", inl.text)}
    return urls.pop() if len(urls) == 1 else None


def _place(d: Draft, ctx: Ctx, step: dict[str, Any], first: int, last: int) -> dict[str, Any]:
    if ctx.at and ctx.cls != "rollback":
        step["at"] = ctx.at
    return _add_step(d, ctx, step, first, last)


def _presence_check(
    d: Draft, ctx: Ctx, name: str, with_: dict[str, Any], first: int, last: int, title: str | None = None
) -> dict[str, Any]:
    step = {
        "id": d.new_id(f"secret {name.replace('/', ' ')}", "secret"),
        "title": title or f"Secret present: {name}",
        "kind": "check",
        "type": "secret",
        "with": with_,
    }
    return _place(d, ctx, step, first, last)


def _flag_words(text: str, prefix: str) -> tuple[str, Any, str] | None:
    """ "Keep outbound flag disabled" (a check), "Set outbound disabled (safety flag ...)" and "Enable outbound"
    under "Enable outbound flag" (actions): (flag, value, check | action)."""
    low = text.lower()
    both = f"{prefix.lower()} {low}"
    m = re.match(r"keep (?:the )?([a-z][\w.-]*) flag (?:is |as )?(disabled|enabled|off|on)\b", low)
    if m:
        return m.group(1), _FLAG_STATE[m.group(2)], "check"
    m = re.match(r"set (?:the )?([a-z][\w.-]*) (?:flag )?(?:to )?(disabled|enabled|off|on)\b", low)
    if m and re.search(r"\bflag\b", both):
        return m.group(1), _FLAG_STATE[m.group(2)], "action"
    m = re.match(r"(enable|disable) (?:the )?([a-z][\w.-]*)\b", low)
    if m and re.search(r"\b" + m.group(1) + r" (?:the )?" + re.escape(m.group(2)) + r" flag\b", both):
        return m.group(2), m.group(1) == "enable", "action"
    return None


def _enable_codes(inl: Inline, label: str) -> list[tuple[str, bool]]:
    """Under "Enable:" / "Enable only Tier 1 templates:", an item that is only switch names (`t_order_status`,
    maybe "(optional)"): each name, and whether the document marks it optional."""
    if not re.match(r"\s*(enable|disable)\b", label, re.I) or not inl.codes:
        return []
    if not all(_IDENT.fullmatch(c.strip()) for c in inl.codes):
        return []
    rest = inl.text
    for c in inl.codes:
        rest = rest.replace(c, " ", 1)
    rest = re.sub(r"\(\s*optional\b[^)]*\)", " ", rest, flags=re.I)
    if re.sub(r"[\s*_,;.]", "", rest):
        return []
    out = []
    pos = 0
    for k, c in enumerate(inl.codes):
        at = inl.text.find(c, pos)
        before = inl.text[pos:at].lower()
        pos = at + len(c)
        after = inl.text[pos:].lower() if k == len(inl.codes) - 1 else ""
        out.append((c.strip(), "optional" in before or "optional" in after))
    return out


def _secret_words(text: str) -> list[str]:
    """ "Secrets exist for prod (Richpanel token, OpenAI key, webhook token)": the secrets it names in words."""
    m = re.search(r"\bsecrets?\b[^()]*\(([^)]*)\)", text, re.I)
    if not m:
        return []
    names = [n.strip() for n in m.group(1).split(",") if n.strip()]
    if not names or not all(_SECRET_NOUN.fullmatch(n) and len(n.split()) <= 3 for n in names):
        return []
    return names


def _stored_secret(d: Draft, text: str) -> dict[str, Any] | None:
    """ "... bot id stored in Secrets Manager": the one secret of the document's secret checks whose name's last
    part is made of the item's words (`.../bot_agent_id`)."""
    if not re.search(r"\bstored in (?:aws )?secrets? ?manager\b", text, re.I):
        return None
    words = set(re.findall(r"[a-z0-9]+", text.lower()))
    found = [
        s["with"]
        for p in d.phases
        for s in p["steps"]
        if s.get("type") == "secret"
        and set(re.findall(r"[a-z0-9]+", str(s["with"]["id"]).rsplit("/", 1)[-1].lower())) <= words
    ]
    return found[0] if len(found) == 1 else None


def _dir_present(inl: Inline) -> str | None:
    """ "RC Artifacts (`/app/artifacts/rc-proof/`) present": the one directory the item says must be there."""
    if not re.search(r"\b(present|exists?|in place)\b", inl.text, re.I):
        return None
    dirs = [c for c in inl.codes if re.fullmatch(r"\.{0,2}/[\w./-]*/", c.strip())]
    return dirs[0].strip() if len(dirs) == 1 else None


def _rerun_checks(d: Draft, low: str) -> list[dict[str, Any]]:
    """ "Re-run health and security regression checks": for each part, the one earlier check (a command or an
    HTTP request, reading no other step's output) that names it."""
    m = re.match(r"re-?run (?:the )?(.+?)\.?$", low)
    if not m:
        return []
    parts = [re.sub(r"\s+(checks?|tests?)$", "", p.strip()) for p in re.split(r",\s*|\s+and\s+", m.group(1))]
    out = []
    for part in parts:
        if not part:
            return []
        found = [
            s
            for p in d.phases
            for s in p["steps"]
            if s.get("kind") == "check"
            and s.get("type") in ("command", "http")
            and "${{ steps." not in json.dumps(s["with"])
            and part in (s["title"] + " " + json.dumps(s["with"])).lower().replace("\\", "")
        ]
        if len(found) != 1:
            return []
        out.append(found[0])
    return out


def _log_words(inl: Inline) -> str | None:
    """ "Tail logs for `Signature Verified` events": the one text the logs must show."""
    if not re.search(r"\b(?:tail|grep|search|check|watch)\b[^.]*\blogs?\b[^.]*\bfor\b", inl.text, re.I):
        return None
    texts = [c for c in inl.codes if not shell.looks_like_command(c) and not c.startswith(("/", "./"))]
    return texts[0] if len(texts) == 1 and len(inl.codes) == 1 else None


def _image_pull(d: Draft, text: str) -> list[str] | None:
    """ "Pull Docker Images" where the document deploys with `docker-compose up` / `docker compose up`."""
    if not re.match(r"pull (?:the )?(?:new )?docker images?\b", text, re.I):
        return None
    if re.search(r"`docker-compose up\b", d.source):
        return ["docker-compose", "pull"]
    if re.search(r"`docker compose up\b", d.source):
        return ["docker", "compose", "pull"]
    return None


def _cloudwatch_alarms(d: Draft, inl: Inline) -> str | None:
    """ "Find alarms: CloudWatch -> Alarms -> `rp-mw-prod-*`": the alarm name prefix."""
    if not re.search(r"cloudwatch\s*(?:→|->|>)\s*alarms", inl.text, re.I):
        return None
    prefixes = [c.strip()[:-1] for c in inl.codes if re.fullmatch(r"[A-Za-z0-9_./-]+\*", c.strip())]
    return prefixes[0] if prefixes else None


def _alarms_check(d: Draft, ctx: Ctx, title: str, prefix: str, first: int, last: int) -> dict[str, Any] | None:
    """`aws cloudwatch describe-alarms` for the prefix (with the document's profile and region): the alarms exist."""
    argv = ["aws", "cloudwatch", "describe-alarms", "--alarm-name-prefix", d.var("alarm_prefix", prefix)]
    argv += ["--query", "MetricAlarms[].AlarmName", "--output", "text"]
    profile = re.search(r"(?:--profile[ =]|AWS_PROFILE=)([A-Za-z0-9_.-]+)", d.source)
    region = re.search(r"(?:--region[ =]|AWS_REGION=|AWS_DEFAULT_REGION=)([a-z]{2}-[a-z]+-\d)\b", d.source)
    if profile:
        argv += ["--profile", d.var("aws_profile", profile.group(1))]
    if region:
        argv += ["--region", d.var("aws_region", region.group(1))]
    step = _command_step(d, ctx, title, None, first, last, title, argv=argv)
    if step is not None and step.get("type") == "command":
        step["kind"] = "check"
        step["with"]["expect"] = {"stdout": re.escape(prefix)}
        d.alarms_check = step
    return step


def _tool_for_label(d: Draft, label: str) -> str | None:
    """A group titled like a tools-list entry ("Prod Config Verification" for "Config Verification:
    `python3 scripts/verify_prod_env.py`"): that tool's script."""
    low = label.lower().strip()
    found = {script for tl, script in d.tool_labels.items() if low == tl or low.endswith(" " + tl)}
    return found.pop() if len(found) == 1 else None


def _tool_group(d: Draft, it: Item, ctx: Ctx, label: str, script: str) -> None:
    """The tool runs once for the group; the group's items in words are what it verifies (its description);
    items with code stay steps of their own."""
    assert it.lead is not None
    d.script_refs.add(script)
    step = _command_step(d, ctx, label, None, it.first, it.lead.last, it.lead.inline.text, argv=d.scripts[script])
    verifies: list[str] = []
    for b in it.blocks[1:]:
        if not isinstance(b, ListBlock) or step is None:
            _nested(d, b, ctx, label)
            continue
        for sub in b.items:
            sub_inl = sub.lead.inline if sub.lead else Inline()
            if sub_inl.codes or len(sub.blocks) > 1 or not sub_inl.text:
                _item(d, sub, ctx, None, label)
                continue
            verifies.append(sub_inl.text.rstrip("."))
            step["description"] = "Verifies: " + "; ".join(verifies) + "."
            d.mark(sub.first, sub.last, "field", f"{step['id']}.description")


def _nested(d: Draft, b: Block, ctx: Ctx, prefix: str) -> None:
    if isinstance(b, ListBlock):
        mode: str | None = None
        for sub in b.items:
            st = sub.lead.inline.text if sub.lead else ""
            if ctx.last_exec is not None and _BLANK.search(st) and not _has_command(sub):
                name = strip_label(_BLANK.sub("", st)).strip(" :-") or "Reference"
                ctx.last_exec.setdefault("evidence", []).append({"name": name})
                d.mark(sub.first, sub.last, "field", f"{ctx.last_exec['id']}.evidence")
                continue
            if ctx.last_exec is not None and _is_expectation_text(st) and not _has_command(sub):
                _expectation(d, ctx.last_exec, sub, ctx)
                continue
            if st.lower().rstrip(":") in ("run", "execute") and _has_command(sub):
                d.mark(sub.first, sub.lead.last if sub.lead else sub.first, "field", "label (run)")
                for bb in sub.blocks[1:]:
                    _nested(d, bb, ctx, prefix)
                continue
            _item(d, sub, ctx, mode, prefix)
    elif isinstance(b, Fence):
        _fence(d, b, ctx, title=prefix)
    elif isinstance(b, Para):
        if ctx.last_step is not None:
            ctx.last_step["instructions"] = (ctx.last_step.get("instructions", "") + "\n" + b.inline.text).strip()
            if ctx.last_step["kind"] not in ("manual",):
                ctx.last_step.pop("instructions")
                ctx.last_step["description"] = (ctx.last_step.get("description", "") + " " + b.inline.text).strip()
            d.mark(b.first, b.last, "field", f"{ctx.last_step['id']} text")
        else:
            _para(d, b, ctx, None)
    elif isinstance(b, Table):
        _table(d, b, ctx)
    elif isinstance(b, Html):
        _html(d, b, ctx)


def _is_expectation_text(text: str) -> bool:
    low = text.lower().lstrip("*_ ")
    return low.startswith(("confirm", "expect", "acceptance", "must ", "should "))


# --- executable steps ----------------------------------------------------------------------------------


def _kind_for(title: str, argv: list[str]) -> str:
    """check (read-only, runs in a dry run) or action (only described in a dry run): action when unsure."""
    low_title = title.lower()
    if any(re.search(r"\b" + w, low_title) for w in _CHANGE) and not re.search(r"\b(verify|check|confirm)", low_title):
        return "action"
    words = [w.lower() for w in argv[1:5]]
    if any(w in _READ_ONLY for w in words):
        return "check"
    if any(c in w for w in words for c in _CHANGE):
        return "action"
    script = (_script_name(argv) or "").lower()
    if any(w in script for w in _READ_ONLY) or re.search(r"\b(verify|check|confirm)", low_title):
        return "check"
    return "action"


def _command_step(
    d: Draft,
    ctx: Ctx,
    title: str,
    code: str | None,
    first: int,
    last: int,
    context_text: str,
    argv: list[str] | None = None,
) -> dict[str, Any] | None:
    if argv is None:
        assert code is not None
        cmd = shell.parse_command(code)
    else:
        cmd = shell.Command(text=" ".join(argv), argv=list(argv))
    uncertain = re.search(r"\bdry[- ]run\b|\bif possible\b|\bif needed\b", context_text, re.I)
    if uncertain and not cmd.needs_shell:
        return _manual(
            d,
            ctx,
            title,
            context_text,
            first,
            last,
            todo=f"'{uncertain.group(0)}': where and how `{cmd.text}` runs is up to a person; make it a step once decided",
        )
    if cmd.needs_shell or not cmd.argv:
        return _manual(
            d,
            ctx,
            title,
            f"{context_text}\n{cmd.text}".strip(),
            first,
            last,
            todo=f"not translated: {cmd.needs_shell or 'no command'}; run by hand or rewrite as argv: {cmd.text}",
        )
    if cmd.program == "curl":
        return _curl_step(d, ctx, title, cmd, first, last, context_text)
    if cmd.program == "psql":
        sql = _psql_sql(cmd.argv)
        if sql is not None:
            return _sql_step(d, ctx, title, sql, _psql_url(d, cmd.argv), first, last)
    env = {k: d.value_ref(k, v) for k, v in cmd.env.items()}
    run = [_argv_word(d, w) for w in cmd.argv]
    plain_title = re.sub(r"\(?\b(?:expect|should|returns?|shows?)\b.*$", "", title, flags=re.I)  # not "deployed"
    kind = _kind_for(plain_title.replace(code or "", " ") if code else plain_title, cmd.argv)
    withp: dict[str, Any] = {"run": run}
    if env:
        withp["env"] = env
    step: dict[str, Any] = {"id": d.new_id(title), "title": title, "kind": kind, "type": "command", "with": withp}
    if ctx.at and ctx.cls not in ("rollback",):
        step["at"] = ctx.at
    role = d.role_for(context_text)
    if role:
        step["role"] = role
    if cmd.program == "psql" and "-f" in cmd.argv and "ON_ERROR_STOP=1" not in cmd.argv:
        run[1:1] = ["-v", "ON_ERROR_STOP=1"]
        step["description"] = "psql stops at the first error (-v ON_ERROR_STOP=1) so that a failure fails the step."
    placed = _add_step(d, ctx, step, first, last)
    _prose_expectations(d, placed, context_text, first, code)
    return placed


def _argv_word(d: Draft, w: str) -> str:
    if "://" in w and any(is_secret(m) for m in _PLACEHOLDER.findall(w)):
        # a URL with credentials in it is one secret, never a value pasted together
        scheme = w.split("://", 1)[0].split("+", 1)[0]
        return d.secret(f"{scheme}_url", f"the {scheme} URL of the document (with its credentials)")
    if _PLACEHOLDER.search(w) or "://" in w:
        return d.templated(w)
    return w


_SAYS = re.compile(
    r"\b(?:expect(?:ed)?|should (?:return|show|print|output|say|be)|returns?|shows?|prints?|outputs?)\s*:?\s+(.+?)\)?\.?$",
    re.I,
)


def _prose_expectations(d: Draft, step: dict[str, Any], text: str, line: int, code: str | None = None) -> None:
    if step.get("type") == "command":
        m = re.search(r"\(run (every\s+\d+\s*\w+|daily|hourly)\)", text, re.I)
        if m:
            return
        rest = text.replace(code, " ") if code else text
        said = _SAYS.search(rest) if len(rest) <= _PROSE_LIMIT else None
        if said and not step["with"].get("expect") and len(said.group(1).split()) <= 6:
            # "(expect `STATUS: deployed`)", "should return `RUNNABLE`", "shows 3": the output it must show
            value = said.group(1).strip(" `'\"")
            pattern = f"^{re.escape(value)}$" if re.fullmatch(r"-?\d+(?:\.\d+)?", value) else re.escape(value)
            _add_stdout(step, [pattern])
            d.todo(step["id"], line, f"output expectation drafted from the text: {short(text, 100)}")
    m = _WITHIN.search(text)
    if m and step.get("type") == "http":
        ms = _to_seconds(m.group(1), m.group(2)) * 1000
        step["with"].setdefault("expect", {})["max_latency_ms"] = ms
        d.mark(line, line, "field", f"{step['id']}.with.expect.max_latency_ms")


def _to_seconds(num: str, unit: str) -> float:
    u = _DURATION_WORDS.get(unit.lower(), "s")
    return float(num) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[u]


def _curl_step(
    d: Draft, ctx: Ctx, title: str, cmd: shell.Command, first: int, last: int, context_text: str
) -> dict[str, Any]:
    req = shell.parse_curl(cmd.argv)
    if req is None:
        return _manual(d, ctx, title, cmd.text, first, last, todo=f"curl without a URL: {cmd.text}")
    withp: dict[str, Any] = {"url": d.templated(req.url)}
    read_only = req.method in ("GET", "HEAD") or any(
        w in req.url.lower() for w in ("verify", "simulate", "status", "health", "check")
    )
    kind = "check" if read_only else "action"
    if req.method != ("GET" if kind == "check" else "POST"):
        withp["method"] = req.method
    headers: dict[str, str] = {}
    for k, v in req.headers.items():
        if k.lower() == "authorization":
            scheme, _, token = v.partition(" ")
            name = _PLACEHOLDER.fullmatch(token.strip())
            if scheme.lower() == "bearer":
                if name:
                    env_name = _env_name_for_value(d, token.strip()) or name.group(1)
                    withp["bearer"] = d.secret(env_name)
                else:
                    withp["bearer"] = d.secret(f"{slug(title, 'api')}_token")
                    d.todo(None, first, "a bearer token was written in the document; it was not copied")
                continue
            headers[k] = d.secret(f"{slug(title, 'api')}_authorization")
            continue
        if k.lower() == "content-type" and req.json_body is not None:
            continue
        headers[k] = d.templated(v) if not is_secret(k) else d.secret(k)
    if headers:
        withp["headers"] = headers
    if req.json_body is not None:
        withp["json"] = req.json_body
    elif req.body is not None:
        withp["body"] = req.body
    if req.insecure:
        withp["verify_tls"] = False
    if req.timeout:
        withp["timeout"] = req.timeout
    if req.fail and kind == "check":
        withp["expect"] = {"status": [200, 201, 202, 204]}
    step: dict[str, Any] = {"id": d.new_id(title), "title": title, "kind": kind, "type": "http", "with": withp}
    if ctx.at and ctx.cls != "rollback":
        step["at"] = ctx.at
    placed = _add_step(d, ctx, step, first, last)
    if cmd.capture:
        if cmd.capture_field:
            d.captures[cmd.capture] = "${{ steps." + step["id"] + ".output.json." + cmd.capture_field + " }}"
            placed["with"].setdefault("expect", {})["condition"] = f"contains(json, '{cmd.capture_field}')"
        else:
            d.todo(
                step["id"], first, f"the output was kept in ${cmd.capture}; refer to it as steps.{step['id']}.output"
            )
    if req.unknown:
        d.todo(step["id"], first, f"curl options not translated: {' '.join(req.unknown)}")
    _prose_expectations(d, placed, context_text, first)
    return placed


def _env_name_for_value(d: Draft, raw: str) -> str | None:
    return next((k for k, v in d.raw_values.items() if v == raw), None)


def _psql_sql(argv: list[str]) -> str | None:
    for i, w in enumerate(argv):
        if w in ("-c", "--command") and i + 1 < len(argv):
            return argv[i + 1]
    return None


def _psql_url(d: Draft, argv: list[str]) -> str:
    for w in argv[1:]:
        if "://" in w or ("=" in w and "host" in w):
            return d.secret("psql_database_url", "libpq connection string (the document's psql target)")
    return d.secret("database_url")


def _sql_step(d: Draft, ctx: Ctx, title: str, sql: str, url: str, first: int, last: int) -> dict[str, Any]:
    statements = [s.strip() for s in sql.split(";") if s.strip()]
    if not statements:
        return _manual(d, ctx, title, sql.strip() or "(no SQL)", first, last, todo="an SQL block with no statement")
    read_only = all(s.split(None, 1)[0].lower() in ("select", "with", "show", "explain") for s in statements)
    step: dict[str, Any] = {"id": d.new_id(title), "title": title, "type": "sql"}
    if read_only and len(statements) == 1:
        step["kind"] = "check"
        step["with"] = {"url": url, "query": statements[0], "expect": {"min_rows": 1}}
        d.todo(step["id"], first, "expected rows drafted as 'at least one'; say what the query must return")
    else:
        step["kind"] = "action"
        step["with"] = {"url": url, "sql": statements if len(statements) > 1 else statements[0]}
    step = {k: step[k] for k in ("id", "title", "kind", "type", "with")}
    if ctx.at and ctx.cls != "rollback":
        step["at"] = ctx.at
    return _add_step(d, ctx, step, first, last)


def _api_path(inl: Inline) -> str | None:
    for c in inl.codes:
        if c.startswith("/") and " " not in c and not c.endswith((".py", ".sh", ".md", "/")):
            return c
    return None


def _health_status(d: Draft, low: str) -> tuple[str, int] | None:
    m = re.search(r"\bhealth\b.*?\b([1-5]\d\d)\b", low)
    if not m:
        return None
    paths = sorted({c for c in re.findall(r"`(/[A-Za-z0-9_/.-]*health[A-Za-z0-9_/.-]*)`", d.source)})
    return (paths[0], int(m.group(1))) if len(paths) == 1 else None


def _aws_access(d: Draft, inl: Inline) -> list[str] | None:
    if not re.search(r"\baws access\b", inl.text, re.I):
        return None
    profile = next(
        (c for c in inl.codes if re.fullmatch(r"[A-Za-z0-9_.-]+", c) and not re.fullmatch(r"[a-z]{2}-[a-z]+-\d", c)),
        None,
    )
    region = next((c for c in inl.codes if re.fullmatch(r"[a-z]{2}-[a-z]+-\d", c)), None)
    if profile is None:
        return None
    argv = ["aws", "sts", "get-caller-identity", "--profile", profile]
    return argv + (["--region", region] if region else [])


def _rerun(d: Draft, low: str) -> list[str] | None:
    """ "Re-run preflight ...": the argv of the one earlier command step that names the same thing."""
    m = re.match(r"re-?run (?:the )?([a-z0-9_-]+)", low)
    if not m:
        return None
    word = m.group(1)
    found = [
        s["with"]["run"]
        for p in d.phases
        for s in p["steps"]
        if s.get("type") == "command" and word in (s["title"].lower() + " " + " ".join(s["with"]["run"]).lower())
    ]
    uniq = {tuple(r) for r in found}
    return list(found[0]) if len(uniq) == 1 else None


def _http_path_step(d: Draft, ctx: Ctx, title: str, path: str, text: str, first: int, last: int) -> dict[str, Any]:
    base = next(
        (d.var(k, v) for k, v in d.raw_values.items() if k.lower() in ("base_url", "api_url")),
        None,
    ) or d.var("base_url", None, "the service's base URL (the document names paths only)")
    step: dict[str, Any] = {
        "id": d.new_id(title),
        "title": title,
        "kind": "check",
        "type": "http",
        "with": {"url": base + path},
    }
    if ctx.at and ctx.cls != "rollback":
        step["at"] = ctx.at
    m = _EVERY_RANGE.search(text) or _EVERY.search(text)
    if ctx.cls == "hypercare" and m:
        step["every"] = duration(m.group(1), m.group(2))
        if _EVERY_RANGE.search(text):
            d.todo(step["id"], first, f"'{m.group(0)}' drafted as every {step['every']}")
    placed = _add_step(d, ctx, step, first, last)
    rest = re.sub(r"`[^`]*`", "", text)
    if re.search(r"\b(shows|updates|successful|returns)\b", rest, re.I):
        d.todo(placed["id"], first, f"only the status is checked; say what the response must show: {text}")
    return placed


_FLAG_CODE = re.compile(r"^([a-z][a-z0-9_.]*)\s*=\s*(true|false|on|off|\d+)$")


def _flag_sets(inl: Inline, ctx: Ctx) -> list[tuple[str, Any]]:
    low = inl.text.lower()
    if not (low.startswith(("set", "enable", "disable", "keep")) or ctx.mode == "flags" or "flag" in low):
        return []
    out: list[tuple[str, Any]] = []
    for c in inl.codes:
        m = _FLAG_CODE.match(c.strip())
        if m:
            v: Any = m.group(2)
            v = {"true": True, "on": True, "false": False, "off": False}.get(v, v)
            if isinstance(v, str) and v.isdigit():
                v = int(v)
            out.append((m.group(1), v))
    return out


def _flag_step(d: Draft, ctx: Ctx, title: str, inl: Inline, first: int, last: int) -> dict[str, Any]:
    flags = dict(_flag_sets(inl, ctx))
    d.flags_line = d.flags_line or first
    for k, v in flags.items():
        d.flags_used.setdefault(k, v)
    step: dict[str, Any] = {
        "id": d.new_id(title),
        "title": title,
        "kind": "action",
        "type": "flag",
        "with": {"flags": flags},
    }
    if ctx.at and ctx.cls != "rollback":
        step["at"] = ctx.at
    return _add_step(d, ctx, step, first, last)


_ENV_CODE = re.compile(r"^([A-Z][A-Z0-9_]*)=(\S*)$")


def _env_assignments(inl: Inline) -> list[tuple[str, str]]:
    out = []
    for c in inl.codes:
        m = _ENV_CODE.match(c.strip())
        if m and not is_secret(m.group(1)):
            out.append((m.group(1), m.group(2)))
    return out


def _env_checks(d: Draft, ctx: Ctx, title: str, inl: Inline, first: int, last: int) -> None:
    for name, value in _env_assignments(inl):
        step: dict[str, Any] = {
            "id": d.new_id(f"{name} is {value}", "env"),
            "title": f"{name}={value}" if title == inl.text.rstrip(".") else title,
            "kind": "check",
            "type": "env",
            "with": {"name": name, "state": "equals", "value": d.var(name, value)},
        }
        if ctx.at and ctx.cls != "rollback":
            step["at"] = ctx.at
        _add_step(d, ctx, step, first, last)
        d.todo(
            step["id"],
            first,
            f"checks {name} in golive's own environment; run golive where the service's config is, or read it there",
        )


def _script_ref(d: Draft, inl: Inline) -> str | None:
    for c in inl.codes:
        base = c.strip().rsplit("/", 1)[-1]
        if base in d.scripts and " " not in c.strip():
            return base
    return None


def _is_secret_path_list(b: Block) -> bool:
    if not isinstance(b, ListBlock):
        return False
    for it in b.items:
        lead = it.lead
        if lead is None or len(lead.inline.codes) != 1:
            return False
        code = lead.inline.codes[0]
        if " " in code or lead.inline.text.strip() != code:
            return False
    return True


def _secret_check(d: Draft, ctx: Ctx, it: Item, context: str) -> None:
    assert it.lead is not None
    path = it.lead.inline.codes[0]
    sm = "secrets manager" in d.source.lower()
    sid = d.new_id(f"secret {path.replace('/', ' ')}", "secret")
    step: dict[str, Any] = {"id": sid, "title": f"Secret present: {path}", "kind": "check", "type": "secret"}
    if sm:
        with_: dict[str, Any] = {"provider": "aws-secretsmanager", "id": path}
        region = re.search(r"\b([a-z]{2}-[a-z]+-\d)\b", d.source)
        if region:
            with_["options"] = {"region": d.var("aws_region", region.group(1))}
    else:
        with_ = {"provider": "env", "id": path.upper().replace("/", "_").replace("-", "_")}
    step["with"] = with_
    if ctx.at:
        step["at"] = ctx.at
    _add_step(d, ctx, step, it.first, it.last)
    sec_name = snake(path.replace("/", "_"))
    if sec_name not in d.secrets:
        d.secrets[sec_name] = {k: v for k, v in with_.items()}


def _observe(d: Draft, ctx: Ctx, title: str, text: str, dur: str, first: int, last: int) -> dict[str, Any]:
    role = d.role_for(text) or d.role_for("observer") or d.ensure_default_role()
    step: dict[str, Any] = {"id": d.new_id(title), "title": title, "kind": "observe", "role": role, "duration": dur}
    step["description"] = text
    return _add_step(d, ctx, step, first, last)


def _observe_or_focus(d: Draft, it: Item, ctx: Ctx) -> None:
    """An item of a "Watch:" list: text for the observe step it belongs to (or the phase)."""
    text = _item_text(it)
    target = ctx.last_step
    sec = ctx.section.title
    if target is None or target.get("kind") != "observe":
        m = re.search(r"\bfor\s+" + _DUR, sec, re.I)
        if (m and ctx.phase is None) or (m and not any(s.get("kind") == "observe" for s in _phase(d, ctx)["steps"])):
            assert m is not None
            target = _observe(d, ctx, strip_label(sec), sec, duration(m.group(1), m.group(2)), it.first, it.last)
    if target is not None:
        target["description"] = (target.get("description", "") + "; watch: " + text).strip("; ")
        d.mark(it.first, it.last, "field", f"{target['id']}.description (watch)")
    else:
        _manual(d, ctx, f"Watch: {short(text, 60)}", text, it.first, it.last)


def _expectation(d: Draft, step: dict[str, Any], it: Item, ctx: Ctx) -> None:
    lead = it.lead
    text = lead.inline.text if lead else ""
    codes = lead.inline.codes if lead else []
    w = step["with"]
    handled = False
    if step.get("type") == "http":
        m = _HTTP_STATUS.search(text)
        if m:
            w.setdefault("expect", {})["status"] = int(m.group(1))
            handled = True
        for c in codes:
            parsed = _json_fragment(c)
            if isinstance(parsed, dict):
                exp = w.setdefault("expect", {}).setdefault("json", {})
                for k, v in parsed.items():
                    if isinstance(v, str | int | float | bool) or v is None or v == []:
                        exp[f"$.{k}" if k.isidentifier() else f"$['{k}']"] = v
                handled = True
        mm = _WITHIN.search(text)
        if mm:
            w.setdefault("expect", {})["max_latency_ms"] = _to_seconds(mm.group(1), mm.group(2)) * 1000
            d.todo(step["id"], it.first, f"drafted as a latency budget on this request: {text}")
            handled = True
    elif step.get("type") == "command":
        pats: list[str] = []
        for c in codes:
            if c.strip() and not shell.looks_like_command(c):
                pats.append(re.escape(c.strip()))
        if pats:
            _add_stdout(step, pats)
            handled = True
            if not all(ch in "".join(codes) for ch in "=:") and ":" not in "".join(codes):
                d.todo(step["id"], it.first, f"output expectation drafted from the text: {text}")
        ec = re.fullmatch(
            r"\s*(?:exits?|exit code|exit status|returns?)\s*(?:with\s*|=\s*|:\s*)?(\d{1,3})\.?\s*", text, re.I
        )
        if ec:
            w.setdefault("expect", {})["exit_code"] = int(ec.group(1))
            handled = True
            d.mark(it.first, it.last, "field", f"{step['id']}.with.expect.exit_code")
            return
    elif step.get("type") == "sql":
        rows = re.fullmatch(r"\s*(?:returns?\s*)?(\d+)\s*rows?\.?\s*", text, re.I)
        if rows and step["kind"] == "check":
            w["expect"] = {"row_count": int(rows.group(1))}
            d.step_todos.get(step["id"], []).clear()
            d.mark(it.first, it.last, "field", f"{step['id']}.with.expect.row_count")
            return
    if not handled or (text and not codes and step.get("type") != "http"):
        d.todo(step["id"], it.first, f"expectation not translated: {text or _item_text(it)}")
        step["description"] = (step.get("description", "") + " Expected: " + (text or _item_text(it))).strip()
    d.mark(it.first, it.last, "field", f"{step['id']}.with.expect")


def _add_stdout(step: dict[str, Any], pats: list[str]) -> None:
    """Every pattern must match stdout (somewhere, in any order)."""
    exp = step["with"].setdefault("expect", {})
    have: list[str] = exp.pop("_stdout", [])
    have += [p for p in pats if p not in have]
    exp["_stdout"] = have
    # Runbook patterns run on RE2 (no lookahead): "all of these, in any order" is a list, one search each.
    exp["stdout"] = have[0] if len(have) == 1 else list(have)


def _json_fragment(code: str) -> Any:
    c = code.strip()
    for cand in (c, "{" + c + "}"):
        try:
            return json.loads(cand)
        except ValueError:
            continue
    return None


def _fence(d: Draft, f: Fence, ctx: Ctx, title: str | None) -> None:
    info = f.info.split(None, 1)[0].lower() if f.info else ""
    pending, ctx.pending_title = ctx.pending_title, None
    base_title = title or (pending[0] if pending else "") or strip_label(ctx.section.title) or "Command"
    if _is_env_file(f):
        names = []
        for _, _, line in shell.join_continuations(f.content):
            m = shell.ASSIGNMENT.match(line.strip())
            if not m:
                continue
            name = m.group(1)
            names.append(name)
            if is_secret(name):
                d.secret(name, "value set on the day; the document's value is not copied")
            else:
                d.var(name, _unquote(m.group(2)))
        step = _manual(
            d,
            ctx,
            base_title,
            "Set these environment values in production (values: see vars/secrets of this runbook): "
            + ", ".join(names),
            f.first,
            f.last,
        )
        d.mark(f.first, f.last, "step", f"{step['id']} (manual; the values became vars and secrets)", force=True)
        for name in names:
            if is_secret(name):
                ref = d.secrets[snake(name)]
                _presence_check(d, ctx, name, {"provider": ref["provider"], "id": ref["id"]}, f.first, f.last)
        return
    if info in ("sql", "postgresql", "pgsql"):
        _sql_step(d, ctx, base_title, f.content, d.secret("database_url"), f.first, f.last)
        return
    shell_fence = info in ("bash", "sh", "shell", "zsh", "console", "terminal", "shell-session") or (
        info == "" and any(shell.looks_like_command(c[2]) for c in shell.join_continuations(f.content))
    )
    if not shell_fence:
        # sample output: an expectation of the last command, else text
        if ctx.last_exec is not None and ctx.last_exec.get("type") == "command":
            lines = [ln.strip() for ln in f.content.splitlines() if ln.strip()]
            _add_stdout(ctx.last_exec, [re.escape(ln) for ln in lines[:5]])
            d.mark(f.first, f.last, "field", f"{ctx.last_exec['id']}.with.expect.stdout")
            d.todo(ctx.last_exec["id"], f.first, "sample output taken as the expected output")
        else:
            d.description.append(f.content.strip()[:2000])
            d.mark(f.first, f.last, "field", "description (sample output)")
        return
    cmds = shell.join_continuations(f.content)
    if not cmds:
        d.mark(f.first, f.last, "layout", "empty code fence")
        return
    d.mark(f.first, f.first, "layout", "code fence")
    d.mark(f.last, f.last, "layout", "code fence")
    saved = ctx.chain
    if not saved:
        ctx.chain, ctx.chain_prev = True, None
    try:
        _fence_commands(d, f, ctx, cmds, base_title)
    finally:
        ctx.chain = saved


def _fence_commands(d: Draft, f: Fence, ctx: Ctx, cmds: list[tuple[int, int, str]], base_title: str) -> None:
    for k, (a, b, text) in enumerate(cmds):
        first, last = f.first + 1 + a, f.first + 1 + b
        if text.startswith("#"):
            d.mark(first, last, "field", "comment in a code fence (description)")
            continue
        t = base_title if k == 0 else f"{base_title} ({k + 1})"
        _command_step(d, ctx, t, text, first, last, text)


def _table(d: Draft, t: Table, ctx: Ctx) -> None:
    head = [h.lower() for h in t.header]
    d.mark(t.first, t.first + 1, "field", "table header")

    def col(*names: str) -> int | None:
        for i, h in enumerate(head):
            if any(n in h for n in names):
                return i
        return None

    c_trig, c_act = col("trigger", "condition", "signal"), col("action", "response", "then")
    if c_trig is not None and c_act is not None:
        for line, cells in t.rows:
            trig = cells[c_trig].text if c_trig < len(cells) else ""
            act = cells[c_act].text.lower() if c_act < len(cells) else ""
            _trigger(d, trig, line, line, then="notify" if "monitor" in act or "notify" in act else "rollback")
        return
    c_time, c_step = col("time", "when", "t-"), col("step", "task", "what", "activity")
    c_role, c_cmd = col("owner", "role", "who"), col("command", "check", "how")
    c_pass = col("pass", "criteria", "expect", "acceptance")
    if c_step is None and c_cmd is None:
        for line, cells in t.rows:
            text = " | ".join(c.text for c in cells)
            _manual(
                d,
                ctx,
                short(cells[0].text if cells else "Row", 60) or "Row",
                text,
                line,
                line,
                todo="table row not understood (its header names no step or command column)",
            )
        return
    saved = ctx.chain
    if not saved:
        ctx.chain, ctx.chain_prev = True, None
    for line, cells in t.rows:

        def cell(i: int | None, cells: list[Inline] = cells) -> Inline:
            return cells[i] if i is not None and i < len(cells) else Inline()

        title = cell(c_step).text or short(cell(c_cmd).text, 60) or f"Row {line}"
        saved_at = ctx.at
        at = ttime(cell(c_time).text)
        if at:
            ctx.at = at
        role_text = cell(c_role).text
        if role_text and d.role_for(role_text) is None:
            rid = slug(role_text, "role")
            d.roles.setdefault(rid, {"title": role_text})
        cmd_codes = [c for c in cell(c_cmd).codes + cell(c_step).codes if shell.looks_like_command(c)]
        step: dict[str, Any] | None
        if cmd_codes:
            step = _command_step(d, ctx, title, cmd_codes[0], line, line, f"{title} {role_text}")
        else:
            step = _manual(d, ctx, title, " | ".join(c.text for c in cells), line, line)
        if step is not None and role_text:
            step["role"] = d.role_for(role_text) or slug(role_text, "role")
        crit = cell(c_pass)
        if step is not None and crit.text and step["kind"] in ("check", "action"):
            fake = Item(line, line, blocks=[Para(line, line, crit)])
            _expectation(d, step, fake, ctx)
        ctx.at = saved_at
    ctx.chain = saved


def _html(d: Draft, h: Html, ctx: Ctx) -> None:
    content = h.content.strip()
    if content.startswith("<!--") and content.endswith("-->"):
        d.description.append("Comment in the source: " + short(content[4:-3].strip(), 300))
        d.mark(h.first, h.last, "field", "description (HTML comment)")
        return
    _manual(d, ctx, "Review an HTML block", content[:2000], h.first, h.last, todo="HTML block not translated")


# --- the sections that are not phases -------------------------------------------------------------------


def _trigger(d: Draft, text: str, first: int, last: int, then: str | None) -> None:
    title = short(text.rstrip("."), 100) or "Trigger"
    trig: dict[str, Any] = {"id": d.new_id(title, "trigger"), "title": title}
    m = _GT.search(text)
    if m:
        num = float(m.group(1))
        if m.group(2) == "%":
            num = num / 100
        elif m.group(2) == "ms":
            num = num / 1000
        trig["when"] = f"value > {num:g}"
    fm = _FOR.search(text)
    if fm:
        trig["for"] = duration(fm.group(1), fm.group(2))
    low = text.lower()
    trig["then"] = then or ("notify" if "monitor" in low else "rollback")
    if "when" in trig or "sustained" in low:
        trig["description"] = "Drafted from the text; golive watches it once it has a metric source."
        d.top_todos.append(
            f"line {first}: trigger {trig['id']!r}: threshold drafted from the text; add its metric source"
        )
        d.n_todos += 1
        trig.pop("when", None) if "source" not in trig else None
        if m:
            trig["description"] += f" Threshold in the text: value > {num:g}" + (
                f" for {trig['for']}" if "for" in trig else ""
            )
    d.triggers.append(trig)
    d.mark(first, last, "field", f"triggers.{trig['id']}")


def _decision(
    d: Draft, ctx: Ctx, text: str, first: int, last: int, statement: str | None, criteria: bool = False
) -> None:
    role = d.ensure_decider()
    if criteria and ctx.last_step is not None and ctx.last_step.get("kind") == "decision":
        dec = ctx.last_step
        dec["statement"] = (dec.get("statement", "") + "; " + text.strip()).strip("; ")
        d.mark(first, last, "field", f"{dec['id']}.statement")
        return
    title = "GO/NO-GO decision"
    requires = [p["id"] for p in d.phases if p is not ctx.phase and p["steps"]]
    dec = {"id": d.new_id(ctx.section.title + " decision" if ctx.section.title else title), "title": title}
    dec["kind"] = "decision"
    dec["role"] = role
    if requires:
        dec["requires"] = requires
    dec["statement"] = statement or text.strip()
    if ctx.at and ctx.cls != "rollback":
        dec["at"] = ctx.at
    dec["description"] = "GO is refused unless every earlier phase passed."
    if ctx.cls == "rollback":
        ctx.cls = "steps"
    _add_step(d, ctx, dec, first, last)


def _decision_section(d: Draft, sec: Section, ctx: Ctx) -> None:
    for blk in sec.blocks:
        if isinstance(blk, Para):
            mode = _label_mode(blk.inline.text)
            if mode in ("go-criteria", "preconditions"):
                ctx.mode = "go-criteria"
                _decision(d, ctx, blk.inline.text, blk.first, blk.last, statement=None)
                continue
            _para(d, blk, ctx, None)
        elif isinstance(blk, ListBlock):
            for it in blk.items:
                if ctx.last_step is not None and ctx.last_step.get("kind") == "decision":
                    dec = ctx.last_step
                    _decision(d, ctx, _item_text(it), it.first, it.last, statement=None, criteria=True)
                    if it.lead is not None and _env_assignments(it.lead.inline):
                        # "Auth/RBAC enforced (`AUTH_ENABLED=true`)": checked before GO can be given
                        before = {s["id"] for s in _all_steps_flat(d)}
                        _env_checks(d, ctx, title_of(it.lead.inline), it.lead.inline, it.first, it.last)
                        added = [s["id"] for s in _all_steps_flat(d) if s["id"] not in before]
                        dec["needs"] = [*dec.get("needs", []), *added]
                        ctx.last_step = dec
                else:
                    _item(d, it, ctx, ctx.mode)
            ctx.mode = None
        else:
            _blocks(d, [blk], ctx, None)


def _comms_item(d: Draft, it: Item) -> None:
    lead = it.lead
    inl = lead.inline if lead else Inline()
    label = strip_label(inl.lead_bold or "").lower()
    text = inl.text
    d.comms_line = d.comms_line or it.first
    quoted = re.findall(r"[\"“](.+?)[\"”]", text)
    target = "comms"
    if quoted and label:
        msg = quoted[0]
        event = None
        if "start" in label:
            event = "run_started"
        elif "go-live" in label or "go live" in label or label.startswith("go"):
            event = "decision_go"
        elif "rollback" in label:
            event = "rollback_triggered"
            msg = re.sub(r"\[[^\]]*\]", "{{ reason }}", msg)
        if event:
            d.templates[event] = msg
            target = f"comms.templates.{event}"
    m_every = _EVERY.search(text)
    if target == "comms" and ("hourly" in text.lower() or m_every):
        every = duration(m_every.group(1), m_every.group(2)) if m_every else "1h"
        low = label or text.lower()
        tier: dict[str, Any] = {"name": slug(label or text, "cadence"), "every": every}
        rng = re.search(r"(\d+)\s*-\s*(\d+)\s*hours?", low)
        first_n = re.search(r"first\s+(\d+)\s*hours?", low)
        if rng:
            tier.update({"anchor": "go", "from": f"{rng.group(1)}h", "until": f"{rng.group(2)}h"})
        elif first_n:
            tier.update({"anchor": "go", "from": "0s", "until": f"{first_n.group(1)}h"})
        else:
            tier["anchor"] = "start"
        d.cadence.append(tier)
        target = f"comms.cadence.{tier['name']}"
    if target == "comms" and ("checkpoint" in label or any(isinstance(b, ListBlock) for b in it.blocks)):
        target = "comms: phase pass/fail announcements (golive sends them for every phase)"
    elif target == "comms":
        d.description.append(_item_text(it))
        target = "description (comms)"
    d.mark(it.first, it.last, "field", target)


def _hypercare_item(d: Draft, it: Item, ctx: Ctx) -> None:
    lead = it.lead
    inl = lead.inline if lead else Inline()
    text = inl.text
    label = strip_label(inl.lead_bold or "")
    low = text.lower()
    cmds = [c for c in inl.codes if shell.looks_like_command(c)]
    if cmds:
        cmd = shell.parse_command(cmds[0])
        if cmd.argv and not cmd.needs_shell:
            step: dict[str, Any] = {
                "id": d.new_id(label or text),
                "title": label or short(text, 80),
                "kind": "check",
                "type": "command",
                "with": {"run": list(cmd.argv)},
            }
            m = _EVERY.search(text)
            if m:
                step["every"] = duration(m.group(1), m.group(2))
            elif "daily" in low:
                step["every"] = "24h"
            elif "hourly" in low:
                step["every"] = "1h"
            d.hc_checks.append(step)
            d.mark(it.first, it.last, "step", f"hypercare.checks: {step['id']} (check command)")
            ctx.last_exec = step
            return
    path = _api_path(inl)
    if path:
        _http_path_step(d, ctx, title_of(inl), path, text, it.first, it.last)
        return
    rng = _RANGE_H.match(label or text)
    m_every = _EVERY.search(text)
    if rng and (m_every or "hourly" in low or "daily" in low):
        tier: dict[str, Any] = {"from": f"{rng.group(1)}h", "until": f"{rng.group(2)}h"}
        tdm = re.search(r"(\d+)\s*x\s*daily", low)
        if tdm:
            tier["times_per_day"] = int(tdm.group(1))
        elif m_every:
            tier["every"] = duration(m_every.group(1), m_every.group(2))
        elif "hourly" in low:
            tier["every"] = "1h"
        else:
            tier["times_per_day"] = 1
        d.hc_tiers.append(tier)
        d.mark(it.first, it.last, "field", "hypercare.tiers")
        return
    rng2 = re.match(r"^(\d+)\s*-\s*(\d+)\s*h", text, re.I)
    if rng2:
        tdm = re.search(r"(\d+)\s*x\s*daily", low)
        if tdm:
            d.hc_tiers.append(
                {"from": f"{rng2.group(1)}h", "until": f"{rng2.group(2)}h", "times_per_day": int(tdm.group(1))}
            )
            d.mark(it.first, it.last, "field", "hypercare.tiers")
            return
    if label.lower() == "focus":
        items = [s.strip(" .") for s in text[len(inl.lead_bold or "") :].strip(" :").split(",") if s.strip(" .")]
        d.hc_focus.extend(items)
        d.mark(it.first, it.last, "field", "hypercare.focus")
        return
    rep = re.search(r"(\d+)\s*hours?\s+control report", low)
    if rep:
        rid = d.new_id(f"report {rep.group(1)}h", "report")
        d.hc_reports.append({"id": rid, "title": short(text.split("->")[0].strip(), 80), "at": f"{rep.group(1)}h"})
        d.mark(it.first, it.last, "field", f"hypercare.reports.{rid}")
        return
    d.hc_focus.append(short(_item_text(it).replace("\n", " "), 160))
    d.mark(it.first, it.last, "field", "hypercare.focus")


def _tool_item(d: Draft, it: Item, ctx: Ctx) -> None:
    lead = it.lead
    inl = lead.inline if lead else Inline()
    codes = [c for c in inl.codes if shell.looks_like_command(c)]
    if not codes:
        d.description.append(inl.text)
        d.mark(it.first, it.last, "field", "description (tools)")
        return
    cmd = shell.parse_command(codes[0])
    script = _script_name(cmd.argv) if cmd.argv else None
    if script and _used_elsewhere(d, script, it):
        d.mark(it.first, it.last, "field", f"command of the steps that run {script}")
        return
    _manual(
        d,
        ctx,
        title_of(inl),
        inl.text,
        it.first,
        it.last,
        todo=f"a tool listed without a place in the procedure; decide where (and whether) `{codes[0]}` runs",
    )


def _used_elsewhere(d: Draft, script: str, it: Item) -> bool:
    count = 0
    for ln, line in enumerate(d.lines, start=1):
        if it.first <= ln <= it.last:
            continue
        if script in line:
            count += 1
    return count > 0


def _signoff_item(d: Draft, it: Item, prefix: str) -> None:
    lead = it.lead
    inl = lead.inline if lead else Inline()
    text = inl.text
    label = strip_label(text.split(":", 1)[0]) if ":" in text else strip_label(text)
    if prefix:
        label = f"{prefix}: {label}"
    low = label.lower()
    code = inl.codes[0] if inl.codes else None
    if code and "commit sha" in low and "re-validation" not in low and re.fullmatch(r"[0-9a-f]{7,40}", code):
        d.release.setdefault("sha", code)
    elif code and low.startswith("release tag"):
        d.release.setdefault("tag", code)
    fid = d.new_id(label, "field")
    d.signoff_fields.append({"id": fid, "title": short(label, 120)})
    m = re.search(r"approver names?\s*\(([^)]+)\)", text, re.I)
    if m:
        for area in [a.strip() for a in m.group(1).split(",") if a.strip()]:
            d.signoff_areas.append({"id": d.new_id(area, "area"), "title": area})
    d.mark(it.first, lead.last if lead else it.first, "field", f"signoff.fields.{fid}")
    for b in it.blocks[1:]:
        if isinstance(b, ListBlock):
            for sub in b.items:
                _signoff_item(d, sub, label)
        else:
            d.mark(b.first, b.last, "field", f"signoff.fields.{fid}")


def _completion_item(d: Draft, it: Item) -> None:
    text = _item_text(it).replace("\n", " ")
    low = text.lower()
    cid = d.new_id(text, "criterion")
    crit: dict[str, Any] = {"id": cid, "title": short(text, 120)}
    if "no rollback trigger" in low:
        crit["no_triggers"] = True
    else:
        rep = re.search(r"(\d+)\s*-?\s*hours?\s+control report", low)
        if rep:
            rid = next((r["id"] for r in d.hc_reports if r["at"] == f"{rep.group(1)}h"), None)
            if rid is None:
                rid = d.new_id(f"report {rep.group(1)}h", "report")
                d.hc_reports.append({"id": rid, "title": short(text, 80), "at": f"{rep.group(1)}h"})
            crit["reports"] = [rid]
        else:
            crit["signoffs"] = ["completion"]
    d.completion.append(crit)
    d.mark(it.first, it.last, "field", f"completion.{cid}")


# --- finishing -----------------------------------------------------------------------------------------


def _finish(d: Draft) -> None:
    rb: dict[str, Any] = {"golive": 1, "name": d.doc["name"]}
    if d.doc.get("title"):
        rb["title"] = d.doc["title"]
    if d.description:
        rb["description"] = "\n".join(d.description)
    if d.release:
        rb["release"] = d.release
    if d.decision_deadline:
        rb["settings"] = {"decision_deadline": d.decision_deadline}
    for ph in [p for p in d.phases if not p["steps"]]:
        d.phases.remove(ph)
        extra = [*ph.get("preconditions", []), *([ph["description"]] if ph.get("description") else [])]
        d.description += extra
        if d.description:
            rb["description"] = "\n".join(d.description)
        for ln, acc in d.account.items():
            if acc.target.startswith(f"phases.{ph['id']}."):
                d.account[ln] = LineAccount("field", "description")
    if not d.phases:
        d.ensure_default_role()
        d.phases.append(
            {
                "id": d.new_id("imported", "phase"),
                "title": "Imported",
                "steps": [
                    {
                        "id": d.new_id("review-the-import", "step"),
                        "title": "Review the import",
                        "kind": "manual",
                        "role": d.ensure_default_role(),
                        "instructions": "The document holds no steps golive could recognise.",
                    }
                ],
            }
        )
        d.todo(d.phases[0]["steps"][0]["id"], 1, "no steps were recognised in the document")
    # every role a step names is declared
    for _, step in _all_steps(d):
        role = step.get("role")
        if role and role not in d.roles:
            d.roles[role] = {"title": role}
    if d.roles:
        rb["roles"] = d.roles
    if d.vars:
        rb["vars"] = d.vars
    if d.secrets:
        rb["secrets"] = d.secrets
    if d.flags_used:
        rb["flags"] = {
            "provider": {"type": "dotenv", "with": {"path": d.var("flags_file", "flags.env")}},
            "safe": {k: v for k, v in d.flags_used.items()},
        }
        d.todo(
            None,
            d.flags_line or 1,
            "flags: the document does not say where its flags live; the draft uses a dotenv file (vars.flags_file)"
            " and takes the first value each flag is set to (or checked for) as its safe value; a template or"
            " switch first turned on is safe off",
        )
        rb["vars"] = d.vars
    for _, st in _all_steps(d):
        exp = st.get("with", {}).get("expect") if isinstance(st.get("with"), dict) else None
        if isinstance(exp, dict):
            exp.pop("_stdout", None)
    # phases: on_failure by position (no-go until something changed, then rollback)
    changed = False
    for ph in d.phases:
        cls = ph.pop("_cls", "steps")
        if any(s["kind"] == "action" for s in ph["steps"]) or (
            cls == "steps" and re.search(r"deploy|cutover|migrat|enable|canary", ph["title"], re.I)
        ):
            changed = changed or cls != "preflight"
        if changed and (d.rollback_steps or d.rollback_confirm):
            ph["on_failure"] = "rollback"
        elif changed:
            ph["on_failure"] = "stop"
    rb["phases"] = d.phases
    if d.triggers:
        rb["triggers"] = d.triggers
    rollback = _set_parts(steps=d.rollback_steps, confirm=d.rollback_confirm, follow_up=d.follow_up)
    if rollback:
        rb["rollback"] = rollback
    comms = _set_parts(templates=d.templates, cadence=d.cadence)
    if comms:
        rb["comms"] = {"channels": [{"id": "log", "url": "log://"}], **comms}
        d.todo(
            None,
            d.comms_line or 1,
            "comms: add the team's channels (Apprise URLs); the draft announces to the log only",
        )
    hc = _set_parts(tiers=d.hc_tiers, focus=d.hc_focus, checks=d.hc_checks, reports=d.hc_reports)
    if hc:
        rb["hypercare"] = hc
    if any("signoffs" in c for c in d.completion) and not any(a["id"] == "completion" for a in d.signoff_areas):
        d.ids.add("completion")
        d.signoff_areas.append({"id": "completion", "title": "Go-live completion criteria", "role": d.ensure_decider()})
    if d.signoff_fields or d.signoff_areas:
        rb["signoff"] = _set_parts(areas=d.signoff_areas, fields=d.signoff_fields)
        if d.signoff_areas:
            signer = d.ensure_decider()
            may = d.roles[signer].setdefault("may", [])
            if "signoff" not in may:
                may.append("signoff")
    if d.evidence_items:
        last_phase = d.phases[-1]
        normal = [(ln, t) for ln, t, rbk in d.evidence_items if not rbk]
        items: list[dict[str, Any]] = []
        if normal:
            hand_in = {
                "id": d.new_id("hand in evidence", "evidence"),
                "title": "Hand in the evidence checklist",
                "kind": "manual",
                "role": d.ensure_default_role(),
                "instructions": "Attach each item of the document's evidence checklist.",
                "evidence": [{"name": t, "required": True} for _, t in normal],
            }
            last_phase["steps"].append(hand_in)
            for _, t in normal:
                items.append({"id": d.new_id(t, "evidence"), "title": t, "steps": [hand_in["id"]]})
        for _, t, rbk in d.evidence_items:
            if rbk:
                ev: dict[str, Any] = {"id": d.new_id(t, "evidence"), "title": t, "when": "rollback"}
                ev_steps = [s["id"] for s in d.rollback_steps + d.rollback_confirm]
                if ev_steps:
                    ev["steps"] = ev_steps
                items.append(ev)
        rb["evidence"] = items
    if d.completion:
        rb["completion"] = d.completion
    d.doc = rb


def _all_steps_flat(d: Draft) -> list[dict[str, Any]]:
    return [s for _, s in _all_steps(d)]


def _all_steps(d: Draft) -> list[tuple[str, dict[str, Any]]]:
    out = [(p["id"], s) for p in d.phases for s in p["steps"]]
    out += [("rollback", s) for s in d.rollback_steps + d.rollback_confirm]
    out += [("hypercare", s) for s in d.hc_checks]
    return out

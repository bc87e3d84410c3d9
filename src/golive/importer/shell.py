"""Commands found in a Markdown runbook, read with :mod:`shlex` into argv, env and (for curl) a request.

Nothing here runs a shell: a command that needs one (a pipe, a redirect, ``&&``, ``$(...)`` other than the
"capture one JSON field of a curl response" idiom, a ``$VAR`` the argv would not expand) is reported as
``needs_shell`` and becomes a manual step for a person to translate.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Command", "CurlRequest", "join_continuations", "looks_like_command", "parse_command", "parse_curl"]

PROGRAMS = frozenset(
    {
        "python",
        "python3",
        "bash",
        "sh",
        "node",
        "npx",
        "npm",
        "make",
        "kubectl",
        "helm",
        "aws",
        "gcloud",
        "az",
        "terraform",
        "docker",
        "docker-compose",
        "alembic",
        "psql",
        "curl",
        "git",
        "gh",
        "pytest",
        "cdk",
        "ansible-playbook",
        "systemctl",
        "pg_dump",
        "redis-cli",
    }
)
SHELL_OPERATORS = frozenset({"|", "||", "&&", ";", ">", ">>", "<", "2>&1", "&", "<<"})
ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
CAPTURE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=\$\((.*)\)$", re.S)
# python3 -c '...["pack_id"]...' after a pipe: the JSON field the capture keeps
PY_FIELD = re.compile(r"""\[\s*["']([A-Za-z0-9_.-]+)["']\s*\]""")
SHELL_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


@dataclass
class CurlRequest:
    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    json_body: Any = None
    fail: bool = False  # -f: a status >= 400 fails
    follow: bool = False
    insecure: bool = False
    timeout: str | None = None
    unknown: list[str] = field(default_factory=list)


@dataclass
class Command:
    text: str  # the command as written (continuations joined)
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # leading NAME=value assignments
    capture: str | None = None  # NAME of NAME=$(curl ... | python3 -c '...["field"]')
    capture_field: str | None = None
    needs_shell: str | None = None  # why it cannot run as argv
    assigns_only: bool = False  # a line of NAME=value assignments and nothing else

    @property
    def program(self) -> str:
        return self.argv[0].rsplit("/", 1)[-1] if self.argv else ""


def join_continuations(text: str) -> list[tuple[int, int, str]]:
    """Split a fence into commands: ``(first_line, last_line, text)`` offsets, backslash-newlines joined.

    A line inside an open quote continues the command too (a multi-line ``-d '...'`` or ``$(...)``).
    """
    out: list[tuple[int, int, str]] = []
    buf: list[str] = []
    start = 0
    for idx, line in enumerate(text.split("\n")):
        if not buf:
            start = idx
            if not line.strip():
                continue
        stripped = line.rstrip()
        if stripped.endswith("\\"):
            buf.append(stripped[:-1])
            continue
        buf.append(stripped)
        joined = " ".join(part.strip() for part in buf) if len(buf) > 1 else buf[0].strip()
        if _balanced(joined):
            out.append((start, idx, joined))
            buf = []
    if buf:
        out.append((start, start + len(buf) - 1, " ".join(b.strip() for b in buf)))
    return out


def _balanced(text: str) -> bool:
    try:
        shlex.split(text, comments=False)
    except ValueError:
        return False
    return text.count("$(") <= text.count(")")


def looks_like_command(code: str) -> bool:
    """Is an inline code span a command line (``python3 scripts/x.py``), not a name or a value?"""
    try:
        words = shlex.split(code)
    except ValueError:
        return False
    while words and ASSIGNMENT.match(words[0]) and len(words) > 1:
        words = words[1:]
    if not words:
        return False
    first = words[0]
    base = first.rsplit("/", 1)[-1]
    if base in PROGRAMS and len(words) > 1:
        return True
    # a bare path runs only when written as one (``./scripts/deploy.sh``); ``scripts/x.py`` alone names a file
    return first.startswith("./") and base.endswith((".sh", ".py"))


def parse_command(text: str) -> Command:
    cmd = Command(text=text)
    stripped = text.strip()
    m = CAPTURE.match(stripped)
    if m:
        cmd.capture = m.group(1)
        inner = m.group(2)
        try:
            words = shlex.split(inner)
        except ValueError as exc:
            cmd.needs_shell = f"cannot split: {exc}"
            return cmd
        if "|" in words:
            k = words.index("|")
            head, tail = words[:k], words[k + 1 :]
            fld = None
            if tail[:2] in (["python3", "-c"], ["python", "-c"]) and len(tail) == 3:
                found = PY_FIELD.findall(tail[2])
                fld = found[-1] if len(found) == 1 else None
            elif tail[:2] == ["jq", "-r"] and len(tail) == 3 and tail[2].startswith(".") and tail[2][1:].isidentifier():
                fld = tail[2][1:]
            if fld is None or not head or head[0] != "curl":
                cmd.needs_shell = "a command substitution with a pipe golive cannot read"
                return cmd
            cmd.argv, cmd.capture_field = head, fld
            return cmd
        cmd.argv = words
        if not words or words[0] != "curl":
            cmd.needs_shell = "a command substitution"
        return cmd
    try:
        words = shlex.split(stripped, comments=True)
    except ValueError as exc:
        cmd.needs_shell = f"cannot split into words: {exc}"
        return cmd
    while words and ASSIGNMENT.match(words[0]):
        am = ASSIGNMENT.match(words[0])
        assert am is not None
        cmd.env[am.group(1)] = am.group(2)
        words = words[1:]
    cmd.argv = words
    if not words:
        cmd.assigns_only = bool(cmd.env)
        return cmd
    ops = [w for w in words if w in SHELL_OPERATORS]
    if ops:
        cmd.needs_shell = f"shell operator {ops[0]!r}"
    elif any("$(" in w or "`" in w for w in words):
        cmd.needs_shell = "a command substitution"
    elif any(any(ch in w for ch in "*?") and not w.startswith(("http", "-")) for w in _unquoted_words(stripped)[1:]):
        cmd.needs_shell = "a glob pattern"  # quoted text (`psql -c "SELECT count(*) ..."`) is no glob
    return cmd


def _unquoted_words(text: str) -> list[str]:
    """The command's words with quoted text blanked out: what the shell would expand."""
    return re.sub(r"'[^']*'|\"(?:[^\"\\]|\\.)*\"", "''", text).split()


def parse_curl(argv: list[str]) -> CurlRequest | None:
    """A curl argv as a request, or None when it has no URL."""
    req = CurlRequest(url="")
    i = 1
    data: str | None = None
    while i < len(argv):
        a = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        if a in ("-X", "--request") and nxt is not None:
            req.method = nxt.upper()
            i += 2
            continue
        if a in ("-H", "--header") and nxt is not None:
            name, _, value = nxt.partition(":")
            req.headers[name.strip()] = value.strip()
            i += 2
            continue
        if a in ("-d", "--data", "--data-raw", "--data-binary") and nxt is not None:
            data = nxt
            i += 2
            continue
        if a in ("-m", "--max-time", "--connect-timeout") and nxt is not None:
            req.timeout = f"{nxt}s" if nxt.replace(".", "", 1).isdigit() else None
            i += 2
            continue
        if a in ("-o", "--output") and nxt is not None:
            i += 2
            continue
        if a in ("--fail", "--fail-with-body"):
            req.fail = True
        elif a in ("--location",):
            req.follow = True
        elif a in ("--insecure",):
            req.insecure = True
        elif a in ("--silent", "--show-error"):
            pass
        elif a.startswith("-") and not a.startswith("--") and len(a) > 1 and a[1:].isalpha():
            letters = set(a[1:])
            if "f" in letters:
                req.fail = True
            if "L" in letters:
                req.follow = True
            if "k" in letters:
                req.insecure = True
            if "I" in letters:
                req.method = "HEAD"
            rest = letters - set("fLksSIv")
            if rest:
                req.unknown.append(a)
        elif a.startswith("-"):
            req.unknown.append(a)
        elif not req.url:
            req.url = a
        else:
            req.unknown.append(a)
        i += 1
    if data is not None:
        if req.method == "GET":
            req.method = "POST"
        try:
            req.json_body = json.loads(data)
        except ValueError:
            req.body = data
        else:
            req.body = None
    return req if req.url else None

"""Leak test of a whole run: planted PII and secrets reach no byte of the store, the pack, the logs or a terminal.

Planted values: an email address, a phone number, a Luhn-valid card number, an IBAN, a JWT, an AWS access
key id, an OpenAI-style `sk-...` key, and a declared secret (`env` provider) that looks like nothing a
pattern knows, so only its registration can mask it.

Where they enter the run:
- a command check prints them (stdout and stderr; its log becomes evidence), and a non-blocking one fails
  with them in its output (the failure summary quotes it);
- a loopback HTTP service answers with them in a JSON body and in response headers, once to a passing
  check and once to a non-blocking check whose failed expectation quotes the value it saw;
- a manual step is confirmed with them as `--input` values and in an `--evidence` text file;
- the GO decision's reason holds them;
- a notify step sends a message to a `log://` file channel that references those inputs and outputs and
  the secret itself.

The run is made with `golive run` and the acts with `golive confirm` / `golive decide`, each a subprocess
with `--db` on a temporary path; then `status`, `timeline`, `report` (every format) and `evidence pack`
(zip and directory) run. Searched: every file golive left under the work directory (the SQLite database,
its -wal/-shm files and blobs, the comms log, both packs with every zip member inflated) and the stdout
and stderr of every command. Each value is searched in its raw form and, where it has one, its compact,
JSON-escaped and base64 forms, and so is every window of 8 to 12 characters of
each of these, so that a value cut in half before it was redacted is found too.
"""

from __future__ import annotations

import base64
import json
import os
import random
import secrets
import sqlite3
import string
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .conftest import LoopbackHTTPServer, Reply, Request

GOLIVE = str(Path(sys.executable).with_name("golive"))
LIMIT = 90.0  # seconds one command or wait may take before the test fails
SECRET_ENV = "GOLIVE_LEAK_RUN_SECRET"


def luhn_card(rng: random.Random) -> str:
    """A 16-digit Visa-shaped number with a correct Luhn check digit, grouped in fours."""
    body = [4] + [rng.randrange(10) for _ in range(14)]
    total = 0
    for i, d in enumerate(reversed(body)):  # the check digit will sit right of these: double from the right
        dd = d * 2 if i % 2 == 0 else d
        total += dd - 9 if dd > 9 else dd
    digits = "".join(map(str, [*body, (10 - total % 10) % 10]))
    return " ".join(digits[i : i + 4] for i in range(0, 16, 4))


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass
class Planted:
    email: str
    phone: str
    card: str
    iban: str
    jwt: str
    aws_key: str
    sk_key: str
    secret: str

    def items(self) -> dict[str, str]:
        return dict(vars(self))

    def line(self) -> str:
        """Every value on one line, as a log or a note would hold them."""
        return (
            f"customer {self.email} tel {self.phone} card {self.card} iban {self.iban} session {self.jwt} "
            f"key-id {self.aws_key} openai {self.sk_key} ref {self.secret}"
        )


@pytest.fixture
def planted() -> Planted:
    rng = random.Random(secrets.randbits(64))
    alnum = string.ascii_letters + string.digits
    header = b64url(b'{"alg":"HS256","typ":"JWT"}')
    payload = b64url(json.dumps({"sub": secrets.token_hex(6), "name": "Jane"}).encode())
    return Planted(
        email=f"jane.{secrets.token_hex(3)}@example.org",
        phone="+44 20 7946 0958",
        card=luhn_card(rng),
        iban="GB82 WEST 1234 5698 7654 32",
        jwt=f"{header}.{payload}.{b64url(secrets.token_bytes(32))}",
        aws_key="AKIA" + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16)),
        sk_key="sk-"
        + "".join(rng.choice(alnum) for _ in range(20))
        + "7Q"
        + "".join(rng.choice(alnum) for _ in range(24)),
        # Long, random, lower-case hex behind a plain prefix: no pattern matches it, only registration can.
        secret="lr" + secrets.token_hex(16),
    )


# Characters of a value that, found anywhere, count as a leak: a value cut before it was redacted (an excerpt,
# a summary's last line) is no longer recognised, and its first part would survive. Long enough that a window
# of random digits or hex does not turn up by chance in hashes and timestamps.
FRAGMENT = {"card": 10, "phone": 10, "iban": 10, "secret": 12}
FRAGMENT_DEFAULT = 8


def forms(kind: str, value: str) -> set[str]:
    """The value, its compact, JSON-escaped and (for the secret) base64 forms, and every window of each."""
    whole = {value, value.replace(" ", ""), json.dumps(value)[1:-1]}
    if kind == "secret":
        raw = value.encode()
        whole |= {base64.b64encode(raw).decode().rstrip("="), b64url(raw)}
    size = FRAGMENT.get(kind, FRAGMENT_DEFAULT)
    return {f[i : i + size] for f in whole for i in range(max(1, len(f) - size + 1))}


@pytest.fixture
def service(http_server: LoopbackHTTPServer, planted: Planted) -> LoopbackHTTPServer:
    def profile(req: Request) -> Reply:
        doc = {
            "status": "ok",
            "email": planted.email,
            "phone": planted.phone,
            "card": planted.card,
            "iban": planted.iban.replace(" ", ""),
            "session": planted.jwt,
            "key_id": planted.aws_key,
            "openai": planted.sk_key,
            "ref": planted.secret,
            "note": planted.line(),
        }
        headers = {
            "Content-Type": "application/json",
            "X-Customer": f"{planted.email} {planted.phone}",
            "X-Trace-Ref": planted.secret,
        }
        return Reply(body=json.dumps(doc).encode(), headers=headers)

    http_server.handle("/profile", profile)
    return http_server


def runbook(work: Path, url: str) -> Path:
    plant_file = str(work / "inputs" / "planted.txt")
    doc = {
        "golive": 1,
        "name": "leak-run",
        "title": "Leak run",
        "secrets": {"api": {"provider": "env", "id": SECRET_ENV}},
        "roles": {"ic": {"title": "IC", "may": ["decide", "waive"]}, "ops": {"title": "Operations"}},
        "comms": {"channels": [{"id": "audit", "url": f"log://{work / 'logs' / 'comms.log'}"}]},
        "phases": [
            {
                "id": "checks",
                "steps": [
                    {
                        "id": "cmd_prints",
                        "kind": "check",
                        "type": "command",
                        "with": {
                            "run": ["sh", "-c", f'cat "{plant_file}"; cat "{plant_file}" >&2; echo "$X"'],
                            "env": {"X": "${{ secrets.api }}"},
                        },
                    },
                    {
                        "id": "cmd_fails_quoting",
                        "kind": "check",
                        "type": "command",
                        "blocking": False,
                        "with": {"run": ["cat", plant_file], "expect": {"stdout": "^never$"}},
                    },
                    {
                        "id": "http_profile",
                        "kind": "check",
                        "type": "http",
                        "with": {"url": f"{url}/profile", "expect": {"status": 200, "json": {"$.status": "ok"}}},
                    },
                    {
                        "id": "http_fails_quoting",
                        "kind": "check",
                        "type": "http",
                        "blocking": False,
                        "with": {
                            "url": f"{url}/profile",
                            "expect": {"json": {"$.email": "someone@else.test", "$.ref": "x", "$.card": "0"}},
                        },
                    },
                    {
                        "id": "contact",
                        "kind": "manual",
                        "role": "ops",
                        "instructions": "Record the customer's contact details and attach the ticket export.",
                        "inputs": [
                            {"id": "email"},
                            {"id": "phone"},
                            {"id": "card"},
                            {"id": "iban"},
                            {"id": "note"},
                        ],
                        "evidence": [{"name": "Ticket export"}],
                    },
                ],
            },
            {
                "id": "announce",
                "steps": [
                    {
                        "id": "tell",
                        "kind": "notify",
                        "channels": ["audit"],
                        "message": (
                            "contact ${{ steps.contact.inputs.email }} ${{ steps.contact.inputs.note }}; "
                            "service said ${{ steps.http_profile.output.json.note }}; "
                            "stdout ${{ steps.cmd_prints.output.stdout }}; key ${{ secrets.api }}"
                        ),
                    }
                ],
            },
            {"id": "decide", "steps": [{"id": "go", "kind": "decision", "role": "ic", "requires": ["checks"]}]},
        ],
    }
    path = work / "leak.yaml"
    path.write_text(json.dumps(doc, indent=2))
    return path


@dataclass
class Session:
    work: Path
    db: Path
    env: dict[str, str]
    outputs: dict[str, str] = field(default_factory=dict)  # "<command>: stdout|stderr" -> text

    def cli(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [GOLIVE, *args], env=self.env, cwd=self.work, capture_output=True, text=True, timeout=LIMIT, check=False
        )
        self.keep(" ".join(args[:2]), done.stdout, done.stderr)
        if ok:
            assert done.returncode == 0, f"golive {' '.join(args[:3])}: {done.stdout}\n{done.stderr}"
        return done

    def keep(self, what: str, out: str, err: str) -> None:
        n = len(self.outputs)
        self.outputs[f"{n}: golive {what} stdout"] = out
        self.outputs[f"{n}: golive {what} stderr"] = err

    def has_event(self, type_: str, step: str) -> bool:
        if not self.db.exists():
            return False
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5.0)
        try:
            row = conn.execute(
                "SELECT 1 FROM events WHERE run_id = 'leak' AND type = ? AND step_id = ?", (type_, step)
            ).fetchone()
        except sqlite3.OperationalError:
            return False
        finally:
            conn.close()
        return row is not None

    def wait_for(self, proc: subprocess.Popen[str], type_: str, step: str) -> None:
        limit = time.monotonic() + LIMIT
        while time.monotonic() < limit:
            if self.has_event(type_, step):
                return
            if proc.poll() is not None:
                out, err = proc.communicate()
                raise AssertionError(f"golive run exited {proc.returncode} before {type_} {step}: {out}\n{err}")
            time.sleep(0.1)
        raise AssertionError(f"no {type_} for {step} within {LIMIT:g} s")


def files_under(root: Path, skip: Path) -> Iterator[tuple[str, bytes]]:
    """(where, bytes) of every file under root except the test's own inputs; zip members inflated."""
    for path in sorted(root.rglob("*")):
        if not path.is_file() or skip in path.parents:
            continue
        data = path.read_bytes()
        yield str(path.relative_to(root)), data
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    yield f"{path.relative_to(root)}!{info.filename}", zf.read(info)


def test_no_planted_value_reaches_the_store_the_pack_the_logs_or_a_terminal(
    tmp_path: Path, planted: Planted, service: LoopbackHTTPServer
) -> None:
    """A run fed planted PII and secrets through command output, HTTP responses, manual inputs, an evidence
    file and a decision: none of the values, in any of their forms, is in any byte golive wrote or printed."""
    work = tmp_path
    inputs = work / "inputs"
    inputs.mkdir()
    (inputs / "planted.txt").write_text(planted.line() + "\n" + json.dumps(planted.items()) + "\n")
    (inputs / "ticket-export.txt").write_text(f"Ticket #4411\nFrom: {planted.email}\n{planted.line()}\n")
    book = runbook(work, service.url("").rstrip("/"))
    env = {k: v for k, v in os.environ.items() if k != "GOLIVE_DEBUG"}
    env.update({SECRET_ENV: planted.secret, "NO_COLOR": "1", "COLUMNS": "200"})
    s = Session(work, work / "store" / "golive.db", env)
    db = ["--db", str(s.db)]

    proc = subprocess.Popen(
        [GOLIVE, "run", str(book), "--no-prompt", "--run-id", "leak", "--role", "ic=alice", "--role", "ops=olga", *db],
        env=env,
        cwd=work,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        s.wait_for(proc, "step_waiting", "contact")
        s.cli(
            "confirm", "leak", "contact", "--as", "olga",
            "--input", f"email={planted.email}",
            "--input", f"phone={planted.phone}",
            "--input", f"card={planted.card}",
            "--input", f"iban={planted.iban}",
            "--input", f"note={planted.line()}",
            "--evidence", str(inputs / "ticket-export.txt"),
            *db,
        )  # fmt: skip
        s.wait_for(proc, "step_waiting", "go")
        s.cli("decide", "leak", "go", "--as", "alice", "--reason", f"checked with {planted.line()}", *db)
        out, err = proc.communicate(timeout=LIMIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    s.keep("run", out, err)
    assert proc.returncode == 0, out + err

    # The planted paths really ran.
    assert sum(r.path == "/profile" for r in service.requests) == 2
    status = json.loads(s.cli("status", "leak", "--json", *db).stdout)
    outcomes = {st["id"]: st["outcome"] for ph in status["phases"] for st in ph["steps"]}
    assert outcomes == {
        "cmd_prints": "pass",
        "cmd_fails_quoting": "warn",
        "http_profile": "pass",
        "http_fails_quoting": "warn",
        "contact": "pass",
        "tell": "pass",
        "go": "pass",
    }
    assert (work / "logs" / "comms.log").read_text().count("[audit]") >= 1

    for args in (
        ["status", "leak"],
        ["timeline", "leak"],
        ["timeline", "leak", "--json"],
        ["report", "leak", "--format", "json"],
        ["report", "leak", "--format", "md"],
        ["report", "leak", "--format", "junit"],
        ["report", "leak", "--format", "html"],
        ["evidence", "pack", "leak", "--out", str(work / "packs" / "leak.zip")],
        ["evidence", "pack", "leak", "--out", str(work / "packs" / "leak-dir")],
        ["evidence", "verify", str(work / "packs" / "leak.zip")],
    ):
        s.cli(*args, *([] if args[0] == "evidence" and args[1] == "verify" else db))
    evidence = json.loads((work / "packs" / "leak-dir" / "evidence.json").read_text())
    assert {e["path"] for e in evidence} >= {
        "evidence/contact/ticket-export.txt",
        "evidence/cmd_prints/command.log",
        "evidence/cmd_fails_quoting/command.log",
    }

    searched = list(files_under(work, inputs)) + [(k, v.encode()) for k, v in s.outputs.items()]
    names = {where for where, _ in searched}
    assert {"store/golive.db", "logs/comms.log", "packs/leak.zip!events.jsonl", "packs/leak-dir/report.html"} <= names
    assert any(n.startswith("store/blobs/") for n in names)
    leaks = sorted(
        {
            f"{kind} ({form!r}) in {where}"
            for kind, value in planted.items().items()
            for form in forms(kind, value)
            for where, data in searched
            if form.encode() in data
        }
    )
    assert leaks == [], "\n".join(leaks)

"""Imported seed drafts run end to end in rehearsal against stubs.

golive has no built-in stubs for rehearsals yet, so this test builds them from the draft itself: a loopback
HTTP server answering every URL the draft calls with what its expectations ask for, a stub for each script
or program a command step runs (printing what its `stdout` expectation wants), a log file with what a `log`
check looks for, moto for AWS Secrets Manager,
a dotenv file for the flags, env variables for the secrets and a throwaway PostgreSQL database for `psql`.
A person is played by confirming every manual step and deciding GO. Each draft must reach PASSED.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
from pathlib import Path
from typing import Any

import boto3
import pytest

from golive.engine import acts, runner
from golive.engine.state import FINAL, RunStatus
from golive.importer import import_markdown
from golive.spec import loader, models
from golive.store import sqlite
from golive.testing import FakeClock

from .conftest import LoopbackHTTPServer, MotoService, Reply

SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"
SEED_FILES = {
    "000": "000_185f59f84defe3f5.txt",
    "001": "001_8f4ddef6194aee8e.txt",
    "002": "002_614d2419b0da1728.txt",
    "003": "003_1d8f4e143ec19935.txt",
    "004": "004_cb642dfb3256e5b7.txt",
}
PERSON = "alice"
DRIVE_LIMIT = 60.0  # seconds of wall time a rehearsal may take before the test fails

pytestmark = pytest.mark.skipif(not SEEDS.is_dir(), reason=f"the seed runbooks are not at {SEEDS}")


def _literals(pattern: str | list[str]) -> list[str]:
    """The literal strings an imported `stdout` expectation asks for (one regex or a list, written escaped)."""
    parts = [pattern] if isinstance(pattern, str) else list(pattern)
    return [re.sub(r"\\(.)", r"\1", p) for p in parts]


def _stub(path: Path, lines: list[str], python: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if python:
        path.write_text("import sys\n" + "".join(f"print({line!r})\n" for line in lines))
    else:
        path.write_text("#!/bin/sh\n" + "".join(f"printf '%s\\n' {_sh_quote(line)}\n" for line in lines))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _sh_quote(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


def _json_doc(expect: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for path, value in (expect.get("json") or {}).items():
        doc[path.removeprefix("$.")] = value
    cond = expect.get("condition") or ""
    for key in re.findall(r"contains\(json, '([^']+)'\)", cond):
        doc[key] = f"{key}-1"
    return doc


def _stubs(rb: models.Runbook, workdir: Path, bindir: Path, server: LoopbackHTTPServer) -> None:
    for _, step in rb.all_steps():
        if step.type == "command":
            argv = step.with_["run"]
            lines = _literals(step.with_.get("expect", {}).get("stdout") or "") if step.with_.get("expect") else []
            lines = [x for x in lines if x]
            if argv[0].startswith("./"):
                _stub(workdir / argv[0], lines, python=False)
            elif argv[0] in ("python", "python3") and len(argv) > 1:
                _stub(workdir / argv[1], lines, python=True)
            elif argv[0] in ("bash", "sh") and len(argv) > 1:
                _stub(workdir / argv[1], lines, python=False)
            elif argv[0] != "psql":  # psql runs for real, against a throwaway database
                _stub(bindir / argv[0], lines, python=False)
        if step.type == "http":
            url = step.with_["url"]
            path = "/" + url.split("}}", 1)[1].lstrip("/") if url.startswith("${{ vars.base_url }}") else None
            if path is None:
                continue
            doc = _json_doc(step.with_.get("expect") or {})
            if "${{" in path:  # a path with an earlier step's output in it: answer any value there
                prefix, _, rest = path.partition("${{")
                suffix = rest.split("}}", 1)[1]
                path = prefix + "pack_id-1" + suffix
            status = 200
            server.handle(path, lambda _req, doc=doc, status=status: Reply.of_json(doc, status=status))


async def _drive(store: sqlite.SqliteStore, loaded: loader.LoadedRunbook, clock: FakeClock) -> RunStatus:
    rb = loaded.runbook
    roles = dict.fromkeys(rb.roles, PERSON)
    handle = await runner.create_run(store, loaded, mode="rehearsal", roles=roles, clock=clock)
    engine = runner.Engine(handle, poll=0.02, clock=clock)
    task = asyncio.create_task(engine.run())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DRIVE_LIMIT
    evidence = Path(os.environ["REHEARSAL_EVIDENCE"])
    while not task.done():
        assert loop.time() < deadline, "the rehearsal did not finish"
        h = await acts.open_run(store, handle.run_id)
        if h.state.status in FINAL:
            break
        acted = False
        for sid, st in h.state.steps.items():
            if st.status != "waiting":
                continue
            step = rb.step(sid)
            assert step is not None
            if step.kind is models.StepKind.MANUAL:
                inputs = {i.id: "x" for i in step.inputs if i.required}
                files = [evidence] if any(e.required for e in step.evidence) else None
                await acts.confirm(h, sid, PERSON, inputs=inputs, evidence=files)
                acted = True
                break
            if step.kind is models.StepKind.DECISION:
                await acts.decide(h, "go", PERSON, "rehearsal: every required step passed", step_id=sid)
                acted = True
                break
        if not acted:
            clock.advance(60.0)  # observe windows and waits run on the fake clock
            await asyncio.sleep(0.02)
    status = await asyncio.wait_for(task, DRIVE_LIMIT)
    h = await acts.open_run(store, handle.run_id)
    failed = {sid: st.summary for sid, st in h.state.steps.items() if st.outcome not in (None, "pass", "warn")}
    final = RunStatus(status) if not isinstance(status, RunStatus) else status
    assert final is RunStatus.PASSED, failed
    return final


@pytest.mark.parametrize("seed", sorted(SEED_FILES))
async def test_an_imported_seed_runs_in_rehearsal_against_stubs(
    seed: str,
    tmp_path: Path,
    store: sqlite.SqliteStore,
    http_server: LoopbackHTTPServer,
    aws_env: MotoService,
    postgres_database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = import_markdown((SEEDS / SEED_FILES[seed]).read_bytes(), SEED_FILES[seed])
    draft = tmp_path / "draft" / "runbook.yaml"
    draft.parent.mkdir()
    draft.write_text(result.yaml_text, encoding="utf-8")
    rb = result.runbook
    bindir = tmp_path / "bin"
    bindir.mkdir()
    _stubs(rb, draft.parent, bindir, http_server)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    evidence = tmp_path / "evidence.txt"
    evidence.write_text("handed in\n")
    monkeypatch.setenv("REHEARSAL_EVIDENCE", str(evidence))
    # secrets: env variables, and AWS Secrets Manager in moto
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_env.endpoint_url)
    sm = boto3.client("secretsmanager", region_name="us-east-2", endpoint_url=aws_env.endpoint_url)
    in_moto: set[str] = set()
    for _, step in rb.all_steps():
        if step.type == "secret" and step.with_["provider"] == "aws-secretsmanager" and step.with_["id"] not in in_moto:
            sm.create_secret(Name=step.with_["id"], SecretString="stub-value")
            in_moto.add(step.with_["id"])
        if step.type == "env":
            monkeypatch.setenv(step.with_["name"], str(rb.var_defaults()[step.with_["value"].split(".")[1].split()[0]]))
    for name, ref in rb.secrets.items():
        if ref.provider == "env":
            monkeypatch.setenv(
                ref.id, postgres_database if ref.id in ("POSTGRESQL_URL", "DATABASE_URL") else f"stub-{name}"
            )
    for sql_file in ("sql/001_init.sql", "sql/002_seed.sql"):
        (draft.parent / sql_file).parent.mkdir(exist_ok=True)
        (draft.parent / sql_file).write_text("CREATE TABLE IF NOT EXISTS rehearsal (id int);\n")
    overrides = {}
    for vid, var in rb.vars.items():
        if isinstance(var, models.Var) and var.required:
            overrides[vid] = http_server.url("").rstrip("/") if vid == "base_url" else "stub"
    for _, step in rb.all_steps():
        if step.type == "log":  # a log the step's pattern can find (its time is never too old)
            m = re.fullmatch(r"\$\{\{ vars\.(\w+) \}\}", step.with_["path"])
            assert m is not None, step.with_["path"]
            log = tmp_path / f"{m.group(1)}.log"
            log.write_text("".join(f"2099-01-01T00:00:00Z {line}\n" for line in _literals(step.with_["pattern"])))
            overrides[m.group(1)] = str(log)
    if "flags_file" in rb.vars:
        flags = draft.parent / "flags.env"
        flags.write_text("".join(f"{k}={str(v).lower()}\n" for k, v in (rb.flags.safe if rb.flags else {}).items()))
        overrides["flags_file"] = str(flags)
    loaded = loader.load(draft, var_overrides=overrides, environ={})

    status = await _drive(store, loaded, FakeClock())

    assert status is RunStatus.PASSED, seed
    paths = {r.path for r in http_server.requests}
    phase_http = {s.with_["url"].split("}}", 1)[1] for p in rb.phases for s in p.steps if s.type == "http"}
    assert {p for p in phase_http if "${{" not in p} <= paths  # every phase's HTTP step was really sent
    if seed == "004":
        import psycopg

        with psycopg.connect(postgres_database) as conn:  # psql -f ran both files for real
            assert conn.execute("SELECT to_regclass('rehearsal') IS NOT NULL").fetchone() == (True,)
        assert "/api/v1/audit/packs/pack_id-1/verify" in paths  # the captured id reached the next request
        auth = [r.headers.get("authorization") for r in http_server.requests if r.path.endswith("/verify")]
        assert auth == ["Bearer stub-viewer_token"]

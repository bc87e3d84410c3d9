"""`golive validate`, `golive plan` and `golive schema` as a person runs them: the installed CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
GOLIVE = str(Path(sys.executable).with_name("golive"))
EXAMPLES = ROOT / "examples"
INVALID = ROOT / "tests" / "fixtures" / "invalid"
SEED_EXAMPLES = [
    "order-status-prod-cutover.yaml",
    "order-status-preflight-and-monitoring.yaml",
    "first-production-deploy.yaml",
    "payments-go-live.yaml",
    "supply-chain-prod-cutover.yaml",
]
CLI_TIMEOUT = 60  # seconds; a validate takes well under one


def golive(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOLIVE_")}
    return subprocess.run(
        [GOLIVE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False
    )


def test_all_seed_examples_validate_with_exit_0() -> None:
    """`golive validate examples/*.yaml` passes for the five seed runbooks."""
    proc = golive("validate", *(f"examples/{n}" for n in SEED_EXAMPLES))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in SEED_EXAMPLES:
        assert f"examples/{name}: valid" in proc.stdout


@pytest.mark.parametrize(
    ("fixture", "where"),
    [
        ("unknown-check-type.yaml", ":11:35: phases[0].steps[0].type: unknown check type 'htp' (did you mean 'http'?)"),
        ("needs-cycle.yaml", ":11:47: phases[0].steps[0].needs: cycle in needs: deploy -> smoke -> migrate -> deploy"),
        ("not-utf8.yaml", ":4:11: not UTF-8 (byte 0xe9)"),
        ("yaml-syntax-error.yaml", ":9:1: YAML syntax error"),
        ("unsupported-version.yaml", ":3:1: golive: unsupported golive format version 2"),
        ("empty.yaml", ":1:1: the file is empty"),
    ],
)
def test_invalid_runbook_exits_2_with_file_line_column_and_field(fixture: str, where: str) -> None:
    """A broken runbook exits 2 and prints file:line:col: field: message, without a traceback."""
    rel = f"tests/fixtures/invalid/{fixture}"
    proc = golive("validate", rel)
    assert proc.returncode == 2
    assert proc.stdout.startswith(rel + where), proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "1 problem" in proc.stderr


def test_validate_json_lists_every_file_and_problem() -> None:
    """--json gives one entry per file: valid ones with counts, invalid ones with located problems."""
    proc = golive("validate", "--json", "examples/payments-go-live.yaml", "tests/fixtures/invalid/undeclared-role.yaml")
    assert proc.returncode == 2
    doc = json.loads(proc.stdout)
    assert doc["valid"] is False
    good, bad = doc["files"]
    assert good["valid"] is True
    assert good["name"] == "payments-go-live"
    assert len(good["digest"]) == 64
    (problem,) = bad["problems"]
    assert problem["path"] == "phases[0].steps[0].role"
    assert (problem["line"], problem["column"]) == (11, 40)


def test_validate_missing_file_exits_2() -> None:
    """A path that does not exist is a usage error, not a crash."""
    proc = golive("validate", "examples/no-such-runbook.yaml")
    assert proc.returncode == 2
    assert "no such file" in proc.stdout + proc.stderr


def test_plan_shows_phases_t_times_and_critical_path() -> None:
    """`golive plan --json` of the payments go-live has its phases with T-times and a critical path."""
    proc = golive("plan", "--json", "examples/payments-go-live.yaml")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    at = {p["id"]: p["at"] for p in plan["phases"]}
    assert at["preflight"] == -3600.0
    assert at["decision"] == 900.0
    assert plan["critical_path"]


def test_plan_of_an_invalid_runbook_exits_2() -> None:
    """plan refuses a runbook that does not validate, with the located problem on stderr."""
    proc = golive("plan", "tests/fixtures/invalid/unknown-var-reference.yaml")
    assert proc.returncode == 2
    assert "unknown-var-reference.yaml:16:9" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_schema_out_writes_the_editor_schema(tmp_path: Path) -> None:
    """`golive schema --out FILE` writes the JSON Schema the YAML language server reads."""
    out = tmp_path / "golive.schema.json"
    proc = golive("schema", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["title"] == "golive runbook (format v1)"
    assert "check__http" in doc["$defs"]

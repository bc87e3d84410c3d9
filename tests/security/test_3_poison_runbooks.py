"""Issue item 3: poison runbooks end within their timeout and the server keeps answering.

Catastrophic regexes run on RE2 (linear time), the expression evaluator checks operand sizes before powers,
products and repeats, an oversized runbook or value is refused before it is built, and every pattern and path
is compiled at load so `validate` refuses a bad one with file:line. Runs go through the CLI and `golive serve`
in their own processes, so a regression fails the test (a time limit) instead of hanging it.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

Cli = Callable[..., subprocess.CompletedProcess[str]]

POISON = """
golive: 1
name: poison
phases:
  - id: p
    steps:
      - id: regex
        kind: check
        type: command
        timeout: 5s
        with:
          run: [python3, -c, "print('a' * 40 + '!')"]
          expect: {stdout: "^(a+)+$"}
      - id: matches
        kind: check
        type: command
        timeout: 5s
        with:
          run: [python3, -c, "print('a' * 40 + '!')"]
          expect: "matches(stdout, '^(a+)+$')"
      - id: power
        kind: check
        type: command
        timeout: 5s
        with:
          run: [echo, "1"]
          expect: "4000000**4000000 > 0"
      - id: repeat
        kind: check
        type: command
        timeout: 5s
        with:
          run: [echo, "1"]
          expect: "len('ab' * 10**9) > 0"
      - id: jmespath
        kind: check
        type: command
        timeout: 5s
        with:
          run: [echo, "[1]"]
          expect: "jp(json, 'BOMB') != null"
""".replace("BOMB", " | ".join(["[@,@,@,@][]"] * 14))


def test_poison_checks_end_within_their_timeout_as_failures(cli: Cli, tmp_path: Path) -> None:
    """Each poison step fails (fail closed) and the run ends; before, `golive run` hung on the first one."""
    # Non-blocking, so every poison step runs and reports.
    (tmp_path / "poison.yaml").write_text(
        POISON.replace("        timeout: 5s", "        timeout: 5s\n        blocking: false"), encoding="utf-8"
    )
    r = cli("run", "poison.yaml")
    out = r.stdout + r.stderr
    assert r.returncode in (0, 1), out
    assert "too big to compute" in out
    assert "too long" in out
    assert "(stopped)" in out  # the JMESPath blow-up, killed in its worker process
    assert "regex" not in out or "timed out" not in out


def test_the_server_answers_health_while_a_poison_run_runs_and_the_run_ends(
    served: httpx.Client, runbook_dir: Path
) -> None:
    (runbook_dir / "poison.yaml").write_text(POISON, encoding="utf-8")
    r = served.post("/api/v1/runs", json={"runbook": "poison.yaml", "mode": "rehearsal"})
    assert r.status_code == 201, r.text
    rid = r.json()["run_id"]
    deadline = time.monotonic() + 60
    while True:
        health = served.get("/health", timeout=1.0)  # a hung event loop raises ReadTimeout here
        assert health.status_code == 200
        summary = served.get(f"/api/v1/runs/{rid}").json()
        if summary["status"] not in ("running", "pending", "created"):
            break
        assert time.monotonic() < deadline, f"the run did not end: {summary['status']}"
        time.sleep(0.1)
    assert summary["status"] in ("no_go", "failed", "no-go", "NO-GO"), summary["status"]


@pytest.mark.parametrize(
    ("fragment", "where", "words"),
    [
        ("expect: {stdout: '(a)\\1'}", "with.expect.stdout", "RE2"),
        ("expect: \"matches(stdout, '(?<=a)b')\"", "with.expect", "RE2"),
        ("expect: \"jp(json, 'a[') == 1\"", "with.expect", "JSON path"),
    ],
)
def test_validate_refuses_bad_patterns_and_paths_with_file_line(
    cli: Cli, tmp_path: Path, fragment: str, where: str, words: str
) -> None:
    text = f"""golive: 1
name: bad
phases:
  - id: p
    steps:
      - id: s
        kind: check
        type: command
        with:
          run: [echo, x]
          {fragment}
"""
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    v = cli("validate", "bad.yaml")
    assert v.returncode == 2
    assert f"phases[0].steps[0].{where}" in v.stdout
    assert words in v.stdout


def test_validate_refuses_a_bad_input_pattern_and_a_bad_redact_pattern(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        """golive: 1
name: bad
settings:
  redact_patterns:
    - {name: ticket, pattern: "CHG-(["}
roles:
  ops: {}
phases:
  - id: p
    steps:
      - id: s
        kind: manual
        role: ops
        inputs: [{id: snap, pattern: "snap-(?=x)"}]
""",
        encoding="utf-8",
    )
    v = cli("validate", "bad.yaml")
    assert v.returncode == 2
    assert "bad.yaml:5:" in v.stdout
    assert "settings.redact_patterns[0].pattern" in v.stdout
    assert "bad.yaml:14:" in v.stdout
    assert "inputs[0].pattern" in v.stdout


def test_an_oversized_runbook_or_value_is_refused_before_it_is_built(cli: Cli, tmp_path: Path) -> None:
    """A file over the byte limit is refused without being read; a 2 MB value is refused at its line."""
    from golive.spec import loader

    big = tmp_path / "big.yaml"
    with big.open("wb") as fh:
        fh.write(b"golive: 1\nname: big\n")
        fh.truncate(loader.MAX_RUNBOOK_BYTES + 1)
    v = cli("validate", "big.yaml")
    assert v.returncode == 2
    assert "a runbook may be at most" in v.stdout + v.stderr
    long_value = tmp_path / "long.yaml"
    long_value.write_text(
        "golive: 1\nname: long\ndescription: " + "x" * (loader.MAX_SCALAR_CHARS + 1) + "\n"
        "phases: [{id: p, steps: [{id: s, kind: manual, role: r}]}]\nroles: {r: {}}\n",
        encoding="utf-8",
    )
    v = cli("validate", "long.yaml")
    assert v.returncode == 2
    assert "long.yaml:3:" in v.stdout
    assert "characters long; the limit is" in v.stdout

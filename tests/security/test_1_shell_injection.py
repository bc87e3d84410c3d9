"""Issue item 1: a templated value never runs as shell code (vars from the CLI and the API, step outputs,
manual inputs). A reference in shell text is refused at load with the fix; passed as argv or env it is data."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from golive import exceptions, testing
from golive.engine import acts
from golive.spec import loader
from golive.store import open_store

Cli = Callable[..., subprocess.CompletedProcess[str]]

INJECTED_VAR = """
golive: 1
name: inj
vars:
  version: {default: v1}
phases:
  - id: deploy
    steps:
      - id: say
        kind: action
        type: command
        with: {run: "echo deploying ${{ vars.version }}"}
"""

AS_DATA = """
golive: 1
name: inj-data
vars:
  version: {default: v1}
roles:
  ops: {}
phases:
  - id: deploy
    steps:
      - id: argv
        kind: action
        type: command
        with: {run: [echo, "deploying", "${{ vars.version }}"]}
      - id: env
        kind: action
        type: command
        with: {run: 'echo "deploying $VERSION"', env: {VERSION: "${{ vars.version }}"}}
"""

MARKER = "pwned"


def test_a_var_in_a_string_command_is_refused_at_load_and_never_runs(cli: Cli, tmp_path: Path) -> None:
    """`golive run inj.yaml --var 'version=v2; touch pwned'` with a string run: exit 2 with the fix, no file."""
    (tmp_path / "inj.yaml").write_text(INJECTED_VAR, encoding="utf-8")
    r = cli("run", "inj.yaml", "--var", f"version=v2; touch {MARKER}")
    assert r.returncode == 2, r.stderr
    assert "inside shell command text" in r.stderr
    assert "env:" in r.stderr
    assert not (tmp_path / MARKER).exists()
    v = cli("validate", "inj.yaml")
    assert v.returncode == 2
    assert "inj.yaml:12:" in v.stdout


def test_a_var_passed_as_argv_or_env_stays_data(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(AS_DATA, encoding="utf-8")
    r = cli("run", "ok.yaml", "--var", f"version=v2; touch {MARKER}; $(touch {MARKER}) `touch {MARKER}`")
    assert r.returncode == 0, r.stdout + r.stderr
    assert not (tmp_path / MARKER).exists()


def test_the_api_refuses_a_runbook_that_pastes_vars_into_a_shell(live: httpx.Client, runbook_dir: Path) -> None:
    """POST /api/v1/runs with vars: the runbook is refused (422), nothing runs as the server's user."""
    marker = runbook_dir / MARKER
    (runbook_dir / "inj.yaml").write_text(INJECTED_VAR, encoding="utf-8")
    r = live.post("/api/v1/runs", json={"runbook": "inj.yaml", "vars": {"version": f"v2; touch {marker}"}})
    assert r.status_code == 422, r.text  # an invalid runbook
    assert "inside shell command text" in r.text
    assert not marker.exists()


def test_the_api_passes_vars_as_data_and_checks_their_types(live: httpx.Client, runbook_dir: Path) -> None:
    marker = runbook_dir / MARKER
    (runbook_dir / "ok.yaml").write_text(
        AS_DATA.replace("version: {default: v1}", "version: {default: v1}\n  dry: {type: bool, default: false}"),
        encoding="utf-8",
    )
    bad = live.post("/api/v1/runs", json={"runbook": "ok.yaml", "vars": {"dry": "maybe"}})
    assert bad.status_code == 400
    assert "(bool) must be true or false" in bad.text
    r = live.post("/api/v1/runs", json={"runbook": "ok.yaml", "vars": {"version": f"$(touch {marker})", "dry": True}})
    assert r.status_code == 201, r.text
    assert not marker.exists()


OUTPUT_INTO_SHELL = """
golive: 1
name: out
phases:
  - id: p
    steps:
      - id: produce
        kind: check
        type: command
        with: {run: [printf, "%s", "$(touch MARK)"]}
      - id: consume
        kind: action
        type: command
        needs: [produce]
        with: {run: "echo got ${{ steps.produce.output.stdout }}"}
"""

INPUT_INTO_INTERPRETER = """
golive: 1
name: inp
roles:
  ops: {}
phases:
  - id: p
    steps:
      - id: ask
        kind: manual
        role: ops
        inputs: [{id: ticket}]
      - id: use
        kind: action
        type: command
        needs: [ask]
        with: {run: [bash, -c, "echo ${{ steps.ask.inputs.ticket }}"]}
      - id: py
        kind: action
        type: command
        needs: [ask]
        with: {run: [python3, -c, "print('${{ steps.ask.inputs.ticket }}')"]}
      - id: stdin
        kind: action
        type: command
        needs: [ask]
        with: {run: [sh], stdin: "echo ${{ steps.ask.inputs.ticket }}"}
"""


def test_a_step_output_in_a_later_string_command_is_refused(tmp_path: Path) -> None:
    rb = tmp_path / "out.yaml"
    rb.write_text(OUTPUT_INTO_SHELL.replace("MARK", str(tmp_path / MARKER)), encoding="utf-8")
    with pytest.raises(exceptions.RunbookInvalid) as err:
        loader.load(rb, environ={})
    assert "steps.produce.output.stdout" in str(err.value)
    assert "phases[0].steps[1].with.run" in str(err.value)
    assert not (tmp_path / MARKER).exists()


def test_a_manual_input_in_an_interpreters_code_text_is_refused(tmp_path: Path) -> None:
    rb = tmp_path / "inp.yaml"
    rb.write_text(INPUT_INTO_INTERPRETER, encoding="utf-8")
    with pytest.raises(exceptions.RunbookInvalid) as err:
        loader.load(rb, environ={})
    text = str(err.value)
    assert "steps[1].with.run[2]" in text
    assert "steps[2].with.run[2]" in text
    assert "steps[3].with.stdin" in text


async def test_a_manual_input_given_as_env_never_runs(tmp_path: Path) -> None:
    """The same input through env: reaches the child as a value; the marker never appears."""
    marker = tmp_path / MARKER
    rb = tmp_path / "inp.yaml"
    rb.write_text(
        """
golive: 1
name: inp-env
roles:
  ops: {}
phases:
  - id: p
    steps:
      - id: ask
        kind: manual
        role: ops
        inputs: [{id: ticket}]
      - id: use
        kind: action
        type: command
        needs: [ask]
        with: {run: [bash, -c, 'echo "$TICKET"'], env: {TICKET: "${{ steps.ask.inputs.ticket }}"}}
""",
        encoding="utf-8",
    )
    store = open_store(str(tmp_path / "golive.db"))
    await store.open()
    try:
        run = await testing.start_engine(store, loader.load(rb, environ={}), roles={"ops": "bob"})
        h = await run.waiting("ask")
        await acts.confirm(h, "ask", "bob", inputs={"ticket": f"$(touch {marker}); touch {marker}"})
        status = await run.finished()
        assert status.value == "passed"
        assert not marker.exists()
    finally:
        await store.close()

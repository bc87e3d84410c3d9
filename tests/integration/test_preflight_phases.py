"""A pre-flight split over several phases runs as one: every pre-flight phase by default, or those named."""

from __future__ import annotations

from pathlib import Path

import pytest

from golive import exceptions
from golive.cli import preflight_cmds
from golive.spec import loader

RUNBOOK = """
golive: 1
name: split-preflight
phases:
  - id: preflight-env
    title: Pre-flight env
    steps:
      - {id: env_home, kind: check, type: env, with: {name: HOME}}
  - id: preflight-files
    title: Pre-flight files
    steps:
      - {id: runbook_here, kind: check, type: file, with: {path: rb.yaml}}
  - id: cutover
    steps:
      - {id: later, kind: check, type: env, with: {name: NOT_A_PREFLIGHT_CHECK_VAR, state: absent}}
"""


def _loaded(tmp_path: Path) -> loader.LoadedRunbook:
    rb = tmp_path / "rb.yaml"
    rb.write_text(RUNBOOK, encoding="utf-8")
    return loader.load(rb)


async def test_every_preflight_phase_runs_by_default(tmp_path: Path) -> None:
    """Without --phase, the checks of preflight-env and preflight-files run together, and nothing else."""
    data, steps, phase = await preflight_cmds.run_preflight(_loaded(tmp_path), None, 10, 5.0)
    assert [s["id"] for s in steps] == ["env_home", "runbook_here"]
    assert phase.id == "preflight-env"
    assert data["status_label"] == "PASS"


async def test_named_phases_run_and_only_those(tmp_path: Path) -> None:
    """--phase may be given more than once, by id or title."""
    _, steps, _ = await preflight_cmds.run_preflight(_loaded(tmp_path), ["Pre-flight files", "cutover"], 10, 5.0)
    assert sorted(s["id"] for s in steps) == ["later", "runbook_here"]


async def test_an_unknown_phase_is_bad_input(tmp_path: Path) -> None:
    """A misspelt phase name is a usage error with a suggestion."""
    with pytest.raises(exceptions.UsageError, match="did you mean 'preflight-env'"):
        await preflight_cmds.run_preflight(_loaded(tmp_path), ["preflight-evn"], 10, 5.0)

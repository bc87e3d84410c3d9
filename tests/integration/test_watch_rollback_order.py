"""`golive watch` lists the rollback's steps in the order they ran: the flags' safe values first."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from golive.cli import watch_cmds
from golive.engine import acts, runner
from golive.spec import loader
from golive.store import sqlite

RUNBOOK = """\
golive: 1
name: order
phases:
  - id: p
    steps:
      - {id: ok, kind: check, type: command, with: {run: ["true"]}}
rollback:
  steps:
    - {id: revert, kind: action, type: command, with: {run: ["true"]}}
"""


async def test_the_rollback_steps_are_listed_in_the_order_they_ran(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """restore_safe_flags finished before revert, so it is listed first, whatever the state's key order."""
    h = await runner.create_run(store, loader.load_text(RUNBOOK, str(tmp_path / "rb.yaml"), environ={}), run_id="o1")
    await h.append("rollback_started", reason="canary failed", by="alice", source="person")
    await h.append("action_started", step_id="revert", attempt=1, describe="revert")  # first in the step map
    await h.append("action_started", step_id="restore_safe_flags", attempt=1, describe="flags")
    await h.append("action_finished", step_id="restore_safe_flags", outcome="pass", summary="flags safe")
    await h.append("action_finished", step_id="revert", outcome="pass", summary="reverted")
    view = await acts.open_run(store, "o1")
    console = Console(width=200, record=True)
    console.print(watch_cmds.watch_renderable(view))
    assert "rollback steps: restore_safe_flags PASS, revert PASS" in console.export_text()

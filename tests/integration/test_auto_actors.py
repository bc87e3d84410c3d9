"""The scripted people of rehearsals and tests: when nobody in the script can do what the run waits for,
they say so at once instead of leaving the run (and whoever waits on it) waiting for ever."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from golive.spec import loader
from golive.store import sqlite
from golive.testing import AutoActors, FakeClock, PeopleGaveUp, start_engine

BOOK = """\
golive: 1
name: pattern-input
roles:
  ops: {title: Operations}
phases:
  - id: restore
    steps:
      - id: choose
        kind: manual
        role: ops
        instructions: Pick what was done.
        inputs: [{id: action, title: What was done, pattern: '^(restore|downgrade|none)$'}]
"""


async def test_people_who_cannot_answer_a_pattern_input_give_up_with_the_reason(tmp_path: Path) -> None:
    store = sqlite.SqliteStore(tmp_path / "golive.db")
    await store.open()
    try:
        (tmp_path / "book.yaml").write_text(BOOK)
        clock = FakeClock(datetime.now(UTC))
        r = await start_engine(
            store, loader.load(tmp_path / "book.yaml", environ={}), roles={"ops": "olga"}, clock=clock
        )
        people = AutoActors(store, r.run_id, clock=clock, every=5.0, max_tries=3)
        try:
            with pytest.raises(PeopleGaveUp, match="gave up on choose"):
                await asyncio.wait_for(people.run(), timeout=60)
            assert len(people.refused) == 3
        finally:
            r.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await r.task
    finally:
        await store.close()

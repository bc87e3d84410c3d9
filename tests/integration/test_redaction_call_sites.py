"""Redaction where a run keeps and ships text: its stored variables, its events and its evidence pack.

A real run in a real SQLite store, driven by the real engine: a variable named like a secret (given with
``--var``-style overrides) must reach neither the run's stored parameters nor any event, even when a step
prints it; with ``redact_ips: true`` a step title and the runbook copy in the pack keep no IP address.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from golive.engine import acts, runner
from golive.engine.state import RunStatus
from golive.evidence import pack, runpack
from golive.spec import loader
from golive.store import sqlite
from golive.views import summary

API_KEY = "Qx7rTzLm28Vb"  # nothing in it looks secret: only the variable's name says so
RESOLVER = "10.20.30.40"
RUNBOOK = f"""\
golive: 1
name: redaction-call-sites
title: Cut-over for {RESOLVER}
settings: {{redact_ips: true}}
vars:
  api_key: {{default: ""}}
  region: {{default: eu-west-1}}
  standby_resolver: {{default: ""}}
phases:
  - id: cutover
    title: Cut-over
    steps:
      - id: point_dns
        title: Point the resolver at {RESOLVER}
        kind: check
        type: command
        with: {{run: [echo, using key, "${{{{ vars.api_key }}}}", in, "${{{{ vars.region }}}}"]}}
"""


async def _run_and_pack(tmp_path: Path) -> tuple[dict[str, object], list[str], Path]:
    book = tmp_path / "runbook.yaml"
    book.write_text(RUNBOOK)
    store = sqlite.SqliteStore(tmp_path / "golive.db")
    await store.open()
    try:
        # A var holding an address is redacted before the runbook text: the pack's copy must still be
        # the text whose digest the run recorded.
        overrides = {"api_key": API_KEY, "standby_resolver": "10.9.8.7"}
        loaded = loader.load(str(book), var_overrides=overrides)
        handle = await runner.create_run(store, loaded, run_id="call-sites")
        status = await asyncio.wait_for(runner.Engine(handle, poll=0.05).run(), timeout=60)
        assert status is RunStatus.PASSED, handle.state.reason
        record = await store.get_run(handle.run_id)
        events = [json.dumps(ev.as_dict()) for ev in await store.events(handle.run_id)]
        out = tmp_path / "pack"
        await runpack.pack_run(store, handle.run_id, out)
        # Outside the pack too: what `golive status`, `golive report` and the API's exports are made from.
        shown = json.dumps(summary.summarize(await acts.open_run(store, handle.run_id)))
        assert RESOLVER not in shown
        assert "Point the resolver at <ip:" in shown
        return record.params, events, out
    finally:
        await store.close()


def test_a_secret_named_var_is_stored_redacted_and_masked_in_output(tmp_path: Path) -> None:
    """``--var api_key=...``: the stored parameters hold a placeholder, the var is withheld, and the
    step that echoes it has its output masked in every event."""
    params, events, _out = asyncio.run(_run_and_pack(tmp_path))
    stored = params["vars"]
    assert isinstance(stored, dict)
    assert stored["api_key"] != API_KEY
    assert stored["api_key"].startswith("<secret:")
    assert stored["region"] == "eu-west-1"
    assert "api_key" in params["vars_withheld"]  # type: ignore[operator]
    assert not [e for e in events if API_KEY in e]
    assert any("using key <secret:" in e for e in events)


def test_redact_ips_covers_titles_and_the_runbook_copy_in_the_pack(tmp_path: Path) -> None:
    """With ``redact_ips: true`` no file of the pack keeps the resolver's address: not the runbook copy,
    not the step and runbook titles in the summary, timeline and reports."""
    _params, _events, out = asyncio.run(_run_and_pack(tmp_path))
    leaked = [p.name for p in out.rglob("*") if p.is_file() and RESOLVER.encode() in p.read_bytes()]
    assert not leaked
    copy = (out / "runbook.yaml").read_text()
    assert "Point the resolver at <ip:" in copy
    assert "point_dns" in copy  # the rest of the runbook is as written
    summary = json.loads((out / "summary.json").read_text())
    assert "<ip:" in json.dumps(summary)
    # The redacted copy is the one the run's chain records: the pack verifies whole.
    result = pack.verify_pack(out)
    assert result.chain == "valid", result.problems
    assert result.valid, result.problems

"""Variables reach the store redacted; a value that held personal data is withheld and needed again to resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from golive import exceptions
from golive.engine import acts, runner
from golive.spec import loader
from golive.store import open_store

RUNBOOK = """
golive: 1
name: vars-withheld
vars:
  oncall: {default: nobody}
  region: {default: eu-west-1}
phases:
  - id: only
    steps:
      - id: say
        kind: check
        type: command
        with: {run: "echo paging $ONCALL in $REGION", env: {ONCALL: "${{ vars.oncall }}", REGION: "${{ vars.region }}"}}
"""

EMAIL = "pager.person@example.org"


async def _run(tmp_path: Path) -> tuple[str, Path]:
    rb = tmp_path / "rb.yaml"
    rb.write_text(RUNBOOK, encoding="utf-8")
    db = tmp_path / "golive.db"
    store = open_store(str(db))
    await store.open()
    try:
        loaded = loader.load(rb, var_overrides={"oncall": EMAIL}, environ={})
        handle = await runner.create_run(store, loaded)
        await runner.Engine(handle).run()
        return handle.run_id, db
    finally:
        await store.close()


async def test_a_var_holding_an_email_is_not_in_the_store_but_the_run_used_it(tmp_path: Path) -> None:
    """The creating process uses the real value; the record keeps a placeholder and names the var as withheld."""
    run_id, db = await _run(tmp_path)
    store = open_store(str(db))
    await store.open()
    try:
        rec = await store.get_run(run_id)
        assert rec.params["vars_withheld"] == ["oncall"]
        assert EMAIL not in str(rec.params)
        h = await acts.open_run(store, run_id)
        assert h.state.step("say").outcome is not None
        assert h.state.step("say").outcome.value == "pass"
    finally:
        await store.close()
    assert EMAIL.encode() not in db.read_bytes()


async def test_resuming_without_the_withheld_var_fails_closed_with_the_fix(tmp_path: Path) -> None:
    """A later process that needs the withheld value says which --var to give, instead of using a placeholder."""
    run_id, db = await _run(tmp_path)
    store = open_store(str(db))
    await store.open()
    try:
        h = await acts.open_run(store, run_id)
        engine = runner.Engine(h)
        with pytest.raises(exceptions.SecretError, match="--var oncall="):
            await engine.ctx.render("${{ vars.oncall }}")
        engine2 = runner.Engine(h, var_overrides={"oncall": EMAIL})
        assert await engine2.ctx.render("${{ vars.oncall }}") == EMAIL
        assert await engine2.ctx.render("${{ vars.region }}") == "eu-west-1"
    finally:
        await store.close()


async def test_the_fix_names_the_environment_variable_that_resumes_a_dashed_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """For a var named ``on-call`` the message names GOLIVE_VAR_ON_CALL, the variable a resume really reads."""
    rb = tmp_path / "rb.yaml"
    rb.write_text(RUNBOOK.replace("oncall", "on-call").replace("$ON-CALL", "$ONCALL"), encoding="utf-8")
    store = open_store(str(tmp_path / "golive.db"))
    await store.open()
    try:
        loaded = loader.load(rb, var_overrides={"on-call": EMAIL}, environ={})
        handle = await runner.create_run(store, loaded)
        h = await acts.open_run(store, handle.run_id)
        with pytest.raises(exceptions.SecretError, match=r"\(or GOLIVE_VAR_ON_CALL\)"):
            await runner.Engine(h).ctx.render("${{ vars.on-call }}")
        monkeypatch.setenv("GOLIVE_VAR_ON_CALL", EMAIL)
        assert await runner.Engine(h).ctx.render("${{ vars.on-call }}") == EMAIL
    finally:
        await store.close()

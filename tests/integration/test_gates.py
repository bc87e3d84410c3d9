"""Gates that hold: waivers, rechecks, exact resume, rollbacks that read true, and stopping a run on purpose.

Each test drives a real engine on a real SQLite store; checks and rollback steps are real commands, flags a
real JSON flag file, and people act through fresh handles (as `golive waive` / `decide` / `confirm` would).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from golive import exceptions
from golive.engine import acts, runner
from golive.engine.state import RunStatus
from golive.report import formats
from golive.report import html as html_report
from golive.server import dashboard
from golive.spec import loader
from golive.store import base as store_base
from golive.store import sqlite
from golive.testing import RunningEngine, start_engine
from golive.views import summary

FAST_POLL = 0.02  # seconds between the engine's looks at the log
GOLIVE = str(Path(sys.executable).with_name("golive"))
CLI_LIMIT = 60.0  # seconds a CLI call may take before the test fails


def load(tmp_path: Path, text: str) -> loader.LoadedRunbook:
    return loader.load_text(text, str(tmp_path / "runbook.yaml"), var_overrides={"dir": str(tmp_path)}, environ={})


async def start(store: store_base.Store, loaded: loader.LoadedRunbook, roles: dict[str, str]) -> RunningEngine:
    return await start_engine(store, loaded, roles=roles, poll=FAST_POLL)


def resume(store: store_base.Store, h: acts.RunHandle) -> RunningEngine:
    """Drive an existing run again from its log, as `golive resume` does."""
    return RunningEngine(store, h, asyncio.create_task(runner.Engine(h, poll=FAST_POLL).run()))


def texts(h: acts.RunHandle) -> list[str]:
    return [str(c.get("text") or "") for c in h.state.comms]


# --- waivers and requirements ------------------------------------------------------------------------------

CANARY = """\
golive: 1
name: canary-gate
roles:
  ic: {title: Incident commander, may: [decide, waive]}
  ops: {title: Operations}
vars:
  dir: {required: true}
phases:
  - id: prep
    steps:
      - {id: ready, kind: manual, role: ops}
  - id: canary
    title: Canary
    canary: true
    steps:
      - {id: canary-errors, kind: check, type: command, waivable: false,
         with: {run: "test -f canary-ok", cwd: "${{ vars.dir }}"}}
      - {id: smoke, kind: check, type: command, with: {run: "test -f smoke-ok", cwd: "${{ vars.dir }}"}}
  - id: decide
    steps:
      - {id: go, kind: decision, role: ic, requires: [canary, smoke], on_no_go: stop}
"""
CANARY_ROLES = {"ic": "alice", "ops": "olga"}


async def test_a_waived_waivable_false_canary_cannot_lead_to_go_and_a_plain_waived_step_can(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    """The IC waives the canary check (waivable: false) before it runs: the canary is announced WAIVED with
    the ticket and who, never PASS, and GO is refused naming the step, the waiver and the rule. A waiver of a
    plain step (smoke) satisfies the decision's requires: GO is recorded and the run passes."""
    (tmp_path / "smoke-ok").touch()  # the canary check itself would fail: it is waived instead
    r = await start(store, load(tmp_path, CANARY), CANARY_ROLES)
    h = await r.waiting("ready")
    await acts.waive(h, "canary-errors", "alice", "CHG-4711", "canary tenant is down")
    await acts.confirm(h, "ready", "olga")
    h = await r.waiting("go")
    assert h.state.phases["canary"] == "waived"
    with pytest.raises(exceptions.RuleRefused) as err:
        await acts.decide(h, "go", "alice", "ship it")
    why = err.value.message
    assert "'canary-errors' is WAIVED (by alice, ticket CHG-4711)" in why
    assert "waivable: false" in why
    said = texts(await r.view())
    assert any("Canary WAIVED" in t and "canary-errors waived by alice (CHG-4711)" in t for t in said), said
    assert not any("Canary PASS" in t for t in said), said
    await acts.decide(await r.view(), "no-go", "alice", "canary not proven")
    assert await r.finished() is RunStatus.NO_GO

    (tmp_path / "smoke-ok").unlink()
    (tmp_path / "canary-ok").touch()
    r = await start(store, load(tmp_path, CANARY), CANARY_ROLES)
    h = await r.waiting("ready")
    await acts.waive(h, "smoke", "alice", "CHG-4712", "smoke endpoint moved; checked by hand")
    await acts.confirm(h, "ready", "olga")
    h = await r.waiting("go")
    await acts.decide(h, "go", "alice", "canary passed, smoke waived")
    assert await r.finished() is RunStatus.PASSED
    h = await r.view()
    assert h.state.step("smoke").outcome is not None
    assert h.state.step("smoke").outcome.value == "waived"
    assert h.state.step("canary-errors").outcome.value == "pass"  # type: ignore[union-attr]
    data = summary.summarize(h)
    assert next(p for p in data["phases"] if p["id"] == "canary")["outcome"] == "waived"
    assert "smoke WAIVED waived by alice (CHG-4712)" in formats.to_markdown(data)  # reports: never PASS


# --- recheck at the decision -------------------------------------------------------------------------------

RECHECK = """\
golive: 1
name: recheck
roles:
  ic: {title: Incident commander, may: [decide]}
vars:
  dir: {required: true}
phases:
  - id: smoke
    steps:
      - id: error-rate-10m
        kind: check
        type: command
        with: {run: "cat error-rate.json", cwd: "${{ vars.dir }}", expect: "json.value < 0.01"}
  - id: decide
    steps:
      - {id: go, kind: decision, role: ic, requires: [error-rate-10m], recheck: [error-rate-10m], on_no_go: stop}
"""


async def test_a_recheck_that_fails_at_decision_time_refuses_go(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """The error rate passed at smoke time; by the decision it is 3.4%: GO is refused with the fresh value, the
    recheck is recorded, and once the rate is back under 1% GO is accepted."""
    rate = tmp_path / "error-rate.json"
    rate.write_text(json.dumps({"value": 0.002}))
    r = await start(store, load(tmp_path, RECHECK), {"ic": "alice"})
    h = await r.waiting("go")
    assert h.state.step("error-rate-10m").outcome.value == "pass"  # type: ignore[union-attr]
    rate.write_text(json.dumps({"value": 0.034}))
    with pytest.raises(
        exceptions.RuleRefused, match="a recheck at the decision failed: error-rate-10m is FAIL now"
    ) as err:
        await acts.decide(h, "go", "alice", "smoke was green")
    assert "0.034" in err.value.message
    h = await r.view()
    assert h.state.step("go").status == "waiting"
    assert [(c["step"], c["outcome"]) for c in h.state.rechecks] == [("error-rate-10m", "fail")]
    rate.write_text(json.dumps({"value": 0.004}))
    await acts.decide(h, "go", "alice", "error rate back under 1%")
    assert await r.finished() is RunStatus.PASSED
    h = await r.view()
    assert [c["outcome"] for c in h.state.rechecks] == ["fail", "pass"]


# --- resume is exact ---------------------------------------------------------------------------------------

RESUME = """\
golive: 1
name: exact-resume
roles:
  ic: {title: Incident commander, may: [decide, waive]}
  ops: {title: Operations}
vars:
  dir: {required: true}
phases:
  - id: pre
    steps:
      - {id: banner, kind: manual, role: ops, instructions: Put the maintenance banner up.}
      - {id: precondition, kind: check, type: command, with: {run: "sleep 0.2; test -f pre-ok", cwd: "${{ vars.dir }}"}}
  - id: after
    steps:
      - {id: go-on, kind: action, type: command, with: {run: "touch after.log", cwd: "${{ vars.dir }}"}}
"""


async def test_waive_and_resume_waits_for_the_unconfirmed_manual_step(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    """A failed precondition ends the run NO-GO while the manual banner step waits (recorded not-run). After
    the failed step is waived, resume enters the phase again and waits for the banner; the run goes on only
    once it is confirmed."""
    r = await start(store, load(tmp_path, RESUME), {"ic": "alice", "ops": "olga"})
    assert await r.finished() is RunStatus.NO_GO
    h = await r.view()
    assert h.state.step("banner").outcome.value == "not-run"  # type: ignore[union-attr]
    assert h.state.step("go-on").outcome.value == "not-run"  # type: ignore[union-attr]
    await acts.waive(h, "precondition", "alice", "CHG-9", "checked by hand")
    r = resume(store, await r.view())
    h = await r.until(
        "banner waiting or the run ended", lambda s: s.step("banner").status == "waiting" or r.task.done()
    )
    assert h.state.step("banner").status == "waiting", f"{h.state.status.label}: {h.state.reason}"
    assert not (tmp_path / "after.log").exists()
    assert not r.task.done()
    await acts.confirm(h, "banner", "olga")
    assert await r.finished() is RunStatus.PASSED
    h = await r.view()
    assert (tmp_path / "after.log").exists()
    assert h.state.step("banner").actor == "olga"
    assert h.state.phases["pre"] == "waived"


SLOW = """\
golive: 1
name: waive-running
roles:
  ic: {title: Incident commander, may: [decide, waive]}
vars:
  dir: {required: true}
phases:
  - id: p
    steps:
      - id: slow
        kind: check
        type: command
        with: {run: "for i in $(seq 300); do [ -f release ] && break; sleep 0.05; done; exit 1", cwd: "${{ vars.dir }}"}
"""


async def test_a_waiver_of_a_running_step_is_refused_with_the_fix(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """Waiving a check while it runs is refused (recorded), naming the fix; the step's own FAIL stands and the
    run ends NO-GO on it. Waiving the finished FAIL is then accepted and resume passes the run."""
    r = await start(store, load(tmp_path, SLOW), {"ic": "alice"})
    h = await r.until("slow running", lambda s: s.step("slow").status == "running")
    with pytest.raises(exceptions.RuleRefused, match="step 'slow' is running") as err:
        await acts.waive(h, "slow", "alice", "CHG-4711", "known flaky")
    assert "wait for it to finish" in err.value.message
    (tmp_path / "release").touch()
    assert await r.finished() is RunStatus.NO_GO
    h = await r.view()
    assert h.state.step("slow").outcome.value == "fail"  # type: ignore[union-attr]
    assert h.state.waivers == []
    assert [x["act"] for x in h.state.refusals] == ["waive"]
    await acts.waive(h, "slow", "alice", "CHG-4711", "known flaky")
    assert await resume(store, await r.view()).finished() is RunStatus.PASSED


# --- rollback that reads true ------------------------------------------------------------------------------

BRANCHES = """\
golive: 1
name: rollback-branches
roles:
  ic: {title: Incident commander, may: [decide, rollback]}
vars:
  dir: {required: true}
phases:
  - id: migrate
    steps:
      - {id: choose, kind: manual, role: ic, inputs: [{id: strategy, pattern: "^(snapshot|revert)$"}]}
      - {id: go, kind: decision, role: ic, needs: [choose], on_no_go: rollback}
rollback:
  steps:
    - id: restore-snapshot
      kind: action
      type: command
      if: "steps.choose.inputs.strategy == 'snapshot'"
      with: {run: "echo snapshot >> rollback.log", cwd: "${{ vars.dir }}"}
    - id: revert-migration
      kind: action
      type: command
      if: "steps.choose.inputs.strategy == 'revert'"
      with: {run: "echo revert >> rollback.log", cwd: "${{ vars.dir }}"}
  confirm:
    - {id: restored, kind: check, type: command, with: {run: "test -s rollback.log", cwd: "${{ vars.dir }}"}}
"""


async def test_a_rollback_with_an_unchosen_branch_ends_rolled_back_without_failed(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    """The snapshot branch is not taken (`not-taken`), the revert branch runs, the confirmation passes: the
    rollback is PASS, the run ROLLED-BACK with no "FAILED" in its reason or comms."""
    r = await start(store, load(tmp_path, BRANCHES), {"ic": "alice"})
    await acts.confirm(await r.waiting("choose"), "choose", "alice", inputs={"strategy": "revert"})
    await acts.decide(await r.waiting("go"), "no-go", "alice", "ledger mismatch")
    assert await r.finished() is RunStatus.ROLLED_BACK
    h = await r.view()
    assert h.state.step("restore-snapshot").outcome.value == "not-taken"  # type: ignore[union-attr]
    assert h.state.step("revert-migration").outcome.value == "pass"  # type: ignore[union-attr]
    assert h.state.rollback is not None
    assert h.state.rollback["outcome"] == "pass"
    assert "failed" not in h.state.reason.lower()
    said = " ".join(texts(h))
    assert "Rollback complete" in said
    assert "FAILED" not in said
    assert (tmp_path / "rollback.log").read_text().split() == ["revert"]
    assert formats.overall_status(summary.summarize(h)) == "FAIL"  # a rolled-back run never reads as a pass


FLAG_ORDER = """\
golive: 1
name: db-cutover
roles:
  ic: {title: Incident commander, may: [decide, rollback]}
vars:
  dir: {required: true}
flags:
  provider: {type: json, with: {path: "${{ vars.dir }}/flags.json"}}
  safe: {writes_enabled: false}
phases:
  - id: cutover
    steps:
      - {id: writes-on, kind: action, type: flag, with: {flags: {writes_enabled: true}}}
      - {id: go, kind: decision, role: ic, needs: [writes-on], on_no_go: rollback}
rollback:
  restore_flags: {after: read-only-on}
  steps:
    - id: read-only-on
      kind: action
      type: command
      with: {run: "echo read-only-on $(cat flags.json) >> commands.log", cwd: "${{ vars.dir }}"}
    - id: drain
      kind: action
      type: command
      with: {run: "echo drain $(cat flags.json) >> commands.log", cwd: "${{ vars.dir }}"}
"""


async def test_restore_flags_after_a_step_runs_in_that_order(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """`restore_flags: {after: read-only-on}`: READ_ONLY goes on while writes are still enabled in the flag
    store, then the flags are restored, then the next step sees them safe (command log and events agree)."""
    (tmp_path / "flags.json").write_text("{}")
    r = await start(store, load(tmp_path, FLAG_ORDER), {"ic": "alice"})
    await acts.decide(await r.waiting("go"), "no-go", "alice", "replication lag")
    assert await r.finished() is RunStatus.ROLLED_BACK
    log = (tmp_path / "commands.log").read_text().splitlines()
    assert [line.split()[0] for line in log] == ["read-only-on", "drain"]
    assert json.loads(log[0].split(" ", 1)[1]) == {"writes_enabled": True}
    assert json.loads(log[1].split(" ", 1)[1]) == {"writes_enabled": False}
    started = [
        e.step_id for e in await r.events() if e.type in ("action_started", "step_started") and e.step_id != "writes-on"
    ]
    assert started == ["read-only-on", runner.RESTORE_FLAGS_STEP, "drain"]
    assert json.loads((tmp_path / "flags.json").read_text()) == {"writes_enabled": False}


FOLLOW = """\
golive: 1
name: blue-green
roles:
  ic: {title: Incident commander, may: [decide, rollback]}
  observer: {title: Observer}
  scribe: {title: Scribe}
vars:
  dir: {required: true}
phases:
  - id: switch
    steps:
      - {id: go, kind: decision, role: ic, on_no_go: rollback}
rollback:
  steps:
    - {id: back-to-blue, kind: action, type: command, with: {run: "echo blue >> rollback.log", cwd: "${{ vars.dir }}"}}
  follow_up:
    - Keep blue running for 24 h
    - {id: postmortem, title: Post-mortem within 48 h, role: scribe}
"""


async def test_a_follow_up_is_confirmable_and_reported(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    """After a rollback the follow-up duties are due in status and every report; the IC confirms "Keep blue
    running" (an observer is refused), the scribe the post-mortem; reports then say who confirmed each."""
    r = await start(store, load(tmp_path, FOLLOW), {"ic": "alice", "observer": "otto", "scribe": "sam"})
    await acts.decide(await r.waiting("go"), "no-go", "alice", "green is slow")
    assert await r.finished() is RunStatus.ROLLED_BACK
    h = await r.view()
    due = summary.summarize(h)["follow_ups"]
    assert [(f["id"], f["title"], f["status"]) for f in due] == [
        ("follow-up-1", "Keep blue running for 24 h", "due"),
        ("postmortem", "Post-mortem within 48 h", "due"),
    ]
    assert "- [ ] Keep blue running for 24 h (`follow-up-1`, due)" in formats.to_markdown(summary.summarize(h))
    with pytest.raises(exceptions.RuleRefused, match="otto holds none of the roles"):
        await acts.confirm(h, "follow-up-1", "otto")
    await acts.confirm(h, "follow-up-1", "alice", reason="blue stays up until Friday")
    await acts.confirm(h, "postmortem", "sam")
    with pytest.raises(exceptions.RuleRefused, match="already confirmed by alice"):
        await acts.confirm(h, "follow-up-1", "alice")
    h = await r.view()
    data = summary.summarize(h)
    assert [(f["id"], f["status"], f["by"]) for f in data["follow_ups"]] == [
        ("follow-up-1", "confirmed", "alice"),
        ("postmortem", "confirmed", "sam"),
    ]
    md = formats.to_markdown(data)
    assert "- [x] Keep blue running for 24 h (`follow-up-1`, confirmed by alice" in md
    assert json.loads(formats.to_json(data))["follow_ups"][1]["by"] == "sam"
    junit = formats.to_junit(data)
    assert 'name="follow-up"' in junit
    assert "Keep blue running for 24 h: confirmed by alice" in junit
    page = html_report.render(data)
    assert "Keep blue running for 24 h" in page
    assert "Post-mortem within 48 h" in page
    assert any(line["what"] == "Follow-up Keep blue running for 24 h" for line in summary.timeline(h, data))


# --- stop here, continue later -----------------------------------------------------------------------------

TIERS = """\
golive: 1
name: tiers
roles:
  ic: {title: Release driver, may: [decide]}
  observer: {title: Observer}
vars:
  dir: {required: true}
flags:
  provider: {type: json, with: {path: "${{ vars.dir }}/flags.json"}}
  safe: {tier1: false, tier2: false}
phases:
  - id: tier1
    steps:
      - {id: enable-tier1, kind: action, type: flag, with: {flags: {tier1: true}}}
      - {id: tier1-smoke, kind: check, type: command, needs: [enable-tier1], with: {run: "true"}}
  - id: tier2
    steps:
      - {id: match-proven, kind: check, type: command,
         with: {run: "echo checked >> match.log; test -f match-ok", cwd: "${{ vars.dir }}"}}
      - {id: no-misdisclosure, kind: manual, role: observer}
      - {id: tier2-go, kind: decision, role: ic, needs: [match-proven, no-misdisclosure],
         requires: [tier1, no-misdisclosure], on_no_go: keep-live}
      - {id: enable-tier2, kind: action, type: flag, needs: [tier2-go], with: {flags: {tier2: true}}}
"""


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GOLIVE, *args], env=env, capture_output=True, text=True, timeout=CLI_LIMIT, check=False)


async def test_a_tier2_no_go_ends_stopped_with_tier1_on_and_resume_from_continues_it(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    """NO-GO on Tier 2 (on_no_go: keep-live) ends the run STOPPED: Tier 1's flag stays on, Tier 2's action is
    not run, no rollback, `run_stopped` is announced, `golive resume` exits 3. Days later `golive resume RUN
    --from tier2` (the release driver) re-runs Tier 2's check first, and the run then passes with Tier 2 on."""
    (tmp_path / "flags.json").write_text("{}")
    roles = {"ic": "alice", "observer": "otto"}
    (tmp_path / "match-ok").touch()
    r = await start(store, load(tmp_path, TIERS), roles)
    await acts.confirm(await r.waiting("no-misdisclosure"), "no-misdisclosure", "otto")
    await acts.decide(await r.waiting("tier2-go"), "no-go", "alice", "matching not proven for returns yet")
    assert await r.finished() is RunStatus.STOPPED
    h = await r.view()
    assert json.loads((tmp_path / "flags.json").read_text()) == {"tier1": True}
    assert h.state.rollback is None
    assert h.state.phases == {"tier1": "pass", "tier2": "stopped"}
    assert h.state.step("enable-tier2").outcome.value == "not-run"  # type: ignore[union-attr]
    assert summary.summarize(h)["verdict"] == "STOPPED"
    assert any(c.get("event") == "run_stopped" for c in h.state.comms)

    env = {**os.environ, "GOLIVE_DATABASE_URL": str(tmp_path / "db" / "golive.db"), "COLUMNS": "200"}
    await store.close()  # the CLI opens the same SQLite file
    try:
        ended = cli("resume", r.run_id, "--no-prompt", "-q", env=env)
        assert ended.returncode == 3, ended.stderr
        shown = cli("status", r.run_id, env=env)
        assert f"continue with: golive resume {r.run_id} --from tier2 --as NAME" in " ".join(shown.stdout.split())
        wrong = cli("resume", r.run_id, "--from", "tier1", "--as", "alice", "--no-prompt", "-q", env=env)
        assert wrong.returncode == 2
        assert "the run stopped in 'tier2'" in wrong.stderr
        refused = cli("resume", r.run_id, "--from", "tier2", "--as", "otto", "--no-prompt", "-q", env=env)
        assert refused.returncode == 1
        assert "otto holds none of the roles that decide" in refused.stderr
        proc = await asyncio.create_subprocess_exec(
            GOLIVE,
            *("resume", r.run_id, "--from", "tier2", "--as", "alice", "--no-prompt", "-q"),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            await store.open()
            people = RunningEngine(store, h, asyncio.create_task(asyncio.sleep(CLI_LIMIT)))
            h = await people.until("tier2 entered again", lambda s: s.step("no-misdisclosure").status == "waiting")
            assert (tmp_path / "match.log").read_text().split() == ["checked", "checked"]  # re-ran first
            await acts.confirm(h, "no-misdisclosure", "otto")
            await acts.decide(await people.waiting("tier2-go"), "go", "alice", "matching proven")
            _, err = await asyncio.wait_for(proc.communicate(), CLI_LIMIT)
            people.task.cancel()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == 0, err.decode()
        h = await acts.open_run(store, r.run_id)
        assert h.state.status is RunStatus.PASSED
        assert json.loads((tmp_path / "flags.json").read_text()) == {"tier1": True, "tier2": True}
        assert h.state.phases == {"tier1": "pass", "tier2": "pass"}
        evs = await store.events(r.run_id)
        reopened = next(e.seq for e in evs if e.type == "run_reopened")
        later = [(e.type, e.step_id) for e in evs if e.seq > reopened]
        # Tier 2's check ran again before anyone was asked to confirm or decide.
        assert later.index(("step_finished", "match-proven")) < later.index(("step_waiting", "no-misdisclosure"))
    finally:
        await store.close()
        await store.open()


CRASH = """\
golive: 1
name: rollback-crash
roles:
  ic: {title: Incident commander, may: [decide, rollback]}
vars:
  dir: {required: true}
phases:
  - id: switch
    steps:
      - {id: go, kind: decision, role: ic, on_no_go: rollback}
rollback:
  steps:
    - {id: first, kind: action, type: command, with: {run: "echo first >> rollback.log", cwd: "${{ vars.dir }}"}}
    - {id: buggy, kind: action, type: describe-bug, with: {path: "${{ vars.dir }}/bug"}}
    - {id: last, kind: action, type: command, with: {run: "echo last >> rollback.log", cwd: "${{ vars.dir }}"}}
"""


@pytest.fixture
def describe_bug() -> Any:
    """A third-party action plugin with a bug outside its run(): describe() raises while the file `path` exists.
    Registered in the default registry for this test only."""
    from pydantic import Field

    from golive import results
    from golive.plugins import base
    from golive.plugins import registry as registry_mod

    class BugParams(base.Params):
        path: str = Field(description="While this file exists, describe() raises.")

    class DescribeBug(base.ActionPlugin):
        name = "describe-bug"
        params = BugParams
        description = "An action whose describe() has a bug (tests only)."

        def describe(self, ctx: base.StepContext) -> str:
            if Path(ctx.params.path).exists():
                raise RuntimeError("describe() bug in a third-party plugin")
            return "describe-bug: fine"

        async def run(self, ctx: base.StepContext) -> results.Result:
            return results.Result.ok("done")

    reg = registry_mod.default_registry()
    reg.register(DescribeBug)
    try:
        yield DescribeBug
    finally:
        reg._plugins.pop(("action", "describe-bug"), None)  # the Registry has no public unregister; tests only


async def test_a_crash_of_the_rollback_machinery_is_an_event_and_the_run_stays_adoptable(
    store: sqlite.SqliteStore, tmp_path: Path, describe_bug: Any
) -> None:
    """A plugin bug outside a step's result stops the rollback: `rollback_interrupted` names the error, the run
    stays ROLLING-BACK (never FAILED or silently stuck), and a resume after the fix finishes the plan from
    where it stopped."""
    (tmp_path / "bug").touch()
    r = await start(store, load(tmp_path, CRASH), {"ic": "alice"})
    await acts.decide(await r.waiting("go"), "no-go", "alice", "errors")
    with pytest.raises(exceptions.RollbackInterrupted, match="describe\\(\\) bug in a third-party plugin") as err:
        await r.finished()
    assert f"golive resume {r.run_id}" in err.value.message
    h = await r.view()
    assert h.state.status is RunStatus.ROLLING_BACK
    assert summary.verdict(h) == "ROLLING BACK"  # not "ROLLED BACK" while the plan has not finished
    page = dashboard.render_run(h, summary.summarize(h), dashboard.Perspective(True, frozenset({"ic"})))
    assert "Rolling back; nobody is waited for." in page
    assert "The run has ended" not in page
    assert f"golive resume {r.run_id}" in page  # the engine stopped mid-rollback: how to continue it
    assert h.state.rollback is not None
    assert "describe() bug" in h.state.rollback["interrupted"]["error"]
    types = [e.type for e in await r.events()]
    assert "rollback_interrupted" in types
    assert "run_finished" not in types
    (tmp_path / "bug").unlink()
    assert await resume(store, h).finished() is RunStatus.ROLLED_BACK
    h = await r.view()
    assert h.state.rollback is not None
    assert (h.state.rollback["outcome"], h.state.rollback["interrupted"]) == ("pass", None)
    assert (tmp_path / "rollback.log").read_text().split() == ["first", "last"]
    assert summary.verdict(h) == "ROLLED BACK"

"""Time-based safety with real processes: a decision's deadline is a fact even when no engine ran at it, and
unknown actions (of steps without a role) are listed and resolved in bulk by the IC."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from tests.acceptance import ownership_support as sup

WIDE = 30  # actions of one wide phase caught by one kill


def test_a_go_after_the_deadline_is_refused_although_no_engine_ran_and_resume_applies_the_default(
    tmp_path: Path,
) -> None:
    rb = tmp_path / "deadline.yaml"
    rb.write_text(
        "golive: 1\nname: deadline\nroles:\n  ic: {may: [decide]}\nphases:\n"
        "  - id: gate\n    steps:\n      - {id: go, kind: decision, role: ic, deadline: 2s, default: no-go, on_no_go: stop}\n"
        "  - id: work\n    steps:\n"
        '      - {id: enable, kind: action, type: command, with: {run: "echo enable >> effects.log"}}\n'
    )
    db = tmp_path / "golive.db"
    env = sup.env_for(str(db))
    obs = sup.Observer(str(db))
    rid = "deadline-fact"
    owner = sup.spawn("run", str(rb), "--run-id", rid, "--role", "ic=ian", "--no-prompt", "-q", env=env, cwd=tmp_path)
    try:
        sup.wait_until(lambda: any(e.type == "step_waiting" for e in obs.events(rid)), "the decision to open")
        owner.kill()  # SIGKILL: no engine is running when the deadline passes
        sup.finish(owner)
        opened = next(e for e in obs.events(rid) if e.type == "step_waiting")
        deadline = opened.data["deadline"]
        assert deadline  # recorded, absolute, in the event that opened the decision
        time.sleep(2.5)
        late = sup.golive("decide", rid, "go", "--as", "ian", "--reason", "late but green", env=env, cwd=tmp_path)
        assert late.returncode == 1, late.stderr
        assert f"passed at {deadline[11:19]}Z with no decision; its default NO-GO applies" in late.stderr
        resumed = sup.golive("resume", rid, "--no-prompt", "-q", env=env, cwd=tmp_path)
        assert resumed.returncode == 1, resumed.stderr
    finally:
        sup.reap(owner)
    types = [e.type for e in obs.events(rid)]
    assert "decision_recorded" not in types
    assert "decision_defaulted" in types
    assert obs.final_status(rid) == "no_go"
    assert not (tmp_path / "effects.log").exists()


def test_thirty_unknowns_are_listed_and_resolved_in_bulk_and_only_the_not_done_run_again(tmp_path: Path) -> None:
    """One kill in a wide phase leaves 30 actions unknown (15 took effect, 15 did not). `resolve --unknown`
    lists them all; one `resolve --outcomes FILE` by the IC (the steps have no role) records them; resume
    re-runs exactly the not-done ones."""
    lines = ["golive: 1", "name: wide", "settings:", f"  concurrency: {WIDE}", "roles:", "  ic: {may: [decide]}",
             "phases:", "  - id: wide", "    steps:"]  # fmt: skip
    for i in range(WIDE):
        sid = f"w{i:02d}"
        # Even steps take effect at once and then take their time; odd ones would take effect only at the end.
        # Once the file `fast` exists (for the re-run), nobody waits.
        wait = "test -f fast || sleep 30"
        run = f"echo {sid} >> effects.log; {wait}" if i % 2 == 0 else f"{wait}; echo {sid} >> effects.log"
        lines.append(f'      - {{id: {sid}, kind: action, type: command, with: {{run: "{run}"}}}}')
    rb = tmp_path / "wide.yaml"
    rb.write_text("\n".join(lines) + "\n")
    db = tmp_path / "golive.db"
    env = sup.env_for(str(db))
    obs = sup.Observer(str(db))
    rid = "wide-unknowns"
    owner = sup.spawn("run", str(rb), "--run-id", rid, "--role", "ic=ian", "--no-prompt", "-q", env=env, cwd=tmp_path)
    try:
        sup.wait_until(
            lambda: (
                sum(1 for e in obs.events(rid) if e.type == "action_started") == WIDE
                and len(sup.effects(tmp_path)) == WIDE // 2
            ),
            "every action to start",
        )
        for pid in [owner.pid, *sup.descendants(owner.pid)]:  # golive and the commands it started
            os.kill(pid, signal.SIGKILL)
        sup.finish(owner)
    finally:
        sup.reap(owner)
    (tmp_path / "fast").touch()  # the not-done ones run again (quickly now); the done ones must not
    resumer = sup.spawn("resume", rid, "--no-prompt", "-q", env=env, cwd=tmp_path)
    try:
        sup.wait_until(
            lambda: sum(1 for e in obs.events(rid) if e.type == "action_unknown") == WIDE, "the resume to see 30"
        )
        status = sup.golive("status", rid, env=env, cwd=tmp_path)
        assert "waiting: w01 (resolve) for ic=ian" in status.stdout, status.stdout
        listed = sup.golive("resolve", rid, "--unknown", "--json", env=env, cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        rows = json.loads(listed.stdout)
        assert [r["step"] for r in rows] == [f"w{i:02d}" for i in range(WIDE)]
        assert all(r["started_at"] and f":{owner.pid}:" in r["owner"] and r["epoch"] == 1 for r in rows)
        assert all("effects.log" in r["describe"] and r["resolvers"] == ["ic"] for r in rows)
        took_effect = sup.effects(tmp_path)
        outcomes = tmp_path / "outcomes.yaml"
        outcomes.write_text("".join(f"{r['step']}: {'done' if took_effect[r['step']] else 'not-done'}\n" for r in rows))
        done = sup.golive("resolve", rid, "--outcomes", str(outcomes), "--as", "ian", env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "resolved 30 unknown actions by ian: 15 done, 15 not-done" in done.stdout
        code, _, err = sup.finish(resumer)
        assert code == 0, err
    finally:
        sup.reap(resumer)
    assert sup.effects(tmp_path) == {f"w{i:02d}": 1 for i in range(WIDE)}
    resolved = [e for e in obs.events(rid) if e.type == "action_resolved"]
    assert len(resolved) == WIDE  # one event per step
    assert obs.final_status(rid) == "passed"

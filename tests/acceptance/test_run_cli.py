"""The run commands through the installed CLI, each in a subprocess: exit codes, acts from other terminals
(confirm, decide, waive, assign), status/timeline output, verify after tampering, dry-run and rehearsal with
`golive plan --compare`."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

RUNBOOKS = Path(__file__).resolve().parents[1] / "fixtures" / "runbooks"
GOLIVE = str(Path(sys.executable).with_name("golive"))
LIMIT = 60.0  # seconds any one command or wait may take before the test fails
ROLES = ["--role", "ic=alice", "--role", "dba=bob", "--role", "qa=quinn"]
TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = dict(os.environ)
    e["GOLIVE_DATABASE_URL"] = str(tmp_path / "store" / "golive.db")
    e.pop("GOLIVE_DEBUG", None)
    return e


def golive(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GOLIVE, *args], env=env, capture_output=True, text=True, timeout=LIMIT, check=False)


def spawn(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [GOLIVE, *args], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def events(env: dict[str, str], run_id: str) -> list[tuple[str, str | None, str | None, dict[str, Any]]]:
    """(type, step_id, actor, data) of the run's events, read from the SQLite file read-only."""
    path = Path(env["GOLIVE_DATABASE_URL"])
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
    try:
        rows = conn.execute(
            "SELECT type, step_id, actor, data FROM events WHERE run_id = ? ORDER BY seq", (run_id,)
        ).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()
    return [(r[0], r[1], r[2], json.loads(r[3])) for r in rows]


def wait_for(env: dict[str, str], run_id: str, proc: subprocess.Popen[str], type_: str, step: str) -> None:
    limit = time.monotonic() + LIMIT
    while time.monotonic() < limit:
        if any(t == type_ and s == step for t, s, _, _ in events(env, run_id)):
            return
        if proc.poll() is not None:
            raise AssertionError(f"golive exited {proc.returncode} before {type_} {step}: {proc.communicate()}")
        time.sleep(0.05)
    raise AssertionError(f"no {type_} for {step} within {LIMIT:g} s")


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=LIMIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"golive did not finish: {out} {err}") from None
    return proc.returncode, out, err


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate()


def gated(env: dict[str, str], tmp_path: Path, run_id: str, *extra: str) -> subprocess.Popen[str]:
    book = str(RUNBOOKS / "gated.yaml")
    return spawn(env, "run", book, "--no-prompt", "-q", "--run-id", run_id, "--var", f"dir={tmp_path}", *extra)


def status_json(env: dict[str, str], run_id: str) -> dict[str, Any]:
    res = golive(env, "status", run_id, "--json")
    assert res.returncode == 0, res.stderr
    data: dict[str, Any] = json.loads(res.stdout)
    return data


def step_of(data: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(s for ph in data["phases"] for s in ph["steps"] if s["id"] == step_id)


# --- exit codes ------------------------------------------------------------------------------------------


def test_a_passing_run_exits_0(env: dict[str, str]) -> None:
    """A run whose phases all pass exits 0 and reports PASSED."""
    res = golive(env, "run", str(RUNBOOKS / "serial.yaml"), "--no-prompt", "--run-id", "ok1")
    assert res.returncode == 0, res.stderr
    assert "PASSED" in res.stdout
    assert status_json(env, "ok1")["status"] == "passed"


@pytest.mark.parametrize(
    ("book", "edit", "status"),
    [
        ("failing.yaml", None, "no_go"),
        ("failing.yaml", ("on_failure: no-go", "on_failure: rollback"), "rolled_back"),
        ("timeout.yaml", None, "failed"),
    ],
)
def test_a_run_that_does_not_pass_exits_1(
    env: dict[str, str], tmp_path: Path, book: str, edit: tuple[str, str] | None, status: str
) -> None:
    """NO-GO, rolled back and failed runs all exit 1."""
    path = RUNBOOKS / book
    if edit is not None:
        path = tmp_path / book
        path.write_text((RUNBOOKS / book).read_text().replace(*edit))
    args = ["run", str(path), "--no-prompt", "-q", "--run-id", "r1"]
    if "dir:" in path.read_text():
        args += ["--var", f"dir={tmp_path}"]
    res = golive(env, *args)
    assert res.returncode == 1, res.stdout + res.stderr
    assert status_json(env, "r1")["status"] == status


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "{bad}"], "bad.yaml:3"),
        (["run", "{book}", "--var", "nope=1"], "declares no variable 'nope'"),
        (["run", "{book}", "--var", "novalue"], "write it as NAME=VALUE"),
        (["run", "{book}", "--role", "cto=x"], "declares no role 'cto'"),
        (["run", "{book}", "--role", "ic"], "write it as NAME=VALUE"),
        (["run", "{book}", "--mode", "yolo"], "yolo"),
        (["status", "no-such-run"], "no run 'no-such-run'"),
        (["resume", "no-such-run", "--no-prompt"], "no run 'no-such-run'"),
        (["confirm", "no-such-run", "s", "--as", "x"], "no run 'no-such-run'"),
        (["timeline", "no-such-run"], "no run 'no-such-run'"),
        (["run", "{serial}", "--run-id", "taken"], "a run with this id already exists"),
        (["verify", "no-such-run"], "no run 'no-such-run'"),
    ],
)
def test_invalid_input_exits_2_with_a_message_and_no_traceback(
    env: dict[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    """A bad runbook, a bad --var or --role, a bad mode and an unknown run id all exit 2 with one message."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("golive: 1\nname: bad\nphases: 3\n")
    if "taken" in args:
        golive(env, "run", str(RUNBOOKS / "serial.yaml"), "--no-prompt", "-q", "--run-id", "taken")
    if "no-such-run" in args:  # a store that exists but has no such run (no store at all is its own message)
        assert golive(env, "db", "upgrade").returncode == 0
    argv = [a.format(bad=bad, book=RUNBOOKS / "gated.yaml", serial=RUNBOOKS / "serial.yaml") for a in args]
    res = golive(env, *argv)
    assert res.returncode == 2, res.stdout + res.stderr
    assert message in res.stderr
    assert "Traceback" not in res.stderr


# --- people at other terminals ---------------------------------------------------------------------------


def test_a_cutover_through_the_cli_confirm_decide_timeline_verify(env: dict[str, str], tmp_path: Path) -> None:
    """`golive run` waits; carol's confirm is refused (exit 1); bob confirms with an input and evidence; bob's
    GO is refused (exit 1); alice's GO prints the rendered statement; the run exits 0; the timeline is in the
    scribe's format; verify passes."""
    evidence = tmp_path / "snapshot.txt"
    evidence.write_text("snapshot snap-42 created\n")
    proc = gated(env, tmp_path, "cut1", *ROLES)
    try:
        wait_for(env, "cut1", proc, "step_waiting", "snapshot")
        refused = golive(env, "confirm", "cut1", "snapshot", "--as", "carol", "--input", "snapshot_id=snap-1")
        assert refused.returncode == 1
        assert "confirm refused: carol does not hold role 'dba'" in refused.stderr
        ok = golive(env, "confirm", "cut1", "snapshot", "--as", "bob", "--input", "snapshot_id=snap-42",
                    "--evidence", str(evidence))  # fmt: skip
        assert ok.returncode == 0, ok.stderr
        assert "snapshot: PASS (confirmed by bob)" in ok.stdout
        wait_for(env, "cut1", proc, "step_finished", "canary_check")
        wait_for(env, "cut1", proc, "step_waiting", "go")
        not_ic = golive(env, "decide", "cut1", "go", "--as", "bob", "--reason", "fine")
        assert not_ic.returncode == 1
        assert "bob does not hold role 'ic'" in not_ic.stderr
        go = golive(env, "decide", "cut1", "go", "--as", "alice", "--reason", "canary clean")
        assert go.returncode == 0, go.stderr
        assert "GO for engine-gated v1.2.3: snapshot snap-42, IC alice" in go.stdout
        code, _, err = finish(proc)
        assert code == 0, err
    finally:
        stop(proc)
    timeline = golive(env, "timeline", "cut1")
    assert timeline.returncode == 0
    lines = timeline.stdout.splitlines()
    # The scribe's format: a header, then planned and actual T-time, what, result, UTC time, who.
    assert re.fullmatch(r"\s*planned\s+actual  what  result  at \(UTC\)  by", lines[0]), lines[0]
    assert any(re.fullmatch(rf"\s*T-60m\s+T-\d+m  Pre-flight start  \s*{TIMESTAMP}  golive", ln) for ln in lines)
    snapshot = rf"\s*T-\d+m\s+T-\d+m  Database snapshot taken: snapshot_id=snap-42  PASS  {TIMESTAMP}  bob"
    assert any(re.fullmatch(snapshot, ln) for ln in lines)
    assert any(re.fullmatch(rf"\s*T-\d+m\s+T-\d+m  GO/NO-GO  GO  {TIMESTAMP}  alice", ln) for ln in lines)
    assert any(re.fullmatch(rf"\s*T-0\s+T-\d+m  Enable end  PASS  {TIMESTAMP}  golive", ln) for ln in lines)
    data = status_json(env, "cut1")
    assert data["decision"]["statement"] == "GO for engine-gated v1.2.3: snapshot snap-42, IC alice"
    assert step_of(data, "snapshot")["evidence"][0]["name"] == "snapshot.txt"
    refusals = [(r["act"], r["by"]) for r in data["refusals"]]
    assert refusals == [("confirm", "carol"), ("decide go", "bob")]
    verify = golive(env, "verify", "cut1")
    assert verify.returncode == 0
    assert "chain valid" in verify.stdout


def test_go_after_a_failed_canary_is_refused_at_the_cli(env: dict[str, str], tmp_path: Path) -> None:
    """The IC's GO after a failed canary exits 1 saying why; NO-GO ends the run with exit 1."""
    proc = gated(env, tmp_path, "can1", *ROLES, "--var", "canary_exit=1")
    try:
        wait_for(env, "can1", proc, "step_waiting", "snapshot")
        golive(env, "confirm", "can1", "snapshot", "--as", "bob", "--input", "snapshot_id=snap-7")
        wait_for(env, "can1", proc, "step_finished", "canary_check")
        wait_for(env, "can1", proc, "step_waiting", "go")
        go = golive(env, "decide", "can1", "go", "--as", "alice", "--reason", "ship it")
        assert go.returncode == 1
        assert "GO requires every required step to pass: step 'canary_check' is FAIL" in go.stderr
        no_go = golive(env, "decide", "can1", "no-go", "--as", "alice", "--reason", "canary failed")
        assert no_go.returncode == 0
        code, _, _ = finish(proc)
        assert code == 1
    finally:
        stop(proc)
    assert status_json(env, "can1")["status"] == "no_go"
    assert not (tmp_path / "flip.log").exists()


def test_a_role_assigned_later_can_confirm(env: dict[str, str], tmp_path: Path) -> None:
    """Started without a dba, the manual step waits; `golive assign` makes bob the dba, then he confirms."""
    proc = gated(env, tmp_path, "as1", "--role", "ic=alice")
    try:
        wait_for(env, "as1", proc, "step_waiting", "snapshot")
        early = golive(env, "confirm", "as1", "snapshot", "--as", "bob", "--input", "snapshot_id=snap-1")
        assert early.returncode == 1
        assert "role 'dba' is not assigned" in early.stderr
        assigned = golive(env, "assign", "as1", "dba=bob", "--as", "alice")
        assert assigned.returncode == 0, assigned.stderr
        ok = golive(env, "confirm", "as1", "snapshot", "--as", "bob", "--input", "snapshot_id=snap-1")
        assert ok.returncode == 0, ok.stderr
    finally:
        stop(proc)
    data = status_json(env, "as1")
    assert data["roles"]["dba"]["holder"] == "bob"
    assert step_of(data, "snapshot")["actor"] == "bob"
    assigned_by = [(a, d) for t, _, a, d in events(env, "as1") if t == "role_assigned"]
    # The CLI wrote the act itself: recorded as a local act of the account that ran it.
    assert assigned_by[-1][0] == "alice"
    assert {k: assigned_by[-1][1][k] for k in ("role", "person", "auth")} == {
        "role": "dba",
        "person": "bob",
        "auth": "local",
    }


def test_a_waiver_shows_in_status_text_json_and_timeline(env: dict[str, str], tmp_path: Path) -> None:
    """bob may not waive (exit 1); quinn's waiver (ticket, reason) shows in `status`, `status --json` and the
    timeline."""
    proc = gated(env, tmp_path, "wv1", *ROLES)
    try:
        wait_for(env, "wv1", proc, "step_waiting", "snapshot")
        refused = golive(env, "waive", "wv1", "snapshot", "--as", "bob", "--ticket", "CHG-1", "--reason", "r")
        assert refused.returncode == 1
        assert "may waive" in refused.stderr
        ok = golive(env, "waive", "wv1", "snapshot", "--as", "quinn", "--ticket", "CHG-1234",
                    "--reason", "vendor snapshot")  # fmt: skip
        assert ok.returncode == 0, ok.stderr
        wait_for(env, "wv1", proc, "step_finished", "snapshot")
    finally:
        stop(proc)
    text = golive(env, "status", "wv1")
    assert text.returncode == 0
    assert "waiver: snapshot by quinn ticket CHG-1234: vendor snapshot" in " ".join(text.stdout.split())
    data = status_json(env, "wv1")
    assert data["waivers"][0]["ticket"] == "CHG-1234"
    assert data["waivers"][0]["by"] == "quinn"
    assert step_of(data, "snapshot")["outcome"] == "waived"
    timeline = golive(env, "timeline", "wv1").stdout
    assert re.search(rf"Waiver snapshot \(CHG-1234\): vendor snapshot  WAIVED  {TIMESTAMP}  quinn", timeline)


# --- tampering ---------------------------------------------------------------------------------------------


def test_editing_one_event_row_makes_verify_exit_1_naming_that_event(env: dict[str, str]) -> None:
    """Change the data of event 5 in the SQLite file (dropping the append-only trigger, as an attacker
    would): `golive verify` exits 1 and names seq 5; --json says the same."""
    assert golive(env, "run", str(RUNBOOKS / "serial.yaml"), "--no-prompt", "-q", "--run-id", "tp1").returncode == 0
    assert golive(env, "verify", "tp1").returncode == 0
    conn = sqlite3.connect(env["GOLIVE_DATABASE_URL"])
    try:
        conn.execute("DROP TRIGGER events_no_update")
        (data,) = conn.execute("SELECT data FROM events WHERE run_id = 'tp1' AND seq = 5").fetchone()
        edited = json.loads(data)
        edited["tampered"] = True
        conn.execute(
            "UPDATE events SET data = ? WHERE run_id = 'tp1' AND seq = 5", (json.dumps(edited, sort_keys=True),)
        )
        conn.commit()
    finally:
        conn.close()
    res = golive(env, "verify", "tp1")
    assert res.returncode == 1
    assert "BROKEN at event 5" in res.stdout
    as_json = json.loads(golive(env, "verify", "tp1", "--json").stdout)
    assert as_json["valid"] is False
    assert as_json["first_broken_seq"] == 5


# --- modes -------------------------------------------------------------------------------------------------


def test_a_dry_run_at_the_cli_does_not_do_the_action(env: dict[str, str], tmp_path: Path) -> None:
    """--mode dry-run exits 0; the action is skipped with what it would run; its marker file never appears."""
    res = golive(env, "run", str(RUNBOOKS / "modes.yaml"), "--mode", "dry-run", "--no-prompt", "-q",
                 "--run-id", "dry1", "--var", f"dir={tmp_path}")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert not (tmp_path / "marker.log").exists()
    data = status_json(env, "dry1")
    assert data["mode"] == "dry-run"
    marker = step_of(data, "write_marker")
    assert marker["outcome"] == "skipped"
    assert marker["summary"].startswith("dry-run: would run `echo done >> marker.log`")


def test_plan_compare_shows_plan_against_a_rehearsal(env: dict[str, str], tmp_path: Path) -> None:
    """After a rehearsal, `golive plan FILE --compare RUN` shows expected against actual per step, the late
    steps and both critical paths; --json has the same."""
    book = str(RUNBOOKS / "modes.yaml")
    res = golive(env, "run", book, "--mode", "rehearsal", "--no-prompt", "-q", "--run-id", "reh1",
                 "--var", f"dir={tmp_path}")  # fmt: skip
    assert res.returncode == 0, res.stderr
    text = golive(env, "plan", book, "--var", f"dir={tmp_path}", "--compare", "reh1")
    assert text.returncode == 0, text.stderr
    flat = " ".join(text.stdout.split())
    for column in ("step", "expected", "actual", "late by", "critical path"):
        assert column in flat
    assert "late steps: slow_check (+" in flat
    assert "critical path (plan, 7s): env_ok -> write_marker -> pause" in flat
    assert "critical path (actual," in flat
    data = json.loads(golive(env, "plan", book, "--var", f"dir={tmp_path}", "--compare", "reh1", "--json").stdout)
    assert data["mode"] == "rehearsal"
    assert data["late"] == ["slow_check"]
    slow = next(s for s in data["steps"] if s["id"] == "slow_check")
    assert slow["expected"] == 0.01
    assert slow["actual"] > slow["expected"]
    assert slow["late"] is True
    missing = golive(env, "plan", book, "--var", f"dir={tmp_path}", "--compare", "no-such-run")
    assert missing.returncode == 2


# --- rollback ----------------------------------------------------------------------------------------------


def test_a_rollback_asked_from_another_terminal_is_run_by_the_running_engine(
    env: dict[str, str], tmp_path: Path
) -> None:
    """bob may not start the rollback (exit 1); alice's request is picked up by the running engine, which
    runs the plan and exits 1 with the run ROLLED-BACK, started by alice."""
    proc = gated(env, tmp_path, "rb1", *ROLES)
    try:
        wait_for(env, "rb1", proc, "step_waiting", "snapshot")
        refused = golive(env, "rollback", "rb1", "--as", "bob", "--reason", "nervous")
        assert refused.returncode == 1
        assert "bob holds none of the roles that may start the rollback" in refused.stderr
        ok = golive(env, "rollback", "rb1", "--as", "alice", "--reason", "error rate 4%")
        assert ok.returncode == 0, ok.stderr
        assert "rollback started by the running engine" in ok.stdout
        code, _, _ = finish(proc)
        assert code == 1
    finally:
        stop(proc)
    data = status_json(env, "rb1")
    assert data["status"] == "rolled_back"
    assert data["rollback"]["by"] == "alice"
    assert "error rate 4%" in data["reason"]
    assert (tmp_path / "unflip.log").read_text() == "unflip\n"


def test_a_rollback_of_a_run_whose_process_died_runs_in_the_rollback_command(
    env: dict[str, str], tmp_path: Path
) -> None:
    """The run's process was killed (its lease is left behind): `golive rollback` runs the plan itself."""
    proc = gated(env, tmp_path, "rb2", *ROLES)
    try:
        wait_for(env, "rb2", proc, "step_waiting", "snapshot")
    finally:
        proc.kill()
        proc.communicate()
    res = golive(env, "rollback", "rb2", "--as", "alice", "--reason", "abandon")
    assert res.returncode == 0, res.stderr
    assert status_json(env, "rb2")["status"] == "rolled_back"
    assert (tmp_path / "unflip.log").read_text() == "unflip\n"


ALWAYS_FROZEN = """\
golive: 1
name: frozen
comms: {cadence: []}
roles:
  ic: {title: Incident Commander, may: [decide, waive]}
freeze:
  - id: every-day
    title: Frozen every day
    start: "2020-01-01T00:00:00Z"
    end: "2020-01-02T00:00:00Z"
    rrule: FREQ=DAILY
phases:
  - id: switch
    steps:
      - {id: flip, kind: action, type: command, with: {run: "true"}}
"""


def test_a_live_run_inside_a_freeze_is_refused_with_exit_1_and_runs_when_waived(
    env: dict[str, str], tmp_path: Path
) -> None:
    """The refusal names what blocks, until when, who may waive it and how; `--waive` by the IC proceeds."""
    rb = tmp_path / "frozen.yaml"
    rb.write_text(ALWAYS_FROZEN)
    refused = golive(env, "run", str(rb), "--role", "ic=alice", "--no-prompt")
    assert refused.returncode == 1, refused.stderr
    assert "refused at the start gate (1 block):" in refused.stderr
    assert "  freeze every-day (Frozen every day): in force since " in refused.stderr
    assert "--waive every-day --as NAME --ticket TICKET --reason TEXT" in refused.stderr
    assert "Traceback" not in refused.stderr
    bad = golive(env, "run", str(rb), "--role", "ic=alice", "--waive", "every-day", "--as", "alice")
    assert bad.returncode == 2
    assert "a waiver needs --ticket, --reason" in bad.stderr
    waived = golive(
        env, "run", str(rb), "--role", "ic=alice", "--no-prompt",
        "--waive", "every-day", "--as", "alice", "--ticket", "CHG-1", "--reason", "hotfix",
    )  # fmt: skip
    assert waived.returncode == 0, waived.stderr
    run_id = re.search(r"run (\S+) started", waived.stdout).group(1)  # type: ignore[union-attr]
    (w,) = [e for e in events(env, run_id) if e[0] == "gate_waived"]
    assert (w[2], w[3]["gate"], w[3]["ticket"], w[3]["role"]) == ("alice", "every-day", "CHG-1", "ic")


def test_plan_shows_the_start_gate_and_validate_refuses_a_bad_rrule_with_exit_2(
    env: dict[str, str], tmp_path: Path
) -> None:
    rb = tmp_path / "frozen.yaml"
    rb.write_text(ALWAYS_FROZEN)
    plan = golive(env, "plan", str(rb), "--json")
    assert plan.returncode == 0, plan.stderr
    sched = json.loads(plan.stdout)["schedule"]
    assert [b["gate"] for b in sched["blocks_now"]] == ["every-day"]
    assert sched["next_allowed"] is None
    assert sched["next_allowed_text"] == "none within the window (or the coming year)"
    text = golive(env, "plan", str(rb))
    assert "next allowed start: none within the window (or the coming year)" in text.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(ALWAYS_FROZEN.replace("FREQ=DAILY", "FREQ=DAYLY"))
    res = golive(env, "validate", str(bad))
    assert res.returncode == 2
    line = ALWAYS_FROZEN.splitlines().index("    rrule: FREQ=DAILY") + 1
    assert f"bad.yaml:{line}:" in res.stdout + res.stderr
    assert "freeze[0].rrule: bad RRULE 'FREQ=DAYLY'" in res.stdout + res.stderr
    assert "Traceback" not in res.stderr

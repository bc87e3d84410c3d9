"""`golive demo` and `scripts/demo` as a newcomer runs them: the CLI in a subprocess, every run on its own store
(--db) and directory (--dir), and everything the demo prints checked against what is really there.

Scenarios: the default (a complete cutover, in this checkout and in a fresh clone of the committed HEAD),
``--fault observe`` (a trigger fires, the rollback restores the flags) and ``--fault canary`` (GO refused,
NO-GO by the demo IC). Each demo's wall time is printed, never asserted (BENCHMARKS.md, "Demo").
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOLIVE = str(Path(sys.executable).with_name("golive"))
DEMO_IC = "demo-ic (automated)"
SAFE_FLAGS = {"automation_enabled": False, "safe_mode": True, "outbound_enabled": False}
DEMO_LIMIT = 300.0  # seconds one `golive demo` may take before the test fails (it takes about a minute)
CLONE_LIMIT = 1800.0  # seconds for scripts/demo in a fresh clone: a new .venv and pip install come first
CLI_LIMIT = 60.0  # seconds for a follow-up command (status, flags, verify)
HAVE_RUNPACK = importlib.util.find_spec("golive.evidence.runpack") is not None
HAVE_HTML = importlib.util.find_spec("golive.report.html") is not None
RUNPACK_MISSING = "golive.evidence.runpack is not in this build yet, so the demo writes no evidence pack"


@dataclass
class Demo:
    """One finished demo: how it exited, what it printed, where its store and files are."""

    returncode: int
    out: str
    db: Path
    workdir: Path
    seconds: float

    def printed(self, label: str) -> str | None:
        """The value of a `label: value` line of the final summary (values never wrap)."""
        m = re.search(rf"^{re.escape(label)}:\s+(.+?)\s*$", self.out, re.MULTILINE)
        return m.group(1) if m else None

    @property
    def run_id(self) -> str:
        m = re.search(r"^status:\s+golive status (\S+)", self.out, re.MULTILINE)
        assert m, f"the demo printed no `golive status RUN` line:\n{self.out}"
        return m.group(1)

    @property
    def pack(self) -> Path | None:
        value = self.printed("evidence pack")
        return None if value is None or value.startswith("not in this build") else Path(value)


def clean_env() -> dict[str, str]:
    """The environment without anything that would change what a newcomer sees (colour, a shared store)."""
    env = dict(os.environ)
    for key in ("GOLIVE_DATABASE_URL", "GOLIVE_DEBUG", "FORCE_COLOR", "PIP_NO_CACHE_DIR"):
        env.pop(key, None)
    env["NO_COLOR"] = "1"
    return env


def run_demo(argv: list[str], db: Path, workdir: Path, *, cwd: Path, env: dict[str, str], limit: float) -> Demo:
    started = time.monotonic()
    res = subprocess.run(
        [*argv, "--db", str(db), "--dir", str(workdir)],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=limit,
        check=False,
    )
    seconds = time.monotonic() - started
    return Demo(res.returncode, res.stdout + res.stderr, db, workdir, seconds)


def golive(*args: str, env: dict[str, str] | None = None, exe: str = GOLIVE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [exe, *args], env=env or clean_env(), capture_output=True, text=True, timeout=CLI_LIMIT, check=False
    )


def status_json(demo: Demo) -> dict[str, Any]:
    res = golive("status", demo.run_id, "--json", "--db", str(demo.db))
    assert res.returncode == 0, res.stderr
    data: dict[str, Any] = json.loads(res.stdout)
    return data


def step_of(data: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(s for ph in data["phases"] for s in ph["steps"] if s["id"] == step_id)


def say(request: pytest.FixtureRequest, text: str) -> None:
    """Print a figure on the terminal, past pytest's capture."""
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is None:
        print(text)
        return
    with capture.global_and_fixture_disabled():
        print(f"\n{text}")


def demo_in_checkout(request: pytest.FixtureRequest, tmp: Path, *args: str) -> Demo:
    demo = run_demo(
        [GOLIVE, "demo", *args], tmp / "golive.db", tmp / "demo", cwd=tmp, env=clean_env(), limit=DEMO_LIMIT
    )
    say(request, f"golive demo {' '.join(args) or '(no fault)'}: exit {demo.returncode} in {demo.seconds:.1f} s")
    return demo


# --- the default scenario ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def passing(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return demo_in_checkout(request, tmp_path_factory.mktemp("demo-none"))


def test_demo_exits_0_with_a_complete_cutover(passing: Demo) -> None:
    """`golive demo` exits 0: every phase passed, hypercare's report passed and the run is COMPLETE."""
    assert passing.returncode == 0, passing.out
    assert "scenario 'none': COMPLETE" in passing.out
    data = status_json(passing)
    assert data["status"] == "passed"
    assert data["status_label"] == "COMPLETE"
    assert data["decision"]["decision"] == "go"
    assert data["decision"]["by"] == DEMO_IC
    assert all(r["status"] == "pass" for r in data["reports"].values()), data["reports"]


def test_demo_ic_is_labelled_as_automated_in_the_record(passing: Demo) -> None:
    """Every role of the demo is held by a stand-in whose name says it is automated."""
    roles = status_json(passing)["roles"]
    assert roles["ic"]["holder"] == DEMO_IC
    assert all(r["holder"].endswith("(automated)") for r in roles.values())


def test_demo_prints_paths_that_exist(passing: Demo) -> None:
    """The report paths the demo prints are real files about this run."""
    md = passing.printed("report (Markdown)")
    assert md is not None, passing.out
    assert passing.run_id in Path(md).read_text(encoding="utf-8")
    html = passing.printed("report (HTML)")
    if HAVE_HTML:
        assert html is not None, passing.out
        assert Path(html).stat().st_size > 0
    assert (passing.workdir / "hypercare" / "control_report.md").is_file()


def test_demo_prints_follow_up_commands_that_work(passing: Demo) -> None:
    """The status and timeline commands the demo prints run as printed and exit 0."""
    for label in ("status", "timeline"):
        line = passing.printed(label)
        assert line is not None, passing.out
        assert line.startswith("golive "), line
        res = golive(*line.split()[1:])
        assert res.returncode == 0, res.stdout + res.stderr
        assert res.stdout.strip()


def test_demo_run_chain_verifies(passing: Demo) -> None:
    """The demo's event log is an intact hash chain (`golive verify`)."""
    res = golive("verify", passing.run_id, "--db", str(passing.db))
    assert res.returncode == 0, res.stdout + res.stderr


def test_demo_evidence_pack_verifies(passing: Demo) -> None:
    """The evidence pack the demo prints verifies with `golive evidence verify` (valid=true, exit 0)."""
    if not HAVE_RUNPACK:
        pytest.skip(RUNPACK_MISSING)
    assert passing.pack is not None, passing.out
    res = golive("evidence", "verify", str(passing.pack), "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(res.stdout)["valid"] is True


# --- --fault observe -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def observe(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return demo_in_checkout(request, tmp_path_factory.mktemp("demo-observe"), "--fault", "observe")


def test_fault_observe_ends_rolled_back_and_exits_0(observe: Demo) -> None:
    """With --fault observe the run ends ROLLED-BACK, started by the order_errors trigger; exit 0 says the
    scenario behaved as it should."""
    assert observe.returncode == 0, observe.out
    assert "scenario 'observe': ROLLED-BACK" in observe.out
    data = status_json(observe)
    assert data["status"] == "rolled_back"
    assert data["rollback"]["source"] == "trigger"
    assert data["rollback"]["by"] == "trigger:order_errors"
    assert data["rollback"]["outcome"] == "pass"
    assert [f["trigger"] for f in data["fired"] if f["then"] == "rollback"] == ["order_errors"]


def test_fault_observe_leaves_the_flags_file_at_the_safe_values(observe: Demo) -> None:
    """After the rollback the flags file holds automation_enabled=false, safe_mode=true, outbound_enabled=false."""
    flags = json.loads((observe.workdir / "demo-flags.json").read_text(encoding="utf-8"))
    assert {k: flags[k] for k in SAFE_FLAGS} == SAFE_FLAGS
    assert "flags now: automation_enabled=False, safe_mode=True, outbound_enabled=False" in observe.out


def test_fault_observe_status_shows_the_flags_restored_and_confirmed(observe: Demo) -> None:
    """`golive status --json` shows the safe values restored first (read back) and the confirm check seeing them
    as the service does; `golive flags` reads them back through the flag provider."""
    data = status_json(observe)
    steps = {s["id"]: s for s in data["rollback_steps"]}
    assert data["rollback_steps"][0]["id"] == "restore_safe_flags"
    restore = steps["restore_safe_flags"]
    assert restore["outcome"] == "pass"
    assert restore["summary"] == "set automation_enabled=false, safe_mode=true, outbound_enabled=false (read back)"
    confirm = steps["automation_stopped"]
    assert confirm["outcome"] == "pass"
    assert confirm["output"]["json"] == SAFE_FLAGS
    res = golive("flags", observe.run_id, "--json", "--db", str(observe.db))
    assert res.returncode == 0, res.stdout + res.stderr
    shown = {f["flag"]: (f["current"], f["state"]) for f in json.loads(res.stdout)["flags"]}
    assert shown == {k: (v, "safe") for k, v in SAFE_FLAGS.items()}


# --- --fault canary ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def canary(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return demo_in_checkout(request, tmp_path_factory.mktemp("demo-canary"), "--fault", "canary")


def test_fault_canary_ends_no_go_and_exits_0(canary: Demo) -> None:
    """With --fault canary the canary fails and the run ends NO-GO; exit 0 says the scenario behaved."""
    assert canary.returncode == 0, canary.out
    assert "scenario 'canary': NO-GO" in canary.out
    data = status_json(canary)
    assert data["status"] == "no_go"
    assert step_of(data, "canary_order")["outcome"] == "fail"


def test_fault_canary_go_was_refused(canary: Demo) -> None:
    """The demo IC tried GO and was refused because the canary failed; the refusal is in the record."""
    refusals = status_json(canary)["refusals"]
    assert [(r["act"], r["step"], r["by"]) for r in refusals] == [("decide go", "go_no_go", DEMO_IC)]
    assert "canary" in refusals[0]["why"]
    assert "refused, as the rules say" in canary.out


def test_fault_canary_records_no_go_by_the_demo_ic(canary: Demo) -> None:
    """The decision recorded is NO-GO by the demo IC (not a default), and nothing after it ran."""
    data = status_json(canary)
    decision = data["decision"]
    assert (decision["decision"], decision["by"], decision["default"]) == ("no-go", DEMO_IC, False)
    # A step after a NO-GO is recorded "not run" (issue 17), never run: the flags are still at the safe values.
    automation_on = step_of(data, "automation_on")
    assert automation_on["outcome"] == "not-run", automation_on
    flags = json.loads((canary.workdir / "demo-flags.json").read_text(encoding="utf-8"))
    assert {k: flags[k] for k in SAFE_FLAGS} == SAFE_FLAGS


# --- the exit status is not a rubber stamp; --prometheus ------------------------------------------------------


def test_demo_exits_1_when_the_scenario_does_not_end_as_it_should(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A default demo whose canary cannot pass (a runbook expecting another status) ends NO-GO, and the demo
    says the scenario should have ended COMPLETE and exits 1."""
    book = tmp_path / "strict-canary.yaml"
    text = (ROOT / "examples" / "demo-cutover.yaml").read_text(encoding="utf-8")
    marker = 'expect: {status: 200, json: {"$.ok": true, "$.ledger": settled}}'
    assert marker in text
    book.write_text(text.replace(marker, 'expect: {status: 201, json: {"$.ok": true, "$.ledger": settled}}'))
    demo = demo_in_checkout(request, tmp_path, "--runbook", str(book))
    assert demo.returncode == 1, demo.out
    assert "scenario 'none': NO-GO, but it should end COMPLETE" in demo.out
    assert status_json(demo)["status"] == "no_go"


@pytest.mark.prometheus
def test_demo_with_prometheus_rolls_back_on_promql_triggers(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """`golive demo --prometheus --fault observe` runs the Prometheus runbook (its pre-flight sees Prometheus
    scraping the service), the PromQL trigger fires and the run ends ROLLED-BACK with the flags safe."""
    if shutil.which("prometheus") is None:
        pytest.skip("the prometheus binary is not installed (scripts/setup installs it)")
    demo = demo_in_checkout(request, tmp_path, "--prometheus", "--fault", "observe")
    assert demo.returncode == 0, demo.out
    assert "triggers read Prometheus" in demo.out
    data = status_json(demo)
    assert data["runbook"] == "demo-cutover-prometheus"
    assert step_of(data, "prometheus_scraping")["outcome"] == "pass"
    assert data["status"] == "rolled_back"
    assert data["rollback"]["by"] == "trigger:order_errors"
    flags = json.loads((demo.workdir / "demo-flags.json").read_text(encoding="utf-8"))
    assert {k: flags[k] for k in SAFE_FLAGS} == SAFE_FLAGS
    assert (demo.workdir / "prometheus.log").stat().st_size > 0


def test_demo_prometheus_on_without_the_binary_exits_2(tmp_path: Path) -> None:
    """`--prometheus` (on) where no prometheus is on PATH is a usage error (exit 2) naming the fix; no run."""
    env = clean_env()
    env["PATH"] = str(Path(GOLIVE).parent)  # golive itself, and nothing else
    demo = run_demo(
        [GOLIVE, "demo", "--prometheus"], tmp_path / "g.db", tmp_path / "d", cwd=tmp_path, env=env, limit=CLI_LIMIT
    )
    assert demo.returncode == 2, demo.out
    assert "prometheus binary is not on PATH" in demo.out
    assert "Traceback" not in demo.out
    assert not (tmp_path / "d").exists()


# --- scripts/demo in a fresh clone -----------------------------------------------------------------------------


def fresh_clone_env() -> dict[str, str]:
    """No apt (GOLIVE_SYSTEM_PACKAGES=""), no venv of this checkout on PATH; pip's own cache is kept, so the
    clone's `pip install` reuses wheels already downloaded."""
    env = clean_env()
    env["GOLIVE_SYSTEM_PACKAGES"] = ""
    env.pop("VIRTUAL_ENV", None)
    ours = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p != ours)
    return env


@pytest.fixture(scope="module")
def fresh_clone(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Demo]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    tmp = tmp_path_factory.mktemp("fresh-clone")
    clone = tmp / "golive"
    res = subprocess.run(
        ["git", "clone", "--quiet", str(ROOT), str(clone)], capture_output=True, text=True, timeout=120, check=False
    )
    assert res.returncode == 0, res.stderr
    assert not (clone / ".venv").exists()
    demo = run_demo(
        [str(clone / "scripts" / "demo")],
        tmp / "golive.db",
        tmp / "demo",
        cwd=tmp,
        env=fresh_clone_env(),
        limit=CLONE_LIMIT,
    )
    say(request, f"scripts/demo in a fresh clone (setup + demo): exit {demo.returncode} in {demo.seconds:.1f} s")
    return clone, demo


@pytest.mark.slow
def test_scripts_demo_in_a_fresh_clone_exits_0_with_a_report(fresh_clone: tuple[Path, Demo]) -> None:
    """`scripts/demo` in a fresh clone of the committed HEAD makes its .venv, runs the demo, exits 0 and
    prints the path of a report that exists."""
    clone, demo = fresh_clone
    assert demo.returncode == 0, demo.out
    assert (clone / ".venv" / "bin" / "golive").exists()
    assert "setup: installing system packages" not in demo.out
    md = demo.printed("report (Markdown)")
    assert md is not None, demo.out
    assert demo.run_id in Path(md).read_text(encoding="utf-8")


@pytest.mark.slow
def test_scripts_demo_in_a_fresh_clone_packs_evidence_that_verifies(fresh_clone: tuple[Path, Demo]) -> None:
    """The evidence pack printed by the fresh clone's demo verifies (`golive evidence verify PACK`: exit 0,
    valid=true). Skipped only while the clone's build has no golive.evidence.runpack."""
    clone, demo = fresh_clone
    python = str(clone / ".venv" / "bin" / "python")
    probe = subprocess.run(
        [python, "-c", "import importlib.util as u; print(u.find_spec('golive.evidence.runpack') is not None)"],
        capture_output=True,
        text=True,
        timeout=CLI_LIMIT,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    if probe.stdout.strip() != "True":
        pytest.skip(RUNPACK_MISSING + " (in the committed HEAD)")
    assert demo.pack is not None, demo.out
    res = golive("evidence", "verify", str(demo.pack), "--json", exe=str(clone / ".venv" / "bin" / "golive"))
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(res.stdout)["valid"] is True

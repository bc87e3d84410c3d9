"""`golive test`: every example's scenarios play against their stubs under the fake clock and come out as
they expect; a scenario expecting the wrong outcome fails with a diff naming the first differing step."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from golive import exceptions
from golive.cli import main
from golive.engine import scenario

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SCENARIOS = sorted((EXAMPLES / "scenarios").glob("*/*.yaml"))


def _golive(*args: str) -> int:
    """The CLI in this process: its exit code."""
    try:
        return main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)


def _runbook(path: Path) -> Path:
    return EXAMPLES / f"{path.parent.name}.yaml"


@pytest.mark.parametrize("path", SCENARIOS, ids=[f"{p.parent.name}/{p.stem}" for p in SCENARIOS])
def test_example_scenario_comes_out_as_it_expects(path: Path) -> None:
    """Each example scenario, played headless against its stubs, ends as it expects (outcome, steps, flags,
    comms, evidence) with no call left unstubbed."""
    res = scenario.run_one(_runbook(path), scenario.load_scenario(path), None, {})
    assert res.passed, res.report()
    assert res.actual is not None
    assert not res.actual.unstubbed


def _kind(expect: scenario.Expect) -> str | None:
    """go: the run passes; no-go: it does not go live because a check, the canary or a person said no (a step
    expected to fail or a NO-GO; ends NO-GO or rolled back by the runbook, not by a trigger); trigger: a
    trigger rolls it back."""
    if expect.outcome == "passed":
        return "go"
    if expect.outcome == "rolled_back" and (expect.rollback_by or "").startswith("trigger:"):
        return "trigger"
    if expect.outcome in ("no_go", "rolled_back") and set(expect.steps.values()) & {"fail", "no-go"}:
        return "no-go"
    return None


def test_every_example_has_go_no_go_and_trigger_rollback_scenarios() -> None:
    """Scenarios ship for every example runbook: at least 15 in all, and for each runbook one ending GO, one
    that does not go live after a failed check, canary or a NO-GO, and one a trigger rolls back."""
    assert len(SCENARIOS) >= 15
    by_runbook: dict[str, set[str | None]] = {p.stem: set() for p in EXAMPLES.glob("*.yaml")}
    for p in SCENARIOS:
        assert _runbook(p).is_file(), p
        by_runbook[p.parent.name].add(_kind(scenario.load_scenario(p).scenario.expect))
    missing = {name: sorted({"go", "no-go", "trigger"} - kinds) for name, kinds in by_runbook.items()}
    assert not {name: kinds for name, kinds in missing.items() if kinds}, missing


def test_wrong_expectation_fails_naming_the_first_differing_step(tmp_path: Path) -> None:
    """A scenario that expects the canary deposit to fail (it passes) fails; the diff names that step first,
    and the JUnit file carries the failure."""
    src = EXAMPLES / "scenarios" / "payments-go-live" / "go.yaml"
    text = src.read_text().replace("    webhook-watch: pass\n", "    webhook-watch: pass\n    canary-deposit: fail\n")
    text = text.replace("    observe-first-2h: pass\n", "    observe-first-2h: fail\n")
    text = text.replace("../../stubs/", str(EXAMPLES / "stubs") + "/")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(text)
    junit = tmp_path / "junit.xml"
    assert (
        _golive("test", str(EXAMPLES / "payments-go-live.yaml"), "--scenario", str(wrong), "--junit", str(junit)) == 1
    )
    res = scenario.run_one(EXAMPLES / "payments-go-live.yaml", scenario.load_scenario(wrong), None, {})
    assert not res.passed
    report = res.report()
    assert "first differing step: canary-deposit" in report
    assert "step canary-deposit: expected fail, got pass" in report
    assert "step observe-first-2h: expected fail, got pass" in report
    case = ET.parse(junit).getroot().find("testsuite/testcase")
    assert case is not None
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == "first differing step: canary-deposit"


def test_bad_scenario_is_refused_with_file_line_field_and_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A misspelt field and an act with two things to do: exit 2, each named with its file and line."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "scenario: 1\nname: bad\nstubs: x.yaml\npeople:\n  acts:\n    - {step: a, decide: go, fail: broken}\n"
        "expect:\n  outcom: passed\n"
    )
    assert _golive("test", str(EXAMPLES / "payments-go-live.yaml"), "--scenario", str(bad)) == 2
    err = capsys.readouterr().err
    assert f"{bad}:6: people.acts.0: give exactly one of confirm, fail, decide" in err
    assert f"{bad}:8: expect.outcom: Extra inputs are not permitted (remove it" in err
    assert f"{bad}:8: expect.outcome: Field required (add it)" in err


def test_bad_fault_is_refused_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "scenario: 1\nname: bad\nfaults:\n  http:\n    - url: x\n      respond: {status: 700}\nexpect: {outcome: passed}\n"
    )
    with pytest.raises(exceptions.UsageError) as exc:
        scenario.load_scenario(bad)
    assert f"{bad}:6: faults.http.0.respond.status: Input should be less than or equal to 599" in exc.value.message


def test_without_a_scenario_lists_what_is_not_stubbed_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    """`golive test RUNBOOK` plays the happy path only when every outside call is stubbed: the payments
    example's webhook watch reads a local log no stub gives, so it fails naming that step, and plays nothing."""
    assert _golive("test", str(EXAMPLES / "payments-go-live.yaml"), "--var", "previous_release_tag=v1.4.2") == 1
    out = capsys.readouterr().out
    assert "not every outside call is stubbed" in out
    assert "step webhook-watch (log): reads the local file /var/log/payments/api.log" in out
    assert "PASS" not in out


def test_supply_chain_env_checks_source_the_env_file_from_the_run_directory(tmp_path: Path) -> None:
    """The supply-chain example's env checks, run by sh as shipped (prod_env_file: .env.prod), read the file
    in the run's directory: sh's `.` searches PATH for a bare name, so `. .env.prod` found nothing."""
    import os
    import subprocess

    from golive.spec import loader

    loaded = loader.load(EXAMPLES / "supply-chain-prod-cutover.yaml")
    (tmp_path / ".env.prod").write_text(
        "APP_ENV=prod\nSTORAGE_DIR=storage\nAUTH_ENABLED=true\nRATE_LIMIT_ENABLED=true\nRATE_LIMIT_REQUESTS=300\n"
        "RATE_LIMIT_WINDOW_SECONDS=60\nBASE_URL=https://api.example.com\nCORS_ALLOW_ORIGINS=https://ops.example.com\n"
        "DATABASE_URL=postgresql+psycopg://u:p@db:5432/supply_intel\n"
    )
    for step_id in ("env-app-settings", "env-urls"):
        step = loaded.runbook.step(step_id)
        assert step is not None
        env = {
            "PATH": os.environ["PATH"],
            "ENV_FILE": str(loaded.vars["prod_env_file"]),
            "WANT_BASE_URL": "https://api.example.com",
            "WANT_ORIGIN": "https://ops.example.com",
        }
        done = subprocess.run(step.with_["run"], cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, (step_id, done.stderr)


JUDGE_RUNBOOK = """\
golive: 1
name: judged-canary
roles:
  ic: {may: [decide, rollback]}
vars:
  prometheus: {default: "http://127.0.0.1:9090"}
comms: {cadence: []}
phases:
  - id: canary
    on_failure: decide
    steps:
      - id: judge-canary
        kind: check
        type: judge
        with:
          window: 30m
          step: 1m
          metrics:
            - id: p99
              critical: true
              source: {type: prometheus, with: {url: "${{ vars.prometheus }}", query: 'p99{track="canary"}'}}
              baseline:
                source: {type: prometheus, with: {url: "${{ vars.prometheus }}", query: 'p99{track="stable"}'}}
  - id: go-live
    steps:
      - {id: go, kind: decision, role: ic, requires: [judge-canary], on_no_go: stop}
"""

JUDGE_SCENARIO = """\
scenario: 1
name: judged canary
roles: {{ic: ines}}
faults:
  metrics:
    - query: 'p99{{track="stable"}}'
      series: [{{value: 0.30, noise: 0.02}}]
    - query: 'p99{{track="canary"}}'
      series: [{{value: {canary}, noise: 0.02}}]
people:
  acts:
    - {{step: go, decide: {decision}}}
expect:
  outcome: {outcome}
  steps: {{judge-canary: {judged}, go: {decision}}}
"""


@pytest.mark.parametrize(
    ("canary", "judged", "decision", "outcome"),
    [(0.30, "pass", "go", "passed"), (0.45, "fail", "no-go", "no_go")],
    ids=["same-as-stable", "p99-regressed"],
)
def test_stubbed_series_feed_a_judge(tmp_path: Path, canary: float, judged: str, decision: str, outcome: str) -> None:
    """A metric stub answers a range query with one point per step over the window (with seeded noise), so a
    judge in a scenario compares real samples: a canary like the stable fleet passes, a 50% slower p99
    fails the judgement (and GO is then refused, so the IC's NO-GO ends the run)."""
    runbook = tmp_path / "judged.yaml"
    runbook.write_text(JUDGE_RUNBOOK)
    sc = tmp_path / "scenario.yaml"
    sc.write_text(JUDGE_SCENARIO.format(canary=canary, judged=judged, decision=decision, outcome=outcome))
    res = scenario.run_one(runbook, scenario.load_scenario(sc), None, {})
    assert res.passed, res.report()


def test_dns_stubs_are_judged_as_a_resolver_answer_is() -> None:
    """A `dns` check in a stubbed rehearsal asks the stubs: the expected address passes, NXDOMAIN fails, a
    SERVFAIL is an error, and a name no stub answers is an error listed as unstubbed (never a pass)."""
    import asyncio

    from golive.plugins import stubs
    from golive.plugins.checks.net import DnsCheck, DnsParams
    from golive.results import Outcome
    from golive.testing import make_ctx

    doc = stubs.StubsFile.model_validate(
        {
            "stubs": 1,
            "dns": [
                {"name": "ok.example.com", "answer": {"answers": ["10.0.0.5"]}},
                {"name": "gone.example.com", "answer": {"rcode": "NXDOMAIN"}},
                {"name": "broken.example.com", "server": "9.9.9.9", "answer": {"rcode": "SERVFAIL"}},
            ],
        }
    )
    transport = stubs.StubTransport(doc)

    async def check(**params: object) -> Outcome:
        with stubs.activate(transport):
            return (await DnsCheck().run(make_ctx(DnsParams.model_validate(params)))).outcome

    assert asyncio.run(check(name="ok.example.com", answers=["10.0.0.5"])) is Outcome.PASS
    assert asyncio.run(check(name="ok.example.com", answers=["10.0.0.6"])) is Outcome.FAIL
    assert asyncio.run(check(name="gone.example.com")) is Outcome.FAIL
    assert asyncio.run(check(name="broken.example.com", resolvers={"quad9": "9.9.9.9"})) is Outcome.ERROR
    assert asyncio.run(check(name="unknown.example.com")) is Outcome.ERROR
    assert transport.unstubbed == ["DNS A unknown.example.com at system"]


FILE_FLAGS_RUNBOOK = """golive: 1
name: ff
roles:
  ic: {may: [decide, rollback]}
flags:
  provider: {type: json, with: {path: "FLAGS_FILE"}}
  safe: {checkout.v2: false}
phases:
  - id: p
    steps:
      - {id: flip, kind: action, type: flag, with: {flags: {checkout.v2: true}}}
"""


@pytest.mark.parametrize("stubs_flags", [False, True])
def test_a_file_flag_provider_is_never_flipped_for_real_without_flags_stubs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stubs_flags: bool
) -> None:
    """The flag step once PASSed by writing the runbook's real flag file (no stub met): without `flags:` in
    the stubs it is listed as not stubbed and nothing runs; with them the stubs' in-memory store is flipped."""
    real = tmp_path / "real-flags.json"
    real.write_text('{"checkout.v2": false}')
    (tmp_path / "ff.yaml").write_text(FILE_FLAGS_RUNBOOK.replace("FLAGS_FILE", str(real)))
    (tmp_path / "stubs.yaml").write_text("stubs: 1\n" + ("flags: {checkout.v2: false}\n" if stubs_flags else ""))
    args = ["test", str(tmp_path / "ff.yaml"), "--stubs", str(tmp_path / "stubs.yaml")]
    code = _golive(*args)
    out = capsys.readouterr().out
    assert real.read_text() == '{"checkout.v2": false}'
    if stubs_flags:
        assert code == 0, out
    else:
        assert code == 1
        assert "not every outside call is stubbed" in out
        assert "flags (json)" in out


def test_without_a_scenario_plays_the_happy_path_when_everything_is_stubbed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`golive test RUNBOOK` with its stubs beside it (stubs/<runbook>) and nothing else: automatic people
    hold every role, confirm and say GO, and every step that ran passed against a stub (the backup file the
    stubbed command writes counts as given)."""
    assert _golive("test", str(EXAMPLES / "demo-cutover.yaml")) == 0
    out = capsys.readouterr().out
    assert "PASS happy path" in out
    assert "1 passed, 0 failed" in out


def test_env_checks_read_the_scenario_environment_never_the_real_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The order-status preflight's `env` checks see the stubs' `env:` with the scenario's `env:` laid over
    it: the real process environment (here the opposite values) is never read."""
    monkeypatch.setenv("RICHPANEL_READ_ONLY", "false")  # the real shell is wrong; the stubs say "true"
    monkeypatch.setenv("MW_ENV", "staging")
    runbook = EXAMPLES / "order-status-preflight-and-monitoring.yaml"
    go = EXAMPLES / "scenarios" / "order-status-preflight-and-monitoring" / "go.yaml"
    res = scenario.run_one(runbook, scenario.load_scenario(go), None, {})
    assert res.passed, res.report()
    assert res.actual is not None
    assert res.actual.steps["env-richpanel-read-only"] == "pass"
    # The scenario's env: wins over the stubs', for that variable only.
    monkeypatch.setenv("RICHPANEL_READ_ONLY", "true")
    text = go.read_text().replace("../../stubs/", str(EXAMPLES / "stubs") + "/")
    over = tmp_path / "over.yaml"
    over.write_text(text.replace("roles:", 'env: {RICHPANEL_READ_ONLY: "false"}\nroles:', 1))
    res = scenario.run_one(runbook, scenario.load_scenario(over), None, {})
    assert res.actual is not None
    assert res.actual.steps["env-richpanel-read-only"] == "fail"
    assert res.actual.steps["env-mw-env"] == "pass"
    assert res.actual.outcome == "no_go"


def test_env_check_without_env_stubs_fails_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stubs with no `env:` at all: `golive test` lists each `env` check with the fix and plays nothing, and
    a stubbed run that meets one anyway errors it as unstubbed even though the real process has the variable
    with the right value."""
    import asyncio

    from golive.spec import loader

    monkeypatch.setenv("AWS_PROFILE", "rp-admin-prod")
    stubs_text = (EXAMPLES / "stubs" / "order-status-preflight-and-monitoring.yaml").read_text()
    head, _, rest = stubs_text.partition("# What the `env` checks see")
    stubs = tmp_path / "stubs.yaml"
    stubs.write_text(head + rest[rest.index("secrets:") :])
    sc = tmp_path / "sc.yaml"
    sc.write_text(
        f"scenario: 1\nname: no env\nstubs: {stubs}\nroles: {{author: a, reviewer: r}}\nexpect: {{outcome: no_go}}\n"
    )
    runbook = EXAMPLES / "order-status-preflight-and-monitoring.yaml"
    loaded_sc = scenario.load_scenario(sc)
    for res in (
        scenario.run_one(runbook, loaded_sc, None, {}),
        scenario.run_one(runbook, None, scenario.stubs_mod.load_stubs(stubs), {}),
    ):
        assert not res.passed
        assert res.actual is None
        report = res.report()
        assert (
            "step env-aws-profile (env): reads AWS_PROFILE; give the run's environment as env: in the stubs" in report
        )
        assert "step env-shopify-shop-domain (env): reads SHOPIFY_SHOP_DOMAIN" in report
    work = tmp_path / "work"
    work.mkdir()
    actual = asyncio.run(
        scenario.play(
            loader.load(runbook),
            loaded_sc,
            scenario.scenario_stubs(loaded_sc, None),
            workdir=work,
        )
    )
    assert actual.steps["env-aws-profile"] == "error"
    assert actual.outcome == "no_go"
    assert any(u.startswith("env AWS_PROFILE") for u in actual.unstubbed)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ("{MW_ENV: true}", "env.MW_ENV: Input should be a valid string"),
        ('{"A=B": x}', "env: 'A=B' is not a variable name"),
    ],
)
def test_bad_env_is_refused_with_its_line(tmp_path: Path, env: str, message: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"scenario: 1\nname: bad\nstubs: x.yaml\nenv: {env}\nexpect: {{outcome: passed}}\n")
    with pytest.raises(exceptions.UsageError) as exc:
        scenario.load_scenario(bad)
    assert f"{bad}:4: " in exc.value.message
    assert message in exc.value.message

"""`golive import`: the five seed runbooks and hostile Markdown.

Each seed imports to a draft that the real loader accepts, with every non-blank source line accounted for,
and at least the pinned numbers of steps and executable steps (docs/import.md has the same table).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from golive import exceptions
from golive.cli import main
from golive.importer import import_markdown
from golive.spec import loader, models

ROOT = Path(__file__).resolve().parent.parent.parent
SEEDS = ROOT.parent / "shared" / "seeds"
SEED_FILES = {
    "000": "000_185f59f84defe3f5.txt",
    "001": "001_8f4ddef6194aee8e.txt",
    "002": "002_614d2419b0da1728.txt",
    "003": "003_1d8f4e143ec19935.txt",
    "004": "004_cb642dfb3256e5b7.txt",
}
# seed -> (steps, executable, manual, TODOs) as in docs/import.md; steps and executable are floors
PINNED = {
    "000": (26, 11, 15, 4),
    "001": (8, 7, 1, 1),
    "002": (33, 15, 17, 4),
    "003": (59, 16, 42, 9),
    "004": (26, 15, 10, 9),
}
# hand-counted across the five seeds: 124 requirements a machine can check; at least half come out executable
MACHINE_CHECKABLE = 124

needs_seeds = pytest.mark.skipif(not SEEDS.is_dir(), reason=f"the seed runbooks are not at {SEEDS}")


def _all_match(expected: str | list[str], text: str) -> bool:
    """An expect.stdout (one regex, or a list that must all match) against text."""
    return all(re.search(p, text, re.MULTILINE) for p in ([expected] if isinstance(expected, str) else expected))


@functools.cache
def _imported(seed: str) -> Any:
    path = SEEDS / SEED_FILES[seed]
    return import_markdown(path.read_bytes(), str(path))


def _doc(seed: str) -> dict[str, Any]:
    data = yaml.safe_load(_imported(seed).yaml_text)
    assert isinstance(data, dict)
    return data


def _steps(rb: models.Runbook) -> dict[str, models.Step]:
    return {s.id: s for _, s in rb.all_steps()}


# --- the seeds ---------------------------------------------------------------------------------------------


@needs_seeds
@pytest.mark.parametrize("seed", sorted(SEED_FILES))
def test_each_seed_imports_to_a_draft_that_validates(seed: str, tmp_path: Path) -> None:
    """The YAML written validates through `golive validate` (the loader, from the file)."""
    out = tmp_path / "draft.yaml"
    out.write_text(_imported(seed).yaml_text, encoding="utf-8")
    loaded = loader.load(out, environ={})
    assert loaded.runbook.phases


@needs_seeds
@pytest.mark.parametrize("seed", sorted(SEED_FILES))
def test_each_seed_keeps_its_pinned_counts(seed: str) -> None:
    c = _imported(seed).report.counts()
    steps, executable, manual, todos = PINNED[seed]
    assert c["steps"] >= steps
    assert c["executable"] >= executable
    assert (c["manual"], c["todos"]) == (manual, todos), "update docs/import.md and PINNED together"


@needs_seeds
@pytest.mark.parametrize("seed", sorted(SEED_FILES))
def test_every_non_blank_source_line_is_accounted_for(seed: str) -> None:
    report = _imported(seed).report
    lines = (SEEDS / SEED_FILES[seed]).read_text(encoding="utf-8").splitlines()
    wanted = {i for i, line in enumerate(lines, start=1) if line.strip()}
    assert set(report.lines) == wanted
    assert {a.what for a in report.lines.values()} <= {"step", "field", "todo", "layout"}


@needs_seeds
@pytest.mark.parametrize("seed", sorted(SEED_FILES))
def test_every_todo_is_a_comment_with_its_source_line(seed: str) -> None:
    result = _imported(seed)
    comments = re.findall(r"# TODO\(import\): (line \d+: .*)", result.yaml_text)
    assert len(comments) == len(result.report.todos)
    for note in result.report.todos:
        assert note in comments


@needs_seeds
def test_across_the_seeds_executable_steps_and_their_total() -> None:
    total = sum(_imported(s).report.counts()["executable"] for s in SEED_FILES)
    assert total >= sum(p[1] for p in PINNED.values())
    assert total * 2 >= MACHINE_CHECKABLE


@needs_seeds
@pytest.mark.parametrize("seed", sorted(SEED_FILES))
def test_commands_are_argv_and_values_reach_them_as_env_or_vars(seed: str) -> None:
    """No string-form `run:` (no shell), no `${{ }}` inside SQL text; secrets are references."""
    rb = _imported(seed).runbook
    for _, step in rb.all_steps():
        if step.type == "command":
            assert isinstance(step.with_["run"], list), step.id
        if step.type == "sql":
            text = step.with_.get("query") or step.with_.get("sql")
            assert "${{" not in json.dumps(text), step.id


@needs_seeds
def test_no_credential_written_in_a_seed_reaches_the_draft() -> None:
    """Seed 004 writes an API token map and database URLs with placeholders: only references come out."""
    text = _imported("004").yaml_text
    doc = _doc("004")
    assert "<admin-token>" not in text
    assert "<password>" not in text
    assert "API_TOKEN_MAP_JSON" in json.dumps(doc["secrets"])
    assert doc["secrets"]["database_url"] == {
        "provider": "env",
        "id": "DATABASE_URL",
        "description": "value set on the day; the document's value is not copied",
    }
    for value in doc.get("vars", {}).values():
        assert "token" not in json.dumps(value).lower()


@needs_seeds
def test_seed_004_curl_fences_become_http_checks_and_actions() -> None:
    rb = _imported("004").runbook
    steps = _steps(rb)
    health = next(s for s in steps.values() if s.type == "http" and s.with_["url"].endswith("/health"))
    assert health.kind is models.StepKind.CHECK
    assert health.with_["url"] == "${{ vars.base_url }}/health"
    assert health.with_["expect"] == {"status": 200, "json": {"$.status": "ok"}}
    # the audit pack id captured with $(curl ... | python3 -c ...) is read from the first step's output
    verify = next(s for s in steps.values() if s.type == "http" and "/verify" in s.with_["url"])
    gen = steps[verify.needs[0]]
    assert gen.with_["url"] == "${{ vars.base_url }}/api/v1/audit/packs/generate"
    assert verify.with_["url"] == (
        "${{ vars.base_url }}/api/v1/audit/packs/${{ steps." + gen.id + ".output.json.pack_id }}/verify"
    )
    assert verify.with_["bearer"] == "${{ secrets.viewer_token }}"
    assert verify.with_["expect"]["json"] == {"$.valid": True}
    recall = next(s for s in steps.values() if s.type == "http" and "recall/simulate" in s.with_["url"])
    assert recall.with_["json"] == {"batch_code": "BATCH-2026-02-0012", "reason": "prod cutover drill"}
    assert recall.with_["expect"]["max_latency_ms"] == 10000  # "completes under 10s"
    gate = next(s for s in steps.values() if s.type == "command" and "release_gate" in " ".join(s.with_["run"]))
    assert gate.with_["run"] == ["./scripts/run_staging_release_gate.sh"]
    assert gate.with_["env"]["ADMIN_TOKEN"] == "${{ secrets.admin_token }}"
    assert gate.with_["env"]["BATCH_CODE"] == "${{ vars.batch_code }}"
    assert _all_match(
        gate.with_["expect"]["stdout"], "Security regression: PASS\nGo-live acceptance: PASS\nRelease gate: PASS"
    )
    assert not _all_match(gate.with_["expect"]["stdout"], "Security regression: PASS\nRelease gate: FAIL")
    assert rb.release.sha == "9902729"


@needs_seeds
def test_seed_003_roles_triggers_comms_and_hypercare() -> None:
    rb = _imported("003").runbook
    assert {"ic", "deployer", "db-owner", "payments-owner", "scribe"} <= set(rb.roles)
    assert "decide" in rb.roles["ic"].may
    by_title = {t.title: t for t in rb.triggers}
    assert by_title["Payout/Withdraw 404/5xx"].then == "rollback"
    assert by_title["Latency Spike (No Errors)"].then == "notify"
    assert rb.settings.decision_deadline == 300  # "IC decides within 5 minutes"
    assert (
        rb.comms.templates["rollback_triggered"] == "Rollback triggered. Reason: {{ reason }}. Restoration in progress."
    )
    tiers = [(t.from_, t.until, t.every, t.times_per_day) for t in rb.hypercare.tiers]
    assert tiers == [(0, 6 * 3600, 1800, None), (6 * 3600, 24 * 3600, 3600, None), (24 * 3600, 72 * 3600, None, 3)]
    detector = _steps(rb)["stuck-job-detector"]
    assert detector.with_["run"] == ["python3", "scripts/detect_stuck_finance_jobs.py"]
    assert detector.every == 1800
    phases_at = {p.title: p.at for p in rb.phases}
    assert phases_at["T-60 — Pre-flight"] == -3600
    # the restore drill must not run in prod: listed as a tool only, it stays a manual step with a TODO
    drill = next(s for s in rb.all_steps() if "db_restore_drill" in s[1].instructions)[1]
    assert drill.kind is models.StepKind.MANUAL
    decision = next(s for _, s in rb.all_steps() if s.kind is models.StepKind.DECISION)
    assert decision.role == "ic"
    assert decision.requires


@needs_seeds
def test_seed_000_secrets_become_secret_checks_never_values() -> None:
    rb = _imported("000").runbook
    checks = [s for _, s in rb.all_steps() if s.type == "secret"]
    assert [c.with_["id"] for c in checks] == [
        "rp-mw/prod/richpanel/api_key",
        "rp-mw/prod/richpanel/webhook_token",
        "rp-mw/prod/richpanel/bot_agent_id",
        "rp-mw/prod/openai/api_key",
        "rp-mw/prod/shopify/admin_api_token",
        # "Richpanel bot agent created; bot id stored in Secrets Manager." checks the listed secret it names
        "rp-mw/prod/richpanel/bot_agent_id",
    ]
    assert all(c.with_["provider"] == "aws-secretsmanager" for c in checks)
    aws = next(s for _, s in rb.all_steps() if s.type == "command" and s.with_["run"][0] == "aws")
    assert aws.with_["run"] == [
        "aws",
        "sts",
        "get-caller-identity",
        "--profile",
        "rp-admin-prod",
        "--region",
        "us-east-2",
    ]
    pre = next(s for _, s in rb.all_steps() if s.type == "command" and s.with_["run"][0] == "python")
    assert pre.with_["run"][:2] == ["python", "scripts/order_status_preflight_check.py"]
    assert _all_match(pre.with_["expect"]["stdout"], "overall_status=PASS bot_agent_id_secret_present=true")


@needs_seeds
def test_seed_002_flags_observe_and_rollback() -> None:
    rb = _imported("002").runbook
    flag_steps = [(sec, s.with_["flags"]) for sec, s in rb.all_steps() if s.type == "flag"]
    assert ("rollback", {"automation_enabled": False}) in flag_steps
    assert any(f == {"safe_mode": False} for _, f in flag_steps)
    assert rb.flags is not None
    templates = {
        "t_order_status_ask_order_number",
        "t_delivered_not_received_intake",
        "t_missing_items_intake",
        "t_technical_support_intake",
        "t_order_status_verified",
        "t_shipping_delay_verified",
    }
    # the templates enabled one by one under "Enable only Tier 1 templates ...:" and "Enable:"; off until then
    assert rb.flags.safe == {"automation_enabled": False, "safe_mode": True, **dict.fromkeys(templates, False)}
    assert {k for _, f in flag_steps for k, v in f.items() if v is True and k.startswith("t_")} == templates
    observe = next(s for _, s in rb.all_steps() if s.kind is models.StepKind.OBSERVE)
    assert observe.duration == 3600
    assert len(rb.rollback.follow_up) >= 3


@needs_seeds
def test_seed_000_outbound_flag_words_become_a_flag_check_and_actions() -> None:
    """ "Keep outbound flag disabled" is a check; "Enable outbound" under "Enable outbound flag" and the rollback's
    "Set outbound disabled (safety flag back to `false`)" are actions; the flag is safe off."""
    rb = _imported("000").runbook
    flag_steps = [(sec, s.kind.value, s.with_) for sec, s in rb.all_steps() if s.type == "flag"]
    assert [(k, w) for _, k, w in flag_steps] == [
        ("check", {"flag": "outbound", "is": False}),
        ("action", {"flags": {"outbound": True}}),
        ("action", {"flags": {"outbound": False}}),
    ]
    assert flag_steps[-1][0] == "rollback"
    assert rb.flags is not None
    assert rb.flags.safe == {"outbound": False}


@needs_seeds
def test_seed_002_secrets_named_in_words_become_presence_checks_with_a_todo() -> None:
    result = _imported("002")
    rb = result.runbook
    ids = [s.with_["id"] for _, s in rb.all_steps() if s.type == "secret"]
    assert ids == ["RICHPANEL_TOKEN", "OPENAI_KEY", "WEBHOOK_TOKEN"]
    assert {rb.secrets[k].id for k in ("richpanel_token", "openai_key", "webhook_token")} == set(ids)
    assert any("secret names drafted from the words 'Richpanel token'" in t for t in result.report.todos)


@needs_seeds
def test_seed_003_the_config_tool_runs_for_its_group_and_the_artifacts_directory_is_checked() -> None:
    rb = _imported("003").runbook
    steps = _steps(rb)
    config = steps["prod-config-verification"]
    assert (config.kind, config.with_["run"]) == (models.StepKind.CHECK, ["python3", "scripts/verify_prod_env.py"])
    assert "PSP Keys (Stripe/Adyen Live); Webhook Secrets" in config.description
    artifacts = next(s for s in steps.values() if s.type == "command" and s.with_["run"][:2] == ["test", "-d"])
    assert artifacts.with_["run"][2] == "${{ vars.rc_proof_dir }}"
    assert rb.vars["rc_proof_dir"] == "/app/artifacts/rc-proof/"
    pull = next(s for s in steps.values() if s.type == "command" and s.with_["run"][-1] == "pull")
    assert (pull.kind, pull.with_["run"]) == (models.StepKind.ACTION, ["docker-compose", "pull"])
    webhook = next(s for s in steps.values() if s.type == "log")  # "Tail logs for `Signature Verified` events"
    assert webhook.with_ == {"path": "${{ vars.log_file }}", "pattern": "Signature\\ Verified", "within": "1h"}


@needs_seeds
def test_seed_004_rollback_re_runs_the_checks_it_names_and_go_needs_auth_enabled() -> None:
    rb = _imported("004").runbook
    again = [s for s in rb.rollback.steps if s.title.startswith("Re-run: ")]
    assert [(s.type, s.kind.value) for s in again] == [("http", "check"), ("command", "check")]
    assert again[0].with_["url"] == "${{ vars.base_url }}/health"
    assert again[1].with_["run"] == ["./scripts/run_staging_release_gate.sh"]
    present = [s.with_["id"] for _, s in rb.all_steps() if s.type == "secret"]
    assert present == ["DATABASE_URL", "API_TOKEN_MAP_JSON"]  # the env file's credentials, by name only
    decision = next(s for _, s in rb.all_steps() if s.kind is models.StepKind.DECISION)
    auth = _steps(rb)[decision.needs[-1]]
    assert (auth.type, auth.with_["name"]) == ("env", "AUTH_ENABLED")


@needs_seeds
def test_seed_001_cloudwatch_alarms_by_prefix_are_listed_with_the_documents_profile_and_region() -> None:
    rb = _imported("001").runbook
    alarms = [s for _, s in rb.all_steps() if s.type == "command" and s.with_["run"][:2] == ["aws", "cloudwatch"]]
    assert len(alarms) == 2  # "Find alarms" and the rollback's "... alarms still present"
    run = alarms[0].with_["run"]
    assert run[run.index("--alarm-name-prefix") + 1] == "${{ vars.alarm_prefix }}"
    assert run[run.index("--profile") + 1] == "${{ vars.aws_profile }}"
    assert (rb.vars["alarm_prefix"], rb.vars["aws_profile"], rb.vars["aws_region"]) == (
        "rp-mw-prod-",
        "rp-admin-prod",
        "us-east-2",
    )
    assert _all_match(alarms[0].with_["expect"]["stdout"], "rp-mw-prod-worker-errors\trp-mw-prod-429s")
    assert alarms[1] in rb.rollback.steps


def test_commands_urls_and_thresholds_in_prose_become_checks_and_triggers() -> None:
    """A verify line with a URL is an `http` check; a command's expected output in words is its `stdout`
    expectation (and a read such as `helm status` is a check even when the words say "deployed"); quoted `*` in
    `psql -c` is no glob; a `$API_KEY` the document never sets is a secret reference; "5xx > 2% for 3 min, roll
    back" in a list is a rollback trigger."""
    text = (
        "# R\n\n## Pre-flight\n\n"
        "1. Verify https://api.example.com/health returns 200\n"
        "1. Check https://<status-host>/ready is up\n"
        "2. Run `helm status payments -n prod` (expect `STATUS: deployed`)\n"
        "3. Check `kubectl get deploy api -o jsonpath={.status.readyReplicas}` shows 3\n"
        "4. `gcloud sql instances describe orders-db --format=value(state)` should return `RUNNABLE`\n\n"
        "## Deploy\n\n"
        "| Step | Owner | Command | Pass criteria |\n| --- | --- | --- | --- |\n"
        '| Migrate | dba | `psql "$DATABASE_URL" -c "SELECT count(*) FROM schema_migrations"` | 1 row |\n'
        '| Smoke | ops | `curl -sf -H "X-Api-Key: $API_KEY" https://api.example.com/v1/smoke` | HTTP 200 |\n\n'
        "## Rollback\n\n- If 5xx > 2% for 3 min, roll back.\n"
    )
    result = _hostile(text)
    rb = result.runbook
    steps = _steps(rb)
    assert all(s.kind is models.StepKind.CHECK for s in steps.values()), {i: s.kind for i, s in steps.items()}
    health = next(s for s in steps.values() if s.type == "http" and s.with_["url"].endswith("/health"))
    assert health.with_["expect"] == {"status": 200}
    ready = next(s for s in steps.values() if s.type == "http" and s.with_["url"].endswith("/ready"))
    assert ready.with_["url"] == "https://${{ vars.status_host }}/ready"
    helm = next(s for s in steps.values() if s.type == "command" and s.with_["run"][0] == "helm")
    assert _all_match(helm.with_["expect"]["stdout"], "NAME: payments\nSTATUS: deployed\n")
    kubectl = next(s for s in steps.values() if s.type == "command" and s.with_["run"][0] == "kubectl")
    assert _all_match(kubectl.with_["expect"]["stdout"], "3")
    assert not _all_match(kubectl.with_["expect"]["stdout"], "13")
    gcloud = next(s for s in steps.values() if s.type == "command" and s.with_["run"][0] == "gcloud")
    assert _all_match(gcloud.with_["expect"]["stdout"], "RUNNABLE\n")
    migrate = steps["migrate"]
    assert (migrate.type, migrate.with_["query"]) == ("sql", "SELECT count(*) FROM schema_migrations")
    smoke = steps["smoke"]
    assert smoke.with_["headers"] == {"X-Api-Key": "${{ secrets.api_key }}"}
    assert rb.secrets["api_key"].id == "API_KEY"
    (trigger,) = rb.triggers
    assert (trigger.then, trigger.for_) == ("rollback", 180)


def test_words_that_name_no_flag_template_or_secret_stay_manual_steps() -> None:
    """The prose recognitions need their anchor: "flag" beside the name, an "Enable" label over names only,
    secrets in a parenthesised list of credential nouns."""
    text = (
        "# R\n\n## Cutover\n\n"
        "1. Enable Maintenance Page / Block Ingress.\n"
        "2. Keep outbound disabled.\n"
        "3. Secrets exist for prod (see the vault).\n"
        "4. Enable:\n   - `t_one` and then check the dashboard\n"
        "5. Artifacts present in the bucket.\n"
    )
    rb = _hostile(text).runbook
    assert all(s.kind is models.StepKind.MANUAL for _, s in rb.all_steps())
    assert rb.flags is None


# --- the command and hostile input --------------------------------------------------------------------------


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 1), out, err


@needs_seeds
def test_cli_writes_the_draft_and_prints_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "payments.yaml"
    code, stdout, _ = _cli(["import", str(SEEDS / SEED_FILES["003"]), "-o", str(out)], capsys)
    assert code == 0
    assert "181/181 non-blank lines accounted for" in stdout
    assert re.search(r"line 111 +field +triggers\.payout-failure-rate", stdout)
    loader.load(out, environ={})
    code, _, err = _cli(["import", str(SEEDS / SEED_FILES["003"]), "-o", str(out)], capsys)
    assert code == 2
    assert "exists" in err


def test_invalid_utf8_is_a_clear_error_with_line_and_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.md"
    bad.write_bytes(b"# Runbook\n\n- step one\n- caf\xe9 \xff\n")
    code, _, err = _cli(["import", str(bad)], capsys)
    assert code == 2
    assert f"{bad}:4:6" in err
    assert "not UTF-8" in err
    assert "Traceback" not in err


def test_a_missing_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(["import", str(tmp_path / "nope.md")], capsys)
    assert code == 2
    assert "no such file" in err


def _hostile(text: str) -> Any:
    result = import_markdown(text.encode("utf-8"), "hostile.md")
    loader.load_bytes(result.yaml_text.encode("utf-8"), "hostile.yaml", environ={})
    lines = text.split("\n")  # lines as Markdown counts them (\n only)
    wanted = {i for i, line in enumerate(lines, start=1) if line.strip()}
    assert set(result.report.lines) == wanted
    return result


def test_empty_and_blank_documents_give_a_draft_with_one_review_step() -> None:
    for text in ("", "\n\n   \n"):
        result = import_markdown(text.encode(), "empty.md")
        assert result.report.counts()["steps"] == 1
        assert result.report.todos


def test_html_blocks_and_nested_fences() -> None:
    text = (
        '# Cutover\n\n## Deploy\n\n<div class="x">\n<script>alert(1)</script>\n</div>\n\n'
        "````markdown\n```bash\nrm -rf /\n```\n````\n\n"
        "1. Run `kubectl rollout status deploy/api`\n\n<!-- a comment -->\n"
    )
    result = _hostile(text)
    rb = result.runbook
    kinds = [(s.kind.value, s.type) for _, s in rb.all_steps()]
    assert ("check", "command") in kinds  # the kubectl line
    assert not any(s.type == "command" and "rm" in s.with_["run"] for _, s in rb.all_steps())
    assert any("HTML block" in t for t in result.report.todos)


def test_shell_that_needs_a_shell_becomes_a_manual_step_with_a_todo() -> None:
    text = "# R\n\n## Deploy\n\n```bash\nkubectl get pods | grep api && echo ok > /tmp/x\n```\n"
    result = _hostile(text)
    step = next(s for _, s in result.runbook.all_steps())
    assert step.kind is models.StepKind.MANUAL
    assert "grep api" in step.instructions
    assert any("shell operator" in t for t in result.report.todos)


def test_a_huge_table_gives_a_valid_draft() -> None:
    rows = "\n".join(f"| T-{i}m | step {i} | ops | `./scripts/s{i}.sh` | exit 0 |" for i in range(1, 1501))
    text = (
        "# Big\n\n## Steps\n\n| Time | Step | Owner | Command | Pass criteria |\n|---|---|---|---|---|\n" + rows + "\n"
    )
    result = _hostile(text)
    assert result.report.counts()["executable"] == 1500
    first = next(s for _, s in result.runbook.all_steps())
    assert first.at == -60
    assert first.role == "ops"
    assert first.with_["run"] == ["./scripts/s1.sh"]


def test_ten_thousand_lines_give_a_draft_or_a_clear_error() -> None:
    text = "# Long\n\n## Steps\n\n" + "".join(f"{i}. Do thing {i}\n" for i in range(1, 4001))
    text += "\n## Notes\n\n" + "text line\n" * 6000
    result = _hostile(text)
    assert result.report.counts()["steps"] == 4000
    too_many = "# Long\n\n## Steps\n\n" + "".join(f"- [ ] item {i}\n" for i in range(1, 10001))
    with pytest.raises(exceptions.RunbookInvalid, match="more than 5000; split the document"):
        import_markdown(too_many.encode(), "long.md")


def test_deep_nesting_and_control_characters() -> None:
    deep = "# D\n\n## S\n\n" + "".join("  " * i + "- level\n" for i in range(300)) + "> " * 200 + "quote\n"
    _hostile(deep)
    _hostile("# C\n\n## S\n\n- bell \x07 and escape \x1b[31m red\n- nbsp\u00a0and line sep\u2028x\n")
    with pytest.raises(exceptions.RunbookInvalid, match="NUL"):
        import_markdown(b"# x\n\x00\n", "nul.md")


@needs_seeds
def test_commands_of_one_fence_and_numbered_steps_run_in_document_order() -> None:
    """Seed 004 runs sql/001_init.sql then sql/002_seed.sql: the second needs the first (never together)."""
    rb = _imported("004").runbook
    psql = [s for _, s in rb.all_steps() if s.type == "command" and s.with_["run"][0] == "psql"]
    assert [s.with_["run"][-1] for s in psql] == ["sql/001_init.sql", "sql/002_seed.sql"]
    assert psql[1].needs == (psql[0].id,)
    cutover = next(p for p in _imported("000").runbook.phases if p.id == "cutover-steps-in-order")
    assert all(s.needs == (prev.id,) for prev, s in zip(cutover.steps, cutover.steps[1:], strict=False))
    prereqs = _imported("000").runbook.phases[0]  # a bullet list: its checks may run together
    assert not any(s.needs for s in prereqs.steps)


_MD_PIECES = [
    "# ",
    "## ",
    "### Rollback\n",
    "## Roles\n",
    "## Hypercare\n",
    "- ",
    "1. ",
    "- [ ] ",
    "  - ",
    "**",
    "`",
    "```",
    "```bash\n",
    "```sql\n",
    "~~~\n",
    "| a | b |\n|---|---|\n",
    "| T-5 | step | ops | `./x.sh` | exit 0 |\n",
    "<div>",
    "</div>\n",
    "<!-- c -->\n",
    "curl -X POST https://<h>/x -d '{\"a\":1}'",
    "psql -c 'select 1'",
    "T-60",
    "for 3 min",
    "> 2%",
    "within 10s",
    "Expected:\n",
    "`A_TOKEN=x`",
    "`x=true`",
    "$(",
    "|",
    "\\\n",
    "\n",
    "\n\n",
    "    ",
    "\t",
    "___",
    "é",
    "\u2028",
    "\x0b",
    ":",
    "Set ",
    "Verify `/api/h`",
    "Secrets present:\n",
]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.sampled_from(_MD_PIECES), st.text(max_size=12)), max_size=60))
@example(["```sql\n"])  # an empty SQL fence once raised IndexError
@example(["psql -c ''"])
def test_any_markdown_gives_a_valid_draft_or_a_clear_error(pieces: list[str]) -> None:
    text = "".join(pieces)
    try:
        result = import_markdown(text.encode("utf-8", "surrogatepass"), "fuzz.md")
    except exceptions.RunbookInvalid as exc:  # a clear error (file:line:col: message), never a traceback
        problems = exc.problems
        assert problems, "an error without a message"
        return
    loader.load_bytes(result.yaml_text.encode("utf-8"), "fuzz.yaml", environ={})
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    assert set(result.report.lines) == {i for i, line in enumerate(lines, start=1) if line.strip()}


@needs_seeds
def test_health_status_and_re_run_are_read_from_the_rest_of_the_document() -> None:
    """003's checklist "API health 200" is its /api/health with status 200; 001's "Re-run preflight" re-runs it."""
    health = [s for _, s in _imported("003").runbook.all_steps() if s.type == "http" and "API health 200" in s.title]
    assert [(h.with_["url"], h.with_["expect"]) for h in health] == [
        ("${{ vars.base_url }}/api/health", {"status": 200})
    ]
    rb = _imported("001").runbook
    rerun = next(s for s in rb.rollback.steps if s.title.startswith("Re-run preflight"))
    first = next(s for _, s in rb.all_steps() if s.type == "command" and "preflight" in " ".join(s.with_["run"]))
    assert rerun.with_["run"] == first.with_["run"]


def test_psql_c_sql_fences_exit_codes_and_a_threshold_in_prose() -> None:
    text = """# DB cutover

## Checks

| Time | Step | Owner | Command | Pass criteria |
|---|---|---|---|---|
| T-10 | Migrations applied | DBA | `psql "$DATABASE_URL" -c 'SELECT version FROM schema_migrations'` | 1 row |
| T-5 | Smoke | SRE | `./scripts/smoke.sh --env prod` | exit code 0 |

```sql
UPDATE flags SET enabled = false WHERE name = 'outbound';
```

## Rollback triggers

- 5xx > 2% for 3 min → roll back
"""
    result = _hostile(text)
    rb = result.runbook
    steps = [s for _, s in rb.all_steps()]
    query, smoke, update = steps[0], steps[1], steps[2]
    assert (query.kind.value, query.type) == ("check", "sql")
    assert query.with_ == {
        "url": "${{ secrets.database_url }}",
        "query": "SELECT version FROM schema_migrations",
        "expect": {"row_count": 1},
    }
    assert (query.at, query.role) == (-600, "dba")
    assert smoke.with_["expect"] == {"exit_code": 0}
    assert smoke.needs == (query.id,)
    assert (update.kind.value, update.type) == ("action", "sql")
    assert update.with_["sql"] == "UPDATE flags SET enabled = false WHERE name = 'outbound'"
    assert rb.secrets["database_url"].id == "DATABASE_URL"  # the psql target is a secret reference
    trig = rb.triggers[0]
    assert (trig.then, trig.for_) == ("rollback", 180)
    assert "value > 0.02 for 3m" in trig.description
    assert any("threshold drafted" in t for t in result.report.todos)

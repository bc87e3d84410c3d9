"""The five seed runbooks, as golive YAML in examples/, say what their seeds say.

Each test loads one example through the real loader and asserts one of its seed's key facts on the model.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from golive.spec import loader, models
from golive.spec import plan as plan_mod

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"
SEED_EXAMPLES = {
    "000": "order-status-prod-cutover.yaml",
    "001": "order-status-preflight-and-monitoring.yaml",
    "002": "first-production-deploy.yaml",
    "003": "payments-go-live.yaml",
    "004": "supply-chain-prod-cutover.yaml",
}
MINUTE = 60.0  # seconds
HOUR = 3600.0  # seconds


@functools.cache
def _load(name: str) -> models.Runbook:
    return loader.load(EXAMPLES / name, environ={}).runbook


def _step(rb: models.Runbook, step_id: str) -> models.Step:
    step = rb.step(step_id)
    assert step is not None, f"no step {step_id!r}"
    return step


def _phase_index(rb: models.Runbook, phase_id: str) -> int:
    return [p.id for p in rb.phases].index(phase_id)


def _ancestors(phase: models.Phase, step_id: str) -> set[str]:
    """Every step a step waits for inside its phase (needs, transitively)."""
    by_id = {s.id: s for s in phase.steps}
    out: set[str] = set()
    todo = list(by_id[step_id].needs)
    while todo:
        n = todo.pop()
        if n not in out:
            out.add(n)
            todo.extend(by_id[n].needs)
    return out


def _flag_sets(rb: models.Runbook) -> list[tuple[str, models.Step, dict[str, Any]]]:
    """(section, step, flags) of every flag action."""
    return [
        (sec, s, s.with_["flags"]) for sec, s in rb.all_steps() if s.kind is models.StepKind.ACTION and s.type == "flag"
    ]


# --- all five --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SEED_EXAMPLES.values()))
def test_example_loads_and_plans(name: str) -> None:
    """Each example is a valid runbook whose plan has every phase and a critical path."""
    rb = _load(name)
    plan = plan_mod.make_plan(rb)
    assert [p.id for p in plan.phases] == [p.id for p in rb.phases]
    assert plan.critical_path


@pytest.mark.parametrize(("seed", "name"), sorted(SEED_EXAMPLES.items()))
def test_example_cites_its_seed(seed: str, name: str) -> None:
    """Each example says in a comment which seed it translates and maps the seed's sections."""
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    assert f"seed {seed}" in text
    assert "Seed section -> golive:" in text


# --- seed 000: order-status prod cutover -------------------------------------------------------------


ORDER_STATUS_SECRETS = {
    "rp-mw/prod/richpanel/api_key",
    "rp-mw/prod/richpanel/webhook_token",
    "rp-mw/prod/richpanel/bot_agent_id",
    "rp-mw/prod/openai/api_key",
    "rp-mw/prod/shopify/admin_api_token",
}


def test_order_status_names_its_five_secrets_and_checks_each() -> None:
    """The five PROD secrets are declared (Secrets Manager, us-east-2) and each has a presence check."""
    rb = _load(SEED_EXAMPLES["000"])
    assert {s.id for s in rb.secrets.values()} == ORDER_STATUS_SECRETS
    assert all(s.provider == "aws-secretsmanager" for s in rb.secrets.values())
    checked = {s.with_["id"] for s in rb.phases[0].steps if s.type == "secret"}
    assert checked == ORDER_STATUS_SECRETS
    assert rb.var_defaults()["aws_region"] == "us-east-2"
    assert rb.var_defaults()["aws_profile"] == "rp-admin-prod"


def test_order_status_keeps_outbound_disabled_until_the_canary_passed() -> None:
    """Outbound is safe when false; only a step after the canary, behind a decision requiring it, turns it on."""
    rb = _load(SEED_EXAMPLES["000"])
    assert rb.flags is not None
    assert rb.flags.safe == {"order_status_outbound_enabled": False}
    canary = _phase_index(rb, "canary")
    enables = [(sec, s) for sec, s, flags in _flag_sets(rb) if flags.get("order_status_outbound_enabled") is True]
    assert [s.id for _, s in enables] == ["enable-outbound-flag"]
    sec, step = enables[0]
    assert _phase_index(rb, sec) > canary
    phase = rb.phase(sec)
    assert phase is not None
    gates = [_step(rb, n) for n in _ancestors(phase, step.id)]
    assert any(g.kind is models.StepKind.DECISION and "canary" in g.requires for g in gates)
    # Before the canary decision, every write of the flag keeps it off.
    for sec, s, flags in _flag_sets(rb):
        if sec in ("enable-rule", "canary"):
            assert flags == {"order_status_outbound_enabled": False}, s.id


def test_order_status_preflight_must_show_pass_and_bot_agent_id() -> None:
    """Cutover step 1 runs the preflight script and requires overall_status=PASS and the bot agent id."""
    rb = _load(SEED_EXAMPLES["000"])
    assert "scripts/order_status_preflight_check.py" in _step(rb, "run-preflight").with_["run"]
    expect = _step(rb, "preflight-status").with_["expect"]
    assert "json.overall_status == 'PASS'" in expect
    assert "json.bot_agent_id_secret_present == true" in expect


def test_order_status_rollback_pauses_disables_then_confirms_no_invocations() -> None:
    """Rollback: pause the rule, outbound back to false, then confirm no new Lambda invocations."""
    rb = _load(SEED_EXAMPLES["000"])
    assert [s.id for s in rb.rollback.steps] == ["pause-rule", "outbound-disabled"]
    assert rb.rollback.steps[0].kind is models.StepKind.MANUAL
    assert rb.rollback.steps[1].with_["flags"] == {"order_status_outbound_enabled": False}
    (confirm,) = rb.rollback.confirm
    assert confirm.with_["expect"]["stdout_not"] == "START RequestId"


def test_order_status_evidence_checklist_has_five_items_rollback_only_if_run() -> None:
    """The PII-safe evidence checklist has its five items; the rollback confirmation only when one ran."""
    rb = _load(SEED_EXAMPLES["000"])
    assert len(rb.evidence) == 5
    assert [e.id for e in rb.evidence if e.when == "rollback"] == ["rollback-confirmation"]
    assert any(p.pattern and "@" in p.pattern for p in rb.settings.redact_patterns)


def test_order_status_unexpected_outbound_rolls_back() -> None:
    """'If any unexpected outbound behavior occurs, stop and proceed to rollback' is a rollback trigger watched
    during the canary."""
    rb = _load(SEED_EXAMPLES["000"])
    trig = rb.trigger("unexpected-outbound")
    assert trig is not None
    assert trig.then == "rollback"
    assert trig.when == "value > 0"
    assert _step(rb, "watch-canary").triggers == ("unexpected-outbound",)
    assert rb.phase_of("watch-canary") == "canary"


# --- seed 001: preflight and monitoring PR -----------------------------------------------------------


TEST_PLAN_ENV = {
    "AWS_PROFILE": "rp-admin-prod",
    "AWS_REGION": "us-east-2",
    "AWS_DEFAULT_REGION": "us-east-2",
    "ENVIRONMENT": "prod",
    "RICHPANEL_ENV": "prod",
    "MW_ENV": "prod",
    "MW_ALLOW_NETWORK_READS": "true",
    "RICHPANEL_READ_ONLY": "true",
    "RICHPANEL_WRITE_DISABLED": "true",
    "RICHPANEL_OUTBOUND_ENABLED": "false",
    "SHOPIFY_OUTBOUND_ENABLED": "true",
    "SHOPIFY_WRITE_DISABLED": "true",
    "SHOPIFY_SHOP_DOMAIN": "${{ vars.shop_domain }}",
}


def test_preflight_checks_every_env_flag_of_the_test_plan() -> None:
    """Each env flag of the PR's test plan is an env check with its value (fails closed when missing)."""
    rb = _load(SEED_EXAMPLES["001"])
    phase = rb.phase("preflight-env")
    assert phase is not None
    seen = {s.with_["name"]: s.with_["value"] for s in phase.steps if s.type == "env"}
    defaults = rb.var_defaults()
    resolved = {k: v.replace("${{ vars.aws_profile }}", defaults["aws_profile"]) for k, v in seen.items()}
    resolved = {k: v.replace("${{ vars.aws_region }}", defaults["aws_region"]) for k, v in resolved.items()}
    assert resolved == TEST_PLAN_ENV
    assert all(s.with_["state"] == "equals" and s.blocking for s in phase.steps)


def test_preflight_covers_secrets_richpanel_shopify_and_refresh_within_8h() -> None:
    """Secrets Manager, Richpanel GET, Shopify REST + GraphQL and the token refresh within 8 hours."""
    rb = _load(SEED_EXAMPLES["001"])
    assert len([s for s in rb.phases[_phase_index(rb, "preflight-secrets")].steps if s.type == "secret"]) == 3
    assert _step(rb, "richpanel-get").type == "http"
    assert _step(rb, "richpanel-get").with_.get("method", "GET") == "GET"
    assert _step(rb, "shopify-rest").type == "http"
    assert _step(rb, "shopify-graphql").type == "graphql"
    refresh = _step(rb, "token-refresh-within-8h")
    assert refresh.type == "log"
    assert refresh.with_["within"] == "8h"


def test_preflight_fails_closed_without_a_required_env_flag() -> None:
    """The invariant is tested: the preflight run without MW_ENV must not pass."""
    rb = _load(SEED_EXAMPLES["001"])
    step = _step(rb, "preflight-fails-closed")
    assert step.with_["inherit_env"] is False
    assert "MW_ENV" not in step.with_["env"]
    assert 0 not in step.with_["expect"]["exit_code"]


def test_monitoring_has_four_alarms_a_dashboard_and_cdk_deploy() -> None:
    """cdk deploy, then alarms for 429s, worker errors, OpenAI failures, token refresh errors, and a dashboard."""
    rb = _load(SEED_EXAMPLES["001"])
    deploy = _step(rb, "cdk-deploy")
    assert deploy.with_["run"][:3] == ["npx", "cdk", "deploy"]
    assert "--require-approval" in deploy.with_["run"]
    alarms = _step(rb, "alarms-present")
    assert alarms.with_["expect"] == "len(json.MetricAlarms) == 4"
    assert (
        sum(1 for a in alarms.with_["run"] if a.startswith("${{ vars.alarm_") and a != "${{ vars.alarm_prefix }}") == 4
    )
    assert rb.phase_of("dashboard-present") == "verify-monitoring"


def test_preflight_pr_rollback_is_revert_redeploy_rerun_preflight() -> None:
    """Rollback = revert PR, cdk deploy, then re-run preflight (PASS) and check alarms are still present."""
    rb = _load(SEED_EXAMPLES["001"])
    assert [s.id for s in rb.rollback.steps] == ["revert-pr", "redeploy"]
    assert [s.id for s in rb.rollback.confirm] == ["rerun-preflight", "alarms-still-present"]


def test_preflight_pr_evidence_lists_the_six_proof_files() -> None:
    """The six proof artifacts of the PR are evidence items."""
    rb = _load(SEED_EXAMPLES["001"])
    files = {e.title.rsplit("/", 1)[-1] for e in rb.evidence if e.when == "always"}
    assert files == {
        "preflight.md",
        "cloudwatch_alarms.json",
        "cloudwatch_dashboards.json",
        "cloudformation_stack_status.json",
        "shopify_token_refresh_log.json",
        "shopify_token_refresh_invoke.json",
    }


# --- seed 002: first production deploy ---------------------------------------------------------------


TIER1 = {"t_order_status_ask_order_number", "t_delivered_not_received_intake", "t_missing_items_intake"}
TIER2 = {"t_order_status_verified", "t_shipping_delay_verified"}


def test_first_deploy_roles_and_kill_switch_defaults() -> None:
    """Four roles (rollback owner holds the kill switch); safe flags: automation off, safe mode on, no templates."""
    rb = _load(SEED_EXAMPLES["002"])
    assert set(rb.roles) == {"release-driver", "observer", "support-ops", "rollback-owner"}
    assert rb.roles_with("rollback") == {"rollback-owner"}
    assert rb.flags is not None
    safe = rb.flags.safe
    assert safe["automation_enabled"] is False
    assert safe["safe_mode"] is True
    assert {k for k, v in safe.items() if k.startswith("templates.") and v is False} == {
        f"templates.{t}" for t in TIER1 | TIER2 | {"t_technical_support_intake"}
    }


def test_first_deploy_enables_tier1_only_after_routing_only_is_stable() -> None:
    """Routing-only deploy, a 60m observe, then a decision needing Support Ops' confirmation before Tier 1 flags."""
    rb = _load(SEED_EXAMPLES["002"])
    order = [p.id for p in rb.phases]
    assert order.index("deploy-routing-only") < order.index("observe-routing-only") < order.index("tier1")
    observe = _step(rb, "observe-60m")
    assert observe.kind is models.StepKind.OBSERVE
    assert observe.duration == 60 * MINUTE
    decision = _step(rb, "tier1-go")
    assert decision.kind is models.StepKind.DECISION
    assert {"observe-routing-only", "routing-confirmed"} <= set(decision.requires)
    assert _step(rb, "routing-confirmed").role == "support-ops"
    tier1 = rb.phase("tier1")
    assert tier1 is not None
    for sec, step, _flags in _flag_sets(rb):
        if sec == "tier1":
            assert "tier1-go" in _ancestors(tier1, step.id), step.id


def test_first_deploy_tier1_order_and_no_tier2_templates() -> None:
    """safe_mode=false, then automation_enabled=true, then only the Tier 1 templates; Tier 2 stays off."""
    rb = _load(SEED_EXAMPLES["002"])
    tier1 = rb.phase("tier1")
    assert tier1 is not None
    assert "safe-mode-off" in _ancestors(tier1, "automation-on")
    assert "automation-on" in _ancestors(tier1, "enable-tier1-templates")
    enabled = {k.removeprefix("templates.") for k, v in _step(rb, "enable-tier1-templates").with_["flags"].items() if v}
    assert enabled == TIER1
    for sec, _, flags in _flag_sets(rb):
        if sec == "tier1":
            assert not any(k.removeprefix("templates.") in TIER2 for k in flags)


def test_first_deploy_tier2_is_a_later_optional_decision() -> None:
    """Tier 2 needs its three preconditions; a NO-GO ends the run STOPPED with Tier 1 kept live (keep-live),
    to be continued another day with `golive resume --from tier2`."""
    rb = _load(SEED_EXAMPLES["002"])
    go = _step(rb, "tier2-go")
    assert {"tier1", "deterministic-match-proven", "no-misdisclosure"} <= set(go.requires)
    assert go.on_no_go == "keep-live"
    assert rb.rollback.restore_flags == "first"  # a rollback still turns the kill switches off first
    assert len(rb.rollback.follow_ups()) == 5
    assert _phase_index(rb, "tier2") > _phase_index(rb, "tier1")


def test_first_deploy_rollback_fastest_first() -> None:
    """Rollback: flags off first (automation off, safe mode on), then a surgical template disable, then revert."""
    rb = _load(SEED_EXAMPLES["002"])
    first, surgical, revert = rb.rollback.steps
    assert first.type == "flag"
    assert first.with_["flags"] == {"automation_enabled": False, "safe_mode": True}
    assert surgical.kind is models.StepKind.MANUAL
    assert surgical.inputs[0].id == "template_id"
    assert revert.kind is models.StepKind.MANUAL
    assert len(rb.rollback.follow_up) == 5


def test_first_deploy_critical_signals_roll_back_and_cost_informs() -> None:
    """Watched during routing-only: critical alarms roll back immediately, cost signals only notify."""
    rb = _load(SEED_EXAMPLES["002"])
    then = {t.id: t.then for t in rb.triggers}
    assert {k for k, v in then.items() if v == "rollback"} >= {"api-errors", "dlq", "queue-age", "vendor-429-spikes"}
    assert then["cost-signals"] == "notify"


def test_first_deploy_monitors_24_hours_with_a_daily_review() -> None:
    """Post-release monitoring covers 24 hours with a daily review of the four signals."""
    rb = _load(SEED_EXAMPLES["002"])
    (tier,) = rb.hypercare.tiers
    assert (tier.from_, tier.until, tier.times_per_day) == (0.0, 24 * HOUR, 1)
    review = next(c for c in rb.hypercare.checks if c.id == "daily-review")
    assert [i.id for i in review.inputs] == [
        "policy_override_rate",
        "tier0_volume",
        "automation_send_count",
        "dissatisfaction_signals",
    ]


# --- seed 003: payments go-live ----------------------------------------------------------------------


GO_STATEMENT = (
    "Prod deploy smoke checks PASS. Canary Money Loop (deposit->withdraw->approve->paid->ledger settlement) "
    "PASS. No rollback triggers observed. GO-LIVE confirmed."
)


def test_payments_decision_matrix_four_rollback_rows_two_monitor_rows() -> None:
    """The rollback decision matrix: four immediate-rollback rows and two monitor rows."""
    rb = _load(SEED_EXAMPLES["003"])
    by_then: dict[str, set[str]] = {}
    for t in rb.triggers:
        by_then.setdefault(t.then, set()).add(t.id)
    assert by_then["rollback"] == {
        "payout-withdraw-errors",
        "migration-failure",
        "ledger-invariant-breach",
        "webhook-misclassification",
    }
    assert by_then["notify"] == {"latency-spike", "queue-backlog"}


def test_payments_ic_decides_within_five_minutes_default_rollback() -> None:
    """Other rollback triggers (payout failure rate > 15%, security incident, 5xx) pause for the IC: 5m, then
    rollback."""
    rb = _load(SEED_EXAMPLES["003"])
    pauses = [t for t in rb.triggers if t.then == "pause"]
    assert {t.id for t in pauses} == {"payout-failure-rate", "critical-security-incident", "api-5xx-spike"}
    assert all(t.deadline == 5 * MINUTE and t.default == "rollback" for t in pauses)
    rate = rb.trigger("payout-failure-rate")
    assert rate is not None
    assert rate.when == "value > 0.15"


def test_payments_go_requires_the_canary_with_the_standard_statement() -> None:
    """GO is the IC's, requires the canary (Canary FAIL = NO-GO) and artifacts secured; NO-GO rolls back."""
    rb = _load(SEED_EXAMPLES["003"])
    go = _step(rb, "go-decision")
    assert go.role == "ic"
    assert {"canary", "artifacts-secured"} <= set(go.requires)
    assert go.statement == GO_STATEMENT
    assert go.on_no_go == "rollback"
    assert rb.roles_with("decide") == {"ic"}
    canary = rb.phase("canary")
    assert canary is not None
    assert canary.on_failure == "rollback"


def test_payments_canary_cannot_be_waived_into_go_and_health_is_rechecked_at_go() -> None:
    """War Room rule 2, "no exceptions": every canary step is waivable: false and the canary is strict; the
    deploy's health checks run again when the IC decides."""
    rb = _load(SEED_EXAMPLES["003"])
    canary = rb.phase("canary")
    assert canary is not None
    assert [s.id for s in canary.steps if s.waivable] == []
    go = _step(rb, "go-decision")
    assert go.requires_strict == ("canary",)
    assert go.recheck == ("api-health", "payouts-router-reachable")
    assert all(_step(rb, r).kind is models.StepKind.CHECK for r in go.recheck)


def test_payments_war_room_roles() -> None:
    """IC, deployer, DB owner, payments owner and scribe (and on-call for hypercare)."""
    rb = _load(SEED_EXAMPLES["003"])
    assert {"ic", "deployer", "db-owner", "payments-owner", "scribe"} <= set(rb.roles)
    assert rb.roles_with("rollback") == {"ic"}
    assert rb.roles_with("waive") == {"ic"}


def test_payments_timeline_t_minus_60_to_t_plus_60() -> None:
    """Phases at T-60, T-30, T-15, T-0 and T+15; smoke at T-10; first hypercare report at T+60."""
    rb = _load(SEED_EXAMPLES["003"])
    at = {p.id: p.at for p in rb.phases if p.at is not None}
    assert at == {
        "preflight": -60 * MINUTE,
        "backup": -30 * MINUTE,
        "deploy": -15 * MINUTE,
        "canary": 0.0,
        "decision": 15 * MINUTE,
    }
    assert _step(rb, "go-live-smoke").at == -10 * MINUTE
    first = next(r for r in rb.hypercare.reports if r.id == "first-report")
    assert at["decision"] + first.at == 60 * MINUTE


def test_payments_comms_exact_messages_and_cadence() -> None:
    """Exact broadcast messages, checkpoint messages, and updates every 15m / 30m for 2h / hourly to 24h."""
    rb = _load(SEED_EXAMPLES["003"])
    t = rb.comms.templates
    assert t["run_started"] == "Cutover initiated. Maintenance window active. Updates every 15m."
    assert t["decision_go"] == "GO decision made. System live. Hypercare started."
    assert t["rollback_triggered"] == "Rollback triggered. Reason: {{ reason }}. Restoration in progress."
    announce = {p.id: dict(p.announce) for p in rb.phases if p.announce}
    assert announce["preflight"]["pass"] == "Pre-flight PASS"
    assert announce["backup"]["pass"] == "Backup PASS"
    assert announce["deploy"] == {"pass": "Deploy+Smoke PASS", "fail": "Deploy+Smoke FAIL"}
    assert announce["canary"] == {"pass": "Canary PASS", "fail": "Canary FAIL"}
    tiers = [(c.anchor, c.from_, c.until, c.every) for c in rb.comms.cadence]
    assert tiers == [
        ("start", 0.0, None, 15 * MINUTE),
        ("go", 0.0, 2 * HOUR, 30 * MINUTE),
        ("go", 2 * HOUR, 24 * HOUR, HOUR),
    ]


def test_payments_hypercare_72h_tiers_and_scripts() -> None:
    """Hypercare: every 30m to 6h, hourly to 24h, 3x daily to 72h; stuck jobs every 30m; recon daily."""
    rb = _load(SEED_EXAMPLES["003"])
    tiers = [(t.from_, t.until, t.every, t.times_per_day) for t in rb.hypercare.tiers]
    assert tiers == [
        (0.0, 6 * HOUR, 30 * MINUTE, None),
        (6 * HOUR, 24 * HOUR, HOUR, None),
        (24 * HOUR, 72 * HOUR, None, 3),
    ]
    checks = {c.id: c for c in rb.hypercare.checks}
    assert checks["stuck-job-detector"].every == 30 * MINUTE
    assert checks["stuck-job-detector"].with_["run"] == ["python3", "scripts/detect_stuck_finance_jobs.py"]
    assert checks["daily-recon"].every == 24 * HOUR
    report = next(r for r in rb.hypercare.reports if r.id == "control-24h")
    assert report.at == 24 * HOUR
    assert set(report.includes) == {"summary", "metrics", "actions"}
    assert rb.hypercare.focus == ("5xx rates", "Queue Backlog", "Webhook Failures", "Random Ledger Recon")


def test_payments_execution_checklist_inputs() -> None:
    """The checklist's blanks are inputs: snapshot id, deposit tx id, withdraw id, approve/paid timestamps."""
    rb = _load(SEED_EXAMPLES["003"])
    inputs = {s.id: [i.id for i in s.inputs] for _, s in rb.all_steps() if s.inputs}
    assert inputs["db-snapshot"] == ["snapshot_id", "snapshot_taken_at", "snapshot_checksum"]
    assert inputs["canary-deposit"] == ["tx_id"]
    assert inputs["canary-withdraw-request"] == ["withdraw_id"]
    assert inputs["canary-admin-approve"] == ["approved_at"]
    assert inputs["canary-mark-paid"] == ["paid_at"]
    assert inputs["release-pin"] == ["release_sha", "release_tag"]
    fields = {f.id for f in rb.signoff.fields}
    assert {"snapshot_id", "deposit_tx_id", "withdraw_id", "decision", "decider"} <= fields


def test_payments_rollback_plan_order() -> None:
    """Maintenance on, revert the release, restore snapshot or roll back migration, verify, re-open traffic."""
    rb = _load(SEED_EXAMPLES["003"])
    assert [s.id for s in rb.rollback.steps] == [
        "rollback-maintenance-on",
        "revert-release",
        "restore-or-downgrade",
        "restore-snapshot",
        "rollback-migration",
        "verify-login-after-rollback",
        "verify-read-only-endpoints",
        "reopen-traffic",
    ]


def test_payments_rollback_runs_only_the_db_branch_the_owner_chose() -> None:
    """ "Restore DB snapshot (if data corruption suspect) OR rollback migration (if safe)": one `if:` each."""
    rb = _load(SEED_EXAMPLES["003"])
    assert "restore-snapshot" in (_step(rb, "restore-snapshot").if_ or "")
    assert "rollback-migration" in (_step(rb, "rollback-migration").if_ or "")
    assert _step(rb, "rollback-migration").type == "command"


def test_payments_completion_criteria() -> None:
    """Complete: smoke PASS, canary PASS + report, no 5xx in 2h, queue under control, no triggers, 24h report."""
    rb = _load(SEED_EXAMPLES["003"])
    crit = {c.id: c for c in rb.completion}
    assert len(crit) == 6
    assert crit["no-rollback-triggers"].no_triggers is True
    assert crit["control-report"].reports == ("control-24h",)
    assert _step(rb, "observe-first-2h").duration == 2 * HOUR


# --- seed 004: supply-chain prod cutover -------------------------------------------------------------


def test_supply_chain_health_expects_200_and_status_ok() -> None:
    """The deploy's health check expects HTTP 200 and exactly {"status":"ok"}."""
    rb = _load(SEED_EXAMPLES["004"])
    health = _step(rb, "health")
    assert health.kind is models.StepKind.CHECK
    assert health.type == "http"
    expect = health.with_["expect"]
    assert expect["status"] == 200
    assert expect["json"] == {"$.status": "ok"}
    assert expect["condition"] == "json == {'status': 'ok'}"


def test_supply_chain_release_gate_expects_three_passes() -> None:
    """The release gate must print Security regression, Go-live acceptance and Release gate PASS."""
    rb = _load(SEED_EXAMPLES["004"])
    cond = _step(rb, "run-release-gate").with_["expect"]["condition"]
    for line in ("Security regression: PASS", "Go-live acceptance: PASS", "Release gate: PASS"):
        assert line in cond
    assert _step(rb, "run-release-gate").with_["env"]["BATCH_CODE"] == "${{ vars.batch_code }}"


def test_supply_chain_drills_recall_under_10s_and_audit_pack_valid() -> None:
    """Recall drill traces under 10s; the audit pack verifies valid with no missing files or mismatches."""
    rb = _load(SEED_EXAMPLES["004"])
    assert _step(rb, "recall-simulate").with_["expect"]["max_latency_ms"] == 10000
    verify = _step(rb, "audit-pack-verify")
    assert verify.with_["expect"]["json"] == {"$.valid": True, "$.missing_files": [], "$.mismatches": []}
    assert "${{ steps.audit-pack-generate.output.json.pack_id }}" in verify.with_["url"]


def test_supply_chain_go_no_go_and_rollback_triggers() -> None:
    """GO requires gate, recall, audit pack, auth and no error spikes; four triggers roll back immediately."""
    rb = _load(SEED_EXAMPLES["004"])
    go = _step(rb, "go-decision")
    assert {"run-release-gate", "recall-simulate", "audit-pack-verify", "auth-enforced", "no-error-spikes"} <= set(
        go.requires
    )
    assert {t.id for t in rb.triggers if t.then == "rollback"} == {
        "release-gate-failure",
        "recall-unavailable-or-slow",
        "audit-pack-mismatch",
        "auth-bypass",
    }
    assert [s.id for s in rb.rollback.steps] == ["revert-release", "restore-env"]
    assert [s.id for s in rb.rollback.confirm] == ["health-after-rollback", "security-regression-after-rollback"]


def test_supply_chain_signoff_log_fields_and_approvers() -> None:
    """Sign-off by Engineering, QA and Operations; the log has the deploy, drill and re-validation fields."""
    rb = _load(SEED_EXAMPLES["004"])
    assert [a.id for a in rb.signoff.areas] == ["engineering", "qa", "operations"]
    fields = {f.id for f in rb.signoff.fields}
    assert {
        "deployment_timestamp",
        "release_commit_sha",
        "release_tag",
        "release_gate_report",
        "security_regression_report",
        "go_live_acceptance_report",
        "recall_outcome",
        "audit_pack_id",
        "revalidation_timestamp",
        "revalidation_commit_sha",
        "revalidation_recall_trace_time",
        "approvers",
    } <= fields


def test_supply_chain_monitors_24h_every_2h() -> None:
    """First 24 hours: automation status every 2 hours (the seed's 2-4 h), KPI daily."""
    rb = _load(SEED_EXAMPLES["004"])
    (tier,) = rb.hypercare.tiers
    assert (tier.from_, tier.until, tier.every) == (0.0, 24 * HOUR, 2 * HOUR)
    checks = {c.id: c for c in rb.hypercare.checks}
    assert checks["automation-status"].with_["url"].endswith("/api/v1/automation/status")
    assert checks["kpi-daily"].every == 24 * HOUR

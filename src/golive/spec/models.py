"""Runbook format v1: frozen pydantic models.

A runbook is YAML with ``golive: 1`` at the top. The loader (:mod:`golive.spec.loader`) turns it into a
:class:`Runbook`; these models check the shape of every field, and the loader checks what crosses fields
(ids, roles, references, plugin params, cycles). Every model forbids unknown keys so that a typo is an
error with a suggestion, never a silently ignored line.
"""

from __future__ import annotations

import enum
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from golive import clock as clock_mod
from golive import patterns
from golive.spec import vartypes
from golive.spec.durations import Duration, TTime, format_duration, parse_ttime

__all__ = [
    "Artifact",
    "Baseline",
    "CadenceTier",
    "Channel",
    "Comms",
    "CompletionCriterion",
    "EvidenceItem",
    "EvidenceSpec",
    "FlagProviderRef",
    "FlagsSpec",
    "FollowUp",
    "Freeze",
    "FreezeHolidays",
    "HypercareReport",
    "HypercareSpec",
    "HypercareTier",
    "Input",
    "Judge",
    "JudgeMetric",
    "MetricRef",
    "OnOverrun",
    "Phase",
    "PluginRef",
    "Quorum",
    "Release",
    "RestoreAfter",
    "Retries",
    "Role",
    "RollbackPlan",
    "Runbook",
    "SecretRef",
    "Settings",
    "SignoffArea",
    "SignoffField",
    "SignoffSpec",
    "Steady",
    "Step",
    "StepKind",
    "Trigger",
    "Var",
    "Window",
]

FORMAT_VERSION = 1
ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]*$"
Id = Annotated[str, Field(pattern=ID_PATTERN, min_length=1, max_length=120)]
JUDGE_CHECK = "judge"  # the check type of a canary judgement (run by the engine, its params a Judge)
HISTORY_SOURCES = frozenset({"prometheus"})  # metric sources that can read a window in the past


class Model(BaseModel):
    """Frozen, keyword-only, unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, use_enum_values=False)


class StepKind(enum.StrEnum):
    CHECK = "check"
    ACTION = "action"
    MANUAL = "manual"
    DECISION = "decision"
    OBSERVE = "observe"
    NOTIFY = "notify"


# --- metadata -----------------------------------------------------------------------------------------


class Artifact(Model):
    """A release artifact pinned by digest."""

    name: str = Field(description="What the artifact is, e.g. 'api-image'.")
    digest: str = Field(pattern=r"^(sha256|sha512):[0-9a-fA-F]{16,128}$", description="sha256:<hex> of the artifact.")
    ref: str | None = Field(default=None, description="Where it lives: image reference, path or URL.")


class Release(Model):
    """The release pin: what exactly is going live."""

    tag: str | None = Field(default=None, description="Release tag, e.g. 'v1.4.0'.")
    sha: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{7,40}$", description="Git commit SHA (7-40 hex).")
    artifacts: tuple[Artifact, ...] = ()
    notes: str | None = None


class Role(Model):
    """A role in the cutover; people are assigned at run time."""

    title: str | None = None
    description: str = ""
    may: tuple[Literal["decide", "waive", "rollback", "signoff", "confirm-any", "assign"], ...] = Field(
        default=(), description="Powers beyond confirming the steps that name this role."
    )


class Quorum(Model):
    """N approvals by distinct people holding named roles, with exclusions (the two-person rule).

    ``not`` excludes the holders of roles (e.g. the deployer); ``not_performers_of`` excludes whoever performed
    the named steps (their own change); ``not_starter`` excludes whoever started the run.
    """

    approvals: int = Field(ge=1, le=50, description="How many distinct people must approve.")
    of: tuple[str, ...] = Field(min_length=1, description="Roles whose holders may approve, e.g. [ic, cab, sre].")
    not_: tuple[str, ...] = Field(
        default=(), alias="not", description="Roles whose holders may never approve, e.g. [deployer]."
    )
    not_performers_of: tuple[str, ...] = Field(
        default=(), description="Steps whose performer (who confirmed or acted) may not approve: their own change."
    )
    not_starter: bool = Field(default=True, description="The person who started the run may not approve.")

    @model_validator(mode="after")
    def _reachable(self) -> Quorum:
        if len(set(self.of)) != len(self.of):
            raise ValueError("'of' names a role twice")
        if self.approvals > len(self.of):
            # One person holds a role, so N distinct approvers need at least N roles.
            raise ValueError(
                f"approvals: {self.approvals} can never be met by the {len(self.of)} role(s) in 'of' (each role has "
                f"one holder); lower 'approvals' or name more roles in 'of'"
            )
        both = sorted(set(self.of) & set(self.not_))
        if both:
            raise ValueError(f"role(s) {', '.join(both)} are both in 'of' and in 'not'; keep each in one list")
        return self


class Var(Model):
    """A variable with a default; overridable with --var k=v or GOLIVE_VAR_<NAME>."""

    default: str | int | float | bool | None = None
    description: str = ""
    required: bool = False
    type: vartypes.VarType | None = Field(
        default=None,
        description="string, bool, int, number, duration, url or sql (a query run on purpose; settable only by "
        "the runbook or whoever starts the run). Unset: the type of the default.",
    )

    @property
    def kind(self) -> vartypes.VarType:
        """The declared type, or the one its default implies."""
        return self.type or vartypes.infer(self.default)

    @model_validator(mode="after")
    def _default_fits(self) -> Var:
        if self.default is not None and not (self.default == "" and self.kind != "sql"):
            try:
                vartypes.coerce("default", self.kind, self.default)
            except ValueError as exc:
                raise ValueError(f"the default does not fit 'type: {self.kind}': {exc}") from None
        return self


class SecretRef(Model):
    """Where a secret lives. The value is resolved at run time and never stored."""

    provider: str = Field(description="Secret provider: env, file, aws-secretsmanager, vault, ...")
    id: str = Field(description="The secret's id in its provider (name, path or ARN).")
    key: str | None = Field(default=None, description="A field inside a JSON secret.")
    options: dict[str, Any] = Field(default_factory=dict, description="Provider options (region, url, ...).")
    description: str = ""


class Settings(Model):
    """Run-wide settings."""

    concurrency: int = Field(default=8, ge=1, le=1000, description="Steps run at once inside a phase.")
    default_timeout: Duration = Field(default=300.0, description="Timeout of a step that sets none.")
    redact_ips: bool = Field(default=False, description="Redact IPv4/IPv6 addresses everywhere.")
    redact_patterns: tuple[RedactPattern, ...] = ()
    waiver_roles: tuple[str, ...] = Field(default=(), description="Roles that may waive a step.")
    rollback_roles: tuple[str, ...] = Field(default=(), description="Roles that may start the rollback.")
    decision_deadline: Duration | None = Field(default=None, description="Default deadline of decisions.")
    waiver_quorum: Quorum | None = Field(
        default=None, description="Every waiver needs this many approvals (a step's waiver_quorum overrides it)."
    )


class RedactPattern(Model):
    """A team's own redaction rule: a name (shown as the placeholder) and a regular expression."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", description="Lower-case letters, digits and '_'.")
    pattern: str

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str) -> str:
        # Compiled now so `validate` refuses a bad one with file:line, never the first redaction mid-run. It
        # must also be a pattern RE2 runs (linear time) and must not match the empty string.
        try:
            compiled = re.compile(v)
        except re.error as exc:
            raise ValueError(f"regex {v!r} is not valid: {exc}") from None
        patterns.check(v)
        if compiled.fullmatch(""):
            raise ValueError(f"regex {v!r} matches the empty string; make it match at least one character")
        return v


# --- steps --------------------------------------------------------------------------------------------


class Retries(Model):
    """Retry with exponential backoff: wait backoff, backoff*factor, ... capped at max_backoff."""

    attempts: int = Field(default=1, ge=1, le=100, description="Total attempts, including the first.")
    backoff: Duration = 1.0
    factor: float = Field(default=2.0, ge=1.0, le=10.0)
    max_backoff: Duration = 60.0


class EvidenceSpec(Model):
    """Evidence a step must hand in or keeps."""

    name: str = Field(description="What the evidence is, e.g. 'Redacted HTTP target config'.")
    required: bool = Field(default=False, description="A manual step cannot be confirmed without it.")
    description: str = ""


class Input(Model):
    """A value a person enters when confirming a manual step (e.g. the snapshot id)."""

    id: Id
    title: str = ""
    required: bool = True
    pattern: str | None = Field(
        default=None, description="A regular expression the whole value must match (RE2 syntax, linear time)."
    )
    secret: bool = Field(default=False, description="Redact the value wherever it appears.")

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, v: str | None) -> str | None:
        if v is not None:
            patterns.check(v)  # refused at load with file:line, never an error when someone confirms
        return v


class PluginRef(Model):
    """A plugin of some kind with its params, e.g. a trigger's metric source."""

    type: str
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")


class MetricRef(PluginRef):
    """A trigger's metric source: a ``metric`` plugin and its params."""


# --- baselines and judges -------------------------------------------------------------------------------


class Baseline(Model):
    """What a metric is compared with: exactly one of ``offset``, ``before``, ``source`` or ``run``."""

    offset: Duration | None = Field(
        default=None, gt=0, description="The same query shifted this far back, e.g. '1w' (Prometheus sources)."
    )
    before: Duration | None = Field(
        default=None, gt=0, description="The same query over a window this long that ends at T-0, e.g. '30m'."
    )
    source: MetricRef | None = Field(default=None, description="A second query, e.g. the stable fleet's.")
    total: MetricRef | None = Field(
        default=None,
        description="With 'source', for a rate: the second query's totals (e.g. the stable fleet's requests).",
    )
    run: str | None = Field(
        default=None, min_length=1, description="The recorded samples of a pinned earlier run (e.g. a rehearsal)."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Baseline:
        given = [k for k in ("offset", "before", "source", "run") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "a baseline needs exactly one of 'offset' (e.g. '1w'), 'before' (a window before T-0, e.g. '30m'), "
                f"'source' (a second query) or 'run' (an earlier run's id); got {', '.join(given) or 'none'}"
            )
        if self.total is not None and self.source is None:
            raise ValueError("'total' goes with 'source' (the second query's totals)")
        return self

    def describe(self) -> str:
        if self.offset is not None:
            return f"offset {format_duration(self.offset)}"
        if self.before is not None:
            return f"the {format_duration(self.before)} before T-0"
        if self.source is not None:
            return f"second query ({self.source.type})"
        return f"run {self.run}"


class JudgeMetric(Model):
    """One metric a judge compares, canary against baseline."""

    id: Id
    title: str = ""
    kind: Literal["continuous", "rate", "count"] = Field(
        default="continuous",
        description="continuous (latency, CPU: Mann-Whitney U), rate (events out of totals: exact binomial test), "
        "count (events per sample: exact test on the counts).",
    )
    source: MetricRef = Field(description="The canary's samples (for a rate: the events per sample, e.g. errors).")
    total: MetricRef | None = Field(default=None, description="For a rate: the totals per sample (e.g. requests).")
    baseline: Baseline | None = Field(default=None, description="This metric's baseline (default: the judge's).")
    worse: Literal["higher", "lower"] = Field(default="higher", description="Which direction is a regression.")
    weight: float = Field(default=1.0, gt=0, description="Share of the score.")
    critical: bool = Field(default=False, description="A regression here fails the judgement whatever the score.")
    min_effect: float = Field(
        default=0.1, ge=0, description="Smallest relative change that counts as a regression (0.1 = 10%)."
    )
    min_delta: float = Field(
        default=0.0, ge=0, description="Smallest absolute change that counts (the metric's unit; a rate's fraction)."
    )
    min_samples: int = Field(default=10, ge=2, description="Fewer samples on either side: inconclusive.")
    min_total: float = Field(default=100.0, ge=0, description="For a rate: fewer totals on either side: inconclusive.")

    @model_validator(mode="after")
    def _total_for_rates(self) -> JudgeMetric:
        if self.kind == "rate" and self.total is None:
            raise ValueError("a rate metric needs 'total' (the denominator, e.g. requests per sample)")
        if self.kind != "rate" and self.total is not None:
            raise ValueError("'total' belongs to rate metrics")
        if self.kind == "rate" and self.baseline is not None and self.baseline.source and not self.baseline.total:
            raise ValueError("a rate compared with a second query needs the baseline's 'total' too")
        return self


class Judge(Model):
    """A canary judgement: each metric's canary samples against its baseline, combined into a verdict."""

    metrics: tuple[JudgeMetric, ...] = Field(min_length=1)
    baseline: Baseline | None = Field(default=None, description="The baseline of metrics that set none.")
    window: Duration | None = Field(
        default=None, gt=0, description="A check judges the last this long (in an observe step: the window)."
    )
    step: Duration = Field(default=60.0, gt=0, description="Spacing of the samples (a range query's step).")
    alpha: float = Field(default=0.01, gt=0, lt=0.5, description="Significance level across all metrics (Holm).")
    pass_score: float = Field(default=95.0, ge=0, le=100, description="Score at or above which the canary passes.")
    marginal_score: float = Field(default=75.0, ge=0, le=100, description="Score at or above which it is marginal.")
    max_inconclusive: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Share of the weight that may lack data before the verdict is INCONCLUSIVE.",
    )
    sequential: bool = Field(
        default=False,
        description="Observe steps: also watch with an always-valid sequential test (mSPRT) at every 'step' and "
        "stop the window as soon as a regression is significant (half of alpha each for the watch and the end).",
    )
    deadline: Duration | None = Field(default=None, description="MARGINAL or INCONCLUSIVE: how long the IC has.")
    default: Literal["rollback", "hold", "continue"] = Field(
        default="rollback", description="MARGINAL or INCONCLUSIVE: what happens at the deadline."
    )

    @model_validator(mode="after")
    def _bands(self) -> Judge:
        if self.marginal_score > self.pass_score:
            raise ValueError("marginal_score must not be above pass_score")
        ids = [m.id for m in self.metrics]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"metric ids must be unique; repeated: {', '.join(dup)}")
        missing = [m.id for m in self.metrics if m.baseline is None and self.baseline is None]
        if self.baseline is not None and self.baseline.source is not None and self.baseline.total is None:
            rates = [m.id for m in self.metrics if m.kind == "rate" and m.baseline is None]
            if rates:
                raise ValueError(
                    f"rate metrics compared with a second query need the baseline's 'total': {', '.join(rates)}"
                )
        if missing:
            raise ValueError(f"metrics without a baseline (set the judge's 'baseline' or theirs): {', '.join(missing)}")
        return self

    def baseline_of(self, metric: JudgeMetric) -> Baseline:
        b = metric.baseline or self.baseline
        assert b is not None  # checked by _bands
        return b


class FlagProviderRef(PluginRef):
    """The kill-switch flags' provider: a ``flag`` plugin and its params."""


class Steady(Model):
    """A gate that passes only once its check held continuously for ``for`` (a breach restarts the clock)."""

    for_: Duration = Field(alias="for", gt=0, description="How long the check must hold without a breach, e.g. 60s.")
    every: Duration = Field(default=10.0, gt=0, description="Time between two probes of the check.")
    timeout: Duration | None = Field(
        default=None, gt=0, description="Give up after this long (default: ten times 'for')."
    )
    on_timeout: Literal["fail", "error", "warn"] = Field(
        default="fail", description="The step's outcome when it was not steady within the timeout."
    )

    @property
    def limit(self) -> float:
        return self.timeout if self.timeout is not None else 10 * self.for_

    @model_validator(mode="after")
    def _fits(self) -> Steady:
        if self.every > self.for_:
            raise ValueError("'every' must not be longer than 'for': a breach between two probes would go unseen")
        if self.limit < self.for_:
            raise ValueError("'timeout' must be at least 'for'")
        return self


class Step(Model):
    """One step of a phase (or of the rollback plan, or of hypercare)."""

    id: Id
    title: str = ""
    kind: StepKind
    description: str = ""
    role: str | None = Field(default=None, description="The role that performs or confirms the step.")
    at: TTime | None = Field(default=None, description="Planned time relative to T-0, e.g. 'T-15m'.")
    timeout: Duration | None = None
    retries: Retries | int = Field(default=1, description="Attempts (int) or a retry policy.")
    expected: Duration | None = Field(default=None, description="Expected duration, for the plan.")
    needs: tuple[str, ...] = Field(default=(), description="Steps of the same phase that must finish first.")
    blocking: bool = Field(default=True, description="A failure stops the phase (false: it is a warning).")
    waivable: bool = Field(
        default=True,
        description="false: a waiver of this step never satisfies a decision's requires (e.g. the canary steps "
        "of 'Canary FAIL = NO-GO, no exceptions').",
    )
    if_: str | None = Field(
        default=None,
        alias="if",
        description="Run only when this condition holds (names: vars, steps), e.g. "
        "\"steps.restore_choice.inputs.strategy == 'snapshot'\"; otherwise the step is recorded as skipped.",
    )
    idempotent: bool = Field(default=False, description="Safe to repeat after a crash left it unknown.")
    evidence: tuple[EvidenceSpec, ...] = ()
    refs: tuple[str, ...] = Field(default=(), description="Documents this step follows.")

    # check / action
    type: str | None = Field(default=None, description="Plugin name for check and action steps.")
    with_: dict[str, Any] = Field(default_factory=dict, alias="with", description="Plugin params.")
    # manual
    instructions: str = ""
    inputs: tuple[Input, ...] = ()
    # decision
    requires: tuple[str, ...] = Field(default=(), description="Steps or phases that must have passed for GO.")
    requires_strict: tuple[str, ...] = Field(
        default=(),
        description="Steps or phases that must have passed for GO, a waiver never counting (they are required too).",
    )
    recheck: tuple[str, ...] = Field(
        default=(),
        description="Check steps run again when someone decides GO; GO is refused if one does not pass now.",
    )
    statement: str | None = Field(default=None, description="The decision statement template.")
    quorum: Quorum | None = Field(
        default=None,
        description="Decisions: GO needs this many approvals by distinct people (NO-GO by 'role' still lands at once).",
    )
    waiver_quorum: Quorum | None = Field(
        default=None, description="A waiver of this step needs this many approvals (default: settings.waiver_quorum)."
    )
    deadline: Duration | None = None
    default: Literal["no-go", "rollback", "hold"] | None = Field(
        default=None, description="What happens when the deadline passes."
    )
    on_no_go: Literal["rollback", "stop", "keep-live"] = Field(
        default="rollback",
        description="What a NO-GO does: rollback (run the rollback plan), stop (end the run NO-GO), or keep-live "
        "(end the run STOPPED: what passed stays live, flags stay as set; `golive resume RUN --from PHASE` "
        "continues it later).",
    )
    # observe
    duration: Duration | None = None
    triggers: tuple[str, ...] = Field(default=(), description="Trigger ids watched (default: all).")
    judge: Judge | None = Field(
        default=None, description="Observe steps: judge the canary against its baseline over the window at its end."
    )
    min_coverage: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Observe steps: the fraction of the window that must really be watched for it to pass (default "
        "0.9); a gap between a trigger's readings longer than twice its interval is unwatched.",
    )
    on_low_coverage: Literal["extend", "fail"] = Field(
        default="extend",
        description="Observe steps: when less than min_coverage was watched, extend (watch on until it is met, at "
        "most max_extension) or fail (the step fails closed).",
    )
    max_extension: Duration | None = Field(
        default=None,
        gt=0,
        description="Observe steps, on_low_coverage: extend: the most a window is extended (default: its duration).",
    )
    # notify
    channels: tuple[str, ...] = Field(default=(), description="Channel ids (default: all).")
    message: str | None = None
    template: str | None = Field(default=None, description="A comms template name instead of a message.")
    # check: "wait until replication lag is 0 for 60 s"
    steady: Steady | None = Field(
        default=None,
        description="Checks only: pass once the check held continuously this long (a breach restarts the "
        "clock), e.g. '60s' or {for: 60s, every: 5s, timeout: 15m, on_timeout: fail}.",
    )
    # hypercare checks: a check with its own cadence (the payments seed's stuck-job detector every 30m and
    # its daily reconciliation report) runs on that grid from GO instead of at every tier tick.
    every: Duration | None = Field(
        default=None,
        gt=0,
        description="Hypercare checks only: run every this long after GO (e.g. '30m', '24h') instead of at each tier tick.",
    )

    @property
    def attempts(self) -> int:
        return self.retries if isinstance(self.retries, int) else self.retries.attempts

    @property
    def retry_policy(self) -> Retries:
        return Retries(attempts=self.retries) if isinstance(self.retries, int) else self.retries

    @field_validator("steady", mode="before")
    @classmethod
    def _steady_shorthand(cls, v: Any) -> Any:
        return {"for": v} if isinstance(v, str | int | float) and not isinstance(v, bool) else v

    @field_validator("retries")
    @classmethod
    def _retries_positive(cls, v: Retries | int) -> Retries | int:
        if isinstance(v, int) and not 1 <= v <= 100:
            raise ValueError("retries must be between 1 and 100 attempts")
        return v

    @model_validator(mode="after")
    def _kind_fields(self) -> Step:
        kind = self.kind
        if kind in (StepKind.CHECK, StepKind.ACTION) and not self.type:
            raise ValueError(f"a {kind.value} step needs 'type' (the plugin name, e.g. 'http')")
        if kind not in (StepKind.CHECK, StepKind.ACTION) and (self.type or self.with_):
            raise ValueError(f"'type' and 'with' belong to check and action steps, not {kind.value}")
        if kind is not StepKind.OBSERVE and self.judge is not None:
            raise ValueError("'judge' belongs to observe steps; a check judges with 'type: judge'")
        if self.steady is not None and kind is not StepKind.CHECK:
            raise ValueError("'steady' belongs to check steps (a condition that must hold for a while)")
        if kind is StepKind.OBSERVE and self.duration is None:
            raise ValueError("an observe step needs 'duration' (e.g. '60m')")
        if kind is not StepKind.OBSERVE and (
            self.min_coverage is not None
            or self.max_extension is not None
            or "on_low_coverage" in self.model_fields_set
        ):
            raise ValueError(
                "'min_coverage', 'on_low_coverage' and 'max_extension' belong to observe steps (how much of a "
                "window must really be watched)"
            )
        if kind is StepKind.NOTIFY and not (self.message or self.template):
            raise ValueError("a notify step needs 'message' or 'template'")
        if kind is StepKind.DECISION and not self.role:
            raise ValueError("a decision step needs 'role' (who decides, e.g. 'ic')")
        if kind is not StepKind.DECISION and (
            self.requires or self.requires_strict or self.recheck or self.statement or self.default or self.quorum
        ):
            raise ValueError(
                "'requires', 'requires_strict', 'recheck', 'statement', 'default' and 'quorum' belong to decision steps"
            )
        if kind is StepKind.DECISION and self.waiver_quorum is not None:
            raise ValueError("a decision cannot be waived, so 'waiver_quorum' does not apply; use 'quorum'")
        if kind is StepKind.MANUAL and not self.role:
            raise ValueError("a manual step needs 'role' (who confirms it)")
        return self


# --- schedule: windows and freezes ------------------------------------------------------------------


def _window_time(v: Any) -> Any:
    """A window edge: an ISO 8601 date-time with a timezone, or a T-time relative to ``t0``."""
    if isinstance(v, datetime):
        if v.tzinfo is None:
            raise ValueError(f"{v.isoformat()} needs a timezone, e.g. '{v.isoformat()}Z' or '{v.isoformat()}+01:00'")
        return v.isoformat()
    if not isinstance(v, str):
        raise ValueError(
            "expected an ISO 8601 date-time with a timezone ('2026-03-07T02:00:00Z') or a T-time ('T-30m')"
        )
    text = v.strip()
    if text.startswith("T"):
        parse_ttime(text)
        return text
    try:
        clock_mod.parse_time(text, naive_is_utc=False)
    except clock_mod.NoTimezone:
        raise ValueError(f"{text!r} needs a timezone, e.g. '{text}Z' or '{text}+01:00'") from None
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a date-time ('2026-03-07T02:00:00Z', with a timezone) nor a T-time ('T-30m')"
        ) from None
    return text


WindowTime = Annotated[str, BeforeValidator(_window_time)]


class OnOverrun(Model):
    """What happens past ``not_after``: the IC (or ``role``) is asked, with a deadline and a default."""

    role: str | None = Field(default=None, description="Who is asked (default: the role with the decide power).")
    deadline: Duration = Field(default=600.0, description="How long the answer may take, e.g. 10m.")
    default: Literal["continue", "rollback"] = Field(
        default="rollback", description="What happens when nobody answers by the deadline: continue or rollback."
    )


class Window(Model):
    """When the run (or a phase) may start and must be done: edges as date-times or T-times."""

    not_before: WindowTime | None = Field(default=None, description="Earliest start, e.g. '2026-03-07T02:00:00Z'.")
    not_after: WindowTime | None = Field(default=None, description="Must be done by, e.g. '2026-03-07T04:00:00Z'.")
    on_overrun: OnOverrun = Field(default_factory=OnOverrun, description="The question asked past not_after.")
    waivable_by: tuple[str, ...] = Field(
        default=(), description="Roles that may waive the window at the start (default: roles with the waive power)."
    )

    @model_validator(mode="after")
    def _some_edge(self) -> Window:
        if self.not_before is None and self.not_after is None:
            raise ValueError("a window needs not_before, not_after or both")
        return self

    def edges(self, t0: datetime | None) -> tuple[datetime | None, datetime | None]:
        """The window's edges as aware date-times (a T-time edge needs ``t0``)."""
        return _edge(self.not_before, t0), _edge(self.not_after, t0)


def _edge(text: str | None, t0: datetime | None) -> datetime | None:
    if text is None:
        return None
    if text.startswith("T"):
        if t0 is None:
            return None
        from datetime import timedelta

        return t0 + timedelta(seconds=parse_ttime(text))
    return clock_mod.parse_time(text)


def _check_timezone(name: str | None) -> str | None:
    if name is None:
        return None
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        import difflib

        close = difflib.get_close_matches(name, sorted(zoneinfo.available_timezones()), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else "; use an IANA name such as 'Europe/Berlin' or 'UTC'"
        raise ValueError(f"unknown timezone {name!r}{hint}") from None
    return name


class FreezeHolidays(Model):
    """The public holidays of a country (and subdivision) are frozen, each a whole day in ``timezone``."""

    country: str = Field(description="ISO 3166-1 alpha-2 code, e.g. DE, US, GB.")
    subdiv: str | None = Field(default=None, description="Subdivision code, e.g. BY (Bavaria), CA (California).")

    @field_validator("country")
    @classmethod
    def _country(cls, v: str) -> str:
        import difflib

        import holidays

        supported = holidays.list_supported_countries()
        if v not in supported:
            close = difflib.get_close_matches(v.upper(), sorted(supported), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown country {v!r}{hint}; use an ISO 3166-1 alpha-2 code such as DE, US or GB")
        return v

    @model_validator(mode="after")
    def _known(self) -> FreezeHolidays:
        import holidays

        subdivs = holidays.list_supported_countries()[self.country]
        if self.subdiv is not None and self.subdiv not in subdivs:
            raise ValueError(
                f"unknown subdivision {self.subdiv!r} of {self.country}; known: {', '.join(subdivs) or 'none'}"
            )
        return self


class Freeze(Model):
    """A change freeze: a live run does not start inside it (unless waived by a named role with a ticket).

    Give ``start`` and ``end`` (with an optional RFC 5545 ``rrule``), or ``holidays``, or ``ics`` (a shared
    calendar file; every event in it is a freeze).
    """

    id: Id
    title: str = ""
    start: datetime | date | None = Field(default=None, description="First occurrence's start (DTSTART).")
    end: datetime | date | None = Field(default=None, description="First occurrence's end (DTEND, exclusive).")
    rrule: str | None = Field(default=None, description="RFC 5545 recurrence rule, e.g. 'FREQ=WEEKLY;BYDAY=FR'.")
    exdates: tuple[datetime | date, ...] = Field(default=(), description="Occurrences left out (EXDATE).")
    timezone: str | None = Field(
        default=None, description="IANA zone for dates, naive times and holidays, e.g. Europe/Berlin (default UTC)."
    )
    holidays: FreezeHolidays | None = None
    ics: str | None = Field(default=None, description="A shared .ics file (path relative to the runbook).")
    waivable_by: tuple[str, ...] = Field(
        default=(), description="Roles that may waive this freeze (default: roles with the waive power)."
    )

    _tz = field_validator("timezone")(lambda cls, v: _check_timezone(v))

    @field_validator("rrule")
    @classmethod
    def _rrule(cls, v: str | None) -> str | None:
        if v is None:
            return None
        import icalendar

        text = v.strip().removeprefix("RRULE:")
        try:
            rule = icalendar.vRecur.from_ical(text)
            if "FREQ" not in rule:
                raise ValueError("FREQ is missing")
        except ValueError as exc:
            raise ValueError(
                f"bad RRULE {v!r}: {exc}; write an RFC 5545 rule such as 'FREQ=WEEKLY;BYDAY=FR' or "
                "'FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=24'"
            ) from None
        return text

    @model_validator(mode="after")
    def _one_source(self) -> Freeze:
        given = [n for n, v in (("start", self.start), ("holidays", self.holidays), ("ics", self.ics)) if v]
        if len(given) != 1:
            raise ValueError(
                "a freeze is one of: start + end (with an optional rrule), holidays: {country}, or ics: FILE"
                + (f"; got {' and '.join(given)}" if given else "")
            )
        if self.start is not None:
            if self.end is None:
                raise ValueError("a freeze with start needs end (exclusive), e.g. end: 2026-12-27")
            if isinstance(self.start, datetime) != isinstance(self.end, datetime):
                raise ValueError("start and end must both be dates or both date-times")
            for what, v in (("start", self.start), ("end", self.end)):
                if isinstance(v, datetime) and v.tzinfo is None and self.timezone is None:
                    raise ValueError(f"{what} {v.isoformat()} needs a timezone (add Z or +01:00, or set timezone:)")
            if (
                isinstance(self.start, datetime)
                and isinstance(self.end, datetime)
                and ((self.start.tzinfo is None) != (self.end.tzinfo is None))
            ):
                raise ValueError("start and end must both have a timezone or both have none (with timezone: set)")
            if self.end <= self.start:
                raise ValueError("end must be after start")
        elif self.rrule or self.end or self.exdates:
            raise ValueError("rrule, end and exdates belong to a freeze with start")
        return self


class Phase(Model):
    """Steps that run together; a phase starts when every phase before it passed or was waived."""

    id: Id
    title: str = ""
    description: str = ""
    at: TTime | None = None
    window: Window | None = Field(
        default=None,
        description="When this phase may start and must be done (live runs; the IC is asked past not_after).",
    )
    canary: bool | None = Field(
        default=None,
        description="This phase is the canary (comms send canary_passed/canary_failed). Unset: guessed from "
        "the word 'canary' in its id or title.",
    )
    preconditions: tuple[str, ...] = Field(default=(), description="What must hold, in words (shown in plan).")
    if_: str | None = Field(
        default=None,
        alias="if",
        description="Run the phase only when this condition holds (names: vars, steps), e.g. "
        "'vars.enable_tier2 == \"yes\"'; otherwise it and its steps are recorded as skipped.",
    )
    on_failure: Literal["no-go", "rollback", "stop", "decide"] = Field(
        default="no-go",
        description=(
            "Where the run goes when a blocking step fails: no-go (end NO-GO), rollback, stop (end FAILED), or "
            "decide (skip to the next decision, where GO is refused and the IC records the NO-GO)."
        ),
    )
    announce: dict[Literal["start", "pass", "fail"], str] = Field(
        default_factory=dict, description="Comms messages at phase start/pass/fail."
    )
    steps: tuple[Step, ...] = Field(min_length=1)


# --- triggers, rollback, flags ------------------------------------------------------------------------


class Armed(Model):
    """When a trigger is read whatever step is running: from the start of one phase to the end of another,
    the end of the cutover (``end``) or the end of hypercare (``hypercare``)."""

    from_: str | None = Field(
        default=None, alias="from", description="The phase whose start arms it (default: its first observe step's)."
    )
    until: str = Field(
        default="hypercare",
        description="The phase whose end disarms it, 'end' (the end of the cutover) or 'hypercare' (the default: "
        "the end of hypercare).",
    )


class Trigger(Model):
    """A rollback trigger: a condition on a metric, or a signal a person raises (no source)."""

    id: Id
    title: str = ""
    source: MetricRef | None = Field(default=None, description="Metric source; none means raised by a person.")
    when: str | None = Field(default=None, description="Condition on `value`, e.g. 'value > 0.15'.")
    interval: Duration = 30.0
    for_: Duration = Field(default=0.0, alias="for", description="How long the breach must be sustained.")
    no_data: Literal["fail", "ignore", "hold"] = "fail"
    max_errors: int = Field(default=3, ge=1, description="Consecutive errors before it fails closed.")
    then: Literal["rollback", "pause", "notify"] = "rollback"
    severity: Literal["critical", "high", "warning", "info"] = "critical"
    deadline: Duration | None = Field(default=None, description="For 'pause': how long the IC has.")
    default: Literal["rollback", "hold", "continue"] = Field(
        default="rollback", description="For 'pause': what happens at the deadline."
    )
    description: str = ""
    baseline: Baseline | None = Field(
        default=None,
        description="Read a baseline too: `when` then sees baseline, delta, ratio and delta_pts besides value.",
    )
    channels: tuple[str, ...] = Field(
        default=(), description="Channel ids its fire (and pause) messages go to (default: the routed channels)."
    )
    min_coverage: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="The fraction of an observe window this trigger must really have watched for the window to "
        "pass (default: the step's min_coverage, else 0.9).",
    )
    armed: Armed | None = Field(
        default=None,
        description="The span it is read over whatever step runs (action phases, enablement, hypercare): "
        "{from: PHASE, until: PHASE | end | hypercare}. Default: from the phase of its first observe step to the "
        "end of hypercare; a trigger no observe step watches is armed only when this says so.",
    )

    @model_validator(mode="after")
    def _source_needs_when(self) -> Trigger:
        if self.source is not None and not self.when:
            raise ValueError("a trigger with a source needs 'when' (e.g. 'value > 0.15')")
        if self.baseline is not None and self.source is None:
            raise ValueError("a trigger with a baseline needs a 'source' to compare with it")
        if self.armed is not None and self.source is None:
            raise ValueError("'armed' belongs to a trigger with a 'source' (one a person raises is never read)")
        if self.min_coverage is not None and self.source is None:
            raise ValueError("'min_coverage' belongs to a trigger with a 'source' (one a person raises is never read)")
        return self


class FollowUp(Model):
    """A duty after a rollback (e.g. "Keep blue running for 24 h"), confirmed like a manual step."""

    id: Id
    title: str
    role: str | None = Field(default=None, description="The role that confirms it (default: any role that decides).")


class RestoreAfter(Model):
    """Restore the flags' safe values right after this rollback step."""

    after: Id


class RollbackPlan(Model):
    """Rollback steps run in order (fastest lever first), then the confirmation checks."""

    roles: tuple[str, ...] = Field(default=(), description="Roles that may start it by hand.")
    restore_flags: Literal["first", "last", "never"] | RestoreAfter = Field(
        default="first",
        description="When the flags' safe values are restored: first (before the steps), last (after the steps, "
        "before the confirmation checks), after: STEP (right after that rollback step), or never.",
    )
    steps: tuple[Step, ...] = ()
    confirm: tuple[Step, ...] = ()
    follow_up: tuple[FollowUp | str, ...] = Field(
        default=(),
        description="Duties after a rollback, in words or as {id, title, role}; shown in status and reports and "
        "confirmed with `golive confirm RUN ID`.",
    )

    def follow_ups(self) -> tuple[FollowUp, ...]:
        """Every follow-up duty with an id (a duty given in words is ``follow-up-N``, counted from 1)."""
        return tuple(
            f if isinstance(f, FollowUp) else FollowUp(id=f"follow-up-{i}", title=f)
            for i, f in enumerate(self.follow_up, 1)
        )


class FlagsSpec(Model):
    """Kill-switch flags: their provider and the values that are safe."""

    provider: FlagProviderRef
    safe: dict[str, Any] = Field(description="Flag name -> safe value, restored on rollback.")
    descriptions: dict[str, str] = Field(default_factory=dict)


# --- comms --------------------------------------------------------------------------------------------


Severity = Literal["info", "warning", "high", "critical"]


class Channel(Model):
    """Where messages go, and which of them: every message unless ``events``/``except``/``min_severity``
    narrow it down. In a rehearsal or dry run, messages go to ``rehearsal`` instead when it is set."""

    id: Id
    url: str = Field(description="An Apprise URL (slack://, msteams://, discord://, mailto://, json://) or log://")
    required: bool = Field(default=False, description="A failed delivery blocks the cutover.")
    description: str = ""
    events: tuple[str, ...] = Field(
        default=(),
        description="Only these comms events (or event groups, e.g. decision_recorded, rollback_started); "
        "default: every event.",
    )
    except_: tuple[str, ...] = Field(default=(), alias="except", description="Every event but these.")
    min_severity: Severity | None = Field(
        default=None, description="Only messages at least this severe (info < warning < high < critical)."
    )
    rehearsal: str | None = Field(
        default=None,
        description="In a rehearsal or dry run, send here instead: another Apprise URL, or 'log' (golive's log).",
    )


class CadenceTier(Model):
    """Status updates every `every`, from `from_` to `until`, relative to a run anchor."""

    name: str = ""
    anchor: Literal["start", "go"] = Field(default="start", description="Measured from run start or GO.")
    from_: Duration = Field(default=0.0, alias="from")
    until: Duration | None = Field(default=None, description="End of the tier (none: until the anchor's end).")
    every: Duration
    template: str = "status_update"
    channels: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _positive_window(self) -> CadenceTier:
        # A zero interval would be an endless burst of updates; an empty window a tier that never speaks.
        if self.every <= 0:
            raise ValueError("'every' must be longer than 0s, e.g. '15m'")
        if self.until is not None and self.until <= self.from_:
            raise ValueError("'until' must be after 'from'")
        return self


class Comms(Model):
    channels: tuple[Channel, ...] = ()
    templates: dict[str, str] = Field(default_factory=dict, description="Event name -> message template.")
    cadence: tuple[CadenceTier, ...] = ()


# --- hypercare, sign-off, evidence, completion --------------------------------------------------------


class HypercareTier(Model):
    from_: Duration = Field(alias="from")
    until: Duration
    every: Duration | None = None
    times_per_day: int | None = Field(default=None, ge=1, le=24)

    @model_validator(mode="after")
    def _one_rate(self) -> HypercareTier:
        if (self.every is None) == (self.times_per_day is None):
            raise ValueError("a hypercare tier needs exactly one of 'every' or 'times_per_day'")
        if self.until <= self.from_:
            raise ValueError("'until' must be after 'from'")
        return self


class HypercareReport(Model):
    id: Id
    title: str
    at: Duration = Field(description="When the report is due, after GO.")
    includes: tuple[str, ...] = Field(default=("summary", "metrics", "actions"))


class HypercareSpec(Model):
    tiers: tuple[HypercareTier, ...] = ()
    checks: tuple[Step, ...] = ()
    reports: tuple[HypercareReport, ...] = ()
    focus: tuple[str, ...] = ()
    role: str | None = None


class SignoffArea(Model):
    id: Id
    title: str = ""
    role: str | None = Field(default=None, description="The role that signs this area.")


SIGNOFF_FIELD_TYPES = ("string", "int", "number", "bool", "date", "datetime", "url", "sha")


class SignoffField(Model):
    """A blank of the sign-off sheet: filled from the run (``value``) or by a person
    (``golive signoff RUN --field id=value``), checked against its ``type`` (and ``pattern``)."""

    id: Id
    title: str
    value: str | None = Field(default=None, description="Template filled from the run, e.g. ${{ release.sha }}.")
    type: Literal["string", "int", "number", "bool", "date", "datetime", "url", "sha"] = Field(
        default="string",
        description="What a person may enter: string, int, number, bool (yes/no/true/false), date (YYYY-MM-DD), "
        "datetime (ISO 8601 with a timezone), url (http/https), sha (7-40 hex).",
    )
    pattern: str | None = Field(default=None, description="A regular expression a value entered must match.")
    role: str | None = Field(default=None, description="The role that fills it (default: any role that signs).")


class SignoffSpec(Model):
    areas: tuple[SignoffArea, ...] = ()
    fields: tuple[SignoffField, ...] = ()


class EvidenceItem(Model):
    id: Id
    title: str
    steps: tuple[str, ...] = Field(default=(), description="Steps whose evidence satisfies this item.")
    when: Literal["always", "rollback"] = Field(default="always", description="'rollback': only if one ran.")


class CompletionCriterion(Model):
    id: Id
    title: str
    steps: tuple[str, ...] = ()
    signoffs: tuple[str, ...] = ()
    reports: tuple[str, ...] = Field(default=(), description="Hypercare reports that must be written.")
    no_triggers: bool = Field(default=False, description="No rollback trigger fired.")
    evidence_complete: bool = False


# --- pagers -------------------------------------------------------------------------------------------


class Pager(Model):
    """A pager woken when a trigger fires and told when it clears: PagerDuty Events v2, one alert per trigger.

    A fire triggers the alert (dedup key ``golive/<run id>/trigger/<trigger id>``); the trigger's first
    evaluation back at ok resolves it with the same key, and so does the end of the run.
    """

    id: Id
    type: Literal["pagerduty"] = "pagerduty"
    routing_key: str = Field(description="Integration (routing) key, e.g. '${{ secrets.pd_routing_key }}'.")
    url: str = Field(default="https://events.pagerduty.com", description="Events API base URL.")
    triggers: tuple[str, ...] = Field(default=(), description="Triggers that page (default: every trigger).")
    source: str = Field(default="", description="The alert's source (default: the runbook's service or name).")
    rehearsal: bool = Field(
        default=False, description="Page in rehearsals too (default: live runs only; dry runs never page)."
    )


# --- the runbook --------------------------------------------------------------------------------------


class Runbook(Model):
    """A go-live runbook, format v1."""

    golive: Literal[1] = Field(description="Format version; must be 1.")
    name: str = Field(min_length=1)
    title: str = ""
    description: str = ""
    service: str = ""
    environment: str = ""
    owner: str = ""
    release: Release = Field(default_factory=Release)
    t0: datetime | None = Field(default=None, description="Planned T-0 (ISO 8601 with a timezone).")
    window: Window | None = Field(
        default=None, description="When a live run may start and must be done (the IC is asked past not_after)."
    )
    freeze: tuple[Freeze, ...] = Field(default=(), description="Change freezes: a live run does not start inside one.")
    settings: Settings = Field(default_factory=Settings)
    roles: dict[Id, Role] = Field(default_factory=dict)
    vars: dict[Id, Var | str | int | float | bool] = Field(default_factory=dict)
    secrets: dict[Id, SecretRef] = Field(default_factory=dict)
    flags: FlagsSpec | None = None
    phases: tuple[Phase, ...] = Field(min_length=1)
    triggers: tuple[Trigger, ...] = ()
    rollback: RollbackPlan = Field(default_factory=RollbackPlan)
    comms: Comms = Field(default_factory=Comms)
    pagers: tuple[Pager, ...] = Field(default=(), description="Pagers woken by triggers (PagerDuty Events v2).")
    hypercare: HypercareSpec = Field(default_factory=HypercareSpec)
    signoff: SignoffSpec = Field(default_factory=SignoffSpec)
    evidence: tuple[EvidenceItem, ...] = ()
    completion: tuple[CompletionCriterion, ...] = ()

    @field_validator("t0")
    @classmethod
    def _t0_aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("t0 needs a timezone, e.g. '2026-03-01T10:00:00Z'")
        return v

    # -- helpers used by the engine, the plan and the reports --
    def var_defaults(self) -> dict[str, Any]:
        return {k: (v.default if isinstance(v, Var) else v) for k, v in self.vars.items()}

    def var_type(self, name: str) -> vartypes.VarType:
        """A declared var's type (a bare value's type is its own)."""
        v = self.vars[name]
        return v.kind if isinstance(v, Var) else vartypes.infer(v)

    def code_vars(self) -> tuple[str, ...]:
        """Vars declared to hold code (``type: sql``)."""
        return tuple(n for n in self.vars if self.var_type(n) in vartypes.CODE_TYPES)

    def all_steps(self) -> list[tuple[str, Step]]:
        """Every step with its section: a phase id, 'rollback', 'rollback.confirm' or 'hypercare'."""
        out: list[tuple[str, Step]] = [(p.id, s) for p in self.phases for s in p.steps]
        out += [("rollback", s) for s in self.rollback.steps]
        out += [("rollback.confirm", s) for s in self.rollback.confirm]
        out += [("hypercare", s) for s in self.hypercare.checks]
        return out

    def step(self, step_id: str) -> Step | None:
        for _, s in self.all_steps():
            if s.id == step_id:
                return s
        return None

    def phase(self, phase_id: str) -> Phase | None:
        return next((p for p in self.phases if p.id == phase_id), None)

    def phase_of(self, step_id: str) -> str | None:
        return next((sec for sec, s in self.all_steps() if s.id == step_id), None)

    def trigger(self, trigger_id: str) -> Trigger | None:
        return next((t for t in self.triggers if t.id == trigger_id), None)

    def roles_with(self, power: str) -> set[str]:
        """Roles holding a power, from role.may and the settings lists."""
        out = {rid for rid, r in self.roles.items() if power in r.may}
        if power == "waive":
            out |= set(self.settings.waiver_roles)
        if power == "rollback":
            out |= set(self.settings.rollback_roles) | set(self.rollback.roles)
        return out


Settings.model_rebuild()

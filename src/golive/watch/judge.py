"""Canary judgement: canary samples against baseline samples, metric by metric, combined into one verdict.

A pure library (no engine, no I/O): the caller reads the samples and hands them in as :class:`Samples`.

Per metric (:func:`judge_metric`):

- **continuous** (latency, CPU, queue depth): a one-sided Mann-Whitney U test (``scipy.stats.mannwhitneyu``)
  of "the canary is worse than the baseline". Samples taken seconds apart are not independent, and a rank
  test on them overstates the evidence; so each side is first cut into consecutive batches whose length
  comes from the series' lag-1 autocorrelation (``(1 + r) / (1 - r)`` samples, rounded, the batch-means rule), and
  the test runs on the batch means. A regression also needs the medians to differ by at least the metric's
  effect floor (``min_effect`` relative, ``min_delta`` absolute): a significant 1% shift is not a reason to
  roll back.
- **rate** (errors out of requests) and **count** (events per sample): an exact conditional binomial test
  (``scipy.stats.binomtest``): given all events of both sides, how many fell on the canary against its
  share of the traffic. Real error rates vary from minute to minute more than a binomial says; that
  over-dispersion (what a beta-binomial model captures) is estimated from the samples (Pearson's
  chi-square per degree of freedom, between batches of samples as long as the rate's autocorrelation
  says). From 30 events on, the quasi-binomial test replaces the exact one: the same conditional count,
  its variance scaled by the dispersion (at least 1), read against Student's t with the batches' degrees
  of freedom (the dispersion is an estimate too). Below 30 events the exact test runs on the raw counts. Zero-inflated data needs no special model: a canary with no events cannot be worse,
  and a handful of events against none gives no significance.

Fewer than ``min_samples`` samples (or ``min_total`` totals for a rate) on either side make the metric
*inconclusive*: no evidence is not a pass.

Across metrics (:func:`judge`): the p-values are Holm-corrected (family-wise error at ``alpha``); a metric
*fails* when its corrected p-value is below ``alpha`` and its change clears the effect floor. The score is
the weight of the passing metrics over the weight of the decided ones, 0 to 100. The verdict:

- FAIL when a critical metric fails, or when the score would be below ``marginal_score`` even if every
  inconclusive metric passed;
- INCONCLUSIVE when a critical metric is inconclusive, or more than ``max_inconclusive`` of the weight is;
- else PASS at or above ``pass_score``, MARGINAL at or above ``marginal_score``, FAIL below.

MARGINAL and INCONCLUSIVE never pass by themselves: the engine asks the IC (a pause with a deadline and a
default).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import stats

from golive.spec import models

__all__ = [
    "Judgement",
    "MetricVerdict",
    "Samples",
    "Verdict",
    "batch_length",
    "combine",
    "holm",
    "judge",
    "judge_metric",
]

MIN_BATCHES = 5  # batch means never leave fewer than this many points per side
QUASI_MIN_EVENTS = 30  # events on both sides together from which the quasi-binomial test replaces the exact one
RATE_BATCHES = 10  # a rate's dispersion is measured between at most about this many batches per side
MAX_STORED_SAMPLES = 500  # samples per side kept in a judgement's evidence (the rest is summarised)


class Verdict(enum.StrEnum):
    PASS = "PASS"
    MARGINAL = "MARGINAL"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"


MetricStatus = Literal["pass", "fail", "inconclusive"]


class Samples(BaseModel):
    """One metric's samples: canary and baseline values; for a rate, also the totals sample by sample."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    canary: tuple[float, ...]
    baseline: tuple[float, ...]
    canary_total: tuple[float, ...] | None = None
    baseline_total: tuple[float, ...] | None = None
    error: str | None = None  # the samples could not be read: the metric is inconclusive, with this reason


class MetricVerdict(BaseModel):
    """What the judge found for one metric: summaries, the test, the effect and the status."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    kind: str
    status: MetricStatus
    reason: str
    test: str
    weight: float
    critical: bool
    n_canary: int
    n_baseline: int
    canary: dict[str, float | None]  # summary: median/mean/p90 or rate/events/total
    baseline: dict[str, float | None]
    statistic: float | None = None
    p_value: float | None = None  # one-sided, before the Holm correction
    p_adjusted: float | None = None
    effect: float | None = None  # relative change, canary against baseline, in the worse direction
    delta: float | None = None  # absolute change, canary minus baseline
    batch: int | None = None  # batch length used (continuous)
    dispersion: float | None = None  # over-dispersion divided out (rate, count)
    samples: dict[str, list[float]] = Field(default_factory=dict)


class Judgement(BaseModel):
    """A judgement: the verdict, the score and every metric's evidence."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    verdict: Verdict
    score: float | None
    reason: str
    alpha: float
    pass_score: float
    marginal_score: float
    metrics: tuple[MetricVerdict, ...]

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASS

    def summary(self) -> str:
        score = f" (score {self.score:.0f})" if self.score is not None else ""
        return f"judge {self.verdict.value}{score}: {self.reason}"

    def event_data(self) -> dict[str, Any]:
        """The JSON form stored with the step's result (samples, statistics, p-values, effects, verdict).
        A non-finite number (the relative change against a baseline of 0 is infinite) is stored as null:
        JSON has no infinity, and PostgreSQL's jsonb refuses one."""
        data: dict[str, Any] = _finite_json(self.model_dump(mode="python"))
        return data


def _finite_json(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_json(v) for v in value]
    return value


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1), in the input's order.

    scipy.stats offers Benjamini-Hochberg (``false_discovery_control``) but not Holm; a rollback judge wants
    the family-wise error rate bounded, which is Holm's.
    """
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    out = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out


def batch_length(x: np.ndarray[Any, Any], max_len: int) -> int:
    """Samples per batch so that batch means are about independent: ``(1 + r) / (1 - r)`` rounded, r the
    lag-1 autocorrelation of the linearly detrended series (1 when r <= 0 or the series is constant), at
    most ``max_len``."""
    if len(x) < 3 or max_len <= 1:
        return 1
    t = np.arange(len(x), dtype=float)
    d = x - np.polyval(np.polyfit(t, x, 1), t)  # detrended: a ramping regression is not noise
    var = float(np.dot(d, d))
    if var <= 1e-12 * max(1.0, float(np.dot(x, x))):  # constant or a straight line: nothing to batch
        return 1
    r = float(np.dot(d[:-1], d[1:])) / var
    if r <= 0.0:
        return 1
    r = min(r, 0.95)
    return max(1, min(max_len, round((1 + r) / (1 - r))))


def _batch_means(x: np.ndarray[Any, Any], b: int) -> np.ndarray[Any, Any]:
    if b <= 1:
        return x
    n = len(x) // b * b
    return np.asarray(x[len(x) - n :].reshape(-1, b).mean(axis=1))


def _batch_sums(x: np.ndarray[Any, Any], b: int) -> np.ndarray[Any, Any]:
    if b <= 1:
        return x
    n = len(x) // b * b
    return np.asarray(x[len(x) - n :].reshape(-1, b).sum(axis=1))


def _summary(x: np.ndarray[Any, Any]) -> dict[str, float | None]:
    if len(x) == 0:
        return {"median": None, "mean": None, "p90": None}
    return {
        "median": float(np.median(x)),
        "mean": float(np.mean(x)),
        "p90": float(np.quantile(x, 0.9)),
    }


def _kept(x: np.ndarray[Any, Any]) -> list[float]:
    return [float(v) for v in x[-MAX_STORED_SAMPLES:]]


def _finite(values: Sequence[float]) -> np.ndarray[Any, Any]:
    a = np.asarray(values, dtype=float)
    return np.asarray(a[np.isfinite(a)])


def _relative(delta: float, base: float) -> float:
    if base != 0.0:
        return delta / abs(base)
    return math.inf if delta > 0 else 0.0


def judge_metric(metric: models.JudgeMetric, samples: Samples) -> MetricVerdict:
    """One metric's test and effect (status before the Holm correction: pass or inconclusive)."""
    base: dict[str, Any] = {"id": metric.id, "kind": metric.kind, "weight": metric.weight, "critical": metric.critical}
    if samples.error is not None:
        return MetricVerdict(
            **base,
            status="inconclusive",
            reason=f"no samples: {samples.error}",
            test="none",
            n_canary=0,
            n_baseline=0,
            canary={},
            baseline={},
        )
    if metric.kind == "continuous":
        return _continuous(metric, samples, base)
    return _counts(metric, samples, base)


def _continuous(metric: models.JudgeMetric, samples: Samples, base: dict[str, Any]) -> MetricVerdict:
    c = _finite(samples.canary)
    b = _finite(samples.baseline)
    common: dict[str, Any] = {
        **base,
        "test": "mann-whitney-u",
        "n_canary": len(c),
        "n_baseline": len(b),
        "canary": _summary(c),
        "baseline": _summary(b),
        "samples": {"canary": _kept(c), "baseline": _kept(b)},
    }
    if len(c) < metric.min_samples or len(b) < metric.min_samples:
        return MetricVerdict(
            **common,
            status="inconclusive",
            reason=f"{len(c)} canary and {len(b)} baseline samples; at least {metric.min_samples} each are needed",
        )
    sign = 1.0 if metric.worse == "higher" else -1.0
    delta = float(np.median(c) - np.median(b))
    effect = _relative(sign * delta, float(np.median(b)))
    blen = min(
        max(batch_length(c, len(c) // MIN_BATCHES), batch_length(b, len(b) // MIN_BATCHES)),
        max(1, min(len(c), len(b)) // MIN_BATCHES),
    )
    cm, bm = _batch_means(c, blen), _batch_means(b, blen)
    if np.ptp(cm) == 0.0 and np.ptp(bm) == 0.0:
        # Two constant series (identical baselines): the rank test has nothing to rank; the values decide.
        worse = sign * (float(cm[0]) - float(bm[0])) > 0
        stat, p = (float(len(cm) * len(bm)) if worse else 0.0), (0.0 if worse else 1.0)
    else:
        res = stats.mannwhitneyu(cm, bm, alternative="greater" if sign > 0 else "less", method="auto")
        stat, p = float(res.statistic), float(res.pvalue)
    return MetricVerdict(
        **common,
        status="pass",
        reason="",
        statistic=stat,
        p_value=p,
        effect=effect,
        delta=delta,
        batch=blen,
    )


def _counts(metric: models.JudgeMetric, samples: Samples, base: dict[str, Any]) -> MetricVerdict:
    rate = metric.kind == "rate"
    ce, be = np.asarray(samples.canary, dtype=float), np.asarray(samples.baseline, dtype=float)
    if rate:
        if samples.canary_total is None or samples.baseline_total is None:
            raise ValueError(f"metric {metric.id!r} is a rate: totals are needed on both sides")
        ct, bt = np.asarray(samples.canary_total, dtype=float), np.asarray(samples.baseline_total, dtype=float)
        if len(ct) != len(ce) or len(bt) != len(be):
            raise ValueError(f"metric {metric.id!r}: events and totals must pair up sample by sample")
    else:
        ct, bt = np.ones_like(ce), np.ones_like(be)
    keep_c = np.isfinite(ce) & np.isfinite(ct) & (ct > 0)
    keep_b = np.isfinite(be) & np.isfinite(bt) & (bt > 0)
    ce, ct, be, bt = np.clip(ce[keep_c], 0, None), ct[keep_c], np.clip(be[keep_b], 0, None), bt[keep_b]
    ec, nc, eb, nb = float(ce.sum()), float(ct.sum()), float(be.sum()), float(bt.sum())
    rc = ec / nc if nc else None
    rb = eb / nb if nb else None
    unit = "rate" if rate else "per_sample"
    common: dict[str, Any] = {
        **base,
        "test": "exact-binomial",
        "n_canary": len(ce),
        "n_baseline": len(be),
        "canary": {unit: rc, "events": ec, "total": nc},
        "baseline": {unit: rb, "events": eb, "total": nb},
        "samples": {"canary": _kept(ce), "baseline": _kept(be)}
        | ({"canary_total": _kept(ct), "baseline_total": _kept(bt)} if rate else {}),
    }
    short = len(ce) < metric.min_samples or len(be) < metric.min_samples
    if short or (rate and (nc < metric.min_total or nb < metric.min_total)):
        need = f"at least {metric.min_samples} samples" + (f" and {metric.min_total:g} totals" if rate else "")
        return MetricVerdict(
            **common,
            status="inconclusive",
            reason=f"{len(ce)} canary samples ({nc:g} total), {len(be)} baseline samples ({nb:g} total); {need} "
            "on each side are needed",
        )
    assert rc is not None
    assert rb is not None
    sign = 1.0 if metric.worse == "higher" else -1.0
    delta = rc - rb
    effect = _relative(sign * delta, rb)
    # Error rates wander from sample to sample and stay high or low for a while: sum the counts into
    # batches as long as the rate's autocorrelation says, then measure the dispersion between batches.
    most = max(1, min(len(ce), len(be)) // MIN_BATCHES)
    blen = min(
        most,
        max(
            batch_length(ce / ct, most),
            batch_length(be / bt, most),
            min(len(ce), len(be)) // RATE_BATCHES,
        ),
    )
    phi = _dispersion(*(_batch_sums(x, blen) for x in (ce, ct, be, bt)))
    share = nc / (nc + nb)
    n = round(ec + eb)
    if n == 0:
        test, stat, p = "exact-binomial", 0.0, 1.0  # no events on either side: nothing can be worse
    elif ec + eb < QUASI_MIN_EVENTS:
        res = stats.binomtest(min(round(ec), n), n, share, alternative="greater" if sign > 0 else "less")
        test, stat, p = "exact-binomial", float(ec), float(res.pvalue)
    else:
        # Enough events for the normal approximation: the quasi-binomial test, the same conditional count
        # with its variance scaled by the estimated dispersion (at least 1) and read against Student's t
        # with the batches' degrees of freedom, since phi is itself an estimate.
        z = sign * (ec - (ec + eb) * share) / math.sqrt(phi * (ec + eb) * share * (1.0 - share))
        dof = max(1, math.ceil(len(ce) / blen) + math.ceil(len(be) / blen) - 2)
        test, stat, p = "quasi-binomial", z, float(stats.t.sf(z, dof))
    return MetricVerdict(
        **(common | {"test": test}),
        status="pass",
        reason="",
        statistic=stat,
        p_value=p,
        effect=effect,
        delta=delta,
        batch=blen,
        dispersion=phi,
    )


def _dispersion(
    ce: np.ndarray[Any, Any], ct: np.ndarray[Any, Any], be: np.ndarray[Any, Any], bt: np.ndarray[Any, Any]
) -> float:
    """Pearson chi-square per degree of freedom of the samples around each side's own rate, at least 1."""
    chi2 = 0.0
    for e, t in ((ce, ct), (be, bt)):
        p = e.sum() / t.sum()
        if 0.0 < p < 1.0:
            var = t * p * (1.0 - p)
            chi2 += float(np.sum((e - t * p) ** 2 / var))
    dof = len(ce) + len(be) - 2
    return max(1.0, chi2 / dof) if dof > 0 else 1.0


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.4g}"


def judge(spec: models.Judge, samples: Mapping[str, Samples]) -> Judgement:
    """Judge every metric of ``spec`` on its samples (a metric with none is inconclusive) and combine."""
    raw = [
        judge_metric(m, samples.get(m.id) or Samples(canary=(), baseline=(), error="not read")) for m in spec.metrics
    ]
    tested = [i for i, v in enumerate(raw) if v.p_value is not None]
    adjusted = holm([raw[i].p_value for i in tested])  # type: ignore[misc]
    verdicts: list[MetricVerdict] = list(raw)
    for i, p_adj in zip(tested, adjusted, strict=True):
        v, m = raw[i], spec.metrics[i]
        assert v.effect is not None
        assert v.delta is not None
        big = v.effect >= m.min_effect and abs(v.delta) >= m.min_delta
        significant = p_adj < spec.alpha
        direction = "higher" if m.worse == "higher" else "lower"
        what = (
            f"canary {_fmt(_centre(v.canary))} vs baseline {_fmt(_centre(v.baseline))} "
            f"({v.effect:+.1%} {direction} is worse), p={p_adj:.3g}"
        )
        if significant and big:
            status: MetricStatus = "fail"
            reason = f"regression: {what} < alpha {spec.alpha:g}"
        elif significant:
            status, reason = "pass", f"{what}: significant but below the effect floor ({m.min_effect:.0%})"
        else:
            status, reason = "pass", f"{what}: no significant regression"
        verdicts[i] = v.model_copy(update={"status": status, "reason": reason, "p_adjusted": p_adj})
    return combine(spec, tuple(verdicts))


def _centre(summary: Mapping[str, float | None]) -> float | None:
    for key in ("median", "rate", "per_sample"):
        if key in summary:
            return summary[key]
    return None


def combine(spec: models.Judge, metrics: tuple[MetricVerdict, ...]) -> Judgement:
    """The verdict from per-metric statuses: critical metrics, score, bands (see the module docstring)."""
    total = sum(m.weight for m in metrics)
    passed = sum(m.weight for m in metrics if m.status == "pass")
    failed = sum(m.weight for m in metrics if m.status == "fail")
    unknown = sum(m.weight for m in metrics if m.status == "inconclusive")
    decided = passed + failed
    score = 100.0 * passed / decided if decided > 0 else None
    best = 100.0 * (passed + unknown) / total
    fails = [m.id for m in metrics if m.status == "fail"]
    unsure = [m.id for m in metrics if m.status == "inconclusive"]
    critical_fail = [m.id for m in metrics if m.status == "fail" and m.critical]
    critical_unsure = [m.id for m in metrics if m.status == "inconclusive" and m.critical]

    def out(verdict: Verdict, reason: str) -> Judgement:
        return Judgement(
            verdict=verdict,
            score=score,
            reason=reason,
            alpha=spec.alpha,
            pass_score=spec.pass_score,
            marginal_score=spec.marginal_score,
            metrics=metrics,
        )

    if critical_fail:
        return out(Verdict.FAIL, f"critical metric regressed: {', '.join(critical_fail)}")
    if fails and best < spec.marginal_score:
        return out(Verdict.FAIL, f"regressed: {', '.join(fails)}")
    if critical_unsure:
        return out(Verdict.INCONCLUSIVE, f"not enough data for critical metric {', '.join(critical_unsure)}")
    if unknown / total > spec.max_inconclusive:
        return out(Verdict.INCONCLUSIVE, f"not enough data for {', '.join(unsure)}")
    assert score is not None
    if score >= spec.pass_score:
        extra = f"; not enough data for {', '.join(unsure)}" if unsure else ""
        return out(Verdict.PASS, f"no regression in {len(metrics) - len(unsure)} metric(s){extra}")
    if score >= spec.marginal_score:
        return out(Verdict.MARGINAL, f"regressed: {', '.join(fails)} (score between the bands)")
    return out(Verdict.FAIL, f"regressed: {', '.join(fails)}")

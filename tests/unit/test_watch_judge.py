"""The canary judge: per-metric tests, Holm correction, weights, critical metrics and verdict bands."""

from __future__ import annotations

from typing import Any

import numpy as np
import pydantic
import pytest

from golive.spec import models
from golive.watch import judge as judge_mod
from golive.watch.judge import Samples, Verdict

SRC = {"type": "prometheus", "with": {"url": "http://127.0.0.1:1", "query": "x"}}


def spec(*metrics: dict[str, Any], **kw: Any) -> models.Judge:
    ms = [{"source": SRC, **m} | ({"total": SRC} if m.get("kind") == "rate" else {}) for m in metrics]
    return models.Judge.model_validate({"metrics": ms, "baseline": {"offset": "1w"}} | kw)


def latency(rng: np.random.Generator, centre: float, n: int = 60) -> tuple[float, ...]:
    return tuple(float(v) for v in rng.normal(centre, 10.0, n))


def errors(rng: np.random.Generator, rate: float, n: int = 60, per: int = 5000) -> tuple[tuple[float, ...], ...]:
    return tuple(float(v) for v in rng.binomial(per, rate, n)), (float(per),) * n


def test_holm_matches_the_step_down_definition() -> None:
    """Holm multiplies the k-th smallest p-value by (m - k + 1), keeps them monotone and caps at 1."""
    assert judge_mod.holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert judge_mod.holm([0.6, 0.6]) == [1.0, 1.0]
    assert judge_mod.holm([]) == []


def test_a_latency_regression_fails_and_a_clean_canary_passes() -> None:
    """+50 ms on 250 ms fails by Mann-Whitney U; the same distribution passes."""
    rng = np.random.default_rng(1)
    s = spec({"id": "p99"})
    bad = judge_mod.judge(s, {"p99": Samples(canary=latency(rng, 300), baseline=latency(rng, 250))})
    assert bad.verdict is Verdict.FAIL
    m = bad.metrics[0]
    assert m.status == "fail"
    assert m.test == "mann-whitney-u"
    assert m.p_adjusted is not None
    assert m.p_adjusted < 0.01
    assert m.effect == pytest.approx(0.2, abs=0.05)
    good = judge_mod.judge(s, {"p99": Samples(canary=latency(rng, 250), baseline=latency(rng, 250))})
    assert good.verdict is Verdict.PASS
    assert good.score == 100.0


def test_a_significant_change_below_the_effect_floor_passes() -> None:
    """A 2% shift is significant on many samples but below the 10% floor: not a regression."""
    rng = np.random.default_rng(2)
    s = spec({"id": "p99"})
    canary = tuple(float(v) for v in rng.normal(255, 1.0, 200))
    baseline = tuple(float(v) for v in rng.normal(250, 1.0, 200))
    j = judge_mod.judge(s, {"p99": Samples(canary=canary, baseline=baseline)})
    assert j.metrics[0].p_adjusted is not None
    assert j.metrics[0].p_adjusted < 0.01
    assert j.verdict is Verdict.PASS
    assert "below the effect floor" in j.metrics[0].reason


def test_lower_is_worse_detects_a_drop() -> None:
    """With worse: lower, a drop in a success rate is the regression and a rise is not."""
    rng = np.random.default_rng(3)
    s = spec({"id": "auth", "worse": "lower"})
    drop = judge_mod.judge(s, {"auth": Samples(canary=latency(rng, 80), baseline=latency(rng, 100))})
    assert drop.verdict is Verdict.FAIL
    rise = judge_mod.judge(s, {"auth": Samples(canary=latency(rng, 120), baseline=latency(rng, 100))})
    assert rise.verdict is Verdict.PASS


def test_an_error_rate_step_fails_by_the_binomial_test() -> None:
    """1.0% -> 1.5% errors on 5,000 requests a sample fails; equal rates pass."""
    rng = np.random.default_rng(4)
    s = spec({"id": "errors", "kind": "rate"})
    ce, ct = errors(rng, 0.015)
    be, bt = errors(rng, 0.010)
    bad = judge_mod.judge(s, {"errors": Samples(canary=ce, baseline=be, canary_total=ct, baseline_total=bt)})
    assert bad.verdict is Verdict.FAIL
    assert bad.metrics[0].test in ("exact-binomial", "quasi-binomial")
    assert bad.metrics[0].canary["rate"] == pytest.approx(0.015, rel=0.1)
    ce, ct = errors(rng, 0.010)
    good = judge_mod.judge(s, {"errors": Samples(canary=ce, baseline=be, canary_total=ct, baseline_total=bt)})
    assert good.verdict is Verdict.PASS


def test_zero_inflated_errors_do_not_fail_on_a_handful_and_zeros_pass() -> None:
    """All zeros on both sides pass (kayenta#674); 2 errors against none are no evidence; 40 against none are."""
    s = spec({"id": "errors", "kind": "rate"})
    zeros = (0.0,) * 30
    totals = (1000.0,) * 30
    both = judge_mod.judge(
        s, {"errors": Samples(canary=zeros, baseline=zeros, canary_total=totals, baseline_total=totals)}
    )
    assert both.verdict is Verdict.PASS
    assert both.metrics[0].p_value == 1.0
    few = (1.0, 1.0) + (0.0,) * 28
    two = judge_mod.judge(
        s, {"errors": Samples(canary=few, baseline=zeros, canary_total=totals, baseline_total=totals)}
    )
    assert two.verdict is Verdict.PASS
    many = (2.0,) * 20 + (0.0,) * 10
    lots = judge_mod.judge(
        s, {"errors": Samples(canary=many, baseline=zeros, canary_total=totals, baseline_total=totals)}
    )
    assert lots.verdict is Verdict.FAIL


def test_identical_constant_series_pass_and_a_constant_step_fails() -> None:
    """Two identical constant series (kayenta#538) pass without a NaN; a constant canary above fails."""
    s = spec({"id": "dlq"})
    same = judge_mod.judge(s, {"dlq": Samples(canary=(0.0,) * 20, baseline=(0.0,) * 20)})
    assert same.verdict is Verdict.PASS
    assert same.metrics[0].p_value == 1.0
    step = judge_mod.judge(s, {"dlq": Samples(canary=(5.0,) * 20, baseline=(0.0,) * 20)})
    assert step.verdict is Verdict.FAIL


def test_too_few_samples_are_inconclusive_never_a_pass() -> None:
    """Fewer than min_samples, too little traffic, or an unread metric: INCONCLUSIVE."""
    rng = np.random.default_rng(5)
    s = spec({"id": "p99"})
    j = judge_mod.judge(s, {"p99": Samples(canary=latency(rng, 250, 5), baseline=latency(rng, 250))})
    assert j.verdict is Verdict.INCONCLUSIVE
    assert "at least 10" in j.metrics[0].reason
    r = spec({"id": "errors", "kind": "rate", "min_total": 1000})
    thin = (1.0,) * 20
    t = judge_mod.judge(r, {"errors": Samples(canary=thin, baseline=thin, canary_total=thin, baseline_total=thin)})
    assert t.verdict is Verdict.INCONCLUSIVE
    unread = judge_mod.judge(s, {"p99": Samples(canary=(), baseline=(), error="prometheus unreachable")})
    assert unread.verdict is Verdict.INCONCLUSIVE
    assert judge_mod.judge(s, {}).verdict is Verdict.INCONCLUSIVE


def test_weights_give_marginal_and_a_critical_metric_fails_regardless() -> None:
    """One of four equal metrics failing scores 75: MARGINAL; the same metric marked critical: FAIL."""
    rng = np.random.default_rng(6)
    ids = ["a", "b", "c", "d"]
    data = {i: Samples(canary=latency(rng, 250), baseline=latency(rng, 250)) for i in ids}
    data["a"] = Samples(canary=latency(rng, 320), baseline=latency(rng, 250))
    j = judge_mod.judge(spec(*({"id": i} for i in ids)), data)
    assert j.verdict is Verdict.MARGINAL
    assert j.score == 75.0
    crit = judge_mod.judge(spec({"id": "a", "critical": True}, *({"id": i} for i in ids[1:])), data)
    assert crit.verdict is Verdict.FAIL
    assert "critical" in crit.reason
    heavy = judge_mod.judge(spec({"id": "a", "weight": 3}, *({"id": i} for i in ids[1:])), data)
    assert heavy.verdict is Verdict.FAIL
    assert heavy.score == 50.0


def test_holm_keeps_a_borderline_metric_from_failing_among_many() -> None:
    """A p-value of 0.003 fails alone, but not among ten metrics once Holm multiplies it by ten."""
    base = tuple(100.0 + 5 * k for k in range(20))  # a linear series: no autocorrelation left to batch
    borderline = Samples(canary=tuple(v + 30 for v in base), baseline=base)
    alone = judge_mod.judge(spec({"id": "m0"}), {"m0": borderline})
    assert alone.verdict is Verdict.FAIL
    assert alone.metrics[0].p_value == pytest.approx(0.003, abs=0.001)
    data = {f"m{i}": Samples(canary=base, baseline=base) for i in range(1, 10)} | {"m0": borderline}
    many = judge_mod.judge(spec(*({"id": f"m{i}"} for i in range(10))), data)
    assert many.metrics[0].status == "pass"
    assert many.metrics[0].p_adjusted == pytest.approx(10 * alone.metrics[0].p_value)


def test_autocorrelated_samples_are_batched() -> None:
    """A strongly autocorrelated series is tested on batch means; white noise is not batched."""
    rng = np.random.default_rng(8)
    x = np.zeros(120)
    for t in range(1, 120):
        x[t] = 0.9 * x[t - 1] + rng.normal()
    assert judge_mod.batch_length(x, 24) >= 5
    assert judge_mod.batch_length(rng.normal(size=120), 24) <= 2
    assert judge_mod.batch_length(np.zeros(50), 10) == 1


def test_the_judgement_keeps_its_evidence_as_json() -> None:
    """event_data holds the verdict, score, per-metric statistics, p-values, effects and samples."""
    rng = np.random.default_rng(9)
    j = judge_mod.judge(spec({"id": "p99"}), {"p99": Samples(canary=latency(rng, 300), baseline=latency(rng, 250))})
    data = j.event_data()
    assert data["verdict"] == "FAIL"
    m = data["metrics"][0]
    assert {"p_value", "p_adjusted", "effect", "statistic", "canary", "baseline", "samples"} <= set(m)
    assert len(m["samples"]["canary"]) == 60


def test_judge_spec_refuses_bad_shapes() -> None:
    """A rate without totals, a metric without a baseline and two baselines at once are refused."""
    with pytest.raises(pydantic.ValidationError, match="needs 'total'"):
        models.JudgeMetric.model_validate({"id": "e", "kind": "rate", "source": SRC})
    with pytest.raises(pydantic.ValidationError, match="without a baseline"):
        models.Judge.model_validate({"metrics": [{"id": "e", "source": SRC}]})
    with pytest.raises(pydantic.ValidationError, match="exactly one"):
        models.Baseline.model_validate({"offset": "1w", "run": "r1"})
    with pytest.raises(pydantic.ValidationError, match="marginal_score"):
        spec({"id": "p99"}, pass_score=70, marginal_score=80)


def test_an_infinite_change_is_stored_as_null() -> None:
    """Against a baseline of 0 the relative change is infinite: the stored JSON holds null, never Infinity."""
    import json

    j = judge_mod.judge(spec({"id": "dlq"}), {"dlq": Samples(canary=(5.0,) * 20, baseline=(0.0,) * 20)})
    assert j.metrics[0].effect == float("inf")
    data = j.event_data()
    assert data["metrics"][0]["effect"] is None
    assert data["verdict"] == "FAIL"
    json.dumps(data, allow_nan=False)

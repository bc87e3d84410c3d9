"""Sequential watching: an always-valid test that can stop an observation window as soon as a regression is
significant, with the false-alarm rate bounded however often it looks.

Checking a fixed test at every read inflates false alarms (ten looks at 1% each are nearly 10%). The
mixture sequential probability ratio test (mSPRT, Robbins 1970; Johari et al., "Always valid inference",
2017) does not: for the difference ``D`` between the canary's and the baseline's means, with variance ``V``,
it weighs every possible regression size ``delta`` by a normal prior ``N(0, tau^2)``:

    Lambda = sqrt(V / (V + tau^2)) * exp(tau^2 * D^2 / (2 * V * (V + tau^2)))

and stops when ``Lambda >= 1 / alpha``. Under no regression, ``Lambda`` is a martingale, so the chance that
it *ever* crosses ``1 / alpha`` is at most ``alpha`` (Ville's inequality), whether it is looked at six times
or sixty. golive stops only in the worse direction and only when the change also clears the metric's effect
floor (both make stopping rarer, never more frequent).

``V`` is estimated from the samples so far: each side's variance, inflated by ``(1 + r) / (1 - r)`` for
the lag-1 autocorrelation ``r`` (the long-run variance of an AR(1) series: neighbouring samples are not
independent evidence), over the number of samples. A rate is watched as its per-sample ratio
(events / totals), a count as its per-sample count. ``tau`` is twice the smallest relative change that
counts (``2 * min_effect * |baseline mean|``, at least ``min_delta``): the prior is centred on regressions
worth a rollback. The watch spends half of the judge's ``alpha`` (:data:`WATCH_SHARE`) and the judgement at
the end of the window the other half, so together they raise a false alarm at most ``alpha`` of the time;
with several metrics, each gets its share over ``m`` (Bonferroni holds across looks too).

The functions take numpy arrays whose last axis is time, so ``benchmarks/judge.py`` judges thousands of
simulated runs in one call; :class:`SequentialWatch` is the observe-window side (it looks like a trigger to
:func:`golive.watch.observe.observe`).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import numpy as np

from golive import clock as clock_mod
from golive import results
from golive.spec import models
from golive.watch import judge as judge_mod
from golive.watch import triggers

__all__ = ["WATCH_SHARE", "Collect", "SequentialWatch", "long_run_variance", "look", "msprt_log_lr", "series_of"]

MAX_R = 0.95  # lag-1 autocorrelation is capped here: a random walk has no finite long-run variance
TAU_EFFECTS = 2.0  # the mixture prior's scale, in units of the effect floor
WATCH_SHARE = 0.5  # of a sequential judge's alpha spent watching; the judgement at the window's end gets the rest
MIN_LOOK_SAMPLES = 20  # samples per side before the first look: fewer estimate the variance too poorly

Arr = np.ndarray[Any, Any]

Collect = Callable[[float], Awaitable[Mapping[str, judge_mod.Samples]]]
"""Reads every metric's canary and baseline samples over the last so many seconds."""


def long_run_variance(x: Arr) -> Arr:
    """Per row (last axis is time): the variance times ``(1 + r) / (1 - r)``, r the lag-1 autocorrelation
    clipped to [0, MAX_R]."""
    d = x - x.mean(axis=-1, keepdims=True)
    var = (d * d).mean(axis=-1)
    cov = (d[..., 1:] * d[..., :-1]).mean(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(var > 0, cov / np.where(var > 0, var, 1.0), 0.0)
    n = x.shape[-1]
    # The sample lag-1 autocorrelation is biased low by about (1 + 4r) / n (Kendall), which on the short
    # series of an early look would understate the variance and let noise cross the line.
    r = np.clip(r + (1 + 4 * np.clip(r, 0.0, None)) / max(n, 1), 0.0, MAX_R)
    return np.asarray(var * n / max(n - 1, 1) * (1 + r) / (1 - r))


def msprt_log_lr(d: Arr, v: Arr, tau2: Arr) -> Arr:
    """log Lambda of the normal-mixture SPRT for a difference ``d`` with variance ``v`` and prior ``tau2``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        out = 0.5 * np.log(v / (v + tau2)) + tau2 * d * d / (2 * v * (v + tau2))
    return np.asarray(out)


def series_of(metric: models.JudgeMetric, samples: judge_mod.Samples) -> tuple[Arr, Arr]:
    """The values watched: a continuous metric's samples, a rate's per-sample ratio, a count's counts."""
    c = np.asarray(samples.canary, dtype=float)
    b = np.asarray(samples.baseline, dtype=float)
    if metric.kind == "rate" and samples.canary_total is not None and samples.baseline_total is not None:
        ct = np.asarray(samples.canary_total, dtype=float)
        bt = np.asarray(samples.baseline_total, dtype=float)
        keep_c, keep_b = np.isfinite(c) & (ct > 0), np.isfinite(b) & (bt > 0)
        return c[keep_c] / ct[keep_c], b[keep_b] / bt[keep_b]
    return c[np.isfinite(c)], b[np.isfinite(b)]


def look(metric: models.JudgeMetric, canary: Arr, baseline: Arr, alpha: float) -> tuple[Arr, Arr, Arr]:
    """One look at rows of samples so far: (regressed, log Lambda / log(1/alpha), relative change).

    ``regressed`` is true where Lambda crossed ``1 / alpha`` in the worse direction and the change clears
    the effect floor. Rows need at least ``min_samples`` samples per side, else they are not regressed.
    """
    c = np.atleast_2d(canary)
    b = np.atleast_2d(baseline)
    n_c, n_b = c.shape[-1], b.shape[-1]
    rows = max(c.shape[0], b.shape[0])
    first = max(metric.min_samples, MIN_LOOK_SAMPLES)
    if n_c < first or n_b < first:
        zeros = np.zeros(rows)
        return zeros.astype(bool), zeros, zeros
    sign = 1.0 if metric.worse == "higher" else -1.0
    mean_c, mean_b = c.mean(axis=-1), b.mean(axis=-1)
    d = sign * (mean_c - mean_b)
    v = long_run_variance(c) / n_c + long_run_variance(b) / n_b
    scale = np.abs(mean_b)
    tau = np.maximum(TAU_EFFECTS * metric.min_effect * scale, metric.min_delta)
    tau2 = np.maximum(tau * tau, 1e-300)
    with np.errstate(invalid="ignore", divide="ignore"):
        effect = np.where(scale > 0, d / np.where(scale > 0, scale, 1.0), np.where(d > 0, np.inf, 0.0))
    big = (effect >= metric.min_effect) & (np.abs(d) >= metric.min_delta) & (d > 0)
    const = v <= 0  # both sides constant: the values themselves are the evidence
    log_lr = np.where(const, np.where(d > 0, np.inf, 0.0), msprt_log_lr(d, np.where(const, 1.0, v), tau2))
    ratio = log_lr / math.log(1.0 / alpha)
    return (ratio >= 1.0) & big, ratio, effect


class SequentialWatch(triggers.TriggerEvaluator):
    """A judge watched sequentially inside an observe window: every ``step`` it reads the samples of the
    window so far and looks; a regression that makes the judgement FAIL fires like a ``rollback`` trigger,
    one that makes it MARGINAL like a ``pause`` trigger (the judge's deadline and default)."""

    def __init__(self, trigger_id: str, spec: models.Judge, collect: Collect, clock: clock_mod.Clock) -> None:
        synthetic = models.Trigger.model_validate(
            {
                "id": trigger_id,
                "title": f"sequential judge ({len(spec.metrics)} metric{'s' if len(spec.metrics) != 1 else ''})",
                "interval": f"{spec.step:g}s",
                "deadline": f"{spec.deadline:g}s" if spec.deadline is not None else None,
                "default": spec.default,
                "then": "rollback",
            }
        )
        super().__init__(synthetic, None, clock)
        self.spec = spec
        self._collect = collect
        self._started = clock.monotonic()

    @property
    def manual(self) -> bool:
        return False

    async def evaluate_once(self) -> triggers.Evaluation:
        elapsed = max(self.spec.step, self.clock.monotonic() - self._started)
        try:
            samples = await self._collect(elapsed)
        except Exception as exc:  # a failed read is an error reading: max_errors in a row fail closed
            return self.apply(results.MetricReading.failed(f"{type(exc).__name__}: {exc}"))
        return self.judge(samples)

    def judge(self, samples: Mapping[str, judge_mod.Samples]) -> triggers.Evaluation:
        """Look once at ``samples`` (the window so far) and turn the answer into an evaluation."""
        alpha = self.spec.alpha * WATCH_SHARE / len(self.spec.metrics)
        verdicts: list[judge_mod.MetricVerdict] = []
        strongest = 0.0
        notes: list[str] = []
        for m in self.spec.metrics:
            s = samples.get(m.id)
            if s is None or s.error is not None:
                verdicts.append(_verdict(m, "pass", 0.0, None))  # no data is no evidence of a regression
                continue
            c, b = series_of(m, s)
            regressed, ratio, effect = look(m, c, b, alpha)
            r, e = float(ratio[0]), float(effect[0])
            strongest = max(strongest, r if math.isfinite(r) else 1e9)
            verdicts.append(_verdict(m, "fail" if bool(regressed[0]) else "pass", r, e))
            if bool(regressed[0]):
                notes.append(f"{m.id} {e:+.1%} (evidence {min(r, 999):.2g} of 1)")
        j = judge_mod.combine(self.spec, tuple(verdicts))
        now = self.clock.now()
        if j.verdict is judge_mod.Verdict.PASS:
            self._clear(now)
            self._set_state(triggers.TriggerState.OK, now)
            return self._make(now, "ok", strongest, False, f"no significant regression yet ({j.reason})", fired=False)
        then = "rollback" if j.verdict is judge_mod.Verdict.FAIL else "pause"
        self.trigger = self.trigger.model_copy(update={"then": then})
        fired = not self._firing
        self._firing = True
        self._set_state(triggers.TriggerState.FIRING, now)
        reason = f"sequential judge {j.verdict.value}: {'; '.join(notes)}"
        return self._make(now, "ok", strongest, True, reason, fired=fired)


def _verdict(m: models.JudgeMetric, status: judge_mod.MetricStatus, ratio: float, effect: float | None) -> Any:
    return judge_mod.MetricVerdict(
        id=m.id,
        kind=m.kind,
        status=status,
        reason="",
        test="msprt",
        weight=m.weight,
        critical=m.critical,
        n_canary=0,
        n_baseline=0,
        canary={},
        baseline={},
        statistic=ratio if math.isfinite(ratio) else None,
        effect=effect if effect is not None and math.isfinite(effect) else None,
    )

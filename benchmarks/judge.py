"""Canary judgement on simulated canaries: golive's judge against a fixed-threshold trigger and a
fixed-window Mann-Whitney judge.

Every run is one observation window of WINDOW seconds with a sample every STEP seconds from the canary
and from a baseline fleet of the same size. A/A runs have no regression (false alarms); A/B runs have
one from the start of the window (detection). Noise is autocorrelated (AR(1)) with heavy tails (Student
t, 3 degrees of freedom); error counts are over-dispersed (the rate itself wanders, log-normally).

Shapes:
  step_errors     error rate 1.0% -> 1.2% (+20%), 5,000 requests per sample each side
  step_p99        p99 latency 250 ms -> 300 ms (+50 ms)
  slow_ramp       p99 latency rising from +0 to +100 ms across the window
  zero_inflated   error rate 0.02% (most samples have no error) -> 0.1%
  identical       a constant series (a dead-letter queue at 0) -> 5

Methods:
  golive          golive.watch.judge.judge at the end of the window (its defaults: alpha 0.01 with Holm,
                  batch means, effect floor 10%, exact binomial test with over-dispersion for rates)
  threshold       a fixed trigger on every sample: `value > T` sustained `for: 1m` (T halfway between
                  the healthy level and the regressed one, as a person would pick it)
  mann-whitney    scipy's Mann-Whitney U on the raw samples of the whole window, one-sided, alpha 0.01
                  (rates as per-sample error ratios), no batching and no effect floor
  golive-seq      golive's sequential watch (mSPRT, golive.watch.sequential) looking at every sample
                  (60 looks a window), stopping at the first significant regression; it spends half of
                  alpha (the end-of-window judgement of golive-seq+end gets the other half)
  golive-seq/10   the same looking every 10th sample (6 looks): ten times fewer looks
  mw-every-look   the fixed-window Mann-Whitney test re-run at every sample from the 10th (51 looks)
  golive-seq+end  what an observe window with `judge: {sequential: true}` does: the sequential watch, and
                  golive's judge at the end of the window when the watch did not stop it

Run: .venv/bin/python benchmarks/judge.py [--runs 1000] [--seed 7]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from golive.spec import models
from golive.watch import judge as judge_mod
from golive.watch import sequential

WINDOW = 1800.0  # seconds: a 30-minute observation window
STEP = 30.0  # seconds between samples
N = int(WINDOW / STEP)
REQUESTS = 5000  # requests per sample on each side
ALPHA = 0.01
FOR_SAMPLES = 2  # the threshold trigger's `for: 1m` at one sample every 30 s

Arr = np.ndarray[Any, Any]


def ar1(rng: np.random.Generator, runs: int, phi: float, scale: float) -> Arr:
    """AR(1) noise with Student-t(3) innovations, shape (runs, N), started in its stationary state."""
    e = stats.t.rvs(3, size=(runs, N + 50), random_state=rng) * scale
    x = np.zeros((runs, N + 50))
    for t in range(1, N + 50):
        x[:, t] = phi * x[:, t - 1] + e[:, t]
    return x[:, 50:]


@dataclass(frozen=True)
class Shape:
    name: str
    kind: str  # continuous | rate
    threshold: float
    make: Callable[[np.random.Generator, int, bool], tuple[Arr, Arr, Arr | None, Arr | None]]


def latency(base: float, shift: Callable[[Arr], Arr]) -> Callable[..., tuple[Arr, Arr, Arr | None, Arr | None]]:
    def make(rng: np.random.Generator, runs: int, ab: bool) -> tuple[Arr, Arr, Arr | None, Arr | None]:
        b = base + ar1(rng, runs, 0.7, 8.0)
        c = base + ar1(rng, runs, 0.7, 8.0)
        if ab:
            c = c + shift(np.arange(N, dtype=float))[None, :]
        return c, b, None, None

    return make


def errors(rate: float, bad: float) -> Callable[..., tuple[Arr, Arr, Arr | None, Arr | None]]:
    def make(rng: np.random.Generator, runs: int, ab: bool) -> tuple[Arr, Arr, Arr | None, Arr | None]:
        def side(r: float) -> tuple[Arr, Arr]:
            wander = np.clip(ar1(rng, runs, 0.6, 0.05), -1.5, 1.5)
            p = np.clip(r * np.exp(wander), 0, 1)
            n = rng.poisson(REQUESTS, size=(runs, N)).astype(float)
            return rng.binomial(n.astype(np.int64), p).astype(float), n

        ce, cn = side(bad if ab else rate)
        be, bn = side(rate)
        return ce, be, cn, bn

    return make


def constant(level: float, bad: float) -> Callable[..., tuple[Arr, Arr, Arr | None, Arr | None]]:
    def make(rng: np.random.Generator, runs: int, ab: bool) -> tuple[Arr, Arr, Arr | None, Arr | None]:
        b = np.full((runs, N), level)
        c = np.full((runs, N), bad if ab else level)
        return c, b, None, None

    return make


SHAPES = [
    Shape("step_errors", "rate", 0.011, errors(0.010, 0.012)),
    Shape("step_p99", "continuous", 275.0, latency(250.0, lambda t: np.full_like(t, 50.0))),
    Shape("slow_ramp", "continuous", 300.0, latency(250.0, lambda t: 100.0 * t / (N - 1))),
    Shape("zero_inflated", "rate", 0.0006, errors(0.0002, 0.001)),
    Shape("identical", "continuous", 2.5, constant(0.0, 5.0)),
]


def spec_for(shape: Shape, alpha: float = ALPHA) -> models.Judge:
    metric: dict[str, Any] = {"id": shape.name, "kind": shape.kind, "source": {"type": "simulated"}}
    if shape.kind == "rate":
        metric["total"] = {"type": "simulated"}
    return models.Judge.model_validate(
        {"metrics": [metric], "baseline": {"offset": "1w"}, "step": f"{STEP:g}s", "alpha": alpha}
    )


def run_golive(
    shape: Shape, c: Arr, b: Arr, cn: Arr | None, bn: Arr | None, alpha: float = ALPHA
) -> tuple[Arr, Arr, Arr]:
    """(FAIL, asks the IC: MARGINAL or INCONCLUSIVE, delay seconds) per run."""
    spec = spec_for(shape, alpha)
    runs = c.shape[0]
    fail = np.zeros(runs, dtype=bool)
    ask = np.zeros(runs, dtype=bool)
    for i in range(runs):
        s = judge_mod.Samples(
            canary=tuple(c[i]),
            baseline=tuple(b[i]),
            canary_total=tuple(cn[i]) if cn is not None else None,
            baseline_total=tuple(bn[i]) if bn is not None else None,
        )
        v = judge_mod.judge(spec, {shape.name: s}).verdict
        fail[i] = v is judge_mod.Verdict.FAIL
        ask[i] = v in (judge_mod.Verdict.MARGINAL, judge_mod.Verdict.INCONCLUSIVE)
    return fail, ask, np.full(runs, WINDOW)


def per_sample(shape: Shape, c: Arr, b: Arr, cn: Arr | None, bn: Arr | None) -> tuple[Arr, Arr]:
    if shape.kind == "rate":
        assert cn is not None
        assert bn is not None
        return c / np.maximum(cn, 1), b / np.maximum(bn, 1)
    return c, b


def run_threshold(shape: Shape, c: Arr, b: Arr, cn: Arr | None, bn: Arr | None) -> tuple[Arr, Arr, Arr]:
    cv, _ = per_sample(shape, c, b, cn, bn)
    breach = cv > shape.threshold
    # sustained: FOR_SAMPLES consecutive breaches
    run = np.ones_like(breach[:, FOR_SAMPLES - 1 :])
    for k in range(FOR_SAMPLES):
        run &= breach[:, k : N - FOR_SAMPLES + 1 + k]
    fired = run.any(axis=1)
    first = np.argmax(run, axis=1) + FOR_SAMPLES  # samples until it fires
    return fired, np.zeros_like(fired), first * STEP


def run_mwu(shape: Shape, c: Arr, b: Arr, cn: Arr | None, bn: Arr | None) -> tuple[Arr, Arr, Arr]:
    cv, bv = per_sample(shape, c, b, cn, bn)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = stats.mannwhitneyu(cv, bv, alternative="greater", axis=1).pvalue
    p = np.where(np.isnan(p), 1.0, p)  # identical constant series: scipy answers NaN
    fired = p < ALPHA
    return fired, np.zeros_like(fired), np.full(c.shape[0], WINDOW)


def run_sequential(every: int) -> Callable[..., tuple[Arr, Arr, Arr]]:
    """golive's sequential watch (mSPRT) looking every ``every`` samples; it stops at the first crossing."""

    def method(shape: Shape, c: Arr, b: Arr, cn: Arr | None, bn: Arr | None) -> tuple[Arr, Arr, Arr]:
        metric = spec_for(shape).metrics[0]
        cv, bv = per_sample(shape, c, b, cn, bn)
        runs = c.shape[0]
        fired = np.zeros(runs, dtype=bool)
        delay = np.full(runs, np.inf)
        for k in range(every, N + 1, every):
            regressed, _, _ = sequential.look(metric, cv[:, :k], bv[:, :k], ALPHA * sequential.WATCH_SHARE)
            new = regressed & ~fired
            delay[new] = k * STEP
            fired |= regressed
        return fired, np.zeros(runs, dtype=bool), delay

    return method


def run_mwu_repeated(shape: Shape, c: Arr, b: Arr, cn: Arr | None, bn: Arr | None) -> tuple[Arr, Arr, Arr]:
    """The fixed-window Mann-Whitney test re-run at every sample (what a naive "watch" does)."""
    cv, bv = per_sample(shape, c, b, cn, bn)
    runs = c.shape[0]
    fired = np.zeros(runs, dtype=bool)
    delay = np.full(runs, np.inf)
    for k in range(10, N + 1):
        with np.errstate(invalid="ignore", divide="ignore"):
            p = stats.mannwhitneyu(cv[:, :k], bv[:, :k], alternative="greater", axis=1).pvalue
        hit = np.where(np.isnan(p), 1.0, p) < ALPHA
        delay[hit & ~fired] = k * STEP
        fired |= hit
    return fired, np.zeros(runs, dtype=bool), delay


METHODS: list[tuple[str, Callable[..., tuple[Arr, Arr, Arr]]]] = [
    ("golive", run_golive),
    ("threshold", run_threshold),
    ("mann-whitney", run_mwu),
    ("golive-seq", run_sequential(1)),
    ("golive-seq/10", run_sequential(10)),
    ("mw-every-look", run_mwu_repeated),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000, help="A/A and A/B runs per shape (default 1000)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    print(
        f"{args.runs} A/A + {args.runs} A/B runs per shape; window {WINDOW / 60:.0f} min, a sample every "
        f"{STEP:.0f} s, seed {args.seed}"
    )
    print()
    header = f"| {'shape':<14} | {'method':<14} | {'false alarms (A/A)':>18} | {'asks IC (A/A)':>13} | "
    header += f"{'detection (A/B)':>15} | {'asks IC (A/B)':>13} | {'median delay':>12} |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    worst_fa = 0.0
    worst_det = 1.0
    delays: dict[tuple[str, str], float] = {}
    fas: dict[str, float] = {}
    for shape in SHAPES:
        aa = shape.make(rng, args.runs, False)
        ab = shape.make(rng, args.runs, True)
        got: dict[str, tuple[tuple[Arr, Arr, Arr], tuple[Arr, Arr, Arr]]] = {}
        for name, method in [*METHODS, ("golive-seq+end", None)]:
            if method is None:  # what an observe window with a sequential judge does: stop early, else judge at the end
                (fa_s, _, _), (det_s, _, delay_s) = got["golive-seq"]
                end_alpha = ALPHA * (1 - sequential.WATCH_SHARE)
                (fa_f, ask_aa, _) = run_golive(shape, *aa, alpha=end_alpha)
                (det_f, ask_ab, _) = run_golive(shape, *ab, alpha=end_alpha)
                fa, det = fa_s | fa_f, det_s | det_f
                delay = np.where(det_s, delay_s, WINDOW)
            else:
                got[name] = method(shape, *aa), method(shape, *ab)
                (fa, ask_aa, _), (det, ask_ab, delay) = got[name]
            med = float(np.median(delay[det])) if det.any() else float("nan")
            delays[(shape.name, name)] = med
            fas[name] = max(fas.get(name, 0.0), float(fa.mean()))
            if name == "golive":
                worst_fa = max(worst_fa, float(fa.mean()))
                worst_det = min(worst_det, float(det.mean()))
            delay_text = f"{med / 60:.1f} min" if det.any() else "-"
            print(
                f"| {shape.name:<14} | {name:<14} | {fa.mean():>18.1%} | {ask_aa.mean():>13.1%} | "
                f"{det.mean():>15.1%} | {ask_ab.mean():>13.1%} | {delay_text:>12} |"
            )
    print()
    print(
        f"golive's judge: worst false-alarm rate {worst_fa:.1%} (target <= 1%), worst detection rate "
        f"{worst_det:.1%} (target >= 90%)"
    )
    for shape_name in ("step_errors", "step_p99"):
        fixed, seq = delays[(shape_name, "golive")], delays[(shape_name, "golive-seq+end")]
        print(
            f"{shape_name}: median detection delay, sequential watch + end judge {seq / 60:.1f} min vs fixed "
            f"window {fixed / 60:.1f} min: {1 - seq / fixed:.0%} shorter (target >= 30%)"
        )
    print(
        f"worst false-alarm rate: sequential {fas['golive-seq']:.1%} with 60 looks, {fas['golive-seq/10']:.1%} with 6; "
        f"fixed judge {fas['golive']:.1%}; sequential + end judge {fas['golive-seq+end']:.1%}; "
        f"Mann-Whitney at every look {fas['mw-every-look']:.1%}"
    )
    print(f"took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

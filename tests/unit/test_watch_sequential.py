"""The sequential watch (mSPRT): valid however often it looks, quick on a real regression."""

from __future__ import annotations

from typing import Any

import numpy as np

from golive.spec import models
from golive.testing import FakeClock
from golive.watch import judge as judge_mod
from golive.watch import sequential

SRC = {"type": "prometheus", "with": {"url": "http://127.0.0.1:1", "query": "x"}}


def metric(**kw: Any) -> models.JudgeMetric:
    return models.JudgeMetric.model_validate({"id": "p99", "source": SRC} | kw)


def ar1(rng: np.random.Generator, rows: int, n: int, phi: float = 0.6, scale: float = 5.0) -> np.ndarray[Any, Any]:
    e = rng.standard_t(3, size=(rows, n + 50)) * scale
    x = np.zeros_like(e)
    for t in range(1, n + 50):
        x[:, t] = phi * x[:, t - 1] + e[:, t]
    return x[:, 50:]


def crossed(
    m: models.JudgeMetric, c: np.ndarray[Any, Any], b: np.ndarray[Any, Any], alpha: float
) -> np.ndarray[Any, Any]:
    """Rows that crossed at any look, looking after every sample."""
    hit = np.zeros(c.shape[0], dtype=bool)
    for k in range(1, c.shape[1] + 1):
        hit |= sequential.look(m, c[:, :k], b[:, :k], alpha)[0]
    return hit


def test_no_regression_rarely_crosses_however_often_it_looks() -> None:
    """2,000 healthy autocorrelated, heavy-tailed pairs, 60 looks each at alpha 1%: at most about 1% cross."""
    rng = np.random.default_rng(11)
    c, b = 250 + ar1(rng, 2000, 60), 250 + ar1(rng, 2000, 60)
    assert crossed(metric(), c, b, 0.01).mean() <= 0.015


def test_a_step_regression_crosses_early() -> None:
    """+50 ms on 250 ms crosses in almost every run, at the first looks that have enough samples."""
    rng = np.random.default_rng(12)
    c, b = 300 + ar1(rng, 300, 60), 250 + ar1(rng, 300, 60)
    m = metric()
    assert crossed(m, c, b, 0.01).mean() >= 0.95
    at_20 = sequential.look(m, c[:, :20], b[:, :20], 0.01)[0]
    assert at_20.mean() >= 0.8


def test_nothing_crosses_before_the_burn_in() -> None:
    """Fewer than MIN_LOOK_SAMPLES samples a side: no look can stop the window, even on a huge regression."""
    rng = np.random.default_rng(13)
    c, b = 900 + ar1(rng, 50, 19), 250 + ar1(rng, 50, 19)
    assert not crossed(metric(), c, b, 0.01).any()


def test_constant_series_cross_only_when_the_canary_is_worse() -> None:
    """Identical constant series never cross; a constant canary above a constant baseline does."""
    zeros = np.zeros((1, 30))
    assert not sequential.look(metric(), zeros, zeros, 0.01)[0][0]
    assert sequential.look(metric(), zeros + 5, zeros, 0.01)[0][0]
    assert not sequential.look(metric(worse="lower"), zeros + 5, zeros, 0.01)[0][0]


def test_a_change_below_the_effect_floor_never_crosses() -> None:
    """A 3% shift on many samples is significant, but below the 10% floor it is not a regression."""
    rng = np.random.default_rng(14)
    c, b = 257.5 + rng.normal(0, 1, (1, 200)), 250 + rng.normal(0, 1, (1, 200))
    regressed, ratio, effect = sequential.look(metric(), c, b, 0.01)
    assert ratio[0] > 1
    assert effect[0] < 0.1
    assert not regressed[0]


def samples(level: float, n: int = 30) -> judge_mod.Samples:
    return judge_mod.Samples(
        canary=tuple(level + 0.1 * (i % 3) for i in range(n)), baseline=tuple(250 + 0.1 * (i % 3) for i in range(n))
    )


def watch(*metrics: dict[str, Any]) -> sequential.SequentialWatch:
    spec = models.Judge.model_validate(
        {"metrics": [{"source": SRC} | m for m in metrics], "baseline": {"offset": "1w"}, "sequential": True}
    )

    async def collect(window: float) -> dict[str, judge_mod.Samples]:
        return {}

    return sequential.SequentialWatch("soak.judge", spec, collect, FakeClock())


def test_a_critical_regression_fires_as_a_rollback_and_a_minor_one_as_a_pause() -> None:
    """The looks combine like the judge: a critical metric regressing is FAIL (rollback); one of four equal
    metrics is MARGINAL (pause for the IC, with the judge's deadline and default)."""
    w = watch({"id": "a", "critical": True}, {"id": "b"})
    ok = w.judge({"a": samples(250), "b": samples(250)})
    assert (ok.fired, ok.state.value) == (False, "ok")
    bad = w.judge({"a": samples(320), "b": samples(250)})
    assert (bad.fired, bad.then) == (True, "rollback")
    assert "sequential judge FAIL" in bad.reason
    four = watch({"id": "a"}, {"id": "b"}, {"id": "c"}, {"id": "d"})
    minor = four.judge({"a": samples(320), "b": samples(250), "c": samples(250), "d": samples(250)})
    assert (minor.fired, minor.then) == (True, "pause")
    assert "MARGINAL" in minor.reason

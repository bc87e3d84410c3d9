"""The engines of one process relax the cyclic collector together and restore it when the last one ends."""

from __future__ import annotations

import gc

from golive.engine import acts


def test_thresholds_are_relaxed_while_any_engine_runs_and_restored_after_the_last() -> None:
    before = gc.get_threshold()
    with acts.collector_relaxed():
        assert gc.get_threshold() == acts.RELAXED_GC_THRESHOLDS
        with acts.collector_relaxed():
            assert gc.get_threshold() == acts.RELAXED_GC_THRESHOLDS
        assert gc.get_threshold() == acts.RELAXED_GC_THRESHOLDS  # the other engine still runs
    assert gc.get_threshold() == before


def test_thresholds_are_restored_when_the_run_raises() -> None:
    before = gc.get_threshold()
    try:
        with acts.collector_relaxed():
            raise RuntimeError("engine failed")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before
    assert gc.isenabled()

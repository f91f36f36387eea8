"""Monitors at their edges: empty windows, too few rows, sampling, odd inputs, teardown."""

from __future__ import annotations

import gc
import math
import tracemalloc
from typing import Any

import numpy as np
import pandas as pd
import pytest

import aiguard as ag
from aiguard import checks, drift
from aiguard.detect import (
    ConfidenceMonitor,
    ErrorRateMonitor,
    FairnessMonitor,
    InputDriftMonitor,
    LatencyMonitor,
    OutputMonitor,
    PerformanceMonitor,
)
from aiguard.detect._monitors import _fairness
from aiguard.detect._monitors._ring import Rows
from aiguard.errors import ConfigurationError
from aiguard.testing import FakeClock

OK = ("model", None, "model", 0, 0.01, None)


class Never:
    """A detector that never fires."""

    drift_detected = False

    def update(self, x: float) -> None:
        self.drift_detected = False


def test_rows_ring_wraps_around() -> None:
    """A push that crosses the end of the ring continues at its start."""
    ring = Rows(5, (np.int64,))
    ring.push(np.arange(4))
    ring.push(np.arange(10, 13))
    assert sorted(ring.view()[0].tolist()) == [2, 3, 10, 11, 12]
    ring.push(np.arange(20, 27))
    assert sorted(ring.view()[0].tolist()) == [22, 23, 24, 25, 26]


def test_error_rate_quiet_windows() -> None:
    """Before any call, with too few calls, and with a silent detector: no signal."""
    clock = FakeClock()
    mon = ErrorRateMonitor(window=10, slices=2, min_calls=50, detector=Never(), clock=clock)
    assert mon.baseline is None
    assert all(math.isnan(v) for v in mon.rates().values())
    mon.observe(error=True)
    clock.advance(6)
    assert mon.evaluate() is None
    assert mon.last_signal is None


def test_error_rate_tap_sampling_and_slow_calls() -> None:
    """Sampled taps skip calls; a slow call makes the tap read the clock and roll the slice."""
    clock = FakeClock()
    mon = ErrorRateMonitor(window=8, slices=2, sample=0.5, min_calls=1, baseline=0.0,
                           clock=clock)
    for _ in range(4):
        mon.tap((), {}, 1, OK)
    clock.advance(5)
    mon.tap((), {}, 1, ("model", None, "model", 0, 3.0, None))
    mon.tap((), {}, 1, ("model", None, "model", 0, 3.0, None))
    mon.observe(error=True, calls=1)
    mon.observe(error=True, calls=1)
    assert mon._slices.total()[4] + mon._pending[4] == 4  # 8 calls, one in two kept


def test_latency_tap_sampled_and_flushes_full_buffer() -> None:
    """A sampled tap keeps one call in two; 1,024 buffered latencies are flushed into the slice."""
    clock = FakeClock()
    mon = LatencyMonitor(window=10, slices=2, sample=0.5, clock=clock)
    for _ in range(4096):
        mon.tap((), {}, None, OK)
    assert int(mon._slices.total().sum()) >= 1024
    assert mon.quantiles()["p50"] == pytest.approx(0.01, rel=0.01)


def test_output_edges() -> None:
    """proba references, numpy scalars, sampled scalars, a buffer merged into a batch."""
    mon = OutputMonitor(np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]]), every=4, min_rows=4,
                        sample=0.5)
    assert mon.outputs == "scores"
    for value in (np.float64(0.3), 0.2, 0.1, 0.4):
        mon.observe(value)
    mon.observe(np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]))
    mon.drain()
    assert sum(1 for _ in mon._blocks) == 1
    assert mon.dropped == 0
    mon.close()
    with pytest.raises(ConfigurationError, match="reference"):
        OutputMonitor(np.zeros((2, 2, 2)))


def test_input_drift_edges() -> None:
    """A tap with no argument is ignored; a DataFrame goes straight to the queue; close stops."""
    frame = pd.DataFrame({"a": np.arange(100.0), "b": np.arange(100.0) % 7})
    mon = InputDriftMonitor(drift.Reference(frame), every=50)
    mon.tap((), {}, None, OK)
    mon.tap((frame.iloc[:60],), {}, None, OK)
    mon.drain()
    assert mon.comparisons == 1
    assert mon.dropped == 0
    one = InputDriftMonitor(drift.Reference(np.arange(100.0)), every=10)
    one.observe(np.arange(5.0))
    one.observe(np.arange(5, dtype=np.int64))
    one.drain()
    assert one.comparisons == 1
    mon.close()
    one.close()


def test_performance_edges() -> None:
    """Scalar observe and record, sampled scalars, a baseline learned only on a full window."""
    clock = FakeClock()
    mon = PerformanceMonitor(metric="accuracy", window=4, every=2, min_labels=2, sample=0.5,
                             clock=clock)
    for i in range(4):
        mon.observe(i, 1)
    assert mon.pending == 2
    mon.record(1, 1)
    mon.record([99], [1])
    mon.record(3, 1)
    assert mon.baseline is None
    small = PerformanceMonitor(min_labels=10, every=2)
    small.observe([1, 2], [1, 1])
    small.record([1, 2], [1, 1])
    assert small.last_signal is None


def test_performance_all_expired_at_once() -> None:
    """Every pending prediction past its ttl is dropped in one go."""
    clock = FakeClock()
    mon = PerformanceMonitor(ttl=1, clock=clock)
    mon.observe([1, 2, 3], [0, 1, 0])
    clock.advance(2)
    mon.record([1], [0])
    assert mon.expired == 3
    assert mon.unmatched == 1


def test_fairness_and_confidence_quiet() -> None:
    """One group, an empty window, too few rows: no signal, NaN metrics where undefined."""
    mon = FairnessMonitor(every=10, min_group=1)
    assert math.isnan(mon.metrics()["demographic_parity_difference"])
    mon.observe([1] * 10, ["a"] * 10)
    assert mon.last_signal is None
    conf = ConfidenceMonitor(np.array([[0.9, 0.1]] * 10), every=10, min_rows=50)
    conf.tap((), {}, None, OK)
    conf.observe(np.array([[0.5, 0.5]] * 10))
    assert conf.last_signal is None


def test_guard_input_check_frames_mappings_and_constant_fallback() -> None:
    """Frames and mappings are split per row; a constant fallback fills rejected rows."""
    ref = drift.Reference(np.random.default_rng(0).normal(size=(500, 2)), feature_names=["a", "b"])
    g = ag.Guard(input_check=checks.within_reference(ref) | checks.missing(max_share=1.0),
                 fallback=lambda x: -1.0, fallback_rows=True)
    strict = ag.Guard(input_check=checks.within_reference(ref), fallback=lambda x: -1.0,
                      fallback_rows=True)

    def model(x: Any) -> np.ndarray:
        return np.asarray(pd.DataFrame(x)["a"], dtype=float)

    frame = pd.DataFrame({"a": [0.0, 50.0, 0.5], "b": [0.0, 0.0, 0.0]})
    assert strict(model)(frame).tolist() == [0.0, -1.0, 0.5]
    mapping = {"a": np.array([0.0, 50.0]), "b": np.array([0.0, 0.0])}
    assert strict(model)(mapping).tolist() == [0.0, -1.0]
    assert g(model)(frame).tolist() == [0.0, 50.0, 0.5]


def test_guard_repr_and_breaker_property_still_work() -> None:
    """Adding monitors and an input check leaves the Guard's other surface intact."""
    g = ag.Guard(name="r", monitors=[LatencyMonitor()], check=checks.finite(),
                 fallback=lambda x: x, fallback_rows=True)
    assert g.breaker is None
    assert "fallback_rows=True" in repr(g)


def test_input_check_edges() -> None:
    """Object arrays with categories, empty rows, a flat feature, reprs, no-arg calls."""
    ref = drift.Reference(np.array([["x", 1.0], ["y", 2.0]], dtype=object), categorical=[0])
    cur = np.array([["x", 1.5], ["z", 1.0]], dtype=object)
    assert checks.within_reference(ref)(cur).tolist() == [True, False]
    assert checks.missing()(np.zeros((2, 0))).tolist() == [True, True]
    flat = drift.Reference(np.array([[1.0, 5.0], [1.0, 5.0], [1.0, 5.0], [1.0, 6.0]]))
    assert checks.ood_score(flat, np.array([[2.0, 5.0]]))[0] == pytest.approx(1.0)
    assert repr(checks.ood(flat, max_score=3)) == "ood(max_score=3.0)"
    assert repr(checks.missing()) == "missing(max_share=0.0)"
    g = ag.Guard(input_check=checks.missing() & checks.schema(n_features=2))
    assert g(lambda x: 1)(np.zeros((2, 2))) == 1

    async def nothing() -> int:
        return 7

    import asyncio

    assert asyncio.run(g(nothing)()) == 7


def _every_monitor() -> list[Any]:
    ref = drift.Reference(np.random.default_rng(1).normal(size=(200, 2)))
    return [
        LatencyMonitor(), ErrorRateMonitor(), OutputMonitor(np.linspace(0, 1, 50), every=2),
        InputDriftMonitor(ref, every=2), PerformanceMonitor(request_id=lambda a, k: [1]),
        FairnessMonitor(group_of=lambda a, k: ["g"]), ConfidenceMonitor([0.2, 0.9], every=2),
    ]


@pytest.mark.parametrize("monitor", _every_monitor(), ids=lambda m: type(m).__name__)
def test_contract_taps_survive_odd_calls(monitor: Any) -> None:
    """Every monitor's tap takes NaN, inf, None and raised calls without raising."""
    results = [float("nan"), np.array([np.inf]), None, np.array([[np.nan, 0.5]])]
    outcomes = [OK, ("raised", "error", "model", 0, float("nan"), KeyError("x")),
                ("model", None, "model", 0, float("inf"), None)]
    for result in results:
        for outcome in outcomes:
            monitor.tap((np.array([[np.nan, np.inf]]),), {}, result, outcome)
    if hasattr(monitor, "drain"):
        monitor.drain()
        monitor.close()
    assert monitor.errors >= 0


def test_performance_ids_must_match_predictions() -> None:
    """A batch with fewer ids than predictions is an InvalidInputError naming ids."""
    from aiguard.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="ids"):
        PerformanceMonitor().observe([1], [0, 1])


def test_fairness_memory_does_not_grow_with_calls() -> None:
    """Memory allocated under the monitor after 32 batches of 1,000 is what it was after 8."""
    rng = np.random.default_rng(0)
    preds = rng.integers(0, 2, 1000)
    groups = rng.choice(np.array(["a", "b", "c"]), 1000)
    mon = FairnessMonitor(every=500)
    mon.observe(preds, groups)
    # only blocks allocated with the monitor's module on the stack: other tests' threads
    # allocate too while tracemalloc traces the whole process
    mine = [tracemalloc.Filter(True, _fairness.__file__, all_frames=True)]
    tracemalloc.start(15)
    try:
        sizes = []
        for calls in (8, 24):
            for _ in range(calls):
                mon.observe(preds, groups)
            gc.collect()
            snapshot = tracemalloc.take_snapshot().filter_traces(mine)
            sizes.append(sum(stat.size for stat in snapshot.statistics("filename")))
    finally:
        tracemalloc.stop()
    assert sizes[1] - sizes[0] < 512  # before the fix: ~4 KiB more (np.unique temporaries)
    mon.observe([1, 1], ["d", "a"])  # a group arriving late keeps the earlier codes
    assert sorted(mon.groups[:3]) == ["a", "b", "c"]
    assert mon.groups[3] == "d"
    assert mon.metrics()["selection_rate"]["d"] == 1.0

"""Monitors: statistics against scikit-learn / fairlearn / numpy, deduplication, bad input."""

from __future__ import annotations

import math
import threading
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiguard import drift
from aiguard.detect import (
    ConfidenceMonitor,
    ErrorRateMonitor,
    FairnessMonitor,
    InputDriftMonitor,
    LatencyMonitor,
    LogHistogram,
    OutputMonitor,
    PerformanceMonitor,
    Signal,
)
from aiguard.errors import ConfigurationError, InvalidInputError
from aiguard.testing import FakeClock
from aiguard.typing import ChangeDetector, MonitorTap

OK = ("model", None, "model", 0, 0.01, None)


def feed_latency(mon: LatencyMonitor, clock: FakeClock, value: float, seconds: int) -> None:
    for _ in range(seconds):
        mon.observe(value)
        clock.advance(1)


# -- LogHistogram ------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(1e-5, 1e3), min_size=1, max_size=300),
       st.sampled_from([0.5, 0.9, 0.95, 0.99]))
def test_histogram_quantile_within_relative_error(values: list[float], q: float) -> None:
    """Every quantile is within the relative error of numpy's rank-floor(q(n-1)) value."""
    h = LogHistogram(relative_error=0.01)
    exact = float(np.quantile(values, q, method="lower"))
    got = h.quantile(h.counts(values), q)
    assert abs(got - exact) <= 0.01 * exact * (1 + 1e-9)


def test_histogram_empty_is_nan() -> None:
    """No value gives a NaN quantile."""
    h = LogHistogram()
    assert math.isnan(h.quantile(np.zeros(h.n_buckets, dtype=np.int64), 0.5))


# -- latency -----------------------------------------------------------------------------

def test_latency_quantiles_match_numpy_over_window() -> None:
    """p50/p95/p99 of the window agree with numpy within the documented 1% error."""
    clock = FakeClock()
    mon = LatencyMonitor(window=10, slices=5, clock=clock)
    rng = np.random.default_rng(1)
    values = rng.lognormal(-2, 0.5, size=500)
    mon.observe(values)
    q = mon.quantiles()
    for name, level in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        exact = float(np.quantile(values, level, method="lower"))
        assert abs(q[name] - exact) <= 0.0101 * exact


def test_latency_window_forgets_old_slices() -> None:
    """Latencies older than the window no longer count."""
    clock = FakeClock()
    mon = LatencyMonitor(window=10, slices=5, clock=clock)
    mon.observe(np.full(100, 5.0))
    clock.advance(11)
    mon.observe(0.1)
    assert mon.quantiles()["p99"] == pytest.approx(0.1, rel=0.01)


def test_latency_spike_breach_then_recovery_once_each() -> None:
    """One breach signal during a sustained spike, one recovery after it."""
    clock = FakeClock()
    mon = LatencyMonitor(window=60, slices=6, clock=clock)
    seen: list[Signal] = []
    mon.subscribe(seen.append)
    feed_latency(mon, clock, 0.2, 120)
    feed_latency(mon, clock, 3.0, 120)
    feed_latency(mon, clock, 0.2, 130)
    assert [s.status for s in seen] == ["breach", "recovered"]
    assert seen[0].threshold == pytest.approx(3 * seen[0].baseline)


def test_latency_escalation_when_excess_doubles() -> None:
    """A spike that gets much worse is signalled again as escalated."""
    clock = FakeClock()
    mon = LatencyMonitor(window=60, slices=6, baseline=0.2, min_count=5, clock=clock)
    seen: list[Signal] = []
    mon.subscribe(seen.append)
    feed_latency(mon, clock, 1.0, 70)
    feed_latency(mon, clock, 5.0, 70)
    assert [s.status for s in seen] == ["breach", "escalated"]


def test_latency_numpy_and_int_scalars_are_scalars() -> None:
    """numpy and int scalars take the scalar path (buffered), like floats."""
    mon = LatencyMonitor()
    mon.observe(np.float32(0.5))
    mon.observe(np.int64(1))
    mon.observe(2)
    assert mon._buffer == [0.5, 1.0, 2.0]


def test_latency_limit_and_nonfinite_counted() -> None:
    """An absolute limit decides; NaN, inf and negative latencies are counted, not fatal."""
    clock = FakeClock()
    mon = LatencyMonitor(window=10, slices=2, limit=1.0, baseline=0.1, min_count=3, clock=clock)
    mon.observe(np.array([np.nan, np.inf, -1.0]))
    for _ in range(300):
        mon.observe(2.0)
    clock.advance(6)
    mon.evaluate()
    assert mon.nonfinite == 3
    assert mon.last_signal is not None
    assert mon.last_signal.threshold == 1.0


def test_latency_reset_baseline() -> None:
    """reset_baseline forgets a learned baseline; a given one cannot be reset."""
    clock = FakeClock()
    mon = LatencyMonitor(window=10, slices=2, min_count=1, clock=clock)
    feed_latency(mon, clock, 0.2, 30)
    assert mon.baseline is not None
    mon.reset_baseline()
    assert mon.baseline is None
    with pytest.raises(ConfigurationError, match="baseline"):
        LatencyMonitor(baseline=0.1).reset_baseline()


def test_latency_sampling_keeps_every_kth() -> None:
    """sample=0.25 keeps one call in four."""
    clock = FakeClock()
    mon = LatencyMonitor(window=10, slices=2, sample=0.25, clock=clock)
    for _ in range(400):
        mon.observe(0.1)
    mon.observe(np.full(400, 0.1))
    mon.evaluate()
    assert int(mon._slices.total().sum()) == 200


# -- error rate --------------------------------------------------------------------------

def test_error_rates_per_kind_from_taps() -> None:
    """Taps count errors, timeouts, fallbacks and null outputs per call."""
    clock = FakeClock()
    mon = ErrorRateMonitor(window=10, clock=clock)
    mon.tap((), {}, 1.0, OK)
    mon.tap((), {}, None, ("raised", "error", "model", 0, 0.1, None))
    mon.tap((), {}, 0.0, ("fallback[0]", "timeout", "timeout", 0, 0.1, None))
    mon.tap((), {}, float("nan"), OK)
    mon.tap((), {}, np.array([1.0, np.nan]), ("model", "invalid", "check", 1, 0.1, None))
    mon.tap((), {}, [None, 1], OK)
    rates = mon.rates()
    assert rates == {"error": 1 / 6, "timeout": 1 / 6, "fallback": 2 / 6, "null": 3 / 6}


def test_error_rate_learned_baseline_then_breach() -> None:
    """A learned baseline of 1% and a jump to 30% gives a breach naming the kind."""
    clock = FakeClock()
    mon = ErrorRateMonitor(window=60, slices=6, clock=clock)
    for i in range(200):
        mon.observe(error=i % 100 == 0)
        clock.advance(0.5)
    assert mon.baseline is not None
    assert mon.baseline["error"] < 0.02
    for i in range(100):
        mon.observe(error=i % 3 == 0, calls=1)
        clock.advance(0.5)
    s = mon.last_signal
    assert s is not None
    assert s.evidence["worst"] == "error"
    assert s.value > 0.06


def test_error_rate_batch_masks_and_max_rate() -> None:
    """A batch of calls with masks counts each; max_rate is an absolute limit."""
    clock = FakeClock()
    mon = ErrorRateMonitor(window=10, slices=2, max_rate=0.1, baseline=0.0, clock=clock)
    mon.observe(null=np.array([True, False, False, False]), calls=4)
    mon.observe(fallback=np.int64(5), calls=36)
    clock.advance(6)
    mon.evaluate()
    assert mon.last_signal is not None
    assert mon.last_signal.threshold == 0.1
    counts = mon.last_signal.evidence["counts"]
    assert counts == {"error": 0, "timeout": 0, "fallback": 5, "null": 1}


def test_error_rate_null_of_odd_result_is_false() -> None:
    """A result numpy cannot read as numbers is not counted as null."""
    mon = ErrorRateMonitor()
    mon.tap((), {}, object(), OK)
    mon.tap((), {}, "text", OK)
    assert mon.rates()["null"] == 0.0


# -- output ------------------------------------------------------------------------------

def test_output_psi_equals_drift_psi() -> None:
    """The distribution rule's value is aiguard.drift.psi of the window against the reference."""
    rng = np.random.default_rng(2)
    ref, cur = rng.random(4000), rng.random(500) ** 2
    mon = OutputMonitor(ref, window=500, every=100, psi=0.05)
    mon.observe(cur)
    mon.drain()
    s = mon.last_signal
    assert s is not None
    assert s.evidence["rule"] == "distribution"
    assert s.value == pytest.approx(float(drift.psi(ref, cur).statistic))


def test_output_scalar_calls_and_constant_collapse() -> None:
    """Scalar outputs stuck on one value breach the constant rule."""
    rng = np.random.default_rng(3)
    mon = OutputMonitor(rng.random(1000), window=200, every=50, min_rows=100)
    for _ in range(200):
        mon.observe(0.5)
    mon.drain()
    assert mon._alarms["constant"].breached
    assert mon.last_signal is not None
    assert mon.last_signal.value == 0.5


def test_output_classes_collapse_and_nonfinite() -> None:
    """All predictions of one class breach 'constant'; NaN scores are counted."""
    mon = OutputMonitor(np.array(["a", "b"] * 100), every=50, min_rows=50)
    mon.observe(np.array(["a"] * 100))
    mon.drain()
    assert mon._alarms["constant"].breached
    scores = OutputMonitor(np.linspace(0, 1, 100), every=10, min_rows=10)
    scores.observe(np.array([np.nan, np.inf, 0.5]))
    scores.drain()
    assert scores.nonfinite == 2


def test_output_tap_skips_fallback_and_reads_proba_last_column() -> None:
    """A fallback's answer is not observed; 2-D outputs are read through the last column."""
    mon = OutputMonitor(np.linspace(0, 1, 100), every=2, min_rows=2)
    mon.tap((), {}, 0.3, ("fallback[0]", "error", "model", 0, 0.1, None))
    mon.tap((), {}, np.array([[0.9, 0.1], [0.8, 0.2]]), OK)
    mon.drain()
    assert len(mon._blocks) == 1


def test_output_full_queue_drops_counted() -> None:
    """A full background queue drops work and counts it, without blocking the caller."""
    mon = OutputMonitor(np.linspace(0, 1, 100), every=2, queue=1)
    gate = threading.Event()
    mon._worker.submit(gate.wait)
    for _ in range(20):
        mon.observe(np.array([0.1, 0.2]))
    assert mon.dropped >= 1
    gate.set()
    mon.drain()
    mon.close()


# -- input drift -------------------------------------------------------------------------

def test_input_drift_attribution_and_values_equal_drift_psi() -> None:
    """The signal names the moved feature and its PSI equals aiguard.drift.psi."""
    rng = np.random.default_rng(4)
    train = rng.normal(size=(5000, 3))
    ref = drift.Reference(train, feature_names=["a", "region", "c"])
    mon = InputDriftMonitor(ref, every=600)
    batch = rng.normal(size=(600, 3))
    batch[:, 1] += 1.5
    mon.observe(batch[:300])
    mon.observe(batch[300:])
    mon.drain()
    s = mon.last_signal
    assert s is not None
    assert s.evidence["features"] == ["region"]
    expected = drift.psi(train, batch).statistic
    assert s.evidence["scores"]["region"] == pytest.approx(float(expected[1]))
    assert mon.comparisons == 1


def test_input_drift_runs_in_background_thread() -> None:
    """Comparisons happen on the monitor's thread, never on the caller's."""
    rng = np.random.default_rng(5)
    ref = drift.Reference(rng.normal(size=(1000, 2)))
    mon = InputDriftMonitor(ref, every=100, threshold=0.01)
    threads: list[str] = []
    mon.subscribe(lambda s: threads.append(threading.current_thread().name))
    mon.observe(rng.normal(3, 1, size=(100, 2)))
    mon.drain()
    assert threads
    assert threads[0] != threading.current_thread().name


def test_input_drift_interval_inf_and_bad_batch() -> None:
    """interval= compares after T seconds; inf is counted; an unfit batch is counted as an error."""
    rng = np.random.default_rng(6)
    clock = FakeClock()
    ref = drift.Reference(rng.normal(size=(1000, 2)))
    mon = InputDriftMonitor(ref, every=10_000, interval=5, min_rows=10, clock=clock)
    mon.observe(rng.normal(size=(50, 2)))
    mon.drain()
    clock.advance(6)
    mon.observe(np.array([np.inf, 0.0]))
    mon.drain()
    mon.observe(np.zeros((3, 5)))
    mon.drain()
    assert mon.comparisons == 1
    assert mon.nonfinite == 1
    assert mon.errors == 1


def test_input_drift_sample_keeps_share_of_rows() -> None:
    """sample=0.5 keeps every other row."""
    rng = np.random.default_rng(7)
    ref = drift.Reference(rng.normal(size=(1000, 2)))
    mon = InputDriftMonitor(ref, every=10_000, sample=0.5)
    mon.observe(rng.normal(size=(100, 2)))
    mon.drain()
    assert mon._acc.n_rows == 50


# -- performance -------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=1, max_size=200))
def test_performance_metrics_equal_sklearn(pairs: list[tuple[int, int]]) -> None:
    """Accuracy and precision/recall/F1 of pos_label equal scikit-learn's."""
    from sklearn import metrics as skm

    y = np.array([p[0] for p in pairs])
    p = np.array([p[1] for p in pairs])
    mon = PerformanceMonitor(window=500, every=500, pos_label=1)
    mon.observe(list(range(len(p))), p)
    mon.record(list(range(len(y))), y)
    got = mon.metrics()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw: dict[str, Any] = {"labels": [1], "average": None, "zero_division": 0}
        assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, p))
        assert got["precision"] == pytest.approx(skm.precision_score(y, p, **kw)[0])
        assert got["recall"] == pytest.approx(skm.recall_score(y, p, **kw)[0])
        assert got["f1"] == pytest.approx(skm.f1_score(y, p, **kw)[0])


def test_performance_binary_equals_sklearn_binary_average() -> None:
    """For 0/1 labels the F1 is scikit-learn's default average='binary'."""
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(8)
    y, p = rng.integers(0, 2, 300), rng.integers(0, 2, 300)
    mon = PerformanceMonitor(window=300, every=300)
    mon.observe(np.arange(300), p)
    mon.record(np.arange(300), y)
    assert mon.metrics()["f1"] == pytest.approx(f1_score(y, p))


def test_performance_pending_expiry_eviction_unmatched() -> None:
    """Old predictions expire, the pending map is bounded, unknown ids are counted."""
    clock = FakeClock()
    mon = PerformanceMonitor(max_pending=5, ttl=10, clock=clock)
    mon.observe(range(8), [1] * 8)
    assert mon.pending == 5
    assert mon.evicted == 3
    clock.advance(5)
    mon.observe("late", 0)
    clock.advance(6)
    mon.record(["late", "nobody"], [0, 1])
    assert mon.evicted == 4
    assert mon.expired == 4
    assert mon.unmatched == 1
    assert mon.pending == 0


def test_performance_learned_baseline_then_drop() -> None:
    """Accuracy learned at 100% then falling to 50% breaches."""
    mon = PerformanceMonitor(metric="accuracy", window=100, every=100, min_labels=50)
    mon.observe(range(100), [1] * 100)
    mon.record(range(100), [1] * 100)
    assert mon.baseline == 1.0
    mon.observe(range(100, 200), [1] * 100)
    mon.record(range(100, 200), [0, 1] * 50)
    assert mon.last_signal is not None
    assert mon.last_signal.value == 0.5


def test_performance_tap_uses_request_id_and_sampling() -> None:
    """A tap keeps predictions under request_id's ids; sampling keeps every other."""
    mon = PerformanceMonitor(request_id=lambda a, k: k["ids"], sample=0.5)
    mon.tap((np.zeros((4, 2)),), {"ids": [1, 2, 3, 4]}, np.array([0, 1, 0, 1]), OK)
    mon.tap((), {}, None, OK)
    assert mon.pending == 2
    PerformanceMonitor().tap((), {}, 1, OK)


# -- fairness ----------------------------------------------------------------------------

# each example builds four fairlearn MetricFrames (~0.1 s): 15 cover the group/label mixes
@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 1), st.integers(0, 1)),
                min_size=2, max_size=200))
def test_fairness_metrics_equal_fairlearn(rows: list[tuple[str, int, int]]) -> None:
    """Selection rates, parity difference / ratio and equalized odds equal fairlearn's."""
    from fairlearn import metrics as flm

    g = np.array([r[0] for r in rows])
    p = np.array([r[1] for r in rows])
    y = np.array([r[2] for r in rows])
    mon = FairnessMonitor(window=500, every=500)
    mon.observe(p, g, labels=y)
    got = mon.metrics()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dpd = flm.demographic_parity_difference(y, p, sensitive_features=g)
        dpr = flm.demographic_parity_ratio(y, p, sensitive_features=g)
        eod = flm.equalized_odds_difference(y, p, sensitive_features=g)
        frame = flm.MetricFrame(metrics=flm.selection_rate, y_true=y, y_pred=p,
                                sensitive_features=g)
    assert got["demographic_parity_difference"] == pytest.approx(dpd)
    if math.isnan(dpr):
        assert math.isnan(got["demographic_parity_ratio"])
    else:
        assert got["demographic_parity_ratio"] == pytest.approx(dpr)
    assert got["equalized_odds_difference"] == pytest.approx(eod)
    assert got["selection_rate"] == pytest.approx(dict(frame.by_group))


def test_fairness_ratio_rule_overflow_and_tap() -> None:
    """The ratio rule breaches below 0.8; extra groups are counted; taps need group_of."""
    mon = FairnessMonitor(metric="demographic_parity_ratio", every=100, min_group=10,
                          max_groups=2, group_of=lambda a, k: a[0])
    preds = np.array([1, 0] * 25 + [1, 0, 0, 0, 0] * 10 + [1] * 10)
    groups = np.array(["a"] * 50 + ["b"] * 50 + ["c"] * 10)
    mon.tap((groups,), {}, preds, OK)
    assert mon.overflow == 10
    assert mon.groups == ("a", "b")
    assert mon.last_signal is not None
    assert mon.last_signal.value == pytest.approx(0.4)
    FairnessMonitor().tap((), {}, 1, OK)


def test_fairness_bad_shapes() -> None:
    """Groups or labels of another length are InvalidInputErrors naming the argument."""
    mon = FairnessMonitor()
    with pytest.raises(InvalidInputError, match="groups"):
        mon.observe([1, 0], ["a"])
    with pytest.raises(InvalidInputError, match="labels"):
        mon.observe([1, 0], ["a", "b"], labels=[1])


# -- confidence --------------------------------------------------------------------------

def test_confidence_entropy_equals_scipy() -> None:
    """Per-row entropy equals scipy.stats.entropy and max-probability the row max."""
    from scipy.stats import entropy

    from aiguard.detect._monitors._confidence import confidence

    rng = np.random.default_rng(9)
    p = rng.dirichlet([1, 1, 1], size=50)
    p[0] = [1.0, 0.0, 0.0]
    m, h = confidence(p)
    assert np.allclose(h, entropy(p, axis=1))
    assert np.allclose(m, p.max(axis=1))
    m1, _ = confidence(np.array([0.2, 0.9]))
    assert m1.tolist() == pytest.approx([0.8, 0.9])


def test_confidence_drop_breach_nonfinite_and_sample() -> None:
    """A fall in mean max-probability breaches; NaN rows are counted; sampling halves rows."""
    mon = ConfidenceMonitor(np.array([[0.95, 0.05]] * 10), every=20, min_rows=20, sample=0.5)
    mon.tap((), {}, np.array([[0.55, 0.45]] * 40 + [[np.nan, 0.1]]), OK)
    assert mon.nonfinite == 1
    assert mon._window.filled == 20
    assert mon.last_signal is not None
    assert mon.last_signal.evidence["mean_entropy"] > 0.6


# -- shared behaviour --------------------------------------------------------------------

class Above:
    """A stand-in change detector: fires when fed a value above 0.5."""

    drift_detected = False

    def update(self, x: float) -> None:
        self.drift_detected = x > 0.5


def test_detector_plugs_in_as_extra_rule() -> None:
    """A detector= that fires makes the rule breach although the threshold is not crossed."""
    assert isinstance(Above(), ChangeDetector)
    mon = ConfidenceMonitor(np.array([[0.9, 0.1]] * 10), drop=0.5, every=10, min_rows=10,
                            detector=Above())
    mon.observe(np.array([[0.8, 0.2]] * 10))
    assert mon.last_signal is not None
    assert mon.in_breach


def test_subscriber_that_raises_is_counted() -> None:
    """A failing subscriber is counted; the others still get the signal."""
    seen: list[Signal] = []
    mon = ConfidenceMonitor(np.array([[0.9, 0.1]] * 10), every=10, min_rows=10)
    mon.subscribe(lambda s: 1 / 0)
    mon.subscribe(seen.append)
    mon.observe(np.array([[0.5, 0.5]] * 10))
    assert mon.errors == 1
    assert len(seen) == 1
    mon.unsubscribe(seen.append)
    assert len(mon._subscribers) == 1


def test_every_monitor_is_a_tap() -> None:
    """Each monitor satisfies the MonitorTap protocol."""
    ref = drift.Reference(np.zeros((10, 1)) + np.arange(10)[:, None])
    mons = [LatencyMonitor(), ErrorRateMonitor(), OutputMonitor([0.1, 0.2]),
            InputDriftMonitor(ref), PerformanceMonitor(), FairnessMonitor(),
            ConfidenceMonitor([0.2, 0.7])]
    assert all(isinstance(m, MonitorTap) for m in mons)


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        (lambda: LatencyMonitor(window=0), "window"),
        (lambda: LatencyMonitor(quantile=np.float64(0.2)), "quantile"),
        (lambda: LatencyMonitor(factor=True), "factor"),
        (lambda: LatencyMonitor(sample=0), "sample"),
        (lambda: LatencyMonitor(name=""), "name"),
        (lambda: LatencyMonitor(clock=3), "clock"),
        (lambda: LatencyMonitor(detector=object()), "detector"),
        (lambda: LatencyMonitor(relative_error=0.6), "relative_error"),
        (lambda: ErrorRateMonitor(margin=2), "margin"),
        (lambda: ErrorRateMonitor(slices=0), "slices"),
        (lambda: OutputMonitor([1.0]), "reference"),
        (lambda: OutputMonitor([1.0, np.inf]), "reference"),
        (lambda: OutputMonitor([1.0, 2.0], outputs="x"), "outputs"),
        (lambda: OutputMonitor([1.0, 2.0], window=10, every=20), "every"),
        (lambda: InputDriftMonitor(np.zeros((3, 2))), "reference"),
        (lambda: InputDriftMonitor(drift.Reference(np.arange(5.0)), statistic="ks"),
         "statistic"),
        (lambda: PerformanceMonitor(metric="auc"), "metric"),
        (lambda: PerformanceMonitor(ttl=-1), "ttl"),
        (lambda: PerformanceMonitor(request_id=1), "request_id"),
        (lambda: FairnessMonitor(metric="x"), "metric"),
        (lambda: FairnessMonitor(group_of=1), "group_of"),
        (lambda: ConfidenceMonitor(["a", "b"]), "reference"),
        (lambda: ConfidenceMonitor([np.nan]), "reference"),
    ],
)
def test_configuration_errors_name_the_argument(build: Any, argument: str) -> None:
    """Bad configuration raises ConfigurationError naming the argument."""
    with pytest.raises(ConfigurationError) as info:
        build()
    assert info.value.argument == argument


def test_subscribe_refuses_non_callable() -> None:
    """subscribe() needs a callable."""
    with pytest.raises(ConfigurationError, match="callback"):
        LatencyMonitor().subscribe(3)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.floats(0.0, 10.0)), max_size=60))
def test_alarm_deduplication_matches_a_reference_model(steps: list[tuple[bool, float]]) -> None:
    """Signals follow the rule: breach once, escalated when the excess doubled, recovered once."""
    from aiguard.detect._monitors._base import _Alarm

    alarm = _Alarm()
    in_breach, last = False, 0.0
    for breached, excess in steps:
        expected = None
        if breached and not in_breach:
            expected, in_breach, last = "breach", True, excess
        elif breached and last > 0 and excess >= 2 * last:
            expected, last = "escalated", excess
        elif not breached and in_breach:
            expected, in_breach, last = "recovered", False, 0.0
        assert alarm.step(breached=breached, excess=excess) == expected


def test_input_drift_interval_queues_slow_traffic() -> None:
    """With interval=, single rows gathered for longer than the interval are compared."""
    rng = np.random.default_rng(13)
    clock = FakeClock()
    ref = drift.Reference(rng.normal(size=(1000, 2)))
    mon = InputDriftMonitor(ref, every=10_000, interval=60, min_rows=5, clock=clock)
    for _ in range(10):
        mon.observe(rng.normal(size=2))
        clock.advance(10)
    mon._worker.drain()
    assert mon.comparisons == 1

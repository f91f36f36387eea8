"""Detectors against independent references: the CUSUM recursion, scipy's KS test, the filter."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

try:
    from river import drift as river_drift
except ImportError:  # river 0.26 needs Python 3.11: on 3.10 the river comparisons skip
    river_drift = None
from scipy import stats
from tests.detect import streams

from aiguard.detect import ADWIN, CUSUM, EDDM, HDDM_A, KSWIN, PageHinkley
from aiguard.detect._streaming._filter import recurse
from aiguard.detect._streaming._kswin import _rule, ks_counts
from aiguard.detect._streaming._params import decode_float, encode_float
from aiguard.errors import InvalidInputError


def reference_cusum(
    stream: np.ndarray, target: float, k: float, h: float
) -> tuple[list[int], float]:
    """Montgomery's tabular CUSUM, written from the textbook, restarting after each alarm.

    Returns the detections and how close (relative to h) a statistic came to h:
    at a tie in real arithmetic, float rounding alone decides either form.
    """
    found, up, down, restart, closest = [], 0.0, 0.0, False, np.inf
    for i, x in enumerate(stream):
        if restart:
            up = down = 0.0
        up = max(0.0, up + x - (target + k))
        down = max(0.0, down + (target - k) - x)
        closest = min(closest, abs(up - h) / h, abs(down - h) / h)
        restart = up > h or down > h
        if restart:
            found.append(i)
    return found, closest


@settings(max_examples=60, deadline=None)
@given(stream=streams.real_streams(), k=st.floats(0, 2), h=st.floats(0.5, 20))
def test_cusum_matches_the_textbook_recursion(stream: np.ndarray, k: float, h: float) -> None:
    """CUSUM's detections are the max(0, ...) recursion's (Lindley form, same maths).

    Streams where a statistic lands within 1e-9 of h are set aside: there the two
    forms round differently (five steps of 0.1 make 0.5000000000000001 one way).
    """
    expected, closest = reference_cusum(stream, 0.0, k, h)
    assume(closest > 1e-9)
    ours = CUSUM(target=0.0, k=k, h=h).update_many(stream).tolist()
    assert ours == expected


def test_cusum_statistics_are_the_textbook_ones() -> None:
    """upper and lower equal C+ and C- of the recursion after each value."""
    stream = streams.abrupt()[:1400]
    detector = CUSUM(target=0.0, k=0.5, h=1e9)
    up = down = 0.0
    for x in stream:
        detector.update(x)
        up, down = max(0.0, up + x - 0.5), max(0.0, down - 0.5 - x)
        assert detector.upper == pytest.approx(up, abs=1e-9)
        assert detector.lower == pytest.approx(down, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=200),
    a=st.floats(0, 1),
    start=st.floats(-1e3, 1e3),
)
def test_recurse_is_the_python_loop_to_the_bit(values: list[float], a: float, start: float) -> None:
    """The C filter computes y = a * y + u with the loop's roundings."""
    y, expected = start, []
    for u in values:
        y = a * y + u
        expected.append(y)
    assert recurse(a, np.array(values), start).tolist() == expected


@pytest.mark.filterwarnings("ignore:ks_2samp:RuntimeWarning")  # scipy falls back to asymp
@settings(max_examples=40, deadline=None)  # scipy's exact KS costs ~15 ms an example
@given(
    first=st.lists(st.integers(0, 6), min_size=30, max_size=30),
    second=st.lists(st.integers(0, 6), min_size=30, max_size=30),
)
def test_ks_counts_is_scipys_statistic(first: list[int], second: list[int]) -> None:
    """r * D in integer counts equals scipy's two-sample KS statistic times r, ties included."""
    a, b = np.array(first, float), np.array(second, float)
    assert ks_counts(a[None], b[None])[0] == round(stats.ks_2samp(a, b).statistic * 30)


@pytest.mark.parametrize(("stat_size", "alpha"), [(30, 0.005), (10, 0.05), (50, 0.0001)])
def test_kswin_rule_is_river_test_on_scipys_pvalue(stat_size: int, alpha: float) -> None:
    """The tabulated rule is 'p <= alpha and D > 0.1' with scipy's exact p-value for each D."""
    rng = np.random.default_rng(0)
    rule = _rule(stat_size, alpha)
    for _ in range(200):
        a = rng.normal(size=stat_size)
        b = rng.normal(rng.uniform(0, 2), 1, size=stat_size)
        result = stats.ks_2samp(a, b, method="auto")
        expected = result.pvalue <= alpha and result.statistic > 0.1
        assert rule[ks_counts(a[None], b[None])[0]] == expected


def test_kswin_tests_what_river_tests() -> None:
    """Fed river's own draws, KSWIN's rule flags exactly the windows river's KSWIN flags."""
    if river_drift is None:
        pytest.skip("river 0.26 needs Python 3.11")
    stream = streams.abrupt()[1200:1800]  # the shift at 300 (river's KSWIN costs ~2 ms a value)
    river = river_drift.KSWIN(seed=5)
    rule = _rule(30, 0.005)
    flags = []
    for x in stream:
        shadow = random.Random(5)  # river re-seeds when it resets after a drift
        if not river.drift_detected:
            shadow.setstate(river._rng.getstate())
        window = ([] if river.drift_detected else list(river.window)) + [x]
        window = window[-100:]
        flagged = False
        if len(window) == 100:
            drawn = [window[i] for i in shadow.sample(range(70), 30)]
            flagged = bool(rule[ks_counts(np.array([drawn]), np.array([window[70:]]))[0]])
        river.update(x)
        assert flagged == river.drift_detected
        flags.append(flagged)
    assert any(flags)


def test_kswin_is_reproducible_and_seeded() -> None:
    """The same seed gives the same detections; a reset replays them."""
    stream = streams.gradual()
    one = KSWIN(seed=11).update_many(stream).tolist()
    detector = KSWIN(seed=11)
    assert detector.update_many(stream).tolist() == one
    detector.reset()
    assert detector.update_many(stream).tolist() == one
    assert one  # the gradual shift is found


def test_kswin_with_the_smallest_window_draws_everything() -> None:
    """window_size = 2 * stat_size: the drawn sample is the whole older half."""
    stream = np.r_[np.zeros(100), np.ones(100)]
    found = KSWIN(window_size=20, stat_size=10, alpha=0.01, seed=0).update_many(stream).tolist()
    ones = next(
        j
        for j in range(1, 11)
        if stats.ks_2samp(np.zeros(10), np.r_[np.zeros(10 - j), np.ones(j)]).pvalue <= 0.01
    )
    assert found[0] == 100 + ones - 1


def test_adwin_window_figures_match_river() -> None:
    """width and estimation are river's after the same stream."""
    if river_drift is None:
        pytest.skip("river 0.26 needs Python 3.11")
    stream = streams.gradual()
    ours, theirs = ADWIN(), river_drift.ADWIN()
    ours.update_many(stream)
    for x in stream:
        theirs.update(x)
    assert (ours.width, ours.estimation) == (theirs.width, theirs.estimation)
    assert ADWIN().estimation == 0.0


def test_pagehinkley_detects_the_shift_river_does() -> None:
    """On the documented abrupt shift both detect at the same index, soon after the change."""
    stream = np.r_[np.zeros(1000), np.full(1000, 5.0)]
    found = PageHinkley().update_many(stream).tolist()
    assert found == [1010]


def test_non_finite_floats_round_trip_through_json() -> None:
    """inf and nan are spelled as strings for strict JSON and read back."""
    for value in (float("inf"), -float("inf")):
        assert decode_float(json.loads(json.dumps(encode_float(value)))) == value
    assert np.isnan(decode_float(encode_float(float("nan"))))
    assert decode_float(2) == 2.0
    for bad in ("infinity", True, None):
        with pytest.raises(InvalidInputError):
            decode_float(bad)


def test_binary_detectors_reject_other_values() -> None:
    """An error indicator must be 0 or 1 (bools too); 0.5 or 2 names the index."""
    detector = HDDM_A()
    detector.update(True)
    with pytest.raises(InvalidInputError, match="0 or 1"):
        detector.update(0.5)
    with pytest.raises(InvalidInputError, match="at index 2"):
        detector.update_many([0, 1, 2, 1])


@pytest.mark.parametrize(
    ("cls", "field", "value"),
    [
        (ADWIN, "variances", [[1.0]]),
        (ADWIN, "totals", []),
        (HDDM_A, "z", [1.0]),
        (KSWIN, "window", [0.0] * 101),
    ],
)
def test_inconsistent_state_is_rejected(cls: type, field: str, value: object) -> None:
    """A state whose parts do not fit together is an InvalidInputError."""
    data = cls().to_dict() if cls is not KSWIN else cls(seed=1).to_dict()
    data["state"][field] = value
    with pytest.raises(InvalidInputError, match="bad state"):
        cls.from_dict(data)


def test_calibrate_keeps_the_most_sensitive_value_when_it_is_quiet_enough() -> None:
    """On a constant reference no threshold alarms, so the most sensitive bound is chosen."""
    detector = PageHinkley().calibrate(np.ones(500), false_alarms_per=100)
    assert detector.threshold == PageHinkley._knob.low


@pytest.mark.skipif(river_drift is None, reason="river 0.26 needs Python 3.11")
def test_pagehinkley_statistics_are_rivers_to_1e_12() -> None:
    """After each of 5,000 values both cumulative sums are river's within 1e-12 relative."""
    stream = streams.gradual(n=5000)
    ours, theirs = PageHinkley(threshold=1e9), river_drift.PageHinkley(threshold=1e9)
    worst = 0.0
    for x in stream.tolist():
        ours.update(x)
        theirs.update(x)
        scale = 1.0 + abs(theirs._sum_increase) + abs(theirs._sum_decrease)
        gap = max(abs(ours._inc - theirs._sum_increase), abs(ours._dec - theirs._sum_decrease))
        worst = max(worst, gap / scale)
    assert worst < 1e-12


def test_pagehinkley_update_many_keeps_the_sums_of_update() -> None:
    """Over a long quiet batch (no detection) the sums are those of update on its last values."""
    stream = np.random.default_rng(0).normal(0, 0.01, 20_000)
    batch = PageHinkley(threshold=1e9)
    batch.update_many(stream)
    mixed = PageHinkley(threshold=1e9)
    mixed.update_many(stream[:-60])
    for value in stream[-60:]:
        mixed.update(value)
    assert batch.to_dict() == mixed.to_dict()


def test_eddm_batch_ending_in_correct_values_after_a_detection_resets() -> None:
    """EDDM's errors-only batch loop resets after a detection followed by correct values only."""
    stream = streams.errors(4, (0.1, 0.4))
    first = EDDM().update_many(stream).tolist()[0]
    batch = np.r_[stream[: first + 1], np.zeros(7)]
    one, many = EDDM(), EDDM()
    for value in batch:
        one.update(value)
    assert many.update_many(batch).tolist() == [first]
    assert many.to_dict() == one.to_dict()
    assert many.to_dict()["state"]["n"] == 7

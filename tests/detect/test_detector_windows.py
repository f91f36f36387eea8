"""PageHinkley's window scans: the detection found from the window's extremes is update's."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.detect import streams

from aiguard.detect import PageHinkley
from aiguard.detect._streaming import _lanes, _pagehinkley
from aiguard.detect._streaming._windows import Windows


@settings(max_examples=20, deadline=None)  # ~25 ms an example (scipy filter calls per window)
@given(
    kwargs=st.fixed_dictionaries(
        {
            "threshold": st.sampled_from([0.5, 3.0, 10.0, 50.0]),
            "min_instances": st.sampled_from([1, 5, 30, 200]),
            "mode": st.sampled_from(["up", "down", "both"]),
            "alpha": st.sampled_from([0.9, 0.999, 1.0]),
            "delta": st.sampled_from([0.0, 0.005, 0.3]),
        }
    ),
    stream=streams.real_streams(max_length=200),
    head=st.integers(0, 50),
    scan=st.sampled_from([4096, 40]),
)
def test_window_scans_are_update_to_the_bit(
    kwargs: dict[str, Any], stream: np.ndarray, head: int, scan: int
) -> None:
    """With windows of 16 values and up (searched whole or by block), update_many is update."""
    one, many = PageHinkley(**kwargs), PageHinkley(**kwargs)
    expected = streams.per_value(one, stream[:head])
    expected += [head + i for i in streams.per_value(one, stream[head:])]
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(_lanes, "Windows", functools.partial(Windows, first=16, smallest=16))
        monkeypatch.setattr(_pagehinkley, "SCAN", scan)
        monkeypatch.setattr(_pagehinkley, "BLOCK", 8)
        found = many.update_many(stream[:head]).tolist()
        found += (many.update_many(stream[head:]) + head).tolist()
    assert found == expected
    assert many.to_dict() == one.to_dict()


def test_a_fresh_run_of_negative_zeros_keeps_updates_positive_zero_sum() -> None:
    """update adds -0.0 to a 0.0 sum (giving 0.0); the fresh-run prefix sum must not keep -0.0."""
    one, many = PageHinkley(), PageHinkley()
    zeros = np.array([-0.0, -0.0, -0.0])
    streams.per_value(one, zeros)
    many.update_many(zeros)
    assert math.copysign(1.0, many.to_dict()["state"]["sum"]) == 1.0
    assert math.copysign(1.0, one.to_dict()["state"]["sum"]) == 1.0
    many.update_many(np.array([2.0, -0.0]))
    streams.per_value(one, np.array([2.0, -0.0]))
    assert many.to_dict() == one.to_dict()


def test_a_block_that_may_detect_but_does_not_is_checked_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A block's low comes after its peak: the peak is no detection, a later value is."""
    monkeypatch.setattr(_pagehinkley, "BLOCK", 3)
    detector = PageHinkley(threshold=5.0, min_instances=1, mode="up")
    inc = np.array([0.0, 4.0, -3.0, 1.0, 2.5, 0.0, 0.0])  # 4 - (-3) > 5, but -3 comes later
    dec = np.zeros_like(inc)
    assert detector._first_detection(np.array([-inc, dec]), 0) == (4, -3.0, 0.0)
    assert detector._first_detection(np.array([-inc[:4], dec[:4]]), 0) == (None, -3.0, 0.0)


def test_windows_after_a_restart_take_one_gap_then_half_a_gap() -> None:
    """After a detection the next windows cover *reach*, then *then* typical gaps, then double."""
    windows = Windows(10_000, first=1000, smallest=10, reach=1.0, then=0.5)
    sizes = []
    for start, stop in windows:
        sizes.append(stop - start)
        if start == 0:
            windows.restart(100, 100.0, weight=1.0)
        if len(sizes) == 5:
            break
    assert sizes == [1000, 100, 50, 100, 200]


@settings(max_examples=25, deadline=None)  # ~10 ms an example (a window scan per detection)
@given(
    mode=st.sampled_from(["up", "down", "both"]),
    threshold=st.sampled_from([2.0, 8.0, 25.0]),
    seed=st.integers(0, 2**16),
    first=st.sampled_from([16, 40, 4096]),
    shift=st.integers(0, 3),
)
def test_batches_cut_on_detections_are_update_to_the_bit(
    mode: str, threshold: float, seed: int, first: int, shift: int
) -> None:
    """Batches ending on, just before or after a detection: update's detections and state."""
    stream = np.random.default_rng(seed).normal(0.0, 1.0, 1200)
    kwargs = {"mode": mode, "threshold": threshold, "min_instances": 5}
    expected = streams.per_value(PageHinkley(**kwargs), stream)
    cuts = sorted({min(len(stream), i + shift) for i in expected[::3]} | {len(stream)})
    one, many, found, begin = PageHinkley(**kwargs), PageHinkley(**kwargs), [], 0
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(_lanes, "Windows", functools.partial(Windows, first=first, smallest=16))
        for cut in cuts:
            found += (many.update_many(stream[begin:cut]) + begin).tolist()
            streams.per_value(one, stream[begin:cut])
            assert many.to_dict() == one.to_dict()  # the state at each cut, not only the last
            begin = cut
    assert found == expected


def test_bias_table_is_the_loop_in_order() -> None:
    """The table of E is E = alpha * E + delta computed in a Python loop, to the bit."""
    table = _pagehinkley._biases_for(0.9999, 0.005).upto(3000)
    e, loop = 0.0, [0.0]
    for _ in range(3000):
        e = 0.9999 * e + 0.005
        loop.append(e)
    assert table[:3001].tolist() == loop


def test_bias_table_ends_on_the_fixed_point_or_at_its_largest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """E's table stops once E = alpha * E + delta holds, or at MOST_BIASES values."""
    table = _pagehinkley._Biases(0.5, 1.0).upto(10_000)
    assert table[-1] == 0.5 * table[-1] + 1.0 != table[-2]  # ends on its first fixed point
    monkeypatch.setattr(_pagehinkley, "MOST_BIASES", 5000)
    capped = _pagehinkley._Biases(1.0, 0.25)  # E = n / 4: no fixed point
    assert len(capped.upto(8000)) == 5000 == len(capped.upto(9000))
    assert capped.upto(10)[4999] == 4999 / 4


@pytest.mark.parametrize("mode", ["up", "down", "both"])
def test_runs_past_the_fixed_point_of_e_are_update_to_the_bit(mode: str) -> None:
    """With alpha 0.5 E is fixed after ~55 values: windows after it use it as a constant."""
    stream = np.random.default_rng(3).normal(0.0, 1.0, 3000)
    kwargs = {"alpha": 0.5, "delta": 1.0, "threshold": 4.0, "mode": mode}
    one, many = PageHinkley(**kwargs), PageHinkley(**kwargs)
    assert many.update_many(stream).tolist() == streams.per_value(one, stream)
    assert many.to_dict() == one.to_dict()


@pytest.mark.parametrize(
    ("n", "bias"),
    [(10, 0.123), (30_000, 0.25), (5_000_000, 37.5)],
    ids=["bias-off-table", "past-the-counts", "long-run"],
)
def test_restored_states_off_the_tables_are_update_to_the_bit(n: int, bias: float) -> None:
    """A restored state the tables do not hold (E not the table's, n past it) follows update."""
    data = PageHinkley(threshold=4.0).to_dict()
    data["state"].update(n=n, bias=bias, sum=0.5 * n, fil=1.5, min_inc=-2.0, max_dec=3.0)
    stream = np.random.default_rng(7).normal(0.5, 1.0, 600)
    one, many = PageHinkley.from_dict(data), PageHinkley.from_dict(data)
    expected = streams.per_value(one, stream)
    assert many.update_many(stream).tolist() == expected
    assert expected  # the scan met detections (and restarts from the table)
    assert many.to_dict() == one.to_dict()

"""PageHinkley's window scans: the detection found from the window's extremes is update's."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.detect import streams

from aiguard.detect import PageHinkley
from aiguard.detect._streaming import _lanes, _pagehinkley
from aiguard.detect._streaming._windows import Windows


def per_value(detector: Any, stream: np.ndarray) -> list[int]:
    """Detections of update() fed one value at a time."""
    found = []
    for i, value in enumerate(stream.tolist()):
        detector.update(value)
        if detector.drift_detected:
            found.append(i)
    return found


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
    expected = per_value(one, stream[:head]) + [head + i for i in per_value(one, stream[head:])]
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(_lanes, "Windows", functools.partial(Windows, first=16, smallest=16))
        monkeypatch.setattr(_pagehinkley, "SCAN", scan)
        monkeypatch.setattr(_pagehinkley, "BLOCK", 8)
        found = many.update_many(stream[:head]).tolist()
        found += (many.update_many(stream[head:]) + head).tolist()
    assert found == expected
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

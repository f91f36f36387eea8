"""PageHinkley and CUSUM ``update_many`` in lanes: the same detections and state as ``update``."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.detect import streams

from aiguard.detect import CUSUM, PageHinkley
from aiguard.detect._streaming import _lanes
from aiguard.detect._streaming._windows import Windows

DENSE = [
    (CUSUM, {"h": 1.0}),
    (CUSUM, {"target": 0.3, "k": 0.1, "h": 0.5}),
    (PageHinkley, {"threshold": 1.0, "min_instances": 3}),
    (PageHinkley, {"threshold": 2.0, "min_instances": 1, "mode": "up", "alpha": 0.9}),
    (PageHinkley, {"threshold": 1.0, "min_instances": 3, "mode": "down", "delta": 0.0}),
]


def small_lanes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lanes from 2 lanes and a first window of 64 values, so short streams run in lanes.

    CUSUM's chains (tried before lanes) are switched off: ``test_detector_chains`` has them.
    """
    monkeypatch.setattr(_lanes, "FEWEST_LANES", 2)
    monkeypatch.setattr(_lanes, "Windows", functools.partial(Windows, first=64))
    monkeypatch.setattr(CUSUM, "_chained", False)


@settings(max_examples=30, deadline=None)  # an example runs ~50 ms of lanes: 30 cover the cases
@given(
    case=st.sampled_from(DENSE),
    stream=streams.real_streams(max_length=300),
    head=st.integers(0, 40),
)
def test_lanes_are_update_to_the_bit(
    case: tuple[type, dict[str, Any]], stream: np.ndarray, head: int
) -> None:
    """With lanes forced on short streams, update_many equals update: detections and state."""
    cls, kwargs = case
    with pytest.MonkeyPatch.context() as monkeypatch:
        small_lanes(monkeypatch)
        one, many = cls(**kwargs), cls(**kwargs)
        expected = streams.per_value(one, stream[:head])
        expected += [head + i for i in streams.per_value(one, stream[head:])]
        found = many.update_many(stream[:head]).tolist()
        found += (many.update_many(stream[head:]) + head).tolist()
    assert found == expected
    assert many.to_dict() == one.to_dict()


@pytest.mark.parametrize(("cls", "kwargs"), DENSE)
def test_lanes_on_a_long_dense_stream(cls: type, kwargs: dict[str, Any]) -> None:
    """5,000 noisy values, a detection every few (default windows, 4 lanes): update's result."""
    stream = np.tile(streams.noise(n=1000), 5)
    one, many = cls(**kwargs), cls(**kwargs)
    expected = streams.per_value(one, stream)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(_lanes, "FEWEST_LANES", 4)
        monkeypatch.setattr(CUSUM, "_chained", False)
        calls: list[int] = []
        real = _lanes.run_lanes
        monkeypatch.setattr(_lanes, "run_lanes", lambda *a, **k: calls.append(1) or real(*a, **k))
        found = many.update_many(stream).tolist()
    assert calls
    assert found == expected
    assert many.to_dict() == one.to_dict()


def test_lanes_that_never_rejoin_hand_back_to_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """A steady climb detects every 11 values; lanes out of phase never rejoin: still update's."""
    small_lanes(monkeypatch)
    stream = np.r_[np.full(5, 0.7), np.ones(3000)]  # C+ grows by 0.5 a value, h = 5
    one, many = CUSUM(), CUSUM()
    expected = streams.per_value(one, stream)
    calls: list[int] = []
    real = _lanes.run_lanes
    monkeypatch.setattr(_lanes, "run_lanes", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert many.update_many(stream).tolist() == expected
    assert many.to_dict() == one.to_dict()
    assert calls


def test_pagehinkley_scans_windows_where_lanes_do_not_pay(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lanes that prove nothing hand gaps of tens of values to window scans, not the loop."""
    stream = np.tile(streams.noise(n=1000), 5)
    one, many = PageHinkley(threshold=10.0), PageHinkley(threshold=10.0)
    expected = streams.per_value(one, stream)
    monkeypatch.setattr(_lanes, "FEWEST_LANES", 1)
    monkeypatch.setattr(_lanes, "MOST_LANES", 2)  # a lanes block leaves most of the stream
    monkeypatch.setattr(_lanes, "Windows", functools.partial(Windows, first=64))
    lane_calls: list[int] = []
    real_lanes = _lanes.LanedDetector._lanes

    def unpaid(self: Any, *args: Any) -> Any:  # lanes that prove too little to go on with
        lane_calls.append(1)
        return real_lanes(self, *args)[0], False

    monkeypatch.setattr(_lanes.LanedDetector, "_lanes", unpaid)
    looped: list[int] = []
    real_loop = PageHinkley._loop
    monkeypatch.setattr(PageHinkley, "_loop",
                        lambda self, values: looped.append(len(values)) or real_loop(self, values))
    found = many.update_many(stream).tolist()
    assert lane_calls == [1]  # tried once, then given up for this call
    assert found == expected
    assert many.to_dict() == one.to_dict()
    assert sum(looped) < len(stream) // 10  # the rest went to window scans


def lanes(detector: Any, stream: np.ndarray, length: int, **kwargs: Any) -> Any:
    """run_lanes with the detector's own parts, from its state."""
    return _lanes.run_lanes(
        stream,
        detector._lane_pack(),
        length,
        fresh=detector._lane_fresh(),
        inputs=detector._lane_inputs,
        step=detector._lane_step,
        **kwargs,
    )


def test_run_lanes_stops_before_a_lane_without_detections() -> None:
    """Lanes from the first one without a detection are left to the caller, the rest proven."""
    detector = CUSUM(h=1.0)
    stream = np.r_[streams.noise(n=400), np.zeros(400)]  # quiet after 400 values
    found, used, state = lanes(detector, stream, 50)
    reference = CUSUM(h=1.0)
    assert used <= 400
    assert found.tolist() == streams.per_value(reference, stream[:used])
    check = CUSUM(h=1.0)
    streams.per_value(check, stream[:used])
    detector._lane_load(state)
    assert detector.to_dict() == check.to_dict()


def test_run_lanes_with_rounds_exhausted_returns_what_it_proved() -> None:
    """With no re-run allowed only the first lane is proven (starts guessed fresh elsewhere)."""
    detector = CUSUM()
    stream = np.r_[np.full(3, 0.7), np.ones(600)]
    found, used, state = lanes(detector, stream, 60, rounds=0)
    check = CUSUM()
    assert found.tolist() == streams.per_value(check, stream[:used])
    detector._lane_load(state)
    assert detector.to_dict() == check.to_dict()
    assert 60 <= used < len(stream)

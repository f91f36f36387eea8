"""CUSUM ``update_many`` along chains of fresh starts: the detections and state of ``update``."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.detect import streams

from aiguard.detect import CUSUM
from aiguard.detect._streaming import _chains, _lanes
from aiguard.detect._streaming._cusum import first_crossings
from aiguard.detect._streaming._windows import Windows

PARAMS = [
    {},
    {"h": 1.0},
    {"target": 0.3, "k": 0.1, "h": 0.5},
    {"k": 0.0, "h": 2.0},
    {"h": 1e-3},
    {"h": 40.0},
]


def small_chains(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Chains on short streams (blocks of 48 starts, a first window of 16); the chains' verdicts."""
    monkeypatch.setattr(_lanes, "CHAIN_BLOCK", 48)
    monkeypatch.setattr(_lanes, "CHAIN_TRIAL", 16)
    monkeypatch.setattr(_chains, "CHAIN_BLOCK", 48)
    monkeypatch.setattr(_lanes, "Windows", functools.partial(Windows, first=16))
    verdicts: list[bool] = []
    real = _lanes.LanedDetector._chain

    def spy(self: Any, *args: Any) -> Any:
        hits, paid = real(self, *args)
        verdicts.append(paid)
        return hits, paid

    monkeypatch.setattr(_lanes.LanedDetector, "_chain", spy)
    return verdicts


@st.composite
def drifting(draw: Any) -> np.ndarray:
    """Steady drifts up or down (a detection every few values in lock step) between quiet spells."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    parts = []
    for mean, spread, length in draw(
        st.lists(
            st.tuples(
                st.sampled_from([0.0, 0.9, 1.0, 1.7, -1.2, 3.0]),
                st.sampled_from([0.0, 0.05, 0.2, 1.0]),
                st.integers(1, 250),
            ),
            min_size=1,
            max_size=4,
        )
    ):
        parts.append(rng.normal(mean, spread, length))
    stream = np.concatenate(parts)
    return np.round(stream, 1) if draw(st.booleans()) else stream


@settings(max_examples=40, deadline=None)  # each example runs a few hundred update() calls
@given(
    kwargs=st.sampled_from(PARAMS),
    stream=st.one_of(drifting(), streams.real_streams(max_length=250)),
    head=st.integers(0, 60),
)
def test_chains_are_update_to_the_bit(
    kwargs: dict[str, Any], stream: np.ndarray, head: int
) -> None:
    """With chains forced on short streams, update_many equals update: detections and state."""
    one, many = CUSUM(**kwargs), CUSUM(**kwargs)
    expected = streams.per_value(one, stream[:head])
    expected += [head + i for i in streams.per_value(one, stream[head:])]
    with pytest.MonkeyPatch.context() as monkeypatch:
        small_chains(monkeypatch)
        found = many.update_many(stream[:head]).tolist()
        found += (many.update_many(stream[head:]) + head).tolist()
    assert found == expected
    assert many.to_dict() == one.to_dict()


@pytest.mark.parametrize(
    "stream",
    [
        np.random.default_rng(5).normal(1.0, 0.2, 6000),  # a detection every ~11 values
        np.r_[np.full(5, 0.7), np.ones(3000)],  # the same, without noise: exactly periodic
        np.r_[np.random.default_rng(6).normal(1.0, 0.2, 3000), np.zeros(3000)],  # then quiet
    ],
    ids=["noisy-drift", "steady-climb", "drift-then-quiet"],
)
def test_chains_run_on_a_steady_drift(stream: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the default sizes a steady drift runs in chains that pay off, with update's result."""
    verdicts = small_chains(monkeypatch)
    monkeypatch.setattr(_lanes, "CHAIN_BLOCK", 1024)
    monkeypatch.setattr(_chains, "CHAIN_BLOCK", 1024)
    one, many = CUSUM(), CUSUM()
    assert many.update_many(stream).tolist() == streams.per_value(one, stream)
    assert many.to_dict() == one.to_dict()
    assert len(verdicts) > 2
    assert all(verdicts[:-1])  # the last block may stop at the batch's end


def test_a_batch_ending_on_a_chained_detection_keeps_its_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch cut right after a detection found by a chain ends in update's state at it."""
    small_chains(monkeypatch)
    stream = np.random.default_rng(7).normal(1.0, 0.3, 400)
    detections = streams.per_value(CUSUM(), stream)
    for cut in (detections[-1], detections[-2], detections[5]):
        one, many = CUSUM(), CUSUM()
        streams.per_value(one, stream[: cut + 1])
        expected = detections[: detections.index(cut) + 1]
        assert many.update_many(stream[: cut + 1]).tolist() == expected
        assert many.drift_detected
        assert many.to_dict() == one.to_dict()


def test_runs_longer_than_the_look_ahead_and_giving_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs past the look-ahead get a longer look; past a few per block the chain gives up."""
    verdicts = small_chains(monkeypatch)
    rng = np.random.default_rng(8)
    drift = [rng.normal(1.0, 0.1, 120)]
    spells = [np.r_[rng.normal(1.0, 0.1, 40), np.zeros(int(n))] for n in rng.integers(20, 60, 12)]
    stream = np.concatenate(drift + spells)
    one, many = CUSUM(), CUSUM()
    assert many.update_many(stream).tolist() == streams.per_value(one, stream)
    assert many.to_dict() == one.to_dict()
    assert True in verdicts
    assert False in verdicts


def test_a_side_that_only_falls_is_left_out() -> None:
    """Values between target - k and target + k never detect: no start has a first detection."""
    detector = CUSUM(target=1.0, k=0.5)
    values = np.linspace(0.5, 1.5, 30)
    assert detector._first_alarms(values, 20, 8).tolist() == [8] * 20


def reference_crossings(steps: list[float], count: int, width: int, h: float) -> list[int]:
    """The first crossing of each start, one start at a time (the textbook recursion)."""
    out = []
    for s in range(count):
        total, low, first = 0.0, 0.0, width
        for t, step in enumerate(steps[s : s + width]):
            total += step
            low = min(low, total)
            if total - low > h:
                first = t
                break
        out.append(first)
    return out


@given(
    steps=st.lists(st.sampled_from([-2.0, -0.5, 0.0, 0.25, 0.5, 1.0, 3.0]), min_size=1, max_size=60)
    | st.lists(st.floats(-3, 3, allow_nan=False), min_size=1, max_size=60),
    width=st.integers(1, 20),
    h=st.sampled_from([0.5, 1.0, 2.0, 4.0]),
    short=st.booleans(),
)
def test_first_crossings_are_the_per_start_recursion(
    steps: list[float], width: int, h: float, short: bool
) -> None:
    """Every start's first crossing is the one-start-at-a-time loop's, also near the batch end."""
    count = len(steps) if short else max(1, len(steps) - width + 1)
    found = first_crossings(np.array(steps), count, width, h).tolist()
    assert found == reference_crossings(steps, count, width, h)


def test_follow_takes_a_longer_look_or_stops() -> None:
    """A start without a detection in the look-ahead is looked at further, or ends the chain."""
    looks: list[int] = []
    assert _chains.follow([1, 5, 5, 5], 5, lambda s: looks.append(s) or 1) == ([1, 3], 4)
    assert looks == [2]
    assert _chains.follow([5, 0], 5, lambda s: None) == ([], 0)

"""The seed's four incidents, replayed against monitors attached to a Guard."""

from __future__ import annotations

import numpy as np

import aiguard as ag
from aiguard import drift
from aiguard.detect import InputDriftMonitor, LatencyMonitor, OutputMonitor, Signal
from aiguard.testing import FakeClock


def test_winter_coats_input_drift_and_output_shift_within_500_requests() -> None:
    """A moved feature (temperature) and the scores that follow are flagged within 500 calls."""
    rng = np.random.default_rng(10)
    train = rng.normal(size=(5000, 4))
    weights = np.array([0.2, 1.5, -0.3, 0.1])

    def model(x: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(x @ weights)))

    ref = drift.Reference(train, feature_names=["age", "temperature", "price", "region"])
    inputs = InputDriftMonitor(ref, every=250)
    outputs = OutputMonitor(model(train), window=200, every=50)
    g = ag.Guard(name="recs", monitors=[inputs, outputs])
    predict = g(model)
    seen: list[Signal] = []
    g.add_listener(lambda e: seen.append(e) if isinstance(e, Signal) else None)
    for _ in range(300):  # the stable period: one row per request
        predict(rng.normal(size=(1, 4)))
    inputs.drain()
    outputs.drain()
    assert not seen
    for n in range(1, 501):
        row = rng.normal(size=(1, 4))
        row[0, 1] += 2.0  # the cold snap
        predict(row)
        if n % 50 == 0:
            inputs.drain()
            outputs.drain()
            kinds = {s.kind for s in seen}
            if {"drift", "output"} <= kinds:
                break
    assert {"drift", "output"} <= {s.kind for s in seen}
    assert n <= 500
    moved = next(s for s in seen if s.kind == "drift")
    assert moved.evidence["features"] == ["temperature"]


def test_fraud_positive_rate_2_to_40_percent_within_200_predictions() -> None:
    """The fraud model flagging 40% instead of 2% is flagged within 200 predictions."""
    rng = np.random.default_rng(11)
    reference = (rng.random(10_000) < 0.02).astype(int)
    mon = OutputMonitor(reference, window=1000, every=50)
    flagged = np.zeros(1, dtype=bool)
    g = ag.Guard(name="fraud", monitors=[mon])
    predict = g(lambda x: int(rng.random() < x))
    for _ in range(1000):
        predict(0.02)
    mon.drain()
    assert mon.last_signal is None
    for n in range(1, 201):
        predict(0.40)
        if n % 50 == 0:
            mon.drain()
            if mon.last_signal is not None:
                flagged[0] = True
                break
    assert flagged[0]
    assert n <= 200
    s = mon.last_signal
    assert s is not None
    assert s.evidence["rule"] == "share"
    assert s.evidence["class"] == "1"
    assert s.baseline is not None
    assert s.baseline < 0.03


def test_chatbot_latency_200ms_to_3s_within_the_window() -> None:
    """A jump from 200 ms to 3 s is flagged before one window has passed."""
    clock = FakeClock()
    mon = LatencyMonitor(window=60, slices=6, clock=clock)
    g = ag.Guard(name="chat", monitors=[mon], clock=clock)
    delay = [0.2]

    @g
    def reply(prompt: str) -> str:
        clock.advance(delay[0])
        return prompt

    for _ in range(600):  # two minutes of 200 ms replies
        reply("hi")
    assert mon.last_signal is None
    delay[0] = 3.0
    start = clock()
    while mon.last_signal is None and clock() - start < 60:
        reply("hi")
    assert mon.last_signal is not None
    assert clock() - start < 60
    assert mon.last_signal.value > 2.5


def test_seasonal_gradual_drift_detected_with_no_alarm_before() -> None:
    """A slow seasonal shift is detected, and the stable months before raise nothing."""
    rng = np.random.default_rng(12)
    ref = drift.Reference(rng.normal(size=(20_000, 3)), feature_names=["demand", "b", "c"])
    mon = InputDriftMonitor(ref, every=500)
    seen: list[Signal] = []
    mon.subscribe(seen.append)
    for _ in range(40):  # stable: 20,000 rows
        mon.observe(rng.normal(size=(500, 3)))
    mon.drain()
    assert seen == []
    shift = 0.0
    day = 0
    while not seen and day < 200:
        day += 1
        shift += 0.01  # a slow drift of the demand feature
        batch = rng.normal(size=(500, 3))
        batch[:, 0] += shift
        mon.observe(batch)
        mon.drain()
    assert seen
    assert seen[0].evidence["features"] == ["demand"]
    assert 0.2 < shift < 1.5

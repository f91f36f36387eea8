"""Monitors fed by a Guard in blocks: the same state as tap per call, sync and async alike."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aiguard as ag
from aiguard import drift
from aiguard._core._inbox import BLOCK
from aiguard.contain.guard import _monitoring
from aiguard.detect import ErrorRateMonitor, LatencyMonitor, OutputMonitor
from aiguard.testing import FakeClock

REFERENCE = np.random.default_rng(5).random(400)

# one call of a plan: (what the model does, its latency, its value)
STEPS = st.tuples(
    st.sampled_from(["ok", "ok", "ok", "int", "nan", "none", "error", "raise"]),
    st.floats(0.0, 2.0),
    st.floats(0.0, 1.0),
)


class TapOnly:
    """A monitor seen through its tap alone, so the Guard feeds it call by call."""

    def __init__(self, monitor: Any) -> None:
        self.monitor = monitor

    def tap(self, *args: Any) -> None:
        self.monitor.tap(*args)


def _monitors(sample: float) -> list[Any]:
    kw: dict[str, Any] = {"sample": sample}
    return [LatencyMonitor(window=3600, **kw), ErrorRateMonitor(window=3600, **kw),
            OutputMonitor(REFERENCE, window=40, every=10, min_rows=10, **kw)]


def _model(clock: FakeClock) -> Any:
    def model(step: tuple[str, float, float]) -> Any:
        kind, latency, value = step
        clock.advance(latency)
        if kind == "error":
            raise ValueError(value)
        if kind == "raise":
            raise KeyError(value)
        return {"ok": value, "int": int(value * 10), "nan": float("nan"), "none": None}[kind]

    return model


def _run(plan: list[tuple[str, float, float]], monitors: list[Any], *, shell: str) -> None:
    clock = FakeClock()
    for m in monitors:
        m._clock = clock
    fed = [TapOnly(m) for m in monitors] if shell == "taps" else monitors
    g = ag.Guard(monitors=fed, clock=clock, fallback=lambda step: -1.0,
                 fallback_on=(ValueError,))
    model = _model(clock)
    if shell == "async":
        async def amodel(step: tuple[str, float, float]) -> Any:
            return model(step)

        guarded = g(amodel)

        async def drive() -> None:
            for step in plan:
                with contextlib.suppress(KeyError):
                    await guarded(step)

        asyncio.run(drive())
    else:
        call = g(model)
        for step in plan:
            with contextlib.suppress(KeyError):
                call(step)
    assert g.monitor_errors == 0


def _state(monitors: list[Any]) -> tuple[Any, ...]:
    lat, err, out = monitors
    lat.evaluate()
    err.evaluate()
    out.drain()
    out.close()
    blocks = [b[0].tolist() for b in out._blocks]
    return (lat._slices.total().tolist(), lat.nonfinite, err._slices.total().tolist(),
            blocks, out._counts.tolist(), out.nonfinite, out._rest_rows,
            [repr(x) for x in out._buffer])


@settings(max_examples=15, deadline=None)  # each example runs 3 guards and 3 background threads
@given(plan=st.lists(STEPS, max_size=60), sample=st.sampled_from([1.0, 0.5]))
def test_guard_blocks_equal_taps_per_call_sync_and_async(
    plan: list[tuple[str, float, float]], sample: float
) -> None:
    """Fed by a Guard in blocks (sync or async), monitors end as if tapped call by call."""
    expected = _state(_run_case(plan, sample, "taps"))
    assert _state(_run_case(plan, sample, "sync")) == expected
    assert _state(_run_case(plan, sample, "async")) == expected


def _run_case(plan: list[tuple[str, float, float]], sample: float, shell: str) -> list[Any]:
    monitors = _monitors(sample)
    _run(plan, monitors, shell=shell)
    return monitors


def test_slice_boundary_noticed_within_a_block_or_a_quarter_slice() -> None:
    """Short calls roll the slice within BLOCK calls of its end; one slow call at once."""
    clock = FakeClock()
    mon = LatencyMonitor(window=60, slices=6, clock=clock)  # 10 s slices
    g = ag.Guard(monitors=[mon], clock=clock)

    @g
    def model(latency: float) -> float:
        clock.advance(latency)
        return latency

    model(0.01)
    for _ in range(BLOCK):
        model(0.01)
    first = mon._slices.end
    while clock() < first:
        model(0.1)
    for _ in range(BLOCK):
        model(0.1)
    assert mon._slices.end > first
    second = mon._slices.end
    clock.advance(second - clock() + 0.5)  # past the end, without a call
    model(3.0)  # more than a quarter slice: handed over at once
    assert mon._slices.end > second


def test_readers_see_calls_still_in_the_inbox() -> None:
    """rates(), quantiles() and drain() take in the calls the Guard has not handed over yet."""
    clock = FakeClock()
    lat, err = LatencyMonitor(clock=clock), ErrorRateMonitor(clock=clock)
    out = OutputMonitor(REFERENCE, every=3, min_rows=3)
    g = ag.Guard(monitors=[lat, err, out], clock=clock)
    predict = g(lambda x: x)
    for x in (0.2, 0.4, 0.6):
        predict(x)
    assert int(err._slices.total()[4]) + err._pending[4] == 0  # still gathered
    assert lat._buffer == []
    assert err.rates()["error"] == 0.0
    assert int(err._slices.total()[4]) == 3
    assert lat._buffer == [0.0, 0.0, 0.0]  # one reader's flush hands the block to all
    assert lat.quantiles()["p50"] > 0  # latencies of 0 s land in the lowest bucket
    assert int(lat._slices.total().sum()) == 3
    out.drain()
    assert len(out._blocks) == 1
    out.close()


def test_a_monitor_that_raises_in_blocks_is_counted_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A take_block that raises never reaches the caller: counted, one log line per monitor."""
    class Faulty(ErrorRateMonitor):
        def take_block(self, latencies: list[float], results: list[Any]) -> None:
            raise ValueError("monitor bug")

        def tap(self, *args: Any) -> None:
            raise ValueError("monitor bug")

    good = LatencyMonitor()
    g = ag.Guard(name="faulty", monitors=[Faulty(), good])
    predict = g(lambda x: x)
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        assert [predict(0.5) for _ in range(BLOCK)] == [0.5] * BLOCK
        assert predict(None) is None  # not plain: fed to every tap
    assert g.monitor_errors == 2
    assert sum("a monitor of guard 'faulty'" in r.message for r in caplog.records) == 1
    assert int(good._slices.total().sum()) + len(good._buffer) == BLOCK + 1


@pytest.mark.parametrize("shell", ["sync", "async"])
def test_other_monitors_get_every_call_beside_the_blocks(shell: str) -> None:
    """A monitor that only taps is fed every call, plain or not, next to the block takers."""
    seen: list[Any] = []

    class Recorder:
        def tap(self, args: Any, kwargs: Any, result: Any, outcome: Any) -> None:
            seen.append(result)

    err = ErrorRateMonitor()
    g = ag.Guard(monitors=[err, Recorder()])
    if shell == "sync":
        predict = g(lambda x: x)
        for x in (1.0, None, 2.0):
            predict(x)
    else:
        async def model(x: Any) -> Any:
            return x

        apredict = g(model)

        async def drive() -> None:
            for x in (1.0, None, 2.0):
                await apredict(x)

        asyncio.run(drive())
    assert seen == [1.0, None, 2.0]
    assert err.rates()["null"] == pytest.approx(1 / 3)


def test_odd_outcome_goes_to_the_taps() -> None:
    """An outcome that is not a tuple is not plain: every tap judges it (and may raise)."""
    err = ErrorRateMonitor()
    faults = _monitoring.Faults()
    wrapped = _monitoring.tap_sync(lambda x: x, [err], lambda: None, faults, "odd")
    assert wrapped(1.0) == 1.0
    assert faults.count == 1  # the error monitor's tap cannot read a None outcome
    assert not _monitoring._is_plain(1.0, None)
    assert _monitoring._is_plain(1.0, ("model", None, "model", 0, 0.1, None))
    assert not _monitoring._is_plain(float("nan"), ("model", None, "model", 0, 0.1, None))


def test_output_window_psi_equals_drift_psi_as_blocks_leave() -> None:
    """Each evaluation's PSI is drift.psi of the last window of rows, ties on the edges included."""
    rng = np.random.default_rng(8)
    ref = rng.random(2000)
    psis: list[float] = []

    class Recording:
        drift_detected = False

        def update(self, x: float) -> None:
            psis.append(x)

    mon = OutputMonitor(ref, window=300, every=100, min_rows=100, detector=Recording())
    edges = mon.reference.edges("output")
    stream = np.concatenate([rng.random(500) ** 2, np.repeat(edges, 30)[:400], rng.random(300)])
    for start in range(0, stream.size, 100):
        mon.observe(stream[start:start + 100])
    mon.drain()
    mon.close()
    expected = [float(drift.psi(ref, stream[max(0, end - 300):end]).statistic)
                for end in range(100, stream.size + 1, 100)]
    assert psis == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_async_blocks_hand_over_every_block() -> None:
    """An async guard hands its gathered plain calls over every BLOCK calls."""
    err = ErrorRateMonitor()
    g = ag.Guard(monitors=[err])

    async def model(x: float) -> float:
        return x

    apredict = g(model)

    async def drive() -> None:
        for _ in range(BLOCK + 1):
            await apredict(0.5)

    asyncio.run(drive())
    assert err._pending[4] + int(err._slices.total()[4]) == BLOCK  # the last one still gathered
    assert err.rates()["error"] == 0.0
    assert int(err._slices.total()[4]) == BLOCK + 1


@pytest.mark.parametrize("shell", ["sync", "async"])
def test_tap_only_monitors_keep_the_per_call_path(shell: str) -> None:
    """With no block taker every call goes to every tap; one that raises spares the others."""
    seen: list[Any] = []

    class Broken:
        def tap(self, *args: Any) -> None:
            raise ValueError("monitor bug")

    class Recorder:
        def tap(self, args: Any, kwargs: Any, result: Any, outcome: Any) -> None:
            seen.append(result)

    g = ag.Guard(monitors=[Broken(), Recorder()])
    if shell == "sync":
        predict = g(lambda x: x)
        assert [predict(1.0), predict(2.0)] == [1.0, 2.0]
    else:
        async def model(x: float) -> float:
            return x

        apredict = g(model)

        async def drive() -> list[float]:
            return [await apredict(1.0), await apredict(2.0)]

        assert asyncio.run(drive()) == [1.0, 2.0]
    assert seen == [1.0, 2.0]
    assert g.monitor_errors == 2


def test_latency_observe_scalars_and_empty_batches() -> None:
    """1,024 observed scalars are binned at once; an empty batch changes nothing."""
    clock = FakeClock()
    mon = LatencyMonitor(clock=clock)
    for _ in range(1024):
        mon.observe(0.25)
    assert mon._buffer == []
    assert int(mon._slices.total().sum()) == 1024
    mon.observe(np.array([]))
    assert int(mon._slices.total().sum()) == 1024
    assert mon.nonfinite == 0


def test_threads_lose_no_plain_call() -> None:
    """Four threads calling one guarded function: every plain call is counted once."""
    err, lat = ErrorRateMonitor(), LatencyMonitor()
    predict = ag.Guard(monitors=[err, lat])(lambda x: x)

    start = threading.Barrier(4)

    def work() -> None:
        start.wait()
        for _ in range(2500):
            predict(0.5)

    threads = [threading.Thread(target=work) for _ in range(4)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: interleave the appends
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert err.rates()["error"] == 0.0
    assert int(err._slices.total()[4]) == 10_000
    lat.evaluate()
    assert int(lat._slices.total().sum()) == 10_000

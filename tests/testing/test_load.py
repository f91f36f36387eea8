"""Load: 2,000 concurrent calls through one Guard with a rate limit, a bulkhead and a fallback.

The rate limit runs on a frozen FakeClock, so its bucket never refills:
exactly ``burst`` calls are admitted, whatever the interleaving. Every call
is answered, the model never runs more than the bulkhead's cap at once, and
model calls plus shed calls add up to the total exactly.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from typing import Any

import pytest

import aiguard as ag
from aiguard.testing import Events, FakeClock

TOTAL = 2000
BURST = 600
SHED = -1.0


class Meter:
    """Counts model calls and the most that ever ran at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inside = 0
        self.peak = 0
        self.calls = 0

    def enter(self) -> None:
        with self.lock:
            self.inside += 1
            self.calls += 1
            self.peak = max(self.peak, self.inside)

    def leave(self) -> None:
        with self.lock:
            self.inside -= 1


def shed(x: float) -> float:
    """The fallback for every shed call."""
    return SHED


def make_guard(cap: int, max_wait: float) -> tuple[ag.Guard, Events]:
    """One guard: frozen-clock rate limit (burst BURST), bulkhead of *cap*, fallback."""
    g = ag.Guard(
        name="load",
        rate_limit=ag.RateLimit(1.0, per=3600.0, burst=BURST, clock=FakeClock()),
        bulkhead=ag.Bulkhead(cap, max_wait=max_wait),
        fallback=shed,
    )
    return g, Events().watch(g)


def check_counts(events: Events, meter: Meter, results: list[float], *, cap: int) -> Counter[Any]:
    """Every call answered once, caps respected, counts adding up exactly."""
    events.close()
    reasons = Counter(o.reason for o in events.outcomes)
    assert len(results) == TOTAL
    assert len(events.outcomes) == TOTAL
    model_answers = sum(r != SHED for r in results)
    assert model_answers == meter.calls == reasons[None]
    assert meter.calls + reasons["rate_limited"] + reasons["bulkhead_full"] == TOTAL
    # the frozen bucket admits exactly BURST calls; the rest are shed by the rate limit
    assert meter.calls + reasons["bulkhead_full"] == BURST
    assert reasons["rate_limited"] == TOTAL - BURST
    assert set(reasons) <= {None, "rate_limited", "bulkhead_full"}
    assert meter.peak <= cap
    assert meter.inside == 0
    return reasons


async def run_async(cap: int, max_wait: float) -> tuple[Counter[Any], Meter]:
    g, events = make_guard(cap, max_wait)
    meter = Meter()

    @g
    async def predict(x: float) -> float:
        meter.enter()
        try:
            for _ in range(3):
                await asyncio.sleep(0)
            return x
        finally:
            meter.leave()

    results = await asyncio.gather(*(predict(float(i)) for i in range(TOTAL)))
    return check_counts(events, meter, list(results), cap=cap), meter


async def test_async_calls_queue_for_the_bulkhead() -> None:
    """2,000 tasks, bulkhead 8 with waiting: every admitted call reaches the model, 8 at most."""
    reasons, meter = await run_async(cap=8, max_wait=10.0)
    assert meter.calls == BURST
    assert reasons["bulkhead_full"] == 0
    assert meter.peak == 8


async def test_async_calls_shed_by_rate_and_bulkhead() -> None:
    """2,000 tasks, bulkhead 8 without waiting: both limits shed, the totals still add up."""
    reasons, meter = await run_async(cap=8, max_wait=0.0)
    assert reasons["bulkhead_full"] > 0
    assert meter.peak == 8


@pytest.mark.parametrize("max_wait", [0.0, 10.0], ids=["no-wait", "wait"])
def test_eight_threads_share_the_limits(max_wait: float) -> None:
    """8 threads x 250 sync calls: the model never runs more than 3 at once; counts exact."""
    cap = 3
    g, events = make_guard(cap, max_wait)
    meter = Meter()

    @g
    def predict(x: float) -> float:
        meter.enter()
        try:
            time.sleep(0.0002)
            return x
        finally:
            meter.leave()

    results: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker(offset: int) -> None:
        start.wait()
        mine = [predict(float(offset + i)) for i in range(TOTAL // 8)]
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=worker, args=(k * 1000,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reasons = check_counts(events, meter, results, cap=cap)
    if max_wait:
        assert meter.calls == BURST
        assert reasons["bulkhead_full"] == 0

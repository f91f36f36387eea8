"""The breaker under threads and asyncio tasks: exact counts, no thundering herd."""

from __future__ import annotations

import asyncio
import threading

import pytest

from aiguard import BreakerState, CircuitBreaker
from aiguard.errors import CircuitOpenError
from aiguard.testing import FakeClock

THREADS, CALLS = 8, 20_000


class ModelError(Exception):
    pass


def _stress(breaker: CircuitBreaker) -> tuple[int, int, int, int]:
    """Run THREADS x CALLS calls, every 10th failing; return (model calls, model failures,
    served by fallback, escaped exceptions)."""
    counts = [[0, 0, 0, 0] for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS)

    def model(i: int) -> int:
        if i % 10 == 0:
            raise ModelError(i)
        return i

    guarded = breaker(model)

    def worker(k: int) -> None:
        mine = counts[k]
        barrier.wait()
        for i in range(CALLS):
            try:
                guarded(i)
                mine[0] += 1
            except ModelError:
                mine[0] += 1
                mine[1] += 1
                mine[2] += 1  # the fallback serves this call
            except CircuitOpenError:
                mine[2] += 1  # the fallback serves this call
            except BaseException:  # pragma: no cover - the assertion reports it
                mine[3] += 1

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return tuple(sum(c[j] for c in counts) for j in range(4))  # type: ignore[return-value]


def test_stress_below_threshold_counts_every_call_exactly() -> None:
    """8 threads x 20k calls at 10% failures and a 50% threshold: never trips, exact totals."""
    breaker = CircuitBreaker(window=100, min_calls=10, failure_rate=0.5, clock=FakeClock())
    calls, failures, fallback, escaped = _stress(breaker)
    m = breaker.metrics
    assert (calls, failures, escaped) == (THREADS * CALLS, THREADS * CALLS // 10, 0)
    assert fallback == failures
    assert (m.calls, m.failures, m.rejected, m.state) == (calls, failures, 0, BreakerState.CLOSED)


def test_stress_tripping_breaker_counts_calls_plus_rejections_exactly() -> None:
    """A 5% threshold trips under 10% failures: calls + rejected == attempts, failures exact."""
    breaker = CircuitBreaker(window=50, min_calls=50, failure_rate=0.05, open_for=3600,
                             clock=FakeClock())
    calls, failures, fallback, escaped = _stress(breaker)
    m = breaker.metrics
    assert escaped == 0
    assert m.state is BreakerState.OPEN
    assert m.calls + m.rejected == THREADS * CALLS
    assert (m.calls, m.failures) == (calls, failures)
    assert fallback == m.rejected + failures
    assert 0 < m.calls < THREADS * CALLS


def test_stress_through_half_open_and_back_counts_exactly() -> None:
    """Trips and recoveries racing with 8 threads never lose or double-count a call."""
    clock = FakeClock()
    breaker = CircuitBreaker(window=20, min_calls=20, failure_rate=0.1, open_for=0.0,
                             half_open_calls=3, clock=clock)
    calls, failures, _, escaped = _stress(breaker)
    m = breaker.metrics
    assert escaped == 0
    assert m.calls + m.rejected == THREADS * CALLS
    assert (m.calls, m.failures) == (calls, failures)
    assert m.stale <= m.calls


def _tripped(half_open_calls: int, clock: FakeClock) -> CircuitBreaker:
    breaker = CircuitBreaker(window=2, min_calls=1, open_for=30, half_open_calls=half_open_calls,
                             clock=clock)
    permit = breaker.admit(clock())
    breaker.record(permit, clock(), 0.0, 1.0)
    assert breaker.state is BreakerState.OPEN
    clock.advance(30)
    return breaker


@pytest.mark.parametrize("half_open_calls", [1, 3])
def test_half_open_burst_of_threads_admits_exactly_half_open_calls(half_open_calls: int) -> None:
    """32 threads released together after open_for: exactly half_open_calls reach the model."""
    clock = FakeClock()
    breaker = _tripped(half_open_calls, clock)
    reached = []
    lock = threading.Lock()
    release = threading.Event()

    @breaker
    def model() -> str:
        with lock:
            reached.append(1)
        release.wait(10)  # hold every trial open until all callers have tried
        return "ok"

    rejected = []
    barrier = threading.Barrier(32)

    def caller() -> None:
        barrier.wait()
        try:
            model()
        except CircuitOpenError as exc:
            rejected.append(exc)

    pool = [threading.Thread(target=caller) for _ in range(32)]
    for t in pool:
        t.start()
    while breaker.metrics.rejected < 32 - half_open_calls:
        release.wait(0.001)
    release.set()
    for t in pool:
        t.join()
    assert (len(reached), len(rejected)) == (half_open_calls, 32 - half_open_calls)
    assert all(exc.guard == "breaker" for exc in rejected)
    assert breaker.state is BreakerState.CLOSED


async def test_half_open_burst_of_tasks_admits_exactly_half_open_calls() -> None:
    """32 asyncio tasks right after open_for: exactly half_open_calls reach the model."""
    clock = FakeClock()
    breaker = _tripped(3, clock)
    reached = 0
    release = asyncio.Event()

    @breaker
    async def model() -> str:
        nonlocal reached
        reached += 1
        await release.wait()
        return "ok"

    async def caller() -> str:
        try:
            return await model()
        except CircuitOpenError:
            return "fallback"

    tasks = [asyncio.create_task(caller()) for _ in range(32)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*tasks)
    assert reached == 3
    assert results.count("ok") == 3
    assert results.count("fallback") == 29
    assert breaker.state is BreakerState.CLOSED


async def test_cancelled_trial_frees_its_slot() -> None:
    """A cancelled half-open trial counts as ignored and another caller takes its slot."""
    clock = FakeClock()
    breaker = _tripped(1, clock)
    started = asyncio.Event()

    @breaker
    async def model(hang: bool) -> str:
        started.set()
        if hang:
            await asyncio.sleep(3600)
        return "ok"

    task = asyncio.create_task(model(True))
    await started.wait()
    with pytest.raises(CircuitOpenError):
        await model(False)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await model(False) == "ok"
    assert breaker.metrics.ignored == 1
    assert breaker.state is BreakerState.CLOSED

"""Bulkhead: the concurrency cap holds across threads, tasks and both at once."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from datetime import timedelta

import pytest

import aiguard as ag


async def until_queued(bulkhead: ag.Bulkhead) -> None:
    """Let the loop run until a caller is queued (a thread or another task)."""
    for _ in range(5_000):
        if bulkhead.waiting:
            return
        await asyncio.sleep(0.001)
    raise AssertionError("no caller queued")


class Tracker:
    """Counts calls inside the model and the most seen at once (thread-safe)."""

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


def test_eight_threads_never_exceed_the_cap() -> None:
    """8 threads x 40 calls through Bulkhead(3): at most 3 inside, every call served."""
    bulkhead = ag.Bulkhead(3, max_wait=10.0)
    tracker = Tracker()

    @bulkhead
    def model(x: int) -> int:
        tracker.enter()
        time.sleep(0.0002)  # hold the slot a little so the threads really contend
        tracker.leave()
        return x

    results: list[int] = []

    def worker() -> None:
        results.extend(model(i) for i in range(40))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 320
    assert tracker.calls == 320
    assert tracker.peak <= 3
    assert bulkhead.active == 0


async def test_two_thousand_tasks_never_exceed_the_cap() -> None:
    """2,000 asyncio tasks through Bulkhead(10): at most 10 inside, all answered."""
    bulkhead = ag.Bulkhead(10, max_wait=30.0)
    tracker = Tracker()

    @bulkhead
    async def model(x: int) -> int:
        tracker.enter()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        tracker.leave()
        return x

    results = await asyncio.gather(*(model(i) for i in range(2_000)))
    assert results == list(range(2_000))
    assert tracker.peak == 10
    assert bulkhead.active == 0
    assert bulkhead.waiting == 0


async def test_threads_and_tasks_together_never_exceed_the_cap() -> None:
    """4 threads and 500 tasks share Bulkhead(3): at most 3 inside, everyone served."""
    bulkhead = ag.Bulkhead(3, max_wait=30.0)
    tracker = Tracker()

    @bulkhead
    def sync_model(x: int) -> int:
        tracker.enter()
        time.sleep(0.0001)
        tracker.leave()
        return x

    @bulkhead
    async def async_model(x: int) -> int:
        tracker.enter()
        await asyncio.sleep(0)
        tracker.leave()
        return x

    def thread_work() -> int:
        return sum(sync_model(i) for i in range(50))

    threads = [asyncio.to_thread(thread_work) for _ in range(4)]
    tasks = [async_model(i) for i in range(500)]
    results = await asyncio.gather(*threads, *tasks)
    assert results[:4] == [sum(range(50))] * 4
    assert results[4:] == list(range(500))
    assert tracker.calls == 700
    assert tracker.peak <= 3
    assert bulkhead.active == 0


async def test_sync_and_async_share_one_count() -> None:
    """A thread holding the only slot blocks async callers; its release admits a waiter."""
    bulkhead = ag.Bulkhead(1, max_wait=5.0)
    holding, release = threading.Event(), threading.Event()

    @bulkhead
    def sync_model() -> str:
        holding.set()
        release.wait(5)
        return "sync"

    @bulkhead
    async def async_model() -> str:
        return "async"

    thread_result: list[str] = []
    thread = threading.Thread(target=lambda: thread_result.append(sync_model()))
    thread.start()
    assert await asyncio.to_thread(holding.wait, 5)
    assert bulkhead.active == 1
    assert not bulkhead.try_admit(0.0) >= 0
    waiter = asyncio.ensure_future(async_model())
    await until_queued(bulkhead)  # the task is queued, the loop is free
    release.set()  # the thread leaves and hands its slot to the task, across threads
    assert await waiter == "async"
    await asyncio.to_thread(thread.join)
    assert thread_result == ["sync"]
    assert bulkhead.active == 0


async def test_async_holder_hands_slot_to_sync_waiter() -> None:
    """A thread waiting for the slot an async task holds gets it when the task leaves."""
    bulkhead = ag.Bulkhead(1, max_wait=5.0)
    assert await bulkhead._aenter()
    entered: list[bool] = []
    thread = threading.Thread(target=lambda: entered.append(bulkhead.admit(0.0) >= 0))
    thread.start()
    await until_queued(bulkhead)
    bulkhead.ignore(0)
    await asyncio.to_thread(thread.join)
    assert entered == [True]
    assert bulkhead.active == 1  # the thread holds it now
    bulkhead.ignore(0)
    assert bulkhead.active == 0


def test_full_bulkhead_refuses_at_once_without_max_wait() -> None:
    """With max_wait=0 a full bulkhead refuses immediately: BulkheadFullError."""
    bulkhead = ag.Bulkhead(1)
    assert bulkhead.try_admit(0.0) >= 0

    @bulkhead
    def model() -> int:
        return 1

    with pytest.raises(ag.BulkheadFullError) as info:
        model()
    assert str(info.value) == "bulkhead full: 1 of 1 calls running"
    assert info.value.reason == "bulkhead_full"
    assert not bulkhead.admit(0.0) >= 0
    bulkhead.ignore(0)
    assert model() == 1


async def test_async_full_bulkhead_refuses() -> None:
    """The async decorator refuses a full bulkhead and frees its slot after errors."""
    bulkhead = ag.Bulkhead(1)

    @bulkhead
    async def model(fail: bool) -> int:
        if fail:
            raise ValueError("model error")
        return 1

    with pytest.raises(ValueError, match="model error"):
        await model(True)
    assert bulkhead.active == 0
    assert bulkhead.try_admit(0.0) >= 0
    with pytest.raises(ag.BulkheadFullError):
        await model(False)
    assert not await bulkhead._aenter()


def test_sync_slot_is_freed_when_the_model_raises() -> None:
    """A model error still gives the slot back."""
    bulkhead = ag.Bulkhead(1)

    @bulkhead
    def model() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        model()
    assert bulkhead.active == 0


def test_sync_waiter_times_out() -> None:
    """A thread waits at most max_wait, then is refused and leaves the queue."""
    bulkhead = ag.Bulkhead(1, max_wait=0.02)
    assert bulkhead.admit(0.0) >= 0
    assert not bulkhead.admit(0.0) >= 0
    assert bulkhead.waiting == 0
    bulkhead.ignore(0)  # skips the departed waiter, frees the slot
    assert bulkhead.active == 0


async def test_async_waiter_times_out() -> None:
    """A task awaits at most max_wait, then is refused; the loop kept running meanwhile."""
    bulkhead = ag.Bulkhead(1, max_wait=0.02)
    assert await bulkhead._aenter()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.ensure_future(ticker())
    assert not await bulkhead._aenter()
    task.cancel()
    assert ticks > 1
    assert bulkhead.waiting == 0
    bulkhead.ignore(0)
    assert bulkhead.active == 0


async def test_cancelled_waiter_does_not_leak_a_slot() -> None:
    """Cancelling a queued task, even just after it was granted the slot, leaks nothing."""
    bulkhead = ag.Bulkhead(1, max_wait=5.0)
    assert await bulkhead._aenter()
    waiter = asyncio.ensure_future(bulkhead._aenter())
    await until_queued(bulkhead)
    bulkhead.ignore(0)  # granted: the slot now belongs to the waiter
    waiter.cancel()  # ...which is cancelled before it runs again
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert bulkhead.active == 0

    assert await bulkhead._aenter()
    plain = asyncio.ensure_future(bulkhead._aenter())
    await until_queued(bulkhead)
    plain.cancel()  # cancelled while still queued
    with pytest.raises(asyncio.CancelledError):
        await plain
    assert bulkhead.waiting == 0
    bulkhead.ignore(0)
    assert bulkhead.active == 0


def test_hand_off_skips_departed_waiters_and_yields_to_newcomers() -> None:
    """A hand-off skips waiters that left, and keeps a waiter queued if no slot is free."""
    bulkhead = ag.Bulkhead(1)
    assert bulkhead.try_admit(0.0) >= 0
    woken: list[str] = []
    first = bulkhead._queue(lambda: woken.append("first"))
    second = bulkhead._queue(lambda: woken.append("second"))
    assert first is not None
    assert second is not None
    assert not bulkhead._give_up(first)  # the first waiter left
    bulkhead._hand_off()  # no free slot: the second stays queued
    assert woken == []
    assert bulkhead.waiting == 1
    bulkhead.ignore(0)
    assert woken == ["second"]
    assert second.granted
    assert bulkhead._give_up(second)  # granted: it holds the slot
    assert bulkhead.active == 1


def test_queue_takes_a_free_slot() -> None:
    """_queue returns None (slot taken) when a slot is free."""
    bulkhead = ag.Bulkhead(2)
    assert bulkhead._queue(lambda: None) is None
    assert bulkhead.active == 1


class RacedBulkhead(ag.Bulkhead):
    """A bulkhead whose lock-free first try always loses a race."""

    __slots__ = ()

    def _try_enter(self) -> bool:
        return False


async def test_slot_freed_between_first_try_and_queueing_is_taken() -> None:
    """A slot freed just before a caller queues is taken at once, sync and async."""
    raced = RacedBulkhead(1, max_wait=5.0)
    assert raced._enter()
    assert raced.active == 1
    raced._leave()
    assert await raced._aenter()
    assert raced.active == 1
    assert raced.waiting == 0


def test_attributes_repr_and_timedelta() -> None:
    """The cap, the wait and the active count are readable; max_wait takes a timedelta."""
    bulkhead = ag.Bulkhead(4, max_wait=timedelta(milliseconds=250))
    assert bulkhead.max_concurrent == 4
    assert bulkhead.max_wait == 0.25
    assert bulkhead.try_admit(0.0) >= 0
    assert repr(bulkhead) == "Bulkhead(4, max_wait=0.25, active=1)"


WAIT = "max_wait must be a finite number of seconds >= 0 (or a timedelta),"


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((0,), {}, "max_concurrent must be an int >= 1, got 0"),
        ((2.5,), {}, "max_concurrent must be an int >= 1, got 2.5"),
        ((True,), {}, "max_concurrent must be an int >= 1, got True"),
        ((1,), {"max_wait": -1}, f"{WAIT} got -1"),
        ((1,), {"max_wait": math.nan}, f"{WAIT} got nan"),
        ((1,), {"max_wait": "1"}, f"{WAIT} got '1'"),
    ],
)
def test_validation(args: tuple[object, ...], kwargs: dict[str, object], message: str) -> None:
    """Each bad parameter is named, with what was expected and what was given."""
    with pytest.raises(ag.ConfigurationError) as info:
        ag.Bulkhead(*args, **kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_record_gives_the_slot_back() -> None:
    """The stage contract's record frees the slot like ignore does."""
    bulkhead = ag.Bulkhead(1)
    permit = bulkhead.admit(0.0)
    assert permit == 0
    assert bulkhead.try_admit(0.0) == -1
    bulkhead.record(permit, 0.0, 0.1, 1.0)
    assert bulkhead.active == 0

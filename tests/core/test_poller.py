"""The one background poller: schedule, wake, stop, failures, weak owners, and fork."""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from datetime import timedelta

import numpy as np
import pytest

from aiguard._core._poller import Poller
from aiguard.errors import ConfigurationError
from aiguard.testing import FakeClock


def _wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return bool(predicate())


class Counter:
    """An owner whose bound method is the tick."""

    def __init__(self) -> None:
        self.calls = 0
        self.forks = 0

    def tick(self) -> None:
        self.calls += 1

    def after_fork(self) -> None:
        self.forks += 1


# -- the schedule, driven by a fake clock ---------------------------------------


def test_run_pending_follows_the_injected_clock() -> None:
    """A tick runs only once the fake clock reaches the interval, then every interval."""
    clock, seen = FakeClock(), []
    poller = Poller(lambda: seen.append(clock()), interval=10, name="t", clock=clock, start=False)
    assert poller.run_pending() is False
    clock.advance(9.5)
    assert poller.run_pending() is False
    clock.advance(0.5)
    assert poller.run_pending() is True
    assert poller.run_pending() is False
    clock.advance(10)
    assert poller.run_pending() is True
    assert seen == [10.0, 20.0]
    assert poller.ticks == 2


def test_first_zero_ticks_at_once() -> None:
    """first=0 makes the first tick due immediately."""
    clock, seen = FakeClock(), []
    poller = Poller(lambda: seen.append(1), interval=60, name="t", clock=clock, first=0,
                    start=False)
    assert poller.run_pending() is True
    assert seen == [1]


def test_a_tick_may_choose_the_next_wait() -> None:
    """A tick returning seconds sets the next wait; None, a bool or garbage keeps the interval."""
    clock = FakeClock()
    answers = iter([2.0, None, True, -1.0, float("inf")])
    poller = Poller(lambda: next(answers), interval=10, name="t", clock=clock, first=0,
                    start=False)
    due = []
    for _ in range(5):
        assert poller.run_pending()
        due.append(poller._due - clock())
        clock.advance(poller._due - clock())
    assert due == [2.0, 10.0, 10.0, 10.0, 10.0]


def test_a_failing_tick_is_counted_logged_once_and_the_schedule_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Exceptions from the tick never escape; each is counted, the first is logged."""
    clock = FakeClock()

    def boom() -> None:
        raise RuntimeError("store down")

    poller = Poller(boom, interval=1, name="aiguard-test-failing", clock=clock, first=0,
                    start=False)
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        for _ in range(3):
            assert poller.run_pending() is True
            clock.advance(1)
    assert (poller.errors, poller.ticks) == (3, 3)
    assert poller.last_error == "RuntimeError: store down"
    assert len([r for r in caplog.records if "aiguard-test-failing" in r.getMessage()]) == 1


# -- validation ----------------------------------------------------------------


@pytest.mark.parametrize("interval", [np.float32(0.5), np.int64(2), 0.5, timedelta(seconds=3)])
def test_interval_accepts_numbers_numpy_scalars_and_timedeltas(interval: object) -> None:
    """The interval goes through the shared duration validator."""
    poller = Poller(lambda: None, interval=interval, name="t", start=False)
    expected = interval.total_seconds() if isinstance(interval, timedelta) else float(interval)
    assert poller.interval == expected


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"interval": True}, "interval"),
        ({"interval": 0}, "interval"),
        ({"interval": float("nan")}, "interval"),
        ({"interval": 1, "first": -1}, "first"),
        ({"interval": 1, "first": False}, "first"),
        ({"interval": 1, "after_fork": 3}, "after_fork"),
        ({"interval": 1, "clock": 3}, "clock"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict, argument: str) -> None:
    """Every argument is checked at construction, naming itself."""
    with pytest.raises(ConfigurationError) as info:
        Poller(lambda: None, name="t", start=False, **kwargs)
    assert info.value.argument == argument


def test_tick_must_be_callable_and_a_bound_method_when_weak() -> None:
    """A non-callable tick, or a plain function with weak=True, is refused."""
    with pytest.raises(ConfigurationError):
        Poller(3, interval=1, name="t", start=False)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        Poller(lambda: None, interval=1, name="t", weak=True, start=False)


# -- the thread ------------------------------------------------------------------


def test_thread_ticks_in_real_time_and_stop_ends_it() -> None:
    """With a short interval the thread ticks repeatedly; stop() ends it and start() is refused."""
    counter = Counter()
    poller = Poller(counter.tick, interval=0.01, name="aiguard-test-rt")
    assert _wait_for(lambda: counter.calls >= 3)
    assert poller.running
    poller.start()  # already running: a no-op
    poller.stop()
    assert poller.join(5)
    assert poller.stopped
    assert not poller.running
    with pytest.raises(ConfigurationError):
        poller.start()
    assert "stopped" in repr(poller)


def test_wake_ticks_at_once_despite_a_long_interval() -> None:
    """wake() runs the tick without waiting for the hour-long interval."""
    counter = Counter()
    poller = Poller(counter.tick, interval=3600, name="aiguard-test-wake")
    assert "running" in repr(poller)
    time.sleep(0.05)
    assert counter.calls == 0
    poller.wake()
    assert _wait_for(lambda: counter.calls == 1)
    poller.stop()
    assert poller.join(5)


def test_the_thread_waits_out_a_fake_clock_without_spinning() -> None:
    """A fake clock that does not move: the thread waits instead of ticking; run_pending ticks."""
    clock, counter = FakeClock(), Counter()
    poller = Poller(counter.tick, interval=0.02, name="t", clock=clock)
    time.sleep(0.1)
    assert counter.calls == 0
    clock.advance(0.02)
    assert _wait_for(lambda: counter.calls == 1)
    poller.stop()
    assert poller.join(5)


def test_wait_inside_a_tick_returns_when_stopped() -> None:
    """A long tick sleeping through wait() returns True as soon as the poller is stopped."""
    entered, result = threading.Event(), []
    holder: list[Poller] = []

    def long_tick() -> None:
        entered.set()
        result.append(holder[0].wait(30))

    holder.append(Poller(long_tick, interval=1, name="t", first=0, start=False))
    holder[0].start()
    assert entered.wait(5)
    started = time.monotonic()
    holder[0].stop()
    assert holder[0].join(5)
    assert result == [True]
    assert time.monotonic() - started < 5


def test_a_weak_poller_stops_when_its_owner_is_collected() -> None:
    """weak=True: the poller does not keep its owner alive, and ends with it."""
    counter = Counter()
    poller = Poller(counter.tick, interval=0.01, name="t", weak=True)
    assert _wait_for(lambda owner=counter: owner.calls >= 1)
    del counter
    gc.collect()
    assert _wait_for(lambda: poller.stopped)
    assert poller.join(5)


def test_a_weak_tick_whose_owner_is_gone_stops_the_poller_when_run() -> None:
    """run_now() with a dead weak owner stops instead of ticking."""
    counter = Counter()
    poller = Poller(counter.tick, interval=1, name="t", weak=True, start=False)
    poller._tick = lambda: None  # what a dead WeakMethod answers
    poller.run_now()
    assert poller.stopped
    assert poller.ticks == 0


# -- fork ---------------------------------------------------------------------------


def test_forked_renews_events_runs_the_owner_hook_and_says_restart() -> None:
    """forked() (what the child hook runs): fresh events, the owner's hook, restart if started."""
    counter = Counter()
    poller = Poller(counter.tick, interval=60, name="t", after_fork=counter.after_fork)
    old_stop = poller._stop
    assert poller.forked() is True
    assert poller._stop is not old_stop
    assert poller._thread is None
    assert counter.forks == 1
    poller.start()
    assert poller.running
    poller.stop()
    assert poller.forked() is False  # a stopped poller stays stopped
    assert poller.stopped
    assert counter.forks == 1


def test_forked_counts_a_failing_owner_hook_and_a_never_started_poller_stays_idle() -> None:
    """An after_fork hook that raises is counted; a poller never started is not restarted."""

    def bad_hook() -> None:
        raise RuntimeError("no")

    poller = Poller(lambda: None, interval=1, name="t", after_fork=bad_hook, start=False)
    assert poller.forked() is False
    assert poller.errors == 1
    assert "idle" in repr(poller)
    assert poller.join() is True  # no thread to wait for


def test_forked_skips_the_hook_of_an_owner_that_is_gone() -> None:
    """A weak after_fork whose owner was collected is skipped without an error."""
    counter = Counter()
    poller = Poller(counter.tick, interval=1, name="t", weak=True,
                    after_fork=counter.after_fork, start=False)
    poller._after_fork = lambda: None  # what a dead WeakMethod answers
    assert poller.forked() is False
    assert poller.errors == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_real_fork_restarts_the_thread_after_the_owner_hook() -> None:
    """In a forked child the owner's hook runs first, then the thread ticks again."""
    order: list[str] = []
    counter = Counter()

    def tick() -> None:
        order.append("tick")
        counter.tick()

    poller = Poller(tick, interval=0.01, name="aiguard-test-fork",
                    after_fork=lambda: order.append("fork"))
    stopped = Poller(lambda: None, interval=0.01, name="aiguard-test-stopped")
    stopped.stop()
    assert stopped.join(5)
    assert _wait_for(lambda: counter.calls >= 1)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        forked_at = order.index("fork")  # the hook ran in this child, before any new tick
        before = counter.calls
        ok = _wait_for(lambda: counter.calls >= before + 3, 5)
        ok = ok and order[forked_at + 1:] == ["tick"] * (len(order) - forked_at - 1)
        ok = ok and order.count("fork") == 1 and poller.running and not stopped.running
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.close(read)
    os.waitpid(pid, 0)
    poller.stop()
    assert answer == b"1"


def test_a_thread_left_from_before_forked_ends_when_its_owner_is_gone() -> None:
    """forked() renews the events; a thread started before it still ends (no busy loop).

    A stop() after forked() sets only the new events. The thread that was
    already running waited on the old ones and, its weak owner gone, ran
    run_now() again and again holding the interpreter lock (seen as a 3x slower
    test suite).
    """
    counter = Counter()
    poller = Poller(counter.tick, interval=0.01, name="t", weak=True)
    assert _wait_for(lambda owner=counter: owner.calls >= 1)
    thread = poller._thread
    assert thread is not None
    assert poller.forked() is True  # events renewed under the running thread
    del counter
    gc.collect()
    thread.join(5)
    assert not thread.is_alive()
    assert poller.stopped

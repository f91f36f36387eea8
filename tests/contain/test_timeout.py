"""timeout: async calls are cancelled, sync calls abandoned on a counted worker pool."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import threading
import time
from datetime import timedelta

import pytest

import aiguard as ag
from aiguard.contain.timing import Timeout
from aiguard.contain.timing._workers import WorkerPool

# Sync deadlines need real time; they are tiny and the blocked threads are
# released by an Event at the end of each test, never by sleeping.
DEADLINE = 0.05

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def test_sync_call_within_deadline_returns_and_runs_in_callers_context() -> None:
    """A quick sync call returns its value; context variables reach the worker."""
    limit = ag.timeout(1.0)
    token = request_id.set("r-42")
    try:
        assert limit.call(lambda x: (x, request_id.get()), (1,), {}) == (1, "r-42")
    finally:
        request_id.reset(token)
    assert limit.abandoned == 0


def test_sync_timeout_abandons_and_counts_the_thread(caplog: pytest.LogCaptureFixture) -> None:
    """At the deadline: GuardTimeoutError, the thread is counted and logged once."""
    limit = ag.timeout(DEADLINE)
    release = threading.Event()

    @limit
    def hung_model(x: int) -> int:
        release.wait(10)
        return x

    with caplog.at_level(logging.WARNING, logger="aiguard"):
        for expected in (1, 2):
            with pytest.raises(ag.GuardTimeoutError) as info:
                hung_model(1)
            assert info.value.timeout == DEADLINE
            assert isinstance(info.value, TimeoutError)
            assert limit.abandoned == expected
    assert limit.stuck == 2
    assert len([r for r in caplog.records if "abandoned" in r.message]) == 1
    release.set()
    for _ in range(1000):  # the abandoned threads finish on their own, soon
        if limit.stuck == 0:
            break
        time.sleep(0.002)
    assert limit.stuck == 0
    assert limit.abandoned == 2


def test_all_workers_stuck_fails_fast_without_calling_the_model() -> None:
    """When every worker is stuck, new calls time out at once and the model is not called."""
    limit = ag.timeout(DEADLINE, max_workers=1)
    release = threading.Event()
    calls = []

    def model() -> None:
        calls.append(1)
        release.wait(10)

    with pytest.raises(ag.GuardTimeoutError):
        limit.call(model, (), {})
    with pytest.raises(ag.GuardTimeoutError, match="stuck"):
        limit.call(model, (), {})
    assert calls == [1]
    release.set()


def test_model_errors_propagate_unchanged() -> None:
    """The model's own exceptions, its own TimeoutError included, are not wrapped."""
    limit = ag.timeout(1.0)

    def own_timeout() -> None:
        raise TimeoutError("upstream socket")

    with pytest.raises(TimeoutError, match="upstream socket") as info:
        limit.call(own_timeout, (), {})
    assert not isinstance(info.value, ag.GuardTimeoutError)
    with pytest.raises(ZeroDivisionError):
        limit.call(lambda: 1 / 0, (), {})


async def test_async_call_is_cancelled_at_the_deadline() -> None:
    """An async model past its deadline is cancelled and GuardTimeoutError raised."""
    cancelled = asyncio.Event()

    @ag.timeout(0.01)
    async def slow(x: int) -> int:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return x

    with pytest.raises(ag.GuardTimeoutError) as info:
        await slow(1)
    assert info.value.timeout == 0.01
    assert cancelled.is_set()
    assert slow.__name__ == "slow"


async def test_async_fast_call_and_own_timeout_error() -> None:
    """A fast async call returns; its own TimeoutError is not turned into ours."""
    limit = ag.timeout(5.0)

    async def fast(x: int) -> int:
        return x * 2

    async def own_timeout() -> None:
        raise TimeoutError("mine")

    assert await limit.acall(fast, (21,), {}) == 42
    with pytest.raises(TimeoutError, match="mine") as info:
        await limit.acall(own_timeout, (), {})
    assert not isinstance(info.value, ag.GuardTimeoutError)
    assert limit.abandoned == 0
    assert limit.stuck == 0


def test_pool_grows_lazily_and_reuses_idle_threads() -> None:
    """Sequential calls reuse one thread; concurrent blocked calls grow up to the cap."""
    pool = WorkerPool(2, "test")
    assert pool.threads == 0
    for i in range(5):
        assert pool.submit(lambda x: x, (i,), {}).result(5) == i
    assert pool.threads == 1
    release = threading.Event()
    blocked = [pool.submit(release.wait, (10,), {}) for _ in range(3)]
    assert pool.threads == 2
    assert not pool.abandon(blocked[2], "test")  # queued, never started: cancelled
    assert pool.abandoned == 0
    release.set()
    assert all(f.result(5) for f in blocked[:2])


def test_abandon_without_a_name_does_not_log(caplog: pytest.LogCaptureFixture) -> None:
    """Abandoning on purpose (hedging) is counted but not logged."""
    pool = WorkerPool(1, "test")
    release = threading.Event()
    future = pool.submit(release.wait, (10,), {})
    while not future.running():
        time.sleep(0.001)
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        assert pool.abandon(future, None)
    assert pool.abandoned == 1
    assert caplog.records == []
    release.set()


def test_factory_builds_a_timeout_and_accepts_timedelta() -> None:
    """timeout() returns a Timeout; seconds may be a timedelta; repr shows the deadline."""
    limit = ag.timeout(timedelta(milliseconds=250), max_workers=4)
    assert isinstance(limit, Timeout)
    assert limit.seconds == 0.25
    assert limit.max_workers == 4
    assert repr(limit) == "timeout(0.25)"


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((0,), {}, "seconds must be a finite number of seconds > 0 (or a timedelta), got 0"),
        ((-1.0,), {}, "seconds must be a finite number of seconds > 0 (or a timedelta), got -1.0"),
        ((math.inf,), {}, ("seconds must be a finite number of seconds > 0 (or a timedelta), "
                          "got inf")),
        ((True,), {}, "seconds must be a finite number of seconds > 0 (or a timedelta), got True"),
        (("1",), {}, "seconds must be a finite number of seconds > 0 (or a timedelta), got '1'"),
        ((1,), {"max_workers": 0}, "max_workers must be an int >= 1, got 0"),
    ],
)
def test_validation(args: tuple[object, ...], kwargs: dict[str, object], message: str) -> None:
    """Each bad parameter is named, with what was expected and what was given."""
    with pytest.raises(ag.ConfigurationError) as info:
        ag.timeout(*args, **kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_refused_thread_start_times_out_instead_of_crashing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """If the OS refuses a worker thread, the call times out (typed) and it is logged."""

    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    limit = ag.timeout(DEADLINE)
    monkeypatch.setattr(threading.Thread, "start", refuse)
    with caplog.at_level(logging.WARNING, logger="aiguard"), pytest.raises(ag.GuardTimeoutError):
        limit.call(lambda: 1, (), {})
    monkeypatch.undo()
    assert limit.abandoned == 0  # the queued call never started: cancelled, not abandoned
    assert any("could not start" in r.message for r in caplog.records)
    assert limit.call(lambda: 2, (), {}) == 2  # a later call starts a worker normally

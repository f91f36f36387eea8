"""hedge: a slow first request gets a second one; the first success wins."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest

import aiguard as ag
from aiguard.contain.timing import Hedge

# Hedging is about real latency: `after` is tiny and slow requests block on an
# Event (released at the end of each test) instead of sleeping.
AFTER = 0.01


class Replicas:
    """Request i follows plan[i]: "ok", "hang" (until released) or an exception."""

    def __init__(self, *plan: object) -> None:
        self.plan = list(plan)
        self.started = 0
        self.cancelled = 0
        self.release = threading.Event()
        self.lock = threading.Lock()

    def _next(self) -> object:
        with self.lock:
            step = self.plan[self.started]
            self.started += 1
            return step

    def __call__(self, x: int) -> str:
        step = self._next()
        if step == "hang":
            self.release.wait(10)
            return f"late {x}"
        if isinstance(step, BaseException):
            raise step
        return f"{step} {x}"

    async def acall(self, x: int) -> str:
        step = self._next()
        if step == "hang":
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        if isinstance(step, BaseException):
            raise step
        return f"{step} {x}"


async def test_slow_first_request_second_wins() -> None:
    """The first request hangs: a second starts after `after`, wins, the first is cancelled."""
    hedger = ag.hedge(after=AFTER)
    model = Replicas("hang", "ok")
    assert await hedger.acall(model.acall, (1,), {}) == "ok 1"
    assert model.started == 2
    await asyncio.sleep(0)
    assert model.cancelled == 1
    assert hedger.hedged == 1


async def test_fast_first_request_sends_no_extra() -> None:
    """A first answer within `after` means no extra request at all."""
    hedger = ag.hedge(after=5.0)
    model = Replicas("ok")
    assert await hedger.acall(model.acall, (2,), {}) == "ok 2"
    assert model.started == 1
    assert hedger.hedged == 0


async def test_all_fail_raises_the_first_requests_error() -> None:
    """When every request fails, the first request's error is raised."""
    second_failed = asyncio.Event()

    class FirstFailsLast(Replicas):
        async def acall(self, x: int) -> str:
            index = self.started
            self.started += 1
            if index == 0:
                await second_failed.wait()
                raise OSError("first")
            second_failed.set()
            raise OSError("second")

    model = FirstFailsLast()
    with pytest.raises(OSError, match="first"):
        await ag.hedge(after=AFTER).acall(model.acall, (1,), {})
    assert model.started == 2


async def test_failure_does_not_start_an_extra_request() -> None:
    """A fast failure is raised as is: hedging is for slowness, retry is for errors."""
    model = Replicas(ValueError("bad input"), "ok")
    with pytest.raises(ValueError, match="bad input"):
        await ag.hedge(after=5.0).acall(model.acall, (1,), {})
    assert model.started == 1


async def test_up_to_max_extra_requests_staggered() -> None:
    """With max_extra=2 a third request starts when the first two hang."""
    hedger = ag.hedge(after=AFTER, max_extra=2)
    model = Replicas("hang", "hang", "ok")
    assert await hedger.acall(model.acall, (3,), {}) == "ok 3"
    assert model.started == 3
    assert hedger.hedged == 2
    await asyncio.sleep(0)
    assert model.cancelled == 2


async def test_extra_succeeds_after_first_failed() -> None:
    """A failure of the first request while the extra is pending waits for the extra."""
    extra_started, first_failed = asyncio.Event(), asyncio.Event()

    class FirstFailsLate(Replicas):
        async def acall(self, x: int) -> str:
            index = self.started
            self.started += 1
            if index == 0:
                await extra_started.wait()
                first_failed.set()
                raise OSError("first")
            extra_started.set()
            await first_failed.wait()
            await asyncio.sleep(AFTER)  # the hedger sees the first failure on its own
            return f"second {x}"

    model = FirstFailsLate()
    assert await ag.hedge(after=AFTER).acall(model.acall, (4,), {}) == "second 4"


async def test_async_decorator_keeps_name() -> None:
    """@hedge on an async def returns the winner and keeps the function's name."""
    model = Replicas("hang", "ok")

    @ag.hedge(after=AFTER)
    async def predict(x: int) -> str:
        return await model.acall(x)

    assert await predict(5) == "ok 5"
    assert predict.__name__ == "predict"


def test_sync_slow_first_request_second_wins_first_abandoned() -> None:
    """Sync: the hanging first request is abandoned on the pool and counted."""
    hedger = ag.hedge(after=AFTER)
    model = Replicas("hang", "ok")
    try:
        assert hedger.call(model, (1,), {}) == "ok 1"
        assert model.started == 2
        assert hedger.hedged == 1
        assert hedger.abandoned == 1
    finally:
        model.release.set()


def test_sync_fast_first_request_and_decorator() -> None:
    """Sync: a fast first answer sends nothing more; the decorator keeps the name."""
    hedger = ag.hedge(after=5.0)
    model = Replicas("ok", "ok")

    @hedger
    def predict(x: int) -> str:
        return model(x)

    assert predict(2) == "ok 2"
    assert model.started == 1
    assert hedger.abandoned == 0
    assert predict.__name__ == "predict"


def test_sync_all_fail_raises_the_first_error() -> None:
    """Sync: when every request fails, the first request's error is raised."""
    second_failed = threading.Event()
    started = iter(range(10))

    def model(x: int) -> str:
        if next(started) == 0:
            second_failed.wait(5)  # the first request fails last
            raise OSError("first")
        second_failed.set()
        raise OSError("second")

    with pytest.raises(OSError, match="first"):
        ag.hedge(after=AFTER).call(model, (1,), {})


def test_sync_own_timeout_error_is_not_hedged() -> None:
    """Sync: the model's own quick TimeoutError propagates; no extra request."""
    model = Replicas(TimeoutError("upstream"), "ok")
    with pytest.raises(TimeoutError, match="upstream"):
        ag.hedge(after=5.0).call(model, (1,), {})
    assert model.started == 1


def test_sync_fast_failure_is_raised_without_extra() -> None:
    """Sync: a fast failure propagates and starts no extra request."""
    model = Replicas(KeyError("k"), "ok")
    with pytest.raises(KeyError):
        ag.hedge(after=5.0).call(model, (1,), {})
    assert model.started == 1


def test_factory_accepts_timedelta_and_repr() -> None:
    """hedge() builds a Hedge; after may be a timedelta."""
    hedger = ag.hedge(after=timedelta(milliseconds=50), max_extra=2, max_workers=4)
    assert isinstance(hedger, Hedge)
    assert hedger.after == 0.05
    assert hedger.max_workers == 4
    assert repr(hedger) == "hedge(after=0.05, max_extra=2)"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"after": 0}, "after must be a finite number of seconds > 0 (or a timedelta), got 0"),
        ({"after": "1"}, "after must be a finite number of seconds > 0 (or a timedelta), got '1'"),
        ({"after": 0.1, "max_extra": 0}, "max_extra must be an int >= 1, got 0"),
        ({"after": 0.1, "max_workers": 1.5}, "max_workers must be an int >= 1, got 1.5"),
    ],
)
def test_validation(kwargs: dict[str, object], message: str) -> None:
    """Each bad parameter is named, with what was expected and what was given."""
    with pytest.raises(ag.ConfigurationError) as info:
        ag.hedge(**kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message

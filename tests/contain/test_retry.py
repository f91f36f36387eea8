"""retry: attempts, jittered back-off on a fake clock, filtering, should_stop and budgets."""

from __future__ import annotations

import asyncio
import math
import random
import threading
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aiguard as ag
from aiguard.contain.timing import Backoff, Retry, RetryBudget
from aiguard.testing import FakeClock


class Flaky:
    """A model that raises the given errors in turn, then answers."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self, x: int) -> int:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return x

    async def acall(self, x: int) -> int:
        return self(x)


def jittered_schedule(seed: int, n: int, initial: float, maximum: float, mult: float) -> float:
    """Total wait of n retries under full jitter, computed independently of the code."""
    rng = random.Random(seed)
    return sum(rng.random() * min(maximum, initial * mult**k) for k in range(n))


@pytest.mark.parametrize("failures", [0, 1, 2, 4])
def test_waits_follow_the_seeded_jittered_schedule(failures: int) -> None:
    """Each wait advances the fake clock; the total equals the independently drawn schedule."""
    clock = FakeClock()
    backoff = Backoff(initial=0.1, maximum=0.3, multiplier=2.0)
    retrier = ag.retry(attempts=5, backoff=backoff, clock=clock, seed=7)
    model = Flaky(*(ConnectionError(str(i)) for i in range(failures)))
    assert retrier.call(model, (3,), {}) == 3
    assert model.calls == failures + 1
    assert retrier.last_attempts == failures + 1
    assert clock() == pytest.approx(jittered_schedule(7, failures, 0.1, 0.3, 2.0))


def test_without_jitter_the_waits_are_the_ceilings() -> None:
    """jitter=False waits exactly initial * multiplier**n, capped at maximum."""
    clock = FakeClock()
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds)

    backoff = Backoff(initial=0.5, maximum=3.0, multiplier=3.0, jitter=False)
    retrier = ag.retry(attempts=5, backoff=backoff, clock=clock, sleep=sleep)
    with pytest.raises(OSError, match="4"):
        retrier.call(Flaky(*(OSError(str(i)) for i in range(5))), (1,), {})
    assert waits == [0.5, 1.5, 3.0, 3.0]
    assert clock() == 8.0


def test_exhausted_attempts_raise_the_last_error_itself() -> None:
    """After the last attempt the model's own last exception propagates, unwrapped."""
    errors = [ValueError("first"), ValueError("second"), ValueError("third")]
    retrier = ag.retry(attempts=3, clock=FakeClock())
    with pytest.raises(ValueError, match="third") as info:
        retrier.call(Flaky(*errors), (1,), {})
    assert info.value is errors[2]
    assert retrier.last_attempts == 3


def test_retry_on_filters_types_and_predicates() -> None:
    """Only failures accepted by retry_on are retried; others propagate at once."""
    clock = FakeClock()
    by_type = ag.retry(attempts=3, retry_on=ConnectionError, clock=clock)
    model = Flaky(KeyError("not retried"))
    with pytest.raises(KeyError):
        by_type.call(model, (1,), {})
    assert model.calls == 1

    transient = ag.retry(
        attempts=3, retry_on=(KeyError, lambda e: "busy" in str(e)), clock=clock
    )
    model = Flaky(RuntimeError("server busy"), KeyError("k"))
    assert transient.call(model, (1,), {}) == 1
    assert model.calls == 3
    model = Flaky(RuntimeError("broken"))
    with pytest.raises(RuntimeError):
        transient.call(model, (1,), {})
    assert model.calls == 1


@pytest.mark.parametrize(
    "rejection",
    [
        ag.CircuitOpenError("open", retry_at=1.0),
        ag.RateLimitedError("shed", retry_at=2.0),
        ag.GuardTimeoutError("slow", timeout=0.1),
        ag.BulkheadFullError("full"),
    ],
)
def test_never_retries_containment_rejections(rejection: ag.CallRejectedError) -> None:
    """CallRejectedErrors are not retried through Exception or a catch-all predicate."""
    for retry_on in (Exception, lambda _e: True):
        model = Flaky(rejection)
        with pytest.raises(type(rejection)):
            ag.retry(attempts=5, retry_on=retry_on, clock=FakeClock()).call(model, (1,), {})
        assert model.calls == 1


def test_rejection_retried_only_when_named() -> None:
    """Naming GuardTimeoutError in retry_on opts in to retrying per-attempt timeouts."""
    model = Flaky(ag.GuardTimeoutError("slow", timeout=0.1))
    retrier = ag.retry(attempts=2, retry_on=ag.GuardTimeoutError, clock=FakeClock())
    assert retrier.call(model, (5,), {}) == 5
    assert model.calls == 2


def test_base_exceptions_are_never_retried() -> None:
    """KeyboardInterrupt and the like propagate after one attempt."""
    model = Flaky(KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        ag.retry(attempts=5, retry_on=lambda _e: True, clock=FakeClock()).call(model, (1,), {})
    assert model.calls == 1


def test_should_stop_prevents_further_retries() -> None:
    """should_stop (the breaker is open) is asked before each retry and ends them."""
    clock = FakeClock()
    retrier = ag.retry(attempts=5, clock=clock)
    model = Flaky(*(OSError(str(i)) for i in range(5)))
    with pytest.raises(OSError, match="0"):
        retrier.call(model, (1,), {}, should_stop=lambda: True)
    assert model.calls == 1
    assert clock() == 0.0
    opened = iter([False, True])
    model = Flaky(*(OSError(str(i)) for i in range(5)))
    with pytest.raises(OSError, match="1"):
        retrier.call(model, (1,), {}, should_stop=lambda: next(opened))
    assert model.calls == 2


def test_fresh_budget_allows_retries() -> None:
    """A brand-new budget with its defaults lets the first failing call retry."""
    budget = RetryBudget(clock=FakeClock())
    retrier = ag.retry(attempts=3, budget=budget, clock=FakeClock())
    assert retrier.call(Flaky(OSError(), OSError()), (9,), {}) == 9
    assert budget.requests == 1
    assert budget.retries == 2


def test_spent_budget_stops_retries_and_refills_after_the_window() -> None:
    """When the budget is spent the model's error propagates; the window refills it."""
    clock = FakeClock()
    budget = RetryBudget(ratio=0.0, min_per_second=0.1, window=10.0, clock=clock)
    retrier = ag.retry(attempts=3, budget=budget, clock=clock, backoff=0.0)
    model = Flaky(OSError("a"), OSError("b"), OSError("c"))
    with pytest.raises(OSError, match="b"):  # one retry allowed in the window, not two
        retrier.call(model, (1,), {})
    assert model.calls == 2
    assert budget.exhausted == 1
    model = Flaky(OSError("d"))
    with pytest.raises(OSError, match="d"):
        retrier.call(model, (1,), {})
    assert model.calls == 1
    clock.advance(10.0)
    assert retrier.call(Flaky(OSError("e")), (4,), {}) == 4


def test_raise_on_exhausted_chains_the_model_error() -> None:
    """raise_on_exhausted=True raises RetryBudgetExhaustedError from the model's error."""
    clock = FakeClock()
    budget = RetryBudget(ratio=0.0, min_per_second=0.1, window=10.0, clock=clock)
    retrier = ag.retry(attempts=3, budget=budget, clock=clock, raise_on_exhausted=True)
    error = OSError("model down")
    with pytest.raises(ag.RetryBudgetExhaustedError) as info:
        retrier.call(Flaky(OSError("x"), error), (1,), {})
    assert info.value.__cause__ is error
    assert info.value.reason == "retry_budget"
    with pytest.raises(OSError, match="other"):  # attempts, not the budget: not converted
        ag.retry(attempts=1, budget=budget, raise_on_exhausted=True).call(
            Flaky(OSError("other")), (1,), {}
        )


class ReferenceBudget:
    """Sliding window of ten slices, as a plain list of timestamped events."""

    def __init__(self, ratio: float, minimum: float, window: float) -> None:
        self.ratio, self.minimum, self.window = ratio, minimum, window
        self.events: list[tuple[int, str]] = []
        self.latest = -(10**9)

    def _count(self, now: float, kind: str) -> int:
        self.latest = max(self.latest, math.floor(now / (self.window / 10)))
        return sum(1 for e, k in self.events if k == kind and e > self.latest - 10)

    def deposit(self, now: float) -> None:
        self._count(now, "req")
        self.events.append((self.latest, "req"))

    def withdraw(self, now: float) -> bool:
        requests, retries = self._count(now, "req"), self._count(now, "retry")
        if retries + 1 <= self.ratio * requests + self.minimum * self.window:
            self.events.append((self.latest, "retry"))
            return True
        return False


@settings(max_examples=100, deadline=None)
@given(
    ratio=st.sampled_from([0.0, 0.1, 0.5, 2.0]),
    minimum=st.sampled_from([0.0, 0.1, 0.5]),
    ops=st.lists(
        st.tuples(st.floats(min_value=0.0, max_value=4.0), st.booleans()), max_size=60
    ),
)
def test_budget_matches_reference_window(
    ratio: float, minimum: float, ops: list[tuple[float, bool]]
) -> None:
    """Every withdraw decision equals a list-based sliding-window reference."""
    if ratio == 0 and minimum == 0:
        minimum = 0.1
    clock = FakeClock()
    budget = RetryBudget(ratio=ratio, min_per_second=minimum, window=5.0, clock=clock)
    ref = ReferenceBudget(ratio, minimum, 5.0)
    for advance, is_request in ops:
        clock.advance(advance)
        if is_request:
            budget.deposit()
            ref.deposit(clock())
        else:
            assert budget.withdraw() == ref.withdraw(clock())


def test_budget_ignores_a_stale_clock_reading() -> None:
    """A reading older than the current slice counts in the current slice."""
    readings = iter([5.0, 1.0])
    budget = RetryBudget(ratio=1.0, min_per_second=0.0, window=10.0, clock=lambda: next(readings))
    budget.deposit()
    assert budget.withdraw()
    assert repr(budget) == "RetryBudget(ratio=1, min_per_second=0, window=10)"


async def test_async_retries_advance_the_fake_clock() -> None:
    """acall retries awaitable models; its waits advance the fake clock."""
    clock = FakeClock()
    retrier = ag.retry(attempts=4, backoff=Backoff(initial=0.2, jitter=False), clock=clock)
    model = Flaky(OSError(), OSError())
    assert await retrier.acall(model.acall, (8,), {}) == 8
    assert retrier.last_attempts == 3
    assert clock() == pytest.approx(0.2 + 0.4)


async def test_async_budget_and_should_stop() -> None:
    """acall honours should_stop and raise_on_exhausted like call."""
    clock = FakeClock()
    budget = RetryBudget(ratio=0.0, min_per_second=0.1, window=10.0, clock=clock)
    retrier = ag.retry(attempts=3, budget=budget, clock=clock, raise_on_exhausted=True)
    with pytest.raises(ag.RetryBudgetExhaustedError):
        await retrier.acall(Flaky(OSError(), OSError(), OSError()).acall, (1,), {})
    model = Flaky(OSError("stop"))
    with pytest.raises(OSError, match="stop"):
        await retrier.acall(model.acall, (1,), {}, should_stop=lambda: True)
    assert model.calls == 1


async def test_async_decorator_with_async_sleep() -> None:
    """An async sleep is awaited between attempts; the decorator keeps the name."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    model = Flaky(OSError(), OSError())

    @ag.retry(attempts=3, backoff=Backoff(initial=1.0, jitter=False), sleep=sleep)
    async def predict(x: int) -> int:
        return await model.acall(x)

    assert await predict(2) == 2
    assert waits == [1.0, 2.0]
    assert predict.__name__ == "predict"


def test_async_sleep_cannot_serve_a_sync_call() -> None:
    """A sync call with an async-only sleep fails loudly instead of not waiting."""

    async def sleep(seconds: float) -> None:
        return None

    with pytest.raises(TypeError, match="async function"):
        ag.retry(attempts=2, sleep=sleep).call(Flaky(OSError()), (1,), {})


async def test_sync_sleep_serves_async_calls_and_real_sleeps_work() -> None:
    """A sync sleep is used by acall too; the real sleeps work with zero back-off."""
    waits: list[float] = []
    retrier = ag.retry(attempts=2, backoff=Backoff(initial=0.5, jitter=False), sleep=waits.append)
    assert await retrier.acall(Flaky(OSError()).acall, (1,), {}) == 1
    assert waits == [0.5]
    real = ag.retry(attempts=2, backoff=0.0)
    assert real.call(Flaky(OSError()), (1,), {}) == 1
    assert await real.acall(Flaky(OSError()).acall, (1,), {}) == 1


def test_sync_decorator_and_last_attempts_per_thread() -> None:
    """The decorator retries; last_attempts is per thread (0 where no call ran)."""
    retrier = ag.retry(attempts=3, clock=FakeClock())
    model = Flaky(OSError())

    @retrier
    def predict(x: int) -> int:
        return model(x)

    assert predict(1) == 1
    assert retrier.last_attempts == 2
    seen: list[int] = []
    thread = threading.Thread(target=lambda: seen.append(retrier.last_attempts))
    thread.start()
    thread.join()
    assert seen == [0]


def test_backoff_value_object() -> None:
    """A float backoff is the initial wait; Backoff is frozen and validated."""
    retrier = ag.retry(backoff=timedelta(milliseconds=100))
    assert isinstance(retrier, Retry)
    assert retrier.backoff == Backoff(initial=0.1, maximum=2.0, multiplier=2.0, jitter=True)
    assert ag.retry(backoff=5.0).backoff.maximum == 5.0
    assert [Backoff(initial=1.0, maximum=5.0, jitter=False).ceiling(n) for n in (1, 3, 4)] == [
        1.0,
        4.0,
        5.0,
    ]
    assert repr(ag.retry(attempts=2, budget=RetryBudget())).startswith("retry(attempts=2")


RETRY_ON = "retry_on must be exception types (subclasses of Exception) or predicates exc -> bool,"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ag.retry(attempts=0), "attempts must be an int >= 1, got 0"),
        (lambda: ag.retry(attempts=2.0), "attempts must be an int >= 1, got 2.0"),
        (lambda: ag.retry(attempts=True), "attempts must be an int >= 1, got True"),
        (
            lambda: ag.retry(backoff=-1),
            "backoff must be a finite number of seconds >= 0 (or a timedelta), got -1",
        ),
        (
            lambda: Backoff(initial=math.nan),
            "initial must be a finite number of seconds >= 0 (or a timedelta), got nan",
        ),
        (
            lambda: Backoff(initial=1.0, maximum=0.5),
            "maximum must be seconds >= initial (1), got 0.5",
        ),
        (
            lambda: Backoff(maximum="2"),
            "maximum must be a finite number of seconds >= 0 (or a timedelta), got '2'",
        ),
        (lambda: Backoff(multiplier=0.5), "multiplier must be a finite number >= 1, got 0.5"),
        (lambda: Backoff(jitter=1), "jitter must be a bool, got 1"),
        (
            lambda: ag.retry(retry_on="OSError"),
            f"{RETRY_ON} got 'OSError'",
        ),
        (
            lambda: ag.retry(retry_on=()),
            f"{RETRY_ON} got ()",
        ),
        (
            lambda: ag.retry(retry_on=KeyboardInterrupt),
            f"{RETRY_ON} got <class 'KeyboardInterrupt'>",
        ),
        (lambda: ag.retry(budget=0.1), "budget must be a RetryBudget or None, got 0.1"),
        (
            lambda: ag.retry(raise_on_exhausted=1),
            "raise_on_exhausted must be a bool, got 1",
        ),
        (lambda: ag.retry(clock=1.0), "clock must be a callable returning seconds, got 1.0"),
        (
            lambda: ag.retry(sleep=0),
            "sleep must be a callable taking seconds, or None, got 0",
        ),
        (lambda: ag.retry(seed="1"), "seed must be an int >= 0, got '1'"),
        (lambda: RetryBudget(ratio=-0.1), "ratio must be a finite number >= 0, got -0.1"),
        (lambda: RetryBudget(ratio="all"), "ratio must be a finite number >= 0, got 'all'"),
        (
            lambda: RetryBudget(min_per_second=math.inf),
            "min_per_second must be a finite number >= 0, got inf",
        ),
        (
            lambda: RetryBudget(ratio=0, min_per_second=0),
            "min_per_second must be > 0 when ratio is 0 (else no retry is ever allowed), got 0",
        ),
        (
            lambda: RetryBudget(window=0),
            "window must be a finite number of seconds > 0 (or a timedelta), got 0",
        ),
        (lambda: RetryBudget(clock=None), "clock must be a callable returning seconds, got None"),
    ],
)
def test_validation(build: object, message: str) -> None:
    """Each bad parameter is named, with what was expected and what was given."""
    with pytest.raises(ag.ConfigurationError) as info:
        build()  # type: ignore[operator]
    assert str(info.value) == message


def test_retry_a_real_asyncio_timeout_is_not_cancellation() -> None:
    """asyncio.CancelledError is never retried, whatever retry_on says."""
    model = Flaky(asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        ag.retry(attempts=3, retry_on=lambda _e: True, clock=FakeClock()).call(model, (1,), {})
    assert model.calls == 1


def test_base_exception_in_a_later_attempt_is_not_retried() -> None:
    """A KeyboardInterrupt raised by a retry attempt ends the retries at once."""
    model = Flaky(OSError("transient"), KeyboardInterrupt(), OSError("never reached"))
    with pytest.raises(KeyboardInterrupt):
        ag.retry(attempts=5, clock=FakeClock()).call(model, (1,), {})
    assert model.calls == 2


async def test_async_error_not_in_retry_on_propagates_at_once() -> None:
    """acall raises an error that retry_on does not accept after one attempt."""
    retrier = ag.retry(attempts=3, retry_on=ConnectionError, clock=FakeClock())
    model = Flaky(KeyError("k"))
    with pytest.raises(KeyError):
        await retrier.acall(model.acall, (1,), {})
    assert model.calls == 1
    assert retrier.last_attempts == 1


async def test_async_first_attempt_success() -> None:
    """acall returns a first-time answer after one attempt, without waiting."""
    clock = FakeClock()
    retrier = ag.retry(attempts=3, clock=clock)
    assert await retrier.acall(Flaky().acall, (6,), {}) == 6
    assert retrier.last_attempts == 1
    assert clock() == 0.0

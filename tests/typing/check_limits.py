"""Type-checked only: limits and time bounds keep the decorated function's signature."""

from __future__ import annotations

from datetime import timedelta

import aiguard as ag
from aiguard.contain._limits import Bulkhead  # TODO: ag.Bulkhead once __all__ lists it
from aiguard.contain.timing import Backoff, Hedge, Retry, RetryBudget, Timeout
from aiguard.testing import FakeClock


@ag.RateLimit(10, per=timedelta(seconds=1), burst=5)
def score(x: float, *, scale: float = 1.0) -> float:
    return x * scale


@Bulkhead(4, max_wait=0.5)
async def ascore(x: float) -> str:
    return str(x)


@ag.timeout(0.2)
def slow(rows: list[float]) -> list[float]:
    return rows


@ag.retry(attempts=3, backoff=Backoff(initial=0.01), budget=RetryBudget(0.2), seed=1)
async def flaky(x: int) -> int:
    return x


@ag.hedge(after=0.05, max_extra=2)
def hedged(x: int, y: int = 0) -> tuple[int, int]:
    return (x, y)


async def use() -> None:
    first: float = score(1.0, scale=2.0)
    text: str = await ascore(1.0)
    rows: list[float] = slow([1.0])
    number: int = await flaky(3)
    pair: tuple[int, int] = hedged(1, y=2)
    print(first, text, rows, number, pair)


# The private interface the Guard drives.
clock = FakeClock()
limit = ag.RateLimit(2, clock=clock)
admitted: int = limit.admit(clock())
next_token: float = limit.retry_at(clock())
bulkhead = Bulkhead(1)
entered: int = bulkhead.try_admit(clock())
entered = entered if entered >= 0 else bulkhead.admit(clock())
bulkhead.ignore(entered)
deadline: Timeout = ag.timeout(1.0)
seconds: float = deadline.seconds
answer: int = deadline.call(len, ([1, 2],), {})
retrier: Retry = ag.retry(attempts=2, clock=clock)
retried: int = retrier.call(len, ("ab",), {}, should_stop=lambda: False)
attempts: int = retrier.last_attempts
hedge_object: Hedge = ag.hedge(after=0.1)

"""Type-checked only (mypy --strict): the breaker keeps decorated signatures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from typing_extensions import assert_type

from aiguard import BreakerState, CircuitBreaker
from aiguard.contain.breaker._breaker import BreakerEvent, BreakerMetrics

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine

breaker = CircuitBreaker(failure_rate=0.5, window=100, min_calls=10, open_for=lambda a: 2.0**a)


@breaker
def predict(features: list[float], *, threshold: float = 0.5) -> list[bool]:
    return [f > threshold for f in features]


@breaker
async def apredict(features: list[float], *, threshold: float = 0.5) -> list[bool]:
    return [f > threshold for f in features]


assert_type(predict([0.1], threshold=0.2), list[bool])
f: Callable[[list[float]], list[bool]] = predict
g: Callable[[list[float]], Coroutine[Any, Any, list[bool]]] = apredict


async def use() -> None:
    assert_type(await apredict([0.3]), list[bool])
    assert_type(await breaker.acall(apredict, [0.3], threshold=0.1), list[bool])


assert_type(breaker.call(predict, [0.2]), list[bool])
assert_type(breaker.call(max, 1, 2), int)
assert_type(breaker.state, BreakerState)
assert_type(breaker.metrics, BreakerMetrics)
assert_type(breaker.metrics.failure_rate, float)
assert_type(breaker.is_open, bool)


def on_event(event: BreakerEvent) -> None:
    assert_type(event.new, BreakerState)


breaker.add_listener(on_event)
breaker.add_listener(on_event, outcomes=False)
aw: Awaitable[list[bool]] = apredict([1.0])

# Wrong argument types are still caught through the decorator.
predict("not a list")  # type: ignore[arg-type]
predict([0.1], thresold=0.2)  # type: ignore[call-arg]

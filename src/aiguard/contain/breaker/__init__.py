"""The circuit breaker: a failure-rate state machine with sliding windows."""

from aiguard.contain.breaker._breaker import CircuitBreaker
from aiguard.contain.breaker._permit import BreakerPermit
from aiguard.contain.breaker._values import BreakerEvent, BreakerMetrics, BreakerState
from aiguard.contain.breaker._window import TimeWindow

__all__ = [
    "BreakerEvent",
    "BreakerMetrics",
    "BreakerPermit",
    "BreakerState",
    "CircuitBreaker",
    "TimeWindow",
]

"""Circuit breaker (stub, being implemented)."""

from __future__ import annotations

import enum

import attrs

__all__ = ["BreakerMetrics", "BreakerState", "CircuitBreaker", "TimeWindow"]


class BreakerState(enum.Enum):
    """Breaker states."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    FORCED_OPEN = "forced_open"
    DISABLED = "disabled"
    METRICS_ONLY = "metrics_only"


@attrs.frozen
class TimeWindow:
    """A time-based sliding window."""

    seconds: float


@attrs.frozen
class BreakerMetrics:
    """Metrics snapshot."""

    calls: int


class CircuitBreaker:
    """Stub."""

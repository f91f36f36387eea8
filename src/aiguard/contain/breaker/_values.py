"""The circuit breaker's values: states, events, metrics, validated settings.

Split from ``_breaker.py`` so the state machine reads on its own. Everything
here is re-exported by ``aiguard.contain.breaker._breaker``.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

import attrs

from aiguard._core._format import attrs_repr

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiguard.contain.breaker._window import TimeWindow
    from aiguard.typing import Clock

__all__ = ["BreakerEvent", "BreakerMetrics", "BreakerSettings", "BreakerState"]


class BreakerState(enum.Enum):
    """The states of a :class:`CircuitBreaker`.

    ``CLOSED``, ``OPEN`` and ``HALF_OPEN`` are automatic. ``FORCED_OPEN``
    (reject everything), ``DISABLED`` (admit everything, record nothing) and
    ``METRICS_ONLY`` (admit everything, record, never trip) are set by an
    operator and held until :meth:`CircuitBreaker.reset`.

    Example:
        >>> BreakerState("half_open")
        <BreakerState.HALF_OPEN: 'half_open'>
    """

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    FORCED_OPEN = "forced_open"
    DISABLED = "disabled"
    METRICS_ONLY = "metrics_only"


@attrs.frozen(slots=True, repr=False)
class BreakerEvent:
    """What a breaker reports to its listeners.

    Attributes:
        kind: ``"transition"`` for a state change, or the outcome of one call:
            ``"success"``, ``"failure"`` (failure weight > 0), ``"slow"`` (a
            slow call that did not fail), ``"rejected"``, ``"ignored"``.
        name: the breaker's name.
        at: clock time of the event.
        old: the state before (for outcomes: the state when the event is emitted).
        new: the state after (for outcomes: the same as ``old``).
        reason: why a transition happened (``"failure_rate 0.6 >= 0.5"``,
            ``"force_open()"``, ...) or why a call was rejected; else None.
        duration: the call's duration in seconds (outcomes of model calls).
        failure: the call's failure weight in [0, 1].
        slow: whether the call was slow.

    Example:
        >>> e = BreakerEvent(kind="transition", name="recs", at=3.0,
        ...                  old=BreakerState.CLOSED, new=BreakerState.OPEN, reason="manual")
        >>> e.new.value
        'open'
    """

    kind: str
    name: str
    at: float
    old: BreakerState
    new: BreakerState
    reason: str | None = None
    duration: float | None = None
    failure: float = 0.0
    slow: bool = False

    def __repr__(self) -> str:
        """Show the fields, floats without binary noise (``failures=4.36``)."""
        return attrs_repr(self)


@attrs.frozen(slots=True, repr=False)
class BreakerMetrics:
    """A snapshot of a breaker's counters (``breaker.metrics``).

    Totals (``calls`` ... ``stale``) count from the breaker's creation and
    survive :meth:`~CircuitBreaker.reset`; ``window_*`` and the rates describe
    the calls the breaker is judging now: the sliding window in CLOSED and
    METRICS_ONLY, the finished trials in HALF_OPEN, frozen at the values that
    made the decision in OPEN and FORCED_OPEN, empty in DISABLED.

    Attributes:
        state: the current state.
        since: clock time of the last state change.
        calls: model calls whose result was recorded (stale ones included).
        failures: sum of failure weights (a batch with 30% bad rows adds 0.3).
        slow_calls: calls slower than ``slow_call_duration``.
        rejected: calls refused without calling the model.
        ignored: calls whose outcome was ignored (ignored exceptions, cancellation).
        stale: results of calls admitted before a state change (not judged).
        window_calls: calls in the judged window.
        window_failures: failure weight in the judged window.
        window_slow_calls: slow calls in the judged window.
        failure_rate: ``window_failures / window_calls``; NaN until
            ``min_calls`` calls are in the window (in HALF_OPEN: until one trial finished).
        slow_call_rate: ``window_slow_calls / window_calls``; NaN likewise.
        retry_at: when OPEN, the clock time from which a trial call is admitted; else None.
        attempt: openings since the breaker was last CLOSED (drives ``open_for`` back-off).
        listener_errors: how many times a listener raised.

    Example:
        >>> import aiguard as ag
        >>> ag.CircuitBreaker(name="recs").metrics.failure_rate
        nan
    """

    state: BreakerState
    since: float
    calls: int
    failures: float
    slow_calls: int
    rejected: int
    ignored: int
    stale: int
    window_calls: int
    window_failures: float
    window_slow_calls: int
    failure_rate: float
    slow_call_rate: float
    retry_at: float | None
    attempt: int
    listener_errors: int

    def __repr__(self) -> str:
        """Show the fields, floats without binary noise (``failures=4.36``)."""
        return attrs_repr(self)


@attrs.frozen(kw_only=True)
class BreakerSettings:
    """The validated settings a breaker's state machine runs with (built by ``CircuitBreaker``)."""

    failure_rate: float
    slow_rate: float
    slow_after: float
    window: int | TimeWindow
    min_calls: int
    backoff: Callable[[int], float]
    first_open_for: float
    half_open_calls: int
    max_wait: float
    exc_recorded: Callable[[BaseException], bool]
    exc_ignored: Callable[[BaseException], bool]
    judge: Callable[[object], object] | None
    name: str
    clock: Clock

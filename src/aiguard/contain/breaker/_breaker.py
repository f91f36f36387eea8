"""The circuit breaker: stop calling a model that keeps failing, try it again carefully.

Semantics follow resilience4j's (see docs/contain/breaker.md for the
comparison). :class:`CircuitBreaker` is the public face of the state machine in
``_machine.py``: it validates the configuration, reads metrics, takes the
operator's manual states, hands out :class:`~aiguard.BreakerPermit` objects
and decorates functions through the thin shells of ``_shell.py``.
"""

from __future__ import annotations

import math
from datetime import timedelta
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, TypeVar

from aiguard._core._clock import MONOTONIC, validate_clock
from aiguard._core._matcher import exception_matcher
from aiguard._core._validate import count, duration, fraction
from aiguard.contain.breaker._machine import BreakerCore
from aiguard.contain.breaker._permit import BreakerPermit
from aiguard.contain.breaker._shell import async_shell, sync_shell
from aiguard.contain.breaker._values import (
    BreakerEvent,
    BreakerMetrics,
    BreakerSettings,
    BreakerState,
)
from aiguard.contain.breaker._window import TimeWindow, peek
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from typing_extensions import ParamSpec

    from aiguard._core._matcher import ExceptionFilter
    from aiguard.typing import Clock

    P = ParamSpec("P")

R = TypeVar("R")

__all__ = ["BreakerEvent", "BreakerMetrics", "BreakerState", "CircuitBreaker", "TimeWindow"]

_OPEN_FOR = "seconds >= 0 (a number or timedelta) or a callable attempt -> seconds"


def _backoff(open_for: object) -> tuple[Callable[[int], float], float]:
    """``open_for`` as ``(attempt -> seconds, seconds of attempt 1)``, validated."""
    if callable(open_for) and not isinstance(open_for, timedelta):
        try:
            first = duration(open_for(1), "open_for(1)", zero=True)
        except ConfigurationError:
            raise
        except Exception as exc:
            raise ConfigurationError("open_for", _OPEN_FOR + " (calling it with 1 raised "
                                     f"{exc!r})", open_for) from exc
        return open_for, first
    if isinstance(open_for, bool) or not isinstance(open_for, (Real, timedelta)):
        raise ConfigurationError("open_for", _OPEN_FOR, open_for)
    seconds = duration(open_for, "open_for", zero=True)
    return (lambda _attempt: seconds), seconds


def _window(window: object, min_calls: object) -> tuple[int | TimeWindow, int]:
    """Validate ``window`` and ``min_calls`` together (min_calls <= N for a count window)."""
    if isinstance(window, TimeWindow):
        return window, count(min_calls, "min_calls")
    if isinstance(window, bool) or not isinstance(window, Integral) or window < 1:
        raise ConfigurationError("window", "an int >= 1 (last N calls) or a TimeWindow", window)
    size = int(window)
    try:
        calls = count(min_calls, "min_calls")
    except ConfigurationError:
        calls = 0
    if not 1 <= calls <= size:
        raise ConfigurationError("min_calls", f"an int in [1, window={size}]", min_calls)
    return size, calls


class CircuitBreaker(BreakerCore):
    """Stop calling a failing model; after a pause, let a few trial calls decide.

    Use it as a decorator on plain or ``async def`` functions, call
    :meth:`call` / :meth:`acall`, give it to a :class:`~aiguard.Guard`, or,
    without wrapping a call, take a permit with :meth:`acquire` and report
    the outcome on it (``with breaker.permit(): ...`` does both).

    Args:
        failure_rate: trip when the failure rate in the window reaches this, in (0, 1].
        slow_call_rate: trip when the share of slow calls reaches this, in (0, 1].
        slow_call_duration: seconds (or timedelta) above which a call is slow; None: never.
        window: an int N judges the last N calls; :class:`TimeWindow` the last seconds.
        min_calls: calls needed in the window before any rate is judged (<= N).
        open_for: how long to stay OPEN: seconds, a timedelta, or a callable
            ``attempt -> seconds`` (attempt 1 is the first opening, 2 the
            re-opening after failed trials, ...; back to 1 after CLOSED).
        half_open_calls: trial calls admitted in HALF_OPEN; the breaker decides
            once ``min(min_calls, half_open_calls)`` of them have finished (as
            resilience4j does).
        half_open_max_wait: seconds after which a HALF_OPEN breaker still
            waiting for its deciding trials goes back to OPEN (None: wait).
        record: exception types or predicates that count as failures;
            other exceptions count as successes. Default: every ``Exception``.
        ignore: exception types or predicates that count as neither (they
            still propagate); checked before ``record``.
        failure_result: a callable judging a *result*: a bool (True = bad), a
            fraction in [0, 1], or a per-row bool mask (True = bad row; the
            share of bad rows is the call's failure weight).
        name: a name for errors, events and logs.
        clock: a zero-argument callable returning seconds.

    Attributes:
        name: the breaker's name.
        clock: the clock timing calls (``clock=``).
        judges_results: whether ``failure_result`` is set.

    Raises:
        ConfigurationError: naming the argument, expectation and value.

    Example:
        >>> import aiguard as ag
        >>> from aiguard.testing import FakeClock
        >>> clock = FakeClock()
        >>> breaker = ag.CircuitBreaker(window=4, min_calls=2, failure_rate=0.6, open_for=30,
        ...                             clock=clock)
        >>> @breaker
        ... def predict(x):
        ...     if x < 0:
        ...         raise ValueError("bad input")
        ...     return 2 * x
        >>> predict(1)
        2
        >>> for _ in range(2):
        ...     try:
        ...         predict(-1)
        ...     except ValueError:
        ...         pass
        >>> breaker.state
        <BreakerState.OPEN: 'open'>
        >>> predict(1)
        Traceback (most recent call last):
        ...
        aiguard.errors.CircuitOpenError: circuit breaker 'breaker' is open; retry at t=30.000
        >>> _ = clock.advance(30)
        >>> predict(1)
        2
        >>> breaker.state
        <BreakerState.HALF_OPEN: 'half_open'>
    """

    __slots__ = ()

    def __init__(
        self,
        *,
        failure_rate: float = 0.5,
        slow_call_rate: float = 1.0,
        slow_call_duration: float | timedelta | None = None,
        window: int | TimeWindow = 100,
        min_calls: int = 10,
        open_for: float | timedelta | Callable[[int], float] = 30.0,
        half_open_calls: int = 5,
        half_open_max_wait: float | timedelta | None = None,
        record: ExceptionFilter = Exception,
        ignore: ExceptionFilter = (),
        failure_result: Callable[[Any], object] | None = None,
        name: str = "breaker",
        clock: Clock = MONOTONIC,
    ) -> None:
        if failure_result is not None and not callable(failure_result):
            raise ConfigurationError(
                "failure_result", "None or a callable result -> bool | fraction | row mask",
                failure_result)
        if not isinstance(name, str) or not name:
            raise ConfigurationError("name", "a non-empty string", name)
        size, calls = _window(window, min_calls)
        backoff, first = _backoff(open_for)
        super().__init__(BreakerSettings(
            failure_rate=fraction(failure_rate, "failure_rate"),
            slow_rate=fraction(slow_call_rate, "slow_call_rate"),
            slow_after=(math.inf if slow_call_duration is None
                        else duration(slow_call_duration, "slow_call_duration")),
            window=size, min_calls=calls, backoff=backoff, first_open_for=first,
            half_open_calls=count(half_open_calls, "half_open_calls"),
            max_wait=(math.inf if half_open_max_wait is None
                      else duration(half_open_max_wait, "half_open_max_wait")),
            exc_recorded=exception_matcher(record, "record"),
            exc_ignored=exception_matcher(ignore, "ignore"),
            judge=failure_result, name=name, clock=validate_clock(clock),
        ))

    # -- reading ---------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        """The current state (changes happen on calls: an OPEN breaker stays OPEN until one)."""
        return self._state

    @property
    def is_open(self) -> bool:
        """Whether calls are being rejected outright (OPEN or FORCED_OPEN); lock-free.

        Example:
            >>> b = CircuitBreaker()
            >>> b.is_open, (b.force_open(), b.is_open)[1]
            (False, True)
        """
        state = self._state
        return state is BreakerState.OPEN or state is BreakerState.FORCED_OPEN

    @property
    def metrics(self) -> BreakerMetrics:
        """A consistent snapshot of the counters (see :class:`BreakerMetrics`)."""
        now = self._clock()
        with self._lock:
            state = self._state
            if state is BreakerState.CLOSED or state is BreakerState.METRICS_ONLY:
                calls, failures, slow = self._window.totals(now)
                minimum = self._min_calls
            elif state is BreakerState.HALF_OPEN:
                calls, failures, slow, minimum = self._ho_calls, self._ho_failures, self._ho_slow, 1
            elif state is BreakerState.DISABLED:
                calls, failures, slow, minimum = 0, 0.0, 0, 1
            else:
                calls, failures, slow, minimum = self._judged
            enough = calls >= minimum and calls > 0
            return BreakerMetrics(
                state=state, since=self._since, calls=peek(self._seq) + self._other_calls,
                failures=self._failures, slow_calls=self._slow_calls, rejected=self._rejected,
                ignored=self._ignored, stale=self._stale, window_calls=calls,
                window_failures=failures, window_slow_calls=slow,
                failure_rate=failures / calls if enough else math.nan,
                slow_call_rate=slow / calls if enough else math.nan,
                retry_at=self._open_until if state is BreakerState.OPEN else None,
                attempt=self._attempt,
                listener_errors=self._listeners.errors + self._outcomes.errors,
            )

    def __repr__(self) -> str:
        """Show the name and state."""
        return f"CircuitBreaker(name={self.name!r}, state={self._state.value!r})"

    # -- permits: the breaker without wrapping a call --------------------------

    def acquire(self) -> BreakerPermit:
        """Ask to make one call now; report its outcome on the returned permit.

        resilience4j's ``tryAcquirePermission`` / ``onSuccess`` / ``onError``
        for code that cannot be wrapped (stream consumers, batch jobs,
        callbacks): call :meth:`BreakerPermit.success`,
        :meth:`~BreakerPermit.failure`, :meth:`~BreakerPermit.error` or
        :meth:`~BreakerPermit.ignore` exactly once when the call is done.
        Durations default to the breaker's clock since :meth:`acquire`.

        Raises:
            CircuitOpenError: the breaker does not admit the call (counted as rejected).

        Example:
            >>> from aiguard.testing import FakeClock
            >>> clock = FakeClock()
            >>> breaker = CircuitBreaker(window=2, min_calls=2, clock=clock)
            >>> permit = breaker.acquire()
            >>> _ = clock.advance(0.25)
            >>> permit.failure()
            >>> breaker.acquire().success(duration=0.1)
            >>> breaker.state, breaker.metrics.failures
            (<BreakerState.OPEN: 'open'>, 1.0)
        """
        now = self._clock()
        return BreakerPermit(self, self.admit(now), now)

    def permit(self) -> BreakerPermit:
        """:meth:`acquire` for a ``with`` (or ``async with``) block.

        Leaving the block normally records a success; an exception is judged
        as the decorator would (``record`` / ``ignore``) and propagates. The
        duration is measured on the breaker's clock.

        Raises:
            CircuitOpenError: the breaker does not admit the call.

        Example:
            >>> breaker = CircuitBreaker(window=2, min_calls=1)
            >>> with breaker.permit():
            ...     pass
            >>> try:
            ...     with breaker.permit():
            ...         raise ConnectionError("model server down")
            ... except ConnectionError:
            ...     pass
            >>> breaker.metrics.calls, breaker.state.value
            (2, 'open')
        """
        return self.acquire()

    # -- operator controls ---------------------------------------------------

    def force_open(self) -> None:
        """Reject every call until :meth:`reset` (the 3 AM "stop calling it" switch).

        Example:
            >>> b = CircuitBreaker()
            >>> b.force_open(); b.state
            <BreakerState.FORCED_OPEN: 'forced_open'>
        """
        self._manual(BreakerState.FORCED_OPEN, "force_open()")

    def disable(self) -> None:
        """Admit every call and record nothing until :meth:`reset`.

        Example:
            >>> b = CircuitBreaker()
            >>> b.disable(); b.state
            <BreakerState.DISABLED: 'disabled'>
        """
        self._manual(BreakerState.DISABLED, "disable()")

    def metrics_only(self) -> None:
        """Admit every call, keep recording, never trip, until :meth:`reset`.

        Example:
            >>> b = CircuitBreaker()
            >>> b.metrics_only(); b.state
            <BreakerState.METRICS_ONLY: 'metrics_only'>
        """
        self._manual(BreakerState.METRICS_ONLY, "metrics_only()")

    def reset(self) -> None:
        """Back to CLOSED with an empty window and the back-off restarted.

        Example:
            >>> b = CircuitBreaker()
            >>> b.force_open(); b.reset(); b.state
            <BreakerState.CLOSED: 'closed'>
        """
        self._manual(BreakerState.CLOSED, "reset()")

    # -- listeners -----------------------------------------------------------

    def add_listener(self, listener: Callable[[BreakerEvent], object], *,
                     outcomes: bool = True) -> None:
        """Call *listener* with every :class:`BreakerEvent`; it must not block.

        Args:
            listener: a callable taking one event. If it raises, the call it
                reports on is unaffected; the error is counted in
                ``metrics.listener_errors`` and logged once.
            outcomes: also report each call's outcome (success, failure,
                slow, rejected, ignored), not only transitions. Outcome
                events cost an allocation per call, and only while some
                listener asked for them.

        Example:
            >>> b = CircuitBreaker(name="recs")
            >>> seen = []
            >>> b.add_listener(seen.append, outcomes=False)
            >>> b.force_open()
            >>> [(e.kind, e.old.value, e.new.value) for e in seen]
            [('transition', 'closed', 'forced_open')]
        """
        (self._outcomes if outcomes else self._listeners).add(listener)

    def remove_listener(self, listener: Callable[[BreakerEvent], object]) -> None:
        """Stop calling *listener* (a no-op if it is not registered).

        Example:
            >>> b = CircuitBreaker()
            >>> b.add_listener(print)
            >>> b.remove_listener(print)
        """
        self._listeners.remove(listener)
        self._outcomes.remove(listener)

    # -- the shells ----------------------------------------------------------

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Decorate a plain or ``async def`` function (detected once, here).

        Example:
            >>> breaker = CircuitBreaker()
            >>> @breaker
            ... async def predict(x: float) -> float:
            ...     return x
            >>> import asyncio
            >>> asyncio.run(predict(2.0))
            2.0
        """
        if not callable(fn):
            raise ConfigurationError("fn", "a function to protect", fn)
        if _is_coroutine_function(fn):
            return async_shell(self, fn)  # type: ignore[arg-type, return-value]
        return sync_shell(self, fn)

    def call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call ``fn(*args, **kwargs)`` through the breaker.

        Example:
            >>> CircuitBreaker().call(max, 1, 2)
            2
        """
        return sync_shell(self, fn)(*args, **kwargs)

    async def acall(self, fn: Callable[P, Awaitable[R]], /, *args: P.args,
                    **kwargs: P.kwargs) -> R:
        """Await ``fn(*args, **kwargs)`` through the breaker.

        Example:
            >>> import asyncio
            >>> async def double(x):
            ...     return 2 * x
            >>> asyncio.run(CircuitBreaker().acall(double, 4))
            8
        """
        return await async_shell(self, fn)(*args, **kwargs)


def _is_coroutine_function(fn: object) -> bool:
    import inspect  # noqa: PLC0415 - only at decoration time

    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - callable objects with async __call__
    )

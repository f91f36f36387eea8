"""The circuit breaker: stop calling a model that keeps failing, try it again carefully.

Semantics follow resilience4j's (see docs/contain/breaker.md for the
differences). The breaker is one small synchronous state machine driven by
``_acquire(now)`` before the call and ``_on_result`` / ``_on_ignored`` after
it, with time passed in; the decorator's sync and async shells, and the
:class:`~aiguard.Guard`, only call it (principle 4). A short lock covers
admission and recording; the model call itself runs without any lock.

A permit is an int: ``generation << 1 | trial``. Every state change starts a
new generation, so a result carrying an older generation's permit is counted
in the totals but never judged by the new state. In CLOSED (and the manual
DISABLED / METRICS_ONLY states) admission is one lock-free read of ``_fast``.
"""

from __future__ import annotations

import itertools
import math
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from aiguard._core._clock import MONOTONIC, validate_clock
from aiguard._core._events import Listeners, log_once
from aiguard._core._matcher import exception_matcher
from aiguard.contain.breaker._shell import async_shell, sync_shell
from aiguard.contain.breaker._values import (
    BreakerEvent,
    BreakerMetrics,
    BreakerState,
    _duration,
    _positive_int,
    _rate,
)
from aiguard.contain.breaker._window import BucketWindow, CountWindow, TimeWindow, peek
from aiguard.errors import CircuitOpenError, ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from typing_extensions import ParamSpec

    from aiguard.typing import Clock

    P = ParamSpec("P")

R = TypeVar("R")

__all__ = ["BreakerEvent", "BreakerMetrics", "BreakerState", "CircuitBreaker", "TimeWindow"]


_CLOSED = BreakerState.CLOSED
_OPEN = BreakerState.OPEN
_HALF_OPEN = BreakerState.HALF_OPEN
_FORCED_OPEN = BreakerState.FORCED_OPEN
_DISABLED = BreakerState.DISABLED
_METRICS_ONLY = BreakerState.METRICS_ONLY


class CircuitBreaker:
    """Stop calling a failing model; after a pause, let a few trial calls decide.

    Use it as a decorator on plain or ``async def`` functions, call
    :meth:`call` / :meth:`acall`, or give it to a :class:`~aiguard.Guard`.

    Args:
        failure_rate: trip when the failure rate in the window reaches this, in (0, 1].
        slow_call_rate: trip when the share of slow calls reaches this, in (0, 1].
        slow_call_duration: seconds (or timedelta) above which a call is slow; None: never.
        window: an int N judges the last N calls; :class:`TimeWindow` the last seconds.
        min_calls: calls needed in the window before any rate is judged (<= N).
        open_for: how long to stay OPEN: seconds, a timedelta, or a callable
            ``attempt -> seconds`` (attempt 1 is the first opening, 2 the
            re-opening after failed trials, ...; back to 1 after CLOSED).
        half_open_calls: trial calls admitted in HALF_OPEN; all must finish
            before the breaker decides.
        half_open_max_wait: seconds after which a HALF_OPEN breaker whose
            trials have not all finished goes back to OPEN (None: wait).
        record: exception types or predicates that count as failures;
            other exceptions count as successes. Default: every ``Exception``.
        ignore: exception types or predicates that count as neither (they
            still propagate); checked before ``record``.
        failure_result: a callable judging a *result*: a bool (True = bad), a
            fraction in [0, 1], or a per-row bool mask (True = bad row; the
            share of bad rows is the call's failure weight).
        name: a name for errors, events and logs.
        clock: a zero-argument callable returning seconds.

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

    __slots__ = (
        "__weakref__", "_add", "_attempt", "_backoff", "_clock", "_exc_ignored",
        "_exc_recorded", "_failure_rate", "_failures", "_fast", "_first_open_for", "_gen",
        "_half_open_calls", "_ho_calls", "_ho_failures", "_ho_left", "_ho_running",
        "_ho_slow", "_ho_started", "_ignored", "_judge", "_judged", "_judges_results",
        "_listeners", "_lock", "_max_wait", "_min_calls", "_on_result", "_open_until",
        "_other_calls", "_outcomes", "_rec", "_rejected", "_seq", "_since", "_slow_after",
        "_slow_calls", "_slow_rate", "_stale", "_state", "_window", "name",
    )

    _on_result: Callable[[int, float, float, float], None]
    """Record a finished call: ``(permit, now, duration, failure weight in [0, 1])``."""

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
        record: Any = Exception,
        ignore: Any = (),
        failure_result: Callable[[Any], Any] | None = None,
        name: str = "breaker",
        clock: Clock = MONOTONIC,
    ) -> None:
        self._failure_rate = _rate(failure_rate, "failure_rate")
        self._slow_rate = _rate(slow_call_rate, "slow_call_rate")
        self._slow_after = (
            math.inf if slow_call_duration is None
            else _duration(slow_call_duration, "slow_call_duration")
        )
        self._seq = itertools.count()
        if isinstance(window, TimeWindow):
            self._min_calls = _positive_int(min_calls, "min_calls")
            self._window: CountWindow | BucketWindow = BucketWindow(
                window, min_calls=self._min_calls, failure_rate=self._failure_rate,
                slow_call_rate=self._slow_rate, seq=self._seq)
            self._on_result = self._record_locked
        else:
            size = _positive_int(window, "window", "an int >= 1 (last N calls) or a TimeWindow")
            self._min_calls = _positive_int(min_calls, "min_calls", f"an int in [1, window={size}]")
            if self._min_calls > size:
                raise ConfigurationError("min_calls", f"an int in [1, window={size}]", min_calls)
            self._window = CountWindow(size, min_calls=self._min_calls,
                                       failure_rate=self._failure_rate,
                                       slow_call_rate=self._slow_rate, seq=self._seq)
            self._on_result = self._record_count
        self._add = self._window.add
        self._backoff, self._first_open_for = self._make_backoff(open_for)
        self._half_open_calls = _positive_int(half_open_calls, "half_open_calls")
        self._max_wait = (
            math.inf if half_open_max_wait is None
            else _duration(half_open_max_wait, "half_open_max_wait")
        )
        self._exc_recorded = exception_matcher(record, "record")
        self._exc_ignored = exception_matcher(ignore, "ignore")
        if failure_result is not None and not callable(failure_result):
            raise ConfigurationError(
                "failure_result", "None or a callable result -> bool | fraction | row mask",
                failure_result)
        self._judge = failure_result
        self._judges_results = failure_result is not None
        if not isinstance(name, str) or not name:
            raise ConfigurationError("name", "a non-empty string", name)
        self.name = name
        self._clock = validate_clock(clock)
        self._lock = threading.Lock()
        self._listeners: Listeners[BreakerEvent] = Listeners(f"breaker {name!r}")
        self._outcomes: Listeners[BreakerEvent] = Listeners(f"breaker {name!r}")
        self._other_calls = self._rejected = self._ignored = self._stale = self._slow_calls = 0
        self._failures = 0.0
        self._attempt = 0
        self._open_until = -math.inf
        self._ho_left = self._ho_running = self._ho_calls = self._ho_slow = 0
        self._ho_failures = 0.0
        self._ho_started = 0.0
        self._judged: tuple[int, float, int, int] = (0, 0.0, 0, 1)
        self._gen = 0
        self._state = _CLOSED
        self._fast = self._rec = 0
        self._since = self._clock()

    def _make_backoff(self, open_for: object) -> tuple[Callable[[int], float], float]:
        expected = "seconds >= 0 (a number or timedelta) or a callable attempt -> seconds"
        if callable(open_for) and not isinstance(open_for, timedelta):
            try:
                first = _duration(open_for(1), "open_for(1)", zero=True)
            except ConfigurationError:
                raise
            except Exception as exc:
                raise ConfigurationError("open_for", expected + " (calling it with 1 raised "
                                         f"{exc!r})", open_for) from exc
            return open_for, first
        if isinstance(open_for, bool) or not isinstance(open_for, (int, float, timedelta)):
            raise ConfigurationError("open_for", expected, open_for)
        seconds = _duration(open_for, "open_for", zero=True)
        return (lambda _attempt: seconds), seconds

    # -- reading ---------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        """The current state (changes happen on calls: an OPEN breaker stays OPEN until one)."""
        return self._state

    def _is_open(self) -> bool:
        """Whether calls are being rejected outright (OPEN or FORCED_OPEN); lock-free."""
        state = self._state
        return state is _OPEN or state is _FORCED_OPEN

    @property
    def metrics(self) -> BreakerMetrics:
        """A consistent snapshot of the counters (see :class:`BreakerMetrics`)."""
        now = self._clock()
        with self._lock:
            state = self._state
            if state is _CLOSED or state is _METRICS_ONLY:
                calls, failures, slow = self._window.totals(now)
                minimum = self._min_calls
            elif state is _HALF_OPEN:
                calls, failures, slow, minimum = self._ho_calls, self._ho_failures, self._ho_slow, 1
            elif state is _DISABLED:
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
                retry_at=self._open_until if state is _OPEN else None,
                attempt=self._attempt,
                listener_errors=self._listeners.errors + self._outcomes.errors,
            )

    def __repr__(self) -> str:
        """Show the name and state."""
        return f"CircuitBreaker(name={self.name!r}, state={self._state.value!r})"

    # -- the core the shells and the Guard call ----------------------------------

    def _acquire(self, now: float) -> int:
        """Admit a call and return its permit, or count a rejection and raise CircuitOpenError."""
        permit = self._fast
        if permit >= 0:
            return permit
        return self._acquire_slow(now)

    def _acquire_slow(self, now: float) -> int:
        events: list[BreakerEvent] = []
        retry_at: float | None = None
        with self._lock:
            if self._fast >= 0:
                return self._fast
            state = self._state
            if state is _HALF_OPEN and now - self._ho_started >= self._max_wait:
                events.append(self._open(now, f"half_open_max_wait {self._max_wait:g}s elapsed "
                                              "before every trial finished"))
                state = _OPEN
            if state is _OPEN and now >= self._open_until:
                events.append(self._move(_HALF_OPEN, now, "open_for elapsed"))
                self._ho_started = now
                self._ho_left = self._half_open_calls - 1
                self._ho_running = 1
                self._ho_calls = self._ho_slow = 0
                self._ho_failures = 0.0
                permit = self._gen << 1 | 1
            elif state is _HALF_OPEN and self._ho_left > 0:
                self._ho_left -= 1
                self._ho_running += 1
                return self._gen << 1 | 1
            else:
                self._rejected += 1
                permit = -1
                retry_at = self._open_until if state is _OPEN else None
        self._emit(events)
        if permit >= 0:
            return permit
        if self._outcomes.items:
            self._outcomes.emit(BreakerEvent(kind="rejected", name=self.name, at=now, old=state,
                                             new=state, reason=state.value))
        if state is _OPEN:
            message = f"circuit breaker {self.name!r} is open; retry at t={retry_at:.3f}"
        elif state is _HALF_OPEN:
            message = (f"circuit breaker {self.name!r} is half-open and all "
                       f"{self._half_open_calls} trial calls are taken")
        else:
            message = f"circuit breaker {self.name!r} is forced open"
        raise CircuitOpenError(message, guard=self.name, retry_at=retry_at)

    def _record_count(self, permit: int, now: float, duration: float, failure: float) -> None:
        """``_on_result`` for a count window: a success in CLOSED takes no lock."""
        if permit == self._rec and not failure and duration <= self._slow_after:
            if next(self._seq) == self._window.check_at:  # type: ignore[union-attr]
                self._judge_min_calls(now)
            if self._outcomes.items:
                self._emit_outcome(now, duration, failure)
            return
        self._record_locked(permit, now, duration, failure)

    def _judge_min_calls(self, now: float) -> None:
        """The window just reached min_calls with a success: judge it once."""
        with self._lock:
            window = self._window
            assert isinstance(window, CountWindow)
            event = (
                self._trip(now)
                if self._state is _CLOSED and window.judge(window.check_at) else None
            )
        if event is not None:
            self._emit([event])

    def _record_locked(self, permit: int, now: float, duration: float, failure: float) -> None:
        """``_on_result`` under the lock (time windows; failures, slow calls, trials, stale)."""
        slow = duration > self._slow_after
        with self._lock:
            if permit == self._rec:
                self._failures += failure
                self._slow_calls += slow
                if not self._add(now, failure, slow) or self._state is not _CLOSED:
                    events = None
                else:
                    events = [self._trip(now)]
            else:
                events = self._on_result_slow(permit, now, failure, slow)
        if events:
            self._emit(events)
        if self._outcomes.items:
            self._emit_outcome(now, duration, failure)

    def _emit_outcome(self, now: float, duration: float, failure: float) -> None:
        slow = duration > self._slow_after
        kind = "failure" if failure > 0 else "slow" if slow else "success"
        state = self._state
        self._outcomes.emit(BreakerEvent(kind=kind, name=self.name, at=now, old=state, new=state,
                                         duration=duration, failure=failure, slow=slow))

    def _on_result_slow(self, permit: int, now: float, failure: float,
                        slow: bool) -> list[BreakerEvent] | None:
        if permit >> 1 == self._gen and self._state is _DISABLED:
            return None
        self._other_calls += 1
        self._failures += failure
        self._slow_calls += slow
        if permit >> 1 != self._gen or not permit & 1 or self._state is not _HALF_OPEN:
            self._stale += 1
            return None
        self._ho_running -= 1
        self._ho_calls += 1
        self._ho_failures += failure
        self._ho_slow += slow
        if self._ho_left == 0 and self._ho_running == 0:
            n = self._ho_calls
            if self._ho_failures >= self._failure_rate * n:
                return [self._open(now, f"trial failure_rate {self._ho_failures / n:.3g} >= "
                                        f"{self._failure_rate:g}")]
            if self._ho_slow >= self._slow_rate * n:
                return [self._open(now, f"trial slow_call_rate {self._ho_slow / n:.3g} >= "
                                        f"{self._slow_rate:g}")]
            self._attempt = 0
            self._window.clear()
            return [self._move(_CLOSED, now, f"{n} trial calls passed")]
        if now - self._ho_started >= self._max_wait:
            return [self._open(now, f"half_open_max_wait {self._max_wait:g}s elapsed "
                                    "before every trial finished")]
        return None

    def _on_ignored(self, permit: int) -> None:
        """An ignored outcome (ignored exception, cancellation): frees a trial slot only."""
        with self._lock:
            state = self._state
            current = permit >> 1 == self._gen
            if current and state is _DISABLED:
                return
            self._ignored += 1
            if current and permit & 1 and state is _HALF_OPEN:
                self._ho_running -= 1
                self._ho_left += 1
        if self._outcomes.items:
            self._outcomes.emit(BreakerEvent(kind="ignored", name=self.name, at=self._clock(),
                                             old=state, new=state))

    def _exception_weight(self, exc: BaseException) -> float | None:
        """1.0 if *exc* counts as a failure, 0.0 as a success, None if it is ignored."""
        if not isinstance(exc, Exception) or self._exc_ignored(exc):
            return None
        return 1.0 if self._exc_recorded(exc) else 0.0

    def _result_weight(self, result: object) -> float:
        """The failure weight of *result* by ``failure_result`` (a judge that fails gives 1.0)."""
        judge = self._judge
        if judge is None:
            return 0.0
        try:
            verdict = judge(result)
            if verdict is True or verdict is False:
                return 1.0 if verdict else 0.0
            if isinstance(verdict, (int, float)) and 0 <= verdict <= 1:
                return float(verdict)
            arr = np.asarray(verdict)
            if arr.dtype == np.bool_:
                return float(np.count_nonzero(arr)) / arr.size if arr.size else 0.0
            if arr.ndim == 0 and np.issubdtype(arr.dtype, np.number) and 0 <= arr <= 1:
                return float(arr)
            raise TypeError(f"failure_result returned {verdict!r}")  # noqa: TRY301
        except Exception:
            log_once(f"failure_result:{id(self)}", "aiguard: breaker %r: failure_result "
                     "raised or returned something other than a bool, a fraction in [0, 1] "
                     "or a bool mask; the call counts as a failure", self.name)
            return 1.0

    # -- transitions (called with the lock held) -----------------------------------

    def _move(self, new: BreakerState, now: float, reason: str) -> BreakerEvent:
        old = self._state
        self._gen += 1
        self._state = new
        self._since = now
        if new is _CLOSED or new is _METRICS_ONLY:
            self._fast = self._rec = self._gen << 1
        elif new is _DISABLED:
            self._fast = self._gen << 1
            self._rec = -2
        else:
            self._fast = -1
            self._rec = -2
        return BreakerEvent(kind="transition", name=self.name, at=now, old=old, new=new,
                            reason=reason)

    def _freeze_judged(self) -> None:
        state = self._state
        if state is _HALF_OPEN:
            self._judged = (self._ho_calls, self._ho_failures, self._ho_slow, 1)
        elif state is _CLOSED or state is _METRICS_ONLY:
            self._judged = (*self._window.totals(self._since), self._min_calls)
        elif state is _DISABLED:
            self._judged = (0, 0.0, 0, 1)

    def _trip(self, now: float) -> BreakerEvent:
        calls, failures, slow = self._window.totals(now)
        if failures >= self._failure_rate * calls:
            reason = f"failure_rate {failures / calls:.3g} >= {self._failure_rate:g}"
        else:
            reason = f"slow_call_rate {slow / calls:.3g} >= {self._slow_rate:g}"
        self._judged = (calls, failures, slow, self._min_calls)
        return self._open(now, reason)

    def _open(self, now: float, reason: str) -> BreakerEvent:
        if self._state is _HALF_OPEN:
            self._freeze_judged()
        self._attempt += 1
        try:
            seconds = _duration(self._backoff(self._attempt), "open_for", zero=True)
        except Exception:
            log_once(f"open_for:{id(self)}", "aiguard: breaker %r: open_for(%d) raised or "
                     "returned an invalid duration; using open_for(1)", self.name, self._attempt)
            seconds = self._first_open_for
        self._open_until = now + seconds
        return self._move(_OPEN, now, reason)

    def _manual(self, new: BreakerState, reason: str) -> None:
        now = self._clock()
        with self._lock:
            old = self._state
            if old is new and new is not _CLOSED:
                return
            if new is _FORCED_OPEN:
                self._freeze_judged()
            else:
                self._window.clear()
            if new is _CLOSED:
                self._attempt = 0
            event = self._move(new, now, reason)  # a new generation even for CLOSED -> CLOSED
        if old is not new:
            self._emit([event])

    def _emit(self, events: list[BreakerEvent]) -> None:
        for event in events:
            if self._listeners.items:
                self._listeners.emit(event)
            if self._outcomes.items:
                self._outcomes.emit(event)

    # -- operator controls ---------------------------------------------------

    def force_open(self) -> None:
        """Reject every call until :meth:`reset` (the 3 AM "stop calling it" switch).

        Example:
            >>> b = CircuitBreaker()
            >>> b.force_open(); b.state
            <BreakerState.FORCED_OPEN: 'forced_open'>
        """
        self._manual(_FORCED_OPEN, "force_open()")

    def disable(self) -> None:
        """Admit every call and record nothing until :meth:`reset`.

        Example:
            >>> b = CircuitBreaker()
            >>> b.disable(); b.state
            <BreakerState.DISABLED: 'disabled'>
        """
        self._manual(_DISABLED, "disable()")

    def metrics_only(self) -> None:
        """Admit every call, keep recording, never trip, until :meth:`reset`.

        Example:
            >>> b = CircuitBreaker()
            >>> b.metrics_only(); b.state
            <BreakerState.METRICS_ONLY: 'metrics_only'>
        """
        self._manual(_METRICS_ONLY, "metrics_only()")

    def reset(self) -> None:
        """Back to CLOSED with an empty window and the back-off restarted.

        Example:
            >>> b = CircuitBreaker()
            >>> b.force_open(); b.reset(); b.state
            <BreakerState.CLOSED: 'closed'>
        """
        self._manual(_CLOSED, "reset()")

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

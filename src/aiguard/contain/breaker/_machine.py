"""The circuit breaker's state machine: admission, recording, transitions.

:class:`BreakerCore` is the pure, synchronous core of
:class:`~aiguard.CircuitBreaker` (principle 4): ``admit(now)`` before a call,
``record(permit, now, duration, failure)`` or ``ignore(permit)`` after it
(the stage contract of :mod:`aiguard._core._stage`), with time passed in.
The decorator's shells, the :class:`~aiguard.Guard` and a user's
:class:`~aiguard.BreakerPermit` only call those. A short lock covers
admission and recording; the model call itself runs without any lock.

A permit is an int: ``generation << 1 | trial``. Every state change starts a
new generation, so a result carrying an older generation's permit is counted
in the totals but never judged by the new state. In CLOSED (and the manual
DISABLED / METRICS_ONLY states) admission is one lock-free read of ``_fast``.

HALF_OPEN decides as resilience4j does: once ``min(min_calls,
half_open_calls)`` trials have finished, their failure and slow-call rates
send the breaker back to OPEN or on to CLOSED; trials still running then
belong to an old generation.
"""

from __future__ import annotations

import itertools
import math
import threading
from typing import TYPE_CHECKING

import numpy as np

from aiguard._core._events import Listeners, log_once
from aiguard._core._validate import duration
from aiguard.contain.breaker._values import BreakerEvent, BreakerSettings, BreakerState
from aiguard.contain.breaker._window import BucketWindow, CountWindow, TimeWindow
from aiguard.errors import CircuitOpenError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["BreakerCore"]

_CLOSED = BreakerState.CLOSED
_OPEN = BreakerState.OPEN
_HALF_OPEN = BreakerState.HALF_OPEN
_FORCED_OPEN = BreakerState.FORCED_OPEN
_DISABLED = BreakerState.DISABLED
_METRICS_ONLY = BreakerState.METRICS_ONLY


def _weight_of(verdict: object) -> float | None:
    """A ``failure_result`` verdict as a failure weight in [0, 1], or None if unusable."""
    if verdict is True or verdict is False:
        return 1.0 if verdict else 0.0
    if isinstance(verdict, (int, float)) and 0 <= verdict <= 1:
        return float(verdict)
    arr = np.asarray(verdict)
    if arr.dtype == np.bool_:
        return float(np.count_nonzero(arr)) / arr.size if arr.size else 0.0
    if arr.ndim == 0 and np.issubdtype(arr.dtype, np.number) and 0 <= arr <= 1:
        return float(arr)
    return None


class BreakerCore:
    """The breaker's state machine; :class:`~aiguard.CircuitBreaker` adds the API around it."""

    __slots__ = (
        "__weakref__", "_add", "_attempt", "_backoff", "_clock", "_exc_ignored",
        "_exc_recorded", "_failure_rate", "_failures", "_fast", "_first_open_for", "_gen",
        "_half_open_calls", "_ho_calls", "_ho_failures", "_ho_left", "_ho_needed",
        "_ho_running", "_ho_slow", "_ho_started", "_ignored", "_judge", "_judged",
        "_listeners", "_lock", "_max_wait", "_min_calls", "_open_until",
        "_other_calls", "_outcomes", "_rec", "_rejected", "_seq", "_since", "_slow_after",
        "_slow_calls", "_slow_rate", "_stale", "_state", "_window", "clock", "judges_results",
        "name", "record",
    )

    record: Callable[[int, float, float, float], None]
    """Report an admitted call's outcome: ``(permit, now, duration, failure weight in [0, 1])``.

    The stage contract's ``record``, picked at construction for the window
    kind (a count window records a CLOSED success without a lock). Call it
    exactly once per permit, or :meth:`ignore`.
    """

    def __init__(self, settings: BreakerSettings) -> None:
        s = settings
        self._failure_rate = s.failure_rate
        self._slow_rate = s.slow_rate
        self._slow_after = s.slow_after
        self._min_calls = s.min_calls
        self._seq = itertools.count()
        if isinstance(s.window, TimeWindow):
            self._window: CountWindow | BucketWindow = BucketWindow(
                s.window, min_calls=s.min_calls, failure_rate=s.failure_rate,
                slow_call_rate=s.slow_rate, seq=self._seq)
            self.record = self._record_locked
        else:
            self._window = CountWindow(
                s.window, min_calls=s.min_calls, failure_rate=s.failure_rate,
                slow_call_rate=s.slow_rate, seq=self._seq)
            self.record = self._record_count
        self._add = self._window.add
        self._backoff, self._first_open_for = s.backoff, s.first_open_for
        self._half_open_calls = s.half_open_calls
        self._ho_needed = min(s.min_calls, s.half_open_calls)
        self._max_wait = s.max_wait
        self._exc_recorded, self._exc_ignored = s.exc_recorded, s.exc_ignored
        self._judge = s.judge
        self.judges_results = s.judge is not None
        self.name = s.name
        self._clock = self.clock = s.clock
        self._lock = threading.Lock()
        self._listeners: Listeners[BreakerEvent] = Listeners(f"breaker {s.name!r}")
        self._outcomes: Listeners[BreakerEvent] = Listeners(f"breaker {s.name!r}")
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

    # -- the stage contract (aiguard._core._stage.Stage) ------------------------------

    def admit(self, now: float) -> int:
        """Admit a call at *now* and return its permit, or count a rejection and raise.

        The low-level stage contract the Guard and the decorators use; for your
        own code prefer :meth:`CircuitBreaker.acquire`. Exactly one of
        :meth:`record` / :meth:`ignore` must follow with the permit.

        Raises:
            CircuitOpenError: the breaker is OPEN, FORCED_OPEN, or HALF_OPEN
                with every trial taken.
        """
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
        """``record`` for a count window: a success in CLOSED takes no lock."""
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
        """``record`` under the lock (time windows; failures, slow calls, trials, stale)."""
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
                        slow: int) -> list[BreakerEvent] | None:
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
        if self._ho_calls >= self._ho_needed:
            return [self._judge_trials(now)]
        if now - self._ho_started >= self._max_wait:
            return [self._open(now, f"half_open_max_wait {self._max_wait:g}s elapsed "
                                    "before every trial finished")]
        return None

    def _judge_trials(self, now: float) -> BreakerEvent:
        """Enough trials finished (min(min_calls, half_open_calls)): OPEN again or CLOSED."""
        n = self._ho_calls
        if self._ho_failures >= self._failure_rate * n:
            return self._open(now, f"trial failure_rate {self._ho_failures / n:.3g} >= "
                                   f"{self._failure_rate:g}")
        if self._ho_slow >= self._slow_rate * n:
            return self._open(now, f"trial slow_call_rate {self._ho_slow / n:.3g} >= "
                                   f"{self._slow_rate:g}")
        self._attempt = 0
        self._window.clear()
        return self._move(_CLOSED, now, f"{n} trial calls passed")

    def ignore(self, permit: int) -> None:
        """Report that the admitted call ended without an outcome (frees a trial slot only).

        An ignored exception or a cancelled task: neither a success nor a failure.
        """
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

    def exception_weight(self, exc: BaseException) -> float | None:
        """The failure weight of a raised *exc*: 1.0 (``record``), 0.0, or None (ignored).

        ``ignore`` is checked first; non-``Exception`` errors (cancellation,
        ``KeyboardInterrupt``) are always ignored.

        Example:
            >>> from aiguard import CircuitBreaker
            >>> b = CircuitBreaker(record=ConnectionError, ignore=KeyError)
            >>> b.exception_weight(ConnectionError()), b.exception_weight(ValueError())
            (1.0, 0.0)
            >>> b.exception_weight(KeyError()) is None
            True
        """
        if not isinstance(exc, Exception) or self._exc_ignored(exc):
            return None
        return 1.0 if self._exc_recorded(exc) else 0.0

    def result_weight(self, result: object) -> float:
        """The failure weight of a returned *result* by ``failure_result`` (0.0 without one).

        A judge that raises or returns something unusable gives 1.0 (logged once).

        Example:
            >>> from aiguard import CircuitBreaker
            >>> CircuitBreaker(failure_result=lambda rows: [r < 0 for r in rows]).result_weight(
            ...     [1, -1, 2, -3])
            0.5
        """
        judge = self._judge
        if judge is None:
            return 0.0
        try:
            weight = _weight_of(judge(result))
        except Exception:
            weight = None
        if weight is None:
            log_once("failure_result", "aiguard: breaker %r: failure_result "
                     "raised or returned something other than a bool, a fraction in [0, 1] "
                     "or a bool mask; the call counts as a failure", self.name, owner=self)
            return 1.0
        return weight

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
            seconds = duration(self._backoff(self._attempt), "open_for", zero=True)
        except Exception:
            log_once("open_for", "aiguard: breaker %r: open_for(%d) raised or "
                     "returned an invalid duration; using open_for(1)", self.name,
                     self._attempt, owner=self)
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

"""Sliding windows of call outcomes for the circuit breaker.

Two windows share one small interface: ``add(now, failure, slow)`` (slow: 1 or 0, or a bool) records
one call and returns whether the thresholds are reached (with at least
``min_calls`` calls in the window), ``totals(now)`` returns ``(calls,
failures, slow_calls)`` and ``clear()`` empties the window. Both are O(1) per
call and are only touched under the breaker's lock (except the count
window's lock-free success path).

- :class:`CountWindow` keeps the last *N* calls: every call draws an index
  from an atomic counter, so a success costs no lock; only failures and slow
  calls are stored, with running sums.
- :class:`BucketWindow` (behind :class:`TimeWindow`) keeps per-bucket sums for
  ``buckets`` equal slices of ``seconds``. A call recorded at time *t* falls in
  bucket ``floor(t / width)`` and is counted while that bucket is one of the
  last ``buckets`` ones, i.e. until it is between ``seconds - width`` and
  ``seconds`` old (``width = seconds / buckets``).
"""

from __future__ import annotations

import itertools  # noqa: TC003 - used at run time by the slots' owners
import math
from collections import deque

import attrs

from aiguard._core._counter import peek
from aiguard._core._validate import count, duration
from aiguard.errors import ConfigurationError

__all__ = ["BucketWindow", "CountWindow", "TimeWindow", "peek"]


def _window_seconds(value: object) -> float:
    return duration(value, "seconds")


def _buckets(value: object) -> int | None:
    if value is None:
        return None
    try:
        return count(value, "buckets")
    except ConfigurationError:
        raise ConfigurationError("buckets", "None or an int >= 1", value) from None


@attrs.frozen
class TimeWindow:
    """A time-based sliding window: judge the calls of the last ``seconds``.

    Calls are summed per bucket; ``buckets`` equal buckets span ``seconds``
    (default: one per second like resilience4j, at least 10 and at most 600).
    A call counts until it is between ``seconds - seconds / buckets`` and
    ``seconds`` old.

    Args:
        seconds: the window's length, a number > 0 or a ``timedelta``.
        buckets: how many buckets (the resolution); ``None`` picks
            ``clip(ceil(seconds), 10, 600)``.

    Example:
        >>> TimeWindow(seconds=60).resolved_buckets
        60
        >>> TimeWindow(seconds=0.5).resolved_buckets
        10
        >>> TimeWindow(seconds=0)
        Traceback (most recent call last):
        ...
        aiguard.errors.ConfigurationError: seconds must be a finite number of seconds > 0 \
(or a timedelta), got 0
    """

    seconds: float = attrs.field(converter=_window_seconds)
    buckets: int | None = attrs.field(default=None, converter=_buckets, kw_only=True)

    @property
    def resolved_buckets(self) -> int:
        """The number of buckets actually used."""
        if self.buckets is not None:
            return self.buckets
        return min(max(math.ceil(self.seconds), 10), 600)


class CountWindow:
    """The last ``size`` calls, judged by their order of completion.

    Every recorded call draws the next index from the shared counter ``seq``
    (``next()`` on :func:`itertools.count` is atomic, so successes need no
    lock); only failures and slow calls are stored, as ``(index, failure,
    slow)`` in index order, with running sums. The window holds the calls
    with index in ``(latest - size, latest]`` drawn since the last
    :meth:`clear`. ``check_at`` is the index at which the window first holds
    ``min_calls`` calls: a success drawing it must be judged (the rates can
    only fall on any other success). The running sums are recomputed from the
    stored entries once per ``size`` expirations, so rounding never accumulates.

    Example:
        >>> import itertools
        >>> w = CountWindow(4, min_calls=2, failure_rate=0.5, slow_call_rate=1.0,
        ...                 seq=itertools.count())
        >>> next(w.seq) == w.check_at, w.add(0.0, 1.0, False)   # a success, then a failure
        (False, True)
        >>> w.totals(0.0)
        (2, 1.0, 0)
    """

    __slots__ = ("_bad", "_base", "_expired", "_failure_rate", "_min", "_size", "_slow_rate",
                 "check_at", "failures", "seq", "slow")

    def __init__(self, size: int, *, min_calls: int, failure_rate: float,
                 slow_call_rate: float, seq: itertools.count[int]) -> None:
        self._size = size
        self._min = min_calls
        self._failure_rate = failure_rate
        self._slow_rate = slow_call_rate
        self.seq = seq
        self._bad: deque[tuple[int, float, int]] = deque()
        self._base = 0
        self._expired = 0
        self.check_at = 0
        self.failures = 0.0
        self.slow = 0
        self.clear()

    def add(self, now: float, failure: float, slow: int) -> bool:
        """Record one call (call with the lock held); return whether a threshold is reached."""
        del now
        i = next(self.seq)
        if failure or slow:
            # Indices of failures are drawn under the lock, so the deque stays sorted.
            self._bad.append((i, failure, int(slow)))
            self.failures += failure
            self.slow += slow
        return self.judge(i)

    def judge(self, latest: int) -> bool:
        """Expire what *latest* pushed out; return whether a threshold is reached (locked)."""
        bad = self._bad
        cutoff = latest - self._size
        while bad and bad[0][0] <= cutoff:
            _, failure, slow = bad.popleft()
            self.failures -= failure
            self.slow -= slow
            self._expired += 1
            if self._expired >= self._size:
                self._expired = 0
                self.failures = sum(entry[1] for entry in bad)
        n = min(latest - self._base + 1, self._size)
        return n >= self._min and (
            self.failures >= self._failure_rate * n or self.slow >= self._slow_rate * n
        )

    def totals(self, now: float) -> tuple[int, float, int]:
        """Return ``(calls, failures, slow_calls)`` in the window (call with the lock held)."""
        del now
        latest = peek(self.seq) - 1
        self.judge(latest)
        return max(min(latest - self._base + 1, self._size), 0), max(self.failures, 0.0), self.slow

    def clear(self) -> None:
        """Empty the window: calls drawn from now on start a new one."""
        self._base = peek(self.seq)
        self.check_at = self._base + self._min - 1
        self._bad.clear()
        self._expired = 0
        self.failures = 0.0
        self.slow = 0


class BucketWindow:
    """The calls of the last ``seconds``, summed per bucket (see :class:`TimeWindow`).

    Example:
        >>> import itertools
        >>> w = BucketWindow(TimeWindow(seconds=10, buckets=10), min_calls=1,
        ...                  failure_rate=0.5, slow_call_rate=1.0, seq=itertools.count())
        >>> w.add(0.0, 0.0, False), w.add(5.0, 1.0, False)
        (False, True)
        >>> w.totals(5.0), w.totals(10.5)
        ((2, 1.0, 0), (1, 1.0, 0))
    """

    __slots__ = ("_calls", "_failure_rate", "_failures", "_head", "_min", "_n", "_slow",
                 "_slow_rate", "_width", "calls", "failures", "seq", "slow")

    def __init__(self, window: TimeWindow, *, min_calls: int, failure_rate: float,
                 slow_call_rate: float, seq: itertools.count[int]) -> None:
        self.seq = seq
        self._n = window.resolved_buckets
        self._width = window.seconds / self._n
        self._min = min_calls
        self._failure_rate = failure_rate
        self._slow_rate = slow_call_rate
        self._head: int | None = None
        self.clear()

    def _advance(self, now: float) -> int:
        """Expire the buckets that left the window by *now*; return the current slot."""
        current = math.floor(now / self._width)
        head = self._head
        n = self._n
        if head is None or current - head >= n:
            self._calls = [0] * n
            self._failures = [0.0] * n
            self._slow = [0] * n
        elif current > head:
            for b in range(head + 1, current + 1):
                j = b % n
                self._calls[j] = 0
                self._failures[j] = 0.0
                self._slow[j] = 0
        else:
            return head % n  # same bucket (or a clock that went back: keep the newest)
        self._head = current
        self.calls = sum(self._calls)
        self.failures = sum(self._failures)
        self.slow = sum(self._slow)
        return current % n

    def add(self, now: float, failure: float, slow: int) -> bool:
        """Record one call at *now*; return True if a threshold is reached with >= min_calls."""
        next(self.seq)
        j = self._advance(now)
        self._calls[j] += 1
        self._failures[j] += failure
        self._slow[j] += slow
        n = self.calls = self.calls + 1
        self.failures += failure
        self.slow += slow
        return n >= self._min and (
            self.failures >= self._failure_rate * n or self.slow >= self._slow_rate * n
        )

    def totals(self, now: float) -> tuple[int, float, int]:
        """Return ``(calls, failures, slow_calls)`` in the window as of *now*."""
        self._advance(now)
        return self.calls, max(self.failures, 0.0), self.slow

    def clear(self) -> None:
        """Empty the window."""
        n = self._n
        self._calls = [0] * n
        self._failures = [0.0] * n
        self._slow = [0] * n
        self._head = None
        self.calls = 0
        self.failures = 0.0
        self.slow = 0

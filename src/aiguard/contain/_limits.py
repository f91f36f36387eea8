"""Reduce load on the model: :class:`RateLimit` (how often), and :class:`Bulkhead` re-exported.

:class:`Bulkhead` (how many at once) lives in ``_bulkhead.py``.

Both are tiny thread-safe state machines with a sync and an async shell. They
implement the stage contract of :mod:`aiguard._core._stage` (``admit`` /
``record`` / ``ignore``; the bulkhead also ``try_admit`` / ``aadmit``), which
their own decorators and the :class:`~aiguard.Guard` call.
"""

from __future__ import annotations

import functools
import inspect
import math
import threading
from typing import TYPE_CHECKING, Any, TypeVar

from typing_extensions import ParamSpec

from aiguard._core._clock import MONOTONIC, validate_clock
from aiguard._core._stage import DENIED
from aiguard._core._validate import duration, real
from aiguard.contain._bulkhead import Bulkhead
from aiguard.errors import RateLimitedError

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import timedelta

    from aiguard.typing import Clock

__all__ = ["Bulkhead", "RateLimit"]

P = ParamSpec("P")
R = TypeVar("R")


class RateLimit:
    """A token bucket: at most ``rate`` calls per ``per`` seconds, bursts up to ``burst``.

    The bucket starts full with ``burst`` tokens (default: ``max(rate, 1)``)
    and refills continuously at ``rate / per`` tokens a second; each admitted
    call takes one token. A call that finds less than one token is shed: the
    decorator raises :class:`~aiguard.RateLimitedError` whose ``retry_at`` is
    the clock time when the next token is available; a :class:`~aiguard.Guard`
    serves its fallback instead (``reason="rate_limited"``).

    Implemented as the equivalent GCRA ("virtual scheduling") form: one float,
    the time at which the bucket would be full again, updated under a lock in a
    few arithmetic operations, so one check costs well under a microsecond.

    Args:
        rate: calls admitted per ``per`` seconds, > 0.
        per: the period of ``rate`` in seconds (> 0, or a timedelta); default 1.
        burst: bucket capacity, >= 1: how many calls may pass at once after a
            quiet spell. Default ``max(rate, 1)``, and then it follows the rate
            when :meth:`set_rate` changes it.
        clock: the clock (``aiguard.testing.FakeClock`` in tests).

    Raises:
        ConfigurationError: a parameter is invalid.

    Example:
        >>> import aiguard as ag
        >>> from aiguard.testing import FakeClock
        >>> clock = FakeClock()
        >>> limit = ag.RateLimit(2, per=1.0, clock=clock)
        >>> @limit
        ... def predict(x):
        ...     return x * 2
        >>> predict(1), predict(2)
        (2, 4)
        >>> try:
        ...     predict(3)
        ... except ag.RateLimitedError as exc:
        ...     print("shed; next token at", exc.retry_at)
        shed; next token at 0.5
        >>> _ = clock.advance(0.5)
        >>> predict(3)
        6
    """

    __slots__ = ("_configured", "_interval", "_lock", "_tat", "_tolerance", "burst", "clock",
                 "per", "rate")

    def __init__(
        self,
        rate: float,
        *,
        per: float | timedelta = 1.0,
        burst: float | None = None,
        clock: Clock = MONOTONIC,
    ) -> None:
        self.rate = real(rate, "rate", low=0.0, low_open=True, expected="a finite number > 0")
        self.per = duration(per, "per")
        self.burst = max(self.rate, 1.0) if burst is None else real(
            burst, "burst", low=1.0, expected="a finite number >= 1")
        # what set_rate works from: the configured rate, and the burst if one was given
        self._configured = (self.rate, None if burst is None else self.burst)
        self.clock = validate_clock(clock)
        # GCRA: a call is admitted when tat - now <= tolerance; each call moves
        # tat one interval on. tat = -inf means "full bucket".
        self._interval = self.per / self.rate
        self._tolerance = (self.burst - 1.0) * self._interval
        self._tat = -math.inf
        self._lock = threading.Lock()

    def admit(self, now: float) -> int:
        """Take a token if one is available at *now*: permit 0, else ``DENIED`` (-1).

        The stage contract (thread-safe); the decorator and the Guard call it.

        Example:
            >>> limit = RateLimit(1, clock=lambda: 0.0)
            >>> limit.admit(0.0), limit.admit(0.0)
            (0, -1)
        """
        # acquire/finally rather than ``with``: measurably cheaper on the hot path
        lock = self._lock
        lock.acquire()
        try:
            tat = self._tat
            if tat < now:  # noqa: PLR1730 - cheaper than a call to max() on the hot path
                tat = now
            ahead = tat - now
            if ahead <= self._tolerance or self._rounding(ahead, now):
                self._tat = tat + self._interval
                return 0
            return DENIED
        finally:
            lock.release()

    def _rounding(self, ahead: float, now: float) -> bool:
        """Whether *ahead* is over the tolerance by no more than float rounding.

        ``tat`` grows by one interval per admitted call, and each addition
        rounds at the scale of the clock's reading: after ``k`` calls at one
        instant it may be ``k`` half-ulps past its exact value, so that
        ``RateLimit(100)`` read at ``now=0`` would admit 99 calls and
        ``RateLimit(10)`` at ``now=10_000`` 9. The slack allowed here is a few
        half-ulps per token of the burst (twice the worst case), capped at half
        an interval, so it never lets a call through a token early on a clock
        that float64 resolves: a monotonic or ``perf_counter`` reading (seconds
        since boot). On an epoch clock (about 1.7e9) at thousands of calls a
        second, float64 itself cannot place the tokens to better than a
        fraction of an interval. Only the refusing path pays for the check.
        """
        scale = abs(now) + self._tolerance + self._interval
        slack = min((self.burst + 2.0) * 2.3e-16 * scale, 0.5 * self._interval)
        return ahead - self._tolerance <= slack

    def set_rate(self, rate: float) -> None:
        """Change the rate (load shedding, and restoring it); the burst follows from the rate.

        The new burst depends only on the new rate and the configuration,
        never on earlier ``set_rate`` calls, so restoring the configured rate
        restores the configured burst:

        * a burst left to its default follows the rate: ``max(rate, 1)``;
        * a burst given explicitly is kept, except below the configured rate
          (shedding), where it is capped at ``max(rate, 1)`` so that a quiet
          spell cannot let more than one period's calls through at once.

        The bucket's state (when it is full again) is kept: a bucket that was
        full is full at the new burst.

        Raises:
            ConfigurationError: *rate* is not a finite number > 0 (the limit
                is left as it was).

        Example:
            >>> limit = RateLimit(100)
            >>> limit.set_rate(10); limit
            RateLimit(10, per=1, burst=10)
            >>> limit.set_rate(100); limit            # the default burst follows the rate
            RateLimit(100, per=1, burst=100)
            >>> limit = RateLimit(100, burst=20)
            >>> limit.set_rate(10); limit             # shedding caps an explicit burst
            RateLimit(10, per=1, burst=10)
            >>> limit.set_rate(1000); limit           # and restoring gives it back, no more
            RateLimit(1000, per=1, burst=20)
        """
        number = real(rate, "rate", low=0.0, low_open=True, expected="a finite number > 0")
        configured_rate, configured_burst = self._configured
        ceiling = max(number, 1.0)
        if configured_burst is None:
            burst = ceiling
        elif number < configured_rate:
            burst = min(configured_burst, ceiling)
        else:
            burst = configured_burst
        with self._lock:
            self.rate = number
            self.burst = burst
            self._interval = self.per / number
            self._tolerance = (burst - 1.0) * self._interval

    def record(self, permit: int, now: float, duration: float, failure: float) -> None:
        """Nothing to do: a token is spent when taken, whatever the outcome (stage contract)."""

    def ignore(self, permit: int) -> None:
        """Nothing to do (stage contract): tokens are not given back."""

    def retry_at(self, now: float) -> float:
        """The clock time at which the next token is available (*now* if one is).

        Example:
            >>> limit = RateLimit(2, clock=lambda: 0.0)
            >>> limit.retry_at(0.0), limit.admit(0.0), limit.admit(0.0), limit.retry_at(0.0)
            (0.0, 0, 0, 0.5)
        """
        at = self._tat - self._tolerance
        return max(now, at)

    @property
    def tokens(self) -> float:
        """Tokens in the bucket now (fractional): ``burst`` when full, below 1 when shedding."""
        now = self.clock()
        return min(self.burst, self.burst - (self._tat - now) / self._interval)

    def _rejected(self, now: float) -> RateLimitedError:
        retry_at = self.retry_at(now)
        return RateLimitedError(
            f"rate limit of {self.rate:g} per {self.per:g} s reached; "
            f"next token at {retry_at:.6g}",
            retry_at=retry_at,
        )

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Decorate a sync or ``async def`` function: shed calls over the rate."""
        admit, clock, rejected = self.admit, self.clock, self._rejected
        if inspect.iscoroutinefunction(fn):

            async def async_shell(*args: Any, **kwargs: Any) -> Any:
                now = clock()
                if admit(now) < 0:
                    raise rejected(now)
                return await fn(*args, **kwargs)

            return functools.wraps(fn)(async_shell)  # type: ignore[return-value]

        def shell(*args: P.args, **kwargs: P.kwargs) -> R:
            now = clock()
            if admit(now) < 0:
                raise rejected(now)
            return fn(*args, **kwargs)

        return functools.wraps(fn)(shell)

    def __repr__(self) -> str:
        """Show the configuration."""
        return f"RateLimit({self.rate:g}, per={self.per:g}, burst={self.burst:g})"

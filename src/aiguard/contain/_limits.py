"""Reduce load on the model: :class:`RateLimit` (how often), :class:`Bulkhead` (how many at once).

Both are tiny thread-safe state machines with a sync and an async shell. They
implement the stage contract of :mod:`aiguard._core._stage` (``admit`` /
``record`` / ``ignore``; the bulkhead also ``try_admit`` / ``aadmit``), which
their own decorators and the :class:`~aiguard.Guard` call.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import inspect
import math
import threading
from typing import TYPE_CHECKING, Any, TypeVar

from typing_extensions import ParamSpec

from aiguard._core._clock import MONOTONIC, validate_clock
from aiguard._core._stage import DENIED
from aiguard._core._validate import count, duration, real
from aiguard.errors import BulkheadFullError, RateLimitedError

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


class _Waiter:
    """One caller queued for a bulkhead slot; ``granted`` is decided under the bulkhead lock."""

    __slots__ = ("gone", "granted", "wake")

    def __init__(self, wake: Callable[[], None]) -> None:
        self.wake = wake
        self.granted = False
        self.gone = False


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Bulkhead:
    """Cap how many model calls run at once, across threads and asyncio tasks.

    A call that finds all ``max_concurrent`` slots taken waits up to
    ``max_wait`` seconds for one (threads block, tasks ``await`` without
    blocking the event loop); if none frees in time it is refused: the
    decorator raises :class:`~aiguard.BulkheadFullError`, a
    :class:`~aiguard.Guard` serves its fallback (``reason="bulkhead_full"``).

    One bulkhead may be shared by sync and ``async`` functions: the count is
    shared. A freed slot goes to the oldest waiter unless a newcomer takes it
    in the instant between (the fast path takes no lock, so strict
    first-come-first-served is not promised). Waiting uses real time (it is
    bounded by the model's own speed), so ``max_wait`` takes no clock.

    The free slots are tokens in a :class:`collections.deque`, whose ``pop``
    and ``append`` are atomic: entering and leaving without contention take
    no lock at all; only waiting does.

    Args:
        max_concurrent: the most calls inside at once, >= 1.
        max_wait: how long a caller may wait for a slot, seconds >= 0 (or a
            timedelta); 0 (the default) refuses at once.

    Attributes:
        max_concurrent: the cap.
        max_wait: the longest wait in seconds.

    Raises:
        ConfigurationError: a parameter is invalid.

    Example:
        >>> import aiguard as ag
        >>> pool = ag.Bulkhead(2)
        >>> @pool
        ... def predict(x):
        ...     return pool.active
        >>> predict(1)  # one call inside: this one
        1
        >>> pool.try_admit(0.0), pool.try_admit(0.0), pool.try_admit(0.0)
        (0, 0, -1)
        >>> try:
        ...     predict(1)
        ... except ag.BulkheadFullError as exc:
        ...     print(exc)
        bulkhead full: 2 of 2 calls running
    """

    __slots__ = ("_lock", "_tokens", "_waiters", "max_concurrent", "max_wait")

    def __init__(self, max_concurrent: int, *, max_wait: float | timedelta = 0.0) -> None:
        self.max_concurrent = count(max_concurrent, "max_concurrent")
        self.max_wait = duration(max_wait, "max_wait", zero=True)
        self._tokens: collections.deque[None] = collections.deque([None] * self.max_concurrent)
        self._lock = threading.Lock()
        self._waiters: collections.deque[_Waiter] = collections.deque()

    @property
    def active(self) -> int:
        """How many calls hold a slot now."""
        return self.max_concurrent - len(self._tokens)

    @property
    def waiting(self) -> int:
        """How many callers are queued for a slot now."""
        with self._lock:
            return sum(not w.gone for w in self._waiters)

    # -- the stage contract (aiguard._core._stage.WaitingStage) ------------------

    def try_admit(self, now: float) -> int:  # noqa: ARG002 - Stage signature
        """Take a slot if one is free, never waiting (lock-free): permit 0, or ``DENIED``."""
        try:
            self._tokens.pop()
        except IndexError:
            return DENIED
        return 0

    def admit(self, now: float) -> int:  # noqa: ARG002 - Stage signature
        """Take a slot, blocking this thread up to ``max_wait``: permit 0, or ``DENIED``."""
        try:
            self._tokens.pop()
        except IndexError:
            return 0 if self._wait() else DENIED
        return 0

    async def aadmit(self, now: float) -> int:  # noqa: ARG002 - Stage signature
        """Take a slot, awaiting up to ``max_wait`` without blocking the loop: 0 or ``DENIED``."""
        return 0 if await self._aenter() else DENIED

    def record(
        self, permit: int, now: float, duration: float, failure: float  # noqa: ARG002 - Stage
    ) -> None:
        """The call is over: give its slot back (the outcome does not matter here)."""
        self.ignore(permit)

    def ignore(self, permit: int) -> None:  # noqa: ARG002 - Stage signature
        """Give the slot back; if callers are waiting, hand it to the oldest."""
        self._tokens.append(None)
        if self._waiters:
            self._hand_off()

    def _try_enter(self) -> bool:
        try:
            self._tokens.pop()
        except IndexError:
            return False
        return True

    def _leave(self) -> None:
        self._tokens.append(None)
        if self._waiters:
            self._hand_off()

    def _hand_off(self) -> None:
        # A waiter registers and re-checks the tokens under this lock, and a
        # leaver returns its token *before* looking for waiters, so a waiter
        # either finds the token itself or is seen here: no lost wake-up.
        with self._lock:
            waiters, tokens = self._waiters, self._tokens
            while waiters:
                waiter = waiters.popleft()
                if waiter.gone:
                    continue
                try:
                    tokens.pop()
                except IndexError:  # a newcomer took the slot first
                    waiters.appendleft(waiter)
                    return
                waiter.granted = True
                waiter.wake()

    def _queue(self, wake: Callable[[], None]) -> _Waiter | None:
        """Take a free slot (None) or queue a waiter, atomically."""
        with self._lock:
            try:
                self._tokens.pop()
            except IndexError:
                waiter = _Waiter(wake)
                self._waiters.append(waiter)
                return waiter
            return None

    def _give_up(self, waiter: _Waiter) -> bool:
        """After a wait: True if the slot was granted meanwhile, else leave the queue."""
        with self._lock:
            if waiter.granted:
                return True
            waiter.gone = True
            return False

    def _enter(self) -> bool:
        """Take a slot, blocking this thread up to ``max_wait`` for one."""
        return self._try_enter() or self._wait()

    def _wait(self) -> bool:
        """No free slot was found: wait up to ``max_wait`` for one."""
        if not self.max_wait:
            return False
        signal = threading.Lock()
        signal.acquire()
        waiter = self._queue(signal.release)
        if waiter is None:
            return True
        signal.acquire(timeout=self.max_wait)
        return self._give_up(waiter)

    async def _aenter(self) -> bool:
        """Take a slot, awaiting up to ``max_wait`` for one without blocking the loop."""
        if self._try_enter():
            return True
        if not self.max_wait:
            return False
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            # _leave may run in another thread: hop onto this task's loop.
            with contextlib.suppress(RuntimeError):  # a closed loop: the waiter is gone
                loop.call_soon_threadsafe(_resolve, future)

        waiter = self._queue(wake)
        if waiter is None:
            return True
        try:
            await asyncio.wait_for(asyncio.shield(future), self.max_wait)
        except asyncio.TimeoutError:
            pass
        except asyncio.CancelledError:
            if self._give_up(waiter):
                self._leave()  # granted while being cancelled: pass the slot on
            raise
        return self._give_up(waiter)

    def _full(self) -> BulkheadFullError:
        return BulkheadFullError(
            f"bulkhead full: {self.active} of {self.max_concurrent} calls running"
        )

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Decorate a sync or ``async def`` function: refuse calls over the cap."""
        leave, full = self._leave, self._full
        if inspect.iscoroutinefunction(fn):
            aenter = self._aenter

            async def async_shell(*args: Any, **kwargs: Any) -> Any:
                if not await aenter():
                    raise full()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    leave()

            return functools.wraps(fn)(async_shell)  # type: ignore[return-value]
        enter = self._enter

        def shell(*args: P.args, **kwargs: P.kwargs) -> R:
            if not enter():
                raise full()
            try:
                return fn(*args, **kwargs)
            finally:
                leave()

        return functools.wraps(fn)(shell)

    def __repr__(self) -> str:
        """Show the configuration and the slots in use."""
        return (
            f"Bulkhead({self.max_concurrent}, max_wait={self.max_wait:g}, "
            f"active={self.active})"
        )

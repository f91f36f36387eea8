"""Reduce load on the model: :class:`Bulkhead`, how many calls run at once.

A tiny thread-safe state machine with a sync and an async shell. It
implements the stage contract of :mod:`aiguard._core._stage` (``admit`` /
``record`` / ``ignore``, and ``try_admit`` / ``aadmit``), which its own
decorator and the :class:`~aiguard.Guard` call. Its twin for how often is
:class:`~aiguard.RateLimit` (``_limits.py``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import inspect
import threading
from typing import TYPE_CHECKING, Any, TypeVar

from typing_extensions import ParamSpec

from aiguard._core._stage import DENIED
from aiguard._core._validate import count, duration
from aiguard.errors import BulkheadFullError

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import timedelta

__all__ = ["Bulkhead"]

P = ParamSpec("P")
R = TypeVar("R")


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

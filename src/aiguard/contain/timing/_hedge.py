"""Hedged requests: when the model is slow to answer, ask again and take the first answer."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from typing import TYPE_CHECKING, Any, TypeVar

from aiguard._core._validate import count, duration
from aiguard.contain.timing._base import Pooled

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from datetime import timedelta

__all__ = ["Hedge", "hedge"]

R = TypeVar("R")

_FIRST = concurrent.futures.FIRST_COMPLETED
_FuturesTimeout = concurrent.futures.TimeoutError


class Hedge(Pooled):
    """Start extra requests when the first is slow; the first success wins.

    Extra request ``k`` (1 to ``max_extra``) starts ``k * after`` seconds after
    the first if no request has succeeded by then. The first successful
    answer is returned; the requests still running are cancelled (``async``)
    or abandoned on the worker pool (sync: Python cannot stop a thread; they
    are counted in :attr:`abandoned`). A failure never starts an extra request
    (retrying is :func:`~aiguard.retry`'s job, under a budget); when every
    started request has failed, the *first* request's error is raised, since
    that is what the caller would have seen without hedging.

    Sync calls run on a small pool of daemon threads owned by this object
    (created lazily, at most ``max_workers``), the caller waiting on them.

    Build it with :func:`hedge`.

    Attributes:
        after: seconds to wait before each extra request.
        max_extra: the most extra requests per call.
        hedged: how many extra requests were started (ever).
    """

    __slots__ = ("after", "hedged", "max_extra")

    _thread_name = "aiguard-hedge"

    def __init__(self, after: float, *, max_extra: int = 1, max_workers: int = 32) -> None:
        super().__init__(max_workers)
        self.after = after
        self.max_extra = max_extra
        self.hedged = 0

    @property
    def abandoned(self) -> int:
        """How many slower sync requests were still running when the call returned."""
        return 0 if self._pool is None else self._pool.abandoned

    def _wait(self, started: int, start: float, now: float) -> float | None:
        """Seconds until extra request ``started + 1`` is due (None: all have started)."""
        if started < self.max_extra:
            return max(0.0, start + (started + 1) * self.after - now)
        return None

    def _count_hedge(self, started: int) -> int:
        """Count one more extra request; return how many this call has started."""
        with self._lock:
            self.hedged += 1
        return started + 1

    def call(self, fn: Callable[..., R], args: tuple[Any, ...], kwargs: dict[str, Any]) -> R:
        """Call ``fn(*args, **kwargs)`` on the worker pool, hedging when it is slow.

        Raises:
            Exception: the first request's error when every request failed.
        """
        pool = self._pool or self._workers()
        start = time.monotonic()
        first = pool.submit(fn, args, kwargs)
        try:  # fast path: the first request answers (or fails) within `after`
            return first.result(self.after)
        except _FuturesTimeout:
            if first.done():  # the model's own TimeoutError
                raise
        pending = {first}
        started = 0
        try:
            while True:
                wait = self._wait(started, start, time.monotonic())
                done, pending = concurrent.futures.wait(pending, wait, _FIRST)
                for future in done:
                    if future.exception() is None:
                        return future.result()
                if not pending:
                    return first.result()  # every request failed: the first one's error
                if not done:
                    started = self._count_hedge(started)
                    pending.add(pool.submit(fn, args, kwargs))
        finally:
            for future in pending:
                pool.abandon(future, None)

    async def acall(
        self, fn: Callable[..., Awaitable[R]], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> R:
        """Await ``fn(*args, **kwargs)``, hedging when it is slow; cancel the losers.

        Raises:
            Exception: the first request's error when every request failed.
        """
        loop = asyncio.get_running_loop()
        first: asyncio.Future[R] = asyncio.ensure_future(fn(*args, **kwargs))
        pending: set[asyncio.Future[R]] = {first}
        started, start = 0, loop.time()
        try:
            while True:
                done, pending = await asyncio.wait(
                    pending,
                    timeout=self._wait(started, start, loop.time()),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                winner = None
                for task in done:  # look at every finished task: no unretrieved errors
                    if not task.cancelled() and task.exception() is None and winner is None:
                        winner = task
                if winner is not None:
                    return winner.result()
                if not pending:
                    return first.result()  # every request failed: the first one's error
                if not done:
                    started = self._count_hedge(started)
                    pending.add(asyncio.ensure_future(fn(*args, **kwargs)))
        finally:
            for task in pending:
                task.cancel()

    def __repr__(self) -> str:
        """Show the configuration."""
        return f"hedge(after={self.after:g}, max_extra={self.max_extra})"


def hedge(after: float | timedelta, *, max_extra: int = 1, max_workers: int = 32) -> Hedge:
    """Hedge slow model calls: after *after* seconds without an answer, ask again.

    Hedging trades a little extra load for a shorter tail: pick ``after``
    near the model's p95 latency, so only the slowest ~5% of calls send a
    second request. Do not hedge a model that is slow because it is
    overloaded; that is what :class:`~aiguard.Bulkhead` and
    :class:`~aiguard.RateLimit` are for.

    Args:
        after: seconds (> 0, or a timedelta) before each extra request.
        max_extra: the most extra requests per call, >= 1.
        max_workers: the most worker threads sync calls may use, >= 1.

    Returns:
        A :class:`Hedge`, usable as a decorator or as ``Guard(hedge=...)``.

    Raises:
        ConfigurationError: a parameter is invalid.

    Example:
        >>> import asyncio
        >>> import aiguard as ag
        >>> delays = [1.0, 0.0]  # the first replica hangs, the second answers at once
        >>> @ag.hedge(after=0.01)
        ... async def predict(x):
        ...     await asyncio.sleep(delays.pop(0))
        ...     return x * 2
        >>> asyncio.run(predict(21))
        42
    """
    return Hedge(
        duration(after, "after"),
        max_extra=count(max_extra, "max_extra"),
        max_workers=count(max_workers, "max_workers"),
    )

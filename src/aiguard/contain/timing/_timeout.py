"""Bound how long a model call may take: :func:`timeout` and :class:`Timeout`."""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
from typing import TYPE_CHECKING, Any, TypeVar

from aiguard._core._validate import count, duration
from aiguard.contain.timing._base import Pooled
from aiguard.errors import GuardTimeoutError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from datetime import timedelta

__all__ = ["Timeout", "timeout"]

R = TypeVar("R")

_FuturesTimeout = concurrent.futures.TimeoutError


class Timeout(Pooled):
    """Give up on a model call that has not answered within ``seconds``.

    * ``async`` calls are cancelled at the deadline (:func:`asyncio.timeout`).
    * sync calls run on a small pool of daemon worker threads owned by this
      object (created lazily, grown up to ``max_workers``) while the caller
      waits. At the deadline the caller gets :class:`~aiguard.GuardTimeoutError`
      and the thread is *abandoned*: Python cannot stop it, so it keeps running
      until the model returns. Abandoned threads are counted in
      :attr:`abandoned` and logged once.
    * When every worker is stuck in an abandoned call, new sync calls fail at
      once with ``GuardTimeoutError`` instead of queueing behind a hung model
      (so the fallback serves immediately, and no more threads pile up). A call
      queued behind busy (not stuck) workers waits, and the queueing counts
      against its deadline.

    Build it with :func:`timeout`. Use it as a decorator or as
    ``Guard(timeout=...)``.

    Attributes:
        seconds: the deadline of each call.
        max_workers: the most worker threads sync calls may use.
    """

    __slots__ = ("seconds",)

    _thread_name = "aiguard-timeout"

    def __init__(self, seconds: float, *, max_workers: int = 32) -> None:
        super().__init__(max_workers)
        self.seconds = seconds

    @property
    def abandoned(self) -> int:
        """How many sync calls were abandoned at the deadline while still running."""
        return 0 if self._pool is None else self._pool.abandoned

    @property
    def stuck(self) -> int:
        """How many abandoned sync calls are still running right now."""
        return 0 if self._pool is None else self._pool.stuck

    def _expired(self) -> GuardTimeoutError:
        return GuardTimeoutError(
            f"the model did not answer within {self.seconds:g} s", timeout=self.seconds
        )

    def call(self, fn: Callable[..., R], args: tuple[Any, ...], kwargs: dict[str, Any]) -> R:
        """Run ``fn(*args, **kwargs)`` on a worker thread; wait at most ``seconds``.

        Raises:
            GuardTimeoutError: no answer in time (or every worker is stuck).
        """
        pool = self._pool or self._workers()
        if pool.saturated():
            raise GuardTimeoutError(
                f"all {pool.max_workers} timeout workers are stuck in abandoned calls; "
                "not calling the model",
                timeout=self.seconds,
            )
        future = pool.submit(fn, args, kwargs)
        try:
            return future.result(self.seconds)
        except _FuturesTimeout:
            if future.done():  # the model's own TimeoutError, or an answer just in time
                return future.result()
            pool.abandon(future, repr(self))
            raise self._expired() from None

    if sys.version_info >= (3, 11):

        async def acall(
            self, fn: Callable[..., Awaitable[R]], args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> R:
            """Await ``fn(*args, **kwargs)``, cancelling it after ``seconds``.

            Raises:
                GuardTimeoutError: no answer in time.
            """
            scope = asyncio.timeout(self.seconds)
            try:
                async with scope:
                    return await fn(*args, **kwargs)
            except TimeoutError:
                if scope.expired():
                    raise self._expired() from None
                raise

    else:  # pragma: no cover - Python 3.10

        async def acall(
            self, fn: Callable[..., Awaitable[R]], args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> R:
            """Await ``fn(*args, **kwargs)``, cancelling it after ``seconds``."""
            try:
                return await asyncio.wait_for(fn(*args, **kwargs), self.seconds)
            except asyncio.TimeoutError:
                raise self._expired() from None

    def __repr__(self) -> str:
        """Show the deadline."""
        return f"timeout({self.seconds:g})"


def timeout(seconds: float | timedelta, *, max_workers: int = 32) -> Timeout:
    """Bound the time of each model call to *seconds*.

    Args:
        seconds: the deadline, > 0 (a number of seconds or a timedelta).
        max_workers: the most worker threads sync calls may occupy (>= 1);
            see :class:`Timeout` for what happens when they are all stuck.

    Returns:
        A :class:`Timeout`, usable as a decorator or as ``Guard(timeout=...)``.

    Raises:
        ConfigurationError: *seconds* or *max_workers* is invalid.

    Example:
        >>> import asyncio
        >>> import aiguard as ag
        >>> @ag.timeout(0.01)
        ... async def slow_model(x):
        ...     await asyncio.sleep(10)
        >>> try:
        ...     asyncio.run(slow_model(1))
        ... except ag.GuardTimeoutError as exc:
        ...     print(exc, exc.timeout)
        the model did not answer within 0.01 s 0.01
    """
    return Timeout(
        duration(seconds, "seconds"), max_workers=count(max_workers, "max_workers")
    )

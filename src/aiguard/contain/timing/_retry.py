"""Retry failed model calls, without multiplying load during an incident.

:func:`retry` builds a :class:`Retry` on top of tenacity (hidden: every
argument is a float, a timedelta or an aiguard type): exponential back-off with
full jitter (:class:`Backoff`), a :class:`RetryBudget` shared by many callers,
never a retry of a call that containment refused, never a retry while the
breaker is open, and instant waits in tests when the clock is a fake one.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import random
import time
from typing import TYPE_CHECKING, Any, TypeVar

import tenacity as _tenacity

from aiguard._core._clock import MONOTONIC, validate_clock
from aiguard._core._validate import count, duration
from aiguard.contain.timing._backoff import Backoff, RetryBudget
from aiguard.contain.timing._base import Wrapper
from aiguard.errors import CallRejectedError, ConfigurationError, RetryBudgetExhaustedError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator
    from datetime import timedelta

    from aiguard.typing import Clock

__all__ = ["Backoff", "Retry", "RetryBudget", "retry"]

R = TypeVar("R")
T = TypeVar("T")
Rt = TypeVar("Rt", _tenacity.Retrying, _tenacity.AsyncRetrying)

RetryOn = type[Exception] | tuple[Any, ...] | list[Any] | Any

_DEFAULT_BACKOFF = Backoff()


def _retry_predicate(retry_on: Any) -> Callable[[BaseException], bool]:
    """Exception types and/or predicates -> one predicate; rejections only if named."""
    items = tuple(retry_on) if isinstance(retry_on, (tuple, list)) else (retry_on,)
    expected = "exception types (subclasses of Exception) or predicates exc -> bool"
    types: list[type[Exception]] = []
    predicates: list[Callable[[BaseException], bool]] = []
    for item in items:
        if isinstance(item, type):
            if not issubclass(item, Exception):
                raise ConfigurationError("retry_on", expected, retry_on)
            types.append(item)
        elif callable(item):
            predicates.append(item)
        else:
            raise ConfigurationError("retry_on", expected, retry_on)
    if not items:
        raise ConfigurationError("retry_on", expected, retry_on)
    named = tuple(types)
    # containment refusals (open breaker, rate limit, timeout...) are retried only
    # when their class is named explicitly, never through Exception or a predicate
    rejections = tuple(t for t in named if issubclass(t, CallRejectedError))

    def matches(exc: BaseException) -> bool:
        if not isinstance(exc, Exception):  # cancellation, KeyboardInterrupt, exit
            return False
        if isinstance(exc, CallRejectedError):
            return isinstance(exc, rejections)
        return isinstance(exc, named) or any(p(exc) for p in predicates)

    return matches


def _replaying(first: BaseException, fn: Callable[..., T]) -> Callable[..., T]:
    """*fn*, except that its first call raises *first* again.

    Tenacity then sees the failure of the attempt made outside it as its own first attempt.
    """
    replayed = [first]

    def attempt(*a: Any, **k: Any) -> T:
        if replayed:
            raise replayed.pop()
        return fn(*a, **k)

    return attempt


def _areplaying(first: BaseException, fn: Callable[..., Awaitable[R]]) -> Callable[..., Any]:
    """Async twin of :func:`_replaying` (tenacity awaits only coroutine functions)."""
    replayed = [first]

    async def attempt(*a: Any, **k: Any) -> R:
        if replayed:
            raise replayed.pop()
        return await fn(*a, **k)

    return attempt


class _Exhausted:
    """Per-call flag: did the budget stop this call's retries?"""

    __slots__ = ("hit",)

    def __init__(self) -> None:
        self.hit = False


class Retry(Wrapper):
    """Call the model again when it fails: the object :func:`retry` builds.

    Attributes:
        attempts: the most calls per request (1 = no retry).
        backoff: the :class:`Backoff` between attempts.
        budget: the shared :class:`RetryBudget`, or None.
    """

    __slots__ = (
        "_async_retrying",
        "_async_sleep",
        "_last",
        "_matches",
        "_raise_on_exhausted",
        "_rng",
        "_sleep",
        "_sync_retrying",
        "attempts",
        "backoff",
        "budget",
    )

    def __init__(
        self,
        *,
        attempts: int,
        backoff: Backoff,
        matches: Callable[[BaseException], bool],
        budget: RetryBudget | None,
        sleep: Callable[[float], Any],
        async_sleep: Callable[[float], Awaitable[Any]],
        rng: random.Random,
        raise_on_exhausted: bool,
    ) -> None:
        self.attempts = attempts
        self.backoff = backoff
        self.budget = budget
        self._matches = matches
        self._sleep = sleep
        self._async_sleep = async_sleep
        self._rng = rng
        self._raise_on_exhausted = raise_on_exhausted
        self._last: contextvars.ContextVar[int] = contextvars.ContextVar(
            f"aiguard.retry.last_attempts.{id(self)}", default=0
        )
        condition = _tenacity.retry_if_exception(matches)
        self._sync_retrying = _tenacity.Retrying(
            sleep=sleep, wait=self._wait, retry=condition, reraise=True
        )
        self._async_retrying = _tenacity.AsyncRetrying(
            sleep=async_sleep, wait=self._wait, retry=condition, reraise=True
        )

    @property
    def last_attempts(self) -> int:
        """How many attempts the last call in this thread or task made (0 before any)."""
        return self._last.get()

    def _wait(self, state: _tenacity.RetryCallState) -> float:
        ceiling = self.backoff.ceiling(state.attempt_number)
        return self._rng.random() * ceiling if self.backoff.jitter else ceiling

    def _stop(
        self, should_stop: Callable[[], bool] | None, exhausted: _Exhausted
    ) -> Callable[[_tenacity.RetryCallState], bool]:
        attempts, budget = self.attempts, self.budget

        def stop(state: _tenacity.RetryCallState) -> bool:
            if state.attempt_number >= attempts:
                return True
            if should_stop is not None and should_stop():
                return True
            if budget is not None and not budget.withdraw():
                exhausted.hit = True
                return True
            return False

        return stop

    def _spent(self, exc: BaseException) -> RetryBudgetExhaustedError:
        return RetryBudgetExhaustedError(
            f"retry budget exhausted after {self._last.get()} attempt(s); last error: {exc!r}"
        )

    @contextlib.contextmanager
    def _retrying(self, template: Rt, should_stop: Callable[[], bool] | None) -> Iterator[Rt]:
        """Retry under a copy of *template* (sync or async) that attempts, budget and stop end.

        On the way out it records the attempts made and names a spent budget.
        """
        exhausted = _Exhausted()
        retrying = template.copy(stop=self._stop(should_stop, exhausted))
        try:
            yield retrying
        except BaseException as exc:
            if exhausted.hit and self._raise_on_exhausted:
                raise self._spent(exc) from exc
            raise
        finally:
            self._last.set(retrying.statistics.get("attempt_number", 1))

    def call(
        self,
        fn: Callable[..., R],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        should_stop: Callable[[], bool] | None = None,
    ) -> R:
        """Call ``fn(*args, **kwargs)``, retrying failures that ``retry_on`` accepts.

        Args:
            fn: the model call.
            args: its positional arguments.
            kwargs: its keyword arguments.
            should_stop: asked before each retry; True stops retrying (the
                Guard passes "is the breaker open?").

        Returns:
            The first successful result.

        Raises:
            Exception: the last attempt's own error when attempts, the budget
                or ``should_stop`` end the retries.
        """
        if self.budget is not None:
            self.budget.deposit()
        # The first attempt runs outside tenacity (the common, successful case
        # then costs a plain call); a retryable failure hands over to tenacity,
        # which sees that failure replayed as its own first attempt.
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            if not self._matches(exc):
                self._last.set(1)
                raise
            with self._retrying(self._sync_retrying, should_stop) as retrying:
                return retrying(_replaying(exc, fn), *args, **kwargs)
        self._last.set(1)
        return result

    async def acall(
        self,
        fn: Callable[..., Awaitable[R]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        should_stop: Callable[[], bool] | None = None,
    ) -> R:
        """Async twin of :meth:`call`: awaits ``fn(*args, **kwargs)`` and the waits."""
        if self.budget is not None:
            self.budget.deposit()
        try:
            result = await fn(*args, **kwargs)
        except Exception as exc:
            if not self._matches(exc):
                self._last.set(1)
                raise
            with self._retrying(self._async_retrying, should_stop) as retrying:
                return await retrying(_areplaying(exc, fn), *args, **kwargs)
        self._last.set(1)
        return result

    def __repr__(self) -> str:
        """Show the configuration."""
        budget = "" if self.budget is None else f", budget={self.budget!r}"
        return f"retry(attempts={self.attempts}, backoff={self.backoff!r}{budget})"


def _sleepers(
    clock: Clock, sleep: Callable[[float], Any] | None
) -> tuple[Callable[[float], Any], Callable[[float], Awaitable[Any]]]:
    """Pick the sync and async sleep once: the fake clock's advance, the given one, or real."""
    if sleep is None:
        advance = getattr(clock, "advance", None)
        if not callable(advance):
            return time.sleep, asyncio.sleep
        sleep = advance
    if inspect.iscoroutinefunction(sleep):
        async_sleep = sleep

        def sync_sleep(_seconds: float) -> None:
            msg = "retry(sleep=...) is an async function; it cannot wait in a sync call"
            raise TypeError(msg)

        return sync_sleep, async_sleep
    plain = sleep

    async def async_plain(seconds: float) -> None:
        plain(seconds)
        await asyncio.sleep(0)  # still let other tasks run

    return plain, async_plain


def retry(
    attempts: int = 3,
    *,
    backoff: Backoff | float | timedelta = _DEFAULT_BACKOFF,
    retry_on: RetryOn = Exception,
    budget: RetryBudget | None = None,
    raise_on_exhausted: bool = False,
    clock: Clock = MONOTONIC,
    sleep: Callable[[float], Any] | None = None,
    seed: int | None = None,
) -> Retry:
    """Retry a failing model call with exponential back-off, jitter and a budget.

    Errors are never wrapped: when the retries end (attempts used up, budget
    spent, breaker open) the last attempt's own exception propagates, because
    that is what failed. Containment refusals (:class:`~aiguard.CallRejectedError`
    such as an open breaker or a rate limit) are never retried unless their
    class is named in ``retry_on``; ``asyncio.CancelledError`` and other
    non-``Exception`` errors never are.

    Args:
        attempts: the most calls per request, >= 1 (1 disables retrying).
        backoff: a :class:`Backoff`, or seconds (a float or timedelta) used as
            its ``initial`` wait.
        retry_on: exception types, predicates ``exc -> bool``, or a tuple of
            both, deciding which failures are retried. Default: ``Exception``.
        budget: a :class:`RetryBudget`, shared by everything calling the same
            backend, or None for no budget.
        raise_on_exhausted: raise :class:`~aiguard.RetryBudgetExhaustedError`
            (chained to the model's error) instead of the model's error when
            the budget stopped the retries.
        clock: the clock; when it has ``advance`` (``aiguard.testing.FakeClock``)
            and no ``sleep`` is given, waits advance it instead of sleeping.
        sleep: how to wait ``seconds`` (sync, or ``async`` for async calls);
            default :func:`time.sleep` / :func:`asyncio.sleep`.
        seed: seeds the jitter's random generator (reproducible tests).

    Returns:
        A :class:`Retry`, usable as a decorator or as ``Guard(retry=...)``.

    Raises:
        ConfigurationError: a parameter is invalid.

    Example:
        >>> import aiguard as ag
        >>> from aiguard.testing import FakeClock
        >>> clock = FakeClock()
        >>> calls = []
        >>> @ag.retry(attempts=3, backoff=0.1, clock=clock, seed=1)
        ... def flaky(x):
        ...     calls.append(clock())
        ...     if len(calls) < 3:
        ...         raise ConnectionError("model server busy")
        ...     return x
        >>> flaky(42), len(calls), 0 <= clock() < 0.1 + 0.2
        (42, 3, True)
    """
    attempts = count(attempts, "attempts")
    if not isinstance(backoff, Backoff):
        initial = duration(backoff, "backoff", zero=True)
        backoff = Backoff(initial=initial, maximum=max(2.0, initial))
    if budget is not None and not isinstance(budget, RetryBudget):
        raise ConfigurationError("budget", "a RetryBudget or None", budget)
    if not isinstance(raise_on_exhausted, bool):
        raise ConfigurationError("raise_on_exhausted", "a bool", raise_on_exhausted)
    clock = validate_clock(clock)
    if sleep is not None and not callable(sleep):
        raise ConfigurationError("sleep", "a callable taking seconds, or None", sleep)
    if seed is not None:
        seed = count(seed, "seed", minimum=0)
    sync_sleep, async_sleep = _sleepers(clock, sleep)
    return Retry(
        attempts=attempts,
        backoff=backoff,
        matches=_retry_predicate(retry_on),
        budget=budget,
        sleep=sync_sleep,
        async_sleep=async_sleep,
        rng=random.Random(seed),  # noqa: S311 - jitter, not cryptography
        raise_on_exhausted=raise_on_exhausted,
    )


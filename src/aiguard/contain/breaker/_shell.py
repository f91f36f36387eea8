"""The two thin shells (sync and async) that run a function through a breaker's core.

Each shell reads the clock, takes a permit, calls or awaits the function with
no lock held, and reports the outcome. The choices (result judge or not) are
made here, once, at decoration; the per-call path has no configuration branch.
``BaseException`` that is not an ``Exception`` (``KeyboardInterrupt``,
``asyncio.CancelledError``) is reported as ignored and re-raised.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, TypeVar

from aiguard._core._events import log_once

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from typing_extensions import ParamSpec

    from aiguard.contain.breaker._breaker import CircuitBreaker

    P = ParamSpec("P")

R = TypeVar("R")

__all__ = ["async_shell", "sync_shell"]


def _record_exception(breaker: CircuitBreaker, permit: int, t0: float, exc: BaseException) -> None:
    """Report a raised exception (slow path); aiguard's own faults here never mask *exc*."""
    try:
        t1 = breaker.clock()
        weight = breaker.exception_weight(exc)
        if weight is None:
            breaker.ignore(permit)
        else:
            breaker.record(permit, t1, t1 - t0, weight)
    except Exception:
        log_once("breaker-record", "aiguard: breaker %r failed to record an "
                 "exception", breaker.name, owner=breaker)


def sync_shell(breaker: CircuitBreaker, fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap a plain function (see the module docstring).

    Example:
        >>> from aiguard import CircuitBreaker
        >>> sync_shell(CircuitBreaker(), abs)(-3)
        3
    """
    clock = breaker.clock
    acquire = breaker.admit
    on_result = breaker.record

    if breaker.judges_results:
        judge = breaker.result_weight

        def judged(*args: P.args, **kwargs: P.kwargs) -> R:
            t0 = clock()
            permit = acquire(t0)
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                _record_exception(breaker, permit, t0, exc)
                raise
            t1 = clock()
            on_result(permit, t1, t1 - t0, judge(result))
            return result

        return _wraps(fn, judged)

    def plain(*args: P.args, **kwargs: P.kwargs) -> R:
        t0 = clock()
        permit = acquire(t0)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            _record_exception(breaker, permit, t0, exc)
            raise
        t1 = clock()
        on_result(permit, t1, t1 - t0, 0.0)
        return result

    return _wraps(fn, plain)


def async_shell(
    breaker: CircuitBreaker, fn: Callable[P, Awaitable[R]]
) -> Callable[P, Awaitable[R]]:
    """Wrap an ``async def`` function; the async twin of :func:`sync_shell`.

    Example:
        >>> import asyncio
        >>> from aiguard import CircuitBreaker
        >>> async def negate(x):
        ...     return -x
        >>> asyncio.run(async_shell(CircuitBreaker(), negate)(3))
        -3
    """
    clock = breaker.clock
    acquire = breaker.admit
    on_result = breaker.record

    if breaker.judges_results:
        judge = breaker.result_weight

        async def judged(*args: P.args, **kwargs: P.kwargs) -> R:
            t0 = clock()
            permit = acquire(t0)
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                _record_exception(breaker, permit, t0, exc)
                raise
            t1 = clock()
            on_result(permit, t1, t1 - t0, judge(result))
            return result

        return _wraps(fn, judged)

    async def plain(*args: P.args, **kwargs: P.kwargs) -> R:
        t0 = clock()
        permit = acquire(t0)
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            _record_exception(breaker, permit, t0, exc)
            raise
        t1 = clock()
        on_result(permit, t1, t1 - t0, 0.0)
        return result

    return _wraps(fn, plain)


W = TypeVar("W")


def _wraps(fn: object, wrapper: W) -> W:
    functools.update_wrapper(wrapper, fn)  # type: ignore[arg-type]
    return wrapper

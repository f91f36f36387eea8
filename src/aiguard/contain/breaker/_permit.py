"""A breaker permit: one admitted call whose outcome the caller reports by hand."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiguard._core._validate import duration as _seconds
from aiguard._core._validate import fraction
from aiguard.errors import InvalidInputError

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self

    from aiguard.contain.breaker._breaker import CircuitBreaker

__all__ = ["BreakerPermit"]


class BreakerPermit:
    """One call a :class:`~aiguard.CircuitBreaker` admitted; report its outcome once.

    Get one from :meth:`CircuitBreaker.acquire` (or :meth:`~CircuitBreaker.permit`
    in a ``with`` block). Exactly one of :meth:`success`, :meth:`failure`,
    :meth:`error` or :meth:`ignore` reports the call; a second report raises
    :class:`~aiguard.InvalidInputError`. A permit never reported holds a
    HALF_OPEN trial slot until the breaker's state changes (or
    ``half_open_max_wait``), so report every one.

    Example:
        >>> import aiguard as ag
        >>> breaker = ag.CircuitBreaker(window=10, min_calls=1)
        >>> permit = breaker.acquire()
        >>> permit.failure(weight=0.25)        # a batch with 25% bad rows
        >>> permit.done
        True
        >>> async def consume():
        ...     async with breaker.permit():
        ...         return "ok"
        >>> import asyncio
        >>> asyncio.run(consume()), breaker.metrics.failures
        ('ok', 0.25)
    """

    __slots__ = ("_breaker", "_done", "_permit", "_start")

    def __init__(self, breaker: CircuitBreaker, permit: int, start: float) -> None:
        self._breaker = breaker
        self._permit = permit
        self._start = start
        self._done = False

    @property
    def done(self) -> bool:
        """Whether the outcome was reported."""
        return self._done

    def _finish(self) -> None:
        if self._done:
            raise InvalidInputError(
                "permit", "reported once (success, failure, error or ignore)",
                "a second report")
        self._done = True

    def _report(self, weight: float, seconds: float | None) -> None:
        self._finish()
        breaker = self._breaker
        now = breaker.clock()
        took = now - self._start if seconds is None else seconds
        breaker.record(self._permit, now, took, weight)

    def success(self, *, duration: float | None = None) -> None:
        """Report a success; *duration* in seconds (default: measured since acquire)."""
        self._report(0.0, None if duration is None else _seconds(duration, "duration", zero=True))

    def failure(self, *, weight: float = 1.0, duration: float | None = None) -> None:
        """Report a failure of *weight* in [0, 1] (a batch's share of bad rows), *duration* s."""
        share = fraction(weight, "weight", zero=True)
        self._report(share, None if duration is None else _seconds(duration, "duration", zero=True))

    def error(self, exc: BaseException, *, duration: float | None = None) -> None:
        """Report that the call raised *exc*, judged by the breaker's ``record`` / ``ignore``.

        A recorded exception is a failure, an ignored one (or a cancellation)
        is ignored, any other exception is a success, as for a wrapped call.
        """
        weight = self._breaker.exception_weight(exc)
        if weight is None:
            self.ignore()
        else:
            self._report(weight, None if duration is None
                         else _seconds(duration, "duration", zero=True))

    def ignore(self) -> None:
        """Report that the call ended without an outcome to judge (frees a trial slot)."""
        self._finish()
        self._breaker.ignore(self._permit)

    def __enter__(self) -> Self:
        """Start the block (the permit is already taken)."""
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Report a success, or the exception as :meth:`error` does; never swallow it."""
        if self._done:
            return
        if exc is None:
            self.success()
        else:
            self.error(exc)

    async def __aenter__(self) -> Self:
        """Start the ``async with`` block."""
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        """As :meth:`__exit__`."""
        self.__exit__(exc_type, exc, tb)

    def __repr__(self) -> str:
        """Show the breaker and whether the outcome was reported."""
        return f"BreakerPermit(breaker={self._breaker.name!r}, done={self._done})"

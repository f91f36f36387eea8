"""Back-off schedules and retry budgets: the values :func:`~aiguard.retry` takes."""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING, Any

import attrs

from aiguard._core._clock import MONOTONIC, validate_clock
from aiguard._core._validate import duration, real
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from datetime import timedelta

    from aiguard.typing import Clock

__all__ = ["Backoff", "RetryBudget"]


def _initial(value: Any) -> float:
    return duration(value, "initial", zero=True)


def _maximum_seconds(value: Any) -> float:
    return duration(value, "maximum", zero=True)


def _maximum(instance: Backoff, _attribute: Any, value: float) -> None:
    if value < instance.initial:
        raise ConfigurationError("maximum", f"seconds >= initial ({instance.initial:g})", value)


def _multiplier(value: Any) -> float:
    return real(value, "multiplier", low=1.0, expected="a finite number >= 1")


def _jitter(_instance: Backoff, _attribute: Any, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigurationError("jitter", "a bool", value)


@attrs.frozen
class Backoff:
    """Exponential back-off between attempts, with full jitter by default.

    Before retry number ``n`` (1 for the first retry) the ceiling is
    ``min(maximum, initial * multiplier ** (n - 1))``; with ``jitter`` the wait
    is drawn uniformly from ``[0, ceiling)`` ("full jitter", which spreads
    retrying clients apart best), without it the wait is the ceiling itself.

    Args:
        initial: ceiling of the first wait, seconds >= 0 (or a timedelta).
        maximum: the largest ceiling, seconds >= ``initial``.
        multiplier: growth per retry, >= 1.
        jitter: draw each wait uniformly below its ceiling.

    Example:
        >>> from aiguard.contain.timing import Backoff
        >>> plain = Backoff(initial=0.1, maximum=0.5, jitter=False)
        >>> [plain.ceiling(n) for n in range(1, 5)]
        [0.1, 0.2, 0.4, 0.5]
    """

    initial: float = attrs.field(default=0.05, converter=_initial)
    maximum: float = attrs.field(default=2.0, converter=_maximum_seconds, validator=_maximum)
    multiplier: float = attrs.field(default=2.0, converter=_multiplier)
    jitter: bool = attrs.field(default=True, validator=_jitter)

    def ceiling(self, retry_number: int) -> float:
        """The longest wait before retry number *retry_number* (1-based)."""
        ceiling = self.initial * self.multiplier ** (retry_number - 1)
        return min(self.maximum, ceiling)


class RetryBudget:
    """Cap retries at a share of recent requests, so retries cannot multiply load.

    Like Finagle's and Envoy's retry budgets: each call through a
    :class:`Retry` using this budget deposits one request; a retry is allowed
    while, over the last ``window`` seconds::

        retries + 1 <= ratio * requests + min_per_second * window

    so with the defaults at most 10% extra load, plus a trickle of
    ``min_per_second`` retries a second that lets a quiet service (and a fresh
    budget) retry at all. Share one budget between all the guards calling the
    same backend. When the budget is spent the call fails with the model's own
    last error (see :func:`retry`). Counts live in ten slices of the window,
    so old traffic ages out in steps of ``window / 10``.

    Args:
        ratio: retries allowed per request, >= 0.
        min_per_second: retries a second always allowed, >= 0.
        window: seconds of history, > 0 (or a timedelta).
        clock: the clock (``aiguard.testing.FakeClock`` in tests).

    Attributes:
        exhausted: how many retries the budget refused (ever).

    Raises:
        ConfigurationError: a parameter is invalid, or the budget could never
            allow a retry (``ratio`` and ``min_per_second`` both 0).

    Example:
        >>> from aiguard.contain.timing import RetryBudget
        >>> from aiguard.testing import FakeClock
        >>> budget = RetryBudget(ratio=0.5, min_per_second=0.0, window=10, clock=FakeClock())
        >>> for _ in range(4):
        ...     budget.deposit()
        >>> [budget.withdraw() for _ in range(3)]
        [True, True, False]
        >>> budget.requests, budget.retries, budget.exhausted
        (4, 2, 1)
    """

    _SLICES = 10

    __slots__ = (
        "_clock",
        "_epoch",
        "_lock",
        "_requests",
        "_retries",
        "_slice",
        "_total_requests",
        "_total_retries",
        "exhausted",
        "min_per_second",
        "ratio",
        "window",
    )

    def __init__(
        self,
        ratio: float = 0.1,
        *,
        min_per_second: float = 1.0,
        window: float | timedelta = 10.0,
        clock: Clock = MONOTONIC,
    ) -> None:
        self.ratio = real(ratio, "ratio", low=0.0, expected="a finite number >= 0")
        self.min_per_second = real(
            min_per_second, "min_per_second", low=0.0, expected="a finite number >= 0")
        if self.ratio == 0 and self.min_per_second == 0:
            raise ConfigurationError(
                "min_per_second", "> 0 when ratio is 0 (else no retry is ever allowed)",
                min_per_second,
            )
        self.window = duration(window, "window")
        self._clock = validate_clock(clock)
        self._slice = self.window / self._SLICES
        self._requests = [0] * self._SLICES
        self._retries = [0] * self._SLICES
        self._total_requests = 0
        self._total_retries = 0
        self._epoch: int | None = None  # index of the current slice since time 0
        self.exhausted = 0
        self._lock = threading.Lock()

    def _roll(self, now: float) -> int:
        """Age out the slices older than the window; return the current slot (lock held)."""
        epoch = math.floor(now / self._slice)
        last = self._epoch
        if last is None or epoch - last >= self._SLICES:
            self._requests = [0] * self._SLICES
            self._retries = [0] * self._SLICES
            self._total_requests = self._total_retries = 0
        elif epoch > last:
            for e in range(last + 1, epoch + 1):
                slot = e % self._SLICES
                self._total_requests -= self._requests[slot]
                self._total_retries -= self._retries[slot]
                self._requests[slot] = self._retries[slot] = 0
        else:
            epoch = last  # a reading from a thread that was overtaken: same slice
        self._epoch = epoch
        return epoch % self._SLICES

    def deposit(self) -> None:
        """Count one request (a :class:`Retry` using this budget calls it per call)."""
        with self._lock:
            slot = self._roll(self._clock())
            self._requests[slot] += 1
            self._total_requests += 1

    def withdraw(self) -> bool:
        """Take one retry if the budget allows it (False: spent, counted in ``exhausted``)."""
        with self._lock:
            slot = self._roll(self._clock())
            allowed = self.ratio * self._total_requests + self.min_per_second * self.window
            if self._total_retries + 1 <= allowed:
                self._retries[slot] += 1
                self._total_retries += 1
                return True
            self.exhausted += 1
            return False

    @property
    def requests(self) -> int:
        """Requests counted in the current window."""
        with self._lock:
            self._roll(self._clock())
            return self._total_requests

    @property
    def retries(self) -> int:
        """Retries taken in the current window."""
        with self._lock:
            self._roll(self._clock())
            return self._total_retries

    def __repr__(self) -> str:
        """Show the configuration."""
        return (
            f"RetryBudget(ratio={self.ratio:g}, min_per_second={self.min_per_second:g}, "
            f"window={self.window:g})"
        )

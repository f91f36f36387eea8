"""A clock that only moves when the test says so."""

from __future__ import annotations

import threading

from aiguard.errors import ConfigurationError

__all__ = ["FakeClock"]


class FakeClock:
    """A manual clock for tests: pass it as ``clock=`` and move it with :meth:`advance`.

    Thread-safe. Calling the clock returns the current fake time in seconds.

    Example:
        >>> clock = FakeClock()
        >>> clock()
        0.0
        >>> clock.advance(30)
        30.0
        >>> clock()
        30.0
    """

    __slots__ = ("_lock", "_now")

    def __init__(self, start: float = 0.0) -> None:
        """Start the clock at *start* seconds."""
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        """Return the current fake time in seconds."""
        return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by *seconds* (>= 0) and return the new time."""
        if not seconds >= 0:
            raise ConfigurationError("seconds", "a number >= 0", seconds)
        with self._lock:
            self._now += float(seconds)
            return self._now

    def set(self, now: float) -> None:
        """Jump to *now*; a clock never goes backwards, so *now* must be >= the current time."""
        with self._lock:
            if not now >= self._now:
                raise ConfigurationError("now", f"a time >= the current {self._now}", now)
            self._now = float(now)

    def __repr__(self) -> str:
        """Show the current fake time."""
        return f"FakeClock({self._now!r})"

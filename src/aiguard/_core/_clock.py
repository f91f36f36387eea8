"""Time as a parameter.

A clock is any zero-argument callable returning seconds as a float, monotonic
for the life of the process. The default is :func:`time.perf_counter`, the
cheapest monotonic clock with sub-microsecond resolution.
"""

from __future__ import annotations

import time
from typing import Final

from aiguard.typing import Clock

__all__ = ["MONOTONIC", "Clock", "validate_clock"]

MONOTONIC: Final[Clock] = time.perf_counter


def validate_clock(clock: object, *, argument: str = "clock") -> Clock:
    """Return *clock* if it is a zero-argument callable, else raise ConfigurationError."""
    from aiguard.errors import ConfigurationError  # noqa: PLC0415 - avoid an import cycle

    if not callable(clock):
        raise ConfigurationError(argument, "a callable returning seconds", clock)
    return clock

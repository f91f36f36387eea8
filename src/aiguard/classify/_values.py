"""Parameter checks of classify/ and review/ (numbers may be numpy scalars; bools are refused).

Kept here rather than imported from ``contain/``'s private modules, which are
being reorganised; they follow the same messages.
"""

from __future__ import annotations

import math
from datetime import timedelta
from numbers import Real

from aiguard.errors import ConfigurationError

__all__ = ["positive", "seconds"]


def seconds(value: object, argument: str, *, zero: bool = False) -> float:
    """A finite number of seconds (> 0, or >= 0 if *zero*) or a timedelta, as a float.

    Example:
        >>> seconds(timedelta(minutes=1), "after")
        60.0
    """
    if isinstance(value, timedelta):
        value = value.total_seconds()
    expected = "a number of seconds >= 0" if zero else "a number of seconds > 0"
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ConfigurationError(argument, f"{expected} or a timedelta", value)
    number = float(value)
    if not math.isfinite(number) or number < 0 or (number == 0 and not zero):
        raise ConfigurationError(argument, f"{expected} or a timedelta", value)
    return number


def positive(value: object, argument: str) -> float:
    """A finite real number > 0, as a float.

    Example:
        >>> positive(2, "to")
        2.0
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ConfigurationError(argument, "a finite number > 0", value)
    number = float(value)
    if not (math.isfinite(number) and number > 0):
        raise ConfigurationError(argument, "a finite number > 0", value)
    return number

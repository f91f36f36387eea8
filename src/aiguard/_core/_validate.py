"""The one set of parameter validators every public constructor uses.

Numbers users pass come from config files, numpy arrays, pandas frames and YAML
read through numpy, so every numeric parameter accepts :class:`numbers.Real`
(or :class:`numbers.Integral` for counts), numpy scalars included, and returns
a plain Python ``float`` / ``int``. ``bool`` is refused everywhere: ``True`` as
a window size or a rate is a bug, not a number. Durations also accept a
:class:`datetime.timedelta`. Every failure is a
:class:`~aiguard.errors.ConfigurationError` naming the argument, what was
expected and what was given.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from datetime import timedelta
from numbers import Integral, Real

from aiguard.errors import ConfigurationError

__all__ = ["bounds", "count", "duration", "fraction", "real"]


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, Real)


def real(
    value: object,
    argument: str,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
    expected: str | None = None,
) -> float:
    """Return *value* as a finite float within the bounds, or raise ConfigurationError.

    Args:
        value: what the user passed.
        argument: the parameter's name, for the message.
        low: the lowest accepted value.
        high: the highest accepted value.
        low_open: exclude *low* itself.
        high_open: exclude *high* itself.
        expected: the wording of the expectation in the message (default:
            the interval, e.g. ``"a number in (0, 1]"``).

    Example:
        >>> import numpy as np
        >>> real(np.float32(0.5), "failure_rate", low=0, high=1, low_open=True)
        0.5
        >>> real(1.5, "failure_rate", low=0, high=1, low_open=True)
        Traceback (most recent call last):
        ...
        aiguard.errors.ConfigurationError: failure_rate must be a number in (0, 1], got 1.5
    """
    if expected is None:
        expected = _interval(low, high, low_open=low_open, high_open=high_open)
    if not _is_number(value):
        raise ConfigurationError(argument, expected, value)
    number = float(value)  # type: ignore[arg-type]
    if (
        not math.isfinite(number)
        or number < low
        or number > high
        or (low_open and number == low)
        or (high_open and number == high)
    ):
        raise ConfigurationError(argument, expected, _plain(value))
    return number


def fraction(value: object, argument: str, *, zero: bool = False) -> float:
    """Return a share in ``(0, 1]`` (``[0, 1]`` with *zero*) as a float.

    Example:
        >>> fraction(0.25, "sample")
        0.25
    """
    return real(value, argument, low=0.0, high=1.0, low_open=not zero)


def count(value: object, argument: str, *, minimum: int = 1) -> int:
    """Return an integer >= *minimum* (numpy integers accepted, bools and floats refused).

    Example:
        >>> import numpy as np
        >>> count(np.int64(100), "window")
        100
    """
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ConfigurationError(argument, f"an int >= {minimum}", value)
    number = int(value)
    if number < minimum:
        raise ConfigurationError(argument, f"an int >= {minimum}", number)
    return number


def duration(value: object, argument: str, *, zero: bool = False) -> float:
    """Return a finite number of seconds (> 0, or >= 0 with *zero*) from a number or timedelta.

    Example:
        >>> from datetime import timedelta
        >>> duration(timedelta(minutes=1), "open_for")
        60.0
        >>> duration(0, "open_for")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        aiguard.errors.ConfigurationError: open_for must be a finite number of seconds > 0 ...
    """
    expected = f"a finite number of seconds {'>=' if zero else '>'} 0 (or a timedelta)"
    if isinstance(value, timedelta):
        value = value.total_seconds()
    return real(value, argument, low=0.0, low_open=not zero, expected=expected)


def bounds(value: object, argument: str) -> tuple[float, ...]:
    """Return histogram bucket upper bounds: a non-empty increasing sequence of positive numbers.

    Example:
        >>> import numpy as np
        >>> bounds([np.float64(0.01), 1], "buckets")
        (0.01, 1.0)
        >>> bounds([1, 0.5], "buckets")
        Traceback (most recent call last):
        ...
        aiguard.errors.ConfigurationError: buckets must be increasing positive seconds, got [1, 0.5]
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ConfigurationError(argument, "increasing positive seconds", value)
    upper = tuple(real(b, argument, low=0, low_open=True) for b in value)
    if not upper or any(a >= b for a, b in itertools.pairwise(upper)):
        raise ConfigurationError(argument, "increasing positive seconds", value)
    return upper


def _interval(low: float, high: float, *, low_open: bool, high_open: bool) -> str:
    if low == -math.inf and high == math.inf:
        return "a finite number"
    if high == math.inf:
        return f"a number {'>' if low_open else '>='} {_fmt(low)}"
    if low == -math.inf:
        return f"a number {'<' if high_open else '<='} {_fmt(high)}"
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    return f"a number in {left}{_fmt(low)}, {_fmt(high)}{right}"


def _fmt(bound: float) -> str:
    return str(int(bound)) if bound == int(bound) else repr(bound)


def _plain(value: object) -> object:
    """Show numpy scalars as the Python number they hold (``0.5``, not ``np.float32(0.5)``)."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value

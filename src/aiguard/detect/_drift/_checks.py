"""Checks of the parameters the drift statistics share (choices, alpha, effect sizes).

Each raises :class:`~aiguard.errors.ConfigurationError` naming the argument,
the expectation and the value; numbers may be numpy scalars (bool is refused).
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Literal, TypeAlias

from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "NAN_POLICIES",
    "NanPolicy",
    "check_alpha",
    "check_choice",
    "check_count",
    "check_min_effect",
    "check_nan_policy",
    "check_number",
    "check_optional_number",
]


NanPolicy: TypeAlias = Literal["propagate", "omit", "raise"]


NAN_POLICIES: tuple[str, ...] = ("propagate", "omit", "raise")


def check_choice(name: str, value: object, choices: Sequence[object]) -> None:
    """Raise :class:`ConfigurationError` unless ``value`` is one of ``choices``."""
    if value not in choices:
        expected = "one of " + ", ".join(repr(c) for c in choices)
        raise ConfigurationError(name, expected, value)


def check_nan_policy(nan_policy: object) -> None:
    """Validate ``nan_policy`` (``"propagate"``, ``"omit"`` or ``"raise"``)."""
    check_choice("nan_policy", nan_policy, NAN_POLICIES)


def check_alpha(alpha: object) -> float:
    """Validate a significance level in (0, 1) and return it as a float."""
    if (
        isinstance(alpha, bool)
        or not isinstance(alpha, numbers.Real)
        or not 0.0 < float(alpha) < 1.0
    ):
        raise ConfigurationError("alpha", "a number in (0, 1)", alpha)
    return float(alpha)


def _as_number(value: object, *, positive: bool) -> float | None:
    """*value* as a float if it is a finite real number >= 0 (> 0 with *positive*), else None.

    numpy scalars are real numbers; bool is not.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    number = float(value)
    ok = math.isfinite(number) and (number > 0.0 if positive else number >= 0.0)
    return number if ok else None


def check_number(name: str, value: object, *, positive: bool = False) -> float:
    """Validate a finite number >= 0 (> 0 with *positive*) and return it as a float."""
    number = _as_number(value, positive=positive)
    if number is None:
        raise ConfigurationError(name, f"a finite number {'>' if positive else '>='} 0", value)
    return number


def check_optional_number(name: str, value: object, *, positive: bool = False) -> float | None:
    """Validate None or a finite number >= 0 (> 0 with *positive*)."""
    if value is None:
        return None
    number = _as_number(value, positive=positive)
    if number is None:
        expected = f"None or a finite number {'>' if positive else '>='} 0"
        raise ConfigurationError(name, expected, value)
    return number


def check_count(name: str, value: object, minimum: int) -> int:
    """Validate an integer >= *minimum* (numpy integers included, bool not)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < minimum:
        raise ConfigurationError(name, f"an integer >= {minimum}", value)
    return int(value)


def check_min_effect(min_effect: object) -> float | None:
    """Validate ``min_effect`` (None or a finite number >= 0)."""
    return check_optional_number("min_effect", min_effect)

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
    "check_min_effect",
    "check_nan_policy",
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


def check_min_effect(min_effect: object) -> float | None:
    """Validate ``min_effect`` (None or a finite number >= 0)."""
    if min_effect is None:
        return None
    if (
        isinstance(min_effect, bool)
        or not isinstance(min_effect, numbers.Real)
        or not math.isfinite(float(min_effect))
        or float(min_effect) < 0.0
    ):
        raise ConfigurationError("min_effect", "None or a finite number >= 0", min_effect)
    return float(min_effect)

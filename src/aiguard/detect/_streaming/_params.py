"""Validation of detector parameters and of the values fed to a detector.

Parameters are checked once, at construction, with :mod:`aiguard._core._validate`
(numbers, counts) and the two checks below (a bool, a choice); they may be numpy
scalars; a bad one is a :class:`~aiguard.errors.ConfigurationError` naming the
argument, the expectation and the value. Values fed to ``update`` / ``update_many`` must be
finite (binary detectors: 0 or 1); a bad value is an
:class:`~aiguard.errors.InvalidInputError` naming its index, raised before the
detector's state changes.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import numpy.typing as npt

from aiguard.errors import ConfigurationError, InvalidInputError

__all__ = [
    "Bools",
    "Floats",
    "as_binary",
    "as_binary_many",
    "as_value",
    "as_values",
    "check_bool",
    "check_choice",
    "decode_float",
    "encode_float",
]

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


def check_bool(value: object, name: str) -> bool:
    """Return *value* if it is a bool (numpy bools included)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigurationError(name, "True or False", value)
    return bool(value)


def check_choice(value: object, name: str, *, options: tuple[str, ...]) -> str:
    """Return *value* if it is one of *options*."""
    if not isinstance(value, str) or value not in options:
        raise ConfigurationError(name, f"one of {', '.join(map(repr, options))}", value)
    return value


def as_value(x: object) -> float:
    """One finite real value as a float, else InvalidInputError naming ``x``."""
    if not isinstance(x, numbers.Real):
        raise InvalidInputError("x", "a finite real number", repr(x))
    number = float(x)
    if not math.isfinite(number):
        raise InvalidInputError("x", "a finite real number", number)
    return number


def as_binary(x: object) -> float:
    """One error indicator (0, 1, False or True) as 0.0 or 1.0."""
    if not isinstance(x, numbers.Real) or float(x) not in (0.0, 1.0):
        raise InvalidInputError("x", "0 or 1 (an error indicator)", repr(x))
    return float(x)


def _as_array(values: object) -> Floats:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            "values", "a 1-D sequence of real numbers", type(values).__name__
        ) from exc
    if array.ndim != 1:
        raise InvalidInputError("values", "a 1-D sequence of real numbers", f"shape {array.shape}")
    return array


def as_values(values: object) -> Floats:
    """A 1-D float64 array of finite values, else InvalidInputError naming the first bad index."""
    array = _as_array(values)
    bad = ~np.isfinite(array)
    if bad.any():
        index = int(np.argmax(bad))
        raise InvalidInputError("values", "finite", f"{array[index]} at index {index}")
    return array


def as_binary_many(values: object) -> Floats:
    """A 1-D float64 array of 0.0 / 1.0, else InvalidInputError naming the first bad index."""
    array = _as_array(values)
    bad = (array != 0.0) & (array != 1.0)
    if bad.any():
        index = int(np.argmax(bad))
        raise InvalidInputError(
            "values", "0 or 1 (error indicators)", f"{array[index]} at index {index}"
        )
    return array


def encode_float(value: float) -> float | str:
    """A float for JSON: finite floats as they are, others as ``"inf"``, ``"-inf"``, ``"nan"``."""
    return value if math.isfinite(value) else str(value)


def decode_float(value: Any) -> float:
    """The inverse of :func:`encode_float`."""
    if isinstance(value, str):
        if value not in ("inf", "-inf", "nan"):
            raise InvalidInputError("data", "a number or 'inf', '-inf', 'nan'", repr(value))
        return float(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInputError("data", "a number", repr(value))
    return float(value)

"""The first-order recursion ``y[i] = a * y[i-1] + u[i]``, computed in C and in order.

``scipy.signal.lfilter`` with numerator ``[1, 0]`` and denominator ``[1, -a]``
computes ``fl(fl(a * y) + u)`` at every step (its direct form II transposed
adds ``0 * u`` and negates, both exact), the same bits as the Python loop
``y = a * y + u``; the tests check this. For the short windows the vectorised
detectors use, lfilter's own argument handling costs more than the filtering,
so the C routine behind it is called directly when it is there.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["filter_coefficients", "recurse", "recurse_line"]


@functools.cache
def _filters() -> tuple[Any, Any]:
    """scipy.signal's routines, imported on first use (importing scipy.signal costs ~0.5 s)."""
    from scipy import signal  # noqa: PLC0415 - lazy: keeps `import aiguard` light

    try:  # pragma: no cover - depends on the installed scipy
        from scipy.signal._sigtools import _linear_filter  # noqa: PLC0415
    except ImportError:  # pragma: no cover - a scipy without the private routine
        _linear_filter = None
    return _linear_filter, signal.lfilter


def recurse(a: float, u: npt.NDArray[np.float64], y0: float) -> npt.NDArray[np.float64]:
    """``y[i] = a * y[i-1] + u[i]`` for every ``i``, with ``y[-1] = y0``.

    Example:
        >>> recurse(0.5, np.array([1.0, 1.0, 1.0]), 4.0)
        array([3.  , 2.5 , 2.25])
    """
    b = np.array([1.0, 0.0])
    den = np.array([1.0, -a])
    zi = np.array([a * y0])
    linear_filter, lfilter = _filters()
    if linear_filter is not None:  # pragma: no branch
        out: npt.NDArray[np.float64] = linear_filter(b, den, u, -1, zi)[0]
        return out
    return np.asarray(lfilter(b, den, u, zi=zi)[0])  # pragma: no cover


def recurse_line(
    coefficients: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]],
    u: npt.NDArray[np.float64],
    start: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """:func:`recurse` from ``filter_coefficients(a)`` and ``start = [a * y[-1]]``, in fewer steps.

    Example:
        >>> recurse_line(filter_coefficients(0.5), np.array([1.0, 1.0, 1.0]), np.array([2.0]))
        array([3.  , 2.5 , 2.25])
    """
    linear_filter, lfilter = _filters()
    b, den = coefficients
    if linear_filter is not None:  # pragma: no branch
        out: npt.NDArray[np.float64] = linear_filter(b, den, u, -1, start)[0]
        return out
    return np.asarray(lfilter(b, den, u, zi=start)[0])  # pragma: no cover


def filter_coefficients(a: float) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The numerator and denominator lfilter takes for ``y[i] = a * y[i-1] + u[i]``."""
    return np.array([1.0, 0.0]), np.array([1.0, -a])

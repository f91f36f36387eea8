r"""Two-sided tabular CUSUM (Page 1954; Montgomery, *Statistical Quality Control*, 9.1).

With target :math:`\mu_0`, reference value (allowance) :math:`k` and decision
interval :math:`h`, in the units of the data, the classic recursions are

.. math::

    C^+_n = \max\bigl(0,\ C^+_{n-1} + x_n - (\mu_0 + k)\bigr), \qquad
    C^-_n = \max\bigl(0,\ C^-_{n-1} + (\mu_0 - k) - x_n\bigr), \qquad
    C^\pm_0 = 0,

and a drift is detected when :math:`C^+_n > h` (the mean went up) or
:math:`C^-_n > h` (down). With standardised data (subtract the in-control mean,
divide by its standard deviation) ``k = 0.5`` and ``h = 5`` are the textbook
choice, tuned to detect a one-sigma shift.

**Vectorised.** The recursion is Lindley's; unrolled, :math:`C^+_n = S^+_n -
\min(0, \min_{i \le n} S^+_i)` with :math:`S^+_n = \sum_{i \le n} (x_i -
\mu_0 - k)` (likewise :math:`C^-`). The detector keeps :math:`S^\pm` and their
running minima, so ``update`` and ``update_many`` (``np.cumsum`` and
``np.minimum.accumulate``, which add and compare in order) give the same bits.
"""

from __future__ import annotations

import threading
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from aiguard._core import _validate
from aiguard.detect._streaming._base import Knob, Param, state_fields
from aiguard.detect._streaming._lanes import LanedDetector
from aiguard.detect._streaming._params import Bools, Floats, as_value

__all__ = ["CUSUM"]


class CUSUM(LanedDetector):
    """Two-sided tabular CUSUM for a shift of the mean away from *target*.

    Formulas in :mod:`aiguard.detect._streaming._cusum`. Use it when the
    in-control mean and spread are known (a model's score on validation data):
    it is the fastest detector of a sustained shift of about ``2 * k``.

    Args:
        target: the in-control mean.
        k: the allowance (reference value) per value, >= 0, data units.
        h: the decision interval, > 0, data units.

    Example:
        >>> import numpy as np
        >>> stream = np.r_[np.zeros(100), np.full(10, 2.0)]
        >>> CUSUM(target=0.0, k=0.5, h=5.0).update_many(stream)  # restarts after each alarm
        array([103, 107])
    """

    _chained: ClassVar[bool] = True
    _knob: ClassVar[Knob] = Knob("h", 1e-3, 1e7, quieter_when_larger=True, scaled=True)
    _state_fields = state_fields("s_up s_down min_up min_down", drift=bool, n=int)
    target = Param(_validate.real)
    k = Param(_validate.real, low=0.0)
    h = Param(_validate.real, low=0.0, low_open=True)
    # the parameters' slots, set by _set_params
    _target: float
    _k: float
    _h: float

    def __init__(self, *, target: float = 0.0, k: float = 0.5, h: float = 5.0) -> None:
        self._set_params(target=target, k=k, h=h)
        self._upper = self._target + self._k
        self._lower = self._target - self._k
        self.reset()

    def reset(self) -> None:
        """Forget everything seen: back to the state just after construction."""
        self._drift = False
        self._n = 0
        self._s_up = self._min_up = 0.0
        self._s_down = self._min_down = 0.0

    @property
    def upper(self) -> float:
        """:math:`C^+`, the evidence that the mean went up."""
        return self._s_up - self._min_up

    @property
    def lower(self) -> float:
        """:math:`C^-`, the evidence that the mean went down."""
        return self._s_down - self._min_down

    def update(self, x: float) -> None:
        """Process one value (a finite real number)."""
        value = as_value(x)
        if self._drift:
            self.reset()
        self._n += 1
        self._s_up += value - self._upper
        self._s_down += self._lower - value
        self._min_up = min(self._min_up, self._s_up)
        self._min_down = min(self._min_down, self._s_down)
        self._drift = self.upper > self._h or self.lower > self._h

    def _loop(self, values: list[float]) -> list[int]:
        """The per-value recursion over *values* (same operations as ``update``); detections."""
        found = []
        drift, n = self._drift, self._n
        s_up, min_up, s_down, min_down = self._s_up, self._min_up, self._s_down, self._min_down
        upper, lower, h = self._upper, self._lower, self._h
        for i, value in enumerate(values):
            if drift:
                n, s_up, min_up, s_down, min_down = 0, 0.0, 0.0, 0.0, 0.0
            n += 1
            s_up += value - upper
            s_down += lower - value
            min_up = min(min_up, s_up)
            min_down = min(min_down, s_down)
            drift = s_up - min_up > h or s_down - min_down > h
            if drift:
                found.append(i)
        self._drift, self._n = drift, n
        self._s_up, self._min_up, self._s_down, self._min_down = s_up, min_up, s_down, min_down
        return found

    def _run(self, x: npt.NDArray[np.float64]) -> int | None:
        """Process *x* up to its first detection; return that index (or None)."""
        count = len(x)
        sums = np.empty((2, count + 1))
        sums[0, 0], sums[1, 0] = self._s_up, self._s_down
        np.subtract(x, self._upper, out=sums[0, 1:])
        np.subtract(self._lower, x, out=sums[1, 1:])
        np.cumsum(sums, axis=1, out=sums)
        sums = sums[:, 1:]
        mins = np.minimum(sums, [[self._min_up], [self._min_down]])
        np.minimum.accumulate(mins, axis=1, out=mins)
        alarm = ((sums - mins) > self._h).any(axis=0)
        hit = int(np.argmax(alarm)) if alarm.any() else None
        last = count - 1 if hit is None else hit
        self._n += last + 1
        self._s_up, self._s_down = float(sums[0, last]), float(sums[1, last])
        self._min_up, self._min_down = float(mins[0, last]), float(mins[1, last])
        self._drift = hit is not None
        return hit

    def _first_alarms(
        self, values: npt.NDArray[np.float64], count: int, width: int
    ) -> npt.NDArray[np.intp]:
        """For each of the *count* first starts: the steps of a fresh run to its first detection.

        *width* where there is none within *width* values. A side whose
        increments are all <= 0 never detects (its sum only falls, so it is its
        own running minimum): it is left out.
        """
        first = np.full(count, width, dtype=np.intp)
        sides = []
        if values.max() > self._upper:
            sides.append(values - self._upper)
        if values.min() < self._lower:
            sides.append(self._lower - values)
        for steps in sides:
            np.minimum(first, first_crossings(steps, count, width, self._h), out=first)
        return first

    def _lane_fresh(self) -> npt.NDArray[np.float64]:
        return np.zeros(6)  # drift, n, s_up, s_down, min_up, min_down

    def _lane_inputs(self, x: Floats) -> Floats:
        steps = np.empty((len(x), 2, x.shape[1]))
        np.subtract(x, self._upper, out=steps[:, 0])
        np.subtract(self._lower, x, out=steps[:, 1])
        return steps

    def _lane_step(self, state: Floats, inputs: Floats, drift: Bools) -> None:
        np.copyto(state[1:], 0.0, where=drift)
        state[1] += 1.0
        sums, mins = state[2:4], state[4:6]
        sums += inputs
        np.minimum(mins, sums, out=mins)
        hit = np.subtract(sums, mins) > self._h
        np.logical_or(hit[0], hit[1], out=drift)


def first_crossings(
    steps: npt.NDArray[np.float64], count: int, width: int, h: float
) -> npt.NDArray[np.intp]:
    r"""One side of :meth:`CUSUM._first_alarms`: each start's first crossing of *h*.

    For each start :math:`s < count`, the first step :math:`t < width` at which
    :math:`S_t - \min(0, S_0, \dots, S_t) > h`, with :math:`S_t` the sum of
    ``steps[s : s + t + 1]`` added in order (*width* if none).

    The sums of every start are computed together, one numpy addition per step
    (the same additions, in the same order, as ``update``). While a start's
    sums stay >= 0 its running minimum is 0 and the statistic is the sum itself;
    the few starts whose sums fall below 0 (or read past the end of *steps*,
    NaN) take the running minimum.

    Example:
        >>> first_crossings(np.array([1.0, 3.0, -9.0, 2.0, 2.0]), 3, 3, 2.5)
        array([1, 0, 2])
    """
    known = len(steps) - width + 1  # starts whose whole window is in *steps*
    sums, above = _workspace(width, count)
    if known < count:
        padded = np.full(count + width - 1, np.nan)
        padded[: len(steps)] = steps
        steps = padded
    sums[0] = steps[:count]
    for t in range(1, width):
        np.add(sums[t - 1], steps[t : t + count], out=sums[t])
    np.greater(sums, h, out=above)
    first = _leading_false(above, width)
    np.less(sums, 0.0, out=above)
    dirty = np.flatnonzero(np.logical_or.reduce(above.view(np.uint8), axis=0))
    if known < count:
        dirty = np.union1d(dirty, np.arange(max(known, 0), count))
    if len(dirty):
        part = sums[:, dirty]
        low = np.minimum.accumulate(np.minimum(part, 0.0), axis=0)
        first[dirty] = _leading_false(np.subtract(part, low, out=low) > h, width)
    return first


def _leading_false(flags: npt.NDArray[np.bool_], width: int) -> npt.NDArray[np.intp]:
    """Per column of *flags* (*width* rows): the rows before the first True (*width* if none)."""
    for t in range(1, width):
        np.logical_or(flags[t - 1], flags[t], out=flags[t])
    crossed = np.add.reduce(flags.view(np.uint8), axis=0, dtype=np.uint8)
    first: npt.NDArray[np.intp] = width - crossed.astype(np.intp)
    return first


_BUFFERS = threading.local()


def _workspace(width: int, count: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Arrays for the sums and their comparisons, kept per thread (fresh ones fault their pages)."""
    held = getattr(_BUFFERS, "arrays", None)
    if held is None or held[0].shape != (width, count):
        held = _BUFFERS.arrays = (np.empty((width, count)), np.empty((width, count), dtype=bool))
    return held

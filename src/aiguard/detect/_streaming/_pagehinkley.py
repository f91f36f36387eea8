r"""Page-Hinkley test with a fading factor, river 0.26's variant.

For the values :math:`x_1, x_2, \dots` since the last reset, with
:math:`n` values seen, running mean :math:`\bar x_n = \frac1n \sum_{i\le n} x_i`
and deviation :math:`d_n = x_n - \bar x_n`:

.. math::

    U_n = \alpha U_{n-1} + d_n - \delta, \qquad
    L_n = \alpha L_{n-1} + d_n + \delta, \qquad U_0 = L_0 = 0

    m_n = \min(m_{n-1}, U_n),\ m_0 = +\infty \qquad
    M_n = \max(M_{n-1}, L_n),\ M_0 = -1

A drift is detected once :math:`n \ge` ``min_instances`` when
:math:`U_n - m_n > \lambda` (mode ``"up"``), :math:`M_n - L_n > \lambda`
(``"down"``) or either (``"both"``), :math:`\lambda` = ``threshold``.
:math:`M_0 = -1` is river's starting value, kept for identical detections.

**Computed as.** :math:`U_n = F_n - E_n` and :math:`L_n = F_n + E_n`, with
:math:`F_n = \alpha F_{n-1} + d_n` and :math:`E_n = \alpha E_{n-1} + \delta`,
:math:`F_0 = E_0 = 0` (the same values in exact arithmetic, other roundings):
one filter over the deviations instead of two, and :math:`E_n` depends on
:math:`n` only. The state holds :math:`F` (``fil``) and :math:`E` (``bias``).

**Vectorised.** The running mean is the running *sum* divided by :math:`n`
(``np.add.accumulate`` adds in order), and :math:`F` a first-order filter
computed in C in the order of the loop
(:mod:`~aiguard.detect._streaming._filter`); :math:`E` comes from a table
computed once per ``(alpha, delta)`` by the same filter (for windows past the
table, the filter again), so ``update`` and ``update_many`` give the same bits.
The window's rows are :math:`-U = E - F` (rounding is symmetric: the same bits
as negating :math:`U`) and :math:`L`, so one running maximum gives both
:math:`-m_n` and :math:`M_n`. A detection restarts the statistics, so the
windows scanned fit the typical gap between detections (one gap, then half a
gap: what is computed past a detection is recomputed); a short window is
scanned whole in few numpy calls (a call costs about as much as a few hundred
values), a long window looks for its detection block by block, from the
blocks' extremes, which bound the gaps from above. On streams with a
detection every few values ``update_many`` runs lanes side by side instead
(:mod:`~aiguard.detect._streaming._lanes`), with the same operations.

**Against river.** river computes the same sums in the same order, except that
it updates :math:`U` and :math:`L` directly (adding :math:`d_n`, then
subtracting or adding :math:`\delta`) where aiguard rounds :math:`F` and
:math:`E` and then their difference and sum, and that it updates its mean by
Welford's recursion (:math:`\bar x_n = \bar x_{n-1} + (x_n - \bar x_{n-1}) / n`),
which no numpy routine computes in order; the statistics agree with river's to
about 1e-13 relative (a test bounds it), so a detection could differ only where
the statistic lands within that distance of the threshold (the tests compare
detections with river's on named and hypothesis-generated streams).
"""

from __future__ import annotations

import functools
import math
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from aiguard._core import _validate
from aiguard.detect._streaming._base import Knob, Param, state_fields
from aiguard.detect._streaming._filter import filter_coefficients, recurse, recurse_line
from aiguard.detect._streaming._lanes import LanedDetector
from aiguard.detect._streaming._params import (
    Bools,
    Floats,
    as_value,
    check_choice,
)

__all__ = ["PageHinkley"]

_MODES = ("up", "down", "both")
#: values per block when looking for a long window's first detection
BLOCK = 64
#: longer windows look for their first detection block by block
SCAN = 4096
#: the counts 1, 2, ... as floats, for the running means of short windows
_COUNTS = np.arange(1.0, float(SCAN + (1 << 14)))


#: the table of E stops at its fixed point, or at this many values
MOST_BIASES = 1 << 19


class _Biases:
    """``E`` after 0, 1, 2, ... values (``E = alpha * E + delta``, in order), grown on demand.

    One table per ``(alpha, delta)``, shared by the detectors (:func:`_biases_for`);
    it ends on ``E``'s fixed point (every later ``E`` is the same) or after
    :data:`MOST_BIASES` values (later windows filter ``E`` themselves).
    """

    def __init__(self, alpha: float, delta: float) -> None:
        self.alpha, self.delta = alpha, delta
        self.values = np.zeros(1)
        self.final = False  # the table will not grow

    def upto(self, m: int) -> Floats:
        """The table, grown to hold ``E`` after *m* values where it can."""
        values = self.values
        while len(values) <= m and not self.final:
            size = min(MOST_BIASES, max(4096, 2 * len(values))) - len(values)
            more = recurse(self.alpha, np.full(size, self.delta), float(values[-1]))
            values = np.concatenate([values, more])
            repeats = np.flatnonzero(values[1:] == values[:-1])  # E_k+1 == E_k: a fixed point
            if len(repeats):
                values = values[: repeats[0] + 1]
            self.final = bool(len(repeats)) or len(values) >= MOST_BIASES
            values.flags.writeable = False
            self.values = values
        return values


@functools.lru_cache(maxsize=4)
def _biases_for(alpha: float, delta: float) -> _Biases:
    """The shared table of ``E`` for *alpha* and *delta* (a few MB at most)."""
    return _Biases(alpha, delta)


class PageHinkley(LanedDetector):
    """Page-Hinkley change detector for a shift in the mean (river's parameters and defaults).

    Formulas in :mod:`aiguard.detect._streaming._pagehinkley`. Use it for a
    stream of real values (latencies, scores) whose mean may shift; raise
    ``threshold`` (or :meth:`calibrate` it) for noisy streams: with the default
    50, plain N(0, 1) noise alarms every few hundred values.

    Args:
        min_instances: values needed after a reset before a drift can be detected.
        delta: the magnitude of change tolerated per value.
        threshold: the detection threshold (lambda), > 0.
        alpha: the forgetting factor of the cumulative sums, in (0, 1].
        mode: ``"up"`` (increases), ``"down"`` (decreases) or ``"both"``.

    Example:
        >>> import numpy as np
        >>> stream = np.r_[np.zeros(1000), np.full(1000, 5.0)]
        >>> PageHinkley().update_many(stream)
        array([1010])
    """

    # the gaps between detections spread widely: windows of one gap, then half a gap
    _reach: ClassVar[float] = 1.0
    _then: ClassVar[float | None] = 0.5
    # a window scan costs about as much as 20 values of the per-value loop
    _most_looped: ClassVar[float] = 24.0
    _knob: ClassVar[Knob] = Knob("threshold", 1e-3, 1e7, quieter_when_larger=True, scaled=True)
    _state_fields = state_fields("sum fil bias min_inc max_dec", drift=bool, n=int)
    min_instances = Param(_validate.count, minimum=1)
    delta = Param(_validate.real, low=0.0)
    threshold = Param(_validate.real, low=0.0, low_open=True)
    alpha = Param(_validate.fraction)
    mode = Param(check_choice, options=_MODES)
    # the parameters' slots, set by _set_params
    _min_instances: int
    _delta: float
    _threshold: float
    _alpha: float
    _mode: str

    def __init__(
        self,
        *,
        min_instances: int = 30,
        delta: float = 0.005,
        threshold: float = 50.0,
        alpha: float = 1 - 0.0001,
        mode: str = "both",
    ) -> None:
        self._set_params(
            min_instances=min_instances, delta=delta, threshold=threshold, alpha=alpha, mode=mode
        )
        self._up = mode in ("up", "both")
        self._down = mode in ("down", "both")
        self._limit = np.array(self._threshold, dtype=float)  # compared faster than a float
        self._fresh_column = self._lane_fresh()[1:, None]
        self._coefficients = filter_coefficients(alpha)
        self._start = np.zeros(1)  # the filter's first term, alpha * fil, per window
        self._bias_table = _biases_for(self._alpha, self._delta)
        self._table = self._bias_table.values  # E so far, grown through _bias_table
        self.reset()

    def reset(self) -> None:
        """Forget everything seen: back to the state just after construction."""
        self._drift = False
        self._n = 0
        self._sum = 0.0
        self._fil = 0.0
        self._bias = 0.0
        self._min_inc = math.inf
        self._max_dec = -1.0

    def update(self, x: float) -> None:
        """Process one value (a finite real number)."""
        value = as_value(x)
        if self._drift:
            self.reset()
        self._n += 1
        self._sum += value
        dev = value - self._sum / self._n
        fil = self._fil = self._alpha * self._fil + dev
        bias = self._bias = self._alpha * self._bias + self._delta
        inc, dec = fil - bias, fil + bias
        self._min_inc = min(self._min_inc, inc)
        self._max_dec = max(self._max_dec, dec)
        if self._n >= self._min_instances:
            self._drift = (self._up and inc - self._min_inc > self._threshold) or (
                self._down and self._max_dec - dec > self._threshold
            )

    @property
    def _inc(self) -> float:
        """The cumulative sum for increases, :math:`U_n`."""
        return self._fil - self._bias

    @property
    def _dec(self) -> float:
        """The cumulative sum for decreases, :math:`L_n`."""
        return self._fil + self._bias

    def _loop(self, values: list[float]) -> list[int]:
        """``update`` on each value without the per-call checks; the indices of the detections."""
        found = []
        for i, value in enumerate(values):
            self.update(value)
            if self._drift:
                found.append(i)
        return found

    def _run(self, x: npt.NDArray[np.float64]) -> int | None:
        """Process *x* up to its first detection; return that index (or None).

        The window's rows are ``-inc`` and ``dec``, so one maximum-accumulation
        gives both running extremes (``-min_inc`` and ``max_dec``) and one
        subtraction both gaps. A short window is scanned whole, in few numpy
        calls (a call costs about as much as a few hundred values): the rows
        start with a column holding the previous extremes.
        """
        count, n = len(x), self._n
        if n:
            buf = np.empty(count + 1)
            buf[0] = self._sum
            buf[1:] = x
            sums = np.add.accumulate(buf, out=buf)[1:]
        else:  # a fresh run: 0 + x[0] is x[0] (but for the sign of a zero, see below)
            sums = np.add.accumulate(x)
        if n + count <= len(_COUNTS):
            counts = _COUNTS[n : n + count]
        else:
            counts = np.arange(n + 1.0, n + count + 1.0)
        dev = np.divide(sums, counts)
        np.subtract(x, dev, out=dev)
        start = self._start
        start[0] = self._alpha * self._fil
        fil = recurse_line(self._coefficients, dev, start)
        bias = self._biases(n, count)
        rows = np.empty((2, count + 1))  # column 0: the extremes so far; then -inc, dec
        np.subtract(bias, fil, out=rows[0, 1:])  # -inc (rounding is symmetric: the same bits)
        np.add(fil, bias, out=rows[1, 1:])  # dec
        # -inf (no minimum yet) would give inf - inf: the first value bounds it as well
        rows[0, 0] = -self._min_inc if self._min_inc != math.inf else rows[0, 1]
        rows[1, 0] = self._max_dec
        skip = self._min_instances - n - 1
        if count > SCAN:
            hit, self._min_inc, self._max_dec = self._first_detection(rows[:, 1:], max(0, skip))
        else:
            hit = self._first_detection_small(rows, skip)
        last = count - 1 if hit is None else hit
        self._n = n + last + 1
        self._sum = float(sums[last]) + 0.0  # -0.0 (only zeros, from -0.0 on) is update's 0.0
        self._fil, self._bias = float(fil[last]), float(bias[last])
        self._drift = hit is not None
        return hit

    def _biases(self, n: int, count: int) -> Floats:
        """``E`` after ``n + 1``, ..., ``n + count`` values, from ``_bias`` or a table.

        The table is used only where it holds ``_bias`` after *n* values (a
        state restored by ``from_dict`` could hold another value: it is followed).
        """
        bias, table = self._bias, self._table
        if n + count < len(table) and table[n] == bias:
            return table[n + 1 : n + count + 1]
        if self._alpha * bias + self._delta == bias:  # a fixed point (long runs reach one)
            return np.broadcast_to(np.float64(bias), (count,))
        table = self._table = self._bias_table.upto(n + count)
        if n + count < len(table) and table[n] == bias:
            return table[n + 1 : n + count + 1]
        start = np.array([self._alpha * self._bias])
        return recurse_line(self._coefficients, np.full(count, self._delta), start)

    def _first_detection_small(self, rows: Floats, skip: int) -> int | None:
        """:meth:`_first_detection` for a short window, in few numpy calls; sets the extremes.

        *rows*: column 0 holds the extremes so far (``-min_inc``, ``max_dec``),
        the others the window's ``-inc`` and ``dec``.
        """
        extremes = np.maximum.accumulate(rows, axis=1)
        over = np.subtract(extremes, rows, out=rows) > self._limit  # column 0: gaps 0
        if skip > 0:
            over[:, : skip + 1] = False
        up, down = over.argmax(axis=1).tolist()
        up = up if self._up and over[0, up] else 0
        down = down if self._down and over[1, down] else 0
        hit = min(up, down) if up and down else up or down
        at = hit or -1  # the extremes up to the detection, or to the window's end
        self._min_inc, self._max_dec = -float(extremes[0, at]), float(extremes[1, at])
        return hit - 1 if hit else None

    def _over(self, gaps: Floats) -> Bools:
        """Where the gaps (rows: the up side's, the down side's) pass the threshold."""
        over: Bools = gaps > self._threshold
        if self._up and self._down:
            either: Bools = np.logical_or(over[0], over[1], out=over[0])
            return either
        side: Bools = over[0] if self._up else over[1]
        return side

    def _first_detection(self, stats: Floats, skip: int) -> tuple[int | None, float, float]:
        """The first detection in a window of statistics (None) and the extremes up to it.

        *stats* holds the window's ``-inc`` and ``dec`` rows, cut into blocks of
        :data:`BLOCK` values. The gaps of a block's extreme values to the
        extremes up to the block's end are never smaller than those of its
        values to their running extremes (the rounding of a difference is
        monotonic), so the first block where they pass the threshold is where
        a detection can start; the running extremes, in order from there, decide.
        """
        count = stats.shape[1]
        blocks = -(-count // BLOCK)
        padded = np.empty((2, blocks * BLOCK))
        padded[:, :count] = stats
        padded[:, count:] = stats[:, -1:]  # the last value again: no new extreme
        shaped = padded.reshape(2, blocks, BLOCK)
        bottoms, tops = shaped.min(axis=2), shaped.max(axis=2)
        extremes = np.maximum.accumulate(tops, axis=1)  # up to each block's end
        np.maximum(extremes, [[-self._min_inc], [self._max_dec]], out=extremes)
        maybe = self._over(np.subtract(extremes, bottoms))
        maybe[: skip // BLOCK] = False
        done = 0  # blocks before *done* hold no detection
        while True:
            block = done + int(maybe[done:].argmax()) if done < blocks else blocks
            if block >= blocks or not maybe[block]:
                return None, -float(extremes[0, -1]), float(extremes[1, -1])
            begin, end = block * BLOCK, min(count, (block + 4) * BLOCK)
            part = stats[:, begin:end]
            running = np.maximum.accumulate(part, axis=1)
            if block:
                np.maximum(running, extremes[:, block - 1 : block], out=running)
            else:
                np.maximum(running, [[-self._min_inc], [self._max_dec]], out=running)
            over = self._over(np.subtract(running, part))
            over[: max(0, skip - begin)] = False
            hit = int(over.argmax())
            if over[hit]:
                return begin + hit, -float(running[0, hit]), float(running[1, hit])
            done = -(-end // BLOCK)

    def _lane_fresh(self) -> npt.NDArray[np.float64]:
        # drift, n, sum, fil, bias, min_inc, max_dec
        return np.array([0.0, 0.0, 0.0, 0.0, 0.0, math.inf, -1.0])

    def _lane_inputs(self, x: Floats) -> Floats:
        return x

    def _lane_step(self, state: Floats, inputs: Floats, drift: Bools) -> None:
        np.copyto(state[1:], self._fresh_column, where=drift)
        n, total, fil, bias, min_inc, max_dec = state[1:]
        n += 1.0
        total += inputs
        dev = np.divide(total, n)
        np.subtract(inputs, dev, out=dev)
        fil *= self._alpha
        fil += dev
        bias *= self._alpha
        bias += self._delta
        inc = np.subtract(fil, bias, out=dev)
        dec = fil + bias
        np.minimum(min_inc, inc, out=min_inc)
        np.maximum(max_dec, dec, out=max_dec)
        if self._up:
            np.greater(np.subtract(inc, min_inc, out=inc), self._threshold, out=drift)
            if self._down:
                drift |= np.subtract(max_dec, dec, out=dec) > self._threshold
        else:
            np.greater(np.subtract(max_dec, dec, out=dec), self._threshold, out=drift)
        drift &= n >= self._min_instances

r"""ADWIN over a batch, vectorised between detections.

Between two detections nothing is ever dropped, so the bucket rows evolve as a
function of the number of values alone. With :math:`c_i` buckets in row
:math:`i` before the batch and :math:`a_i(t)` buckets added to it by the
:math:`t`-th value, the row has merged

.. math::

    g_i(t) = \begin{cases} 0 & c_i + a_i(t) \le M \\
             \lfloor (c_i + a_i(t) - M - 1) / 2 \rfloor + 1 & \text{otherwise}
             \end{cases}

pairs (:math:`M` = ``max_buckets``), :math:`a_0(t) = t` and
:math:`a_{i+1}(t) = g_i(t)`. Every bucket a row ever holds is the row's
*stream* (its buckets before the batch, then the merges of pairs of the row
below, in order), computed for all at once with the merge formula; at time
:math:`t` row :math:`i` holds stream items :math:`[2 g_i(t), c_i + a_i(t))`.
Width, total and variance are cumulative sums (``np.cumsum`` adds in order,
as the value-by-value code does).

Each clock tick then becomes one column of a matrix of the window's buckets,
oldest first; cumulative sums down the columns give every cut's
:math:`n_0, u_0, u_1` with the same additions, in the same order, as the scan
of :mod:`~aiguard.detect._streaming._adwin_core`, and the cut test is applied
elementwise. At the first tick with a cut the batch stops: the window is
rebuilt as it stood, and the value-by-value core performs the detection (and
its drops) itself when that state is kept (the next value resets it).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from aiguard.detect._streaming._adwin_core import AdwinCore

__all__ = ["run_batch"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


def _merged(held: Ints, full: int) -> Ints:
    """Pairs a row has merged once *held* buckets entered it (``full`` = max_buckets + 1)."""
    return np.maximum(held - full + 2, 0) // 2


class _Rows:
    """Every row's stream of buckets during the batch."""

    def __init__(self, core: AdwinCore, x: Floats) -> None:
        self.full = core.max_buckets + 1
        self.core_rows = len(core.totals)
        self.totals: list[Floats] = []
        self.variances: list[Floats] = []
        self.before: list[int] = []
        new_totals, new_variances = x, np.zeros(len(x))
        added = len(x)
        row = 0
        while True:
            old = len(core.totals[row]) if row < self.core_rows else 0
            totals = np.concatenate([core.totals[row], new_totals]) if old else new_totals
            variances = (
                np.concatenate([core.variances[row], new_variances]) if old else new_variances
            )
            self.totals.append(totals)
            self.variances.append(variances)
            self.before.append(old)
            pairs = max(old + added - self.full + 2, 0) // 2
            if pairs == 0 and row + 1 >= self.core_rows:
                break
            size = float(1 << row)
            first, second = totals[0 : 2 * pairs : 2], totals[1 : 2 * pairs : 2]
            mean0, mean1 = first / size, second / size
            new_totals = first + second
            new_variances = (
                variances[0 : 2 * pairs : 2]
                + variances[1 : 2 * pairs : 2]
                + size * 0.5 * (mean0 - mean1) * (mean0 - mean1)
            )
            added = pairs
            row += 1

    def held(self, t: Ints) -> list[tuple[Ints, Ints, Ints]]:
        """Per row, after values *t*: the first stream index held, the count, the pairs merged."""
        out = []
        added = t + 1
        for old in self.before:
            held = old + added
            merged = _merged(held, self.full)
            out.append((2 * merged, held - 2 * merged, added))
            added = merged
        return out

    def restore(self, core: AdwinCore, t: int) -> None:
        """Put the rows as they stood after value *t* into *core*."""
        totals: list[list[float]] = []
        variances: list[list[float]] = []
        for row, (first, count, added) in enumerate(self.held(np.array([t]))):
            if row >= self.core_rows and added[0] == 0:
                break
            begin, stop = int(first[0]), int(first[0] + count[0])
            totals.append(self.totals[row][begin:stop].tolist())
            variances.append(self.variances[row][begin:stop].tolist())
        core.totals, core.variances = totals, variances


def _running_sum(matrix: Floats) -> Floats:
    """Cumulative sums down the columns, in place, one row at a time.

    The same additions in the same order as ``np.cumsum(matrix, axis=0)``, which
    walks a short, wide matrix column by column and is many times slower.
    """
    if matrix.shape[1] < 128:  # few columns: numpy's own loop is cheaper
        return np.cumsum(matrix, axis=0, out=matrix)
    for row in range(1, len(matrix)):
        np.add(matrix[row - 1], matrix[row], out=matrix[row])
    return matrix


def _log_term(width: float, delta: float) -> float:
    r""":math:`\ln(2 \ln W / \delta)`; a window of one value has no cut, any number does."""
    return math.log(2.0 * math.log(width) / delta) if width > 1.0 else -math.inf


def _cuts(  # noqa: PLR0917 - the figures at each tick
    core: AdwinCore, rows: _Rows, ticks: Ints, width: Floats, total: Floats, variance: Floats
) -> npt.NDArray[np.bool_]:
    """For the clock ticks after values *ticks*, whether the window has a cut (vectorised).

    The matrices hold one column per tick and one row per bucket, oldest first;
    :func:`_running_sum` adds each column in order.
    """
    count = len(ticks)
    held = rows.held(ticks)
    length = np.sum([c for _, c, _ in held], axis=0)
    depth = int(length.max())
    buckets = np.zeros((depth, count))
    sizes = np.zeros((depth, count))
    offset = np.zeros(count, dtype=np.int64)
    slot = np.arange(core.max_buckets + 1)
    for row in range(len(held) - 1, -1, -1):
        first, many, _ = held[row]
        which, k = np.nonzero(slot[None, :] < many[:, None])
        buckets[offset[which] + k, which] = rows.totals[row][first[which] + k]
        sizes[offset[which] + k, which] = float(1 << row)
        offset += many
    n0 = _running_sum(sizes)
    u1 = np.empty((depth + 1, count))
    u1[0] = total
    np.negative(buckets, out=u1[1:])
    u1 = _running_sum(u1)[1:]
    u0 = _running_sum(buckets)
    # n0 - l + 1 and n1 - l + 1 are exact integers, so they can be formed as below;
    # the last bucket (n1 = 0) and the padding (n1 <= 0) fail t1 >= 1 like n1 >= l
    shift = core.min_length - 1.0
    t0 = n0 - shift
    t1 = (width - shift) - n0
    usable = (t0 >= 1.0) & (t1 >= 1.0)
    n1 = width - n0
    delta = core.delta
    log_term = np.array([_log_term(w, delta) for w in width.tolist()])
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = u0 / n0
        gap -= u1 / n1
        m = 1.0 / t0
        m += 1.0 / t1
        bound = 2.0 * m
        bound *= variance / width
        bound *= log_term
        np.sqrt(bound, out=bound)
        bound += 2.0 / 3.0 * log_term * m
        np.abs(gap, out=gap)
        cut: npt.NDArray[np.bool_] = np.asarray(((gap > bound) & usable).any(axis=0))
    return cut


def run_batch(core: AdwinCore, x: Floats, *, most_ticks: int = 512) -> int | None:
    """Feed *x* to *core* up to its first detection; return that index, or None.

    Without a detection the core ends as if each value had gone through
    ``insert`` and ``detect``. With one, it ends after the ``insert`` of the
    detecting value: the caller runs ``detect()`` (which drops the old buckets)
    only if that state will be looked at, since the next value resets it.
    """
    n = len(x)
    rows = _Rows(core, x)
    buf = np.empty(n + 1)
    buf[0] = core.total
    buf[1:] = x
    totals = np.cumsum(buf, out=buf)
    width = core.width + np.arange(1, n + 1, dtype=np.float64)
    before = width - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        step = x - totals[:-1] / before
        increments = before * step * step / width
    increments[width <= 1.0] = 0.0
    spread = np.empty(n + 1)
    spread[0] = core.variance
    spread[1:] = increments
    variances = np.cumsum(spread, out=spread)
    tick = core.tick + np.arange(1, n + 1)
    checks = np.flatnonzero((tick % core.clock == 0) & (width > core.grace))
    hit: int | None = None
    for start in range(0, len(checks), most_ticks):
        ticks = checks[start : start + most_ticks]
        cut = _cuts(core, rows, ticks, width[ticks], totals[ticks + 1], variances[ticks + 1])
        if cut.any():
            hit = int(ticks[int(np.argmax(cut))])
            break
    last = n - 1 if hit is None else hit
    rows.restore(core, last)
    core.width = float(width[last])
    core.total = float(totals[last + 1])
    core.variance = float(variances[last + 1])
    core.tick = int(tick[last]) - (hit is not None)
    return hit

r"""ADWIN's exponential histogram, value by value (Bifet and Gavaldà 2007, ADWIN2).

The window is kept as rows of buckets: row :math:`i` holds up to
``max_buckets`` buckets of :math:`2^i` values each, oldest first, each bucket a
(total, variance) pair; a new value enters row 0 and when a row holds
``max_buckets + 1`` buckets its two oldest merge into one bucket of the next
row:

.. math::

    t = t_0 + t_1, \qquad
    v = v_0 + v_1 + 2^i \cdot \tfrac12 \left(\tfrac{t_0}{2^i} - \tfrac{t_1}{2^i}\right)^2 .

The window's width :math:`W`, total and variance (sum of squared deviations,
Welford's update) follow each value. Every ``clock`` values, once
:math:`W >` ``grace_period``, every cut between buckets from the oldest on
splits the window into :math:`W_0` (older, :math:`n_0` values) and :math:`W_1`;
with :math:`\delta' = \ln(2 \ln W / \delta)`,
:math:`m = 1/(n_0 - \ell + 1) + 1/(n_1 - \ell + 1)` (:math:`\ell` =
``min_window_length``, both sides at least :math:`\ell`),

.. math::

    |\hat\mu_{W_0} - \hat\mu_{W_1}| > \sqrt{2 m \tfrac{\sigma^2_W}{W} \delta'}
        + \tfrac23 \delta' m

is a change: the oldest bucket is dropped and the scan restarts. The order of
every floating-point operation is river 0.26's (its Rust port of the Cython
code), so the detections are the same to the bit.
"""

from __future__ import annotations

import math

__all__ = ["AdwinCore"]


class AdwinCore:
    """The bucket rows and running figures of one ADWIN window (plain Python floats)."""

    def __init__(
        self, delta: float, clock: int, max_buckets: int, min_window_length: int, grace_period: int
    ) -> None:
        self.delta = delta
        self.clock = clock
        self.max_buckets = max_buckets
        self.min_length = float(min_window_length)
        self.grace = float(grace_period)
        self.totals: list[list[float]] = [[]]
        self.variances: list[list[float]] = [[]]
        self.width = 0.0
        self.total = 0.0
        self.variance = 0.0
        self.tick = 0

    def insert(self, value: float) -> None:
        """Add one value to row 0, then merge full rows upwards."""
        self.totals[0].append(value)
        self.variances[0].append(0.0)
        self.width += 1.0
        increment = 0.0
        if self.width > 1.0:
            step = value - self.total / (self.width - 1.0)
            increment = (self.width - 1.0) * step * step / self.width
        self.variance += increment
        self.total += value
        row = 0
        full = self.max_buckets + 1
        while len(self.totals[row]) == full:
            size = float(1 << row)
            totals, variances = self.totals[row], self.variances[row]
            mean0, mean1 = totals[0] / size, totals[1] / size
            merged = totals[0] + totals[1]
            spread = variances[0] + variances[1] + size * 0.5 * (mean0 - mean1) * (mean0 - mean1)
            if row + 1 == len(self.totals):
                self.totals.append([])
                self.variances.append([])
            self.totals[row + 1].append(merged)
            self.variances[row + 1].append(spread)
            del totals[:2], variances[:2]
            row += 1

    def detect(self) -> bool:
        """Count one tick; on a clock tick, drop old buckets while a cut shows a change."""
        self.tick += 1
        if self.tick % self.clock != 0 or self.width <= self.grace:
            return False
        changed = False
        while self._cut_once():
            changed = True
        return changed

    def _cut_once(self) -> bool:
        """Scan the cuts oldest first; at the first change drop the oldest bucket and say so."""
        n0, n1, u0, u1 = 0.0, self.width, 0.0, self.total
        rows = len(self.totals)
        for row in range(rows - 1, -1, -1):
            size = float(1 << row)
            totals = self.totals[row]
            last = len(totals) - 1
            for k, bucket in enumerate(totals):
                n0 += size
                n1 -= size
                u0 += bucket
                u1 -= bucket
                if row == 0 and k == last:
                    return False
                if (
                    n1 >= self.min_length
                    and n0 >= self.min_length
                    and self._is_cut(n0, n1, u0 / n0 - u1 / n1)
                ):
                    self._drop_oldest()
                    return True
        return False  # pragma: no cover - row 0 always holds the newest value, which exits

    def _is_cut(self, n0: float, n1: float, mean_gap: float) -> bool:
        log_term = math.log(2.0 * math.log(self.width) / self.delta)
        m = 1.0 / (n0 - self.min_length + 1.0) + 1.0 / (n1 - self.min_length + 1.0)
        square = 2.0 * m * (self.variance / self.width) * log_term
        if not square >= 0.0:  # pragma: no cover - a variance rounded below zero: NaN, no cut
            return False
        return abs(mean_gap) > math.sqrt(square) + 2.0 / 3.0 * log_term * m

    def _drop_oldest(self) -> None:
        row = len(self.totals) - 1
        size = float(1 << row)
        bucket_total = self.totals[row].pop(0)
        bucket_variance = self.variances[row].pop(0)
        bucket_mean = bucket_total / size
        self.width -= size
        self.total -= bucket_total
        window_mean = self.total / self.width
        gap = bucket_mean - window_mean
        self.variance -= bucket_variance + size * self.width * gap * gap / (size + self.width)
        if not self.totals[row]:
            self.totals.pop()
            self.variances.pop()

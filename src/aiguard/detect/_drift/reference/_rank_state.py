r"""Mergeable, exact per-feature state of a stream for the rank statistics.

What each statistic needs to be exact from merged state, with ``d`` distinct
reference values and ``m`` current values of a feature:

* **KS** (two-sample, scipy's ``ks_2samp``): the count of current values in
  each of the ``2d + 1`` *slots* of the sorted distinct reference values
  ``v_1 < ... < v_d``: ``(-inf, v_1)``, ``{v_1}``, ``(v_1, v_2)``, ``{v_2}``,
  ..., ``(v_d, inf)`` (ties with a reference value kept apart from the open
  interval next to it). Inside an open slot the reference ECDF is constant
  and the current ECDF rises, so ``F_ref - F_cur`` is extreme at the slot's
  ends: the running sums of the slot counts give ``D`` exactly. State:
  ``2d + 1`` integers, whatever ``m``; merge: addition.
* **Cramér-von Mises** (scipy's ``cramervonmises_2samp``, midranks): the
  slot counts give the pooled ranks of the reference values and of current
  values that are all distinct inside a slot, but a run of *equal* current
  values inside a slot takes a midrank, so the lengths of those runs (the
  current sample's ties) are needed too.
* **Anderson-Darling** (``anderson_ksamp``, midrank): the counts of each
  sample at every distinct pooled value, so again the current sample's
  distinct values and their multiplicities.
* **Wasserstein** and **energy**: ``integral |F_ref - F_cur|`` (squared for
  energy) inside a slot depends on *where* the current values lie, not only
  on how many there are.

So these four are exact only from the current sample itself: the state keeps
the current values (8 bytes per value and feature), merged by concatenation
(a multiset union: associative and commutative), sorted once when the
statistics are asked for. That is the exact path's cost; the alternative is
a second pass over the data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "KEPT_METHODS",
    "distinct_values",
    "ks_from_slots",
    "slot_counts",
    "sorted_slot_counts",
]

#: the rank statistics that need the current values kept (see the module doc)
KEPT_METHODS = frozenset({"cramervonmises", "anderson", "wasserstein", "energy"})


def distinct_values(
    column: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """The distinct values of a sorted NaN-free column and their multiplicities.

    Example:
        >>> values, counts = distinct_values(np.array([1.0, 1.0, 2.0, 5.0, 5.0, 5.0]))
        >>> values.tolist(), counts.tolist()
        ([1.0, 2.0, 5.0], [2, 1, 3])
    """
    # the column is sorted: a new value starts where it differs from its predecessor
    first = np.flatnonzero(np.r_[True, column[1:] != column[:-1]]) if column.size else column[:0]
    first = first.astype(np.intp)
    counts = np.diff(np.r_[first, column.size]).astype(np.int64)
    return column[first], counts


def slot_counts(distinct: NDArray[np.float64], values: NDArray[np.float64]) -> NDArray[np.int64]:
    """Counts of NaN-free *values* in the ``2d + 1`` slots of *distinct* (see the module doc).

    Example:
        >>> import numpy as np
        >>> slot_counts(np.array([1.0, 2.0]), np.array([0.5, 1.0, 1.5, 1.5, 2.0, 9.0])).tolist()
        [1, 1, 2, 1, 1]
    """
    return sorted_slot_counts(distinct, np.sort(values))


def sorted_slot_counts(
    distinct: NDArray[np.float64], ordered: NDArray[np.float64]
) -> NDArray[np.int64]:
    """:func:`slot_counts` of values already sorted.

    Sorted, the values are counted per slot by ``2 d`` searches of the slots'
    bounds (sorted queries: each search starts where the last ended), not by
    ``m`` unsorted searches.
    """
    bounds = np.empty(2 * distinct.size + 2, dtype=np.int64)
    bounds[0], bounds[-1] = 0, ordered.size
    bounds[1:-1:2] = np.searchsorted(ordered, distinct, side="left")  # before v_t
    bounds[2:-1:2] = np.searchsorted(ordered, distinct, side="right")  # up to v_t
    return np.diff(bounds)


def ks_from_slots(reference: NDArray[np.int64], current: NDArray[np.int64]) -> tuple[float, float]:
    """``max(F_ref - F_cur)`` and ``max(F_cur - F_ref)`` from slot counts of both samples.

    *reference* counts the reference in the same slots (its values are only
    in the ``{v_t}`` slots).
    """
    n, m = int(reference.sum()), int(current.sum())
    # in integers (n * m * D), so that the running sums are exact
    diff = np.cumsum(reference) * m - np.cumsum(current) * n
    return max(int(diff.max()), 0) / (n * m), max(int(-diff.min()), 0) / (n * m)

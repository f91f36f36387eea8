"""Bin edges of numeric columns, fitted on the reference, and their labels.

Binning rules (numeric columns, fitted on the reference):

* ``bins=int`` (default 10): quantile bins of the reference. Tied quantiles
  merge; when the reference has at most ``bins`` distinct values each value
  gets its own bin.
* ``bins="sturges"`` / ``"doane"``: ``np.histogram_bin_edges`` of the reference.
* explicit edges: a strictly increasing sequence of at least two finite numbers.
* Values outside the reference range go to the outer bins (no value is dropped).
* A constant reference (one distinct value ``c``) gets three bins: below ``c``,
  exactly ``c``, above ``c``, so that any change is visible.

Bins are closed on the left like ``np.histogram``: ``[e_i, e_{i+1})``. Only the
inner edges are kept: the bins are ``(-inf, e_0), [e_0, e_1), ..., [e_last, +inf)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from aiguard.errors import ConfigurationError, InvalidInputError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "BinsSpec",
    "bin_labels",
    "empty_error",
    "fit_inner_edges",
    "pad_edges",
    "sorted_quantiles",
    "validate_bins",
]

BinsSpec = Union[int, str, Sequence[float], "np.ndarray[Any, Any]"]


def validate_bins(bins: object) -> BinsSpec:
    """Return *bins* if it is a valid bins specification, else raise ConfigurationError."""
    if isinstance(bins, str):
        if bins not in {"sturges", "doane"}:
            raise ConfigurationError("bins", "an int, 'sturges', 'doane' or edges", bins)
        return bins
    if isinstance(bins, (bool, np.bool_)):
        raise ConfigurationError("bins", "an int, 'sturges', 'doane' or edges", bins)
    if isinstance(bins, (int, np.integer)):
        if bins < 1:
            raise ConfigurationError("bins", "a positive int", bins)
        return int(bins)
    try:
        edges = np.asarray(bins, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError("bins", "an int, 'sturges', 'doane' or edges", bins) from exc
    if edges.ndim != 1 or edges.size < 2 or not np.isfinite(edges).all():
        raise ConfigurationError("bins", "at least two finite edges", bins)
    if not (np.diff(edges) > 0).all():
        raise ConfigurationError("bins", "strictly increasing edges", bins)
    return edges


def sorted_quantiles(
    sorted_col: NDArray[np.float64], q: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``np.quantile(sorted_col, q)`` ("linear"), bit for bit, without a copy or a partition.

    The column is already sorted, so the order statistics are plain lookups;
    the interpolation repeats numpy's ``_lerp`` (including its switch to
    ``b - (b - a) (1 - t)`` for ``t >= 0.5``).
    """
    n = sorted_col.size
    virtual = (n - 1) * q
    above = virtual >= n - 1
    previous = np.where(above, -1.0, np.floor(virtual))
    gamma = virtual - previous
    lo = np.where(above, n - 1, previous).astype(np.intp)
    hi = np.where(above, n - 1, previous + 1).astype(np.intp)
    a, b = sorted_col[lo], sorted_col[hi]
    diff = b - a
    out: NDArray[np.float64] = np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)
    return out


def _more_distinct_than(sorted_col: NDArray[np.float64], bins: int) -> bool:
    """Whether a sorted column holds more than *bins* distinct values.

    A probe of ``4 * bins + 1`` evenly spaced values decides most columns
    without a pass over all of them (distinct values in the probe are distinct
    in the column); only when the probe is inconclusive is every value read.
    """
    n = sorted_col.size
    if n > 4 * bins + 1:
        probe = sorted_col[np.linspace(0, n - 1, 4 * bins + 1).astype(np.intp)]
        if np.count_nonzero(probe[1:] != probe[:-1]) + 1 > bins:
            return True
    return bool(np.count_nonzero(sorted_col[1:] != sorted_col[:-1]) + 1 > bins)


def fit_inner_edges(sorted_col: NDArray[np.float64], bins: BinsSpec) -> NDArray[np.float64]:
    """Inner bin edges of one reference column (sorted, NaN-free, non-empty).

    The bins are ``(-inf, e_0), [e_0, e_1), ..., [e_last, +inf)``.
    """
    if not isinstance(bins, (str, int)):
        explicit: NDArray[np.float64] = np.asarray(bins, dtype=np.float64)[1:-1].copy()
        return explicit
    lo, hi = sorted_col[0], sorted_col[-1]
    if lo == hi:
        return np.array([lo, np.nextafter(lo, np.inf)])
    if isinstance(bins, str):
        rule: NDArray[np.float64] = np.histogram_bin_edges(sorted_col, bins=bins)[1:-1].copy()
        return rule
    if not _more_distinct_than(sorted_col, bins):
        distinct = sorted_col[np.r_[True, sorted_col[1:] != sorted_col[:-1]]]
        each: NDArray[np.float64] = distinct[1:].copy()
        return each
    inner = np.unique(sorted_quantiles(sorted_col, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    kept: NDArray[np.float64] = inner[inner > lo]
    return kept


def pad_edges(inner: Sequence[NDArray[np.float64]]) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """Stack per-feature inner edges into ``(max_edges, n_features)`` padded with +inf.

    Returns the padded edges and the number of bins of each feature.
    """
    nbins = np.array([e.size + 1 for e in inner], dtype=np.intp)
    width = int(nbins.max()) - 1 if nbins.size else 0
    out = np.full((width, len(inner)), np.inf)
    for j, e in enumerate(inner):
        out[: e.size, j] = e
    return out, nbins


def bin_labels(edges: NDArray[np.float64]) -> tuple[str, ...]:
    """Readable labels of the bins between inner *edges* (as few digits as keep them apart)."""
    if edges.size == 0:
        return ("all",)
    for digits in range(3, 18):  # the fewest significant digits that keep edges apart
        text = [f"{e:.{digits}g}" for e in edges]
        if len(set(text)) == len(text):
            break
    inner = [f"[{a}, {b})" for a, b in itertools.pairwise(text)]
    return (f"< {text[0]}", *inner, f">= {text[-1]}")


def empty_error(argument: str, name: str) -> InvalidInputError:
    """The error for a column with no usable value."""
    return InvalidInputError(
        argument, "at least one non-missing value per column", f"none in {name!r}"
    )

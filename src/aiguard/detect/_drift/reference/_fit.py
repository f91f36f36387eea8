"""Fitting a reference: from a split data set to its :class:`FittedReference`.

Each numeric column is sorted once (NaN last); its bin edges, bin counts,
quantiles and moments are read off the sorted column. Each categorical
column's labels are counted with :func:`numpy.unique`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from aiguard.detect._drift._workers import resolve_workers
from aiguard.detect._drift.binned import (
    empty_error,
    fit_inner_edges,
    pad_edges,
    sorted_bin_counts,
    sorted_quantiles,
)
from aiguard.detect._drift.inputs import sort_samples
from aiguard.detect._drift.reference._fitted import FittedReference

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

    from aiguard.detect._drift.binned import BinsSpec
    from aiguard.detect._drift.inputs import SortedSamples, Table

__all__ = ["Layout", "fit_reference", "fit_sorted"]

_QUANTILES = np.array([0.05, 0.25, 0.5, 0.75, 0.95])


def fit_reference(
    table: Table, bins: BinsSpec, workers: int | None, *, overwrite: bool = False
) -> FittedReference:
    """Fit the reference state of *table* (``bins`` validated, ``workers`` checked).

    ``overwrite=True``: the numeric block is the caller's to sort in place.

    Raises:
        InvalidInputError: inf in a numeric column, or a column without any
            non-missing value (argument ``data``).
    """
    numeric_names = [table.names[j] for j in table.numeric_index]
    threads = resolve_workers(workers, table.numeric.size, len(numeric_names))
    ordered = sort_samples(  # NaN sorts last; inf is found here
        table.numeric,
        "data",
        nan_policy="omit",
        workers=threads,
        names=numeric_names,
        overwrite=overwrite,
    )
    categories, category_counts = [], []
    for labels in table.categorical:
        values, count = np.unique(labels, return_counts=True)
        categories.append(values)
        category_counts.append(count.astype(np.int64))
    return fit_sorted(
        table,
        bins=bins,
        ordered=ordered,
        categories=categories,
        category_counts=category_counts,
        categorical_missing=table.categorical_missing,
    )


class Layout(Protocol):
    """Which columns a fit holds (a :class:`~aiguard.detect._drift.inputs.Table`, a Dask state)."""

    @property
    def names(self) -> tuple[str, ...]:
        """Every feature name, in input order."""

    @property
    def numeric_index(self) -> Sequence[int]:
        """Positions in ``names`` of the numeric columns."""

    @property
    def categorical_index(self) -> Sequence[int]:
        """Positions in ``names`` of the categorical columns."""

    @property
    def n_rows(self) -> int:
        """The number of rows."""


def fit_sorted(
    layout: Layout,
    *,
    bins: BinsSpec,
    ordered: SortedSamples,
    categories: list[NDArray[Any]],
    category_counts: list[NDArray[np.int64]],
    categorical_missing: Sequence[int],
) -> FittedReference:
    """The fitted state from the sorted numeric columns and the category counts.

    What :func:`fit_reference` does after its sort; the Dask fit, which
    merges sorted chunks instead, ends here too, so both give the same state.

    Raises:
        InvalidInputError: a column without any non-missing value.
    """
    names, n_rows = layout.names, layout.n_rows
    numeric_index, categorical_index = layout.numeric_index, layout.categorical_index
    p = len(numeric_index)
    columns = [ordered.column(j) for j in range(p)]
    for col, pos in zip(columns, numeric_index, strict=True):
        if col.size == 0:
            raise empty_error("data", names[pos])
    for count, pos in zip(category_counts, categorical_index, strict=True):
        if count.size == 0:
            raise empty_error("data", names[pos])
    edges, nbins = pad_edges([fit_inner_edges(col, bins) for col in columns])
    missing = np.zeros(len(names), dtype=np.int64)
    missing[list(numeric_index)] = n_rows - ordered.counts
    missing[list(categorical_index)] = categorical_missing
    summary: list[dict[str, Any]] = [{} for _ in names]
    buffer = np.empty(n_rows)  # one work array for every column (no page faults per column)
    for pos, col in zip(numeric_index, columns, strict=True):
        summary[pos] = _numeric_summary(col, int(missing[pos]), buffer)
    for pos, values, count in zip(categorical_index, categories, category_counts, strict=True):
        summary[pos] = _categorical_summary(values, count, int(missing[pos]))
    return FittedReference(
        names=names,
        numeric_index=numeric_index,
        categorical_index=categorical_index,
        n_rows=n_rows,
        bins=bins,
        sorted_values=ordered.values,
        n_valid=ordered.counts,
        edges=edges,
        nbins=nbins,
        counts=sorted_bin_counts(ordered.values, ordered.counts, edges),
        missing=missing,
        categories=categories,
        category_counts=category_counts,
        summary=summary,
    )


def _numeric_summary(
    col: NDArray[np.float64], missing: int, buffer: NDArray[np.float64]
) -> dict[str, Any]:
    """Count, missing, moments, range and quantiles of one sorted NaN-free column.

    *buffer* is work space of at least ``col.size`` values.
    """
    q = sorted_quantiles(col, _QUANTILES)
    # numpy.std's two-pass algorithm; einsum, not BLAS (see rank._tie_free.einsum_dot), the
    # same sum the comparison path computes
    mean = float(col.sum() / col.size)
    centred = buffer[: col.size]
    np.subtract(col, mean, out=centred)
    with np.errstate(over="ignore", invalid="ignore"):  # |x| near 1e300 overflows x**2
        std = float(np.sqrt(np.einsum("i,i->", centred, centred) / col.size))
    return {
        "kind": "numeric",
        "count": int(col.size),
        "missing": missing,
        "mean": mean,
        "std": std,
        "min": float(col[0]),
        "max": float(col[-1]),
        "quantiles": {
            key: float(value)
            for key, value in zip(("5%", "25%", "50%", "75%", "95%"), q, strict=True)
        },
    }


def _categorical_summary(
    categories: NDArray[np.str_], counts: NDArray[np.int64], missing: int
) -> dict[str, Any]:
    """Count, missing, number of categories and the most frequent one."""
    top = int(np.argmax(counts))
    return {
        "kind": "categorical",
        "count": int(counts.sum()),
        "missing": missing,
        "categories": len(counts),
        "top": str(categories[top]),
        "top_share": float(counts[top] / counts.sum()),
    }

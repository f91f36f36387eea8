"""Fitting a reference from a Dask collection: sort each chunk, merge sorted chunks in a tree.

Map: each row chunk (a worker's task) is split like an in-memory table and
its numeric columns sorted (NaN last), its categories counted. Reduce:
sorted columns are merged (``numpy.sort(kind="stable")`` of concatenated
sorted runs, a merge), category counts added, missing counts added, a few
states at a time. The client receives the merged state and ends with
:func:`~aiguard.detect._drift.reference.fit_sorted`, the same code that
ends an in-memory fit, so the fitted state is the same (a multiset has
one sorted order).

The fitted reference holds every reference value sorted (what the rank
statistics need), so it is on the client at the end, as in memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from aiguard.detect._drift.dask._collections import chunks, need_dask, tree_reduce
from aiguard.detect._drift.inputs import SortedSamples, as_table, sort_samples
from aiguard.detect._drift.reference._fit import fit_sorted
from aiguard.errors import InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

    from aiguard.detect._drift.binned import BinsSpec
    from aiguard.detect._drift.reference._fit import Layout
    from aiguard.detect._drift.reference._fitted import FittedReference

__all__ = ["fit_dask"]


class FitState:
    """The mergeable state of a fit: sorted numeric columns and category counts."""

    __slots__ = (
        "categorical_index",
        "categorical_missing",
        "categories",
        "category_counts",
        "counts",
        "n_rows",
        "names",
        "numeric_index",
        "values",
    )

    def __init__(
        self,
        layout: Layout,
        *,
        n_rows: int,
        values: NDArray[np.float64],
        counts: NDArray[np.int64],
        categories: list[tuple[NDArray[Any], NDArray[np.int64]]],
        categorical_missing: list[int],
    ) -> None:
        self.names: tuple[str, ...] = layout.names
        self.numeric_index: tuple[int, ...] = tuple(layout.numeric_index)
        self.categorical_index: tuple[int, ...] = tuple(layout.categorical_index)
        self.values = values
        self.counts = counts
        self.n_rows = n_rows
        self.categories = [c for c, _ in categories]
        self.category_counts = [n for _, n in categories]
        self.categorical_missing = categorical_missing

    def __getstate__(self) -> dict[str, Any]:
        """The slots, for pickling to and between workers."""
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore the slots."""
        for name, value in state.items():
            setattr(self, name, value)


def fit_chunk(
    chunk: Any,
    *,
    feature_names: Sequence[str] | None,
    categorical: bool | Sequence[int | str] | None,
) -> FitState | None:
    """The fit state of one row chunk (None for an empty one); runs on a worker."""
    if len(chunk) == 0:
        return None
    table = as_table(
        chunk,
        argument="data",
        feature_names=feature_names,
        categorical=categorical,
        check_finite=False,
    )
    ordered = sort_samples(
        table.numeric,
        "data",
        nan_policy="omit",
        names=[table.names[j] for j in table.numeric_index],
        overwrite=True,
    )
    return FitState(
        table,
        n_rows=table.n_rows,
        values=ordered.values,
        counts=ordered.counts,
        categories=[_unique(labels) for labels in table.categorical],
        categorical_missing=list(table.categorical_missing),
    )


def _unique(labels: NDArray[Any]) -> tuple[NDArray[Any], NDArray[np.int64]]:
    values, counts = np.unique(labels, return_counts=True)
    return values, counts.astype(np.int64)


def merge_fit(*states: FitState | None) -> FitState | None:
    """One state from several (sorted columns merged, counts added); runs on a worker.

    Raises:
        InvalidInputError: chunks whose columns differ in names or kinds.
    """
    given = [s for s in states if s is not None]
    if len(given) <= 1:
        return given[0] if given else None
    first = given[0]
    for s in given[1:]:
        if (s.names, s.numeric_index) != (first.names, first.numeric_index):
            raise InvalidInputError(
                "data",
                "the same columns, of the same kinds, in every chunk",
                f"{list(first.names)} and {list(s.names)}",
            )
    n = sum(s.n_rows for s in given)
    p = len(first.numeric_index)
    values = np.full((n, p), np.nan, order="F")
    counts = np.zeros(p, dtype=np.int64)
    for j in range(p):
        merged = np.concatenate([s.values[: s.counts[j], j] for s in given])
        merged.sort(kind="stable")  # sorted runs: a merge
        values[: merged.size, j] = merged
        counts[j] = merged.size
    cats = []
    for i in range(len(first.categorical_index)):
        labels = np.concatenate([s.categories[i] for s in given])
        weights = np.concatenate([s.category_counts[i] for s in given])
        union, where = np.unique(labels, return_inverse=True)
        cats.append((union, np.bincount(where, weights, union.size).astype(np.int64)))
    return FitState(
        first,
        n_rows=n,
        values=values,
        counts=counts,
        categories=cats,
        categorical_missing=[
            sum(s.categorical_missing[i] for s in given) for i in range(len(cats))
        ],
    )


def fit_dask(
    data: Any,
    *,
    feature_names: Sequence[str] | None,
    categorical: bool | Sequence[int | str] | None,
    bins: BinsSpec,
) -> FittedReference:
    """Fit a reference of a Dask array or DataFrame on the current Dask scheduler.

    Raises:
        InvalidInputError: as :class:`~aiguard.drift.Reference`, or no rows.
        ConfigurationError: bad ``feature_names`` or ``categorical``.
    """
    dask = need_dask("Reference of a Dask collection")
    names = None if feature_names is None else [str(n) for n in feature_names]
    parts = [
        dask.delayed(fit_chunk, pure=True)(chunk, feature_names=names, categorical=categorical)
        for chunk in chunks(data, "data")
    ]
    (state,) = dask.compute(tree_reduce(parts, merge_fit))
    if state is None:
        raise InvalidInputError("data", "non-empty", "0 rows")
    return fit_sorted(
        state,
        bins=bins,
        ordered=SortedSamples(
            values=state.values,
            counts=state.counts,
            has_nan=bool((state.counts < state.n_rows).any()),
        ),
        categories=state.categories,
        category_counts=state.category_counts,
        categorical_missing=state.categorical_missing,
    )

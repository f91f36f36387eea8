"""The fitted state of a drift reference, as one frozen value object.

:class:`FittedReference` holds everything a comparison needs from the
reference data. It has one constructor, which checks that the arrays fit
together, and two makers: :func:`~._fit.fit_reference` (from data) and
``read_reference`` (from a saved file). Everything that reads the state
(``compare``, ``save``, the accumulator) reads these public fields.

Layout, for ``k`` features of which ``p`` are numeric, and ``n`` reference rows:

* ``sorted_values`` ``(n, p)`` float64, Fortran order: each numeric column
  sorted ascending, its ``n - n_valid[j]`` missing values (NaN) last.
* ``edges`` ``(e, p)`` float64: each numeric column's inner bin edges, padded
  with +inf to the longest; column ``j`` has ``nbins[j] - 1`` real edges and
  its bins are ``(-inf, e_0), [e_0, e_1), ..., [e_last, +inf)``.
* ``counts`` ``(p, e + 1)`` int64: the reference's count in each bin (0 in padding).
* ``categories[i]`` / ``category_counts[i]``: the sorted labels of the ``i``-th
  categorical column and their counts.
* ``missing`` ``(k,)`` int64 and ``summary`` (``k`` dicts), in feature order.

The arrays are read-only views: the constructor does not copy (the sorted
columns are as large as the data), so the makers hand over arrays that nothing
else writes. ``tile_cache`` is not part of the value: a cache of the edges
tiled for :func:`~aiguard.detect._drift.binned.scan_bin_counts`, filled by the
first count.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from aiguard.detect._drift.binned import BinsSpec, bin_labels, validate_bins
from aiguard.detect._drift.inputs import SortedSamples, Table, as_table
from aiguard.detect._drift.reference._rank_state import distinct_values
from aiguard.errors import InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Container, Sequence

    from numpy.typing import DTypeLike, NDArray

__all__ = ["FittedReference"]


def _read_only(value: Any, dtype: DTypeLike) -> NDArray[Any]:
    """A read-only array of *dtype* (a view: the caller's array stays writable)."""
    arr: NDArray[Any] = np.asarray(value, dtype=dtype).view()
    arr.flags.writeable = False
    return arr


def _floats(value: Any) -> NDArray[np.float64]:
    return _read_only(value, np.float64)


def _ints(value: Any) -> NDArray[np.int64]:
    return _read_only(value, np.int64)


def _bin_numbers(value: Any) -> NDArray[np.intp]:
    return _read_only(value, np.intp)


def _labels(value: Sequence[Any]) -> tuple[NDArray[np.str_], ...]:
    return tuple(_read_only(v, np.str_) for v in value)


def _label_counts(value: Sequence[Any]) -> tuple[NDArray[np.int64], ...]:
    return tuple(_ints(v) for v in value)


def _names(value: Sequence[Any]) -> tuple[str, ...]:
    return tuple(str(v) for v in value)


def _bins(value: object) -> BinsSpec:
    spec = validate_bins(value)
    return spec if isinstance(spec, int | str) else _floats(spec)


def _positions(value: Sequence[Any]) -> tuple[int, ...]:
    return tuple(int(v) for v in value)


def _summary(value: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
    return tuple(dict(s) for s in value)


def _require(ok: object, field: str, expected: str, got: object) -> None:
    if not ok:
        raise InvalidInputError(field, expected, got)


@attrs.frozen(eq=False, repr=False, kw_only=True)
class FittedReference:
    """What a fitted :class:`~aiguard.drift.Reference` knows about its data (see the module doc).

    Attributes:
        names: every feature's name, in column order.
        numeric_index: positions in ``names`` of the numeric features, ascending.
        categorical_index: positions in ``names`` of the categorical ones, ascending.
        n_rows: number of reference rows (missing values included).
        bins: the binning rule the edges came from (an int, ``"sturges"``,
            ``"doane"``, or explicit edges).
        sorted_values: ``(n_rows, p)`` sorted numeric columns, NaN last.
        n_valid: ``(p,)`` non-missing values per numeric column (at least 1).
        edges: ``(e, p)`` inner bin edges padded with +inf.
        nbins: ``(p,)`` number of bins per numeric column.
        counts: ``(p, e + 1)`` reference bin counts.
        missing: ``(k,)`` missing values per feature.
        categories: sorted labels of each categorical feature.
        category_counts: the count of each of those labels.
        summary: per feature, the summary statistics :attr:`Reference.summary` shows.
        tile_cache: edges tiled by chunk length for the bin counts (a cache, not a value).

    Raises:
        InvalidInputError: the fields do not fit together (naming the field).
    """

    names: tuple[str, ...] = attrs.field(converter=_names)
    numeric_index: tuple[int, ...] = attrs.field(converter=_positions)
    categorical_index: tuple[int, ...] = attrs.field(converter=_positions)
    n_rows: int = attrs.field(converter=int)
    bins: BinsSpec = attrs.field(converter=_bins)
    sorted_values: NDArray[np.float64] = attrs.field(converter=_floats)
    n_valid: NDArray[np.int64] = attrs.field(converter=_ints)
    edges: NDArray[np.float64] = attrs.field(converter=_floats)
    nbins: NDArray[np.intp] = attrs.field(converter=_bin_numbers)
    counts: NDArray[np.int64] = attrs.field(converter=_ints)
    missing: NDArray[np.int64] = attrs.field(converter=_ints)
    categories: tuple[NDArray[np.str_], ...] = attrs.field(converter=_labels)
    category_counts: tuple[NDArray[np.int64], ...] = attrs.field(converter=_label_counts)
    summary: tuple[dict[str, Any], ...] = attrs.field(converter=_summary)
    tile_cache: dict[int, NDArray[np.float64]] = attrs.field(init=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        """Check that the fields describe one data set."""
        self._check_features()
        self._check_numeric()
        self._check_categorical()

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle and copy through the constructor, so a copy is checked and read-only too."""
        fields = {f.name: getattr(self, f.name) for f in attrs.fields(type(self)) if f.init}
        return (_rebuild, (fields,))

    def _check_features(self) -> None:
        k = len(self.names)
        _require(k and len(set(self.names)) == k, "names", "unique feature names", self.names)
        positions = sorted((*self.numeric_index, *self.categorical_index))
        for field in ("numeric_index", "categorical_index"):
            index = getattr(self, field)
            _require(list(index) == sorted(index), field, "ascending positions", index)
        _require(
            positions == list(range(k)),
            "categorical_index",
            f"with numeric_index, each of the {k} feature positions once",
            self.categorical_index,
        )
        _require(self.n_rows >= 1, "n_rows", "at least 1", self.n_rows)
        _require(self.missing.shape == (k,), "missing", f"shape ({k},)", self.missing.shape)
        _require(len(self.summary) == k, "summary", f"{k} entries", len(self.summary))

    def _check_numeric(self) -> None:
        p, n = len(self.numeric_index), self.n_rows
        values, edges = self.sorted_values, self.edges
        _require(values.shape == (n, p), "sorted_values", f"shape ({n}, {p})", values.shape)
        _require(
            self.n_valid.shape == (p,) and ((self.n_valid >= 1) & (self.n_valid <= n)).all(),
            "n_valid",
            f"{p} counts in [1, {n}]",
            self.n_valid,
        )
        _require(edges.ndim == 2 and edges.shape[1] == p, "edges", f"shape (e, {p})", edges.shape)
        e = edges.shape[0]
        _require(
            self.nbins.shape == (p,) and ((self.nbins >= 1) & (self.nbins <= e + 1)).all(),
            "nbins",
            f"{p} numbers of bins in [1, {e + 1}]",
            self.nbins,
        )
        shape = (p, e + 1)
        _require(self.counts.shape == shape, "counts", f"shape {shape}", self.counts.shape)

    def _check_categorical(self) -> None:
        c = len(self.categorical_index)
        sizes = [(a.ndim, a.size) for a in self.categories]
        _require(
            len(sizes) == c and all(ndim == 1 and size >= 1 for ndim, size in sizes),
            "categories",
            f"{c} non-empty 1-D label arrays",
            sizes,
        )
        count_sizes = [(a.ndim, a.size) for a in self.category_counts]
        _require(
            count_sizes == sizes, "category_counts", f"one count per category {sizes}", count_sizes
        )

    # --- derived views ------------------------------------------------------------------------

    @property
    def n_features(self) -> int:
        """Number of features."""
        return len(self.names)

    @functools.cached_property
    def kinds(self) -> tuple[str, ...]:
        """``"numeric"`` or ``"categorical"`` for each feature."""
        kinds = ["numeric"] * len(self.names)
        for pos in self.categorical_index:
            kinds[pos] = "categorical"
        return tuple(kinds)

    @functools.cached_property
    def numeric_names(self) -> tuple[str, ...]:
        """Names of the numeric features, in the order of the numeric columns."""
        return tuple(self.names[j] for j in self.numeric_index)

    @functools.cached_property
    def feature_nbins(self) -> NDArray[np.intp]:
        """Bins of each feature in feature order (categories for categorical ones)."""
        out = np.zeros(len(self.names), dtype=np.intp)
        out[list(self.numeric_index)] = self.nbins
        out[list(self.categorical_index)] = [c.size for c in self.categories]
        out.flags.writeable = False
        return out

    @functools.cached_property
    def bin_labels(self) -> tuple[tuple[str, ...], ...]:
        """Each numeric feature's bin labels (``"< 1.5"``, ``"[1.5, 2)"``, ...)."""
        return tuple(bin_labels(self.inner_edges(i)) for i in range(len(self.numeric_index)))

    @functools.cached_property
    def std(self) -> NDArray[np.float64]:
        """Standard deviation (ddof=0) of each numeric column's non-missing values."""
        return np.array([self.summary[pos]["std"] for pos in self.numeric_index], dtype=np.float64)

    @functools.cached_property
    def sorted_samples(self) -> SortedSamples:
        """The sorted numeric columns as the rank statistics take them."""
        return SortedSamples(
            values=self.sorted_values,
            counts=self.n_valid,
            has_nan=bool((self.n_valid < self.n_rows).any()),
        )

    @functools.cached_property
    def distinct(self) -> tuple[tuple[NDArray[np.float64], NDArray[np.int64]], ...]:
        """Each numeric column's distinct values and multiplicities (the KS slots' bounds)."""
        return tuple(distinct_values(self.column(i)) for i in range(len(self.numeric_index)))

    def inner_edges(self, i: int) -> NDArray[np.float64]:
        """The real inner edges of the ``i``-th numeric column (a read-only view)."""
        return self.edges[: int(self.nbins[i]) - 1, i]

    def column(self, i: int) -> NDArray[np.float64]:
        """The sorted non-missing values of the ``i``-th numeric column (a read-only view)."""
        return self.sorted_values[: int(self.n_valid[i]), i]

    def same_bins(self, other: FittedReference) -> bool:
        """Whether *other* has the same features, bin edges and categories."""
        return (
            self.names == other.names
            and self.numeric_index == other.numeric_index
            and np.array_equal(self.edges, other.edges)
            and len(self.categories) == len(other.categories)
            and all(
                np.array_equal(a, b) for a, b in zip(self.categories, other.categories, strict=True)
            )
        )

    def subset(self, start: int, stop: int) -> FittedReference:
        """The state of features ``start`` to ``stop - 1`` alone.

        Its sorted columns are a view (no copy: a block of a column-major
        state is contiguous). Of a memory-mapped state, the pages the block
        reads stay resident until the caller releases them
        (:func:`~aiguard.detect._drift.scale.release`), which the blocked
        comparison does after each block.
        """
        num = [i for i, pos in enumerate(self.numeric_index) if start <= pos < stop]
        cat = [i for i, pos in enumerate(self.categorical_index) if start <= pos < stop]
        cols = slice(num[0], num[-1] + 1) if num else slice(0, 0)
        values = self.sorted_values[:, cols]
        return FittedReference(
            names=self.names[start:stop],
            numeric_index=[self.numeric_index[i] - start for i in num],
            categorical_index=[self.categorical_index[i] - start for i in cat],
            n_rows=self.n_rows,
            bins=self.bins,
            sorted_values=values,
            n_valid=self.n_valid[cols],
            edges=self.edges[:, cols],
            nbins=self.nbins[cols],
            counts=self.counts[cols],
            missing=self.missing[start:stop],
            categories=[self.categories[i] for i in cat],
            category_counts=[self.category_counts[i] for i in cat],
            summary=self.summary[start:stop],
        )

    def __repr__(self) -> str:
        """Show the shape and kinds."""
        return (
            f"FittedReference(n_rows={self.n_rows}, features={len(self.names)}, "
            f"numeric={len(self.numeric_index)}, categorical={len(self.categorical_index)})"
        )

    # --- data shaped like the reference ---------------------------------------------------------

    def table(self, current: Any, *, argument: str = "current", check_finite: bool = True) -> Table:
        """Split *current* like the reference (same features, same kinds).

        ``check_finite=False``: see :func:`~aiguard.detect._drift.inputs.as_table`.

        Raises:
            InvalidInputError: columns missing or in the wrong number, or strings
                in a numeric feature (naming *argument*).
        """
        names = self.names
        current = self._align(current, argument)
        table = as_table(
            current,
            argument=argument,
            feature_names=names,
            categorical=list(self.categorical_index),
            check_finite=check_finite,
        )
        if table.numeric_index != self.numeric_index:
            wrong = sorted(set(table.categorical_index) - set(self.categorical_index))
            raise InvalidInputError(
                argument, "numeric like the reference", f"strings in {[names[j] for j in wrong]}"
            )
        return table

    def _align(self, current: Any, argument: str) -> Any:
        """*current* with the reference's columns in its order, or raise naming *argument*."""
        names = list(self.names)
        columns = getattr(current, "columns", None)
        if isinstance(current, Mapping):
            _require_columns(names, current, argument)
            return {n: current[n] for n in names}
        if columns is not None and hasattr(current, "dtypes"):
            given = [str(c) for c in columns]
            _require_columns(names, given, argument)
            return current if given == names else current[names]
        arr = np.asarray(current)
        width = 1 if arr.ndim == 1 else (arr.shape[1] if arr.ndim == 2 else -1)
        if width not in (-1, len(names)):
            raise InvalidInputError(
                argument, f"{len(names)} feature columns like the reference", f"{width} columns"
            )
        return current


def _rebuild(fields: dict[str, Any]) -> FittedReference:
    return FittedReference(**fields)


def _require_columns(names: list[str], given: Container[str], argument: str) -> None:
    absent = [n for n in names if n not in given]
    if absent:
        raise InvalidInputError(argument, f"the reference's columns {names}", f"missing {absent}")

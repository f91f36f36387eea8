"""A reference data set fitted once: sorted columns, bin edges, category maps.

A :class:`Reference` holds everything a comparison needs from the training
data, so comparing a current batch costs one sort (rank statistics) or one
read (binned statistics) of the *current* data only. It saves to a single
``.npz`` file (arrays plus a JSON header, no pickle) that a training job can
ship beside the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from aiguard.detect._drift._bins import (
    BinsSpec,
    bin_labels,
    empty_error,
    fit_inner_edges,
    pad_edges,
    sorted_bin_counts,
    sorted_quantiles,
    validate_bins,
)
from aiguard.detect._drift._columns import Table, as_table
from aiguard.detect._drift._common import sort_samples
from aiguard.detect._drift._workers import check_workers, resolve_workers
from aiguard.errors import InvalidInputError

if TYPE_CHECKING:
    import os
    from collections.abc import Sequence

    from numpy.typing import NDArray

    from aiguard.detect._drift._accumulator import Accumulator
    from aiguard.detect._drift._report import DriftReport

__all__ = ["Reference"]


class Reference:
    """A reference data set fitted once for fast, repeated drift comparisons.

    Fitting sorts each numeric column, computes its bin edges (see
    :func:`aiguard.drift.psi` for the binning rules), maps each categorical
    column's categories to counts and records summary statistics. Compare a
    current data set with :meth:`compare`, stream batches into
    :meth:`accumulator`, ship it with :meth:`save` / :meth:`load`.

    Args:
        data: 2-D array-like, samples in rows and features in columns (or 1-D
            for one feature); a pandas or polars DataFrame gives the feature
            names and its ``object`` / ``category`` / ``string`` columns are
            categorical.
        feature_names: names of the columns (default: the frame's column
            names, else ``x0, x1, ...``).
        categorical: ``True`` (every column), or the names / indices of the
            categorical columns; string columns are always categorical.
        bins: quantile bins of the reference (int, default 10), ``"sturges"``,
            ``"doane"``, or explicit edges shared by every numeric column.
        workers: threads sorting the numeric columns; None: one per core (up to
            8) from 2^20 values on, else 1 (see :meth:`compare`).

    Raises:
        InvalidInputError: empty data, wrong ndim, inf, a column with no
            non-missing value, mixed types in an object column.
        ConfigurationError: invalid ``bins``, ``feature_names`` or ``categorical``.

    Example:
        >>> import numpy as np
        >>> from aiguard.drift import Reference
        >>> rng = np.random.default_rng(0)
        >>> ref = Reference(rng.normal(size=(1000, 2)), feature_names=["age", "income"])
        >>> ref.feature_names, ref.n_rows, ref.nbins.tolist()
        (('age', 'income'), 1000, [10, 10])
    """

    __slots__ = (
        "_bins",
        "_cat_counts",
        "_cat_index",
        "_categories",
        "_counts",
        "_edges",
        "_labels",
        "_missing",
        "_n_rows",
        "_n_valid",
        "_names",
        "_nbins",
        "_num_index",
        "_sorted",
        "_summary",
        "_tile_cache",
    )

    def __init__(
        self,
        data: Any,
        *,
        feature_names: Sequence[str] | None = None,
        categorical: bool | Sequence[int | str] | None = None,
        bins: BinsSpec = 10,
        workers: int | None = None,
    ) -> None:
        bins = validate_bins(bins)
        workers = check_workers(workers)
        # inf is found by the sort in _fit (one pass fewer than checking here)
        table = as_table(
            data,
            argument="data",
            feature_names=feature_names,
            categorical=categorical,
            check_finite=False,
        )
        self._fit(table, bins, workers)

    def _fit(self, table: Table, bins: BinsSpec, workers: int | None) -> None:
        self._tile_cache: dict[int, NDArray[np.float64]] = {}  # edges tiled by bin_counts
        self._labels: tuple[tuple[str, ...], ...] | None = None
        self._bins = bins
        self._names = table.names
        self._n_rows = table.n_rows
        self._num_index = table.numeric_index
        self._cat_index = table.categorical_index
        names = [table.names[j] for j in table.numeric_index]
        threads = resolve_workers(workers, table.numeric.size, len(names))
        ordered = sort_samples(  # NaN sorts last
            table.numeric, "data", nan_policy="omit", workers=threads, names=names
        )
        self._sorted = ordered.values
        self._n_valid = ordered.counts
        inner = []
        for j, name in enumerate(self._numeric_names):
            col = self._sorted[: self._n_valid[j], j]
            if col.size == 0:
                raise empty_error("data", name)
            inner.append(fit_inner_edges(col, bins))
        self._edges, self._nbins = pad_edges(inner)
        self._counts = sorted_bin_counts(self._sorted, self._n_valid, self._edges)
        self._categories: tuple[NDArray[np.str_], ...] = ()
        cats, counts = [], []
        for j, labels in enumerate(table.categorical):
            if labels.size == 0:
                raise empty_error("data", table.names[table.categorical_index[j]])
            values, count = np.unique(labels, return_counts=True)
            cats.append(values)
            counts.append(count.astype(np.int64))
        self._categories = tuple(cats)
        self._cat_counts = tuple(counts)
        missing = np.zeros(len(self._names), dtype=np.int64)
        missing[list(self._num_index)] = table.n_rows - self._n_valid
        missing[list(self._cat_index)] = table.categorical_missing
        self._missing = missing
        self._summary = self._summaries()

    @property
    def _bin_labels(self) -> tuple[tuple[str, ...], ...]:
        """Each numeric feature's bin labels (computed once)."""
        if self._labels is None:
            self._labels = tuple(
                bin_labels(self._edges[: int(nb) - 1, i]) for i, nb in enumerate(self._nbins)
            )
        return self._labels

    @property
    def _std(self) -> NDArray[np.float64]:
        """Standard deviation (ddof=0) of each numeric feature's non-missing values."""
        return np.array([self._summary[pos]["std"] for pos in self._num_index], dtype=np.float64)

    @property
    def _numeric_names(self) -> list[str]:
        return [self._names[j] for j in self._num_index]

    def _summaries(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [{} for _ in self._names]
        dev = np.empty(self._sorted.shape[0])
        for j, pos in enumerate(self._num_index):
            col = self._sorted[: self._n_valid[j], j]
            q = sorted_quantiles(col, np.array([0.05, 0.25, 0.5, 0.75, 0.95]))
            # numpy.std's two-pass algorithm, in one reused buffer; einsum, not BLAS
            # (see _merge._einsum_dot), the same sum the comparison path computes
            mean = float(col.sum() / col.size)
            centred = dev[: col.size]
            np.subtract(col, mean, out=centred)
            with np.errstate(over="ignore", invalid="ignore"):  # |x| near 1e300 overflows x**2
                std = float(np.sqrt(np.einsum("i,i->", centred, centred) / col.size))
            out[pos] = {
                "kind": "numeric",
                "count": int(col.size),
                "missing": int(self._missing[pos]),
                "mean": mean,
                "std": std,
                "min": float(col[0]),
                "max": float(col[-1]),
                "quantiles": {"5%": q[0], "25%": q[1], "50%": q[2], "75%": q[3], "95%": q[4]},
            }
            out[pos]["quantiles"] = {k: float(v) for k, v in out[pos]["quantiles"].items()}
        for j, pos in enumerate(self._cat_index):
            counts = self._cat_counts[j]
            top = int(np.argmax(counts))
            out[pos] = {
                "kind": "categorical",
                "count": int(counts.sum()),
                "missing": int(self._missing[pos]),
                "categories": len(counts),
                "top": str(self._categories[j][top]),
                "top_share": float(counts[top] / counts.sum()),
            }
        return out

    # --- read-only views ---------------------------------------------------------------------

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the features, in column order."""
        return self._names

    @property
    def n_features(self) -> int:
        """Number of features."""
        return len(self._names)

    @property
    def n_rows(self) -> int:
        """Number of reference rows (missing values included)."""
        return self._n_rows

    @property
    def kinds(self) -> tuple[str, ...]:
        """``"numeric"`` or ``"categorical"`` for each feature."""
        kinds = ["numeric"] * len(self._names)
        for pos in self._cat_index:
            kinds[pos] = "categorical"
        return tuple(kinds)

    @property
    def nbins(self) -> NDArray[np.intp]:
        """Number of bins of each feature (categories for categorical ones)."""
        out = np.zeros(len(self._names), dtype=np.intp)
        out[list(self._num_index)] = self._nbins
        out[list(self._cat_index)] = [c.size for c in self._categories]
        return out

    @property
    def summary(self) -> dict[str, dict[str, Any]]:
        """Summary statistics of each feature (count, missing, mean, std, quantiles, ...)."""
        return {name: dict(s) for name, s in zip(self._names, self._summary, strict=True)}

    def edges(self, feature: str) -> NDArray[np.float64]:
        """Inner bin edges of a numeric feature.

        The bins are ``(-inf, e0), [e0, e1), ..., [e_last, inf)``.

        Example:
            >>> import numpy as np
            >>> from aiguard.drift import Reference
            >>> Reference(np.arange(100.0), bins=4).edges("x0").tolist()
            [24.75, 49.5, 74.25]
        """
        pos = self._position(feature)
        if pos not in self._num_index:
            raise InvalidInputError("feature", "a numeric feature", feature)
        j = self._num_index.index(pos)
        edges: NDArray[np.float64] = self._edges[: self._nbins[j] - 1, j].copy()
        return edges

    def categories(self, feature: str) -> tuple[str, ...]:
        """The reference's categories of a categorical feature, sorted.

        Example:
            >>> import numpy as np
            >>> from aiguard.drift import Reference
            >>> Reference(np.array(["b", "a", "b"])).categories("x0")
            ('a', 'b')
        """
        pos = self._position(feature)
        if pos not in self._cat_index:
            raise InvalidInputError("feature", "a categorical feature", feature)
        return tuple(str(c) for c in self._categories[self._cat_index.index(pos)])

    def _position(self, feature: str) -> int:
        if feature not in self._names:
            raise InvalidInputError("feature", f"one of {list(self._names)}", repr(feature))
        return self._names.index(feature)

    # --- comparisons ----------------------------------------------------------------------------

    def table(self, current: Any, *, argument: str = "current", check_finite: bool = True) -> Table:
        """Split *current* like the reference (same features, same kinds).

        ``check_finite=False``: see :func:`~aiguard.detect._drift._columns.as_table`.
        """
        names = getattr(current, "columns", None)
        if isinstance(current, Mapping):
            missing = [n for n in self._names if n not in current]
            if missing:
                raise InvalidInputError(
                    argument, f"the reference's columns {list(self._names)}", f"missing {missing}"
                )
            current = {n: current[n] for n in self._names}
        elif names is not None and hasattr(current, "dtypes"):
            names = [str(c) for c in names]
            missing = [n for n in self._names if n not in names]
            if missing:
                raise InvalidInputError(
                    argument, f"the reference's columns {list(self._names)}", f"missing {missing}"
                )
            if names != list(self._names):
                current = current[list(self._names)]
        else:
            arr = np.asarray(current)
            width = 1 if arr.ndim == 1 else (arr.shape[1] if arr.ndim == 2 else -1)
            if width not in (-1, len(self._names)):
                raise InvalidInputError(
                    argument,
                    f"{len(self._names)} feature columns like the reference",
                    f"{width} columns",
                )
        table = as_table(
            current,
            argument=argument,
            feature_names=self._names,
            categorical=list(self._cat_index),
            check_finite=check_finite,
        )
        if table.numeric_index != self._num_index:
            wrong = sorted(set(table.categorical_index) - set(self._cat_index))
            raise InvalidInputError(
                argument,
                "numeric like the reference",
                f"strings in {[self._names[j] for j in wrong]}",
            )
        return table

    def accumulator(self) -> Accumulator:
        """An empty, mergeable bin-count accumulator on this reference's bins.

        Example:
            >>> import numpy as np
            >>> from aiguard.drift import Reference
            >>> rng = np.random.default_rng(0)
            >>> acc = Reference(rng.normal(size=(1000, 2))).accumulator()
            >>> acc.update(rng.normal(size=(100, 2)))
            >>> acc.n_rows
            100
        """
        from aiguard.detect._drift._accumulator import Accumulator  # noqa: PLC0415 - cycle

        return Accumulator(self)

    def compare(
        self,
        current: Any,
        *,
        methods: Sequence[str] | None = None,
        alpha: float = 0.05,
        correction: str | None = "holm",
        min_effect: float | None = None,
        thresholds: dict[str, float] | None = None,
        eps: float = 1e-4,
        compat: str | None = None,
        workers: int | None = None,
    ) -> DriftReport:
        """Compare *current* to this reference.

        Args:
            current: data with the same features (DataFrames are matched by column name).
            methods: statistics to compute (default ``("ks", "chi2", "psi")``); each
                applies to the kinds it supports: rank and distance statistics to
                numeric features, ``chi2`` / ``ztest`` to categorical ones, the
                binned ones to both.
            alpha: significance level of the tests.
            correction: multiple-testing correction across features
                (``"bonferroni"``, ``"holm"``, ``"bh"``, ``"by"`` or None).
            min_effect: a test only flags drift when its statistic also reaches this.
            thresholds: per-method drift thresholds for the distance statistics.
            eps: the epsilon floor of PSI and KL.
            compat: ``"evidently"`` for Evidently 0.7's binned numbers.
            workers: threads for the rank statistics (sorting and merging blocks of
                features; numpy releases the GIL). None: one per core, up to 8, when
                reference and current hold at least 2^20 values together, else 1.
                ``workers=1`` never starts a thread. The numbers do not depend on it.

        Returns:
            A :class:`~aiguard.drift.DriftReport`.

        Example:
            >>> import numpy as np
            >>> from aiguard.drift import Reference
            >>> rng = np.random.default_rng(0)
            >>> ref = Reference(rng.normal(size=(2000, 3)), feature_names=["a", "b", "c"])
            >>> cur = rng.normal(size=(1000, 3))
            >>> cur[:, 1] += 1.0
            >>> report = ref.compare(cur, methods=("psi", "jensenshannon"))
            >>> report.drifted_features
            ('b',)
        """
        from aiguard.detect._drift._compare import compare_reference  # noqa: PLC0415 - cycle

        return compare_reference(
            self,
            current,
            methods=methods,
            alpha=alpha,
            correction=correction,
            min_effect=min_effect,
            thresholds=thresholds,
            eps=eps,
            compat=compat,
            workers=workers,
        )

    # --- persistence ----------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the reference to *path* as one ``.npz`` file (arrays + JSON header, no pickle).

        Example:
            >>> import numpy as np, tempfile, pathlib
            >>> from aiguard.drift import Reference
            >>> ref = Reference(np.arange(50.0).reshape(25, 2))
            >>> with tempfile.TemporaryDirectory() as d:
            ...     ref.save(pathlib.Path(d) / "ref.npz")
            ...     Reference.load(pathlib.Path(d) / "ref.npz").n_rows
            25
        """
        from aiguard.detect._drift._persist import write_reference  # noqa: PLC0415 - cycle

        write_reference(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Reference:
        """Read a reference written by :meth:`save` (``np.load(allow_pickle=False)``).

        Raises:
            StoreError: the file cannot be read.
            InvalidInputError: the file is not a saved aiguard reference.
        """
        from aiguard.detect._drift._persist import read_reference  # noqa: PLC0415 - cycle

        return read_reference(cls, path)

    def __repr__(self) -> str:
        """Show the shape and kinds."""
        return (
            f"Reference(n_rows={self._n_rows}, features={len(self._names)}, "
            f"numeric={len(self._num_index)}, categorical={len(self._cat_index)})"
        )

"""A reference data set fitted once: sorted columns, bin edges, category maps.

A :class:`Reference` holds everything a comparison needs from the training
data, so comparing a current batch costs one sort (rank statistics) or one
read (binned statistics) of the *current* data only. It saves to a single
``.npz`` file (arrays plus a JSON header, no pickle) that a training job can
ship beside the model.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from aiguard.detect._drift._workers import check_workers, resolve_workers
from aiguard.detect._drift.binned import BinsSpec, validate_bins
from aiguard.detect._drift.dask import is_dask
from aiguard.detect._drift.inputs import as_table
from aiguard.detect._drift.reference._accumulator import Accumulator
from aiguard.detect._drift.reference._blocked import compare_blocked, fit_blocked
from aiguard.detect._drift.reference._compare import compare_reference
from aiguard.detect._drift.reference._fit import fit_reference
from aiguard.detect._drift.reference._persist import read_reference, write_reference
from aiguard.detect._drift.scale import (
    Progress,
    Source,
    check_max_memory,
    default_max_memory,
    mapping,
    open_source,
    plan_blocks,
)
from aiguard.errors import ConfigurationError, InvalidInputError

if TYPE_CHECKING:
    import os
    from collections.abc import Sequence

    import numpy as np
    from numpy.typing import NDArray

    from aiguard.detect._drift.inputs import Table
    from aiguard.detect._drift.reference._compare import Sheet
    from aiguard.detect._drift.reference._fitted import FittedReference
    from aiguard.detect._drift.report import DriftReport

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
            categorical. A Dask array or DataFrame is fitted as a Dask graph
            on the active scheduler (the ``aiguard[dask]`` extra; see
            :doc:`/detect/drift-at-scale`).
        feature_names: names of the columns (default: the frame's column
            names, else ``x0, x1, ...``).
        categorical: ``True`` (every column), or the names / indices of the
            categorical columns; string columns are always categorical.
        bins: quantile bins of the reference (int, default 10), ``"sturges"``,
            ``"doane"``, or explicit edges shared by every numeric column.
        workers: threads sorting the numeric columns; None: one per core (up to
            8) from 2^20 values on, else 1 (see :meth:`compare`).
        max_memory: the memory budget of the fit, in bytes or as ``"2GB"``
            (default: half the memory available). Data that do not fit in it
            (``.npy`` and Parquet paths and iterators of batches always) are
            fitted in blocks of features, read in chunks of rows, and the
            sorted columns kept in a scratch file (see
            :doc:`/detect/drift-at-scale`). The numbers do not depend on it.
        progress: draw a progress bar on stderr (when it is a terminal)
            during a blocked fit.
        spill_dir: directory of the scratch files (default: the system's temporary one).

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

    __slots__ = ("_fitted",)

    def __init__(
        self,
        data: Any,
        *,
        feature_names: Sequence[str] | None = None,
        categorical: bool | Sequence[int | str] | None = None,
        bins: BinsSpec = 10,
        workers: int | None = None,
        max_memory: int | str | None = None,
        progress: bool = False,
        spill_dir: str | None = None,
    ) -> None:
        bins = validate_bins(bins)
        workers = check_workers(workers)
        budget = check_max_memory(max_memory)
        if is_dask(data):
            from aiguard.detect._drift.dask._fit import fit_dask  # noqa: PLC0415 - optional

            self._fitted = fit_dask(
                data, feature_names=feature_names, categorical=categorical, bins=bins
            )
            return
        source = open_source(data, "data", spill_dir)
        if source is not None and not _blocked(source, 0, budget, workers):
            data = source.array  # type: ignore[attr-defined]
            source = None
        if source is not None:
            try:
                self._fitted = fit_blocked(
                    source,
                    feature_names=feature_names,
                    categorical=categorical,
                    bins=bins,
                    workers=workers,
                    max_memory=budget or default_max_memory(),
                    spill_dir=spill_dir,
                    progress=Progress(
                        "fit", len(source.names), enabled=None if progress else False
                    ),
                )
            finally:
                source.close()
            return
        # inf is found by the sort in fit_reference (one pass fewer than checking here)
        table = as_table(
            data,
            argument="data",
            feature_names=feature_names,
            categorical=categorical,
            check_finite=False,
        )
        self._fitted = fit_reference(table, bins, workers)

    @classmethod
    def _from_fitted(cls, fitted: FittedReference) -> Reference:
        """A reference around an already fitted state (what :meth:`load` reads)."""
        ref = cls.__new__(cls)
        ref.__setstate__(fitted)
        return ref

    def __getstate__(self) -> FittedReference:
        """The fitted state, for :mod:`copy` and :mod:`pickle` (files: :meth:`save`)."""
        return self._fitted

    def __setstate__(self, state: FittedReference) -> None:
        """Adopt a fitted state (see :meth:`__getstate__`)."""
        self._fitted = state

    # --- read-only views ---------------------------------------------------------------------

    @property
    def fitted(self) -> FittedReference:
        """The fitted state: a frozen value object of read-only arrays.

        Sorted numeric columns, bin edges and counts, categories and their
        counts, missing counts and summaries: what :meth:`compare`,
        :meth:`save` and :meth:`accumulator` read.
        """
        return self._fitted

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the features, in column order."""
        return self._fitted.names

    @property
    def n_features(self) -> int:
        """Number of features."""
        return self._fitted.n_features

    @property
    def n_rows(self) -> int:
        """Number of reference rows (missing values included)."""
        return self._fitted.n_rows

    @property
    def kinds(self) -> tuple[str, ...]:
        """``"numeric"`` or ``"categorical"`` for each feature."""
        return self._fitted.kinds

    @property
    def nbins(self) -> NDArray[np.intp]:
        """Number of bins of each feature (categories for categorical ones)."""
        nbins: NDArray[np.intp] = self._fitted.feature_nbins.copy()
        return nbins

    @property
    def summary(self) -> dict[str, dict[str, Any]]:
        """Summary statistics of each feature (count, missing, mean, std, quantiles, ...)."""
        fitted = self._fitted
        return {
            name: copy.deepcopy(s) for name, s in zip(fitted.names, fitted.summary, strict=True)
        }

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
        index = self._fitted.numeric_index
        if pos not in index:
            raise InvalidInputError("feature", "a numeric feature", feature)
        edges: NDArray[np.float64] = self._fitted.inner_edges(index.index(pos)).copy()
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
        index = self._fitted.categorical_index
        if pos not in index:
            raise InvalidInputError("feature", "a categorical feature", feature)
        return tuple(str(c) for c in self._fitted.categories[index.index(pos)])

    def _position(self, feature: str) -> int:
        names = self._fitted.names
        if feature not in names:
            raise InvalidInputError("feature", f"one of {list(names)}", repr(feature))
        return names.index(feature)

    # --- comparisons ----------------------------------------------------------------------------

    def table(self, current: Any, *, argument: str = "current", check_finite: bool = True) -> Table:
        """Split *current* like the reference (same features, same kinds).

        ``check_finite=False``: see :func:`~aiguard.detect._drift.inputs.as_table`.
        """
        return self._fitted.table(current, argument=argument, check_finite=check_finite)

    def accumulator(self, *, methods: Sequence[str] | None = None) -> Accumulator:
        """An empty, mergeable accumulator of current data against this reference.

        Args:
            methods: the methods its :meth:`Accumulator.compare` will compute
                (default ``("psi",)``); bin counts are always kept, ``"ks"`` adds
                slot counts, Cramér-von Mises, Anderson-Darling, Wasserstein and
                energy keep the current values (see :class:`Accumulator`).

        Example:
            >>> import numpy as np
            >>> from aiguard.drift import Reference
            >>> rng = np.random.default_rng(0)
            >>> acc = Reference(rng.normal(size=(1000, 2))).accumulator()
            >>> acc.update(rng.normal(size=(100, 2)))
            >>> acc.n_rows
            100
        """
        return Accumulator(self, methods)

    def accumulator_from_bytes(self, data: bytes) -> Accumulator:
        """An accumulator of this reference read from :meth:`Accumulator.to_bytes`.

        Raises:
            InvalidInputError: not an accumulator's bytes, or of another reference.
        """
        return Accumulator.from_bytes(self, data)

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
        max_memory: int | str | None = None,
        progress: bool = False,
        spill_dir: str | None = None,
    ) -> DriftReport:
        """Compare *current* to this reference.

        Args:
            current: data with the same features (DataFrames are matched by column
                name). A Dask array or DataFrame is compared as a Dask graph on the
                active scheduler, chunk by chunk into mergeable state; ``max_memory``
                is then the memory of one task on a worker (default 1 GiB) and
                ``compat`` must be None (see :doc:`/detect/drift-at-scale`).
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
            max_memory: the memory budget, in bytes or as ``"2GB"`` (default: half
                the memory available). A current data set that does not fit (a
                ``.npy`` or Parquet path or an iterator of batches always), or a
                reference fitted in blocks, is compared in blocks of features read
                in chunks of rows. The numbers do not depend on it.
            progress: draw a progress bar on stderr (when it is a terminal)
                during a blocked comparison.
            spill_dir: directory of the scratch files (default: the system's
                temporary one): an iterator's batches, a row-major ``.npy``
                file's columns.

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
        budget = check_max_memory(max_memory)
        check_workers(workers)
        fitted = self._fitted
        fill: Any = None
        source = None
        if is_dask(current):
            from aiguard.detect._drift.dask._compare import compare_dask  # noqa: PLC0415

            def fill(sheet: Sheet, ref: FittedReference, data: Any, _: int | None) -> None:
                compare_dask(sheet, ref, data, max_memory=budget)

        else:
            source = open_source(current, "current", spill_dir)
        if (
            source is not None
            and mapping(fitted.sorted_values) is None
            and not _blocked(source, fitted.n_rows, budget, workers)
        ):
            current = source.array  # type: ignore[attr-defined]
            source = None
        if source is not None:
            bar = Progress("compare", fitted.n_features, enabled=None if progress else False)

            def fill(sheet: Sheet, ref: FittedReference, _: object, threads: int | None) -> None:
                compare_blocked(
                    sheet,
                    ref,
                    source,
                    workers=threads,
                    max_memory=budget or default_max_memory(),
                    spill_dir=spill_dir,
                    progress=bar,
                )

        try:
            return compare_reference(
                fitted,
                current,
                fill=fill,
                methods=methods,
                alpha=alpha,
                correction=correction,
                min_effect=min_effect,
                thresholds=thresholds,
                eps=eps,
                compat=compat,
                workers=workers,
            )
        finally:
            if source is not None:
                source.close()

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
        write_reference(self._fitted, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Reference:
        """Read a reference written by :meth:`save` (``np.load(allow_pickle=False)``).

        Raises:
            StoreError: the file cannot be read.
            InvalidInputError: the file is not a saved aiguard reference.
        """
        return cls._from_fitted(read_reference(path))

    def __repr__(self) -> str:
        """Show the shape and kinds."""
        return repr(self._fitted).replace("FittedReference", "Reference", 1)


def _blocked(source: Source, ref_rows: int, budget: int | None, workers: int | None) -> bool:
    """Whether a pass over *source* (and *ref_rows* sorted reference rows) goes in blocks.

    Files and iterators always do; an array does when all its features do not
    fit in one block of the budget (see :func:`~aiguard.detect._drift.scale.plan_blocks`).
    """
    if not hasattr(source, "array"):
        return True
    k = len(source.names)
    values = ref_rows + source.n_rows
    limit = budget if budget is not None else default_max_memory()
    try:
        step, _ = plan_blocks(values, limit, k, resolve_workers(workers, values * k, k))
    except ConfigurationError:
        return True  # the blocked pass raises it, naming the budget
    return step < k

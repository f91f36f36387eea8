"""Exact, mergeable state of a stream of batches against a reference.

For monitors inside a serving process, Dask-style map/reduce, or replicas:
each ``update(batch)`` adds a batch to integer state, so the result does not
depend on how the stream was cut into batches, and ``acc1 + acc2`` merges the
state of two replicas (associative and commutative). What is kept depends on
the methods asked for at construction:

* bin counts (always): the binned statistics and ``chi2``, O(bins) per feature;
* slot counts (``"ks"``): the exact two-sample KS, O(distinct reference values);
* the current values (``"cramervonmises"``, ``"anderson"``, ``"wasserstein"``,
  ``"energy"``): 8 bytes per value and feature (see ``_rank_state`` for why
  nothing smaller is exact).

Every statistic computed from the state equals that of ``Reference.compare``
on the concatenated batches. :meth:`Accumulator.to_bytes` serialises the
state without pickle (an ``.npz`` of arrays and a JSON header).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from aiguard.detect._drift._checks import check_alpha, check_min_effect
from aiguard.detect._drift._corrections import check_correction
from aiguard.detect._drift.binned import (
    BINNED_METHODS,
    DEFAULT_EPS,
    binned_statistics,
    check_base,
    check_eps,
    scan_bin_counts,
)
from aiguard.detect._drift.inputs import SortedSamples, sort_samples
from aiguard.detect._drift.rank import compare_sorted, ks_pvalue
from aiguard.detect._drift.reference._accumulator_parts import (
    FORMAT,
    check_binned,
    check_methods,
    fill_chi2,
    merge_counts,
    narrow,
    read_npz,
    slot_samples,
    write_npz,
)
from aiguard.detect._drift.reference._compare import (
    TESTS,
    Sheet,
    check_thresholds,
    sheet_report,
)
from aiguard.detect._drift.reference._rank_state import (
    KEPT_METHODS,
    ks_from_slots,
    sorted_slot_counts,
)
from aiguard.errors import ConfigurationError, InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

    from aiguard.detect._drift.reference._reference import Reference
    from aiguard.detect._drift.report import DriftReport

__all__ = ["Accumulator"]


class Accumulator:
    """State of current data accumulated batch by batch against a :class:`Reference`.

    Create one with :meth:`Reference.accumulator`. Categories that the
    reference never saw are counted by name (they become extra bins with a
    reference count of zero). An accumulator is not locked: give each thread
    (or worker, or replica) its own and merge them with ``+``. The methods
    given at construction decide what is kept (see the module doc); the bin
    counts are always kept.

    Example:
        >>> import numpy as np
        >>> from aiguard.drift import Reference
        >>> rng = np.random.default_rng(0)
        >>> ref = Reference(rng.normal(size=(5000, 2)), feature_names=["a", "b"])
        >>> left, right = ref.accumulator(), ref.accumulator()
        >>> left.update(rng.normal(size=(300, 2)))
        >>> right.update(rng.normal(1.0, 1, size=(300, 2)))
        >>> both = left + right
        >>> both.n_rows, bool(both.statistics(["psi"])["psi"][0] > 0.1)
        (600, True)
    """

    __slots__ = (
        "_cat_counts",
        "_counts",
        "_distinct",
        "_fitted",
        "_kept",
        "_methods",
        "_missing",
        "_n_rows",
        "_reference",
        "_slots",
        "_unseen",
    )

    def __init__(self, reference: Reference, methods: Sequence[str] | None = None) -> None:
        fitted = reference.fitted
        chosen = check_methods(methods)
        self._reference = reference
        self._fitted = fitted
        self._methods = chosen
        self._counts = np.zeros_like(fitted.counts)
        self._cat_counts = [np.zeros_like(c) for c in fitted.category_counts]
        self._unseen: list[dict[str, int]] = [{} for _ in fitted.category_counts]
        self._missing = np.zeros(fitted.n_features, dtype=np.int64)
        self._n_rows = 0
        p = len(fitted.numeric_index)
        self._distinct: list[tuple[NDArray[np.float64], NDArray[np.int64]]] = []
        self._slots: list[NDArray[np.int64]] = []
        if "ks" in chosen:
            self._distinct = list(fitted.distinct)
            self._slots = [np.zeros(2 * d.size + 1, dtype=np.int64) for d, _ in self._distinct]
        keep = bool(KEPT_METHODS.intersection(chosen))
        self._kept: list[list[NDArray[np.float64]]] | None = (
            [[] for _ in range(p)] if keep else None
        )

    @property
    def reference(self) -> Reference:
        """The reference the state is measured against."""
        return self._reference

    @property
    def methods(self) -> tuple[str, ...]:
        """The methods whose state is kept (the binned ones and ``chi2`` always)."""
        return self._methods

    @property
    def n_rows(self) -> int:
        """Rows accumulated so far."""
        return self._n_rows

    def update(self, batch: Any) -> None:
        """Add a batch (same features as the reference) to the state.

        Raises:
            InvalidInputError: the batch does not fit the reference (argument ``batch``).
        """
        ref = self._fitted
        table = ref.table(batch, argument="batch", check_finite=False)
        if ref.numeric_index:
            counts, candidates = scan_bin_counts(
                table.numeric, ref.edges, tile_cache=ref.tile_cache
            )
            table.check_finite(candidates)
            self._counts += counts
            self._missing[list(ref.numeric_index)] += table.n_rows - counts.sum(axis=1)
            if self._slots or self._kept is not None:
                self._rank_update(table.numeric)
        for i, labels in enumerate(table.categorical):
            self._missing[ref.categorical_index[i]] += table.categorical_missing[i]
            if not labels.size:
                continue
            values, counts = np.unique(labels, return_counts=True)
            cats = ref.categories[i]
            where = np.minimum(np.searchsorted(cats, values), cats.size - 1)
            known = cats[where] == values
            np.add.at(self._cat_counts[i], where[known], counts[known])
            unseen = self._unseen[i]
            for value, count in zip(values[~known].tolist(), counts[~known].tolist(), strict=True):
                unseen[value] = unseen.get(value, 0) + count
        self._n_rows += table.n_rows

    def _rank_update(self, numeric: NDArray[np.float64]) -> None:
        """Slot counts and kept values of the numeric columns (NaN omitted)."""
        p = numeric.shape[1]
        # groups of columns, each copied column-major and sorted once (NaN last): a strided
        # column of a row-major batch read value by value is several times slower
        for first in range(0, p, _GROUP):
            ordered = sort_samples(numeric[:, first : first + _GROUP], "batch", nan_policy="omit")
            for j in range(ordered.values.shape[1]):
                i, col = first + j, ordered.column(j)
                if self._slots:
                    self._slots[i] += sorted_slot_counts(self._distinct[i][0], col)
                if self._kept is not None:
                    self._kept[i].append(col.copy())

    def __add__(self, other: object) -> Accumulator:
        """Merge two accumulators of the same reference and methods (the state adds up)."""
        if not isinstance(other, Accumulator):
            return NotImplemented
        if (
            other._reference is not self._reference and not self._fitted.same_bins(other._fitted)
        ) or other._methods != self._methods:
            raise ConfigurationError(
                "other", "an accumulator of the same reference and methods", other
            )
        out = Accumulator(self._reference, self._methods)
        out._counts = self._counts + other._counts
        out._cat_counts = [a + b for a, b in zip(self._cat_counts, other._cat_counts, strict=True)]
        out._unseen = [merge_counts(a, b) for a, b in zip(self._unseen, other._unseen, strict=True)]
        out._missing = self._missing + other._missing
        out._n_rows = self._n_rows + other._n_rows
        out._slots = [a + b for a, b in zip(self._slots, other._slots, strict=True)]
        if self._kept is not None and other._kept is not None:
            out._kept = [a + b for a, b in zip(self._kept, other._kept, strict=True)]
        return out

    def histograms(self) -> list[tuple[tuple[str, ...], NDArray[np.int64], NDArray[np.int64]]]:
        """Per feature (input order): bin labels, reference counts, current counts."""
        ref = self._fitted
        out: list[Any] = [None] * ref.n_features
        for i, pos in enumerate(ref.numeric_index):
            nb = int(ref.nbins[i])
            out[pos] = (ref.bin_labels[i], ref.counts[i, :nb], self._counts[i, :nb])
        for i, pos in enumerate(ref.categorical_index):
            unseen = sorted(self._unseen[i])
            labels = tuple(str(c) for c in ref.categories[i]) + tuple(f"{u} (new)" for u in unseen)
            rc = np.concatenate([ref.category_counts[i], np.zeros(len(unseen), dtype=np.int64)])
            cc = np.concatenate(
                [self._cat_counts[i], np.array([self._unseen[i][u] for u in unseen], np.int64)]
            )
            out[pos] = (labels, rc, cc)
        return out

    def _sorted_histograms(
        self,
    ) -> list[tuple[tuple[str, ...], NDArray[np.int64], NDArray[np.int64]]]:
        """:meth:`histograms` with each feature's categories sorted, as ``compare`` lists them."""
        out = self.histograms()
        for i, pos in enumerate(self._fitted.categorical_index):
            unseen = self._unseen[i]
            known = [str(c) for c in self._fitted.categories[i]]
            _, rc, cc = out[pos]
            ref_count = dict(zip([*known, *sorted(unseen)], rc.tolist(), strict=True))
            cur_count = dict(zip([*known, *sorted(unseen)], cc.tolist(), strict=True))
            cats = sorted(ref_count)
            labels = tuple(c + (" (new)" if c in unseen else "") for c in cats)
            out[pos] = (
                labels,
                np.array([ref_count[c] for c in cats], dtype=np.int64),
                np.array([cur_count[c] for c in cats], dtype=np.int64),
            )
        return out

    def statistics(
        self,
        methods: Sequence[str] = BINNED_METHODS,
        *,
        eps: float = DEFAULT_EPS,
        base: float | None = None,
    ) -> dict[str, NDArray[np.float64]]:
        """Binned statistics per feature (input order) from the counts so far.

        NaN for a feature with no current value yet.
        """
        methods = check_binned(methods)
        eps = check_eps(eps)
        base = check_base(base)
        hist = self.histograms()
        nbins = np.array([h[1].size for h in hist], dtype=np.intp)
        width = int(nbins.max())
        rc = np.zeros((len(hist), width), dtype=np.int64)
        cc = np.zeros((len(hist), width), dtype=np.int64)
        for j, (_, r, c) in enumerate(hist):
            rc[j, : r.size], cc[j, : c.size] = r, c
        return binned_statistics(methods, rc, cc, nbins, eps=eps, base=base)

    def _fill_binned(
        self,
        binned: list[str],
        stats: dict[str, tuple[NDArray[np.float64], NDArray[np.float64] | None]],
        hist: Any,
        *,
        eps: float,
    ) -> None:
        """Binned statistics by the same calls as Reference.compare, so the same rounding."""
        ref = self._fitted
        num = list(ref.numeric_index)
        if num:
            values = binned_statistics(binned, ref.counts, self._counts, ref.nbins, eps=eps)
            for m in binned:
                stats[m][0][num] = values[m]
        for pos in ref.categorical_index:
            _, rc, cc = hist[pos]
            nb = np.array([rc.size], dtype=np.intp)
            values = binned_statistics(binned, rc[None, :], cc[None, :], nb, eps=eps)
            for m in binned:
                stats[m][0][pos] = values[m][0]

    def compare(
        self,
        *,
        methods: Sequence[str] | None = None,
        alpha: float = 0.05,
        correction: str | None = "holm",
        min_effect: float | None = None,
        thresholds: dict[str, float] | None = None,
        eps: float = DEFAULT_EPS,
    ) -> DriftReport:
        """A :class:`~aiguard.drift.DriftReport` of the state so far.

        Args:
            methods: any of the methods given at construction, the binned ones and
                ``chi2`` (default: those given at construction, else ``("psi",)``).
            alpha: see :meth:`Reference.compare`.
            correction: see :meth:`Reference.compare`.
            min_effect: see :meth:`Reference.compare`.
            thresholds: see :meth:`Reference.compare`.
            eps: see :meth:`Reference.compare`.

        Raises:
            ConfigurationError: a method whose state was not kept.

        Example:
            >>> import numpy as np
            >>> from aiguard.drift import Reference
            >>> rng = np.random.default_rng(1)
            >>> ref = Reference(rng.normal(size=(2000, 2)))
            >>> acc = ref.accumulator(methods=("ks", "wasserstein"))
            >>> for _ in range(3):
            ...     acc.update(rng.normal([0.0, 0.5], 1.0, size=(200, 2)))
            >>> acc.compare().drifted_features
            ('x1',)
        """
        chosen = self._check_compare(methods)
        sheet = self.sheet(chosen, eps=check_eps(eps))
        check_correction(correction)
        return sheet_report(
            sheet,
            self._fitted,
            alpha=check_alpha(alpha),
            correction=correction,
            min_effect=check_min_effect(min_effect),
            thresholds=check_thresholds(thresholds),
        )

    def sheet(self, chosen: tuple[str, ...], *, eps: float) -> Sheet:
        """Every statistic of *chosen* (checked) per feature, before the decisions.

        What :meth:`compare` decides on; the Dask comparison computes it on
        a worker for each block of features and decides on the client.
        """
        ref = self._fitted
        sheet = Sheet(ref.n_features, chosen, eps=eps, compat=None)
        stats, effects = sheet.stats, sheet.effects
        hist = self._sorted_histograms()
        binned = [m for m in chosen if m in BINNED_METHODS]
        num = list(ref.numeric_index)
        if binned:
            self._fill_binned(binned, stats, hist, eps=eps)
        if "ks" in chosen and num:
            stat, pvalue = self._ks()
            stats["ks"][0][num] = stat
            stats["ks"][1][num] = pvalue  # type: ignore[index]
        kept = [m for m in chosen if m in KEPT_METHODS]
        if kept and num:
            for m, (s, p, e) in self._kept_statistics(kept).items():
                stats[m][0][num] = s
                effects[m][num] = e
                if m in TESTS:
                    stats[m][1][num] = p  # type: ignore[index]
        if "chi2" in chosen:
            fill_chi2(self._fitted, stats, effects, hist)
        sheet.hist[:] = hist
        sheet.missing[:] = self._missing
        sheet.n_rows = self._n_rows
        return sheet

    def _check_compare(self, methods: Sequence[str] | None) -> tuple[str, ...]:
        if methods is None:
            return self._methods
        out = (methods,) if isinstance(methods, str) else tuple(dict.fromkeys(methods))
        kept = {*self._methods, *BINNED_METHODS, "chi2"}
        if not out or any(m not in kept for m in out):
            raise ConfigurationError(
                "methods", f"a non-empty subset of the kept methods {sorted(kept)}", methods
            )
        return out

    def _ks(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """KS statistic and p-value of each numeric feature from the slot counts."""
        p = len(self._slots)
        stat, pvalue = np.full(p, np.nan), np.full(p, np.nan)
        for i, (slots, (_, multiplicity)) in enumerate(
            zip(self._slots, self._distinct, strict=True)
        ):
            m = int(slots.sum())
            if not m:
                continue
            ref_slots = np.zeros_like(slots)
            ref_slots[1::2] = multiplicity
            plus, minus = ks_from_slots(ref_slots, slots)
            n = int(multiplicity.sum())

            def column(_: int, w: Any = multiplicity, c: Any = slots) -> tuple[Any, Any]:
                return slot_samples(w, c)  # pragma: no cover - old scipy only

            d, pv = ks_pvalue(
                np.array([plus]),
                np.array([minus]),
                n,
                m,
                alternative="two-sided",
                method="auto",
                column=column,
            )
            stat[i], pvalue[i] = d[0], pv[0]
        return stat, pvalue

    def _kept_statistics(
        self, methods: list[str]
    ) -> dict[str, tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]]:
        """The statistics that need the current values, from the kept values, sorted once."""
        assert self._kept is not None  # the methods were checked
        columns = [np.sort(np.concatenate([np.zeros(0), *parts])) for parts in self._kept]
        counts = np.array([c.size for c in columns], dtype=np.int64)
        n = max(1, int(counts.max()))
        values = np.full((n, len(columns)), np.nan, order="F")
        for i, c in enumerate(columns):
            values[: c.size, i] = c
        cur = SortedSamples(values=values, counts=counts, has_nan=bool((counts < n).any()))
        ref = self._fitted
        return compare_sorted(
            ref.sorted_samples, cur, methods, nan_policy="omit", normed=True, ref_std=ref.std
        )

    # --- serialisation --------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The state as ``.npz`` bytes (arrays and a JSON header; no pickle).

        Example:
            >>> import numpy as np
            >>> from aiguard.drift import Reference
            >>> rng = np.random.default_rng(0)
            >>> ref = Reference(rng.normal(size=(500, 2)))
            >>> acc = ref.accumulator(methods=("ks",))
            >>> acc.update(rng.normal(size=(100, 2)))
            >>> ref.accumulator_from_bytes(acc.to_bytes()).n_rows
            100
        """
        header = {
            "format": FORMAT,
            "names": list(self._fitted.names),
            "methods": list(self._methods),
            "n_rows": self._n_rows,
            "unseen": self._unseen,
        }
        arrays: dict[str, Any] = {
            "header": np.array(json.dumps(header)),
            "counts": self._counts,
            "missing": self._missing,
        }
        for i, c in enumerate(self._cat_counts):
            arrays[f"cat_{i}"] = c
        for i, c in enumerate(self._slots):
            arrays[f"slots_{i}"] = narrow(c)
        for i, parts in enumerate(self._kept or []):
            arrays[f"kept_{i}"] = np.concatenate([np.zeros(0), *parts])
        return write_npz(arrays)

    @classmethod
    def from_bytes(cls, reference: Reference, data: bytes) -> Accumulator:
        """Read the state written by :meth:`to_bytes` for *reference*.

        Raises:
            InvalidInputError: not an accumulator's bytes, or of another reference.
        """
        arrays, header = read_npz(data)
        fitted = reference.fitted
        if header["names"] != list(fitted.names):
            raise InvalidInputError(
                "data", "the state of an accumulator of this reference", "other"
            )
        out = cls(reference, header["methods"])
        if arrays["counts"].shape != out._counts.shape:
            raise InvalidInputError("data", "the bins of this reference", arrays["counts"].shape)
        out._counts = arrays["counts"].astype(np.int64)
        out._missing = arrays["missing"].astype(np.int64)
        out._n_rows = int(header["n_rows"])
        out._unseen = [{str(k): int(v) for k, v in u.items()} for u in header["unseen"]]
        out._cat_counts = [arrays[f"cat_{i}"] for i in range(len(out._cat_counts))]
        out._slots = [arrays[f"slots_{i}"].astype(np.int64) for i in range(len(out._slots))]
        if out._kept is not None:
            out._kept = [[arrays[f"kept_{i}"]] for i in range(len(out._kept))]
        return out

    def __repr__(self) -> str:
        """Show the number of rows and features."""
        return f"Accumulator(n_rows={self._n_rows}, features={self._fitted.n_features})"


#: columns of a batch sorted together by ``update`` (a bounded copy of the batch)
_GROUP = 16

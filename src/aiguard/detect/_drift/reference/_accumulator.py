"""Exact, mergeable bin counts of a stream of batches, on a reference's bins.

For monitors inside a serving process: each ``update(batch)`` bins the batch
in one vectorised pass (O(rows)), counts are integers so the result does not
depend on how the stream was cut into batches, and ``acc1 + acc2`` merges the
counts of two replicas. The binned statistics computed from the counts equal
those of the concatenated batches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from aiguard.detect._drift.binned import (
    BINNED_METHODS,
    DEFAULT_EPS,
    binned_statistics,
    check_base,
    check_eps,
    scan_bin_counts,
)
from aiguard.detect._drift.reference._compare import build_report, check_thresholds
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

    from aiguard.detect._drift.reference._reference import Reference
    from aiguard.detect._drift.report import DriftReport

__all__ = ["Accumulator"]


class Accumulator:
    """Bin counts of current data accumulated batch by batch against a :class:`Reference`.

    Create one with :meth:`Reference.accumulator`. Categories that the
    reference never saw are counted by name (they become extra bins with a
    reference count of zero). An accumulator is not locked: give each thread
    (or worker, or replica) its own and merge them with ``+``.

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
        "_fitted",
        "_missing",
        "_n_rows",
        "_reference",
        "_unseen",
    )

    def __init__(self, reference: Reference) -> None:
        fitted = reference.fitted
        self._reference = reference
        self._fitted = fitted
        self._counts = np.zeros_like(fitted.counts)
        self._cat_counts = [np.zeros_like(c) for c in fitted.category_counts]
        self._unseen: list[dict[str, int]] = [{} for _ in fitted.category_counts]
        self._missing = np.zeros(fitted.n_features, dtype=np.int64)
        self._n_rows = 0

    @property
    def reference(self) -> Reference:
        """The reference whose bins are counted."""
        return self._reference

    @property
    def n_rows(self) -> int:
        """Rows accumulated so far."""
        return self._n_rows

    def update(self, batch: Any) -> None:
        """Add a batch (same features as the reference) to the counts.

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

    def __add__(self, other: object) -> Accumulator:
        """Merge two accumulators of the same reference (counts add up)."""
        if not isinstance(other, Accumulator):
            return NotImplemented
        if other._reference is not self._reference and not self._fitted.same_bins(other._fitted):
            raise ConfigurationError("other", "an accumulator of the same reference", other)
        out = Accumulator(self._reference)
        out._counts = self._counts + other._counts
        out._cat_counts = [a + b for a, b in zip(self._cat_counts, other._cat_counts, strict=True)]
        out._unseen = [_merge(a, b) for a, b in zip(self._unseen, other._unseen, strict=True)]
        out._missing = self._missing + other._missing
        out._n_rows = self._n_rows + other._n_rows
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
        methods = _check_binned(methods)
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

    def compare(
        self,
        *,
        methods: Sequence[str] = ("psi",),
        thresholds: dict[str, float] | None = None,
        eps: float = DEFAULT_EPS,
    ) -> DriftReport:
        """A :class:`~aiguard.drift.DriftReport` of the binned statistics of the counts so far."""
        chosen = _check_binned(methods)
        values = self.statistics(chosen, eps=eps)
        return build_report(
            self._fitted,
            methods=chosen,
            stats={m: (values[m], None) for m in chosen},
            hist=self.histograms(),
            n_current=self._n_rows,
            missing_current=self._missing,
            alpha=0.05,
            correction=None,
            min_effect=None,
            thresholds=check_thresholds(thresholds),
        )

    def __repr__(self) -> str:
        """Show the number of rows and features."""
        return f"Accumulator(n_rows={self._n_rows}, features={self._fitted.n_features})"


def _check_binned(methods: Sequence[str]) -> tuple[str, ...]:
    out = (methods,) if isinstance(methods, str) else tuple(methods)
    if not out or any(m not in BINNED_METHODS for m in out):
        raise ConfigurationError("methods", f"a non-empty subset of {BINNED_METHODS}", methods)
    return out


def _merge(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    out = dict(a)
    for key, value in b.items():
        out[key] = out.get(key, 0) + value
    return out

"""The engine behind the binned statistics: input kinds, NaN policy, counts.

:func:`binned_result` turns two samples into one :class:`DriftResult` of a
binned statistic: categorical samples are counted over the union of their
categories, numeric ones on the reference's bins (rules in :mod:`._edges`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import numpy as np

from aiguard.detect._drift._checks import check_nan_policy, check_optional_number
from aiguard.detect._drift._result import DriftResult, finish, warn_drift
from aiguard.detect._drift.binned._counts import bin_counts
from aiguard.detect._drift.binned._divergences import binned_statistics
from aiguard.detect._drift.binned._edges import BinsSpec, fit_inner_edges, pad_edges, validate_bins
from aiguard.detect._drift.binned._evidently import check_compat, evidently_statistic
from aiguard.detect._drift.inputs import as_labels, as_pair, categorical_labels, sort_samples
from aiguard.errors import InvalidInputError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["DEFAULT_THRESHOLDS", "binned_result", "categorical_counts"]

DEFAULT_THRESHOLDS: Final = {"psi": 0.1, "jensenshannon": 0.1, "kl": 0.1, "hellinger": 0.1}


def categorical_counts(
    ref_labels: NDArray[np.str_], cur_labels: NDArray[np.str_]
) -> tuple[NDArray[np.str_], NDArray[np.int64], NDArray[np.int64]]:
    """Categories of the union (sorted) and each sample's count per category.

    A category seen only in the current sample gets a reference count of 0
    (the epsilon rule keeps PSI and KL finite); one seen only in the reference
    gets a current count of 0.
    """
    cats = np.union1d(ref_labels, cur_labels)
    ref = np.bincount(np.searchsorted(cats, ref_labels), minlength=cats.size).astype(np.int64)
    cur = np.bincount(np.searchsorted(cats, cur_labels), minlength=cats.size).astype(np.int64)
    return cats, ref, cur


def _stack(rows: list[NDArray[np.int64]]) -> tuple[NDArray[np.int64], NDArray[np.intp]]:
    nbins = np.array([r.size for r in rows], dtype=np.intp)
    out = np.zeros((len(rows), int(nbins.max())), dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : r.size] = r
    return out, nbins


def _is_categorical(x: Any, *, declared: bool) -> bool:
    """Whether *x* is compared as labels: *declared* so, or strings."""
    if declared:
        return True
    kind = getattr(getattr(x, "dtype", None), "kind", None)
    if kind is None:
        kind = np.asarray(x).dtype.kind
    if kind in "US":
        return True
    if kind == "O":
        flat = np.asarray(x, dtype=object).ravel()
        return any(isinstance(v, str) for v in flat)
    return False


def _categorical(
    method: str,
    reference: Any,
    current: Any,
    *,
    axis: int,
    nan_policy: str,
    compat: str | None,
    **kw: Any,
) -> tuple[NDArray[np.float64], bool]:
    ref2d, ref_1d = as_labels(reference, "reference", axis=axis)
    cur2d, cur_1d = as_labels(current, "current", axis=axis)
    if ref2d.shape[1] != cur2d.shape[1]:
        raise InvalidInputError(
            "current", f"{ref2d.shape[1]} feature(s) like reference", f"{cur2d.shape[1]} feature(s)"
        )
    k = ref2d.shape[1]
    stats = np.full(k, np.nan)
    rows_ref, rows_cur, done = [], [], []
    for j in range(k):
        ref, ref_missing = categorical_labels(ref2d[:, j], "reference")
        cur, cur_missing = categorical_labels(cur2d[:, j], "current")
        if ref_missing + cur_missing and nan_policy == "raise":
            raise InvalidInputError(
                "reference" if ref_missing else "current",
                "free of missing values (nan_policy='raise')",
                f"missing values in feature {j}",
            )
        if (ref_missing + cur_missing and nan_policy == "propagate") or not (ref.size and cur.size):
            continue
        if compat == "evidently":
            stats[j] = evidently_statistic(method, ref, cur, numeric=False, base=kw.get("base"))
            continue
        _, rc, cc = categorical_counts(ref, cur)
        rows_ref.append(rc)
        rows_cur.append(cc)
        done.append(j)
    if done:
        ref_counts, nbins = _stack(rows_ref)
        cur_counts, _ = _stack(rows_cur)
        stats[done] = binned_statistics([method], ref_counts, cur_counts, nbins, **kw)[method]
    return stats, ref_1d and cur_1d


def _numeric(
    method: str,
    reference: Any,
    current: Any,
    *,
    axis: int,
    bins: BinsSpec,
    nan_policy: str,
    compat: str | None,
    **kw: Any,
) -> tuple[NDArray[np.float64], bool]:
    ref2d, cur2d, was_1d = as_pair(reference, current, axis=axis)
    ref_sorted = sort_samples(ref2d, "reference", nan_policy=nan_policy)
    with np.errstate(invalid="ignore", over="ignore"):
        cur_sums = cur2d.sum(axis=0)
    cur_nan = np.zeros(cur2d.shape[1], dtype=bool)
    suspect = np.flatnonzero(~np.isfinite(cur_sums))
    if suspect.size:
        block = cur2d[:, suspect]
        if np.isinf(block).any():
            raise InvalidInputError(
                "current", "finite (NaN marks a missing value; inf is not allowed)", "inf"
            )
        cur_nan[suspect] = np.isnan(block).any(axis=0)
        if cur_nan.any() and nan_policy == "raise":
            raise InvalidInputError("current", "free of NaN (nan_policy='raise')", "NaN")
    k = ref2d.shape[1]
    stats = np.full(k, np.nan)
    use = ref_sorted.counts > 0
    if nan_policy == "propagate":
        use &= (ref_sorted.counts == ref_sorted.n) & ~cur_nan
    if compat == "evidently":
        for j in np.flatnonzero(use):
            cur = cur2d[:, j]
            cur = cur[~np.isnan(cur)]
            if cur.size:
                stats[j] = evidently_statistic(
                    method, ref_sorted.column(int(j)), cur, numeric=True, base=kw.get("base")
                )
    else:
        cols = np.flatnonzero(use)
        if cols.size:
            edges, nbins = pad_edges(
                [fit_inner_edges(ref_sorted.column(int(j)), bins) for j in cols]
            )
            ref_counts = bin_counts(ref2d[:, cols], edges)
            cur_counts = bin_counts(cur2d[:, cols], edges)
            stats[cols] = binned_statistics([method], ref_counts, cur_counts, nbins, **kw)[method]
    return stats, was_1d


def binned_result(
    method: str,
    reference: Any,
    current: Any,
    *,
    axis: int,
    bins: BinsSpec,
    threshold: float | None,
    categorical: bool,
    compat: str | None,
    nan_policy: str,
    **kw: Any,
) -> DriftResult:
    check_nan_policy(nan_policy)
    check_compat(compat)
    bins = validate_bins(bins)
    threshold = check_optional_number("threshold", threshold)
    if _is_categorical(reference, declared=categorical) or _is_categorical(
        current, declared=categorical
    ):
        stats, was_1d = _categorical(
            method, reference, current, axis=axis, nan_policy=nan_policy, compat=compat, **kw
        )
    else:
        stats, was_1d = _numeric(
            method,
            reference,
            current,
            axis=axis,
            bins=bins,
            nan_policy=nan_policy,
            compat=compat,
            **kw,
        )
    if nan_policy == "omit" and np.isnan(stats).any():
        bad = ", ".join(str(int(j)) for j in np.flatnonzero(np.isnan(stats))[:10])
        warn_drift(f"{method}: feature(s) {bad} have no non-missing value; their statistic is NaN")
    return finish(method, stats, None, was_1d=was_1d, threshold=threshold, effect=stats)

"""Tests of homogeneity on counts: ``chi2`` (categories) and ``ztest`` (binary features).

Both compare the reference's and the current sample's shares of the same
categories: the chi-squared test on the 2 x k table of counts, the pooled
two-proportion z-test on the 2 x 2 table of a binary feature.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from aiguard.detect._drift._checks import check_alpha, check_min_effect, check_nan_policy
from aiguard.detect._drift._corrections import check_correction
from aiguard.detect._drift._result import DriftResult, finish, warn_drift
from aiguard.detect._drift.inputs import as_labels, as_pair, check_pair, is_missing
from aiguard.errors import InvalidInputError

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["chi2", "chi2_table", "ztest"]


def _missing_mask(column: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    kind = column.dtype.kind
    if kind in "fc":
        mask: npt.NDArray[np.bool_] = np.isnan(column)
        return mask
    if kind == "O":
        return np.fromiter((is_missing(v) for v in column), dtype=bool, count=column.size)
    return np.zeros(column.shape, dtype=bool)


def chi2_table(ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike) -> tuple[float, float, float]:
    """Chi-squared homogeneity test of one 2 x k table of counts.

    Follows ``scipy.stats.chi2_contingency`` exactly: categories (columns) with
    a zero total are dropped first; with one category left (dof 0) the
    statistic is 0 and the p-value 1; with two (dof 1) Yates' continuity
    correction is applied.

    Args:
        ref_counts: counts of each category in the reference.
        cur_counts: counts of the same categories in the current sample.

    Returns:
        ``(statistic, pvalue, cramers_v)``; Cramér's V uses the uncorrected
        statistic, as ``scipy.stats.contingency.association(method="cramer")``.

    Example:
        >>> from aiguard.detect._drift.discrete import chi2_table
        >>> stat, p, v = chi2_table([5.0, 0.0], [3.0, 2.0])
        >>> round(stat, 4), round(p, 4)
        (0.625, 0.4292)
    """
    observed = np.vstack([np.asarray(ref_counts, float), np.asarray(cur_counts, float)])
    observed = observed[:, observed.sum(axis=0) > 0]
    total = observed.sum()
    if observed.shape[1] < 2:
        return 0.0, 1.0, 0.0
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / total
    plain = float(((observed - expected) ** 2 / expected).sum())
    dof = observed.shape[1] - 1
    if dof == 1:
        diff = expected - observed
        observed = observed + np.minimum(0.5, np.abs(diff)) * np.sign(diff)
    stat = float(((observed - expected) ** 2 / expected).sum())
    return stat, float(stats.chi2.sf(stat, dof)), float(np.sqrt(plain / total))


def chi2(
    reference: object,
    current: object,
    *,
    axis: int = 0,
    alpha: float = 0.05,
    nan_policy: str = "propagate",
    correction: str | None = None,
    min_effect: float | None = None,
) -> DriftResult:
    """Chi-squared test of homogeneity for categorical features.

    For each feature, the categories are the union of the labels seen in
    either sample; the 2 x k table of counts (reference row, current row) is
    tested with ``scipy.stats.chi2_contingency`` (Yates' correction when
    k = 2). A category seen only in ``current`` (unseen in training) is simply
    a column whose reference count is 0: its expected count is positive, so
    the statistic stays finite. A feature with a single category in both
    samples has statistic 0 and p-value 1. Effect size for ``min_effect``:
    Cramér's V (uncorrected).

    Args:
        reference: 1-D or 2-D labels (numbers, strings, booleans; ``None`` /
            NaN missing).
        current: the same number of features as ``reference``.
        axis: the axis along which samples run.
        alpha: significance level.
        nan_policy: what a missing label does: ``"propagate"`` (NaN result),
            ``"omit"`` (dropped), ``"raise"``.
        correction: multiple-testing correction across features.
        min_effect: minimum Cramér's V for ``drifted``.

    Returns:
        A :class:`DriftResult`.

    Example:
        >>> from aiguard import drift
        >>> ref = ["a"] * 50 + ["b"] * 50
        >>> cur = ["a"] * 30 + ["b"] * 50 + ["new"] * 20
        >>> res = drift.chi2(ref, cur)
        >>> round(res.statistic, 3), res.drifted
        (25.0, True)
    """
    check_nan_policy(nan_policy)
    check_correction(correction)
    limit = check_alpha(alpha)
    effect_floor = check_min_effect(min_effect)
    ref, ref_1d = as_labels(reference, "reference", axis=axis)
    cur, cur_1d = as_labels(current, "current", axis=axis)
    check_pair(ref, cur)
    k = ref.shape[1]
    stat, p, effect = np.full(k, np.nan), np.full(k, np.nan), np.full(k, np.nan)
    empty: list[int] = []
    for j in range(k):
        a, b = ref[:, j], cur[:, j]
        miss_a, miss_b = _missing_mask(a), _missing_mask(b)
        if miss_a.any() or miss_b.any():
            if nan_policy == "raise":
                name = "reference" if miss_a.any() else "current"
                raise InvalidInputError(
                    name, "free of missing labels (nan_policy='raise')", f"missing in feature {j}"
                )
            if nan_policy == "propagate":
                continue
            a, b = a[~miss_a], b[~miss_b]
        if a.size == 0 or b.size == 0:
            empty.append(j)
            continue
        try:
            labels, codes = np.unique(np.concatenate([a, b]), return_inverse=True)
        except TypeError as exc:  # unorderable mix that as_labels let through
            raise InvalidInputError(
                "current", "labels of the reference's kind", f"feature {j}: {exc}"
            ) from exc
        codes = codes.ravel()
        ref_counts = np.bincount(codes[: a.size], minlength=labels.size)
        cur_counts = np.bincount(codes[a.size :], minlength=labels.size)
        stat[j], p[j], effect[j] = chi2_table(ref_counts, cur_counts)
    if empty:
        warn_drift(f"chi2: feature(s) {empty} have no non-missing label in reference or current")
    return finish(
        "chi2",
        stat,
        p,
        was_1d=ref_1d and cur_1d,
        alpha=limit,
        correction=correction,
        effect=effect,
        min_effect=effect_floor,
    )


def ztest(
    reference: object,
    current: object,
    *,
    axis: int = 0,
    alpha: float = 0.05,
    nan_policy: str = "propagate",
    correction: str | None = None,
    min_effect: float | None = None,
) -> DriftResult:
    """Two-proportion z-test (pooled, two-sided) for binary features.

    With ``x1`` ones among ``n1`` reference values and ``x2`` among ``n2``
    current values, ``p = (x1 + x2) / (n1 + n2)`` and
    ``z = (x2 / n2 - x1 / n1) / sqrt(p (1 - p) (1 / n1 + 1 / n2))``; the
    p-value is ``2 sf(|z|)`` of the standard normal. When both samples are
    all zeros or all ones the proportions are equal and ``z = 0``, p-value 1.
    Effect size for ``min_effect``: ``|x2 / n2 - x1 / n1|``. Vectorised over
    features (one pass of column sums).

    Args:
        reference: 1-D or 2-D binary samples (0/1 or booleans; NaN missing).
        current: the same number of features as ``reference``.
        axis: the axis along which samples run.
        alpha: significance level.
        nan_policy: ``"propagate"``, ``"omit"`` or ``"raise"``.
        correction: multiple-testing correction across features.
        min_effect: minimum absolute difference of proportions for ``drifted``.

    Returns:
        A :class:`DriftResult` whose statistic is the signed z (positive when
        the current proportion is higher).

    Raises:
        InvalidInputError: a value other than 0, 1 or NaN.

    Example:
        >>> from aiguard import drift
        >>> res = drift.ztest([0] * 80 + [1] * 20, [0] * 60 + [1] * 40)
        >>> round(res.statistic, 4), round(res.pvalue, 5), res.drifted
        (3.0861, 0.00203, True)
    """
    check_nan_policy(nan_policy)
    check_correction(correction)
    limit = check_alpha(alpha)
    effect_floor = check_min_effect(min_effect)
    ref, cur, was_1d = as_pair(reference, current, axis=axis)
    counts = []
    for name, x in (("reference", ref), ("current", cur)):
        ones = x == 1.0
        missing = np.isnan(x)
        if not (ones | missing | (x == 0.0)).all():
            raise InvalidInputError(name, "binary (0/1, booleans or NaN)", "other values")
        if missing.any() and nan_policy == "raise":
            raise InvalidInputError(name, "free of NaN (nan_policy='raise')", "NaN")
        valid = x.shape[0] - missing.sum(axis=0)
        if nan_policy == "propagate":
            valid = np.where(missing.any(axis=0), 0, valid)
        counts.append((ones.sum(axis=0).astype(float), valid.astype(float)))
    (x1, n1), (x2, n2) = counts
    small = (n1 == 0) | (n2 == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = x1 / n1, x2 / n2
        pooled = (x1 + x2) / (n1 + n2)
        se = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
        z = np.where(se > 0, (p2 - p1) / se, 0.0)
    z[small] = np.nan
    pvalue = 2.0 * stats.norm.sf(np.abs(z))
    if nan_policy == "omit" and small.any():
        warn_drift(f"ztest: feature(s) {np.flatnonzero(small).tolist()} have no non-missing value")
    return finish(
        "ztest",
        z,
        pvalue,
        was_1d=was_1d,
        alpha=limit,
        correction=correction,
        effect=np.abs(p2 - p1),
        min_effect=effect_floor,
    )

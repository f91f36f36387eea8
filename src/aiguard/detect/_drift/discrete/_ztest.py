"""The two-proportion z-test for binary features, vectorised over features."""

from __future__ import annotations

import numpy as np
from scipy import stats

from aiguard.detect._drift._checks import check_alpha, check_min_effect, check_nan_policy
from aiguard.detect._drift._corrections import check_correction
from aiguard.detect._drift._result import DriftResult, finish, warn_drift
from aiguard.detect._drift.inputs import as_pair
from aiguard.errors import InvalidInputError

__all__ = ["ztest"]


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

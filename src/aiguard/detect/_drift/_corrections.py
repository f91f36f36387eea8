"""Multiple-testing corrections of per-feature p-values (Bonferroni, Holm, BH, BY)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from aiguard.detect._drift._checks import check_choice

if TYPE_CHECKING:
    from aiguard.detect._drift._types import FloatArray

__all__ = ["CORRECTIONS", "Correction", "check_correction", "correct"]


Correction: TypeAlias = Literal["bonferroni", "holm", "bh", "by"]


CORRECTIONS: tuple[str, ...] = ("bonferroni", "holm", "bh", "by")


def check_correction(correction: object) -> None:
    """Validate ``correction`` (None or one of :data:`CORRECTIONS`)."""
    check_choice("correction", correction, (None, *CORRECTIONS))


def correct(pvalues: npt.ArrayLike, method: str | None) -> FloatArray:
    """Adjust p-values for testing many features at once.

    NaN p-values (undefined tests) are left NaN and do not count as tests.

    * ``"bonferroni"``: ``min(1, m p)``.
    * ``"holm"``: step-down Holm: ``max_{j<=i} min(1, (m - j + 1) p_(j))``.
    * ``"bh"``: Benjamini-Hochberg: ``min_{j>=i} min(1, m p_(j) / j)``.
    * ``"by"``: Benjamini-Yekutieli: BH times ``sum_{i=1}^m 1/i``.

    Args:
        pvalues: 1-D p-values (one per feature).
        method: one of the above, or None (returns a float copy).

    Returns:
        Adjusted p-values in the original order, as float64.

    Example:
        >>> from aiguard.detect._drift._corrections import correct
        >>> correct([0.01, 0.04, 0.03], "holm").tolist()
        [0.03, 0.06, 0.06]
    """
    check_correction(method)
    p: FloatArray = np.array(pvalues, dtype=np.float64, ndmin=1)
    if method is None:
        return p
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    if m == 0:
        return p
    pv = p[valid]
    if method == "bonferroni":
        adjusted: FloatArray = np.minimum(pv * m, 1.0)
    else:
        order = np.argsort(pv, kind="stable")
        ps = pv[order]
        ranks = np.arange(1, m + 1, dtype=np.float64)
        if method == "holm":
            steps = np.maximum.accumulate((m - ranks + 1) * ps)
        else:
            scale = m * (np.sum(1.0 / ranks) if method == "by" else 1.0)
            steps = np.minimum.accumulate((scale * ps / ranks)[::-1])[::-1]
        adjusted = np.empty(m, dtype=np.float64)
        adjusted[order] = np.minimum(steps, 1.0)
    out: FloatArray = p.copy()
    out[valid] = adjusted
    return out

"""Public binned statistics: ``psi``, ``jensenshannon``, ``kl``, ``hellinger``.

Each compares the reference's and the current sample's shares of the same
bins. The bins come from the reference (rules in :mod:`._edges`): quantile
bins by default, values outside the reference range in the outer bins,
categories of the union for categorical features.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiguard.detect._drift.binned._divergences import DEFAULT_EPS, check_base, check_eps
from aiguard.detect._drift.binned._engine import binned_result

if TYPE_CHECKING:
    from aiguard.detect._drift._result import DriftResult
    from aiguard.detect._drift.binned._edges import BinsSpec

__all__ = ["hellinger", "jensenshannon", "kl", "psi"]


def psi(
    reference: Any,
    current: Any,
    *,
    axis: int = 0,
    bins: BinsSpec = 10,
    threshold: float | None = 0.1,
    eps: float = DEFAULT_EPS,
    categorical: bool = False,
    compat: str | None = None,
    nan_policy: str = "propagate",
) -> DriftResult:
    """Population stability index of the reference's bins.

    ``PSI = sum_i (r_i - c_i) ln(r_i / c_i)`` over the bins, with ``r`` and
    ``c`` the reference and current shares after the epsilon rule (shares
    floored at ``eps``, default 1e-4, and renormalised), so an empty bin gives
    a large, finite term. It is the symmetrised Kullback-Leibler divergence.
    Rules of thumb: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 major shift
    (Siddiqi, *Credit Risk Scorecards*, 2006; Yurdakul, 2018).

    Args:
        reference: 1-D or 2-D samples (samples along ``axis``), numbers or labels.
        current: the same features.
        axis: the axis along which samples run.
        bins: an int (quantile bins of the reference, default 10), ``"sturges"``,
            ``"doane"`` or explicit edges; values outside the reference range
            go to the outer bins. Ignored for categorical data.
        threshold: drift when the statistic reaches it (default 0.1).
        categorical: treat numbers as labels (strings always are).
        compat: ``"evidently"`` reproduces Evidently 0.7's numbers.
        nan_policy: ``"propagate"``, ``"omit"`` or ``"raise"``.
        eps: the floor of the epsilon rule, in (0, 1).

    Returns:
        A :class:`~aiguard.drift.DriftResult` (``pvalue`` is None).

    Example:
        >>> import numpy as np
        >>> from aiguard import drift
        >>> rng = np.random.default_rng(0)
        >>> res = drift.psi(rng.normal(size=5000), rng.normal(0.5, 1, size=5000))
        >>> round(res.statistic, 3), res.drifted
        (0.266, True)
    """
    eps = check_eps(eps)
    return binned_result(
        "psi",
        reference,
        current,
        axis=axis,
        bins=bins,
        threshold=threshold,
        categorical=categorical,
        compat=compat,
        nan_policy=nan_policy,
        eps=eps,
    )


def kl(
    reference: Any,
    current: Any,
    *,
    axis: int = 0,
    bins: BinsSpec = 10,
    threshold: float | None = 0.1,
    eps: float = DEFAULT_EPS,
    categorical: bool = False,
    compat: str | None = None,
    nan_policy: str = "propagate",
) -> DriftResult:
    """Kullback-Leibler divergence ``KL(reference || current)`` of the binned shares.

    ``KL = sum_i r_i ln(r_i / c_i)`` with the epsilon rule of :func:`psi`;
    equals ``scipy.stats.entropy(r, c)`` on the floored shares (Kullback and
    Leibler, 1951).

    Args:
        reference: 1-D or 2-D samples (samples along ``axis``), numbers or labels.
        current: the same features.
        axis: the axis along which samples run.
        bins: an int (quantile bins of the reference, default 10), ``"sturges"``,
            ``"doane"`` or explicit edges; values outside the reference range
            go to the outer bins. Ignored for categorical data.
        threshold: drift when the statistic reaches it (default 0.1).
        categorical: treat numbers as labels (strings always are).
        compat: ``"evidently"`` reproduces Evidently 0.7's numbers.
        nan_policy: ``"propagate"``, ``"omit"`` or ``"raise"``.
        eps: the floor of the epsilon rule, in (0, 1).

    Returns:
        A :class:`~aiguard.drift.DriftResult` (``pvalue`` is None).

    Example:
        >>> from aiguard import drift
        >>> round(drift.kl(["a", "a", "b", "b"], ["a", "b", "b", "b"]).statistic, 4)
        0.1438
    """
    eps = check_eps(eps)
    return binned_result(
        "kl",
        reference,
        current,
        axis=axis,
        bins=bins,
        threshold=threshold,
        categorical=categorical,
        compat=compat,
        nan_policy=nan_policy,
        eps=eps,
    )


def jensenshannon(
    reference: Any,
    current: Any,
    *,
    axis: int = 0,
    bins: BinsSpec = 10,
    threshold: float | None = 0.1,
    base: float | None = None,
    categorical: bool = False,
    compat: str | None = None,
    nan_policy: str = "propagate",
) -> DriftResult:
    """Jensen-Shannon *distance* of the binned shares (raw shares, no epsilon).

    ``JS = sqrt((KL(r || m) + KL(c || m)) / 2)`` with ``m = (r + c) / 2``,
    natural log unless ``base`` is given (then divided by ``ln(base)`` inside
    the root); equals ``scipy.spatial.distance.jensenshannon`` on the same
    histograms. Bounded by ``sqrt(ln 2)`` (1 with ``base=2``) (Lin, 1991;
    Endres and Schindelin, 2003).

    Args:
        reference: 1-D or 2-D samples (samples along ``axis``), numbers or labels.
        current: the same features.
        axis: the axis along which samples run.
        bins: an int (quantile bins of the reference, default 10), ``"sturges"``,
            ``"doane"`` or explicit edges; values outside the reference range
            go to the outer bins. Ignored for categorical data.
        threshold: drift when the statistic reaches it (default 0.1).
        categorical: treat numbers as labels (strings always are).
        compat: ``"evidently"`` reproduces Evidently 0.7's numbers.
        nan_policy: ``"propagate"``, ``"omit"`` or ``"raise"``.
        base: the logarithm's base (default e).

    Returns:
        A :class:`~aiguard.drift.DriftResult` (``pvalue`` is None).

    Example:
        >>> from aiguard import drift
        >>> round(drift.jensenshannon(["a", "b"], ["b", "c"], base=2).statistic, 4)
        0.7071
    """
    base = check_base(base)
    return binned_result(
        "jensenshannon",
        reference,
        current,
        axis=axis,
        bins=bins,
        threshold=threshold,
        categorical=categorical,
        compat=compat,
        nan_policy=nan_policy,
        base=base,
    )


def hellinger(
    reference: Any,
    current: Any,
    *,
    axis: int = 0,
    bins: BinsSpec = 10,
    threshold: float | None = 0.1,
    categorical: bool = False,
    compat: str | None = None,
    nan_policy: str = "propagate",
) -> DriftResult:
    """Hellinger distance of the binned shares (raw shares, no epsilon).

    ``H = sqrt(sum_i (sqrt(r_i) - sqrt(c_i))^2 / 2)``, in [0, 1]; equal to
    ``sqrt(1 - sum_i sqrt(r_i c_i))`` (Hellinger, 1909). With
    ``compat="evidently"``, Evidently 0.7's variant (Sturges bins of the
    distinct values for numeric data).

    Args:
        reference: 1-D or 2-D samples (samples along ``axis``), numbers or labels.
        current: the same features.
        axis: the axis along which samples run.
        bins: an int (quantile bins of the reference, default 10), ``"sturges"``,
            ``"doane"`` or explicit edges; values outside the reference range
            go to the outer bins. Ignored for categorical data.
        threshold: drift when the statistic reaches it (default 0.1).
        categorical: treat numbers as labels (strings always are).
        compat: ``"evidently"`` reproduces Evidently 0.7's numbers.
        nan_policy: ``"propagate"``, ``"omit"`` or ``"raise"``.

    Returns:
        A :class:`~aiguard.drift.DriftResult` (``pvalue`` is None).

    Example:
        >>> from aiguard import drift
        >>> drift.hellinger(["a", "b"], ["c", "d"]).statistic
        1.0
    """
    return binned_result(
        "hellinger",
        reference,
        current,
        axis=axis,
        bins=bins,
        threshold=threshold,
        categorical=categorical,
        compat=compat,
        nan_policy=nan_policy,
    )

"""Public two-sample statistics of continuous features (``aiguard.drift.ks`` ...).

Each function sorts both samples once per call and computes the statistic for
every feature from one linear merge per feature (see ``_merge``); the numbers
are scipy's (``ks_2samp``, ``cramervonmises_2samp``, ``anderson_ksamp``,
``wasserstein_distance``, ``energy_distance``) to about 1e-12 relative.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiguard.detect._drift._checks import check_choice, check_optional_number
from aiguard.detect._drift.rank._presorted import _test

if TYPE_CHECKING:
    from aiguard.detect._drift._result import DriftResult

__all__ = ["anderson", "cramervonmises", "energy", "ks", "wasserstein"]


def ks(
    reference: object,
    current: object,
    *,
    axis: int = 0,
    alternative: str = "two-sided",
    method: str = "auto",
    alpha: float = 0.05,
    nan_policy: str = "propagate",
    correction: str | None = None,
    min_effect: float | None = None,
) -> DriftResult:
    """Two-sample Kolmogorov-Smirnov test per feature (``scipy.stats.ks_2samp``).

    The statistic is ``D = sup |F_ref(x) - F_cur(x)|`` (or its one-sided
    versions), the p-value is scipy's: ``method="auto"`` uses the exact
    distribution when both samples have at most 10,000 values and the
    asymptotic one (``kstwo``) otherwise. The effect size for ``min_effect`` is
    D itself.

    Args:
        reference: 1-D or 2-D samples (anything with ``__array__``).
        current: the same number of features as ``reference``.
        axis: the axis along which samples run.
        alternative: ``"two-sided"``, ``"less"`` or ``"greater"`` (scipy's meaning:
            ``"greater"`` means F_ref > F_cur somewhere).
        method: ``"auto"``, ``"exact"`` or ``"asymp"``.
        alpha: significance level; a feature drifted when ``pvalue < alpha``.
        nan_policy: ``"propagate"``, ``"omit"`` or ``"raise"``.
        correction: ``None``, ``"bonferroni"``, ``"holm"``, ``"bh"`` or ``"by"``
            across features.
        min_effect: also require ``D >= min_effect`` for ``drifted``.

    Returns:
        A :class:`DriftResult` (scalars for 1-D input).

    Raises:
        InvalidInputError: unusable data (see :func:`as_samples`), inf, or NaN
            under ``nan_policy="raise"``.
        ConfigurationError: an invalid parameter.

    Example:
        >>> from aiguard import drift
        >>> res = drift.ks([0.1, 0.4, 0.2, 0.9], [0.5, 0.8, 0.7, 0.6, 0.95])
        >>> res
        DriftResult(method='ks', statistic=0.75, pvalue=0.1429, drifted=False, threshold=0.05)
    """

    def validate() -> None:
        check_choice("alternative", alternative, ("two-sided", "less", "greater"))
        check_choice("method", method, ("auto", "exact", "asymp"))

    return _test(
        "ks",
        reference,
        current,
        axis=axis,
        nan_policy=nan_policy,
        alpha=alpha,
        threshold=None,
        correction=correction,
        min_effect=min_effect,
        options={"alternative": alternative, "ks_method": method},
        validate=validate,
    )


def cramervonmises(
    reference: object,
    current: object,
    *,
    axis: int = 0,
    method: str = "auto",
    alpha: float = 0.05,
    nan_policy: str = "propagate",
    correction: str | None = None,
    min_effect: float | None = None,
) -> DriftResult:
    """Two-sample Cramér-von Mises test per feature (``scipy.stats.cramervonmises_2samp``).

    ``T = U / (n m N) - (4 n m - 1) / (6 N)`` with ``U`` from mid-ranks in the
    pooled sample (Anderson 1962). ``method="auto"`` is exact when both samples
    have at most 20 values, asymptotic otherwise. Needs at least 2 values per
    sample (else NaN and a :class:`DriftWarning`). Effect size: the normed
    Wasserstein distance.

    Args:
        reference: 1-D or 2-D samples.
        current: the same number of features as ``reference``.
        axis: the axis along which samples run.
        method: ``"auto"``, ``"exact"`` or ``"asymptotic"``.
        alpha: significance level.
        nan_policy: ``"propagate"``, ``"omit"`` or ``"raise"``.
        correction: multiple-testing correction across features.
        min_effect: minimum normed Wasserstein distance for ``drifted``.

    Returns:
        A :class:`DriftResult`.

    Example:
        >>> from aiguard import drift
        >>> res = drift.cramervonmises([1.0, 2.0, 3.0, 4.0], [3.5, 5.0, 6.0])
        >>> round(res.statistic, 4), round(res.pvalue, 4)
        (0.3929, 0.1143)
    """

    def validate() -> None:
        check_choice("method", method, ("auto", "exact", "asymptotic"))

    return _test(
        "cramervonmises",
        reference,
        current,
        axis=axis,
        nan_policy=nan_policy,
        alpha=alpha,
        threshold=None,
        correction=correction,
        min_effect=min_effect,
        options={"cvm_method": method},
        validate=validate,
    )


def anderson(
    reference: object,
    current: object,
    *,
    axis: int = 0,
    alpha: float = 0.05,
    nan_policy: str = "propagate",
    correction: str | None = None,
    min_effect: float | None = None,
) -> DriftResult:
    """Anderson-Darling k-sample test for two samples (``scipy.stats.anderson_ksamp``).

    The mid-rank statistic of Scholz and Stephens (1987), standardised, as
    ``anderson_ksamp([reference, current], variant="midrank")`` returns it. The
    p-value is scipy 1.17's default: interpolated from the paper's table, hence
    **capped to [0.001, 0.25]** (scipy warns when it caps; aiguard does not, per
    feature). A feature whose pooled sample has a single distinct value is NaN
    with a :class:`DriftWarning`. Effect size: the normed Wasserstein distance.

    Args:
        reference: 1-D or 2-D samples.
        current: the same number of features as ``reference``.
        axis: the axis along which samples run.
        alpha: significance level (meaningful between 0.001 and 0.25).
        nan_policy: ``"propagate"``, ``"omit"`` or ``"raise"``.
        correction: multiple-testing correction across features.
        min_effect: minimum normed Wasserstein distance for ``drifted``.

    Returns:
        A :class:`DriftResult`.

    Example:
        >>> from aiguard import drift
        >>> res = drift.anderson([1.0, 2.0, 3.0, 4.0], [3.5, 5.0, 6.0, 7.0])
        >>> round(res.statistic, 4), round(res.pvalue, 4)
        (2.4343, 0.0326)
    """
    return _test(
        "anderson",
        reference,
        current,
        axis=axis,
        nan_policy=nan_policy,
        alpha=alpha,
        threshold=None,
        correction=correction,
        min_effect=min_effect,
        options={},
    )


def wasserstein(
    reference: object,
    current: object,
    *,
    axis: int = 0,
    normed: bool = False,
    threshold: float | None = None,
    nan_policy: str = "propagate",
    min_effect: float | None = None,
) -> DriftResult:
    """Wasserstein-1 (earth mover's) distance per feature (``scipy.stats.wasserstein_distance``).

    ``W = integral |F_ref(x) - F_cur(x)| dx``. With ``normed=True`` it is divided
    by the reference's standard deviation (ddof=0, floored at 0.001), a
    scale-free number comparable across features. There is no p-value; with a
    ``threshold`` a feature drifted when ``statistic >= threshold``. The effect
    size is always the normed distance.

    Args:
        reference: 1-D or 2-D samples.
        current: the same number of features as ``reference``.
        axis: the axis along which samples run.
        normed: divide by the reference's standard deviation.
        threshold: decide ``drifted`` at this distance (None: no decision).
        nan_policy: ``"propagate"``, ``"omit"`` or ``"raise"``.
        min_effect: also require the normed distance to reach this.

    Returns:
        A :class:`DriftResult` with ``pvalue`` None.

    Example:
        >>> from aiguard import drift
        >>> drift.wasserstein([0.0, 1.0, 3.0], [5.0, 6.0, 8.0]).statistic
        5.0
        >>> drift.wasserstein([0.0, 1.0, 3.0], [5.0, 6.0, 8.0], normed=True, threshold=0.5).drifted
        True
    """
    limit = check_optional_number("threshold", threshold)
    check_choice("normed", normed, (True, False))
    return _test(
        "wasserstein",
        reference,
        current,
        axis=axis,
        nan_policy=nan_policy,
        alpha=None,
        threshold=limit,
        correction=None,
        min_effect=min_effect,
        options={"normed": normed},
    )


def energy(
    reference: object,
    current: object,
    *,
    axis: int = 0,
    threshold: float | None = None,
    nan_policy: str = "propagate",
    min_effect: float | None = None,
) -> DriftResult:
    """Energy distance per feature (``scipy.stats.energy_distance``).

    ``E = sqrt(2 integral (F_ref(x) - F_cur(x))^2 dx)`` (Székely's energy
    distance, in scipy's scaling). No p-value; ``threshold`` as for
    :func:`wasserstein`. Effect size: the normed Wasserstein distance.

    Args:
        reference: 1-D or 2-D samples.
        current: the same number of features as ``reference``.
        axis: the axis along which samples run.
        threshold: decide ``drifted`` at this distance (None: no decision).
        nan_policy: ``"propagate"``, ``"omit"`` or ``"raise"``.
        min_effect: also require the normed Wasserstein distance to reach this.

    Returns:
        A :class:`DriftResult` with ``pvalue`` None.

    Example:
        >>> from aiguard import drift
        >>> round(drift.energy([0.0, 1.0, 3.0], [5.0, 6.0, 8.0]).statistic, 6)
        2.708013
    """
    limit = check_optional_number("threshold", threshold)
    return _test(
        "energy",
        reference,
        current,
        axis=axis,
        nan_policy=nan_policy,
        alpha=None,
        threshold=limit,
        correction=None,
        min_effect=min_effect,
        options={},
    )

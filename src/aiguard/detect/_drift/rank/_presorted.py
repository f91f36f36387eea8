"""Two-sample statistics of continuous features, computed from sorted samples.

Presorted interface (what :class:`aiguard.drift.Reference` calls). The arrays
are 2-D ``(n, k)`` and ``(m, k)``, samples on axis 0, each column sorted
ascending and free of NaN and inf (Fortran order is fastest); every function
returns ``(statistic, pvalue, effect)`` arrays of shape ``(k,)``, ``pvalue``
all-NaN for the distances:

* ``_ks_sorted(ref, cur, *, method="auto", alternative="two-sided")``
* ``_cvm_sorted(ref, cur, *, method="auto")``
* ``_anderson_sorted(ref, cur)``
* ``_wasserstein_sorted(ref, cur, *, normed=False)``
* ``_energy_sorted(ref, cur)``
* ``_continuous_sorted(ref, cur, methods, **options)``: several statistics from
  one merge per feature, ``{method: (statistic, pvalue, effect)}``.
* :func:`compare_sorted` does the same on :class:`SortedSamples` with NaN
  policies (ragged omit) and the too-few-samples rule.

Effect sizes (compared with ``min_effect``): the KS distance D for ``ks``; the
normed Wasserstein distance (divided by the reference's standard deviation,
ddof=0, floored at 0.001) for every other statistic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from aiguard.detect._drift._checks import (
    check_alpha,
    check_choice,
    check_min_effect,
    check_nan_policy,
)
from aiguard.detect._drift._corrections import check_correction
from aiguard.detect._drift._result import finish, warn_drift
from aiguard.detect._drift.inputs import SortedSamples, apply_sorted, as_pair, sort_samples
from aiguard.detect._drift.rank._merge import merged_quantities
from aiguard.detect._drift.rank._pvalues import anderson_pvalue, cvm_pvalue, ks_pvalue

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from aiguard.detect._drift._result import DriftResult
    from aiguard.detect._drift._types import Columns, FloatArray

__all__ = [
    "CONTINUOUS_METHODS",
    "_anderson_sorted",
    "_continuous_sorted",
    "_cvm_sorted",
    "_energy_sorted",
    "_ks_sorted",
    "_wasserstein_sorted",
    "compare_sorted",
]

#: statistic names accepted by :func:`_continuous_sorted` and :func:`compare_sorted`
CONTINUOUS_METHODS = ("ks", "cramervonmises", "anderson", "wasserstein", "energy")
_NEEDS = {
    "ks": ("ks_plus", "ks_minus"),
    "cramervonmises": ("cvm_u", "wasserstein", "ref_std"),
    "anderson": ("ad_a2kn", "distinct", "wasserstein", "ref_std"),
    "wasserstein": ("wasserstein", "ref_std"),
    "energy": ("energy_sq", "wasserstein", "ref_std"),
}
_NORM_FLOOR = 0.001


def _continuous_sorted(
    ref: FloatArray,
    cur: FloatArray,
    methods: Sequence[str],
    *,
    alternative: str = "two-sided",
    ks_method: str = "auto",
    cvm_method: str = "auto",
    normed: bool = False,
    workers: int = 1,
    ref_std: FloatArray | None = None,
) -> dict[str, tuple[FloatArray, FloatArray, FloatArray]]:
    """Several statistics per column from one merge of each column pair.

    Args:
        ref: ``(n, k)`` reference, each column sorted ascending, finite.
        cur: ``(m, k)`` current, each column sorted ascending, finite.
        methods: names from :data:`CONTINUOUS_METHODS`.
        alternative: KS alternative (scipy's meaning).
        ks_method: KS p-value method (``"auto"``, ``"exact"``, ``"asymp"``).
        cvm_method: Cramér-von Mises p-value method (``"auto"``, ``"exact"``,
            ``"asymptotic"``).
        normed: report ``wasserstein`` divided by the reference's std.
        workers: threads over blocks of features (see :mod:`aiguard.detect._drift._workers`).
        ref_std: each reference column's standard deviation (ddof=0), when known.

    Returns:
        ``{method: (statistic, pvalue, effect)}``, arrays of shape ``(k,)``.
    """
    n, k = ref.shape
    m = cur.shape[0]
    want = frozenset(q for method in methods for q in _NEEDS[method])
    raw = merged_quantities(ref.T, cur.T, want, workers=workers, ref_std=ref_std)
    nan = np.full(k, np.nan)
    out: dict[str, tuple[FloatArray, FloatArray, FloatArray]] = {}
    normed_w = (
        raw["wasserstein"] / np.maximum(raw["ref_std"], _NORM_FLOOR)
        if "wasserstein" in raw
        else nan
    )

    def column(j: int) -> tuple[FloatArray, FloatArray]:
        return ref[:, j], cur[:, j]

    for method in methods:
        if method == "ks":
            stat, p = ks_pvalue(
                raw["ks_plus"],
                raw["ks_minus"],
                n,
                m,
                alternative=alternative,
                method=ks_method,
                column=column,
            )
            out[method] = (stat, p, stat)
        elif method == "cramervonmises":
            if min(n, m) < 2:
                out[method] = (nan, nan, nan)
                continue
            stat, p = cvm_pvalue(raw["cvm_u"], n, m, method=cvm_method, column=column)
            out[method] = (stat, p, normed_w)
        elif method == "anderson":
            stat, p = anderson_pvalue(raw["ad_a2kn"], n, m)
            if n + m <= 3:  # the variance of the statistic divides by (N - 1)(N - 2)(N - 3)
                warn_drift(
                    f"anderson: needs more than 3 pooled observations, got {n + m}; "
                    "the statistic is NaN"
                )
            single = raw["distinct"] < 2
            if single.any():
                stat[single] = np.nan
                p[single] = np.nan
                warn_drift(
                    f"anderson: feature(s) {np.flatnonzero(single).tolist()} have a single "
                    "distinct value in the pooled sample; their statistic is NaN"
                )
            out[method] = (stat, p, normed_w)
        elif method == "wasserstein":
            out[method] = (normed_w if normed else raw["wasserstein"], nan, normed_w)
        else:  # energy
            out[method] = (np.sqrt(2) * np.sqrt(raw["energy_sq"]), nan, normed_w)
    return out


def _ks_sorted(
    ref: FloatArray, cur: FloatArray, *, method: str = "auto", alternative: str = "two-sided"
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """KS statistic, p-value and effect (D) per column (``scipy.stats.ks_2samp``)."""
    return _continuous_sorted(ref, cur, ("ks",), ks_method=method, alternative=alternative)["ks"]


def _cvm_sorted(
    ref: FloatArray, cur: FloatArray, *, method: str = "auto"
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Cramér-von Mises statistic, p-value and effect per column."""
    return _continuous_sorted(ref, cur, ("cramervonmises",), cvm_method=method)["cramervonmises"]


def _anderson_sorted(ref: FloatArray, cur: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Anderson-Darling k-sample statistic, p-value and effect per column."""
    return _continuous_sorted(ref, cur, ("anderson",))["anderson"]


def _wasserstein_sorted(
    ref: FloatArray, cur: FloatArray, *, normed: bool = False
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Wasserstein-1 distance per column (NaN p-value, normed effect)."""
    return _continuous_sorted(ref, cur, ("wasserstein",), normed=normed)["wasserstein"]


def _energy_sorted(ref: FloatArray, cur: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Energy distance per column (NaN p-value, normed Wasserstein effect)."""
    return _continuous_sorted(ref, cur, ("energy",))["energy"]


def compare_sorted(
    reference: SortedSamples,
    current: SortedSamples,
    methods: Sequence[str],
    *,
    nan_policy: str = "propagate",
    ref_std: FloatArray | None = None,
    **options: Any,
) -> dict[str, tuple[FloatArray, FloatArray, FloatArray]]:
    """:func:`_continuous_sorted` on sorted samples that may hold NaNs.

    NaN-free features go through one vectorised call; ``nan_policy`` decides
    the others (see :func:`aiguard.detect._drift.inputs.apply_sorted`). A
    feature with fewer non-missing values than a statistic needs (1, or 2 for
    Cramér-von Mises) is NaN for that statistic, with one ``DriftWarning``.

    Returns:
        ``{method: (statistic, pvalue, effect)}``, arrays of shape ``(k,)``.
    """
    methods = tuple(methods)
    for method in methods:
        check_choice("methods", method, CONTINUOUS_METHODS)

    def kernel(ref: FloatArray, cur: FloatArray, cols: Columns) -> tuple[FloatArray, ...]:
        std = None if ref_std is None else ref_std[cols]
        res = _continuous_sorted(ref, cur, methods, ref_std=std, **options)
        return tuple(a for method in methods for a in res[method])

    # every statistic needs one value per sample; Cramér-von Mises needs two, which
    # is checked here for all of them when it is alone, and below when it is not
    alone = methods == ("cramervonmises",)
    flat = apply_sorted(
        kernel,
        reference,
        current,
        nan_policy=nan_policy,
        n_outputs=3 * len(methods),
        min_samples=2 if alone else 1,
        method="/".join(methods),
    )
    if "cramervonmises" in methods and not alone:
        small = (reference.counts < 2) | (current.counts < 2)
        if nan_policy != "omit":
            small &= (reference.counts == reference.n) & (current.counts == current.n)
        if small.any():
            warn_drift(
                f"cramervonmises: feature(s) {np.flatnonzero(small).tolist()} have fewer than 2 "
                "non-missing observations in reference or current; their statistic is NaN"
            )
    return {method: flat[3 * i : 3 * i + 3] for i, method in enumerate(methods)}  # type: ignore[misc]


def _test(
    method: str,
    reference: object,
    current: object,
    *,
    axis: int,
    nan_policy: str,
    alpha: float | None,
    threshold: float | None,
    correction: str | None,
    min_effect: float | None,
    options: dict[str, Any],
    validate: Callable[[], None] | None = None,
) -> DriftResult:
    """Shared body of the public continuous statistics."""
    check_nan_policy(nan_policy)
    check_correction(correction)
    limit = None if alpha is None else check_alpha(alpha)
    effect_floor = check_min_effect(min_effect)
    if validate is not None:
        validate()
    ref, cur, was_1d = as_pair(reference, current, axis=axis)
    ref_s = sort_samples(ref, "reference", nan_policy=nan_policy)
    cur_s = sort_samples(cur, "current", nan_policy=nan_policy)
    stat, p, effect = compare_sorted(ref_s, cur_s, (method,), nan_policy=nan_policy, **options)[
        method
    ]
    return finish(
        method,
        stat,
        None if limit is None else p,
        was_1d=was_1d,
        alpha=limit,
        threshold=threshold,
        correction=correction,
        effect=effect,
        min_effect=effect_floor,
    )

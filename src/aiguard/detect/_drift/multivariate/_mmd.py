"""Maximum mean discrepancy: one multivariate two-sample test over all features."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from aiguard.detect._drift._checks import (
    check_alpha,
    check_count,
    check_min_effect,
    check_nan_policy,
    check_optional_number,
)
from aiguard.detect._drift._result import DriftResult, finish, warn_drift
from aiguard.detect._drift.inputs import as_pair
from aiguard.errors import InvalidInputError

if TYPE_CHECKING:
    from aiguard.detect._drift._types import FloatArray

__all__ = ["mmd"]


def _rows(x: FloatArray, name: str, nan_policy: str) -> FloatArray | None:
    if np.isinf(x).any():
        raise InvalidInputError(
            name, "finite (NaN marks a missing value; inf is not allowed)", "inf"
        )
    bad = np.isnan(x).any(axis=1)
    if not bad.any():
        return x
    if nan_policy == "raise":
        raise InvalidInputError(
            name, "free of NaN (nan_policy='raise')", f"{int(bad.sum())} rows with NaN"
        )
    if nan_policy == "propagate":
        return None
    return x[~bad]


def _sq_dists(z: FloatArray) -> FloatArray:
    sq = np.einsum("ij,ij->i", z, z)
    d2: FloatArray = sq[:, None] + sq[None, :] - 2.0 * (z @ z.T)
    np.maximum(d2, 0.0, out=d2)
    np.fill_diagonal(d2, 0.0)
    return d2


def _mmd2(q_xx: FloatArray, q_xy: FloatArray, q_yy: FloatArray, n: int, m: int) -> FloatArray:
    """Unbiased MMD^2 from block sums that exclude the kernel's diagonal."""
    return q_xx / (n * (n - 1)) + q_yy / (m * (m - 1)) - 2.0 * q_xy / (n * m)


def mmd(
    reference: object,
    current: object,
    *,
    axis: int = 0,
    bandwidth: float | None = None,
    n_permutations: int = 200,
    max_samples: int = 500,
    seed: int | None = 0,
    alpha: float = 0.05,
    nan_policy: str = "propagate",
    min_effect: float | None = None,
) -> DriftResult:
    """Kernel two-sample test (maximum mean discrepancy) on all features jointly.

    Rows are observations (samples along ``axis``), columns are the features
    of one multivariate distribution; the result is one scalar test.

    * Kernel: Gaussian RBF ``k(x, y) = exp(-||x - y||^2 / (2 h^2))``; the
      bandwidth ``h`` defaults to the median heuristic, the median Euclidean
      distance between distinct pooled observations (1.0 if that is 0).
    * Statistic: the unbiased estimate of MMD^2 (Gretton et al. 2012, eq. 3),
      which can be slightly negative when the distributions agree.
    * p-value: ``(1 + #{permuted >= observed}) / (1 + n_permutations)`` over
      random relabellings of the pooled sample, all evaluated at once from
      the pooled kernel matrix (one matrix product), reproducible with ``seed``.
    * Above ``max_samples`` rows, a sample is subsampled at random (same
      ``seed``) to ``max_samples`` rows: the kernel matrix is quadratic in size.

    Features are used as given: standardise them first when their scales
    differ a lot. Effect size for ``min_effect``: the MMD^2 statistic itself.

    Args:
        reference: 2-D ``(n_samples, n_features)`` (or 1-D: one feature).
        current: the same number of features as ``reference``.
        axis: the axis along which samples (rows) run.
        bandwidth: RBF bandwidth ``h`` (> 0); None for the median heuristic.
        n_permutations: number of random permutations (>= 1).
        max_samples: subsample each sample above this many rows (>= 2).
        seed: seed of the permutations and the subsampling (None: random).
        alpha: significance level.
        nan_policy: rows with a NaN: ``"propagate"`` (NaN result),
            ``"omit"`` (dropped), ``"raise"``.
        min_effect: minimum MMD^2 for ``drifted``.

    Returns:
        A scalar :class:`DriftResult`.

    Example:
        >>> import numpy as np
        >>> from aiguard import drift
        >>> rng = np.random.default_rng(0)
        >>> ref = rng.normal(size=(200, 3))
        >>> drift.mmd(ref, rng.normal(size=(200, 3)) + [0, 0, 1.5]).drifted
        True
        >>> drift.mmd(ref, rng.normal(size=(200, 3))).drifted
        False
    """
    check_nan_policy(nan_policy)
    limit = check_alpha(alpha)
    effect_floor = check_min_effect(min_effect)
    n_perm = check_count("n_permutations", n_permutations, 1)
    cap = check_count("max_samples", max_samples, 2)
    h_fixed = check_optional_number("bandwidth", bandwidth, positive=True)
    ref, cur, _ = as_pair(reference, current, axis=axis)
    x = _rows(ref, "reference", nan_policy)
    y = _rows(cur, "current", nan_policy)
    nan = np.array([np.nan])
    if x is None or y is None:
        return finish("mmd", nan, nan, was_1d=True, alpha=limit, effect=nan)
    if x.shape[0] < 2 or y.shape[0] < 2:
        warn_drift("mmd: needs at least 2 non-missing rows in reference and current; result is NaN")
        return finish("mmd", nan, nan, was_1d=True, alpha=limit, effect=nan)
    rng = np.random.default_rng(seed)
    if x.shape[0] > cap:
        x = x[rng.choice(x.shape[0], cap, replace=False)]
    if y.shape[0] > cap:
        y = y[rng.choice(y.shape[0], cap, replace=False)]
    n, m = x.shape[0], y.shape[0]
    pooled = np.vstack([x, y])
    d2 = _sq_dists(pooled)
    if h_fixed is None:
        upper = d2[np.triu_indices(n + m, k=1)]
        positive = upper[upper > 0]
        h2 = float(np.median(np.sqrt(positive))) ** 2 if positive.size else 1.0
    else:
        h2 = h_fixed**2
    kernel = np.exp(-d2 / (2.0 * h2))
    np.fill_diagonal(kernel, 0.0)  # the unbiased estimate leaves i == j out
    row_sums = kernel.sum(axis=1)
    total = row_sums.sum()
    # labels: row p of w is 1 where an observation is assigned to "reference"
    w = np.zeros((n_perm + 1, n + m))
    w[0, :n] = 1.0
    perms = rng.permuted(np.tile(np.arange(n + m), (n_perm, 1)), axis=1)[:, :n]
    np.put_along_axis(w[1:], perms, 1.0, axis=1)
    q_xx = np.einsum("pi,pi->p", w @ kernel, w)
    q_xy = w @ row_sums - q_xx
    q_yy = total - 2.0 * (w @ row_sums) + q_xx
    values = _mmd2(q_xx, q_xy, q_yy, n, m)
    observed = values[0]
    pvalue = (1.0 + np.count_nonzero(values[1:] >= observed)) / (1.0 + n_perm)
    return finish(
        "mmd",
        np.array([observed]),
        np.array([pvalue]),
        was_1d=True,
        alpha=limit,
        effect=np.array([observed]),
        min_effect=effect_floor,
    )

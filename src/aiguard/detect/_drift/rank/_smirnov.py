"""``scipy.stats.kstwo.sf`` at large n, vectorised over features.

scipy evaluates the two-sided KS survival function with
``scipy.stats._ksstats._kolmogn``; above n = 140 and for ``2.2 <= n d^2 < 370``
(and for ``d >= 1/2``) it returns ``2 * scipy.special.smirnov(n, d)``, which
sums the Smirnov / Birnbaum-Tingey series term by term in double-double
arithmetic (about 50 ms per call at n = 50,000). :func:`kstwo_sf` computes that
series for all features at once and calls scipy itself on every other branch.

The series (xsf's ``_smirnov``, the lower sum, for ``1/n < d < 1 - 1/n``)::

    smirnov(n, d) = d * sum_{j=0}^{n - floor(n d) - 1} A_j,
    A_j = C(n, j) (1 - d - j/n)^(n-j) (d + j/n)^(j-1)

All terms are positive, so the sum is taken in log space (log-sum-exp). With
``a = n - j``, ``b = j`` and Stirling's formula with its remainder ``r``
(``log m! = m log m - m + log(2 pi m)/2 + r(m)``) the large parts of
``log C(n, j)`` cancel exactly against the powers, leaving (for ``j >= 1``)::

    log A_j = a log1p(-n d / a) + (b - 1) log1p(n d / b) + log(n / b)
              + log(n / (2 pi a b)) / 2 + r(n) - r(a) - r(b)

whose terms are of the size of ``n d``, not ``n log n``: the result agrees with
scipy to about 1e-13 relative. The terms are log-concave in ``j``; only those
within :data:`_CUT` nats of the largest are summed (the rest add less than
``n e^-_CUT`` relative), located from a coarse grid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import special, stats

from aiguard.detect._drift.rank._pelzgood import pelz_good_branch, pelz_good_sf

if TYPE_CHECKING:
    from collections.abc import Callable

    from numpy.typing import NDArray

    from aiguard.detect._drift._types import FloatArray

__all__ = ["kstwo_sf", "smirnov_sum"]

_KOLMOGN_EXACT_N = 140  # scipy's kolmogn handles n up to this with its own small-n methods
_SMIRNOV_MAX_N = 1_000_000  # xsf's SMIRNOV_MAX_COMPUTE_N: above it scipy approximates
_MINLOG = -7.451332191019412076235e2  # xsf: log(2**-1075); smirnov is 0 below exp(_MINLOG)
_CUT = 50.0  # terms more than this many nats below the largest are dropped
_GRID = 257  # coarse grid that locates the terms that matter
_BLOCK = 1 << 16  # terms evaluated per numpy pass, term by term (stays in the cache)
_ROWS = 64  # values summed together (work arrays of _ROWS x _SAMPLES)
_SAMPLES = 2048  # terms sampled per value by the trapezoidal estimate
_TINY = 2.0**-1000  # below this scipy's sum of subnormal terms is matched by calling it
_AGREE = 1e-12  # |log| difference at which the step and 2-step estimates agree
_STIRLING_MIN = 20  # r(m) by its asymptotic series from here on


def _stirling_remainder(m: FloatArray) -> FloatArray:
    """``r(m) = log(m!) - (m log m - m + log(2 pi m) / 2)`` for ``m >= 1``."""
    m = np.asarray(m, dtype=np.float64)
    out = np.empty_like(m)
    big = m >= _STIRLING_MIN
    mb = m[big]
    inv2 = 1.0 / (mb * mb)
    out[big] = (
        1.0
        / mb
        * (
            1.0 / 12
            - inv2 * (1.0 / 360 - inv2 * (1.0 / 1260 - inv2 * (1.0 / 1680 - inv2 * (1.0 / 1188))))
        )
    )
    ms = m[~big]
    out[~big] = special.gammaln(ms + 1) - (ms * np.log(ms) - ms + 0.5 * np.log(2 * np.pi * ms))
    return out


def _log_terms(n: int, nx: FloatArray, j: FloatArray, r_n: float) -> FloatArray:
    """``log A_j`` for ``1 <= j <= n - floor(nx) - 1`` (broadcasting ``nx`` against ``j``)."""
    a = n - j
    b = j
    with np.errstate(divide="ignore", invalid="ignore"):
        out = a * np.log1p(-nx / a) + (b - 1) * np.log1p(nx / b)
        out += np.log(n / b) + 0.5 * np.log(n / (2 * np.pi * a * b))
    out += r_n - _stirling_remainder(a) - _stirling_remainder(b)
    out[np.isnan(out)] = -np.inf  # j past the end (n x within rounding of an integer)
    return out


def _strided_sums(
    n: int, nx: FloatArray, lo: FloatArray, hi: FloatArray, *, step: FloatArray, count: int
) -> tuple[FloatArray, FloatArray]:
    """``log(step * sum A_j)`` over ``j = lo, lo + step, ... <= hi``, and the same at ``2 step``.

    With ``step = 1`` the first is the exact sum. Otherwise both are trapezoidal
    estimates of the same smooth sum, and the 2-step one is far less accurate:
    when they agree the 1-step estimate is at least as good.
    """
    r_n = float(_stirling_remainder(np.array([float(n)]))[0])
    k = np.arange(count, dtype=np.float64)
    j = lo[:, None] + step[:, None] * k[None, :]
    outside = j > hi[:, None]
    terms = _log_terms(n, nx[:, None], np.minimum(j, hi[:, None]), r_n)
    terms[outside] = -np.inf
    peak = terms.max(axis=1)
    scaled = np.exp(terms - peak[:, None])
    fine = peak + np.log(step * scaled.sum(axis=1))
    coarse = peak + np.log(2 * step * scaled[:, ::2].sum(axis=1))
    return fine, coarse


def smirnov_sum(n: int, x: FloatArray) -> FloatArray:
    """``scipy.special.smirnov(n, x)`` by its lower sum, vectorised over ``x``.

    Valid where xsf sums the lower series: ``1/n < x``, ``floor(n x) < n - 1``,
    ``n <= 1,000,000``, ``x > 0.5 / sqrt(n)`` (or more than three upper terms) and
    ``-2 n x^2 >= log(2**-1075)``; the caller (:func:`kstwo_sf`) checks that.

    Long sums are first estimated from every ``step``-th term (a trapezoidal
    rule, exponentially accurate for a smooth log-concave summand) and kept only
    when the estimate from every ``2 step``-th term agrees to :data:`_AGREE`;
    the others are summed term by term.

    Args:
        n: the sample size (an integer, at least 2).
        x: the statistics, a 1-D float64 array.

    Returns:
        ``smirnov(n, x)`` per value.
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    for start in range(0, x.size, _ROWS):  # bounded work arrays for many features
        out[start : start + _ROWS] = _smirnov_block(n, x[start : start + _ROWS])
    return out


def _smirnov_block(n: int, x: FloatArray) -> FloatArray:
    """:func:`smirnov_sum` of at most :data:`_ROWS` values."""
    nx = n * x
    last = n - np.floor(nx) - 1  # the largest j of the sum
    r_n = float(_stirling_remainder(np.array([float(n)]))[0])
    # coarse grid over [1, last]: locate the largest term and the range within _CUT nats
    frac = np.linspace(0.0, 1.0, _GRID)
    grid = np.round(1 + frac[None, :] * (last[:, None] - 1))
    coarse = _log_terms(n, nx[:, None], grid, r_n)
    keep = coarse >= (coarse.max(axis=1) - _CUT)[:, None]
    rows = np.arange(x.size)
    lo = grid[rows, np.maximum(np.argmax(keep, axis=1) - 1, 0)]
    hi = grid[rows, np.minimum(_GRID - np.argmax(keep[:, ::-1], axis=1), _GRID - 1)]
    width = hi - lo + 1
    step = np.maximum(np.ceil(width / _SAMPLES), 1.0)
    log_sum, check = _strided_sums(n, nx, lo, hi, step=step, count=_SAMPLES + 1)
    exact = (step == 1) | (np.abs(log_sum - check) <= _AGREE)
    if not exact.all():  # term by term, in blocks that stay in the cache
        redo = np.flatnonzero(~exact)
        per_block = max(1, _BLOCK // int(width[redo].max()))
        for start in range(0, redo.size, per_block):
            idx = redo[start : start + per_block]
            ones = np.ones(idx.size)
            log_sum[idx] = _strided_sums(
                n, nx[idx], lo[idx], hi[idx], step=ones, count=int(width[idx].max())
            )[0]
    log_a0 = n * np.log1p(-x) - np.log(x)  # log A_0 = log((1 - x)^n / x)
    top = np.maximum(log_sum, log_a0)
    total = top + np.log(np.exp(log_sum - top) + np.exp(log_a0 - top))
    return np.asarray(np.exp(np.log(x) + total), dtype=np.float64)


def _use_sum(n: int, d: FloatArray) -> NDArray[np.bool_]:
    """Where ``kolmogn(n, d, cdf=False)`` is ``2 * smirnov(n, d)`` by the lower sum."""
    t = n * d
    nx2 = t * d
    inner = (t > 1.0) & (t < n - 1) & (d < 1.0)
    smirnov_branch = inner & ((d >= 0.5) | ((nx2 >= 2.2) & (nx2 < 370.0)))
    return np.asarray(smirnov_branch & (-2.0 * nx2 >= _MINLOG), dtype=bool)


def kstwo_sf(
    d: FloatArray, n: float, scalar: Callable[[float, float], float] | None = None
) -> FloatArray:
    """``scipy.stats.kstwo.sf(d, n)`` for an integer ``n > 140``, vectorised.

    The Smirnov branch is summed here (:func:`smirnov_sum`) and the Pelz-Good
    branch evaluated here (:mod:`._pelzgood`); every other value goes to
    ``scalar`` (scipy's ``kstwo.sf`` per value: the Durbin matrix, up to a few
    ms each, or a closed form), as does everything when
    ``n > 1,000,000`` (scipy's own approximation there) and every value whose
    sum comes out below :data:`_TINY`: there the terms scipy adds are subnormal
    and its result is only as accurate as theirs, so scipy is called to get the
    same number.

    Args:
        d: the two-sided KS statistics, 1-D float64.
        n: the effective sample size, an integer-valued float above 140.
        scalar: ``kstwo.sf`` of one value (a cached one, say); scipy's by default.

    Returns:
        The survival function per value, clipped to [0, 1] as scipy does.

    Raises:
        ValueError: ``n`` is not an integer above 140.
    """
    d = np.asarray(d, dtype=np.float64)
    nn = int(n)
    if nn != n or nn <= _KOLMOGN_EXACT_N:
        raise ValueError(f"kstwo_sf needs an integer n > {_KOLMOGN_EXACT_N}, got {n}")
    one = scalar if scalar is not None else _scipy_kstwo_sf
    out = np.empty_like(d)
    fast = _use_sum(nn, d) if nn <= _SMIRNOV_MAX_N else np.zeros(d.shape, dtype=bool)
    t = nn * d
    zero = (t > 1.0) & (t < nn - 1) & (d < 0.5) & (t * d >= 370.0)
    out[zero] = 0.0  # scipy's kolmogn: the sf is 0 from n d^2 >= 370 on
    if fast.any():
        out[fast] = np.clip(2.0 * smirnov_sum(nn, d[fast]), 0.0, 1.0)
        fast &= out >= _TINY
    pelz = pelz_good_branch(nn, d)
    if pelz.any():
        out[pelz] = pelz_good_sf(nn, d[pelz])
        fast |= pelz
    for i in np.flatnonzero(~(fast | zero)).tolist():
        out[i] = one(float(d[i]), float(nn))
    return out


def _scipy_kstwo_sf(d: float, n: float) -> float:
    return float(stats.kstwo.sf(d, n))

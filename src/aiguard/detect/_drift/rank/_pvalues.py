"""P-values of the rank tests, vectorised over features, following scipy exactly.

* KS (``scipy.stats.ks_2samp``): ``"asymp"`` is vectorised (``kstwo.sf`` for
  two-sided, its Smirnov-series branch summed for all features at once in
  :mod:`._smirnov`; Hodges' approximation for one-sided). ``"exact"`` (the default
  for samples up to 10,000 with ``method="auto"``) runs scipy's own exact
  algorithm feature by feature, cached by the lattice value of the statistic.
  It is private in scipy, so when it cannot be imported the public
  ``ks_2samp`` is called per feature instead: same numbers, slower.
* Cramér-von Mises (``scipy.stats.cramervonmises_2samp``): the asymptotic
  p-value (Csörgő and Faraway's series) is ported and vectorised; the exact one
  (samples up to 20) is scipy's, per feature, like KS.
* Anderson-Darling k-sample (``scipy.stats.anderson_ksamp``): scipy 1.17's
  default p-value, interpolated from Scholz and Stephens' table and therefore
  capped to [0.001, 0.25] (scipy warns about the cap; aiguard documents it
  instead of warning per feature).
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import special, stats

from aiguard.detect._drift._result import warn_drift
from aiguard.detect._drift.rank._smirnov import kstwo_sf

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiguard.detect._drift._types import FloatArray

try:  # scipy's exact algorithms are private; fall back to the public tests
    from scipy.stats._hypotests import _pval_cvm_2samp_exact as _scipy_cvm_exact
    from scipy.stats._stats_py import _attempt_exact_2kssamp as _scipy_ks_exact
except ImportError:  # pragma: no cover - depends on the scipy version
    _scipy_ks_exact = None
    _scipy_cvm_exact = None

__all__ = ["anderson_pvalue", "cvm_pvalue", "ks_pvalue"]

_MAX_AUTO_N = 10000
_KOLMOGN_EXACT_N = 140  # scipy's kolmogn switches to the slow matrix methods above this n
_INT32_MAX = np.iinfo(np.int32).max


@functools.lru_cache(maxsize=4096)
def _ks_exact_cached(
    n1: int, n2: int, g: int, d: float, alternative: str
) -> tuple[bool, float, float]:
    assert _scipy_ks_exact is not None
    success, d_out, prob = _scipy_ks_exact(n1, n2, g, d, alternative)
    return bool(success), float(d_out), float(prob)


@functools.lru_cache(maxsize=1 << 16)
def _kstwo_sf(d: float, n: float) -> float:
    """``kstwo.sf`` of one value, cached.

    For n > 140 the values :func:`kstwo_sf` does not sum itself (small d: Pelz-Good
    or the Durbin matrix) cost up to a few ms each; a monitor comparing batches of
    the same size meets the same lattice values of d again and again.
    """
    return float(stats.kstwo.sf(d, n))


def _ks_asymp(d: FloatArray, n1: int, n2: int, alternative: str) -> FloatArray:
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    if alternative == "two-sided":
        big_n = float(np.round(en))
        if big_n > _KOLMOGN_EXACT_N:
            return kstwo_sf(d, big_n, _kstwo_sf)
        with np.errstate(divide="ignore"):  # one value per sample: scipy's kstwo with n = 0
            prob = stats.kstwo.sf(d, big_n)
    else:
        z = np.sqrt(en) * d
        expt = -2 * z**2 - 2 * z * (m + 2 * n) / np.sqrt(m * n * (m + n)) / 3.0
        prob = np.exp(expt)
    return np.asarray(prob, dtype=np.float64)


def ks_pvalue(
    plus: FloatArray,
    minus: FloatArray,
    n1: int,
    n2: int,
    *,
    alternative: str,
    method: str,
    column: Callable[[int], tuple[FloatArray, FloatArray]],
) -> tuple[FloatArray, FloatArray]:
    """KS statistic and p-value per feature from ``max(F1 - F2)`` and ``max(F2 - F1)``.

    Args:
        plus: ``max(F_ref - F_cur)`` per feature (>= 0).
        minus: ``max(F_cur - F_ref)`` per feature (>= 0).
        n1: reference size (the same for every feature here).
        n2: current size.
        alternative: ``"two-sided"``, ``"less"`` or ``"greater"`` (scipy's meaning).
        method: ``"auto"``, ``"exact"`` or ``"asymp"``.
        column: returns feature ``j``'s two sorted samples (for the public fallback).

    Returns:
        ``(statistic, pvalue)``.
    """
    if alternative == "less":
        d = minus.copy()
    elif alternative == "greater":
        d = plus.copy()
    else:
        d = np.where(minus > plus, minus, plus)
    g = math.gcd(n1, n2)
    mode = method
    if mode == "auto":
        mode = "exact" if max(n1, n2) <= _MAX_AUTO_N else "asymp"
    elif mode == "exact" and n1 // g >= _INT32_MAX / (n2 // g):
        mode = "asymp"
        warn_drift(f"ks: exact p-value not possible with sample sizes {n1} and {n2}; using 'asymp'")
    prob = np.empty_like(d)
    asymp = np.zeros(d.shape, dtype=bool) if mode == "exact" else np.ones(d.shape, dtype=bool)
    if mode == "exact":
        for j in range(d.size):
            if _scipy_ks_exact is None:  # pragma: no cover - depends on the scipy version
                res = stats.ks_2samp(*column(j), alternative=alternative, method="exact")
                d[j], prob[j] = res.statistic, res.pvalue
                continue
            success, d[j], prob[j] = _ks_exact_cached(n1, n2, g, float(d[j]), alternative)
            asymp[j] = not success
        if asymp.any():
            warn_drift(
                "ks: exact p-value calculation unsuccessful; using 'asymp' for some features"
            )
    if asymp.any():
        prob[asymp] = _ks_asymp(d[asymp], n1, n2, alternative)
    return d, np.clip(prob, 0.0, 1.0)


def _cdf_cvm_inf(x: FloatArray) -> FloatArray:
    """CDF of the limiting Cramér-von Mises distribution (scipy's series, vectorised)."""
    tot = np.zeros_like(x)
    cond = np.ones(x.shape, dtype=bool)
    k = 0
    while cond.any():
        xs = x[cond]
        u = math.exp(special.gammaln(k + 0.5) - special.gammaln(k + 1)) / (np.pi**1.5 * np.sqrt(xs))
        y = 4 * k + 1
        q = y**2 / (16 * xs)
        b = special.kv(0.25, q)
        z = u * math.sqrt(y) * np.exp(-q) * b
        tot[cond] = tot[cond] + z
        cond[cond] = np.abs(z) >= 1e-7
        k += 1
    return tot


@functools.lru_cache(maxsize=4096)
def _cvm_exact_cached(u: float, n1: int, n2: int) -> float:
    assert _scipy_cvm_exact is not None
    return float(_scipy_cvm_exact(np.asarray(u), n1, n2))


def cvm_pvalue(
    u: FloatArray,
    n1: int,
    n2: int,
    *,
    method: str,
    column: Callable[[int], tuple[FloatArray, FloatArray]],
) -> tuple[FloatArray, FloatArray]:
    """Cramér-von Mises statistic ``T`` and p-value per feature from ``U``.

    ``T = U / (n1 n2 N) - (4 n1 n2 - 1) / (6 N)`` (Anderson 1962, eq. 9).
    """
    k, total = n1 * n2, n1 + n2
    t = u / (k * total) - (4 * k - 1) / (6 * total)
    mode = method
    if mode == "auto":
        mode = "asymptotic" if max(n1, n2) > 20 else "exact"
    if mode == "exact":
        p = np.empty_like(t)
        for j in range(t.size):
            if _scipy_cvm_exact is None:  # pragma: no cover - depends on the scipy version
                p[j] = stats.cramervonmises_2samp(*column(j), method="exact").pvalue
            else:
                p[j] = _cvm_exact_cached(float(u[j]), n1, n2)
        return t, p
    et = (1 + 1 / total) / 6
    vt = (total + 1) * (4 * k * total - 3 * (n1**2 + n2**2) - 2 * k) / (45 * total**2 * 4 * k)
    tn = 1 / 6 + (t - et) / math.sqrt(45 * vt)
    p = np.ones_like(tn)
    big = tn >= 0.003
    if big.any():
        p[big] = np.clip(1.0 - _cdf_cvm_inf(tn[big]), 0.0, None)
    return t, p


# Scholz & Stephens (1987), Table 2, as in scipy.stats.anderson_ksamp
_AD_B0 = np.array([0.675, 1.281, 1.645, 1.96, 2.326, 2.573, 3.085])
_AD_B1 = np.array([-0.245, 0.25, 0.678, 1.149, 1.822, 2.364, 3.615])
_AD_B2 = np.array([-0.105, -0.305, -0.362, -0.391, -0.396, -0.345, -0.154])
_AD_SIG = np.array([0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.001])


@functools.lru_cache(maxsize=1)
def _ad_table() -> tuple[FloatArray, Any]:
    m = 1  # k - 1 for two samples
    critical = _AD_B0 + _AD_B1 / math.sqrt(m) + _AD_B2 / m
    return critical, np.polyfit(critical, np.log(_AD_SIG), 2)


@functools.lru_cache(maxsize=256)
def _ad_sigma(n1: int, n2: int) -> float:
    k = 2
    total = n1 + n2
    h_inv = 1.0 / n1 + 1.0 / n2
    hs_cs = (1.0 / np.arange(total - 1, 1, -1)).cumsum()
    h = hs_cs[-1] + 1
    g = (hs_cs / np.arange(2, total)).sum()
    a = (4 * g - 6) * (k - 1) + (10 - 6 * g) * h_inv
    b = (2 * g - 4) * k**2 + 8 * h * k + (2 * g - 14 * h - 4) * h_inv - 8 * h + 4 * g - 6
    c = (6 * h + 2 * g - 2) * k**2 + (4 * h - 4 * g + 6) * k + (2 * h - 6) * h_inv + 4 * h
    d = (2 * h + 6) * k**2 - 4 * h * k
    sigmasq = (a * total**3 + b * total**2 + c * total + d) / (
        (total - 1.0) * (total - 2.0) * (total - 3.0)
    )
    return math.sqrt(sigmasq)


def anderson_pvalue(a2kn: FloatArray, n1: int, n2: int) -> tuple[FloatArray, FloatArray]:
    """Standardised Anderson-Darling statistic and its (capped) p-value per feature."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sigma = _ad_sigma(n1, n2) if n1 + n2 > 3 else math.nan
    a2 = (a2kn - 1.0) / sigma
    critical, pf = _ad_table()
    p = np.exp(np.polyval(pf, a2))
    p = np.where(a2 < critical.min(), _AD_SIG.max(), p)
    p = np.where(a2 > critical.max(), _AD_SIG.min(), p)
    return a2, np.where(np.isnan(a2), np.nan, p)

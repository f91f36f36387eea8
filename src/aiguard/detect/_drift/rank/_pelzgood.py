"""scipy's Pelz-Good approximation of the Kolmogorov CDF, vectorised over values.

``scipy.stats._ksstats._kolmogn`` uses it for the survival function when
``n > 140``, ``n d^2 < 2.2`` and not (``n <= 100,000`` and ``n d^1.5 <= 1.4``):
the undrifted features of a large comparison. This is the same series with the
same operations in the same order, one row per value (series lengths differ
per value and are padded with skipped steps), so it agrees with scipy to a few
units in the last place of the CDF.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from aiguard.detect._drift._types import FloatArray

__all__ = ["pelz_good_branch", "pelz_good_sf"]

_SQRT2PI = np.sqrt(2 * np.pi)
_MIN_LOG = -708
_SQRT3 = np.sqrt(3)
_PI_SQUARED = np.pi**2
_PI_FOUR = np.pi**4
_PI_SIX = np.pi**6
_DMTW_MAX_N = 100_000  # kolmogn: the Durbin matrix below this n when n d^1.5 <= 1.4


def pelz_good_branch(n: int, d: FloatArray) -> NDArray[np.bool_]:
    """Where ``kolmogn(n, d, cdf=False)`` (``n > 140``) is ``1 - PelzGood(n, d)``."""
    t = n * d
    nx2 = t * d
    inner = (t > 1.0) & (t < n - 1) & (d < 0.5) & (nx2 < 2.2)
    with np.errstate(invalid="ignore"):  # d < 0 (outside the branch anyway)
        dmtw = (n <= _DMTW_MAX_N) & (n * d**1.5 <= 1.4)
    return np.asarray(inner & ~dmtw, dtype=bool)


def pelz_good_sf(n: int, x: FloatArray) -> FloatArray:
    """``1 - _kolmogn_PelzGood(n, x, cdf=True)``, clipped to [0, 1], per value.

    Args:
        n: the sample size.
        x: statistics in ``(0, 1)``, 1-D float64.

    Returns:
        The survival function per value.
    """
    x = np.asarray(x, dtype=np.float64)
    z = np.sqrt(n) * x
    zsquared, zthree, zfour, zsix = z**2, z**3, z**4, z**6
    qlog = -_PI_SQUARED / 8 / zsquared
    tiny = qlog < _MIN_LOG  # z below about 0.0417: the CDF is 0
    q = np.exp(qlog)

    k1a = -zsquared
    k1b = _PI_SQUARED / 4
    k2a = 6 * zsix + 2 * zfour
    k2b = (2 * zfour - 5 * zsquared) * _PI_SQUARED / 4
    k2c = _PI_FOUR * (1 - 2 * zsquared) / 16
    k3d = _PI_SIX * (5 - 30 * zsquared) / 64
    k3c = _PI_FOUR * (-60 * zsquared + 212 * zfour) / 16
    k3b = _PI_SQUARED * (135 * zfour - 96 * zsix) / 4
    k3a = -30 * zsix - 90 * z**8

    ksum = np.zeros((4, x.size))
    maxk = np.ceil(16 * z / np.pi).astype(np.int64)
    top = int(maxk.max()) if x.size else 0
    for k in range(top, 0, -1):  # Horner over odd integers, from each value's own maxk
        live = maxk >= k
        m = 2 * k - 1
        msquared, mfour, msix = m**2, m**4, m**6
        qpower = np.power(q, 8 * k)
        coeffs = (
            np.ones_like(z),
            k1a + k1b * msquared,
            k2a + k2b * msquared + k2c * mfour,
            k3a + k3b * msquared + k3c * mfour + k3d * msix,
        )
        for i in range(4):
            ksum[i] = np.where(live, ksum[i] * qpower + coeffs[i], ksum[i])
    ksum *= q
    ksum *= _SQRT2PI
    ksum /= np.stack([z, 6 * zfour, 72 * z**7, 6480 * z**10])

    q2 = np.exp(-_PI_SQUARED / 2 / zsquared)
    k2extra = np.zeros_like(z)
    k3extra = np.zeros_like(z)
    sqrt3z = _SQRT3 * z
    for k in range(top, 0, -1):  # scipy sums k = maxk, ..., 1 in this order
        live = maxk >= k
        ksquared = k**2
        qpwers = q2**ksquared
        kspi = np.pi * k
        k2extra = np.where(live, k2extra + ksquared * qpwers, k2extra)
        k3extra = np.where(
            live, k3extra + (sqrt3z + kspi) * (sqrt3z - kspi) * ksquared * qpwers, k3extra
        )
    ksum[2] += k2extra * (_PI_SQUARED * _SQRT2PI / (-36 * zthree))
    ksum[3] += k3extra * (_PI_SQUARED * _SQRT2PI / (216 * zsix))
    ksum /= np.power(n * 1.0, np.arange(4) / 2.0)[:, None]
    cdf = ksum[0] + ksum[1] + ksum[2] + ksum[3]
    cdf = np.where(tiny, 0.0, cdf)
    return np.asarray(np.clip(1.0 - cdf, 0.0, 1.0), dtype=np.float64)

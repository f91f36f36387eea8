"""Two-sample statistics of continuous features, computed from sorted samples.

Interface used by :class:`aiguard.drift.Reference` (presorted fast paths). Every
``_*_sorted`` function takes two 2-D float64 arrays ``(n, k)`` and ``(m, k)``,
samples on axis 0, each column sorted ascending and free of NaN and inf
(Fortran order is fastest), and returns a tuple of ``(k,)`` arrays:

* ``_ks_sorted(ref, cur, *, method="auto", alternative="two-sided") -> (statistic, pvalue)``
* ``_cvm_sorted(ref, cur, *, method="auto") -> (statistic, pvalue)``
* ``_anderson_sorted(ref, cur) -> (statistic, pvalue)``
* ``_wasserstein_sorted(ref, cur, *, normed=False, ref_std=None) -> (statistic,)``
* ``_energy_sorted(ref, cur) -> (statistic,)``
* ``_continuous_sorted(ref, cur, methods, **options) -> {method: tuple}``: several
  statistics from one merge per column (what ``Reference.compare`` should call).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from aiguard.detect._drift._common import FloatArray

__all__ = [
    "_anderson_sorted",
    "_continuous_sorted",
    "_cvm_sorted",
    "_energy_sorted",
    "_ks_sorted",
    "_wasserstein_sorted",
]


def _ks_sorted(
    ref: FloatArray, cur: FloatArray, *, method: str = "auto", alternative: str = "two-sided"
) -> tuple[FloatArray, FloatArray]:
    """KS statistic and p-value per column (``scipy.stats.ks_2samp``)."""
    raise NotImplementedError


def _cvm_sorted(
    ref: FloatArray, cur: FloatArray, *, method: str = "auto"
) -> tuple[FloatArray, FloatArray]:
    """Cramér-von Mises statistic and p-value per column."""
    raise NotImplementedError


def _anderson_sorted(ref: FloatArray, cur: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Anderson-Darling k-sample statistic and p-value per column."""
    raise NotImplementedError


def _wasserstein_sorted(
    ref: FloatArray, cur: FloatArray, *, normed: bool = False, ref_std: FloatArray | None = None
) -> tuple[FloatArray]:
    """Wasserstein-1 distance per column."""
    raise NotImplementedError


def _energy_sorted(ref: FloatArray, cur: FloatArray) -> tuple[FloatArray]:
    """Energy distance per column."""
    raise NotImplementedError


def _continuous_sorted(
    ref: FloatArray, cur: FloatArray, methods: Sequence[str], **options: object
) -> dict[str, tuple[FloatArray, ...]]:
    """Several statistics per column from one merge of each column pair."""
    raise NotImplementedError

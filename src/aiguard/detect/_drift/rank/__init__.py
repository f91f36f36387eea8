"""Rank and distance statistics of continuous features, from sorted samples.

The public ``ks``, ``cramervonmises``, ``anderson``, ``wasserstein`` and
``energy`` (``_functions``) sort both samples once and call the presorted
kernels (``_presorted``), which get every statistic of a feature from one
linear merge of its two sorted samples (``_merge``, with the shorter
``_tie_free`` path for long rows without ties). ``_pvalues`` follows scipy's
p-values, vectorised; ``_smirnov`` and ``_pelzgood`` are scipy's ``kstwo``
survival function at large n, vectorised over features.
"""

from aiguard.detect._drift.rank._functions import anderson, cramervonmises, energy, ks, wasserstein
from aiguard.detect._drift.rank._merge import RAW_QUANTITIES, merged_quantities
from aiguard.detect._drift.rank._presorted import CONTINUOUS_METHODS, compare_sorted
from aiguard.detect._drift.rank._pvalues import ks_pvalue

__all__ = [
    "CONTINUOUS_METHODS",
    "RAW_QUANTITIES",
    "anderson",
    "compare_sorted",
    "cramervonmises",
    "energy",
    "ks",
    "ks_pvalue",
    "merged_quantities",
    "wasserstein",
]

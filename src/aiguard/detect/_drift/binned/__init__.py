"""Binned statistics: bins fitted on the reference, counts, and PSI / JS / KL / Hellinger.

``_edges`` fits the bin edges (the binning rules); ``_counts`` counts values
into bins (from sorted columns, or in one read of the data); ``_divergences``
computes the statistics from counts (the epsilon rule); ``_evidently``
reproduces Evidently 0.7's numbers; ``_engine`` runs one statistic on two
samples and ``_functions`` holds the public ``psi``, ``jensenshannon``,
``kl`` and ``hellinger``.
"""

from aiguard.detect._drift.binned._counts import bin_counts, scan_bin_counts, sorted_bin_counts
from aiguard.detect._drift.binned._divergences import (
    BINNED_METHODS,
    DEFAULT_EPS,
    binned_statistics,
    check_base,
    check_eps,
)
from aiguard.detect._drift.binned._edges import (
    BinsSpec,
    bin_labels,
    empty_error,
    fit_inner_edges,
    pad_edges,
    sorted_quantiles,
    validate_bins,
)
from aiguard.detect._drift.binned._engine import DEFAULT_THRESHOLDS
from aiguard.detect._drift.binned._evidently import (
    check_compat,
    evidently_proportions,
    evidently_statistic,
)
from aiguard.detect._drift.binned._functions import hellinger, jensenshannon, kl, psi

__all__ = [
    "BINNED_METHODS",
    "DEFAULT_EPS",
    "DEFAULT_THRESHOLDS",
    "BinsSpec",
    "bin_counts",
    "bin_labels",
    "binned_statistics",
    "check_base",
    "check_compat",
    "check_eps",
    "empty_error",
    "evidently_proportions",
    "evidently_statistic",
    "fit_inner_edges",
    "hellinger",
    "jensenshannon",
    "kl",
    "pad_edges",
    "psi",
    "scan_bin_counts",
    "sorted_bin_counts",
    "sorted_quantiles",
    "validate_bins",
]

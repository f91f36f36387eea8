"""User data as checked arrays: samples, labels, typed columns, sorted samples.

``_samples`` turns array-likes into ``(n_samples, n_features)`` arrays
(``axis``, dtypes, missing markers); ``_columns`` splits a table (arrays,
pandas or polars frames, mappings) into a numeric block and categorical label
columns; ``_sorted`` sorts samples per column once and runs presorted kernels
over them under a NaN policy.
"""

from aiguard.detect._drift.inputs._columns import Table, as_table, categorical_labels
from aiguard.detect._drift.inputs._samples import (
    as_labels,
    as_pair,
    as_samples,
    check_pair,
    is_missing,
    missing_rate,
)
from aiguard.detect._drift.inputs._sorted import SortedSamples, apply_sorted, sort_samples

__all__ = [
    "SortedSamples",
    "Table",
    "apply_sorted",
    "as_labels",
    "as_pair",
    "as_samples",
    "as_table",
    "categorical_labels",
    "check_pair",
    "is_missing",
    "missing_rate",
    "sort_samples",
]

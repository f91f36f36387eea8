"""Fit-time shortcuts against plain references: distinct-value probe, summary statistics."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tests.strategies import feature_matrices

from aiguard import drift
from aiguard.detect._drift.binned._edges import _more_distinct_than

SETTINGS = settings(max_examples=60, deadline=None)


@SETTINGS
@given(
    values=hnp.arrays(
        np.float64,
        st.integers(1, 400),
        elements=st.one_of(st.integers(-6, 6).map(float), st.floats(-1e6, 1e6)),
    ),
    bins=st.integers(1, 30),
)
def test_distinct_probe_agrees_with_unique(values: np.ndarray, bins: int) -> None:
    """The probe decides 'more than bins distinct values' exactly as np.unique does."""
    col = np.sort(values)
    assert _more_distinct_than(col, bins) == (np.unique(col).size > bins)


@SETTINGS
@given(
    data=feature_matrices(rows=(2, 300), features=(1, 4), elements=st.floats(-1e6, 1e6)),
)
def test_summary_mean_and_std_match_numpy(data: np.ndarray) -> None:
    """Reference.summary's mean and std agree with numpy's (ddof=0) to rounding."""
    summary = drift.Reference(data).summary
    for j, stats in enumerate(summary.values()):
        col = data[:, j]
        assert np.isclose(stats["mean"], col.mean(), rtol=1e-12, atol=1e-9)
        assert np.isclose(stats["std"], col.std(), rtol=1e-9, atol=1e-9)

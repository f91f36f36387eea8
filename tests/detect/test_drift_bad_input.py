"""Bad input gives a typed error naming the argument, or NaN plus a warning like scipy."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiguard import drift
from aiguard.errors import InvalidInputError

NUMERIC = [drift.ks, drift.cramervonmises, drift.anderson, drift.wasserstein, drift.energy]
ALL = [*NUMERIC, drift.ztest, drift.mmd]


@pytest.mark.parametrize("fn", ALL)
@pytest.mark.parametrize("which", ["reference", "current"])
def test_empty_sample_names_the_argument(fn: Any, which: str) -> None:
    """An empty reference or current is an InvalidInputError even where scipy returns NaN."""
    good, empty = np.array([0.0, 1.0, 1.0]), np.array([])
    args = (empty, good) if which == "reference" else (good, empty)
    with pytest.raises(InvalidInputError, match=f"^{which} must be non-empty"):
        fn(*args)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(0, 3),
    k=st.integers(0, 3),
    which=st.sampled_from(["reference", "current"]),
    fn=st.sampled_from(NUMERIC),
)
def test_empty_shapes_are_rejected(n: int, k: int, which: str, fn: Any) -> None:
    """No rows or no feature columns: the error names the empty argument."""
    if n > 0 and k > 0:
        return
    good = np.ones((4, max(k, 1)))
    bad = np.ones((n, k))
    args = (bad, good) if which == "reference" else (good, bad)
    with pytest.raises(InvalidInputError, match=f"^{which} must"):
        fn(*args)


@pytest.mark.parametrize("fn", [*NUMERIC, drift.chi2, drift.ztest])
def test_wrong_dimensions(fn: Any) -> None:
    """0-d and 3-d inputs are rejected naming the argument."""
    with pytest.raises(InvalidInputError, match=r"^reference must be a 1-D or 2-D array"):
        fn(np.zeros((2, 2, 2)), np.zeros((2, 2)))
    with pytest.raises(InvalidInputError, match=r"^current must be a 1-D or 2-D array"):
        fn(np.zeros(3), np.float64(1.0))


@settings(max_examples=20, deadline=None)
@given(k1=st.integers(1, 5), k2=st.integers(1, 5), fn=st.sampled_from([*ALL, drift.chi2]))
def test_mismatched_feature_counts(k1: int, k2: int, fn: Any) -> None:
    """Different numbers of features: the error names current and both counts."""
    if k1 == k2:
        return
    with pytest.raises(InvalidInputError, match=f"^current must be {k1} feature"):
        fn(np.zeros((4, k1)), np.ones((4, k2)))


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 20),
    k=st.integers(1, 3),
    data=st.data(),
    case=st.tuples(
        st.sampled_from([1.0, -1.0]),
        st.sampled_from(["reference", "current"]),
        st.sampled_from(NUMERIC),
        st.sampled_from(["omit", "propagate", "raise"]),
    ),
)
def test_inf_anywhere_is_rejected(
    n: int, k: int, data: st.DataObject, case: tuple[Any, ...]
) -> None:
    """inf at any position, with or without NaNs around, raises naming the argument."""
    sign, which, fn, policy = case
    bad = np.random.default_rng(n).normal(size=(n, k))
    i = data.draw(st.integers(0, n - 1))
    j = data.draw(st.integers(0, k - 1))
    bad[i, j] = sign * math.inf
    if policy != "raise" and n > 1:
        bad[(i + 1) % n, j] = math.nan
    good = np.zeros((5, k))
    args = (bad, good) if which == "reference" else (good, bad)
    with pytest.raises(InvalidInputError, match=f"^{which} must be finite"):
        fn(*args, nan_policy=policy)


@pytest.mark.parametrize(
    "values",
    [
        np.array([1.0, "a", 2.0], dtype=object),
        np.array([1.0, b"x"], dtype=object),
        np.array([{"a": 1}, 2.0], dtype=object),
        ["a", "b", "c"],
        np.array(["1.5", "2.5"]),
    ],
)
@pytest.mark.parametrize("fn", [*NUMERIC, drift.ztest, drift.mmd])
def test_strings_and_mixed_objects_are_not_numbers(values: Any, fn: Any) -> None:
    """Strings or mixed object arrays where numbers are expected are rejected, never coerced."""
    with pytest.raises(InvalidInputError, match=r"^current must be numeric"):
        fn([1.0, 2.0, 3.0], values)


@pytest.mark.parametrize("dtype", ["complex128", "datetime64[s]", "timedelta64[s]"])
def test_other_dtypes_are_rejected(dtype: str) -> None:
    """Complex numbers, dates and durations are not real samples."""
    with pytest.raises(InvalidInputError, match=r"^reference must be real numbers"):
        drift.ks(np.zeros(3, dtype=dtype), [1.0, 2.0])


def test_ragged_nested_lists_are_rejected() -> None:
    """A ragged nested list cannot be an array."""
    with pytest.raises(InvalidInputError, match=r"^reference must be an array-like"):
        drift.ks([[1.0, 2.0], [3.0]], [[1.0, 2.0]])


@settings(max_examples=20, deadline=None)
@given(
    k=st.integers(1, 4),
    data=st.data(),
    fn=st.sampled_from(NUMERIC),
    which=st.sampled_from(["reference", "current"]),
)
def test_all_nan_columns_under_omit_are_nan_with_a_warning(
    k: int, data: st.DataObject, fn: Any, which: str
) -> None:
    """A feature with only NaN is NaN with one DriftWarning; the other features are computed."""
    j = data.draw(st.integers(0, k - 1))
    rng = np.random.default_rng(k)
    ref, cur = rng.normal(size=(12, k)), rng.normal(size=(10, k))
    (ref if which == "reference" else cur)[:, j] = np.nan
    with pytest.warns(drift.DriftWarning, match=str(j)):
        res = fn(ref, cur, nan_policy="omit")
    stat = np.atleast_1d(res.statistic)
    assert np.isnan(stat[j])
    assert not np.isnan(np.delete(stat, j)).any()
    with pytest.raises(InvalidInputError, match=f"^{which} must be free of NaN"):
        fn(ref, cur, nan_policy="raise")


@pytest.mark.parametrize("fn", NUMERIC)
def test_constant_columns_never_crash(fn: Any) -> None:
    """Constant features (equal or different constants) give finite numbers or NaN + warning."""
    ref = np.column_stack([np.full(8, 2.0), np.full(8, 2.0)])
    cur = np.column_stack([np.full(6, 2.0), np.full(6, 5.0)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fn(ref, cur)
    assert all(issubclass(w.category, drift.DriftWarning) for w in caught)
    stat = np.asarray(res.statistic)
    assert np.isfinite(stat[1])
    assert np.isnan(stat[0]) == bool(caught)

"""chi2 against scipy.stats.chi2_contingency, ztest against the textbook formula, mmd."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from tests.strategies import seeds

from aiguard import drift
from aiguard.detect._drift.discrete import chi2_table
from aiguard.errors import ConfigurationError, InvalidInputError

labels = st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=40)


def _scipy_chi2(ref: list[str], cur: list[str]) -> tuple[float, float]:
    cats = sorted(set(ref) | set(cur))
    table = np.array([[ref.count(c) for c in cats], [cur.count(c) for c in cats]])
    res = stats.chi2_contingency(table)
    return float(res.statistic), float(res.pvalue)


@settings(max_examples=60, deadline=None)
@given(ref=labels, cur=labels)
def test_chi2_matches_scipy(ref: list[str], cur: list[str]) -> None:
    """chi2 equals chi2_contingency on the union table (Yates for 2 categories, unseen ones)."""
    res = drift.chi2(ref, cur)
    stat, p = _scipy_chi2(ref, cur)
    assert res.statistic == pytest.approx(stat, rel=1e-9, abs=1e-12)
    assert res.pvalue == pytest.approx(p, rel=1e-9, abs=1e-12)
    assert math.isfinite(res.statistic)


@settings(max_examples=30, deadline=None)
@given(
    ref=st.lists(st.integers(0, 5), min_size=2, max_size=30),
    cur=st.lists(st.integers(0, 7), min_size=2, max_size=30),
)
def test_chi2_numeric_labels_in_columns(ref: list[int], cur: list[int]) -> None:
    """Integer labels in a 2-D array are tested feature by feature."""
    r = np.array([ref, ref[::-1]]).T
    c = np.array([cur, cur[::-1]]).T
    res = drift.chi2(r, c)
    for j in range(2):
        table_cats = sorted(set(r[:, j]) | set(c[:, j]))
        table = [
            [list(r[:, j]).count(x) for x in table_cats],
            [list(c[:, j]).count(x) for x in table_cats],
        ]
        exp = stats.chi2_contingency(np.array(table))
        assert res.statistic[j] == pytest.approx(float(exp.statistic), rel=1e-9, abs=1e-12)
        assert res.pvalue[j] == pytest.approx(float(exp.pvalue), rel=1e-9, abs=1e-12)


def test_chi2_unseen_category_is_finite_and_drifts() -> None:
    """A category never seen in the reference gives a finite, large statistic."""
    res = drift.chi2(["a"] * 40 + ["b"] * 60, ["a"] * 40 + ["b"] * 40 + ["new"] * 20)
    assert math.isfinite(res.statistic)
    assert res.drifted is True
    assert 0 < res.effect <= 1


def test_chi2_single_category_everywhere() -> None:
    """One category in both samples: statistic 0, p-value 1 (scipy's dof 0 rule)."""
    res = drift.chi2(["x"] * 5, ["x"] * 9)
    assert (res.statistic, res.pvalue, res.drifted) == (0.0, 1.0, False)


def test_chi2_table_drops_categories_absent_from_both() -> None:
    """Zero columns are dropped before testing, so they cannot divide by zero."""
    assert chi2_table([5, 0, 3], [2, 0, 4]) == chi2_table([5, 3], [2, 4])


def test_chi2_cramers_v_matches_scipy_association() -> None:
    """The effect size is Cramér's V of the uncorrected table."""
    ref = ["a"] * 30 + ["b"] * 10
    cur = ["a"] * 15 + ["b"] * 25
    v = drift.chi2(ref, cur).effect
    expected = stats.contingency.association(np.array([[30, 10], [15, 25]]), method="cramer")
    assert v == pytest.approx(expected, rel=1e-12)


def test_chi2_missing_labels_follow_nan_policy() -> None:
    """None/NaN labels: propagate gives NaN, omit drops them, raise raises naming the sample."""
    ref = np.array(["a", "b", None, "a"], dtype=object)
    cur = np.array(["a", "b", "b", np.nan], dtype=object)
    assert math.isnan(drift.chi2(ref, cur).statistic)
    omitted = drift.chi2(ref, cur, nan_policy="omit")
    assert omitted.statistic == pytest.approx(_scipy_chi2(["a", "b", "a"], ["a", "b", "b"])[0])
    with pytest.raises(InvalidInputError, match="reference"):
        drift.chi2(ref, cur, nan_policy="raise")
    with pytest.warns(drift.DriftWarning, match="no non-missing"):
        res = drift.chi2(np.array([None, None], dtype=object), ["a"], nan_policy="omit")
    assert math.isnan(res.statistic)


def test_chi2_float_labels_with_nan() -> None:
    """Float codes with NaN are labels with missing values."""
    res = drift.chi2([1.0, 2.0, np.nan, 2.0], [1.0, 1.0, 2.0], nan_policy="omit")
    assert res.statistic == pytest.approx(
        float(stats.chi2_contingency(np.array([[1, 2], [2, 1]])).statistic)
    )


def test_chi2_rejects_mixed_label_kinds() -> None:
    """A feature mixing numbers and strings is an InvalidInputError naming the argument."""
    with pytest.raises(InvalidInputError, match="current must be labels of one kind"):
        drift.chi2(["a", "b"], np.array(["a", 1], dtype=object))


def test_chi2_rejects_bad_dtype_and_mismatched_features() -> None:
    """Complex labels and different feature counts are rejected."""
    with pytest.raises(InvalidInputError, match="reference"):
        drift.chi2(np.array([1j, 2j]), [1, 2])
    with pytest.raises(InvalidInputError, match="current"):
        drift.chi2(np.zeros((3, 2)), np.zeros((3, 3)))


def _z_reference(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    p1, p2 = x1 / n1, x2 / n2
    pool = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pool * (1 - pool) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (p2 - p1) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


@settings(max_examples=60, deadline=None)
@given(
    ref=st.lists(st.booleans(), min_size=1, max_size=60),
    cur=st.lists(st.booleans(), min_size=1, max_size=60),
)
def test_ztest_matches_the_pooled_formula(ref: list[bool], cur: list[bool]) -> None:
    """ztest equals the pooled two-proportion z-test written out by hand."""
    res = drift.ztest(ref, cur)
    z, p = _z_reference(sum(ref), len(ref), sum(cur), len(cur))
    assert res.statistic == pytest.approx(z, rel=1e-9, abs=1e-12)
    assert res.pvalue == pytest.approx(p, rel=1e-9, abs=1e-15)
    assert res.effect == pytest.approx(abs(sum(cur) / len(cur) - sum(ref) / len(ref)))


def test_ztest_features_nan_policy_and_min_effect() -> None:
    """2-D binary features, NaN handling per policy, and min_effect gating."""
    ref = np.array([[0, 1]] * 50 + [[1, 1]] * 50, dtype=float)
    cur = np.array([[1, 1]] * 80 + [[0, 1]] * 20, dtype=float)
    res = drift.ztest(ref, cur)
    assert res.drifted.tolist() == [True, False]
    assert res.statistic[1] == 0.0
    gated = drift.ztest(ref, cur, min_effect=0.5)
    assert gated.drifted.tolist() == [False, False]
    ref[0, 0] = np.nan
    assert math.isnan(drift.ztest(ref, cur).statistic[0])
    omit = drift.ztest(ref, cur, nan_policy="omit")
    z, _ = _z_reference(50, 99, 80, 100)
    assert omit.statistic[0] == pytest.approx(z)
    with pytest.raises(InvalidInputError, match="reference must be free of NaN"):
        drift.ztest(ref, cur, nan_policy="raise")
    with pytest.warns(drift.DriftWarning):
        drift.ztest([np.nan, np.nan], [1.0, 0.0], nan_policy="omit")


def test_ztest_rejects_non_binary_values() -> None:
    """Values other than 0 and 1 are an error naming the sample."""
    with pytest.raises(InvalidInputError, match="current must be binary"):
        drift.ztest([0, 1, 1], [0, 2])


def _naive_mmd2(x: np.ndarray, y: np.ndarray, h: float) -> float:
    def k(a: np.ndarray, b: np.ndarray) -> float:
        return math.exp(-float(np.sum((a - b) ** 2)) / (2 * h * h))

    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


@settings(max_examples=15, deadline=None)
@given(
    seed=seeds,
    n=st.integers(2, 12),
    m=st.integers(2, 12),
    d=st.integers(1, 3),
    h=st.floats(0.3, 3.0),
)
def test_mmd_statistic_matches_the_definition(seed: int, n: int, m: int, d: int, h: float) -> None:
    """The unbiased MMD^2 equals the double-sum definition for a fixed bandwidth."""
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, d)), rng.normal(size=(m, d))
    res = drift.mmd(x, y, bandwidth=h, n_permutations=20)
    assert res.statistic == pytest.approx(_naive_mmd2(x, y, h), rel=1e-9, abs=1e-12)
    assert 1 / 21 <= res.pvalue <= 1.0


def test_mmd_median_heuristic_and_permutation_p_value() -> None:
    """The default bandwidth is the median pooled distance; the p-value is a permutation count."""
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(15, 2)), rng.normal(size=(12, 2)) + 0.4
    pooled = np.vstack([x, y])
    dists = [np.linalg.norm(pooled[i] - pooled[j]) for i in range(27) for j in range(i + 1, 27)]
    h = float(np.median(dists))
    res = drift.mmd(x, y, n_permutations=50, seed=3)
    assert res.statistic == pytest.approx(_naive_mmd2(x, y, h), rel=1e-9)
    # the permutation p-value counts relabelled statistics, computed naively here
    perm_rng = np.random.default_rng(3)
    perms = perm_rng.permuted(np.tile(np.arange(27), (50, 1)), axis=1)[:, :15]
    values = []
    for p in perms:
        mask = np.zeros(27, dtype=bool)
        mask[p] = True
        values.append(_naive_mmd2(pooled[mask], pooled[~mask], h))
    expected = (1 + sum(v >= res.statistic - 1e-12 for v in values)) / 51
    assert res.pvalue == pytest.approx(expected)
    assert drift.mmd(x, y, n_permutations=50, seed=3).pvalue == res.pvalue


def test_mmd_detects_a_shift_and_subsamples_large_inputs() -> None:
    """A mean shift in one feature drifts; samples above max_samples are subsampled."""
    rng = np.random.default_rng(8)
    ref = rng.normal(size=(600, 4))
    cur = rng.normal(size=(700, 4)) + np.array([0, 0, 0, 1.0])
    res = drift.mmd(ref, cur, max_samples=150, n_permutations=100)
    assert res.drifted is True
    assert res.pvalue == pytest.approx(1 / 101)
    same = drift.mmd(ref, rng.normal(size=(300, 4)), max_samples=150, n_permutations=100)
    assert same.drifted is False


def test_mmd_nan_policy_and_small_samples() -> None:
    """NaN rows per policy; fewer than 2 rows is NaN with a warning; identical points ok."""
    x = np.array([[0.0, 1.0], [1.0, np.nan], [2.0, 2.0], [3.0, 1.0]])
    y = np.array([[0.5, 1.0], [1.5, 2.0], [2.5, 0.0]])
    assert math.isnan(drift.mmd(x, y).statistic)
    omitted = drift.mmd(x, y, nan_policy="omit", bandwidth=1.0)
    assert omitted.statistic == pytest.approx(_naive_mmd2(x[[0, 2, 3]], y, 1.0))
    with pytest.raises(InvalidInputError, match="reference must be free of NaN"):
        drift.mmd(x, y, nan_policy="raise")
    with pytest.warns(drift.DriftWarning, match="at least 2"):
        assert math.isnan(drift.mmd(x[:1], y).statistic)
    with pytest.raises(InvalidInputError, match="current must be finite"):
        drift.mmd(x[[0, 2]], np.array([[np.inf, 0.0], [1.0, 1.0]]))
    const = drift.mmd(np.zeros((5, 2)), np.zeros((4, 2)), n_permutations=10)
    assert const.statistic == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"n_permutations": 0}, "n_permutations"),
        ({"max_samples": 1}, "max_samples"),
        ({"bandwidth": -1.0}, "bandwidth"),
        ({"bandwidth": True}, "bandwidth"),
        ({"alpha": 2.0}, "alpha"),
    ],
)
def test_mmd_rejects_bad_parameters(kwargs: dict[str, object], argument: str) -> None:
    """Invalid MMD parameters raise ConfigurationError naming the parameter."""
    with pytest.raises(ConfigurationError, match=argument):
        drift.mmd(np.zeros((3, 2)), np.ones((3, 2)), **kwargs)  # type: ignore[arg-type]


def test_no_stray_warnings_on_clean_input() -> None:
    """Clean input emits no warning from any statistic in this module."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        drift.chi2(["a", "b"], ["b", "c"])
        drift.ztest([0, 1], [1, 1])
        drift.mmd(np.eye(3), np.eye(3)[::-1] + 0.1, n_permutations=5)

"""Shared drift machinery: NaN policies, corrections, min_effect, missing rates, inputs."""

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
from aiguard.detect._drift._corrections import correct
from aiguard.detect._drift.inputs import sort_samples
from aiguard.errors import ConfigurationError

pvalue_lists = st.lists(st.one_of(st.floats(0.0, 1.0), st.just(math.nan)), min_size=1, max_size=30)


def _bonferroni(p: list[float]) -> list[float]:
    m = sum(not math.isnan(x) for x in p)
    return [x if math.isnan(x) else min(1.0, x * m) for x in p]


def _holm(p: list[float]) -> list[float]:
    idx = [i for i, x in enumerate(p) if not math.isnan(x)]
    order = sorted(idx, key=lambda i: p[i])
    m = len(order)
    out = list(p)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


@settings(max_examples=40, deadline=None)
@given(p=pvalue_lists)
def test_corrections_match_independent_implementations(p: list[float]) -> None:
    """bonferroni/holm match loops written here; bh/by match scipy's false_discovery_control."""
    np.testing.assert_allclose(correct(p, "bonferroni"), _bonferroni(p), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(correct(p, "holm"), _holm(p), rtol=1e-12, atol=1e-300)
    valid = [x for x in p if not math.isnan(x)]
    for method in ("bh", "by"):
        got = correct(p, method)
        assert np.isnan(got).tolist() == [math.isnan(x) for x in p]
        if valid:
            expected = stats.false_discovery_control(valid, method=method)
            np.testing.assert_allclose(got[~np.isnan(got)], expected, rtol=1e-12, atol=1e-300)
    np.testing.assert_array_equal(correct(p, None), np.asarray(p))


def test_correction_changes_decisions_across_features() -> None:
    """With many features, a correction keeps raw and adjusted p-values and decides on adjusted."""
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(200, 20))
    cur = rng.normal(size=(200, 20))
    cur[:, 0] += 0.35
    raw = drift.ks(ref, cur)
    adj = drift.ks(ref, cur, correction="bonferroni")
    np.testing.assert_array_equal(adj.raw_pvalue, raw.pvalue)
    np.testing.assert_allclose(adj.pvalue, np.minimum(raw.pvalue * 20, 1.0))
    assert adj.drifted.sum() <= raw.drifted.sum()
    assert adj.correction == "bonferroni"
    assert raw.raw_pvalue is raw.pvalue


def test_all_nan_pvalues_are_left_alone() -> None:
    """Only NaN p-values: nothing to correct."""
    assert np.isnan(correct([math.nan, math.nan], "bh")).all()


def test_min_effect_gates_significant_features() -> None:
    """drifted needs significance AND an effect at least min_effect (KS: D)."""
    rng = np.random.default_rng(1)
    ref = rng.normal(size=(5000, 2))
    cur = rng.normal(size=(5000, 2)) + np.array([0.08, 1.0])
    res = drift.ks(ref, cur, method="asymp")
    assert res.drifted.tolist() == [True, True]
    gated = drift.ks(ref, cur, method="asymp", min_effect=0.1)
    assert gated.drifted.tolist() == [res.statistic[0] >= 0.1, True]
    assert not gated.drifted[0]
    w = drift.wasserstein(ref, cur, threshold=0.05, min_effect=0.5)
    assert w.drifted.tolist() == [False, True]


@settings(max_examples=20, deadline=None)
@given(
    seed=seeds,
    nan_share=st.floats(0.0, 0.5),
    policy=st.sampled_from(["omit", "propagate"]),
)
def test_nan_policies_against_scipy_on_dropped_values(
    seed: int, nan_share: float, policy: str
) -> None:
    """omit equals scipy on each column's non-NaN values; propagate gives NaN there."""
    rng = np.random.default_rng(seed)
    ref, cur = rng.normal(size=(30, 3)), rng.normal(size=(25, 3))
    ref[rng.random(ref.shape) < nan_share] = np.nan
    cur[rng.random(cur.shape) < nan_share] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", drift.DriftWarning)
        res = drift.ks(ref, cur, nan_policy=policy)
        wres = drift.wasserstein(ref, cur, nan_policy=policy)
    for j in range(3):
        a, b = ref[:, j], cur[:, j]
        has_nan = np.isnan(a).any() or np.isnan(b).any()
        a, b = a[~np.isnan(a)], b[~np.isnan(b)]
        if (policy == "propagate" and has_nan) or a.size == 0 or b.size == 0:
            assert np.isnan(res.statistic[j])
            assert np.isnan(res.pvalue[j])
            assert not res.drifted[j]
            continue
        exp = stats.ks_2samp(a, b)
        assert res.statistic[j] == pytest.approx(exp.statistic, rel=1e-9)
        assert res.pvalue[j] == pytest.approx(exp.pvalue, rel=1e-9, abs=1e-14)
        assert wres.statistic[j] == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9)


def test_all_nan_column_warns_and_is_nan() -> None:
    """An all-NaN feature under omit is NaN with one DriftWarning naming it; others are fine."""
    ref = np.column_stack([np.arange(10.0), np.full(10, np.nan)])
    cur = np.column_stack([np.arange(10.0) + 0.5, np.arange(10.0)])
    with pytest.warns(drift.DriftWarning, match=r"feature\(s\) 1 have fewer than 1"):
        res = drift.ks(ref, cur, nan_policy="omit")
    assert np.isnan(res.statistic[1])
    assert res.statistic[0] == pytest.approx(stats.ks_2samp(ref[:, 0], cur[:, 0]).statistic)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        propagated = drift.ks(ref, cur)  # silent, like scipy
    assert np.isnan(propagated.statistic[1])


def test_small_sample_warning_lists_at_most_ten_features() -> None:
    """The warning for many too-small features is bounded in length."""
    with pytest.warns(drift.DriftWarning, match="and 2 more"):
        drift.cramervonmises(np.zeros((1, 12)), np.zeros((5, 12)))


def test_missing_rate_per_feature() -> None:
    """missing_rate counts NaN, None and pandas NA per feature; 1-D gives a float."""
    assert drift.missing_rate([1.0, np.nan, 3.0, np.nan]) == 0.5
    obj = np.array([[1, None], ["a", "b"], [np.nan, "c"], [2, "d"]], dtype=object)
    np.testing.assert_allclose(drift.missing_rate(obj), [0.25, 0.25])
    np.testing.assert_array_equal(drift.missing_rate(np.ones((3, 2), dtype=int)), [0.0, 0.0])
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": pd.array([1, None, 3], dtype="Int64"), "b": [1.0, 2.0, 3.0]})
    np.testing.assert_allclose(drift.missing_rate(frame), [1 / 3, 0.0])
    np.testing.assert_allclose(drift.missing_rate(frame.to_numpy().T, axis=1), [1 / 3, 0.0])


def test_nullable_pandas_columns_become_nan() -> None:
    """pandas NA in a nullable column is a missing value for numeric statistics."""
    pd = pytest.importorskip("pandas")
    ref = pd.DataFrame({"a": pd.array([1, None, 3, 4], dtype="Int64")})
    cur = pd.DataFrame({"a": pd.array([2, 3, 5, 6], dtype="Int64")})
    res = drift.ks(ref, cur, nan_policy="omit")
    assert res.statistic[0] == pytest.approx(stats.ks_2samp([1, 3, 4], [2, 3, 5, 6]).statistic)


def test_booleans_are_numbers() -> None:
    """Boolean samples are 0/1 for the numeric statistics."""
    res = drift.wasserstein([True, False, True], [False, False, False])
    assert res.statistic == pytest.approx(2 / 3)


def test_sorted_samples_record_counts_and_column_views() -> None:
    """sort_samples sorts per column with NaNs last and counts the valid values."""
    x = np.array([[3.0, np.nan], [1.0, 2.0], [2.0, 1.0]])
    s = sort_samples(x, "reference")
    assert s.values.flags.f_contiguous
    assert s.counts.tolist() == [3, 2]
    assert s.has_nan
    assert s.n == 3
    np.testing.assert_array_equal(s.column(1), [1.0, 2.0])


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": True}, "alpha"),
        ({"alpha": "0.05"}, "alpha"),
        ({"nan_policy": "drop"}, "nan_policy"),
        ({"correction": "fdr"}, "correction"),
        ({"min_effect": -0.1}, "min_effect"),
        ({"min_effect": math.inf}, "min_effect"),
        ({"min_effect": False}, "min_effect"),
        ({"alternative": "both"}, "alternative"),
        ({"method": "fast"}, "method"),
        ({"axis": 2}, "axis"),
        ({"axis": 1.0}, "axis"),
    ],
)
def test_bad_parameters_name_the_argument(kwargs: dict[str, object], argument: str) -> None:
    """Every invalid parameter raises ConfigurationError whose message starts with its name."""
    with pytest.raises(ConfigurationError, match=f"^{argument} must be"):
        drift.ks(np.zeros((4, 2)), np.ones((4, 2)), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fn", "kwargs", "argument"),
    [
        (drift.cramervonmises, {"method": "exact-ish"}, "method"),
        (drift.wasserstein, {"threshold": -1.0}, "threshold"),
        (drift.wasserstein, {"threshold": "high"}, "threshold"),
        (drift.wasserstein, {"normed": "yes"}, "normed"),
        (drift.energy, {"threshold": math.nan}, "threshold"),
    ],
)
def test_bad_parameters_of_other_statistics(
    fn: object, kwargs: dict[str, object], argument: str
) -> None:
    """Statistic-specific parameters are validated too."""
    with pytest.raises(ConfigurationError, match=f"^{argument} must be"):
        fn(np.zeros(4), np.ones(4), **kwargs)  # type: ignore[operator]


def test_one_dimensional_axis_must_be_zero() -> None:
    """axis=1 on 1-D input is a configuration error."""
    with pytest.raises(ConfigurationError, match="axis must be 0 or -1 for 1-D input"):
        drift.ks([1.0, 2.0], [1.0, 2.0], axis=1)


def test_energy_threshold_decides() -> None:
    """A distance with a threshold decides drifted per feature."""
    res = drift.energy(np.zeros((5, 2)), np.column_stack([np.zeros(5), np.ones(5)]), threshold=0.5)
    assert res.drifted.tolist() == [False, True]
    assert res.threshold == 0.5


def test_warnings_point_at_the_callers_line() -> None:
    """A DriftWarning is attributed to the user's call, not to aiguard's internals."""
    with pytest.warns(drift.DriftWarning) as caught:
        drift.ks([1.0, np.nan], [np.nan, np.nan], nan_policy="omit")
    assert caught[0].filename == __file__

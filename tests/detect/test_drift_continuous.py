"""Contract: every continuous drift statistic equals its scipy 1-D loop."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats
from tests.detect.scipy_oracle import anderson_ksamp_midrank
from tests.strategies import sample_pair, sample_pairs, seeds

from aiguard import drift
from aiguard.detect._drift.inputs import sort_samples
from aiguard.detect._drift.rank import _merge, _presorted, _pvalues

RTOL, ATOL = 1e-9, 1e-13
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


samples = sample_pairs()
large_samples = sample_pairs(rows=(50, 400), features=(1, 3))


def _close(actual: object, expected: object) -> None:
    np.testing.assert_allclose(
        np.asarray(actual, float), np.asarray(expected, float), rtol=RTOL, atol=ATOL
    )


@FAST
@given(
    data=samples | large_samples,
    alternative=st.sampled_from(["two-sided", "less", "greater"]),
    method=st.sampled_from(["auto", "asymp", "exact"]),
)
def test_ks_matches_scipy(
    data: tuple[np.ndarray, np.ndarray], alternative: str, method: str
) -> None:
    """ks equals scipy.stats.ks_2samp column by column (statistic and p-value)."""
    ref, cur = data
    res = drift.ks(ref, cur, alternative=alternative, method=method)
    for j in range(ref.shape[1]):
        exp = stats.ks_2samp(ref[:, j], cur[:, j], alternative=alternative, method=method)
        _close(res.statistic[j], exp.statistic)
        _close(res.pvalue[j], exp.pvalue)
    _close(res.effect, res.statistic)


@FAST
@given(data=samples | large_samples, method=st.sampled_from(["auto", "asymptotic"]))
def test_cramervonmises_matches_scipy(data: tuple[np.ndarray, np.ndarray], method: str) -> None:
    """cramervonmises equals scipy.stats.cramervonmises_2samp where scipy defines it."""
    ref, cur = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", drift.DriftWarning)
        res = drift.cramervonmises(ref, cur, method=method)
    for j in range(ref.shape[1]):
        if min(ref.shape[0], cur.shape[0]) < 2:
            assert np.isnan(res.statistic[j])
            continue
        exp = stats.cramervonmises_2samp(ref[:, j], cur[:, j], method=method)
        _close(res.statistic[j], exp.statistic)
        _close(res.pvalue[j], exp.pvalue)


@settings(max_examples=10, deadline=None)
@given(data=samples)
def test_cramervonmises_exact_matches_scipy(data: tuple[np.ndarray, np.ndarray]) -> None:
    """The exact Cramér-von Mises p-value (small samples) is scipy's."""
    ref, cur = data[0][:12], data[1][:12]
    if min(ref.shape[0], cur.shape[0]) < 2:
        return
    res = drift.cramervonmises(ref, cur, method="exact")
    for j in range(ref.shape[1]):
        exp = stats.cramervonmises_2samp(ref[:, j], cur[:, j], method="exact")
        _close(res.pvalue[j], exp.pvalue)


def _scipy_anderson(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = anderson_ksamp_midrank(a, b)
        except ValueError:  # a single distinct value
            return np.nan, np.nan
    return float(res.statistic), float(res.pvalue)


@FAST
@given(data=samples | large_samples)
def test_anderson_matches_scipy(data: tuple[np.ndarray, np.ndarray]) -> None:
    """anderson equals scipy.stats.anderson_ksamp(variant='midrank'), capped p-value too."""
    ref, cur = data
    if ref.shape[0] + cur.shape[0] <= 3:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", drift.DriftWarning)
        res = drift.anderson(ref, cur)
    for j in range(ref.shape[1]):
        stat, p = _scipy_anderson(ref[:, j], cur[:, j])
        np.testing.assert_allclose(res.statistic[j], stat, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(res.pvalue[j], p, rtol=1e-7, atol=1e-12)


@FAST
@given(data=samples | large_samples)
def test_distances_match_scipy(data: tuple[np.ndarray, np.ndarray]) -> None:
    """wasserstein (raw and normed) and energy equal scipy's distances."""
    ref, cur = data
    w = drift.wasserstein(ref, cur)
    wn = drift.wasserstein(ref, cur, normed=True)
    e = drift.energy(ref, cur)
    for j in range(ref.shape[1]):
        exp_w = stats.wasserstein_distance(ref[:, j], cur[:, j])
        _close(w.statistic[j], exp_w)
        _close(wn.statistic[j], exp_w / max(np.std(ref[:, j]), 0.001))
        _close(e.statistic[j], stats.energy_distance(ref[:, j], cur[:, j]))
    assert w.pvalue is None
    assert w.drifted is None
    _close(w.effect, wn.statistic)


@settings(max_examples=15, deadline=None)
@given(data=samples | large_samples)
def test_fused_sorted_path_equals_public_functions(data: tuple[np.ndarray, np.ndarray]) -> None:
    """One merge for several statistics gives what each public function gives."""
    ref, cur = data
    if ref.shape[0] < 2 or cur.shape[0] < 2:
        return
    rs = sort_samples(ref, "reference")
    cs = sort_samples(cur, "current")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", drift.DriftWarning)
        out = _presorted.compare_sorted(rs, cs, _presorted.CONTINUOUS_METHODS)
        _close(out["ks"][1], drift.ks(ref, cur).pvalue)
        _close(out["cramervonmises"][0], drift.cramervonmises(ref, cur).statistic)
        _close(out["wasserstein"][0], drift.wasserstein(ref, cur).statistic)
        _close(out["energy"][0], drift.energy(ref, cur).statistic)
        np.testing.assert_array_equal(
            np.isnan(out["anderson"][0]), np.isnan(drift.anderson(ref, cur).statistic)
        )
    for fn, name in [
        (_presorted._ks_sorted, "ks"),
        (_presorted._cvm_sorted, "cramervonmises"),
        (_presorted._wasserstein_sorted, "wasserstein"),
        (_presorted._energy_sorted, "energy"),
    ]:
        _close(fn(rs.values, cs.values)[0], out[name][0])
    a2 = _presorted._anderson_sorted(rs.values, cs.values)[0]
    np.testing.assert_allclose(a2, out["anderson"][0], rtol=1e-12)


def test_one_dimensional_input_gives_scalars() -> None:
    """1-D samples give Python floats and bools equal to the 2-D column."""
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=60), rng.normal(0.5, 1, size=70)
    for fn in (drift.ks, drift.cramervonmises, drift.anderson):
        one = fn(a, b)
        two = fn(a[:, None], b[:, None])
        assert isinstance(one.statistic, float)
        assert isinstance(one.pvalue, float)
        assert isinstance(one.drifted, bool)
        assert one.statistic == two.statistic[0]
        assert one.pvalue == two.pvalue[0]


def test_axis_one_equals_transposed_input() -> None:
    """Samples along axis 1 give the same result as the transposed array."""
    rng = np.random.default_rng(2)
    ref, cur = rng.normal(size=(80, 3)), rng.normal(size=(90, 3))
    a = drift.ks(ref, cur)
    b = drift.ks(ref.T, cur.T, axis=1)
    c = drift.ks(ref.T, cur.T, axis=-1)
    np.testing.assert_array_equal(a.statistic, b.statistic)
    np.testing.assert_array_equal(a.pvalue, c.pvalue)


def test_pandas_dataframe_input() -> None:
    """A pandas DataFrame is accepted and gives the numpy result."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(3)
    ref, cur = rng.normal(size=(50, 2)), rng.normal(size=(40, 2))
    res = drift.wasserstein(pd.DataFrame(ref, columns=["a", "b"]), pd.DataFrame(cur))
    np.testing.assert_array_equal(res.statistic, drift.wasserstein(ref, cur).statistic)
    series = drift.ks(pd.Series(ref[:, 0]), pd.Series(cur[:, 0]))
    assert series.statistic == drift.ks(ref[:, 0], cur[:, 0]).statistic


def test_result_arrays_are_read_only_and_repr_is_readable() -> None:
    """2-D results are frozen arrays; the repr names method, statistic and decision."""
    res = drift.ks(np.zeros((5, 2)), np.ones((5, 2)))
    with pytest.raises(ValueError):
        res.statistic[0] = 0.0
    text = repr(res)
    assert text.startswith("DriftResult(method='ks', statistic=[1., 1.]")
    assert "drifted=[ True,  True]" in text
    assert "correction" not in text
    assert "correction='holm'" in repr(
        drift.ks(np.zeros((5, 2)), np.ones((5, 2)), correction="holm")
    )


def test_constant_columns() -> None:
    """Constant features: KS D=0 and p=1, Anderson NaN with a warning (scipy raises)."""
    ref, cur = np.full((30, 2), 3.0), np.full((20, 2), 3.0)
    res = drift.ks(ref, cur)
    np.testing.assert_array_equal(res.statistic, [0.0, 0.0])
    np.testing.assert_array_equal(res.pvalue, [1.0, 1.0])
    assert not res.drifted.any()
    with pytest.warns(drift.DriftWarning, match="single distinct value"):
        ad = drift.anderson(ref, cur)
    assert np.isnan(ad.statistic).all()
    assert not ad.drifted.any()
    assert drift.wasserstein(ref, cur).statistic.tolist() == [0.0, 0.0]
    shifted = drift.ks(ref, cur + 1.0)
    np.testing.assert_array_equal(shifted.statistic, [1.0, 1.0])


def test_cramervonmises_needs_two_observations() -> None:
    """A one-value sample gives NaN and a DriftWarning, like scipy's small-sample rule."""
    with pytest.warns(drift.DriftWarning, match="fewer than 2"):
        res = drift.cramervonmises([1.0], [1.0, 2.0, 3.0])
    assert np.isnan(res.statistic)
    assert res.drifted is False


def test_ks_exact_falls_back_to_asymp_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    """When scipy's exact algorithm gives up, the asymptotic p-value is used (like scipy)."""
    monkeypatch.setattr(_pvalues, "_ks_exact_cached", lambda *a: (False, a[3], np.nan))
    with pytest.warns(drift.DriftWarning, match="unsuccessful"):
        res = drift.ks([1.0, 2.0, 3.0, 4.0], [2.5, 3.5, 5.0], method="exact")
    expected = stats.ks_2samp([1.0, 2.0, 3.0, 4.0], [2.5, 3.5, 5.0], method="asymp")
    _close(res.pvalue, expected.pvalue)


def test_ks_exact_impossible_sizes_switch_to_asymp() -> None:
    """Sizes whose lattice overflows int32 use 'asymp' with a warning, as scipy does."""
    plus, minus = np.array([0.1]), np.array([0.05])
    with pytest.warns(drift.DriftWarning, match="not possible"):
        d, p = _pvalues.ks_pvalue(
            plus,
            minus,
            100_003,
            99_991,
            alternative="two-sided",
            method="exact",
            column=lambda j: (np.zeros(1), np.zeros(1)),
        )
    assert d[0] == 0.1
    _close(p, stats.kstwo.sf(0.1, np.round(100_003 * 99_991 / (100_003 + 99_991))))


def test_large_samples_use_the_asymptotic_ks() -> None:
    """Above 10,000 values 'auto' is the asymptotic distribution, like scipy."""
    rng = np.random.default_rng(4)
    ref, cur = rng.normal(size=12_000), rng.normal(0.02, 1, size=11_000)
    res = drift.ks(ref, cur)
    exp = stats.ks_2samp(ref, cur)
    _close(res.statistic, exp.statistic)
    _close(res.pvalue, exp.pvalue)


def test_chunking_over_many_features() -> None:
    """Many narrow features are processed in chunks with the same results."""
    rng = np.random.default_rng(5)
    ref, cur = rng.normal(size=(30, 300)), rng.normal(size=(25, 300))
    res = drift.wasserstein(ref, cur)
    exp = [stats.wasserstein_distance(ref[:, j], cur[:, j]) for j in range(300)]
    _close(res.statistic, exp)


@pytest.fixture
def one_row_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Force the one-feature-at-a-time integer-key merge used for long samples."""
    monkeypatch.setattr(_merge, "_CHUNK_ELEMENTS", 1)


def _signed(seed: int, n: int, m: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "zeros":  # negative, -0.0, +0.0 and positive values, with ties across samples
        pool = np.array([-2.5, -1.0, -0.0, 0.0, 0.5, 3.0, -1e-300, 5e-324, 1e300, -1e300])
        return rng.choice(pool, size=(n, 2)), rng.choice(pool, size=(m, 2))
    if kind == "negative":
        return -rng.exponential(size=(n, 2)), -rng.exponential(2.0, size=(m, 2))
    if kind == "positive":
        return rng.exponential(size=(n, 2)), rng.exponential(2.0, size=(m, 2))
    return rng.normal(size=(n, 2)) * 1e3, rng.normal(size=(m, 2)) * 1e-3


def _check_ks_w_cvm(ref: np.ndarray, cur: np.ndarray) -> None:
    """KS (asymptotic), Wasserstein and Cramér-von Mises equal scipy's, column by column."""
    ks = drift.ks(ref, cur, method="asymp")
    w = drift.wasserstein(ref, cur)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", drift.DriftWarning)
        cvm = drift.cramervonmises(ref, cur)
    for j in range(ref.shape[1]):
        a, b = ref[:, j], cur[:, j]
        with np.errstate(divide="ignore"):
            exp = stats.ks_2samp(a, b, method="asymp")
        _close(ks.statistic[j], exp.statistic)
        _close(ks.pvalue[j], exp.pvalue)
        with np.errstate(all="ignore"):
            _close(w.statistic[j], stats.wasserstein_distance(a, b))
        if min(a.size, b.size) >= 2:
            _close(cvm.statistic[j], stats.cramervonmises_2samp(a, b).statistic)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=seeds,
    n=st.integers(1, 60),
    m=st.integers(1, 60),
    kind=st.sampled_from(["zeros", "negative", "positive", "scales"]),
)
def test_integer_key_merge_matches_scipy(
    one_row_chunks: None, seed: int, n: int, m: int, kind: str
) -> None:
    """The key-based merge (signs, zeros, extremes, ties) gives scipy's numbers."""
    ref, cur = _signed(seed, n, m, kind)
    _check_ks_w_cvm(ref, cur)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", drift.DriftWarning)
        ad = drift.anderson(ref, cur)
    for j in range(2):
        a, b = ref[:, j], cur[:, j]
        if n + m > 3:
            np.testing.assert_allclose(
                ad.statistic[j], _scipy_anderson(a, b)[0], rtol=1e-9, atol=1e-9
            )


def test_fused_path_keeps_ks_for_one_value_samples() -> None:
    """With several methods, a 1-value feature still gets KS; only CvM is NaN (warned)."""
    ref = sort_samples(np.array([[1.0, 1.0], [2.0, 2.0], [3.0, np.nan]]), "reference")
    cur = sort_samples(np.array([[1.5, 0.5], [np.nan, np.nan], [np.nan, np.nan]]), "current")
    with pytest.warns(drift.DriftWarning, match=r"cramervonmises: feature\(s\) \[0, 1\]"):
        out = _presorted.compare_sorted(ref, cur, ("ks", "cramervonmises"), nan_policy="omit")
    expected = stats.ks_2samp([1.0, 2.0], [0.5])
    assert out["ks"][0][1] == pytest.approx(expected.statistic)
    assert out["ks"][1][1] == pytest.approx(expected.pvalue)
    assert np.isnan(out["cramervonmises"][0]).all()


def test_anderson_needs_four_pooled_observations() -> None:
    """Three pooled values: NaN like scipy, plus a DriftWarning."""
    with pytest.warns(drift.DriftWarning, match="more than 3"):
        res = drift.anderson([1.0], [2.0, 3.0])
    assert np.isnan(res.statistic)
    assert np.isnan(_scipy_anderson(np.array([1.0]), np.array([2.0, 3.0]))[0])


# --------------------------------------------------------------------------- tie-free path


@pytest.fixture
def tie_free_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Send every row through the tie-free path (normally for long rows only)."""
    monkeypatch.setattr(_merge, "_CHUNK_ELEMENTS", 1)
    monkeypatch.setattr(_merge, "_TIE_FREE_MIN_TOTAL", 0)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    case=st.tuples(
        seeds,
        st.integers(1, 300),  # n
        st.integers(1, 300),  # m
        st.sampled_from(["continuous", "discrete", "mixed", "zeros", "negative", "scales"]),
    )
)
def test_tie_free_path_matches_scipy(tie_free_rows: None, case: tuple[int, int, int, str]) -> None:
    """KS, Cramér-von Mises and Wasserstein by positions and quantiles equal scipy's.

    Rows with ties fall back to the general merge inside the same call; both are
    checked, with equal and unequal sample sizes (the quantile grid).
    """
    seed, n, m, kind = case
    if kind in {"continuous", "discrete", "mixed"}:
        ref, cur = sample_pair(seed, n, m, 2, kind)
    else:
        ref, cur = _signed(seed, n, m, kind)
    _check_ks_w_cvm(ref, cur)
    less = drift.ks(ref, cur, alternative="less")  # exact p-values at these sizes
    normed = drift.wasserstein(ref, cur, normed=True)
    for j in range(2):
        a, b = ref[:, j], cur[:, j]
        expected = stats.ks_2samp(a, b, alternative="less")
        _close(less.statistic[j], expected.statistic)
        _close(less.pvalue[j], expected.pvalue)
        with np.errstate(all="ignore"):
            _close(normed.statistic[j], stats.wasserstein_distance(a, b) / max(np.std(a), 0.001))


def test_tie_free_path_on_long_rows_and_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """At the sizes that take the tie-free path, a fitted Reference equals scipy, threaded or not.

    One feature has a tie across the samples (the general path for that row),
    one has unequal sizes after omitting missing values (the quantile grid).
    """
    calls: list[bool] = []
    original = _merge.tie_free_row

    def spy(*args: object) -> object:
        res = original(*args)  # type: ignore[arg-type]
        calls.append(res is None)
        return res

    monkeypatch.setattr(_merge, "tie_free_row", spy)
    rng = np.random.default_rng(11)
    n, m = 40_000, 30_000
    ref = rng.normal(size=(n, 4))
    cur = rng.normal(0.05, 1.1, size=(m, 4))
    cur[5, 1] = ref[7, 1]  # a cross-sample tie
    cur[:1000, 2] = np.nan  # m - 1000 values in feature 2
    reference = drift.Reference(ref)
    methods = ("ks", "cramervonmises", "wasserstein")
    one = reference.compare(cur, methods=methods, workers=1).to_dict()
    two = reference.compare(cur, methods=methods, workers=2).to_dict()
    assert one == two
    # 4 features x 2 calls: one row per call falls back (the tie); feature 2 goes alone
    # (its missing values are omitted per feature) but through the same path
    assert len(calls) == 8
    assert calls.count(True) == 2
    assert len(one["features"]) == 4
    for feature in one["features"]:
        j = int(feature["name"][1:])  # features are named x0, x1, ...
        a, b = ref[:, j], cur[:, j][~np.isnan(cur[:, j])]
        res = feature["results"]
        _close(res["ks"]["statistic"], stats.ks_2samp(a, b).statistic)
        _close(res["ks"]["raw_pvalue"], stats.ks_2samp(a, b).pvalue)
        _close(res["cramervonmises"]["statistic"], stats.cramervonmises_2samp(a, b).statistic)
        _close(res["wasserstein"]["statistic"], stats.wasserstein_distance(a, b) / np.std(a))


def test_wasserstein_is_exact_across_huge_gaps_where_the_ecdfs_agree() -> None:
    """Where both ECDFs are equal, a gap of 1e300 adds nothing (it once added 1e-16 x 1e300).

    Found by hypothesis: the general merge's F_ref - F_cur left a rounding residual
    that the widest gaps multiplied; it is now computed from integer counts.
    """
    ref = np.array([-1e300, -1e300, 0.1, 0.2, 0.5, 1e300])
    cur = np.array([-1e300, -1e300, 0.15, 0.3, 0.4, 1e300])
    for keys_path in (False, True):
        with pytest.MonkeyPatch.context() as mp:
            if keys_path:
                mp.setattr(_merge, "_CHUNK_ELEMENTS", 1)
            res = drift.wasserstein(ref, cur)
            energy = drift.energy(ref, cur)
        _close(res.statistic, stats.wasserstein_distance(ref, cur))
        _close(energy.statistic, stats.energy_distance(ref, cur))


def test_cramervonmises_beyond_exact_float_sums() -> None:
    """At 250,000 values each the rank sums pass 2^53; the statistic still matches scipy."""
    rng = np.random.default_rng(21)
    ref = rng.normal(size=250_000)
    cur = rng.normal(0.002, 1.0, size=250_000)
    res = drift.cramervonmises(ref, cur)
    exp = stats.cramervonmises_2samp(ref, cur)
    _close(res.statistic, exp.statistic)
    _close(res.pvalue, exp.pvalue)

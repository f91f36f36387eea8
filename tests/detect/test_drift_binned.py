"""Binned drift statistics: psi, jensenshannon, kl, hellinger, and their binning rules."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.spatial.distance import jensenshannon as scipy_js
from scipy.stats import entropy
from tests.strategies import feature_matrices, seeds

from aiguard import drift
from aiguard.detect._drift.binned import bin_counts, fit_inner_edges, pad_edges
from aiguard.errors import ConfigurationError, InvalidInputError

RNG = np.random.default_rng(12345)


# --- an independent reference implementation -------------------------------------------------


def ref_edges(ref: np.ndarray, bins: int | str = 10) -> np.ndarray:
    """Full histogram edges as the docs describe them, built with np.quantile / np.histogram."""
    ref = np.sort(ref[~np.isnan(ref)])
    uniq = np.unique(ref)
    if uniq.size == 1:
        c = uniq[0]
        return np.array([-np.inf, c, np.nextafter(c, np.inf), np.inf])
    if isinstance(bins, str):
        inner = np.histogram_bin_edges(ref, bins=bins)[1:-1]
    elif uniq.size <= bins:
        inner = uniq[1:]
    else:
        inner = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
        inner = inner[inner > ref[0]]
    return np.concatenate([[-np.inf], inner, [np.inf]])


def ref_shares(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    x = x[~np.isnan(x)]
    counts = np.histogram(x, bins=edges)[0]
    return counts / counts.sum()


def floored(p: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    q = np.maximum(p, eps)
    return q / q.sum()


def expected(method: str, ref: np.ndarray, cur: np.ndarray, bins: int | str = 10) -> float:
    edges = ref_edges(ref, bins)
    p, q = ref_shares(ref, edges), ref_shares(cur, edges)
    if method == "psi":
        a, b = floored(p), floored(q)
        return float(np.sum((a - b) * np.log(a / b)))
    if method == "kl":
        return float(entropy(floored(p), floored(q)))
    if method == "jensenshannon":
        return float(scipy_js(p, q))
    return float(np.sqrt(max(0.0, 1.0 - np.sum(np.sqrt(p * q)))))


METHODS = {
    "psi": drift.psi,
    "kl": drift.kl,
    "jensenshannon": drift.jensenshannon,
    "hellinger": drift.hellinger,
}


# --- agreement with the reference implementation ----------------------------------------------


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("bins", [10, 4, "sturges", "doane"])
def test_matches_reference_implementation(method: str, bins: int | str) -> None:
    """Each statistic equals the documented formula on np.histogram shares."""
    ref = RNG.normal(size=(700, 3))
    cur = RNG.normal(0.2, 1.3, size=(400, 3))
    res = METHODS[method](ref, cur, bins=bins)
    want = [expected(method, ref[:, j], cur[:, j], bins) for j in range(3)]
    np.testing.assert_allclose(res.statistic, want, rtol=1e-9, atol=1e-12)
    assert res.pvalue is None
    assert res.method == method


def test_jensenshannon_matches_scipy_with_base() -> None:
    """JS with base=2 equals scipy's jensenshannon(base=2) on the same histograms."""
    ref, cur = RNG.normal(size=900), RNG.normal(0.5, 1, size=600)
    edges = ref_edges(ref)
    want = scipy_js(ref_shares(ref, edges), ref_shares(cur, edges), base=2)
    assert drift.jensenshannon(ref, cur, base=2).statistic == pytest.approx(want, rel=1e-12)


def test_explicit_edges_put_outliers_in_the_outer_bins() -> None:
    """Values outside explicit edges are counted in the first and last bins, not dropped."""
    ref = np.array([0.5, 1.5, 2.5, 2.6])
    cur = np.array([-100.0, 0.2, 1.1, 2.9, 100.0, 100.0])
    edges, nb = pad_edges([fit_inner_edges(np.sort(ref), np.array([0.0, 1.0, 2.0, 3.0]))])
    counts = bin_counts(cur[:, None], edges)
    assert counts.tolist() == [[2, 1, 3]]
    assert nb.tolist() == [3]


def test_values_outside_the_reference_range_count() -> None:
    """Quantile bins: current values beyond the reference's min and max land in the outer bins."""
    ref = np.arange(100.0)
    inner = fit_inner_edges(ref, 4)
    counts = bin_counts(np.array([[-5.0], [50.0], [1e9]]), pad_edges([inner])[0])
    assert counts.tolist() == [[1, 0, 1, 1]]


def test_few_distinct_values_get_one_bin_each() -> None:
    """A reference with at most `bins` distinct values gets one bin per value."""
    ref = np.array([1.0, 1, 2, 2, 2, 5, 5, 7])
    assert fit_inner_edges(ref, 10).tolist() == [2.0, 5.0, 7.0]


def test_constant_reference_gets_three_bins_and_sees_change() -> None:
    """A constant reference gives below / equal / above bins; a moved current is drifted."""
    ref = np.full(500, 3.0)
    assert fit_inner_edges(ref, 10).tolist() == [3.0, np.nextafter(3.0, np.inf)]
    same = drift.psi(ref, np.full(100, 3.0))
    moved = drift.psi(ref, np.r_[np.full(50, 3.0), np.full(50, 4.0)])
    assert same.statistic == 0.0
    assert np.isfinite(moved.statistic)
    assert moved.drifted


def test_ties_merge_quantile_bins() -> None:
    """Tied quantiles collapse to one edge (no empty duplicate bins)."""
    ref = np.r_[np.zeros(80), np.arange(1.0, 41.0)]
    inner = fit_inner_edges(np.sort(ref), 10)
    assert np.all(np.diff(inner) > 0)
    assert inner[0] > 0.0


def test_empty_bins_give_finite_psi_and_kl() -> None:
    """The epsilon rule: a current sample missing whole bins gives large but finite values."""
    ref = RNG.normal(size=1000)
    cur = np.full(200, 10.0)
    for fn in (drift.psi, drift.kl):
        res = fn(ref, cur)
        assert np.isfinite(res.statistic)
        assert res.statistic > 1.0


def test_eps_changes_the_floor() -> None:
    """A smaller eps gives a larger divergence when bins are empty."""
    ref, cur = RNG.normal(size=1000), np.full(200, 10.0)
    assert drift.psi(ref, cur, eps=1e-6).statistic > drift.psi(ref, cur, eps=1e-2).statistic


def test_thresholds_decide_drifted() -> None:
    """drifted is statistic >= threshold; threshold=None leaves it undecided."""
    ref, cur = RNG.normal(size=1000), RNG.normal(0.05, 1, size=1000)
    res = drift.psi(ref, cur, threshold=0.0)
    assert res.drifted is True
    assert res.threshold == 0.0
    assert drift.psi(ref, cur, threshold=None).drifted is None
    assert drift.psi(ref, cur, threshold=100.0).drifted is False


def test_two_d_equals_loop_of_one_d_and_axis() -> None:
    """2-D input equals the 1-D loop; axis=1 takes samples along rows."""
    ref, cur = RNG.normal(size=(300, 4)), RNG.exponential(size=(250, 4))
    for fn in METHODS.values():
        whole = fn(ref, cur).statistic
        loop = [fn(ref[:, j], cur[:, j]).statistic for j in range(4)]
        np.testing.assert_allclose(whole, loop, rtol=1e-12)
        np.testing.assert_allclose(fn(ref.T, cur.T, axis=1).statistic, whole, rtol=1e-12)
        assert isinstance(fn(ref[:, 0], cur[:, 0]).statistic, float)


# --- categorical --------------------------------------------------------------------------------


def test_categorical_strings_use_the_union_of_categories() -> None:
    """Strings are categories; shares over the union match the formula."""
    ref = np.array(["a"] * 50 + ["b"] * 30 + ["c"] * 20)
    cur = np.array(["a"] * 20 + ["b"] * 20 + ["d"] * 10)
    p = np.array([0.5, 0.3, 0.2, 0.0])
    q = np.array([0.4, 0.4, 0.0, 0.2])
    a, b = floored(p), floored(q)
    assert drift.psi(ref, cur).statistic == pytest.approx(np.sum((a - b) * np.log(a / b)))
    assert drift.kl(ref, cur).statistic == pytest.approx(entropy(a, b))
    assert drift.jensenshannon(ref, cur).statistic == pytest.approx(scipy_js(p, q))
    assert drift.hellinger(ref, cur).statistic == pytest.approx(np.sqrt(1 - np.sum(np.sqrt(p * q))))


def test_unseen_category_is_finite_and_drifted() -> None:
    """A category the reference never saw gives a finite, drifted PSI."""
    res = drift.psi(["a", "a", "b"], ["c", "c", "c"])
    assert np.isfinite(res.statistic)
    assert res.drifted


def test_declared_categorical_numbers_and_missing_labels() -> None:
    """categorical=True treats numbers as labels; None is missing and omitted."""
    ref = np.array([1, 1, 2, 2, 3])
    cur = np.array([1, 2, 2, 2, 2])
    res = drift.jensenshannon(ref, cur, categorical=True)
    assert res.statistic == pytest.approx(scipy_js([0.4, 0.4, 0.2], [0.2, 0.8, 0.0]))
    obj_ref = np.array(["x", None, "y", "x"], dtype=object)
    obj_cur = np.array(["x", "y", None, None], dtype=object)
    omitted = drift.hellinger(obj_ref, obj_cur, nan_policy="omit").statistic
    assert omitted == pytest.approx(np.sqrt(1 - np.sqrt(2 / 3 * 0.5) - np.sqrt(1 / 3 * 0.5)))
    assert np.isnan(drift.hellinger(obj_ref, obj_cur).statistic)
    with pytest.raises(InvalidInputError, match="reference"):
        drift.hellinger(obj_ref, obj_cur, nan_policy="raise")


def test_mixed_object_column_is_rejected() -> None:
    """An object column mixing strings and numbers is a typed error naming the argument."""
    with pytest.raises(InvalidInputError, match="current"):
        drift.psi(["a", "b"], np.array(["a", 1], dtype=object))


def test_categorical_feature_count_mismatch() -> None:
    """Categorical inputs with different feature counts name `current`."""
    with pytest.raises(InvalidInputError, match="current"):
        drift.psi(np.array([["a", "b"]]), np.array([["a"]]))


# --- NaN policy and bad input -----------------------------------------------------------------


def test_nan_policies() -> None:
    """propagate gives NaN, omit drops the NaN, raise raises naming the argument."""
    ref = RNG.normal(size=(400, 2))
    cur = RNG.normal(size=(300, 2))
    cur_nan = cur.copy()
    cur_nan[5, 1] = np.nan
    prop = drift.psi(ref, cur_nan).statistic
    assert np.isfinite(prop[0])
    assert np.isnan(prop[1])
    omit = drift.psi(ref, cur_nan, nan_policy="omit").statistic
    assert omit[1] == pytest.approx(expected("psi", ref[:, 1], np.delete(cur[:, 1], 5)))
    with pytest.raises(InvalidInputError, match="current"):
        drift.psi(ref, cur_nan, nan_policy="raise")
    ref_nan = ref.copy()
    ref_nan[0, 0] = np.nan
    assert np.isnan(drift.kl(ref_nan, cur).statistic[0])
    with pytest.raises(InvalidInputError, match="reference"):
        drift.kl(ref_nan, cur, nan_policy="raise")


def test_all_nan_column_warns_under_omit() -> None:
    """An all-NaN column gives NaN plus a DriftWarning, never a crash."""
    ref = RNG.normal(size=(50, 2))
    cur = RNG.normal(size=(40, 2))
    cur[:, 0] = np.nan
    with pytest.warns(drift.DriftWarning):
        res = drift.hellinger(ref, cur, nan_policy="omit")
    assert np.isnan(res.statistic[0])
    assert np.isfinite(res.statistic[1])
    assert res.drifted[0] is np.False_


@pytest.mark.parametrize(
    ("ref", "cur", "argument"),
    [
        (np.zeros((2, 2, 2)), np.zeros((2, 2)), "reference"),
        (np.zeros((5, 2)), np.zeros((5, 3)), "current"),
        (np.zeros(0), np.zeros(3), "reference"),
        (np.zeros(3), np.zeros(0), "current"),
        (np.array([1.0, np.inf]), np.zeros(3), "reference"),
        (np.zeros(3), np.array([1.0, -np.inf]), "current"),
        (np.zeros(3), np.array([np.inf, -np.inf]), "current"),
    ],
)
def test_bad_input_names_the_argument(ref: np.ndarray, cur: np.ndarray, argument: str) -> None:
    """Wrong ndim, mismatched features, empty input and inf raise InvalidInputError."""
    for fn in METHODS.values():
        with pytest.raises(InvalidInputError, match=argument):
            fn(ref, cur)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"bins": 0}, "bins"),
        ({"bins": "fd"}, "bins"),
        ({"bins": True}, "bins"),
        ({"bins": [1.0]}, "bins"),
        ({"bins": [2.0, 1.0]}, "bins"),
        ({"bins": [0.0, np.inf]}, "bins"),
        ({"bins": [[0.0, 1.0]]}, "bins"),
        ({"bins": object()}, "bins"),
        ({"compat": "scipy"}, "compat"),
        ({"nan_policy": "drop"}, "nan_policy"),
        ({"threshold": -1.0}, "threshold"),
        ({"threshold": True}, "threshold"),
    ],
)
def test_bad_configuration(kwargs: dict[str, object], argument: str) -> None:
    """Invalid parameters raise ConfigurationError naming the parameter."""
    with pytest.raises(ConfigurationError, match=argument):
        drift.psi([1.0, 2.0], [1.0, 2.0], **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("eps", [0.0, 1.0, True, "x"])
def test_bad_eps(eps: object) -> None:
    """eps must be in (0, 1)."""
    with pytest.raises(ConfigurationError, match="eps"):
        drift.kl([1.0, 2.0], [1.0, 2.0], eps=eps)  # type: ignore[arg-type]


@pytest.mark.parametrize("base", [1, 0, -2.0, True])
def test_bad_base(base: object) -> None:
    """base must be positive and not 1."""
    with pytest.raises(ConfigurationError, match="base"):
        drift.jensenshannon([1.0, 2.0], [1.0, 2.0], base=base)  # type: ignore[arg-type]


def test_moved_bins_order_by_movement() -> None:
    """The report's moved bins: largest share change first, lower bin on ties, unmoved never."""
    from aiguard.detect._drift.reference._compare import _shares

    def hist(rc: list[int], cc: list[int]) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
        return tuple(map(str, range(len(rc)))), np.array(rc), np.array(cc)

    _, _, totals, moved = _shares(
        [
            hist([25, 25, 25, 25], [10, 30, 25, 35]),  # shares 0.25 each -> .1 .3 .25 .35
            hist([5, 5], [5, 5]),
            hist([10, 10, 10, 10], [5, 15, 5, 15]),  # all moved by 0.125: bin order
        ]
    )
    assert moved == [(0, 3, 1), (), (0, 1, 2)]
    assert totals == [(100, 100), (10, 10), (40, 40)]


# --- properties -----------------------------------------------------------------------------------

samples = feature_matrices()


@settings(max_examples=60, deadline=None)
@given(ref=samples, cur=samples, bins=st.sampled_from([1, 2, 5, 10, "sturges", "doane"]))
def test_bin_counts_match_np_histogram(ref: np.ndarray, cur: np.ndarray, bins: int | str) -> None:
    """Vectorised bin counts equal np.histogram per column on any data (ties, NaN, outliers)."""
    f = min(ref.shape[1], cur.shape[1])
    ref, cur = ref[:, :f], cur[:, :f]
    cols = [j for j in range(f) if (~np.isnan(ref[:, j])).any()]
    if not cols:
        return
    inner = [fit_inner_edges(np.sort(ref[~np.isnan(ref[:, j]), j]), bins) for j in cols]
    edges, nbins = pad_edges(inner)
    counts = bin_counts(cur[:, cols], edges)
    for i, j in enumerate(cols):
        x = cur[:, j]
        want = np.histogram(x[~np.isnan(x)], bins=np.r_[-np.inf, inner[i], np.inf])[0]
        assert counts[i, : nbins[i]].tolist() == want.tolist()
        assert counts[i, nbins[i] :].sum() == 0


@settings(max_examples=60, deadline=None)
@given(ref=samples, cur=samples)
def test_statistics_are_finite_and_bounded(ref: np.ndarray, cur: np.ndarray) -> None:
    """Every statistic is finite, non-negative and within its bounds; zero on identical data."""
    f = min(ref.shape[1], cur.shape[1])
    ref, cur = ref[:, :f], cur[:, :f]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", drift.DriftWarning)
        res = {m: fn(ref, cur, nan_policy="omit").statistic for m, fn in METHODS.items()}
        same = drift.psi(ref, ref, nan_policy="omit").statistic
    defined = ~np.isnan(ref).all(axis=0) & ~np.isnan(cur).all(axis=0)
    for m, stat in res.items():
        assert np.all(np.isfinite(stat[defined])), m
        assert np.all(stat[defined] >= 0), m
        assert np.all(np.isnan(stat[~defined])), m
    assert np.all(res["jensenshannon"][defined] <= np.sqrt(np.log(2)) + 1e-12)
    assert np.all(res["hellinger"][defined] <= 1 + 1e-12)
    np.testing.assert_allclose(same[defined], 0.0, atol=1e-12)


def test_many_bins_take_the_wide_index_path() -> None:
    """More than 255 bins per feature still count exactly."""
    ref, cur = RNG.normal(size=(3000, 2)), RNG.normal(size=(500, 2))
    res = drift.hellinger(ref, cur, bins=400)
    want = [expected("hellinger", ref[:, j], cur[:, j], 400) for j in range(2)]
    np.testing.assert_allclose(res.statistic, want, rtol=1e-9)


def test_compat_all_missing_current_column() -> None:
    """compat='evidently' with an all-NaN current column under omit gives NaN and a warning."""
    with pytest.warns(drift.DriftWarning):
        res = drift.psi(
            RNG.normal(size=50), np.full(5, np.nan), compat="evidently", nan_policy="omit"
        )
    assert np.isnan(res.statistic)


@settings(max_examples=40, deadline=None)
@given(
    ref=feature_matrices(rows=(1, 30), elements=st.floats(-1e3, 1e3)),
    cur=feature_matrices(rows=(1, 30), elements=st.floats(-1e3, 1e3)),
    where=st.sampled_from(["reference", "current"]),
    bad=st.sampled_from([np.inf, -np.inf]),
    seed=st.integers(0, 1000),
)
def test_generated_bad_input_is_a_typed_error(
    ref: np.ndarray, cur: np.ndarray, where: str, bad: float, seed: int
) -> None:
    """Generated inputs with an inf or a feature-count mismatch raise InvalidInputError."""
    method = list(METHODS.values())[seed % 4]
    if ref.shape[1] != cur.shape[1]:
        with pytest.raises(InvalidInputError, match="current"):
            method(ref, cur)
        return
    target = ref if where == "reference" else cur
    rng = np.random.default_rng(seed)
    target[rng.integers(target.shape[0]), rng.integers(target.shape[1])] = bad
    with pytest.raises(InvalidInputError, match=where):
        method(ref, cur, nan_policy="omit")


@settings(max_examples=60, deadline=None)
@given(
    data=hnp.arrays(
        np.float64,
        st.integers(1, 50),
        elements=st.one_of(st.floats(-1e9, 1e9), st.sampled_from([0.0, 1.0, 1.5])),
    ),
    q=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=12),
)
def test_sorted_quantiles_equal_numpy_bit_for_bit(data: np.ndarray, q: list[float]) -> None:
    """Quantiles read off the sorted column equal np.quantile exactly."""
    from aiguard.detect._drift.binned import sorted_quantiles

    s = np.sort(data)
    qs = np.array(q)
    np.testing.assert_array_equal(sorted_quantiles(s, qs), np.quantile(data, qs))


@settings(max_examples=40, deadline=None)
@given(ref=samples, cur=samples)
def test_sorted_bin_counts_equal_the_direct_pass(ref: np.ndarray, cur: np.ndarray) -> None:
    """Counting by binary search in sorted columns equals the vectorised pass."""
    from aiguard.detect._drift.binned import sorted_bin_counts

    f = min(ref.shape[1], cur.shape[1])
    ref, cur = ref[:, :f], cur[:, :f]
    cols = [j for j in range(f) if (~np.isnan(ref[:, j])).any()]
    if not cols:
        return
    inner = [fit_inner_edges(np.sort(ref[~np.isnan(ref[:, j]), j]), 5) for j in cols]
    edges, _ = pad_edges(inner)
    block = cur[:, cols]
    ordered = np.sort(block, axis=0)
    valid = (~np.isnan(block)).sum(axis=0)
    np.testing.assert_array_equal(
        sorted_bin_counts(ordered, valid, edges), bin_counts(block, edges)
    )


def test_broadcast_path_when_tiles_would_be_too_big(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without room for tiled edges, counting broadcasts edge rows and gives the same counts."""
    from aiguard.detect._drift.binned import _counts

    ref, cur = RNG.normal(size=(700, 3)), RNG.normal(size=(1000, 3))
    cur[::7, 1] = np.nan
    inner = [fit_inner_edges(np.sort(ref[:, j]), 10) for j in range(3)]
    edges, _ = pad_edges(inner)
    tiled = bin_counts(cur, edges)
    monkeypatch.setattr(_counts, "_MAX_TILE_BYTES", 0)
    np.testing.assert_array_equal(bin_counts(cur, edges), tiled)
    np.testing.assert_array_equal(bin_counts(np.asfortranarray(cur), edges), tiled)
    for j in range(3):
        x = cur[:, j][~np.isnan(cur[:, j])]
        assert tiled[j].tolist() == np.histogram(x, np.r_[-np.inf, inner[j], np.inf])[0].tolist()


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 400),
    width=st.integers(1, 5),
    specials=st.lists(
        st.tuples(st.integers(0, 10**6), st.sampled_from([np.nan, np.inf, -np.inf, 1e308])),
        max_size=6,
    ),
    seed=seeds,
)
def test_scan_finds_every_non_finite_column_across_chunks(
    rows: int, width: int, specials: list[tuple[int, float]], seed: int
) -> None:
    """Chunk sums flag every column holding NaN or inf (or overflowing), in any chunk or tail.

    Small chunks (many of them, flushed every 255) are forced; the counts equal
    np.histogram of the non-NaN values, and the candidates are a superset of the
    non-finite columns.
    """
    from aiguard.detect._drift.binned import _counts

    rng = np.random.default_rng(seed)
    cur = rng.normal(size=(rows, width))
    for where, value in specials:
        cur.flat[where % cur.size] = value
    inner = [np.array([-1.0, 0.0, 0.5]) for _ in range(width)]
    edges, _ = pad_edges(inner)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_counts, "_CHUNK_ELEMENTS", 8)
        mp.setattr(_counts, "_BYTE_MAX", 3)
        cache: dict[int, np.ndarray] = {}
        counts, candidates = _counts.scan_bin_counts(cur, edges, tile_cache=cache)
        again, _ = _counts.scan_bin_counts(cur, edges, tile_cache=cache)  # tiles from the cache
    np.testing.assert_array_equal(counts, again)
    non_finite = set(np.flatnonzero(~np.isfinite(cur).all(axis=0)).tolist())
    assert non_finite <= set(candidates.tolist())
    for j in range(width):
        x = cur[:, j][~np.isnan(cur[:, j])]
        assert counts[j].tolist() == np.histogram(x, np.r_[-np.inf, inner[j], np.inf])[0].tolist()


def test_compare_and_accumulator_reject_inf_by_feature_name() -> None:
    """The checks moved into the counting and sorting passes still name the feature."""
    ref = drift.Reference(RNG.normal(size=(500, 3)), feature_names=["a", "b", "c"])
    cur = RNG.normal(size=(300, 3))
    cur[250, 1] = np.inf
    for methods in (("psi",), ("ks",), ("ks", "psi")):
        with pytest.raises(InvalidInputError, match=r"inf in.*'b'"):
            ref.compare(cur, methods=methods)
    with pytest.raises(InvalidInputError, match=r"batch.*inf in.*'b'"):
        ref.accumulator().update(cur)
    cur[250, 1] = np.nan  # NaN is a missing value, counted as such
    report = ref.compare(cur, methods=("psi",))
    assert report.to_dict()["features"][0]["missing_current"] >= 0
    missing = {f["name"]: f["missing_current"] for f in report.to_dict()["features"]}
    assert missing == {"a": 0.0, "b": 1 / 300, "c": 0.0}

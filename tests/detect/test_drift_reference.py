"""Reference: fitting, persistence without pickle, comparisons and the accumulator."""

from __future__ import annotations

import itertools
import json
import zipfile
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2_contingency
from tests.detect.scipy_oracle import anderson_ksamp_midrank

from aiguard import drift
from aiguard.errors import ConfigurationError, InvalidInputError, StoreError

if TYPE_CHECKING:
    from pathlib import Path

RNG = np.random.default_rng(2026)
BINNED = ("psi", "jensenshannon", "kl", "hellinger")


def mixed_frame(n: int, shift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(40 + shift, 10, n),
            "city": rng.choice(["paris", "lyon", "nice"], n, p=[0.5, 0.3, 0.2]),
            "score": rng.exponential(1.0, n),
        }
    )


# --- fitting ----------------------------------------------------------------------------------


def test_fit_records_edges_categories_and_summary() -> None:
    """A fitted reference holds per-feature edges, categories and summary statistics."""
    frame = mixed_frame(1000)
    ref = drift.Reference(frame)
    assert ref.feature_names == ("age", "city", "score")
    assert ref.kinds == ("numeric", "categorical", "numeric")
    assert ref.categories("city") == ("lyon", "nice", "paris")
    want = np.quantile(frame["age"], np.linspace(0, 1, 11)[1:-1])
    np.testing.assert_allclose(ref.edges("age"), want, rtol=1e-12)
    assert ref.nbins.tolist() == [10, 3, 10]
    summary = ref.summary
    assert summary["age"]["mean"] == pytest.approx(frame["age"].mean())
    assert summary["age"]["std"] == pytest.approx(frame["age"].std(ddof=0))
    assert summary["city"]["top"] == "paris"
    assert summary["score"]["count"] == 1000
    assert "numeric=2" in repr(ref)


def test_feature_names_categorical_and_bins_arguments() -> None:
    """feature_names names array columns; categorical= declares numeric labels; bins= applies."""
    data = np.column_stack([RNG.integers(0, 3, 200), RNG.normal(size=200)])
    ref = drift.Reference(
        data, feature_names=["kind", "value"], categorical=["kind"], bins="sturges"
    )
    assert ref.kinds == ("categorical", "numeric")
    assert ref.categories("kind") == ("0.0", "1.0", "2.0")
    np.testing.assert_allclose(
        ref.edges("value"), np.histogram_bin_edges(data[:, 1], bins="sturges")[1:-1]
    )
    assert drift.Reference(data, categorical=[0]).kinds == ("categorical", "numeric")
    assert drift.Reference(data, categorical=True).kinds == ("categorical", "categorical")
    assert drift.Reference({"a": [1.0, 2.0], "b": ["x", "y"]}).kinds == ("numeric", "categorical")


def test_object_columns_holding_numbers_are_numeric() -> None:
    """An object array of numbers (with None) is a numeric feature with missing values."""
    ref = drift.Reference(np.array([[1, "a"], [2.5, "b"], [None, "a"]], dtype=object))
    assert ref.kinds == ("numeric", "categorical")
    assert ref.summary["x0"]["missing"] == 1


@pytest.mark.parametrize(
    ("data", "kwargs", "error", "match"),
    [
        (np.zeros((0, 2)), {}, InvalidInputError, "data"),
        (np.zeros((3, 0)), {}, InvalidInputError, "data"),
        (np.zeros((2, 2, 2)), {}, InvalidInputError, "data"),
        (np.array([[1.0, np.inf]]), {}, InvalidInputError, "inf"),
        (np.array([[np.nan, 1.0], [np.nan, 2.0]]), {}, InvalidInputError, "x0"),
        (np.array(["a", 1], dtype=object), {}, InvalidInputError, "one type"),
        (np.array([None, None], dtype=object), {"categorical": True}, InvalidInputError, "x0"),
        (np.zeros((3, 2)), {"feature_names": ["a"]}, ConfigurationError, "feature_names"),
        (np.zeros((3, 2)), {"feature_names": ["a", "a"]}, ConfigurationError, "feature_names"),
        (np.zeros((3, 2)), {"categorical": ["zz"]}, ConfigurationError, "categorical"),
        (np.zeros((3, 2)), {"categorical": [5]}, ConfigurationError, "categorical"),
        (np.zeros((3, 2)), {"bins": 0}, ConfigurationError, "bins"),
        (np.zeros((3, 2)), {"axis": 1}, TypeError, "axis"),
        ({"a": [1.0, 2.0], "b": [1.0]}, {}, InvalidInputError, "equal length"),
        (np.array([1 + 2j]), {}, InvalidInputError, "data"),
        (np.array(["a", np.inf], dtype=object), {"categorical": True}, InvalidInputError, "one"),
        (np.array([1.0, np.inf], dtype=object), {"categorical": True}, InvalidInputError, "inf"),
        (np.array([1.0, np.inf]), {"categorical": True}, InvalidInputError, "inf"),
    ],
)
def test_bad_data(data: object, kwargs: dict[str, object], error: type, match: str) -> None:
    """Unusable data or parameters raise a typed error naming what is wrong."""
    with pytest.raises(error, match=match):
        drift.Reference(data, **kwargs)  # type: ignore[arg-type]


def test_unknown_feature_lookups() -> None:
    """edges()/categories() name the feature argument when it is unknown or of the wrong kind."""
    ref = drift.Reference(mixed_frame(50))
    with pytest.raises(InvalidInputError, match="feature"):
        ref.edges("city")
    with pytest.raises(InvalidInputError, match="feature"):
        ref.categories("age")
    with pytest.raises(InvalidInputError, match="feature"):
        ref.edges("nope")


# --- persistence ------------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path: Path) -> None:
    """A saved and loaded reference compares exactly like the original, without pickle."""
    frame = mixed_frame(800)
    frame.loc[3, "age"] = np.nan
    frame.loc[4, "city"] = None
    ref = drift.Reference(frame)
    path = tmp_path / "ref.npz"
    ref.save(path)
    with np.load(path, allow_pickle=False) as npz:
        assert "meta" in npz.files
        meta = json.loads(npz["meta"].tobytes())
    assert meta["names"] == ["age", "city", "score"]
    loaded = drift.Reference.load(path)
    assert loaded.feature_names == ref.feature_names
    assert loaded.kinds == ref.kinds
    assert loaded.summary == ref.summary
    assert loaded.categories("city") == ref.categories("city")
    np.testing.assert_array_equal(loaded.edges("age"), ref.edges("age"))
    cur = mixed_frame(500, shift=3.0, seed=1)
    methods = ("chi2", *BINNED)
    assert (
        loaded.compare(cur, methods=methods).to_dict()
        == ref.compare(cur, methods=methods).to_dict()
    )
    merged = ref.accumulator() + loaded.accumulator()
    assert merged.n_rows == 0


def test_save_load_numeric_only_and_explicit_bins(tmp_path: Path) -> None:
    """Explicit edges and a reference without categorical features survive the round trip."""
    ref = drift.Reference(RNG.normal(size=(100, 2)), bins=[-1.0, 0.0, 1.0])
    ref.save(tmp_path / "r.npz")
    loaded = drift.Reference.load(tmp_path / "r.npz")
    assert loaded.edges("x1").tolist() == [0.0]
    cats = drift.Reference(np.array(["a", "b"]))
    cats.save(tmp_path / "c.npz")
    assert drift.Reference.load(tmp_path / "c.npz").categories("x0") == ("a", "b")


def test_load_errors(tmp_path: Path) -> None:
    """A missing file is a StoreError; a file that is not a reference is an InvalidInputError."""
    with pytest.raises(StoreError, match="cannot read"):
        drift.Reference.load(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(InvalidInputError, match="path"):
        drift.Reference.load(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", meta=np.frombuffer(b'{"format": "x"}', dtype=np.uint8))
    with pytest.raises(InvalidInputError, match="path"):
        drift.Reference.load(tmp_path / "other.npz")
    with zipfile.ZipFile(tmp_path / "pickled.npz", "w") as zf:
        with zf.open("meta.npy", "w") as fh:
            np.save(fh, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InvalidInputError, match="path"):
        drift.Reference.load(tmp_path / "pickled.npz")
    with pytest.raises(StoreError, match="cannot write"):
        drift.Reference(np.arange(3.0)).save(tmp_path / "no" / "such" / "dir.npz")


# --- comparing ----------------------------------------------------------------------------------


def test_compare_binned_equals_the_functions() -> None:
    """Reference.compare's binned statistics equal drift.psi & co on the same data."""
    ref_data = RNG.normal(size=(600, 3))
    cur = RNG.normal(0.3, 1.0, size=(400, 3))
    report = drift.Reference(ref_data).compare(cur, methods=BINNED)
    fns = {
        "psi": drift.psi,
        "jensenshannon": drift.jensenshannon,
        "kl": drift.kl,
        "hellinger": drift.hellinger,
    }
    for method, fn in fns.items():
        want = fn(ref_data, cur).statistic
        got = [report.feature(f"x{j}").result(method).statistic for j in range(3)]  # type: ignore[union-attr]
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_compare_categorical_chi2_and_unseen() -> None:
    """chi2 equals scipy's chi2_contingency on the 2 x k table; unseen categories are bins."""
    ref = drift.Reference(mixed_frame(900))
    cur = mixed_frame(300, seed=5)
    cur.loc[:9, "city"] = "brest"
    report = ref.compare(cur, methods=("chi2", "psi"))
    city = report.feature("city")
    table = np.array(
        [
            [0, *(np.sum(mixed_frame(900)["city"] == c) for c in ("lyon", "nice", "paris"))],
            [10, *(np.sum(cur["city"] == c) for c in ("lyon", "nice", "paris"))],
        ]
    )
    res = chi2_contingency(table)
    chi = city.result("chi2")
    assert chi is not None
    assert chi.statistic == pytest.approx(res.statistic, rel=1e-12)
    assert chi.raw_pvalue == pytest.approx(res.pvalue, rel=1e-9)
    assert city.bins[0] == "brest (new)"
    assert city.reference_shares[0] == 0.0
    psi = city.result("psi")
    assert psi is not None
    assert np.isfinite(psi.statistic)
    assert report.feature("age").result("chi2") is None


def test_compare_matches_dataframe_columns_by_name() -> None:
    """A DataFrame in another column order is matched by name; a missing column is an error."""
    ref = drift.Reference(mixed_frame(300))
    cur = mixed_frame(200, seed=3)
    same = ref.compare(cur, methods=BINNED).to_dict()
    assert ref.compare(cur[["score", "city", "age"]], methods=BINNED).to_dict() == same
    with pytest.raises(InvalidInputError, match="current"):
        ref.compare(cur[["age", "city"]])
    with pytest.raises(InvalidInputError, match="current"):
        ref.compare({"age": [1.0]})


def test_compare_rejects_mismatched_input() -> None:
    """Wrong feature counts, strings in numeric features and bad parameters are typed errors."""
    ref = drift.Reference(RNG.normal(size=(100, 3)))
    with pytest.raises(InvalidInputError, match="current"):
        ref.compare(RNG.normal(size=(10, 2)))
    with pytest.raises(InvalidInputError, match="current"):
        ref.compare(np.zeros((0, 3)))
    with pytest.raises(InvalidInputError, match="current"):
        ref.compare(np.array([["a", "b", "c"]]))
    with pytest.raises(InvalidInputError, match="current"):
        ref.compare(np.array([[1.0, np.inf, 0.0]]))
    with pytest.raises(ConfigurationError, match="methods"):
        ref.compare(RNG.normal(size=(10, 3)), methods=("nope",))
    with pytest.raises(ConfigurationError, match="methods"):
        ref.compare(RNG.normal(size=(10, 3)), methods=())
    with pytest.raises(ConfigurationError, match="alpha"):
        ref.compare(RNG.normal(size=(10, 3)), alpha=2.0)
    with pytest.raises(ConfigurationError, match="thresholds"):
        ref.compare(RNG.normal(size=(10, 3)), thresholds={"ks": 0.1})
    with pytest.raises(ConfigurationError, match="thresholds"):
        ref.compare(RNG.normal(size=(10, 3)), thresholds={"psi": -1.0})


def test_compare_thresholds_and_missing_rate() -> None:
    """thresholds= moves the distance decision; missing values are omitted and reported."""
    ref = drift.Reference(RNG.normal(size=(500, 1)))
    cur = RNG.normal(size=(200, 1))
    cur[:50, 0] = np.nan
    loose = ref.compare(cur, methods="psi", thresholds={"psi": 0.0})
    feature = loose.features[0]
    assert feature.drifted
    assert feature.missing_current == pytest.approx(0.25)
    assert feature.n_current == 150
    assert feature.missing_reference == 0.0
    strict = ref.compare(cur, methods="psi", thresholds={"psi": 10.0})
    assert not strict.drifted


def test_all_missing_current_column_is_nan_not_a_crash() -> None:
    """An all-NaN current column gives NaN statistics and is not drifted."""
    ref = drift.Reference(RNG.normal(size=(100, 2)))
    cur = RNG.normal(size=(50, 2))
    cur[:, 1] = np.nan
    report = ref.compare(cur, methods=BINNED)
    result = report.feature("x1").result("psi")
    assert result is not None
    assert np.isnan(result.statistic)
    assert not report.feature("x1").drifted
    assert report.feature("x1").missing_current == 1.0


# --- accumulator -----------------------------------------------------------------------------


def test_accumulator_equals_concatenated_batches() -> None:
    """Statistics from accumulated batches equal those of the concatenated data."""
    ref = drift.Reference(mixed_frame(1000))
    batches = [mixed_frame(n, shift=2.0, seed=s) for s, n in enumerate([100, 37, 250])]
    batches[1].loc[:4, "city"] = "brest"
    batches[2].loc[:4, "age"] = np.nan
    acc = ref.accumulator()
    for b in batches:
        acc.update(b)
    whole = pd.concat(batches, ignore_index=True)
    report = ref.compare(whole, methods=BINNED)
    stats = acc.statistics()
    for j, name in enumerate(ref.feature_names):
        for m in BINNED:
            result = report.feature(name).result(m)
            assert result is not None
            assert stats[m][j] == pytest.approx(result.statistic, rel=1e-12), (name, m)
    acc_report = acc.compare(methods=BINNED)
    assert acc_report.n_current == len(whole)
    assert acc_report.feature("age").missing_current == pytest.approx(5 / len(whole))
    assert "brest (new)" in acc_report.feature("city").bins
    assert acc_report.feature("city").bins == report.feature("city").bins  # compare's order
    assert acc.n_rows == len(whole)
    assert "Accumulator(n_rows=387" in repr(acc)


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(0, 300), max_size=4), seed=st.integers(0, 10_000))
def test_accumulator_is_independent_of_batching_and_mergeable(cuts: list[int], seed: int) -> None:
    """Any split of the stream, merged with +, gives the counts of the whole stream."""
    rng = np.random.default_rng(seed)
    ref = drift.Reference(rng.normal(size=(200, 2)))
    data = rng.normal(0.5, 1.0, size=(300, 2))
    bounds = [0, *sorted(cuts), 300]
    parts = []
    for a, b in itertools.pairwise(bounds):
        if b > a:
            acc = ref.accumulator()
            acc.update(data[a:b])
            parts.append(acc)
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    whole = ref.accumulator()
    whole.update(data)
    for m in BINNED:
        np.testing.assert_allclose(total.statistics([m])[m], whole.statistics([m])[m], rtol=1e-12)
    assert total.n_rows == 300
    assert total.reference is ref


def test_accumulator_errors() -> None:
    """Merging accumulators of different references, or bad methods, is refused."""
    a = drift.Reference(RNG.normal(size=(100, 2))).accumulator()
    b = drift.Reference(RNG.normal(size=(100, 2))).accumulator()
    with pytest.raises(ConfigurationError, match="other"):
        _ = a + b
    with pytest.raises(TypeError):
        _ = a + 1  # type: ignore[operator]
    with pytest.raises(ConfigurationError, match="methods"):
        a.statistics(["ks"])
    with pytest.raises(ConfigurationError, match="methods"):
        a.compare(methods=())
    with pytest.raises(InvalidInputError, match="batch"):
        a.update(np.zeros((3, 5)))
    empty = a.statistics("psi")["psi"]
    assert np.isnan(empty).all()


# --- rank and distance statistics through the fitted reference ---------------------------------


def test_compare_continuous_methods_match_scipy() -> None:
    """KS, CvM, Anderson, Wasserstein (normed) and energy equal scipy per column, NaN omitted."""
    from scipy import stats

    ref_data = RNG.normal(size=(400, 3))
    cur = RNG.normal(0.1, 1.1, size=(300, 3))
    cur[7, 2] = np.nan
    methods = ("ks", "cramervonmises", "anderson", "wasserstein", "energy")
    report = drift.Reference(ref_data).compare(cur, methods=methods, correction=None)
    for j in range(3):
        a, b = ref_data[:, j], cur[:, j][~np.isnan(cur[:, j])]
        feature = report.feature(f"x{j}")
        ks = stats.ks_2samp(a, b)
        cvm = stats.cramervonmises_2samp(a, b)
        want = {
            "ks": (ks.statistic, ks.pvalue),
            "cramervonmises": (cvm.statistic, cvm.pvalue),
            "wasserstein": (stats.wasserstein_distance(a, b) / a.std(), None),
            "energy": (stats.energy_distance(a, b), None),
        }
        for method, (stat, p) in want.items():
            result = feature.result(method)
            assert result is not None
            assert result.statistic == pytest.approx(stat, rel=1e-9), method
            if p is not None:
                assert result.pvalue == pytest.approx(p, rel=1e-9), method
        anderson = feature.result("anderson")
        assert anderson is not None
        assert anderson.statistic == pytest.approx(
            anderson_ksamp_midrank(a, b).statistic, rel=1e-9
        )


def test_compare_correction_and_min_effect() -> None:
    """Holm multiplies the smallest p-value by the number of features; min_effect gates tests."""
    ref_data = RNG.normal(size=(5000, 4))
    cur = RNG.normal(size=(5000, 4))
    cur[:, 0] += 0.08
    ref = drift.Reference(ref_data)
    raw = ref.compare(cur, methods="ks", correction=None).feature("x0").result("ks")
    holm = ref.compare(cur, methods="ks", correction="holm").feature("x0").result("ks")
    assert raw is not None
    assert holm is not None
    assert holm.pvalue == pytest.approx(min(1.0, 4 * raw.pvalue))
    assert holm.raw_pvalue == pytest.approx(raw.pvalue)
    assert raw.drifted
    gated = ref.compare(cur, methods="ks", min_effect=0.2)
    assert not gated.drifted
    assert gated.min_effect == 0.2
    with pytest.raises(ConfigurationError, match="correction"):
        ref.compare(cur, correction="fdr")
    with pytest.raises(ConfigurationError, match="min_effect"):
        ref.compare(cur, min_effect=-1.0)


def test_default_methods_cover_numeric_and_categorical() -> None:
    """The defaults run ks on numeric features, chi2 on categorical ones and psi on both."""
    report = drift.Reference(mixed_frame(400)).compare(mixed_frame(300, seed=2))
    assert report.methods == ("ks", "chi2", "psi")
    assert [r.method for r in report.feature("age").results] == ["ks", "psi"]
    assert [r.method for r in report.feature("city").results] == ["chi2", "psi"]
    gated = drift.Reference(mixed_frame(400)).compare(
        mixed_frame(300, seed=2), methods="chi2", min_effect=0.9
    )
    assert not gated.feature("city").drifted


def test_more_input_shapes() -> None:
    """Declared-categorical object numbers, ragged lists and dates are handled or refused."""
    ref = drift.Reference(np.array([1, None, 2], dtype=object), categorical=True)
    assert ref.categories("x0") == ("1.0", "2.0")
    assert ref.summary["x0"]["missing"] == 1
    with pytest.raises(InvalidInputError, match="data"):
        drift.Reference([[1.0, 2.0], [3.0]])
    dates = pd.DataFrame({"when": pd.date_range("2024-01-01", periods=3)})
    with pytest.raises(InvalidInputError, match="data"):
        drift.Reference(dates)


def test_single_bin_and_methods_without_features() -> None:
    """One explicit bin is labelled 'all'; a method that applies to no feature is left out."""
    ref = drift.Reference(RNG.uniform(size=(100, 1)), bins=[0.0, 1.0])
    report = ref.compare(RNG.uniform(size=(50, 1)), methods=("chi2", "psi"))
    feature = report.features[0]
    assert feature.bins == ("all",)
    assert feature.result("chi2") is None
    assert [r.method for r in feature.results] == ["psi"]


def test_chi2_degenerate_tables() -> None:
    """One shared category gives chi2 0 / p 1; an all-missing current column gives NaN."""
    ref = drift.Reference({"k": np.array(["a"] * 10)})
    same = ref.compare({"k": np.array(["a"] * 5)}, methods="chi2").features[0].result("chi2")
    assert same is not None
    assert (same.statistic, same.pvalue) == (0.0, 1.0)
    empty = ref.compare({"k": np.array([None] * 5, dtype=object)}, methods="chi2")
    result = empty.features[0].result("chi2")
    assert result is not None
    assert np.isnan(result.statistic)
    assert not empty.drifted
    assert empty.features[0].missing_current == 1.0


def test_accumulator_on_categorical_only_reference() -> None:
    """Categorical-only references count known and unseen labels; merges add unseen counts."""
    ref = drift.Reference({"k": np.array(["a", "b", "b"])})
    left, right = ref.accumulator(), ref.accumulator()
    left.update({"k": np.array(["a", "z", "z"])})
    right.update({"k": np.array(["z", None, "y"], dtype=object)})
    right.update({"k": np.array([None], dtype=object)})
    both = left + right
    labels, rc, cc = both.histograms()[0]
    assert labels == ("a", "b", "y (new)", "z (new)")
    assert rc.tolist() == [1, 2, 0, 0]
    assert cc.tolist() == [1, 0, 1, 3]
    assert both.compare(methods="psi").features[0].missing_current == pytest.approx(2 / 7)


def test_bin_counts_from_the_sort_equal_the_direct_pass() -> None:
    """With rank methods the bins are read off the sorted data; shares and PSI do not change."""
    ref = drift.Reference(np.round(RNG.normal(size=(500, 3)), 1))
    cur = np.round(RNG.normal(0.2, 1.0, size=(300, 3)), 1)
    cur[:20, 1] = np.nan
    cur[:, 2] = np.nan
    with pytest.warns(drift.DriftWarning):
        with_sort = ref.compare(cur, methods=("ks", *BINNED))
    direct = ref.compare(cur, methods=BINNED)
    for name in ref.feature_names:
        a, b = with_sort.feature(name), direct.feature(name)
        assert a.current_shares == b.current_shares
        assert a.missing_current == b.missing_current
        for m in BINNED:
            ra, rb = a.result(m), b.result(m)
            assert ra is not None
            assert rb is not None
            np.testing.assert_equal(ra.statistic, rb.statistic)

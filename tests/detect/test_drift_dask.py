"""Fit and compare of Dask collections: the in-memory numbers, as scipy; no Dask at import."""

from __future__ import annotations

import pickle
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from aiguard.drift import Reference
from aiguard.errors import ConfigurationError, InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Iterator

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
pd = pytest.importorskip("pandas")

# imported after the skips: they import dask themselves
from aiguard.detect._drift.dask import is_dask  # noqa: E402
from aiguard.detect._drift.dask._collections import chunks  # noqa: E402
from aiguard.detect._drift.dask._compare import plan_dask_blocks  # noqa: E402
from aiguard.detect._drift.dask._fit import fit_chunk, merge_fit  # noqa: E402

RANK = ("ks", "cramervonmises", "anderson", "wasserstein", "energy")
ALL = (*RANK, "psi", "jensenshannon", "kl", "hellinger", "chi2")


@pytest.fixture(autouse=True)
def _synchronous() -> Iterator[None]:
    with dask.config.set(scheduler="synchronous"):
        yield


def _data(seed: int = 0, n: int = 900, m: int = 700, k: int = 5) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    ref = rng.normal(size=(n, k))
    cur = rng.normal(size=(m, k)) + np.linspace(0.0, 0.4, k)
    ref[:, 1] = np.round(ref[:, 1], 1)  # ties within and across the samples
    cur[:, 1] = np.round(cur[:, 1], 1)
    ref[::17, 2 % k] = np.nan
    cur[::13, 3 % k] = np.nan
    return ref, cur


def _frames(seed: int = 1) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame(
        {
            "a": rng.normal(size=600),
            "b": np.round(rng.normal(size=600), 1),
            "c": rng.choice(["x", "y", "z"], 600).astype(object),
        }
    )
    cur = pd.DataFrame(
        {
            "c": rng.choice(["x", "y", "w"], 500, p=[0.5, 0.3, 0.2]).astype(object),
            "b": np.round(rng.normal(0.3, 1, size=500), 1),
            "a": rng.normal(size=500),
        }
    )
    ref.loc[::11, "a"] = np.nan
    cur.loc[::7, "c"] = None
    return ref, cur


@pytest.mark.slow  # a fresh interpreter (about 1 s): the only way to see what an import pulls in
def test_importing_aiguard_does_not_import_dask() -> None:
    """`import aiguard` and `aiguard.drift` leave dask unimported (it is an optional extra)."""
    code = "import sys, aiguard, aiguard.drift\nprint('dask' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_is_dask_tells_collections_from_arrays() -> None:
    """Dask arrays and frames are recognised; numpy arrays and frames are not."""
    ref, _ = _frames()
    assert is_dask(da.zeros(3))
    assert is_dask(dd.from_pandas(ref, npartitions=2))
    assert not is_dask(np.zeros(3))
    assert not is_dask(ref)


@given(
    row_chunk=st.integers(50, 900),
    col_chunk=st.integers(1, 5),
    bins=st.sampled_from([10, 4, "doane"]),
)
@settings(max_examples=15, deadline=None)
def test_fit_of_a_dask_array_is_the_in_memory_fit(
    row_chunk: int, col_chunk: int, bins: Any
) -> None:
    """Sorted columns, edges, counts, missing, summaries: the in-memory fit's, however chunked."""
    ref, _ = _data()
    lazy = Reference(da.from_array(ref, chunks=(row_chunk, col_chunk)), bins=bins).fitted
    eager = Reference(ref, bins=bins).fitted
    assert np.array_equal(lazy.sorted_values, eager.sorted_values, equal_nan=True)
    assert np.array_equal(lazy.edges, eager.edges)
    assert np.array_equal(lazy.counts, eager.counts)
    assert lazy.missing.tolist() == eager.missing.tolist()
    assert lazy.summary == eager.summary


def test_fit_keeps_the_sorted_reference_as_numpy() -> None:
    """Each reference column is the whole column sorted (numpy's sort of the data)."""
    ref, _ = _data(k=3)
    fitted = Reference(da.from_array(ref, chunks=(128, 3))).fitted
    for j in range(3):
        col = ref[:, j]
        assert fitted.column(j).tolist() == np.sort(col[~np.isnan(col)]).tolist()


@pytest.mark.parametrize(("row_chunk", "memory"), [(700, None), (64, None), (100, 700_000)])
def test_compare_of_a_dask_array_equals_the_in_memory_report(row_chunk: int, memory: Any) -> None:
    """Every method, in one block or in several (a small budget), gives the in-memory report."""
    ref, cur = _data()
    reference = Reference(ref)
    lazy = reference.compare(
        da.from_array(cur, chunks=(row_chunk, 2)), methods=ALL, max_memory=memory
    )
    assert lazy == reference.compare(cur, methods=ALL)


def test_compare_of_a_dask_array_agrees_with_scipy() -> None:
    """KS, Cramér-von Mises and Wasserstein of a chunked current: scipy's on the whole columns."""
    rng = np.random.default_rng(3)
    ref, cur = rng.normal(size=(500, 2)), np.round(rng.normal(0.2, 1, size=(400, 2)), 1)
    report = Reference(ref).compare(
        da.from_array(cur, chunks=(50, 2)),
        methods=("ks", "cramervonmises", "wasserstein"),
        correction=None,
    )
    got = {(f.name, r.method): r for f in report.features for r in f.results}
    for j in range(2):
        a, b = ref[:, j], cur[:, j]
        ks = scipy.stats.ks_2samp(a, b)
        cvm = scipy.stats.cramervonmises_2samp(a, b)
        w = scipy.stats.wasserstein_distance(a, b) / np.std(a)
        assert got[(f"x{j}", "ks")].statistic == pytest.approx(ks.statistic, rel=1e-12)
        assert got[(f"x{j}", "ks")].pvalue == pytest.approx(ks.pvalue, rel=1e-9)
        assert got[(f"x{j}", "cramervonmises")].statistic == pytest.approx(cvm.statistic, rel=1e-9)
        assert got[(f"x{j}", "wasserstein")].statistic == pytest.approx(w, rel=1e-9)


def test_dask_frames_with_categories_give_the_in_memory_report() -> None:
    """A DataFrame (matched by name, with unseen categories) fits and compares as pandas does."""
    ref, cur = _frames()
    lazy_ref = Reference(dd.from_pandas(ref, npartitions=3))
    eager_ref = Reference(ref)
    assert lazy_ref.summary == eager_ref.summary
    assert lazy_ref.categories("c") == ("x", "y", "z")
    methods = ("ks", "wasserstein", "psi", "chi2")
    lazy = eager_ref.compare(
        dd.from_pandas(cur, npartitions=4), methods=methods, max_memory=400_000
    )
    assert lazy == eager_ref.compare(cur, methods=methods)
    assert lazy_ref.compare(cur, methods=methods) == eager_ref.compare(cur, methods=methods)


def test_empty_partitions_are_skipped() -> None:
    """Partitions left empty by a filter add nothing to the fit or the comparison."""
    ref, cur = _frames()
    lazy_ref = dd.concat(
        [dd.from_pandas(ref, npartitions=3), dd.from_pandas(ref.iloc[:0], npartitions=1)]
    )
    assert len(lazy_ref.partitions[-1].compute()) == 0
    assert Reference(lazy_ref).summary == Reference(ref).summary
    lazy_cur = dd.concat(
        [dd.from_pandas(cur.iloc[:0], npartitions=1), dd.from_pandas(cur, npartitions=2)]
    )
    reference = Reference(ref)
    methods = ("ks", "energy", "psi", "chi2")
    assert reference.compare(lazy_cur, methods=methods) == reference.compare(cur, methods=methods)


def test_one_dimensional_dask_arrays() -> None:
    """A 1-D array is one feature, fitted and compared like numpy's."""
    rng = np.random.default_rng(5)
    ref, cur = rng.normal(size=400), rng.normal(0.5, 1, size=300)
    lazy = Reference(da.from_array(ref, chunks=90))
    assert lazy.summary == Reference(ref).summary
    assert lazy.compare(da.from_array(cur, chunks=70)) == Reference(ref).compare(cur)


def test_many_chunks_reduce_in_several_levels() -> None:
    """Forty chunks (three levels of merges of four) give the in-memory numbers."""
    ref, cur = _data(seed=7, n=400, m=400, k=2)
    reference = Reference(ref)
    methods = ("ks", "anderson", "kl")
    lazy = reference.compare(da.from_array(cur, chunks=(10, 2)), methods=methods)
    assert lazy == reference.compare(cur, methods=methods)
    assert Reference(da.from_array(ref, chunks=(10, 2))).summary == reference.summary


def test_unknown_chunk_sizes_are_counted_for_the_blocks() -> None:
    """A current of unknown length with a value-keeping method is counted first, then compared."""
    ref, cur = _data(seed=2, k=3)
    lazy = da.from_array(cur, chunks=(100, 3))
    lazy = lazy[lazy[:, 0] != 1e300]  # unknown chunk sizes, every row kept (NaN too)
    assert np.isnan(lazy.shape[0])
    reference = Reference(ref)
    got = reference.compare(lazy, methods=("wasserstein", "psi"), max_memory=200_000)
    assert got == reference.compare(cur, methods=("wasserstein", "psi"))


def test_block_plan_counts_the_state_per_feature() -> None:
    """KS slots of five states and kept current values are what limit a block."""
    ref, _ = _data(n=1000, k=5)
    fitted = Reference(ref).fitted
    per_ks = 24 * 1000 + 16 * 1000 * 5
    assert plan_dask_blocks(fitted, 0, ("ks",), 2 * per_ks) == 2
    assert plan_dask_blocks(fitted, 0, ("psi",), 10**9) == 5
    assert plan_dask_blocks(fitted, 500, ("wasserstein",), 24_000 + 8_000) == 1
    with pytest.raises(ConfigurationError, match="max_memory"):
        plan_dask_blocks(fitted, 0, ("ks",), per_ks - 1)


def test_bad_dask_input_is_refused_naming_the_argument() -> None:
    """Wrong widths, missing columns, 3-D arrays, compat, empty data: typed errors."""
    ref, cur = _data()
    reference = Reference(ref)
    with pytest.raises(InvalidInputError, match=r"current.*5 feature columns"):
        reference.compare(da.from_array(cur[:, :3]))
    with pytest.raises(InvalidInputError, match=r"current.*5 feature columns"):
        reference.compare(da.from_array(cur[:, 0]))
    with pytest.raises(ConfigurationError, match="compat"):
        reference.compare(da.from_array(cur), compat="evidently")
    with pytest.raises(InvalidInputError, match=r"current.*1-D or 2-D"):
        reference.compare(da.zeros((2, 5, 2)))
    fr, fc = _frames()
    with pytest.raises(InvalidInputError, match=r"missing \['c'\]"):
        Reference(fr).compare(dd.from_pandas(fc[["a", "b"]], npartitions=2))
    empty = dd.from_pandas(fr.iloc[:0], npartitions=1)
    with pytest.raises(InvalidInputError, match=r"data.*non-empty"):
        Reference(empty)
    with pytest.raises(InvalidInputError, match=r"current.*non-empty"):
        Reference(fr).compare(empty)
    with pytest.raises(ConfigurationError, match="max_memory"):
        reference.compare(da.from_array(cur), methods=("ks",), max_memory=70_000)
    with pytest.raises(InvalidInputError, match="inf"):
        Reference(da.from_array(np.array([[1.0], [np.inf]])))


def test_chunks_of_different_kinds_do_not_merge() -> None:
    """A column numeric in one chunk and categorical in another is refused, naming ``data``."""
    a = fit_chunk(pd.DataFrame({"a": [1.0, 2.0]}), feature_names=None, categorical=None)
    b = fit_chunk(pd.DataFrame({"a": ["x", "y"]}), feature_names=None, categorical=None)
    with pytest.raises(InvalidInputError, match="same columns"):
        merge_fit(a, b)
    assert merge_fit(None, a) is a
    assert merge_fit(None, None) is None


def test_fit_state_pickles() -> None:
    """The fit state survives pickling (it travels between workers)."""
    ref, _ = _frames()
    state = fit_chunk(ref, feature_names=None, categorical=None)
    back = pickle.loads(pickle.dumps(state))
    assert back is not None
    assert state is not None
    assert np.array_equal(back.values, state.values, equal_nan=True)
    assert back.categories[0].tolist() == state.categories[0].tolist()


def test_chunks_rechunk_the_columns_together() -> None:
    """A 2-D array chunked by columns gives row chunks holding every column."""
    parts = chunks(da.zeros((10, 4), chunks=(5, 1)), "data")
    assert [p.compute().shape for p in parts] == [(5, 4), (5, 4)]


def test_pandas_string_columns_with_missing_labels() -> None:
    """A pandas string column's ``pd.NA`` (Dask makes such columns) is a missing label."""
    labels = pd.array(["x", None, "y", "x"], dtype="string")
    frame = pd.DataFrame({"c": labels, "a": [1.0, 2.0, 3.0, 4.0]})
    summary = Reference(frame).summary["c"]
    assert (summary["count"], summary["missing"], summary["top"]) == (3, 1, "x")


class _Column:
    """A column without pandas' ``to_numpy(dtype=..., na_value=...)`` (like polars')."""

    def __init__(self, values: list[Any]) -> None:
        self._values = values

    def to_numpy(self) -> Any:
        return np.array(self._values, dtype=object)


class _Frame:
    """A minimal non-pandas frame: columns, dtypes and item access."""

    columns = ("c",)
    dtypes = ("string",)

    def __getitem__(self, key: str) -> _Column:
        return _Column(["x", None, "x"])


def test_other_frames_label_columns_are_read_as_objects() -> None:
    """A frame that is not pandas still gives its string column's labels (None is missing)."""
    summary = Reference(_Frame()).summary["c"]
    assert (summary["count"], summary["missing"]) == (2, 1)


def test_threaded_scheduler_gives_the_same_report() -> None:
    """Dask's default threaded scheduler (tasks run concurrently) gives the in-memory report."""
    ref, cur = _data(seed=9, k=3)
    reference = Reference(ref)
    methods = ("ks", "wasserstein", "psi")
    with dask.config.set(scheduler="threads"):
        lazy_ref = Reference(da.from_array(ref, chunks=(200, 3)))
        lazy = reference.compare(da.from_array(cur, chunks=(150, 3)), methods=methods)
    assert lazy_ref.summary == reference.summary
    assert lazy == reference.compare(cur, methods=methods)


@pytest.mark.parametrize("top", [0, 255, 256, 70_000, 2**33])
def test_slot_counts_travel_in_the_narrowest_type(top: int) -> None:
    """Slot counts of any size survive ``to_bytes`` exactly (stored as 1, 2, 4 or 8 bytes)."""
    from aiguard.detect._drift.reference._accumulator_parts import narrow as _narrow

    counts = np.array([0, 1, top], dtype=np.int64)
    narrow = _narrow(counts)
    assert narrow.astype(np.int64).tolist() == counts.tolist()
    assert narrow.itemsize == {0: 1, 255: 1, 256: 2, 70_000: 4, 2**33: 8}[top]

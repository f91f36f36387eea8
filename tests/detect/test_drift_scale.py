"""Blocked fit and compare within a memory budget: the same numbers as in memory and as scipy."""

from __future__ import annotations

import io
import mmap
import sys
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.detect.scipy_oracle import anderson_ksamp_midrank

from aiguard.detect._drift.scale import (
    BYTES_PER_VALUE,
    WORK_BYTES_PER_VALUE,
    Progress,
    check_max_memory,
    default_max_memory,
    mapping,
    open_source,
    plan_blocks,
    release,
)
from aiguard.drift import Reference
from aiguard.errors import ConfigurationError, InvalidInputError
from aiguard.testing import FakeClock

if TYPE_CHECKING:
    from pathlib import Path

    from aiguard.drift import DriftReport

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

RANK = ("ks", "cramervonmises", "anderson", "wasserstein", "energy")
ALL = (*RANK, "psi", "jensenshannon", "kl", "hellinger", "chi2")
TINY = 160_000  # a budget of one to three features per block for the sizes below


def _data(seed: int = 0, n: int = 1200, m: int = 1000, k: int = 7) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    ref = rng.normal(size=(n, k))
    cur = rng.normal(size=(m, k)) + np.linspace(0.0, 0.3, k)
    ref[:, 1] = np.round(ref[:, 1], 1)  # ties within and across the samples
    cur[:, 1] = np.round(cur[:, 1], 1)
    ref[::17, 2] = np.nan
    cur[::13, 3] = np.nan
    return ref, cur


def _stats(report: DriftReport) -> dict[tuple[str, str], tuple[float, float | None]]:
    return {(f.name, r.method): (r.statistic, r.pvalue) for f in report.features for r in f.results}


def _assert_same(a: DriftReport, b: DriftReport) -> None:
    """Same features, decisions, bins and shares; statistics equal to the last bits or two."""
    assert [f.name for f in a.features] == [f.name for f in b.features]
    assert [f.drifted for f in a.features] == [f.drifted for f in b.features]
    assert [f.current_shares for f in a.features] == [f.current_shares for f in b.features]
    assert [f.missing_current for f in a.features] == [f.missing_current for f in b.features]
    sa, sb = _stats(a), _stats(b)
    assert sa.keys() == sb.keys()
    for key, (stat, p) in sa.items():
        assert sb[key][0] == pytest.approx(stat, rel=1e-12, abs=1e-15), key
        if p is not None:
            assert sb[key][1] == pytest.approx(p, rel=1e-9, abs=1e-300), key


def _write_parquet(path: Path, arr: Any, *, rows: int, labels: Any = None) -> Path:
    columns = {f"x{j}": arr[:, j] for j in range(arr.shape[1])}
    if labels is not None:
        columns["city"] = labels
    pq.write_table(pa.table(columns), path, row_group_size=rows)
    return path


def test_blocked_equals_in_memory_on_every_source(tmp_path: Path) -> None:
    """Arrays, memory maps, .npy and Parquet paths and iterators give the in-memory report."""
    ref, cur = _data()
    expected = Reference(ref).compare(cur, methods=ALL)
    np.save(tmp_path / "ref.npy", ref)
    np.save(tmp_path / "cur.npy", cur)
    refs = [
        Reference(ref, max_memory=TINY),
        Reference(tmp_path / "ref.npy", max_memory=TINY),
        Reference(_write_parquet(tmp_path / "ref.parquet", ref, rows=700), max_memory=TINY),
        Reference(iter(np.array_split(ref, 4)), max_memory=TINY),
    ]
    currents = [
        lambda: cur,
        lambda: str(tmp_path / "cur.npy"),
        lambda: np.load(tmp_path / "cur.npy", mmap_mode="r"),
        lambda: _write_parquet(tmp_path / "cur.parquet", cur, rows=600),
        lambda: (b for b in np.array_split(cur, 3)),
    ]
    for reference in refs:
        assert mapping(reference.fitted.sorted_values) is not None
        for current in currents:
            _assert_same(expected, reference.compare(current(), methods=ALL, max_memory=TINY))


def test_blocked_rank_statistics_equal_scipy_on_the_whole_columns(tmp_path: Path) -> None:
    """KS, Cramér-von Mises, Anderson-Darling and Wasserstein per feature match scipy."""
    ref, cur = _data(seed=1, k=4)
    report = Reference(ref, max_memory=TINY).compare(
        _write_parquet(tmp_path / "c.parquet", cur, rows=500),
        methods=RANK,
        correction=None,
        max_memory=TINY,
    )
    stats = _stats(report)
    for j in range(4):
        a, b = ref[:, j][~np.isnan(ref[:, j])], cur[:, j][~np.isnan(cur[:, j])]
        name = f"x{j}"
        ks = scipy.stats.ks_2samp(a, b)
        assert stats[name, "ks"][0] == pytest.approx(ks.statistic, rel=1e-14)
        assert stats[name, "ks"][1] == pytest.approx(ks.pvalue, rel=1e-8)
        cvm = scipy.stats.cramervonmises_2samp(a, b)
        assert stats[name, "cramervonmises"][0] == pytest.approx(cvm.statistic, rel=1e-10)
        ad = anderson_ksamp_midrank(a, b)
        assert stats[name, "anderson"][0] == pytest.approx(ad.statistic, rel=1e-10)
        w = scipy.stats.wasserstein_distance(a, b) / max(a.std(), 1e-3)
        assert stats[name, "wasserstein"][0] == pytest.approx(w, rel=1e-10)


def test_categorical_parquet_columns_are_counted_like_in_memory(tmp_path: Path) -> None:
    """A string column of a Parquet file is categorical; chi2 and PSI equal the in-memory ones."""
    rng = np.random.default_rng(2)
    ref, cur = rng.normal(size=(800, 2)), rng.normal(0.5, 1, size=(700, 2))
    rl = rng.choice(["a", "b", "c"], 800)
    cl = rng.choice(["a", "b", "d"], 700, p=[0.6, 0.3, 0.1])
    frame_ref = {"x0": ref[:, 0], "x1": ref[:, 1], "city": rl.astype(object)}
    frame_cur = {"x0": cur[:, 0], "x1": cur[:, 1], "city": cl.astype(object)}
    expected = Reference(frame_ref).compare(frame_cur, methods=("ks", "psi", "chi2"))
    fitted = Reference(_write_parquet(tmp_path / "r.parquet", ref, rows=300, labels=rl))
    got = fitted.compare(
        _write_parquet(tmp_path / "c.parquet", cur, rows=256, labels=cl),
        methods=("ks", "psi", "chi2"),
        max_memory=TINY,
    )
    assert fitted.kinds == ("numeric", "numeric", "categorical")
    _assert_same(expected, got)


def test_categorical_argument_is_split_across_blocks() -> None:
    """``categorical=`` by name or index reaches the block holding that column."""
    rng = np.random.default_rng(4)
    data = rng.integers(0, 3, size=(500, 4)).astype(np.float64)
    for spec in (["x3"], [3], [1, "x3"]):
        ref = Reference(data, categorical=spec, max_memory=1 << 16)
        assert mapping(ref.fitted.sorted_values) is not None
        cats = [ref.feature_names[j] for j, k in enumerate(ref.kinds) if k == "categorical"]
        assert cats == (["x1", "x3"] if 1 in spec else ["x3"])
    assert Reference(data, categorical=True, max_memory=1 << 16).kinds == ("categorical",) * 4
    for bad in (["nope"], [9]):
        with pytest.raises(ConfigurationError, match="categorical"):
            Reference(data, categorical=bad, max_memory=1 << 16)


def test_feature_names_and_width_are_checked(tmp_path: Path) -> None:
    """Names are given to blocked data; a wrong count or width raises naming the argument."""
    ref, cur = _data(k=4)
    fitted = Reference(ref, feature_names=["a", "b", "c", "d"], max_memory=TINY)
    assert fitted.feature_names == ("a", "b", "c", "d")
    with pytest.raises(ConfigurationError, match="feature_names"):
        Reference(ref, feature_names=["a"], max_memory=TINY)
    with pytest.raises(InvalidInputError, match="current"):
        fitted.compare(cur[:, :2], max_memory=TINY)
    with pytest.raises(InvalidInputError, match="current"):
        fitted.compare(iter([cur[:, :2]]), max_memory=TINY)
    path = _write_parquet(tmp_path / "c.parquet", cur, rows=500)
    with pytest.raises(InvalidInputError, match="missing"):
        fitted.compare(path, max_memory=TINY)


def test_names_come_from_iterated_frames() -> None:
    """An iterator of DataFrames gives its column names to the reference."""
    pd = pytest.importorskip("pandas")
    ref, _ = _data(k=4)
    frames = (pd.DataFrame(b, columns=["u", "v", "w", "z"]) for b in np.array_split(ref, 3))
    assert Reference(frames, max_memory=TINY).feature_names == ("u", "v", "w", "z")


def test_bad_sources_raise_naming_the_argument(tmp_path: Path) -> None:
    """Unknown files, unreadable files, ragged or empty iterators are InvalidInputError."""
    (tmp_path / "x.txt").write_text("1,2\n")
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    pq.write_table(pa.table({"x": pa.array([], pa.float64())}), tmp_path / "empty.parquet")
    cases = [
        tmp_path / "x.txt",
        tmp_path / "bad.npy",
        tmp_path / "bad.parquet",
        tmp_path / "empty.parquet",
        iter([np.ones((3, 2)), np.ones((3, 3))]),
        iter([np.array([["a", "b"]])]),
        iter([]),
        iter([np.ones((0, 2))]),
    ]
    for case in cases:
        with pytest.raises(InvalidInputError, match="data"):
            Reference(case)
    with pytest.raises(InvalidInputError, match="data"):
        Reference(np.lib.format.open_memmap(tmp_path / "e.npy", "w+", np.float64, (0, 2)))
    np.save(tmp_path / "cube.npy", np.ones((2, 2, 2)))
    with pytest.raises(InvalidInputError, match="data"):
        Reference(tmp_path / "cube.npy")


def test_spill_files_are_removed(tmp_path: Path) -> None:
    """The scratch files of a fit, a compare and a failed iterator are gone afterwards."""
    ref, cur = _data(k=4)
    np.save(tmp_path / "ref.npy", ref)
    spill = tmp_path / "spill"
    spill.mkdir()
    fitted = Reference(tmp_path / "ref.npy", max_memory=TINY, spill_dir=str(spill))
    fitted.compare(iter([cur]), max_memory=TINY, spill_dir=str(spill))
    with pytest.raises(InvalidInputError):
        Reference(iter([np.ones((3, 2)), np.ones((3, 3))]), spill_dir=str(spill))
    assert list(spill.iterdir()) == []
    assert fitted.compare(cur).n_current == cur.shape[0]  # the mapping outlives the file name


def test_small_arrays_stay_in_memory_and_frames_are_not_sources() -> None:
    """Within the budget an array takes the in-memory path; frames and lists are not sources."""
    ref, _ = _data(k=4)
    assert mapping(Reference(ref).fitted.sorted_values) is None
    assert open_source([[1.0, 2.0]], "data", None) is None
    assert open_source({"a": [1.0]}, "data", None) is None
    assert open_source(np.array(["a", "b"]), "data", None) is None
    assert open_source(np.ones((2, 2, 2)), "data", None) is None


def test_pages_of_a_memory_map_are_released(tmp_path: Path) -> None:
    """release() drops a read-only map's pages and leaves copy-on-write maps and arrays alone."""
    np.save(tmp_path / "a.npy", np.arange(1 << 16, dtype=np.float64))
    ro = np.load(tmp_path / "a.npy", mmap_mode="r")
    cow = np.load(tmp_path / "a.npy", mmap_mode="c")
    assert isinstance(mapping(ro[10:]), mmap.mmap)
    assert mapping(cow) is None
    assert mapping(np.ones(3)) is None
    total = float(ro.sum())
    release(ro[5:])
    release(np.ones(3))
    assert float(ro.sum()) == total  # the data come back from the file


def test_max_memory_is_parsed_and_checked() -> None:
    """Sizes in bytes or with units; bool, nonsense and tiny budgets are ConfigurationError."""
    assert check_max_memory("2GB") == 2 * 10**9
    assert check_max_memory(" 1.5 GiB ") == 3 * (1 << 29)
    assert check_max_memory(np.int64(1 << 25)) == 1 << 25
    assert check_max_memory(None) is None
    for bad in (True, "2 parsecs", "GB", 1000, -5.0, [1]):
        with pytest.raises(ConfigurationError, match="max_memory"):
            check_max_memory(bad)
    assert default_max_memory() >= 1 << 16


def test_blocks_fit_the_budget_and_give_up_threads_first() -> None:
    """plan_blocks follows its byte model, drops threads first, and fails on one feature."""
    values = 10_000
    budget = 3 * BYTES_PER_VALUE * values + 2 * WORK_BYTES_PER_VALUE * values
    assert plan_blocks(values, budget, 100, 2) == (3, 2)
    assert plan_blocks(values, budget, 2, 2) == (2, 2)
    one_thread = BYTES_PER_VALUE * values + WORK_BYTES_PER_VALUE * values
    assert plan_blocks(values, one_thread, 100, 4) == (1, 1)
    with pytest.raises(ConfigurationError, match="max_memory"):
        plan_blocks(values, one_thread - 1, 100, 1)
    ref, _ = _data(n=3000, k=4)
    with pytest.raises(ConfigurationError, match="max_memory"):
        Reference(ref, max_memory=1 << 16)


def test_progress_bar_draws_on_request_and_is_silent_otherwise() -> None:
    """The bar shows features, rows, elapsed time and ETA; not on a non-terminal stream."""
    clock = FakeClock()
    out = io.StringIO()
    bar = Progress("fit", 10, stream=out, enabled=True, clock=clock)
    bar.advance(0, 0)
    clock.advance(4.0)
    bar.advance(2, 500)
    bar.close()
    text = out.getvalue()
    assert "fit: features 0/10  rows read 0  elapsed 0.0 s  ETA nan s" in text
    assert text.endswith("\rfit: features 2/10  rows read 500  elapsed 4.0 s  ETA 16.0 s\n")
    quiet = io.StringIO()
    auto = Progress("fit", 3, stream=quiet)  # StringIO is not a terminal
    auto.advance(3, 9)
    auto.close()
    assert quiet.getvalue() == ""
    assert Progress("x", 1)._stream is sys.stderr  # the default stream


def test_progress_is_drawn_by_a_blocked_compare(capsys: pytest.CaptureFixture[str]) -> None:
    """progress=True draws only on a terminal: nothing reaches a captured stderr."""
    ref, cur = _data(k=4)
    Reference(ref, max_memory=TINY, progress=True).compare(cur, max_memory=TINY, progress=True)
    assert capsys.readouterr().err == ""


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    k=st.integers(1, 5),
    budget=st.sampled_from([1 << 16, 1 << 17, 1 << 30]),
    decimals=st.sampled_from([0, 1, 8]),
)
def test_blocked_report_does_not_depend_on_the_budget(
    seed: int, k: int, budget: int, decimals: int
) -> None:
    """Any budget and any tie pattern: the report equals the in-memory one."""
    rng = np.random.default_rng(seed)
    ref = np.round(rng.normal(size=(400, k)), decimals)
    cur = np.round(rng.normal(0.2, 1.0, size=(300, k)), decimals)
    expected = Reference(ref).compare(cur, methods=ALL)
    batches = np.array_split(cur, 3)
    got = Reference(ref, max_memory=budget).compare(iter(batches), methods=ALL, max_memory=budget)
    _assert_same(expected, got)


def test_cli_reads_files_in_blocks_with_max_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``aiguard drift --max-memory`` on Parquet and .npy prints the in-memory report."""
    from aiguard.cli import main

    ref, cur = _data(k=4)
    _write_parquet(tmp_path / "r.parquet", ref, rows=500)
    _write_parquet(tmp_path / "c.parquet", cur, rows=400)
    np.save(tmp_path / "r.npy", ref)
    np.save(tmp_path / "c.npy", cur)
    base = ["drift", str(tmp_path / "r.parquet"), str(tmp_path / "c.parquet"), "--format", "json"]
    assert main(base) == 1
    whole = capsys.readouterr().out
    assert main([*base, "--max-memory", "160kB", "--quiet"]) == 1
    assert capsys.readouterr().out == whole
    npy = ["drift", str(tmp_path / "r.npy"), str(tmp_path / "c.npy"), "--format", "json"]
    assert main([*npy, "--max-memory", "160kB"]) == 1
    assert capsys.readouterr().out == whole
    assert main([*base, "--max-memory", "lots"]) == 2
    assert "max_memory" in capsys.readouterr().err

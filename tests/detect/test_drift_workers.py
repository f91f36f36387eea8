"""Contract: ``workers=`` validates, resolves and splits work without changing results."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiguard import drift
from aiguard.detect._drift import _workers
from aiguard.detect._drift.binned import pad_edges
from aiguard.detect._drift.inputs import as_table
from aiguard.errors import ConfigurationError, InvalidInputError


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "2"])
def test_bad_workers_are_rejected_by_name(bad: object) -> None:
    """workers must be None or an int >= 1; the error names the argument and the value."""
    ref = drift.Reference(np.random.default_rng(0).normal(size=(50, 2)))
    with pytest.raises(ConfigurationError, match="workers") as info:
        ref.compare(np.zeros((5, 2)), workers=bad)  # type: ignore[arg-type]
    assert repr(bad) in str(info.value)
    with pytest.raises(ConfigurationError, match="workers"):
        drift.Reference(np.zeros((5, 2)), workers=bad)  # type: ignore[arg-type]


def test_default_workers_follow_size_cores_and_features(monkeypatch: pytest.MonkeyPatch) -> None:
    """None: one thread below 2^20 values, else one per core up to 8, never more than features."""
    monkeypatch.setattr(_workers.os, "cpu_count", lambda: 16)
    big = _workers.AUTO_MIN_VALUES
    assert _workers.resolve_workers(None, big - 1, 50) == 1
    assert _workers.resolve_workers(None, big, 50) == _workers.AUTO_MAX_WORKERS
    assert _workers.resolve_workers(None, big, 3) == 3
    assert _workers.resolve_workers(4, 10, 2) == 2  # explicit: capped by features only
    monkeypatch.setattr(_workers.os, "cpu_count", lambda: None)
    assert _workers.resolve_workers(None, big, 50) == 1


@settings(deadline=None)  # worker threads start per example: slow on a loaded machine
@given(k=st.integers(0, 40), workers=st.integers(1, 9))
def test_blocks_cover_every_index_once(k: int, workers: int) -> None:
    """run_blocks calls fn on contiguous blocks that partition range(k)."""
    seen: list[int] = []
    lock = threading.Lock()

    def fn(start: int, stop: int) -> None:
        with lock:
            seen.extend(range(start, stop))

    _workers.run_blocks(fn, k, workers)
    assert sorted(seen) == list(range(k))


def test_an_error_in_a_thread_is_raised_after_all_blocks_finish() -> None:
    """A failing block does not stop the others; its exception reaches the caller."""
    done: list[int] = []

    def fn(start: int, stop: int) -> None:
        if start > 0:
            raise KeyError(start)
        done.append(start)

    with pytest.raises(KeyError):
        _workers.run_blocks(fn, 10, 3)
    assert done == [0]


def test_as_table_checks_finiteness_by_default() -> None:
    """The default table read finds NaN columns and rejects inf with the feature's name."""
    data = np.array([[1.0, np.nan, 2.0], [3.0, 4.0, 5.0]])
    table = as_table(data, argument="current", feature_names=["a", "b", "c"])
    assert table.nan_columns is not None
    assert table.nan_columns.tolist() == [1]
    unchecked = as_table(data, argument="current", check_finite=False)
    assert unchecked.nan_columns is None
    data[0, 2] = np.inf
    with pytest.raises(InvalidInputError, match=r"current.*inf in \['c'\]"):
        as_table(data, argument="current", feature_names=["a", "b", "c"])


def test_binned_counts_split_over_threads_equal_one_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Blocks of chunks counted in threads give the same counts, NaN and inf findings."""
    from aiguard.detect._drift.binned import _counts

    monkeypatch.setattr(_counts, "_CHUNK_ELEMENTS", 64)  # many small chunks
    rng = np.random.default_rng(3)
    cur = rng.normal(size=(5_003, 3))
    cur[17, 0] = np.nan
    cur[4_000, 2] = np.nan
    cur[2_500, 1] = np.inf
    edges, _ = pad_edges([np.array([-1.0, 0.0, 1.5])] * 3)
    one = _counts.scan_bin_counts(cur, edges, workers=1)
    for workers in (2, 3, 7):
        many = _counts.scan_bin_counts(cur, edges, workers=workers)
        np.testing.assert_array_equal(many[0], one[0])
        assert many[1].tolist() == one[1].tolist() == [0, 1, 2]
    ref = drift.Reference(rng.normal(size=(3_000, 3)))
    cur[2_500, 1] = 0.0
    reports = [ref.compare(cur, methods=("psi", "kl"), workers=w).to_dict() for w in (1, 2)]
    assert reports[0] == reports[1]

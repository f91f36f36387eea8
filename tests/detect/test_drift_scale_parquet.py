"""Parquet numeric columns read from their Arrow buffers: floats, integers, booleans, nulls."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest

from aiguard.detect._drift.scale import open_source

if TYPE_CHECKING:
    from pathlib import Path

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def test_numeric_columns_of_every_arrow_type_read_as_float64(tmp_path: Path) -> None:
    """Doubles, ints, bools and nulls (in several row groups and chunks) read as numpy would."""
    table = pa.table(
        {
            "f": pa.array([0.5, None, -1.25, 3.0, None, 7.0], pa.float64()),
            "i": pa.array([1, 2, None, 4, 5, 6], pa.int32()),
            "b": pa.array([True, False, None, True, True, False]),
            "g": pa.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], pa.float32()),
        }
    )
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, row_group_size=4)
    source = open_source(path, "data", None)
    assert source is not None
    got = source.read(0, 4)
    source.close()
    expected = np.array(
        [
            [0.5, 1, 1, 1],
            [np.nan, 2, 0, 2],
            [-1.25, np.nan, np.nan, 3],
            [3.0, 4, 1, 4],
            [np.nan, 5, 1, 5],
            [7.0, 6, 0, 6],
        ]
    )
    np.testing.assert_array_equal(got, expected)


def test_sliced_chunks_are_read_from_their_offset() -> None:
    """A chunk that is a slice of a larger buffer is read from its own offset, nulls too."""
    from aiguard.detect._drift.scale._sources import _copy_numeric

    base = pa.array([9.0, 1.0, None, 3.0, 4.0, None, 6.0])
    column = pa.chunked_array([base.slice(1, 3), base.slice(4, 3)])
    out = np.empty(6)
    _copy_numeric(column, out)
    np.testing.assert_array_equal(out, [1.0, np.nan, 3.0, 4.0, np.nan, 6.0])

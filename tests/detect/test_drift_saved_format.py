"""Saved references stay readable: files written by an earlier aiguard load and compare alike.

``tests/detect/data/reference_v1_*.npz`` were written by ``Reference.save`` as it
was before the fitted state became a value object (commit 88fa255), from the
data that :func:`mixed_frame` and :func:`edges_data` rebuild here. Loading them
must give the reference a fresh fit of the same data gives today.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from aiguard import drift

if TYPE_CHECKING:
    from numpy.typing import NDArray

DATA = Path(__file__).parent / "data"
EDGES = [-1.0, 0.5, 7.0, 30.0]


def mixed_frame() -> pd.DataFrame:
    """The data of ``reference_v1_mixed.npz`` (fitted with ``bins=4``)."""
    rng = np.random.default_rng(7)
    n = 60
    age = rng.normal(40, 10, n).round(3)
    age[[3, 17]] = np.nan
    frame = pd.DataFrame(
        {
            "age": age,
            "city": pd.Series(rng.choice(["paris", "lyon", "nice"], n), dtype=object),
            "score": rng.exponential(1.0, n).round(4),
        }
    )
    frame.loc[5, "city"] = None
    return frame


def edges_data() -> NDArray[np.float64]:
    """The data of ``reference_v1_edges.npz`` (fitted with ``bins=EDGES``)."""
    return np.column_stack([np.arange(20.0), np.arange(20.0) % 3])


def _arrays(path: Path) -> dict[str, NDArray[np.generic]]:
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def test_v1_mixed_file_loads_as_a_fresh_fit() -> None:
    """The v1 file of numeric, missing and categorical columns equals a fresh fit of its data."""
    frame = mixed_frame()
    fresh = drift.Reference(frame, bins=4)
    loaded = drift.Reference.load(DATA / "reference_v1_mixed.npz")
    assert loaded.feature_names == ("age", "city", "score")
    assert loaded.kinds == fresh.kinds
    assert loaded.n_rows == 60
    assert loaded.summary == fresh.summary
    assert loaded.summary["age"]["missing"] == 2
    assert loaded.summary["city"]["missing"] == 1
    assert loaded.nbins.tolist() == fresh.nbins.tolist()
    assert loaded.categories("city") == ("lyon", "nice", "paris")
    np.testing.assert_array_equal(loaded.edges("age"), fresh.edges("age"))
    np.testing.assert_array_equal(
        loaded.edges("score"), np.quantile(frame["score"], [0.25, 0.5, 0.75])
    )
    cur = frame.assign(age=frame["age"] + 3.0)
    methods = ("ks", "cramervonmises", "wasserstein", "psi", "hellinger", "chi2")
    assert (
        loaded.compare(cur, methods=methods).to_dict()
        == fresh.compare(cur, methods=methods).to_dict()
    )
    old, new = loaded.accumulator(), fresh.accumulator()
    old.update(cur)
    new.update(cur)
    for method, values in old.statistics().items():
        np.testing.assert_array_equal(values, new.statistics()[method])


def test_v1_explicit_edges_file_loads_as_a_fresh_fit() -> None:
    """The v1 file of a numeric-only reference with explicit edges keeps those edges."""
    fresh = drift.Reference(edges_data(), bins=EDGES)
    loaded = drift.Reference.load(DATA / "reference_v1_edges.npz")
    assert loaded.edges("x0").tolist() == EDGES[1:-1]
    assert loaded.edges("x1").tolist() == EDGES[1:-1]
    assert loaded.summary == fresh.summary
    cur = edges_data()[::-1] * 1.5
    assert loaded.compare(cur, methods=("ks", "psi")).to_dict() == (
        fresh.compare(cur, methods=("ks", "psi")).to_dict()
    )


@pytest.mark.parametrize("name", ["reference_v1_mixed.npz", "reference_v1_edges.npz"])
def test_save_writes_the_v1_layout(name: str, tmp_path: Path) -> None:
    """Saving today writes the same arrays, dtypes, header keys and values as the v1 file."""
    old = _arrays(DATA / name)
    ref = (
        drift.Reference(mixed_frame(), bins=4)
        if "mixed" in name
        else drift.Reference(edges_data(), bins=EDGES)
    )
    ref.save(tmp_path / "now.npz")
    new = _arrays(tmp_path / "now.npz")
    assert sorted(new) == sorted(old)
    old_meta = json.loads(old.pop("meta").tobytes())
    new_meta = json.loads(new.pop("meta").tobytes())
    assert new_meta == old_meta
    assert old_meta["format"] == "aiguard.drift.Reference/1"
    for key, value in old.items():
        assert new[key].dtype == value.dtype, key
        np.testing.assert_array_equal(new[key], value, err_msg=key)

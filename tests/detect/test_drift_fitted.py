"""The fitted state of a Reference: one checked, read-only value object."""

from __future__ import annotations

import copy
import itertools
import pickle
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pandas as pd
import pytest

from aiguard import drift
from aiguard.detect._drift.reference import FittedReference
from aiguard.errors import ConfigurationError, InvalidInputError

DATA = Path(__file__).parent / "data"


def frame(n: int = 300, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    x[::17] = np.nan
    return pd.DataFrame(
        {
            "x": x,
            "colour": pd.Series(rng.choice(["red", "blue", "green"], n), dtype=object),
            "y": rng.integers(0, 5, n).astype(float),
        }
    )


def fields(fitted: FittedReference) -> dict[str, Any]:
    return {f.name: getattr(fitted, f.name) for f in attrs.fields(FittedReference) if f.init}


def test_fields_describe_the_data() -> None:
    """Sorted columns, bin counts, categories and missing counts equal numpy's own answers."""
    data = frame()
    fitted = drift.Reference(data, bins=4).fitted
    assert fitted.names == ("x", "colour", "y")
    assert fitted.numeric_index == (0, 2)
    assert fitted.categorical_index == (1,)
    assert fitted.kinds == ("numeric", "categorical", "numeric")
    assert fitted.numeric_names == ("x", "y")
    for i, name in enumerate(("x", "y")):
        col = data[name].to_numpy()
        present = np.sort(col[~np.isnan(col)])
        assert fitted.n_valid[i] == present.size
        np.testing.assert_array_equal(fitted.column(i), present)
        assert np.isnan(fitted.sorted_values[present.size :, i]).all()
        inner = fitted.inner_edges(i)
        bounds = np.concatenate(([-np.inf], inner, [np.inf]))
        want = [
            np.count_nonzero((present >= a) & (present < b)) for a, b in itertools.pairwise(bounds)
        ]
        assert fitted.counts[i, : inner.size + 1].tolist() == want
        assert fitted.std[i] == pytest.approx(np.std(present))
    assert fitted.edges.shape[1] == 2
    labels, counts = np.unique(data["colour"].to_numpy(dtype=str), return_counts=True)
    assert fitted.categories[0].tolist() == labels.tolist()
    assert fitted.category_counts[0].tolist() == counts.tolist()
    assert fitted.missing.tolist() == [int(np.isnan(data["x"]).sum()), 0, 0]
    assert fitted.feature_nbins.tolist() == drift.Reference(data, bins=4).nbins.tolist()
    assert fitted.sorted_samples.has_nan
    assert "numeric=2, categorical=1" in repr(fitted)


def test_arrays_are_read_only_and_the_callers_stay_writable() -> None:
    """Every array of the state is read-only; the constructor neither copies nor freezes input."""
    fitted = drift.Reference(frame()).fitted
    for name in ("sorted_values", "n_valid", "edges", "nbins", "counts", "missing"):
        with pytest.raises(ValueError, match="read-only"):
            getattr(fitted, name)[0] = 1
    with pytest.raises(ValueError, match="read-only"):
        fitted.category_counts[0][0] = 1
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fitted.n_rows = 3  # type: ignore[misc]
    mine = fields(fitted)
    mine["counts"] = np.array(fitted.counts)  # a writable copy
    again = FittedReference(**mine)
    assert not again.counts.flags.writeable
    assert mine["counts"].flags.writeable
    assert np.shares_memory(again.counts, mine["counts"])  # a read-only view, no copy


def _broken(name: str, value: Any) -> dict[str, Any]:
    out = fields(drift.Reference(frame(), bins=4).fitted)
    out[name] = value
    return out


@pytest.mark.parametrize(
    ("name", "value", "argument"),
    [
        ("names", ("x", "x", "y"), "names"),
        ("names", (), "names"),
        ("numeric_index", (2, 0), "numeric_index"),
        ("categorical_index", (1, 2), "categorical_index"),
        ("numeric_index", (0,), "categorical_index"),
        ("n_rows", 0, "n_rows"),
        ("missing", np.zeros(2), "missing"),
        ("summary", [{}], "summary"),
        ("sorted_values", np.zeros((300, 1)), "sorted_values"),
        ("n_valid", np.array([0, 300]), "n_valid"),
        ("n_valid", np.array([301, 300]), "n_valid"),
        ("edges", np.zeros(3), "edges"),
        ("nbins", np.array([4, 40]), "nbins"),
        ("nbins", np.array([0, 4]), "nbins"),
        ("counts", np.zeros((2, 2)), "counts"),
        ("categories", [], "categories"),
        ("categories", [np.array([], dtype=str)], "categories"),
        ("category_counts", [np.array([1, 2])], "category_counts"),
    ],
)
def test_constructor_rejects_fields_that_do_not_fit(name: str, value: Any, argument: str) -> None:
    """Each inconsistency raises InvalidInputError naming the field that does not fit."""
    with pytest.raises(InvalidInputError) as info:
        FittedReference(**_broken(name, value))
    assert info.value.argument == argument


def test_constructor_validates_the_bins_rule() -> None:
    """The bins field takes only what Reference(bins=...) takes; explicit edges become read-only."""
    with pytest.raises(ConfigurationError, match="bins"):
        FittedReference(**_broken("bins", "fd"))
    explicit = FittedReference(**_broken("bins", [0.0, 1.0, 2.0]))
    assert explicit.bins.tolist() == [0.0, 1.0, 2.0]  # type: ignore[union-attr]
    assert not explicit.bins.flags.writeable  # type: ignore[union-attr]


def test_saved_file_whose_arrays_do_not_fit_is_refused(tmp_path: Path) -> None:
    """A saved reference with a truncated counts array fails to load, naming path."""
    with np.load(DATA / "reference_v1_mixed.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["counts"] = arrays["counts"][:, :-1]
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(InvalidInputError, match="path") as info:
        drift.Reference.load(tmp_path / "bad.npz")
    assert isinstance(info.value.__cause__, InvalidInputError)
    assert info.value.__cause__.argument == "counts"


def test_copies_and_pickles_compare_alike_and_stay_read_only() -> None:
    """deepcopy and pickle go through the checked constructor and compare like the original."""
    ref = drift.Reference(frame(), bins=4)
    cur = frame(200, seed=9)
    for twin in (copy.deepcopy(ref), pickle.loads(pickle.dumps(ref))):
        assert twin.fitted is not ref.fitted
        assert not twin.fitted.sorted_values.flags.writeable
        assert twin.fitted.sorted_values.flags.f_contiguous
        methods = ("ks", "psi", "chi2")
        assert twin.compare(cur, methods=methods).to_dict() == (
            ref.compare(cur, methods=methods).to_dict()
        )


def test_summary_is_a_deep_copy() -> None:
    """Changing the returned summary, nested quantiles included, does not change the reference."""
    ref = drift.Reference(frame())
    summary = ref.summary
    summary["x"]["quantiles"]["50%"] = 1e9
    summary["x"]["mean"] = 1e9
    assert ref.summary["x"]["quantiles"]["50%"] != 1e9
    assert ref.summary["x"]["mean"] != 1e9


def test_same_bins() -> None:
    """Two fits of the same data have the same bins; other edges, names or categories do not."""
    data = frame()
    one, two = drift.Reference(data).fitted, drift.Reference(data).fitted
    assert one.same_bins(two)
    assert not one.same_bins(drift.Reference(data, bins=4).fitted)
    assert not one.same_bins(drift.Reference(data.rename(columns={"y": "z"})).fitted)
    other = data.assign(colour=data["colour"].replace("red", "pink"))
    assert not one.same_bins(drift.Reference(other).fitted)


def test_reference_views_read_the_state() -> None:
    """Reference's views and table() answer from its fitted state."""
    data = frame()
    ref = drift.Reference(data)
    assert ref.n_features == ref.fitted.n_features == 3
    table = ref.table(data[["y", "colour", "x"]])  # matched by name, put in the reference's order
    assert table.names == ("x", "colour", "y")
    np.testing.assert_array_equal(table.numeric[:, 1], data["y"].to_numpy())
    with pytest.raises(InvalidInputError, match="batch"):
        ref.table(data[["x", "y"]], argument="batch")

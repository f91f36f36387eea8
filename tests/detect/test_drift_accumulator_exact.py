"""The accumulator's mergeable state: every statistic exact, merge associative and commutative."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from aiguard.detect._drift.reference._rank_state import ks_from_slots, slot_counts
from aiguard.drift import Reference
from aiguard.errors import ConfigurationError, InvalidInputError

RANK = ("ks", "cramervonmises", "anderson", "wasserstein", "energy")
ALL = (*RANK, "psi", "jensenshannon", "kl", "hellinger", "chi2")


def _frame(rng: np.random.Generator, n: int, shift: float, decimals: int) -> dict[str, Any]:
    x = np.round(rng.normal(shift, 1.0, size=n), decimals)
    y = rng.normal(size=n)
    y[rng.random(n) < 0.1] = np.nan
    city = rng.choice(["a", "b", "c", "d"], n).astype(object)
    return {"x": x, "y": y, "city": city}


def _rows(data: dict[str, Any], cut: list[int]) -> list[dict[str, Any]]:
    return [{k: v[a:b] for k, v in data.items()} for a, b in itertools.pairwise(cut)]


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    decimals=st.sampled_from([0, 1, 6]),
    cuts=st.lists(st.integers(1, 299), max_size=4),
)
def test_state_from_any_batches_gives_the_compare_of_their_concatenation(
    seed: int, decimals: int, cuts: list[int]
) -> None:
    """Batches cut anywhere, with ties, NaN and unseen categories: the report equals compare."""
    rng = np.random.default_rng(seed)
    ref_data = _frame(rng, 400, 0.0, decimals)
    ref_data["city"] = np.where(ref_data["city"] == "d", "a", ref_data["city"])  # "d" is unseen
    cur = _frame(rng, 300, 0.3, decimals)
    reference = Reference(ref_data)
    acc = reference.accumulator(methods=ALL)
    for batch in _rows(cur, [0, *sorted(set(cuts)), 300]):
        acc.update(batch)
    assert acc.compare() == reference.compare(cur, methods=ALL)


@settings(max_examples=30, deadline=None)
# 5 rows each at least: with too few non-missing values a statistic is NaN, and NaN != NaN
@given(seed=st.integers(0, 2**32 - 1), sizes=st.tuples(*[st.integers(5, 80)] * 3))
def test_merge_is_associative_and_commutative(seed: int, sizes: tuple[int, int, int]) -> None:
    """(a + b) + c, a + (b + c) and (c + a) + b hold the same state and give the same report."""
    rng = np.random.default_rng(seed)
    reference = Reference(_frame(rng, 300, 0.0, 1))
    parts = []
    for n in sizes:
        acc = reference.accumulator(methods=ALL)
        acc.update(_frame(rng, n, 0.2, 1))
        parts.append(acc)
    a, b, c = parts
    left, right, turned = (a + b) + c, a + (b + c), (c + a) + b
    for other in (right, turned):
        assert other.n_rows == left.n_rows
        for (la, ra, ca), (lb, rb, cb) in zip(left.histograms(), other.histograms(), strict=True):
            assert la == lb
            assert np.array_equal(ra, rb)
            assert np.array_equal(ca, cb)
        assert other.compare() == left.compare()


def _slots_by_loop(distinct: np.ndarray, values: np.ndarray) -> list[int]:
    out = [0] * (2 * distinct.size + 1)
    for v in values.tolist():
        t = sum(1 for d in distinct.tolist() if d < v)
        out[2 * t + (1 if t < distinct.size and distinct[t] == v else 0)] += 1
    return out


@settings(max_examples=50, deadline=None)
@given(
    ref=st.lists(st.integers(-5, 5), min_size=1, max_size=30),
    cur=st.lists(st.integers(-6, 6), min_size=1, max_size=30),
)
def test_slot_counts_give_scipys_ks(ref: list[int], cur: list[int]) -> None:
    """Slot counts match a loop over the values, and their KS equals scipy.stats.ks_2samp."""
    a, b = np.array(ref, dtype=float), np.array(cur, dtype=float)
    distinct, multiplicity = np.unique(a, return_counts=True)
    slots = slot_counts(distinct, b)
    assert slots.tolist() == _slots_by_loop(distinct, b)
    ref_slots = np.zeros_like(slots)
    ref_slots[1::2] = multiplicity
    plus, minus = ks_from_slots(ref_slots, slots)
    expected = scipy.stats.ks_2samp(a, b)
    assert max(plus, minus) == pytest.approx(expected.statistic, rel=1e-12, abs=1e-15)
    assert plus == pytest.approx(scipy.stats.ks_2samp(a, b, alternative="greater").statistic)


def test_bytes_round_trip_and_bad_bytes() -> None:
    """to_bytes / accumulator_from_bytes keep the state; other bytes or references raise."""
    rng = np.random.default_rng(5)
    reference = Reference(_frame(rng, 300, 0.0, 1))
    acc = reference.accumulator(methods=ALL)
    acc.update(_frame(rng, 120, 0.5, 1))
    acc.update({"x": np.array([1.0]), "y": np.array([2.0]), "city": np.array(["zz"], dtype=object)})
    back = reference.accumulator_from_bytes(acc.to_bytes())
    assert back.methods == ALL
    assert back.compare() == acc.compare()
    merged = back + acc
    assert merged.n_rows == 2 * acc.n_rows
    with pytest.raises(InvalidInputError, match="data"):
        reference.accumulator_from_bytes(b"nonsense")
    other = Reference({"x": np.arange(10.0)})
    with pytest.raises(InvalidInputError, match="data"):
        other.accumulator_from_bytes(other.accumulator().to_bytes()[:-1])
    with pytest.raises(InvalidInputError, match="data"):
        other.accumulator_from_bytes(acc.to_bytes())
    wider = Reference({"x": np.arange(10.0), "y": np.arange(10.0), "city": ["a"] * 10}, bins=3)
    with pytest.raises(InvalidInputError, match="bins"):
        wider.accumulator_from_bytes(acc.to_bytes())


def test_methods_are_checked() -> None:
    """Unknown methods, methods whose state was not kept and mixed merges raise."""
    rng = np.random.default_rng(6)
    reference = Reference(_frame(rng, 200, 0.0, 1))
    with pytest.raises(ConfigurationError, match="methods"):
        reference.accumulator(methods=("nope",))
    with pytest.raises(ConfigurationError, match="methods"):
        reference.accumulator(methods=())
    binned = reference.accumulator()
    assert binned.methods == ("psi",)
    with pytest.raises(ConfigurationError, match="methods"):
        binned.compare(methods=("ks",))
    assert binned.compare(methods="chi2").methods == ("chi2",)
    ks_only = reference.accumulator(methods=("ks",))
    batch = _frame(rng, 100, 0.0, 1)
    ks_only.update(batch)
    assert ks_only.compare() == reference.compare(batch, methods=("ks",))
    with pytest.raises(ConfigurationError, match="other"):
        binned + ks_only  # the merge raises


def test_empty_state_gives_nan_rank_statistics() -> None:
    """Before any batch, KS and Wasserstein are NaN and nothing drifts."""
    rng = np.random.default_rng(7)
    reference = Reference({"x": rng.normal(size=100)})
    report = reference.accumulator(methods=("ks", "wasserstein")).compare()
    assert not report.drifted
    assert all(np.isnan(r.statistic) for f in report.features for r in f.results)

"""Per-row fallback: only the bad rows of a batch are recomputed and merged back in order."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from aiguard import checks, fallback
from aiguard.contain._ladder import Ladder
from aiguard.errors import FallbackFailedError, InvalidInputError

pytestmark = pytest.mark.filterwarnings("error")
NAN = float("nan")


class Recorder:
    """A handler that remembers the rows it was given and answers with a rule."""

    def __init__(self, rule: Any) -> None:
        self.seen: list[Any] = []
        self.rule = rule
        self.__name__ = "recorder"

    def __call__(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        self.seen.append(np.array(x, copy=True))
        return self.rule(x)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 12),
    bad=st.data(),
    out_dtype=st.sampled_from([np.float64, np.float32]),
)
def test_only_nan_rows_are_recomputed(n: int, bad: st.DataObject, out_dtype: type) -> None:
    """The handler sees exactly the NaN rows, in order; the rest keep the model's values."""
    bad_rows = bad.draw(hnp.arrays(np.bool_, n))
    x = np.arange(n * 3, dtype=np.float64).reshape(n, 3)
    model_out = (x.sum(axis=1) / 100).astype(out_dtype)
    model_out[bad_rows] = NAN
    handler = Recorder(lambda rows: rows[:, 0] * -1.0)

    @fallback(handler, check=checks.finite(), rows=True)
    def predict(batch: np.ndarray) -> np.ndarray:
        return model_out

    merged = predict(x)
    expected = model_out.copy()
    expected[bad_rows] = (-x[bad_rows, 0]).astype(out_dtype)
    if bad_rows.any():
        assert len(handler.seen) == 1
        assert np.array_equal(handler.seen[0], x[np.flatnonzero(bad_rows)])
    else:
        assert handler.seen == []
    assert merged.dtype == out_dtype
    assert np.array_equal(merged, expected)
    assert np.isnan(model_out).sum() == bad_rows.sum()  # the model's own array is untouched


def test_ladder_gets_only_the_rows_still_bad() -> None:
    """Tier 1 receives only the rows tier 0 could not fix, in order."""
    x = np.arange(6.0).reshape(6, 1)
    model_out = np.array([0.1, NAN, NAN, 0.4, NAN, NAN])
    previous = Recorder(lambda rows: np.where(rows[:, 0] % 2 == 0, 0.9, NAN))
    constant = Recorder(lambda rows: np.full(len(rows), 0.5))

    def offline(rows: np.ndarray) -> np.ndarray:
        raise ConnectionError

    ladder = Ladder([offline, previous, constant], check=checks.finite())
    merged, tier, replaced = ladder.serve_rows(model_out, np.isfinite(model_out), (x,), {})
    assert np.array_equal(previous.seen[0], x[[1, 2, 4, 5]])
    assert np.array_equal(constant.seen[0], x[[1, 5]])
    assert merged.tolist() == [0.1, 0.5, 0.9, 0.4, 0.9, 0.5]
    assert (tier, replaced) == ("fallback[2]", 4)


def test_rows_left_bad_after_every_tier_raise() -> None:
    """When some rows stay bad, FallbackFailedError lists each tier's failure."""
    x = np.zeros((3, 1))
    ladder = Ladder([lambda r: np.full(len(r), NAN), lambda r: np.array([1.0, NAN])[: len(r)]],
                    check=checks.finite())  # fmt: skip
    with pytest.raises(FallbackFailedError) as info:
        ladder.serve_rows(np.array([NAN, 1.0, NAN]), np.array([False, True, False]), (x,), {})
    first, second = info.value.errors
    assert "2 of 2 rows failing" in str(first)
    assert "1 of 2 rows failing" in str(second)


def test_model_error_sends_the_whole_batch() -> None:
    """If the model raised, the handler gets the original batch object."""
    x = [[1.0], [2.0]]
    handler = Recorder(lambda rows: [0.5, 0.6])
    seen: list[Any] = []

    def spy(rows: Any) -> Any:
        seen.append(rows)
        return handler(rows)

    @fallback(spy, check=checks.finite(), rows=True)
    def predict(batch: Any) -> np.ndarray:
        raise RuntimeError

    assert predict(x).tolist() == [0.5, 0.6]
    assert seen[0] is x


def test_model_error_with_a_partly_bad_first_tier() -> None:
    """With no model output, tier 0's good rows stay and tier 1 fills the rest."""
    ladder = Ladder([lambda r: np.array([1, -1, 3]), lambda r: np.zeros(len(r), int)],
                    check=checks.in_range(0, None))  # fmt: skip
    merged, tier, replaced = ladder.serve_rows(None, None, (np.zeros((3, 2)),), {})
    assert merged.tolist() == [1, 0, 3]
    assert merged.dtype.kind == "i"
    assert (tier, replaced) == ("fallback[1]", 3)


def test_whole_result_failures_send_the_whole_batch() -> None:
    """A wrong shape fails every row: the tier's output replaces the model's entirely."""
    x = np.zeros((2, 3))

    @fallback(lambda rows: np.ones((len(rows), 2)), check=checks.shape((None, 2)), rows=True)
    def predict(batch: np.ndarray) -> np.ndarray:
        return np.zeros((2, 5))

    assert predict(x).shape == (2, 2)


def test_scalar_output_or_no_batch_serves_the_whole_call() -> None:
    """A scalar result, or a call without positional batch, falls back as a whole."""

    @fallback(lambda *a, **k: 0.5, check=checks.finite(), rows=True)
    def predict(x: Any = None, *, batch: Any = None) -> Any:
        return NAN if batch is None else np.array([NAN, 1.0])

    assert predict(3.0) == 0.5
    assert predict(batch=np.zeros(2)) == 0.5


def test_model_error_without_batch_serves_the_whole_call() -> None:
    """rows=True with a scalar argument and a raising model uses serve()."""

    @fallback(lambda x: 0.5, check=checks.finite(), rows=True)
    def predict(x: float) -> float:
        raise RuntimeError

    assert predict(1.0) == 0.5


def test_a_single_value_fills_every_bad_row() -> None:
    """A tier returning a scalar fills all the rows it was given."""
    out = np.array([[1.0, 2.0], [NAN, 0.0], [3.0, 4.0]])

    @fallback(lambda rows: 0.0, check=checks.finite(), rows=True)
    def predict(batch: np.ndarray) -> np.ndarray:
        return out

    assert predict(np.zeros((3, 1))).tolist() == [[1.0, 2.0], [0.0, 0.0], [3.0, 4.0]]
    ladder = Ladder([lambda rows: 7], check=None)
    merged, _, _ = ladder.serve_rows(None, None, (np.zeros((2, 1)),), {})
    assert merged.tolist() == [7, 7]


def test_scalar_tier_output_failing_the_check_moves_on() -> None:
    """A scalar answer that fails the check fails all its rows."""
    ladder = Ladder([lambda rows: NAN, lambda rows: 1.0], check=checks.finite())
    merged, tier, _ = ladder.serve_rows(np.array([NAN, 2.0]), np.array([False, True]),
                                        (np.zeros(2),), {})  # fmt: skip
    assert merged.tolist() == [1.0, 2.0]
    assert tier == "fallback[1]"


def test_wrong_row_counts_and_unfit_rows_move_on() -> None:
    """Too many rows, or rows that do not fit the model's output, fail the tier."""
    out = np.array([NAN, 1.0, NAN])
    ladder = Ladder(
        [lambda r: np.zeros(5), lambda r: np.zeros((len(r), 3)), lambda r: np.ones(len(r))],
        check=None,
    )
    merged, tier, replaced = ladder.serve_rows(out, np.isfinite(out), (np.zeros(3),), {})
    assert (merged.tolist(), tier, replaced) == ([1.0, 1.0, 1.0], "fallback[2]", 2)
    ints = Ladder([lambda r: np.zeros(5), lambda r: np.array([NAN, 2.0])], check=None)
    with pytest.raises(FallbackFailedError) as info:
        ints.serve_rows(np.array([0, 1, 0]), np.array([False, True, False]), (np.zeros(3),), {})
    assert [type(e) for e in info.value.errors] == [InvalidInputError, InvalidInputError]
    assert "castable to int64" in str(info.value)


def test_no_bad_rows_returns_the_model_output() -> None:
    """An all-True mask (or True) replaces nothing and calls no tier."""
    out = np.array([1.0, 2.0])
    ladder = Ladder([lambda r: pytest.fail("called")], check=None)
    assert ladder.serve_rows(out, np.array([True, True]), (np.zeros(2),), {}) == (out, "model", 0)
    assert ladder.serve_rows(out, True, (np.zeros(2),), {})[2] == 0


def test_serve_rows_validates_its_inputs() -> None:
    """No batch, a wrong-shaped mask or a result of another length are refused."""
    ladder = Ladder([lambda r: r], check=None)
    with pytest.raises(InvalidInputError):
        ladder.serve_rows(np.zeros(2), np.array([True, False]), (), {})
    with pytest.raises(InvalidInputError):
        ladder.serve_rows(np.zeros(2), np.array([True]), (np.zeros(2),), {})
    with pytest.raises(InvalidInputError):
        ladder.serve_rows(np.zeros(3), np.array([True, False]), (np.zeros(2),), {})
    with pytest.raises(InvalidInputError):
        ladder.serve_rows(1.0, np.array([True, False]), (np.zeros(2),), {})


def test_other_arguments_pass_through() -> None:
    """args[1:] and kwargs reach each tier unchanged; only the batch is sliced."""
    seen: list[Any] = []

    def handler(rows: np.ndarray, scale: float, *, offset: float) -> np.ndarray:
        seen.append((rows.copy(), scale, offset))
        return rows[:, 0] * scale + offset

    @fallback(handler, check=checks.finite(), rows=True)
    def predict(batch: np.ndarray, scale: float, *, offset: float) -> np.ndarray:
        out = batch[:, 0] * scale + offset
        out[0] = NAN
        return out

    x = np.array([[1.0], [2.0]])
    assert predict(x, 2.0, offset=1.0).tolist() == [3.0, 5.0]
    assert seen[0][1:] == (2.0, 1.0)
    assert seen[0][0].tolist() == [[1.0]]


def test_pandas_batches_are_sliced_by_position() -> None:
    """A DataFrame batch reaches the handler as .iloc rows, index preserved."""
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0]}, index=[10, 20, 30])
    seen: list[pd.DataFrame] = []

    def handler(rows: pd.DataFrame) -> np.ndarray:
        seen.append(rows)
        return rows["a"].to_numpy() * 10

    @fallback(handler, check=checks.finite(), rows=True)
    def predict(batch: pd.DataFrame) -> np.ndarray:
        return np.array([0.1, NAN, 0.3])

    assert predict(frame).tolist() == [0.1, 20.0, 0.3]
    assert list(seen[0].index) == [20]


def test_list_batches_are_sliced_as_arrays() -> None:
    """A list batch is converted once and sliced."""
    handler = Recorder(lambda rows: rows[:, 0])

    @fallback(handler, check=checks.in_range(0, None), rows=True)
    def predict(batch: list[list[float]]) -> list[float]:
        return [-1.0, 2.0, -3.0]

    assert predict([[5.0], [6.0], [7.0]]).tolist() == [5.0, 2.0, 7.0]
    assert handler.seen[0].tolist() == [[5.0], [7.0]]


def test_tier_check_sees_only_its_rows() -> None:
    """Each tier's rows are judged on their own (a custom check sees k rows)."""
    sizes: list[int] = []

    def sized(r: np.ndarray) -> np.ndarray:
        sizes.append(len(r))
        return np.isfinite(r)

    @fallback(lambda rows: np.zeros(len(rows)), check=sized, rows=True)
    def predict(batch: np.ndarray) -> np.ndarray:
        return np.array([NAN, 1.0, 2.0, NAN])

    assert predict(np.zeros(4)).tolist() == [0.0, 1.0, 2.0, 0.0]
    assert sizes == [4, 2]


def test_output_of_another_length_than_the_batch_serves_the_whole_batch() -> None:
    """If the model returns a different number of rows, the handler redoes every row."""

    @fallback(lambda rows: np.zeros(len(rows)), check=checks.finite(), rows=True)
    def predict(batch: np.ndarray) -> np.ndarray:
        return np.array([NAN, 1.0, 2.0])

    assert predict(np.ones((2, 1))).tolist() == [0.0, 0.0]

"""Every check against an independent per-row Python reference, on generated results."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from aiguard import checks

SETTINGS = settings(max_examples=80, deadline=None)
pytestmark = pytest.mark.filterwarnings("error")

# Values exactly representable in float16/32/64 so bounds compare identically in every dtype.
BOUNDS = st.one_of(st.none(), st.integers(-8, 8).map(lambda i: i / 2))


@st.composite
def results(draw: st.DrawFn, *, min_dims: int = 0) -> Any:
    """Arrays (float or int, 0-3 dims, NaN/inf allowed, 0 rows allowed), lists and scalars."""
    dtype = draw(st.sampled_from([np.float64, np.float32, np.float16, np.int64, np.bool_]))
    if dtype is np.int64:
        elements = st.integers(-10, 10)
    elif dtype is np.bool_:
        elements = st.booleans()
    else:
        width = {np.float64: 64, np.float32: 32, np.float16: 16}[dtype]
        elements = st.one_of(
            st.floats(-3, 3, width=width),
            st.sampled_from([0.0, 0.5, 1.0, float("nan"), float("inf"), float("-inf")]),
        )
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=3, min_side=0, max_side=5))
    arr = draw(hnp.arrays(dtype, shape, elements=elements))
    form = draw(st.sampled_from(["array", "array", "list", "scalar"]))
    if form == "list" and arr.ndim:
        return arr.tolist()
    if form == "scalar" and arr.ndim == 0:
        return arr.item()
    return arr


def rows_of(result: Any) -> list[Any] | None:
    """The rows of a result as Python lists of Python numbers (None for a scalar)."""
    arr = np.asarray(result)
    return None if arr.ndim == 0 else [np.asarray(r).ravel().tolist() for r in arr]


def scalar_of(result: Any) -> Any:
    return np.asarray(result).item()


def per_row(result: Any, element_ok: Any) -> bool | list[bool]:
    rows = rows_of(result)
    if rows is None:
        return bool(element_ok(scalar_of(result)))
    return [all(element_ok(v) for v in row) for row in rows]


def as_plain(verdict: Any) -> bool | list[bool]:
    if isinstance(verdict, np.ndarray):
        assert verdict.dtype == np.bool_
        assert verdict.ndim == 1
        return [bool(v) for v in verdict]
    assert type(verdict) is bool
    return verdict


def isfinite(v: Any) -> bool:
    return math.isfinite(v)


@SETTINGS
@given(results())
def test_finite_matches_reference(result: Any) -> None:
    """finite() agrees with a per-element math.isfinite loop."""
    assert as_plain(checks.finite()(result)) == per_row(result, isfinite)


@SETTINGS
@given(results(), BOUNDS, BOUNDS)
def test_in_range_matches_reference(result: Any, lo: float | None, hi: float | None) -> None:
    """in_range() agrees with an inclusive, NaN-rejecting comparison loop."""
    assume(lo is None or hi is None or lo <= hi)

    def inside(v: Any) -> bool:
        return not math.isnan(v) and (lo is None or v >= lo) and (hi is None or v <= hi)

    assert as_plain(checks.in_range(lo, hi)(result)) == per_row(result, inside)


@SETTINGS
@given(results(), BOUNDS, BOUNDS)
def test_combinations_match_elementwise_logic(
    result: Any, lo: float | None, hi: float | None
) -> None:
    """a & b and a | b equal the row-wise and/or of the separate verdicts."""
    assume(lo is None or hi is None or lo <= hi)
    a, b, c = checks.finite(), checks.in_range(lo, hi), checks.shape((None, 2))
    va, vb, vc = (np.asarray(k(result)) for k in (a, b, c))
    assert np.array_equal(np.asarray((a & b)(result)), va & vb)
    assert np.array_equal(np.asarray((a | b)(result)), va | vb)
    assert np.array_equal(np.asarray(((a | c) & b)(result)), (va | vc) & vb)
    assert np.array_equal(np.asarray((c | a & b)(result)), vc | (va & vb))


@st.composite
def distributions(draw: st.DrawFn) -> np.ndarray:
    """Batches of rows, most normalised to sum to 1, some perturbed, some with NaN/inf."""
    n = draw(st.integers(0, 6))
    k = draw(st.integers(1, 5))
    raw = draw(hnp.arrays(np.float64, (n, k), elements=st.floats(0, 10)))
    sums = raw.sum(axis=1, keepdims=True)
    rows = np.where(sums > 0, raw / np.where(sums > 0, sums, 1), 1.0 / k)
    noise = draw(
        hnp.arrays(
            np.float64,
            (n, k),
            elements=st.sampled_from([0.0, 0.0, 0.0, 1e-3, -1e-3, 0.5, float("nan"), float("inf")]),
        )
    )
    return rows + noise


def prob_row_ok(row: list[float], atol: float) -> bool:
    if any(math.isnan(v) or not 0 <= v <= 1 for v in row):
        return False
    return abs(math.fsum(row) - 1) <= atol


def clear_of_boundary(rows: list[list[float]], atol: float) -> bool:
    """Skip rows whose sum is within rounding of the tolerance edge."""
    sums = [math.fsum(r) for r in rows if all(math.isfinite(v) for v in r)]
    return all(abs(abs(s - 1) - atol) > 1e-12 for s in sums)


@SETTINGS
@given(distributions(), st.sampled_from([1e-6, 1e-2]), st.booleans())
def test_probabilities_per_row_matches_reference(x: np.ndarray, atol: float, f32: bool) -> None:
    """probabilities() over the last axis agrees with an exact fsum loop."""
    if f32:
        x = x.astype(np.float32)  # judged on the float32 values, summed exactly enough
    rows = [[float(v) for v in r] for r in x]
    assume(clear_of_boundary(rows, atol))
    expected = [prob_row_ok(r, atol) for r in rows]
    assert as_plain(checks.probabilities(atol=atol)(x)) == expected
    assert as_plain(checks.probabilities(axis=1, atol=atol)(x)) == expected


@SETTINGS
@given(distributions())
def test_probabilities_along_axis_zero_matches_reference(x: np.ndarray) -> None:
    """With axis=0 the columns are the distributions; a bad column fails every row."""
    cols = [[float(v) for v in c] for c in x.T]
    assume(clear_of_boundary(cols, 1e-6))
    col_ok = all(prob_row_ok(c, 1e-6) for c in cols)
    in_unit = [all(not math.isnan(v) and 0 <= v <= 1 for v in r) for r in x.tolist()]
    expected = [ok and col_ok for ok in in_unit]
    assert as_plain(checks.probabilities(axis=0)(x)) == expected


@SETTINGS
@given(distributions())
def test_probabilities_of_3d_batches(x: np.ndarray) -> None:
    """A row holding several distributions passes only if all of them do."""
    stacked = np.stack([x, x[::-1]], axis=1)  # (n, 2, k)
    rows = [[float(v) for v in r] for r in x]
    assume(clear_of_boundary(rows, 1e-6))
    ok = [prob_row_ok(r, 1e-6) for r in rows]
    expected = [a and b for a, b in zip(ok, ok[::-1], strict=True)]
    assert as_plain(checks.probabilities()(stacked)) == expected


SHAPES = st.lists(st.one_of(st.none(), st.integers(0, 3)), max_size=3).map(tuple)


@SETTINGS
@given(results(), SHAPES)
def test_shape_matches_reference(result: Any, expected: tuple[int | None, ...]) -> None:
    """shape() passes every row exactly when each axis matches or is a wildcard."""
    got = np.shape(result)
    fits = len(got) == len(expected) and all(
        e in (None, g) for e, g in zip(expected, got, strict=False)
    )
    verdict = as_plain(checks.shape(expected)(result))
    assert verdict == (fits if not got else [fits] * got[0])


@SETTINGS
@given(results(), st.sampled_from(["f", "iu", "b", "fc"]))
def test_dtype_kind_matches_reference(result: Any, kind: str) -> None:
    """dtype(kind=...) agrees with numpy's abstract type hierarchy."""
    families = {
        "f": np.floating,
        "i": np.signedinteger,
        "u": np.unsignedinteger,
        "b": np.bool_,
        "c": np.complexfloating,
    }
    arr_dtype = np.asarray(result).dtype
    fits = any(np.issubdtype(arr_dtype, families[letter]) for letter in kind)
    got = np.shape(result)
    assert as_plain(checks.dtype(kind=kind)(result)) == (fits if not got else [fits] * got[0])


@SETTINGS
@given(results(min_dims=1), st.sampled_from([0.0, 1e-9, 0.5]), st.integers(2, 4), st.data())
def test_not_constant_matches_reference(
    result: Any, atol: float, min_rows: int, data: st.DataObject
) -> None:
    """not_constant() fails every row exactly when all rows lie within atol of each other."""
    arr = np.asarray(result)
    if data.draw(st.booleans()) and arr.shape[0]:
        arr = np.repeat(arr[:1], arr.shape[0], axis=0)  # force a collapsed batch
    rows = [np.asarray(r).ravel().tolist() for r in arr]
    collapsed = len(rows) >= min_rows
    if collapsed:
        for column in zip(*rows, strict=True):
            values = [float(v) for v in column]
            if arr.dtype == np.bool_:
                spread_ok = len(set(values)) == 1
            else:
                spread_ok = (
                    not any(math.isnan(v) for v in values) and max(values) - min(values) <= atol
                )
            if not spread_ok:
                collapsed = False
                break
    assert as_plain(checks.not_constant(atol=atol, min_rows=min_rows)(arr)) == [
        not collapsed
    ] * len(rows)


@SETTINGS
@given(results(min_dims=1))
def test_custom_reduces_masks_per_row(result: Any) -> None:
    """custom(fn) with an element-wise mask agrees with the per-row reference."""
    check = checks.custom(lambda r: np.asarray(r) > 0)
    assert as_plain(check(result)) == per_row(result, lambda v: v > 0)


@SETTINGS
@given(
    x=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 10)),
    bounds=st.lists(st.tuples(BOUNDS, BOUNDS), min_size=1, max_size=3),
    with_finite=st.booleans(),
)
def test_combined_range_checks_on_one_python_number(
    x: float, bounds: list[tuple[float | None, float | None]], with_finite: bool
) -> None:
    """The scalar fast path of finite() & in_range(...) & ... agrees with a plain reference."""
    bounds = [(lo, hi) for lo, hi in bounds if lo is None or hi is None or lo <= hi]
    assume(bounds)
    parts = [checks.in_range(lo, hi) for lo, hi in bounds]
    combined = checks.finite() if with_finite else parts.pop()
    for part in parts:
        combined = combined & part
    expected = all(
        (lo is None or lo <= x) and (hi is None or x <= hi) and not math.isnan(x)
        for lo, hi in bounds
    ) and (not with_finite or math.isfinite(x))
    assert combined(x) is expected

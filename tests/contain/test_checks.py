"""Output checks: verdicts, reprs, combinations, bad configuration, unjudgeable results."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from aiguard import checks
from aiguard.errors import ConfigurationError

NAN, INF = float("nan"), float("inf")


def is_mask(value: object, expected: list[bool]) -> bool:
    return (
        isinstance(value, np.ndarray)
        and value.dtype == np.bool_
        and value.shape == (len(expected),)
        and value.tolist() == expected
    )


# -- verdict types ---------------------------------------------------------------


def test_scalar_results_give_a_python_bool() -> None:
    """A Python float, a numpy scalar and a 0-d array all get a plain bool."""
    for value in (0.5, np.float32(0.5), np.array(0.5), 1):
        assert checks.in_range(0, 1)(value) is True
        assert checks.finite()(value) is True
    assert checks.in_range(0, 1)(1.5) is False
    assert checks.finite()(NAN) is False


def test_python_numbers_take_the_scalar_path_with_the_same_verdicts() -> None:
    """Python floats and ints are judged without an array, exactly like 0-d arrays."""
    both = checks.finite() & checks.in_range(None, 1)
    for value in (0.5, 2, -INF, INF, NAN, 1, 1.0000001):
        expected = bool(both(np.array(value)))
        assert both(value) is expected
        assert (checks.finite() & checks.in_range(0, 1))(value) is bool(
            np.isfinite(value) and 0 <= value <= 1
        )
    assert both(-INF) is False
    assert both(-5) is True


def test_batches_give_one_entry_per_row() -> None:
    """A 2-D row passes only if all its elements pass."""
    x = np.array([[0.1, 0.2], [0.3, NAN], [INF, 0.0]])
    assert is_mask(checks.finite()(x), [True, False, False])


def test_healthy_batch_still_gets_a_full_mask() -> None:
    """The public call expands the fast all-rows verdict to a mask."""
    x = np.full((4, 3), 0.5)
    assert is_mask((checks.finite() & checks.in_range(0, 1))(x), [True] * 4)


def test_lists_and_tuples_are_batches() -> None:
    """Lists and tuples are converted once and judged per row."""
    assert is_mask(checks.in_range(0, 1)([0.5, 2.0, -1.0]), [True, False, False])
    assert is_mask(checks.finite()(((1.0, 2.0), (NAN, 1.0))), [True, False])


def test_zero_rows() -> None:
    """An empty batch gets an empty mask."""
    for result in (np.empty(0), np.empty((0, 3)), []):
        assert is_mask(checks.finite()(result), [])
        assert is_mask((checks.finite() & checks.in_range(0, 1))(result), [])


def test_rows_with_no_elements_pass() -> None:
    """A (3, 0) batch has three empty rows, vacuously fine."""
    assert is_mask(checks.finite()(np.empty((3, 0))), [True, True, True])


def test_integer_and_bool_results_are_finite() -> None:
    """Integer and boolean results have no NaN or inf."""
    assert is_mask(checks.finite()(np.array([1, 2, 3])), [True] * 3)
    assert is_mask(checks.finite()(np.array([True, False])), [True, True])


def test_complex_results() -> None:
    """finite() judges complex results element-wise (no fast path)."""
    x = np.array([1 + 1j, complex(NAN, 0)])
    assert is_mask(checks.finite()(x), [True, False])


# -- in_range -------------------------------------------------------------------


def test_in_range_is_inclusive_and_rejects_nan() -> None:
    """Both bounds are inside the range; NaN never is."""
    x = np.array([0.0, 1.0, -1e-12, 1 + 1e-12, NAN])
    assert is_mask(checks.in_range(0, 1)(x), [True, True, False, False, False])


def test_in_range_open_ends() -> None:
    """None leaves an end open, letting infinity through on that side."""
    x = np.array([-INF, -5.0, 5.0, INF, NAN])
    assert is_mask(checks.in_range(None, 0)(x), [True, True, False, False, False])
    assert is_mask(checks.in_range(0, None)(x), [False, False, True, True, False])
    assert is_mask(checks.in_range(None, None)(x), [True, True, True, True, False])


def test_in_range_of_equal_bounds() -> None:
    """lo == hi accepts exactly that value."""
    assert is_mask(checks.in_range(2, 2)(np.array([2, 3])), [True, False])


@pytest.mark.parametrize(
    ("lo", "hi", "argument"),
    [(1, 0, "lo"), ("a", 1, "lo"), (0, "b", "hi"), (NAN, 1, "lo"), (True, 2, "lo")],
)
def test_in_range_validates_bounds(lo: object, hi: object, argument: str) -> None:
    """Bad bounds raise ConfigurationError naming the argument."""
    with pytest.raises(ConfigurationError) as info:
        checks.in_range(lo, hi)  # type: ignore[arg-type]
    assert info.value.argument == argument


def test_in_range_repr_of_numpy_bounds() -> None:
    """numpy scalar bounds print as plain numbers."""
    assert repr(checks.in_range(np.float64(0.5), np.int64(2))) == "in_range(0.5, 2)"


# -- probabilities --------------------------------------------------------------


def test_probabilities_per_row() -> None:
    """Each row must lie in [0, 1] and sum to 1 within atol."""
    x = np.array([[0.25, 0.75], [0.5, 0.5 + 1e-3], [1.5, -0.5], [NAN, 1.0]])
    assert is_mask(checks.probabilities()(x), [True, False, False, False])
    assert is_mask(checks.probabilities(atol=1e-2)(x), [True, True, False, False])


def test_probabilities_of_a_vector_is_one_distribution() -> None:
    """A 1-D result is one distribution: a bad sum fails every element."""
    assert is_mask(checks.probabilities()(np.array([0.2, 0.8])), [True, True])
    assert is_mask(checks.probabilities()(np.array([0.2, 0.7])), [False, False])


def test_probabilities_along_axis_zero() -> None:
    """With axis=0 each column is a distribution shared by every row."""
    x = np.array([[0.5, 0.1], [0.5, 0.9]])
    assert is_mask(checks.probabilities(axis=0)(x), [True, True])
    assert is_mask(checks.probabilities(axis=0)(x[:, ::-1] * [1, 2]), [False, False])


def test_probabilities_of_a_scalar_is_invalid() -> None:
    """A scalar has no axis to sum along: the result is invalid."""
    check = checks.probabilities()
    assert check(1.0) is False
    assert check.errors == 1


def test_probabilities_float32_and_ints() -> None:
    """float32 rows use the fast sum; integer one-hot rows are distributions."""
    x = np.array([[0.25, 0.75], [0.5, 0.25]], dtype=np.float32)
    assert is_mask(checks.probabilities()(x), [True, False])
    assert is_mask(checks.probabilities()(np.array([[0, 1], [1, 1]])), [True, False])


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"axis": 1.5}, "axis"),
        ({"atol": -1}, "atol"),
        ({"atol": NAN}, "atol"),
        ({"axis": True}, "axis"),
    ],
)
def test_probabilities_validates(kwargs: dict[str, object], argument: str) -> None:
    """Bad axis or atol raise ConfigurationError."""
    with pytest.raises(ConfigurationError) as info:
        checks.probabilities(**kwargs)  # type: ignore[arg-type]
    assert info.value.argument == argument


# -- shape, dtype, not_constant -------------------------------------------------


def test_shape_wildcards_and_whole_call_verdict() -> None:
    """None matches any size; a mismatch fails every row."""
    check = checks.shape((None, 3))
    assert is_mask(check(np.zeros((2, 3))), [True, True])
    assert is_mask(check(np.zeros((2, 4))), [False, False])
    assert is_mask(check(np.zeros(2)), [False, False])
    assert checks.shape(())(1.0) is True
    assert is_mask(checks.shape(np.int64(2))([1, 2]), [True, True])
    assert is_mask(checks.shape((3,))([1, 2]), [False, False])


@pytest.mark.parametrize("bad", ["x", (-1,), (1.5,), (True,), object()])
def test_shape_validates(bad: object) -> None:
    """Only ints >= 0 and None are shape entries."""
    with pytest.raises(ConfigurationError):
        checks.shape(bad)  # type: ignore[arg-type]


def test_dtype_exact_and_kind() -> None:
    """An exact dtype or kind letters; the verdict covers every row."""
    x32 = np.zeros(3, np.float32)
    assert is_mask(checks.dtype(np.float32)(x32), [True] * 3)
    assert is_mask(checks.dtype("float64")(x32), [False] * 3)
    assert is_mask(checks.dtype(kind="f")(x32), [True] * 3)
    assert is_mask(checks.dtype(kind="iu")(x32), [False] * 3)
    assert checks.dtype(kind="iu")(3) is True
    assert checks.dtype(np.float64)(0.5) is True


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {}),
        ((np.float32,), {"kind": "f"}),
        ((), {"kind": "z"}),
        ((), {"kind": ""}),
        (("no-such-type",), {}),
        ((), {"kind": 3}),
    ],
)
def test_dtype_validates(args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    """Exactly one of dtype and kind, each understood."""
    with pytest.raises(ConfigurationError):
        checks.dtype(*args, **kwargs)  # type: ignore[arg-type]


def test_not_constant_catches_collapsed_batches() -> None:
    """Identical rows fail together once the batch is large enough."""
    check = checks.not_constant(min_rows=3)
    assert is_mask(check(np.full((3, 2), 0.5)), [False] * 3)
    assert is_mask(check(np.full((2, 2), 0.5)), [True] * 2)  # too few rows to judge
    assert check(0.5) is True
    varied = np.full((4, 2), 0.5)
    varied[2, 1] = 0.6  # first and last rows equal: the cheap certificate is not enough
    assert is_mask(check(varied), [True] * 4)


def test_not_constant_tolerance_and_dtypes() -> None:
    """atol bounds the spread; ints, NaN and strings are handled."""
    x = np.array([[1.0], [1.0 + 1e-10], [1.0]])
    assert is_mask(checks.not_constant(min_rows=3)(x), [False] * 3)
    assert is_mask(checks.not_constant(min_rows=3, atol=0)(x), [True] * 3)
    ints = np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max, 0])
    assert is_mask(checks.not_constant(min_rows=3)(ints), [True] * 3)
    assert is_mask(checks.not_constant(min_rows=3)(np.full(3, NAN)), [True] * 3)
    assert is_mask(checks.not_constant(min_rows=2)(np.array(["a", "a"])), [False, False])
    assert is_mask(checks.not_constant(min_rows=2)(np.array(["a", "b"])), [True, True])


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"atol": -1}, "atol"), ({"min_rows": 1}, "min_rows"), ({"min_rows": 2.5}, "min_rows")],
)
def test_not_constant_validates(kwargs: dict[str, object], argument: str) -> None:
    """Bad atol or min_rows raise ConfigurationError."""
    with pytest.raises(ConfigurationError) as info:
        checks.not_constant(**kwargs)  # type: ignore[arg-type]
    assert info.value.argument == argument


# -- custom and as_check --------------------------------------------------------


def test_custom_accepts_bool_scalar_and_masks() -> None:
    """fn may return a bool, a numpy bool, a 1-D or a 2-D mask."""
    x = np.array([[1.0, 2.0], [-1.0, 3.0]])
    assert is_mask(checks.custom(lambda r: True)(x), [True, True])
    assert is_mask(checks.custom(lambda r: np.bool_(False))(x), [False, False])
    assert is_mask(checks.custom(lambda r: r[:, 0] > 0)(x), [True, False])
    assert is_mask(checks.custom(lambda r: r > 0)(x), [True, False])
    assert checks.custom(lambda r: r > 0)(2.0) is True


def test_custom_gets_the_raw_result_and_arrays_for_lists() -> None:
    """Objects reach fn untouched; lists arrive as arrays."""
    seen: list[object] = []

    def spy(r: object) -> bool:
        seen.append(r)
        return True

    marker = object()
    checks.custom(spy)(marker)
    (checks.custom(spy) & checks.custom(spy))([1, 2])
    (checks.finite() & checks.custom(spy))([1, 2])
    assert seen[0] is marker
    assert all(isinstance(s, np.ndarray) for s in seen[1:])
    assert len(seen) == 4


def test_custom_bad_masks_make_the_result_invalid() -> None:
    """A wrong-length or non-boolean mask, or fn raising, fails every row."""
    x = np.zeros(3)
    wrong_len = checks.custom(lambda r: np.ones(2, bool))
    not_bool = checks.custom(lambda r: np.ones(3))

    def boom(r: object) -> bool:
        raise RuntimeError

    raising = checks.custom(boom)
    for check in (wrong_len, not_bool, raising):
        assert is_mask(check(x), [False] * 3)
        assert check.errors == 1
    assert checks.custom(lambda r: np.ones(1, bool))(1.0) is False


def test_custom_validates_and_names() -> None:
    """fn must be callable, name a str; the repr uses the name."""
    with pytest.raises(ConfigurationError):
        checks.custom(3)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        checks.custom(bool, name=3)  # type: ignore[arg-type]
    assert repr(checks.custom(bool, name="truthy")) == "truthy"
    assert repr(checks.custom(bool)) == "custom(bool)"

    class Judge:
        def __call__(self, r: object) -> bool:
            return True

    assert repr(checks.custom(Judge())).startswith("custom(<")


def test_as_check() -> None:
    """Checks pass through, callables are wrapped, the rest is refused."""
    finite = checks.finite()
    assert checks.as_check(finite) is finite
    assert isinstance(checks.as_check(bool), checks.Check)
    with pytest.raises(ConfigurationError):
        checks.as_check(3)  # type: ignore[arg-type]


# -- combinations ---------------------------------------------------------------


def test_reprs_of_combinations() -> None:
    """Reprs read like the expression, with parentheses where | sits inside &."""
    f, r, d = checks.finite(), checks.in_range(0, 1), checks.dtype(kind="f")
    assert repr(f & r) == "finite() & in_range(0, 1)"
    assert repr(f & r & d) == "finite() & in_range(0, 1) & dtype(kind='f')"
    assert repr(f | r | d) == "finite() | in_range(0, 1) | dtype(kind='f')"
    assert repr((f | r) & d) == "(finite() | in_range(0, 1)) & dtype(kind='f')"
    assert repr(d & (f | r)) == "dtype(kind='f') & (finite() | in_range(0, 1))"
    assert repr(f & r | d) == "finite() & in_range(0, 1) | dtype(kind='f')"
    assert repr(d | f & r) == "dtype(kind='f') | finite() & in_range(0, 1)"
    assert repr(checks.probabilities(axis=0, atol=0.01)) == "probabilities(axis=0, atol=0.01)"
    assert repr(checks.probabilities()) == "probabilities()"
    assert repr(checks.shape((None, 3))) == "shape((None, 3))"
    assert repr(checks.dtype(np.float32)) == "dtype('float32')"
    assert repr(checks.not_constant()) == "not_constant(atol=1e-09, min_rows=10)"


def test_reprs_evaluate_back_to_equivalent_checks() -> None:
    """eval(repr(check)) in the checks namespace builds a check with the same repr."""
    namespace = {name: getattr(checks, name) for name in checks.__all__}
    for check in (
        (checks.finite() | checks.in_range(None, 2)) & checks.shape((None, 3)),
        checks.probabilities(axis=0) | checks.not_constant(atol=0.5, min_rows=4),
        checks.dtype(kind="iu") & checks.dtype("int64"),
    ):
        assert repr(eval(repr(check), namespace)) == repr(check)


def test_plain_callables_combine_from_either_side() -> None:
    """check & fn and fn & check both wrap fn as a custom check."""

    def positive(r: np.ndarray) -> np.ndarray:
        return r > 0

    x = np.array([1.0, -1.0, NAN])
    name = "test_plain_callables_combine_from_either_side.<locals>.positive"
    assert repr(checks.finite() & positive) == f"finite() & custom({name})"
    assert is_mask((positive & checks.finite())(x), [True, False, False])
    assert is_mask((positive | checks.finite())(x), [True, True, False])
    assert is_mask((checks.finite() | positive)(x), [True, True, False])


def test_whole_verdicts_short_circuit() -> None:
    """A failing whole-call check fails every row without running the rest."""
    calls: list[int] = []

    def spy(r: object) -> bool:
        calls.append(1)
        return True

    x = np.zeros((2, 4))
    assert is_mask((checks.shape((None, 3)) & checks.custom(spy))(x), [False, False])
    assert is_mask((checks.shape((None, 4)) | checks.custom(spy))(x), [True, True])
    assert calls == []
    assert is_mask((checks.custom(lambda r: False) | checks.finite())(x), [True, True])


def test_combined_checks_of_customs_do_not_convert() -> None:
    """Custom-only combinations see the raw result, even one numpy cannot convert."""
    weird = {"a": 1}
    both = checks.custom(lambda r: isinstance(r, dict)) & checks.custom(lambda r: "a" in r)
    assert both(weird) is True
    nested = (checks.custom(lambda r: False) | checks.custom(lambda r: True)) & checks.custom(bool)
    assert nested(weird) is True


# -- results a check cannot judge ------------------------------------------------


def test_unjudgeable_results_fail_every_row_and_log_once(caplog: pytest.LogCaptureFixture) -> None:
    """Strings, ragged lists and objects are invalid: all rows fail, logged once per check."""
    check = checks.in_range(0, 1)
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        assert check("abc") is False
        assert is_mask(check(["a", "b"]), [False, False])
        assert is_mask(check([[1.0, 2.0], [3.0]]), [False, False])
        assert is_mask(checks.finite()(np.array([1, None], dtype=object)), [False, False])
    assert check.errors == 3
    logged = [r for r in caplog.records if "could not judge" in r.getMessage()]
    assert len(logged) == 2  # one per check object, not one per call


def test_errors_of_a_user_subclass_are_counted() -> None:
    """A Check subclass without __init__ still counts its failures."""

    class Broken(checks.Check):
        def _mask(self, result: object) -> bool:
            raise ValueError

    broken = Broken.__new__(Broken)
    assert broken.errors == 0
    assert broken(1.0) is False
    assert broken.errors == 1
    assert repr(broken) == "Broken()"


def test_public_names_of_aiguard_checks_are_pinned() -> None:
    """aiguard.checks exports exactly the documented names."""
    assert set(checks.__all__) == {
        "Check", "as_check", "custom", "dtype", "finite", "in_range",
        "not_constant", "probabilities", "shape",
        "missing", "ood", "ood_score", "schema", "within_reference",
    }  # fmt: skip
    assert all(hasattr(checks, name) for name in checks.__all__)


def test_objects_with_an_odd_shape_get_a_single_verdict() -> None:
    """A result whose .shape is not a tuple gets the whole-result bool, not a crash."""

    class Odd:
        shape = 3

    assert checks.custom(lambda r: True)(Odd()) is True


def test_wide_and_deep_rows_reduce_exactly() -> None:
    """Rows of 255, 256 and 300 elements and 3-D rows: one bad element fails its row."""
    for shape in ((4, 255), (4, 256), (4, 300), (4, 3, 5)):
        x = np.zeros(shape)
        x.reshape(4, -1)[2, -1] = NAN
        assert is_mask(checks.finite()(x), [True, True, False, True])


def test_in_range_takes_an_infinite_bound_as_no_bound() -> None:
    """in_range(0, inf) is in_range(0, None): infinities pass on that side, NaN never does."""
    check = checks.in_range(0.0, float("inf"))
    assert check(np.array([0.0, 1e300, np.inf, -1.0, np.nan])).tolist() == [
        True, True, True, False, False]

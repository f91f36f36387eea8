"""The built-in output checks: finite, in_range, probabilities, shape, dtype, not_constant.

Each is a small :class:`~aiguard.contain._checks.Check` subclass and a
factory; see :mod:`aiguard.checks` for the contract they share (a bool for a
scalar, a per-row mask for a batch, invalid results fail every row).
"""

from __future__ import annotations

import math
from numbers import Integral
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from aiguard._core._validate import count, real
from aiguard.contain._checks import NUMERIC as _NUMERIC
from aiguard.contain._checks import PY_NUMBERS as _PY_NUMBERS
from aiguard.contain._checks import Check
from aiguard.contain._checks import as_array as _as_array
from aiguard.contain._checks import extrema as _extrema
from aiguard.contain._checks import in_unit as _in_unit
from aiguard.contain._checks import rows_of as _rows
from aiguard.errors import ConfigurationError, InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from aiguard.contain._checks import Mask

__all__ = ["dtype", "finite", "in_range", "not_constant", "probabilities", "shape"]

_isfinite: Final = np.isfinite
_math_isfinite: Final = math.isfinite


class _Finite(Check):
    __slots__ = ()
    _elementwise = True
    _finite_only = True

    def _from_extrema(self, lo: Any, hi: Any) -> bool:
        return _math_isfinite(lo) and _math_isfinite(hi)

    def _elements(self, arr: np.ndarray[Any, Any]) -> Any:
        return _isfinite(arr)

    def _mask(self, result: Any) -> Mask:
        if type(result) in _PY_NUMBERS:
            return _math_isfinite(result)
        return self._eval(_as_array(result), result)

    def _eval(self, arr: np.ndarray[Any, Any], raw: Any) -> Mask:  # noqa: ARG002
        m = _isfinite(arr)
        return True if m.all() else _rows(m)

    def __repr__(self) -> str:
        """Return ``finite()``."""
        return "finite()"


def finite() -> Check:
    """Every element is finite: no NaN, no +inf, no -inf.

    Returns:
        A check; integer and boolean results always pass.

    Example:
        >>> import numpy as np
        >>> finite()(np.array([1.0, np.inf, np.nan, -2.0]))
        array([ True, False, False,  True])
    """
    return _Finite()


def _bound(value: object, argument: str) -> float | None:
    """A bound of in_range: None, an infinite float (no bound), or a finite real number."""
    if value is None:
        return None
    if isinstance(value, float) and math.isinf(value):
        return value
    return real(value, argument, expected="a real number or None")


def _integer(value: object, argument: str) -> int:
    """Any int (numpy integers included, bools refused), e.g. an axis."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ConfigurationError(argument, "an int", value)
    return int(value)


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


class _InRange(Check):
    __slots__ = ("_bounded", "_hi", "_interval", "_lo", "_text")
    _elementwise = True

    def __init__(self, lo: object, hi: object) -> None:
        super().__init__()
        low, high = _bound(lo, "lo"), _bound(hi, "hi")
        if low is not None and high is not None and low > high:
            raise ConfigurationError("lo", f"<= hi ({hi!r})", lo)
        self._lo = -math.inf if low is None else low
        self._hi = math.inf if high is None else high
        self._text = f"in_range({_plain(lo)!r}, {_plain(hi)!r})"
        self._bounded = low is not None and high is not None
        self._interval = (self._lo, self._hi)

    def _from_extrema(self, lo: Any, hi: Any) -> bool:
        return bool(self._lo <= lo and hi <= self._hi)

    def _elements(self, arr: np.ndarray[Any, Any]) -> Any:
        return (arr >= self._lo) & (arr <= self._hi)

    def _mask(self, result: Any) -> Mask:
        if type(result) in _PY_NUMBERS:
            return self._lo <= result <= self._hi  # type: ignore[no-any-return]
        return self._eval(_as_array(result), result)

    def _eval(self, arr: np.ndarray[Any, Any], raw: Any) -> Mask:  # noqa: ARG002
        if arr.dtype.kind in _NUMERIC and arr.size and self._from_extrema(*_extrema(arr)):
            return True
        return _rows(self._elements(arr))

    def __repr__(self) -> str:
        """Return ``in_range(lo, hi)``."""
        return self._text


def in_range(lo: float | None, hi: float | None) -> Check:
    """Every element lies in ``[lo, hi]`` (inclusive); ``None`` leaves that end open.

    NaN is never in range. With an open end, infinities on that side pass
    (combine with :func:`finite` to exclude them).

    Args:
        lo: lower bound, or None for no lower bound.
        hi: upper bound, or None for no upper bound.

    Returns:
        A check.

    Raises:
        ConfigurationError: a bound is not a real number, is NaN, or ``lo > hi``.

    Example:
        >>> import numpy as np
        >>> in_range(0, 1)(np.array([0.0, 1.0, 1.01, np.nan]))
        array([ True,  True, False, False])
        >>> in_range(0, None)
        in_range(0, None)
    """
    return _InRange(lo, hi)


class _Probabilities(Check):
    __slots__ = ("_atol", "_axis", "_text")

    def __init__(self, axis: int, atol: float) -> None:
        super().__init__()
        self._axis, self._atol = _integer(axis, "axis"), real(atol, "atol", low=0.0)
        extra = [f"axis={self._axis}"] if self._axis != -1 else []
        extra += [f"atol={self._atol!r}"] if self._atol != 1e-6 else []
        self._text = f"probabilities({', '.join(extra)})"

    def _eval(self, arr: np.ndarray[Any, Any], raw: Any) -> Mask:  # noqa: ARG002
        if not arr.ndim:
            raise InvalidInputError("result", "an array with an axis to sum along", arr)
        # inf - inf in a sum makes a failing row, not a RuntimeWarning for the user.
        with np.errstate(all="ignore"):
            return self._judge(arr)

    def _judge(self, arr: np.ndarray[Any, Any]) -> Mask:
        # Sums accumulate in float64 so that float16/32 outputs are judged on
        # their values, not on the rounding of a low-precision accumulator.
        if arr.ndim == 2 and self._axis in (-1, 1) and arr.dtype.kind == "f":
            # A matrix-vector product sums short rows ~7x faster than sum(axis=1).
            sums = (arr @ np.ones(arr.shape[1]))[:, None]
        else:
            sums = arr.sum(axis=self._axis, keepdims=True, dtype=np.float64)
        sums_ok = np.abs(sums - 1) <= self._atol
        if arr.dtype.kind in _NUMERIC and arr.size and _in_unit(*_extrema(arr)) and sums_ok.all():
            return True
        return _rows((arr >= 0) & (arr <= 1) & sums_ok)

    def __repr__(self) -> str:
        """Return ``probabilities(...)`` with the non-default arguments."""
        return self._text


def probabilities(axis: int = -1, atol: float = 1e-6) -> Check:
    """Each distribution along *axis* has values in [0, 1] summing to 1 (within *atol*).

    Sums are accumulated in float64. A float32 softmax over many classes
    carries its own rounding (about ``n_classes * 6e-8``): raise *atol* for it.
    For a 2-D ``(n_rows, n_classes)`` result with ``axis=-1`` (the usual
    ``predict_proba`` output) each row is one distribution. Every row that
    shares a distribution fails with it: for a 1-D result the whole vector is
    one distribution, so a bad sum fails every row. A scalar cannot be judged
    (there is no *axis*) and is invalid.

    Args:
        axis: the axis along which values form a distribution.
        atol: allowed absolute deviation of each sum from 1.

    Returns:
        A check.

    Raises:
        ConfigurationError: *axis* is not an int or *atol* is negative.

    Example:
        >>> import numpy as np
        >>> probabilities()(np.array([[0.2, 0.8], [0.6, 0.6], [1.2, -0.2]]))
        array([ True, False, False])
    """
    return _Probabilities(axis, atol)


class _Shape(Check):
    __slots__ = ("_expected", "_text")

    def __init__(self, expected: int | Sequence[int | None]) -> None:
        super().__init__()
        dims = (expected,) if isinstance(expected, (int, np.integer)) else expected
        try:
            parsed = tuple(dims)
        except TypeError:
            raise ConfigurationError("shape", "a tuple of ints or None", expected) from None
        if not all(
            d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0)
            for d in parsed
        ):
            raise ConfigurationError("shape", "a tuple of ints >= 0 or None", expected)
        self._expected: tuple[int | None, ...] = tuple(
            None if d is None else int(d) for d in parsed
        )
        self._text = f"shape({self._expected!r})"

    def _eval(self, arr: np.ndarray[Any, Any], raw: Any) -> Mask:  # noqa: ARG002
        got = arr.shape
        return len(got) == len(self._expected) and all(
            e is None or e == g for e, g in zip(self._expected, got, strict=True)
        )

    def __repr__(self) -> str:
        """Return ``shape((...))``."""
        return self._text


def shape(expected: int | Sequence[int | None]) -> Check:
    """The result has the full shape *expected*; ``None`` matches any size on that axis.

    ``shape((None, 3))`` accepts any number of rows of 3 columns; ``shape(())``
    a scalar; ``shape(5)`` is ``shape((5,))``. The verdict is for the whole
    call: a result of the wrong shape fails every row.

    Args:
        expected: the expected shape, with None as a wildcard.

    Returns:
        A check.

    Raises:
        ConfigurationError: *expected* is not a tuple of non-negative ints or None.

    Example:
        >>> import numpy as np
        >>> shape((None, 3))(np.zeros((2, 3)))
        array([ True,  True])
        >>> shape((None, 3))(np.zeros((2, 4)))
        array([False, False])
    """
    return _Shape(expected)


class _Dtype(Check):
    __slots__ = ("_dtype", "_kinds", "_text")

    def __init__(self, expected: Any, kind: str | None) -> None:
        super().__init__()
        if (expected is None) == (kind is None):
            raise ConfigurationError("dtype", "given either as a dtype or as kind=", expected)
        self._dtype: np.dtype[Any] | None = None
        self._kinds = ""
        if kind is not None:
            if not isinstance(kind, str) or not kind or set(kind) - set("biufcmMOSUV"):
                raise ConfigurationError("kind", "numpy kind letters such as 'f' or 'iu'", kind)
            self._kinds = kind
            self._text = f"dtype(kind={kind!r})"
        else:
            try:
                self._dtype = np.dtype(expected)
            except TypeError:
                raise ConfigurationError("dtype", "a numpy dtype", expected) from None
            self._text = f"dtype({self._dtype.name!r})"

    def _eval(self, arr: np.ndarray[Any, Any], raw: Any) -> Mask:  # noqa: ARG002
        if self._dtype is not None:
            return bool(arr.dtype == self._dtype)
        return arr.dtype.kind in self._kinds

    def __repr__(self) -> str:
        """Return ``dtype('float32')`` or ``dtype(kind='f')``."""
        return self._text


def dtype(expected: Any = None, *, kind: str | None = None) -> Check:
    """The result has exactly the dtype *expected*, or one of the numpy *kind* letters.

    Judged per call: a result of the wrong dtype fails every row. Python
    scalars and lists are judged by the dtype numpy gives them (``1.0`` is
    ``float64``).

    Args:
        expected: a numpy dtype or anything :class:`numpy.dtype` accepts.
        kind: instead of *expected*, kind letters: ``"f"`` any float,
            ``"iu"`` any integer, ``"b"`` bool, ``"c"`` complex.

    Returns:
        A check.

    Raises:
        ConfigurationError: neither or both of *expected* and *kind* given, or
            either is not understood.

    Example:
        >>> import numpy as np
        >>> dtype(np.float32)(np.zeros(2, np.float64))
        array([False, False])
        >>> dtype(kind="f")(np.zeros(2, np.float32))
        array([ True,  True])
    """
    return _Dtype(expected, kind)


class _NotConstant(Check):
    __slots__ = ("_atol", "_min_rows", "_text")

    def __init__(self, atol: float, min_rows: int) -> None:
        super().__init__()
        self._atol = real(atol, "atol", low=0.0)
        self._min_rows = count(min_rows, "min_rows", minimum=2)
        self._text = f"not_constant(atol={self._atol!r}, min_rows={self._min_rows!r})"

    def _eval(self, arr: np.ndarray[Any, Any], raw: Any) -> Mask:  # noqa: ARG002
        if arr.ndim == 0 or arr.shape[0] < self._min_rows:
            return True
        with np.errstate(all="ignore"):
            return self._judge(arr)

    def _judge(self, arr: np.ndarray[Any, Any]) -> bool:
        if arr.dtype.kind in "iuf":
            # Cheap certificate first: the last row differs from the first.
            if (np.abs(np.subtract(arr[-1], arr[0], dtype=np.float64)) > self._atol).any():
                return True
            spread = np.subtract(arr.max(axis=0), arr.min(axis=0), dtype=np.float64)
            return not bool((spread <= self._atol).all())
        return not bool((arr == arr[:1]).all())

    def __repr__(self) -> str:
        """Return ``not_constant(atol=..., min_rows=...)``."""
        return self._text


def not_constant(*, atol: float = 1e-9, min_rows: int = 10) -> Check:
    """A batch whose rows are all (nearly) identical has collapsed: every row fails.

    A model stuck on one answer (all zeros, the class prior, the same
    embedding) passes every per-value check; this one catches it. With at
    least *min_rows* rows, the batch is collapsed when, for every element
    position, ``max - min`` across rows is at most *atol* (numeric results) or
    every row equals the first (other dtypes). Then every row fails; otherwise
    every row passes. Scalars and batches with fewer than *min_rows* rows
    always pass, as a few identical inputs legitimately give identical outputs.
    NaN counts as varying (leave NaN to :func:`finite`).

    Args:
        atol: largest spread still counted as "the same value".
        min_rows: smallest batch judged.

    Returns:
        A check.

    Raises:
        ConfigurationError: *atol* negative or *min_rows* below 2.

    Example:
        >>> import numpy as np
        >>> not_constant(min_rows=3)(np.full((4, 2), 0.5))
        array([False, False, False, False])
        >>> not_constant(min_rows=3)(np.arange(8.0).reshape(4, 2))
        array([ True,  True,  True,  True])
    """
    return _NotConstant(atol, min_rows)

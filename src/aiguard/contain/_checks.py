"""Output checks: vectorised judges of a model's result, one verdict per row.

A check is called with a model's result. For a scalar result (a Python or
numpy scalar, a 0-d array) it returns a ``bool``; for a batch (rows on axis 0)
a boolean mask of shape ``(n_rows,)``. A row of a 2-D or higher result passes
only if all its elements pass. ``True`` means the row is fine.

Lists and tuples are converted with :func:`numpy.asarray` once, before any
check sees them. A result a check cannot judge (a string given to
:func:`in_range`, a ragged list, a check that raises) is an *invalid* result:
every row fails, the check's ``errors`` count goes up and the first such
failure is logged on the ``"aiguard"`` logger.

Internally a check answers through ``_mask(result)``, which may also return a
single ``bool`` for a batch, meaning the same verdict for every row: a healthy
batch costs two reductions (min and max) rather than a per-row mask.
"""

from __future__ import annotations

import logging
import math
from numbers import Integral
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from aiguard._core._validate import count, real
from aiguard.errors import ConfigurationError, InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import numpy.typing as npt

    Mask = bool | npt.NDArray[np.bool_]

__all__ = [
    "Check",
    "as_check",
    "custom",
    "dtype",
    "finite",
    "in_range",
    "not_constant",
    "probabilities",
    "shape",
]

_log: Final = logging.getLogger("aiguard")
_ndarray: Final = np.ndarray
_asarray: Final = np.asarray
_isfinite: Final = np.isfinite
_math_isfinite: Final = math.isfinite
_min: Final = np.minimum.reduce
_max: Final = np.maximum.reduce
_einsum: Final = np.einsum
_PY_NUMBERS: Final = (float, int)
_NUMERIC: Final = frozenset("biuf")


def _rows(m: npt.NDArray[np.bool_]) -> Mask:
    """Reduce an element mask to one verdict per row (a bool for a 0-d mask)."""
    if m.ndim == 1:
        return m
    if m.ndim == 0:
        return bool(m)
    n = m.shape[0]
    k = m.size // n if n else 0
    if not 0 < k < 256:
        return np.asarray(m.all(axis=tuple(range(1, m.ndim))))
    # numpy reduces short rows slowly (~33 us for 1000 x 20); einsum counts the
    # True bytes of each row ~4x faster, exactly while the count fits a uint8.
    counts = _einsum("ij->i", m.reshape(n, k).view(np.uint8))
    return np.asarray(counts == k)


def _in_unit(lo: Any, hi: Any) -> bool:
    return bool(lo >= 0 and hi <= 1)


def _extrema(arr: np.ndarray[Any, Any]) -> tuple[Any, Any]:
    """Min and max as Python numbers (exact for ints; NaN if any element is NaN)."""
    return _min(arr, None).item(), _max(arr, None).item()


def _n_rows(result: Any) -> int | None:
    """Rows of *result* on axis 0, or None for a scalar (or something with no length)."""
    shp = getattr(result, "shape", None)
    if shp is not None:
        return int(shp[0]) if len(shp) else None
    if isinstance(result, (list, tuple)):
        return len(result)
    return None


def _expand(verdict: Mask, result: Any) -> Mask:
    """Broadcast a whole-result verdict to a per-row mask for a batch."""
    if type(verdict) is bool:
        n = _n_rows(result)
        return verdict if n is None else np.full(n, verdict)
    return verdict


def judge(check: Check, result: Any) -> Mask:
    """Run ``check._mask`` safely: a check that raises makes every row fail.

    The failure is counted on the check (``check.errors``) and logged once per
    check, never per call (principle 1).
    """
    try:
        return check._mask(result)
    except Exception:
        errors = getattr(check, "_errors", 0)
        if not errors:
            _log.warning(
                "aiguard check %r could not judge a result of type %s; treating it as"
                " invalid (every row fails). Logged once per check.",
                check,
                type(result).__name__,
                exc_info=True,
            )
        check._errors = errors + 1
        return False


def unguarded(check: Check) -> Callable[[Any], Mask]:
    """The check's fast verdict, which may raise: the Guard's hot path, guarded by its caller.

    A bool may stand for every row of a batch. Use ``check(result)`` (never
    raises) everywhere else.
    """
    return check._mask


def _as_array(result: Any) -> np.ndarray[Any, Any]:
    return result if type(result) is _ndarray else _asarray(result)


class Check:
    """Base of every output check: callable, combinable with ``&`` and ``|``.

    Build checks with the factories of :mod:`aiguard.checks` (:func:`finite`,
    :func:`in_range`, ..., :func:`custom` for your own predicate) rather than by
    subclassing. ``check(result)`` is the safe public entry: it never raises on
    odd output, it reports it as invalid (every row fails) and counts it in
    ``check.errors``.

    Example:
        >>> import numpy as np
        >>> from aiguard import checks
        >>> ok = checks.finite() & checks.in_range(0, 1)
        >>> ok
        finite() & in_range(0, 1)
        >>> ok(np.array([[0.2, 0.8], [np.nan, 0.5], [0.1, 1.5]]))
        array([ True, False, False])
        >>> ok(0.5)
        True
    """

    __slots__ = ("_errors",)

    #: Element-wise checks (``_elements``, ``_from_extrema``): combined before the row reduction.
    _elementwise: bool = False
    #: Checks that judge ``np.asarray(result)`` rather than the raw result.
    _needs_array: bool = True

    def __init__(self) -> None:
        self._errors = 0

    @property
    def errors(self) -> int:
        """How many results this check could not judge (each counted as invalid)."""
        return getattr(self, "_errors", 0)

    def __call__(self, result: Any) -> Mask:
        """Judge *result*: a bool for a scalar, a per-row mask for a batch."""
        verdict = judge(self, result)
        try:
            return _expand(verdict, result)
        except Exception:  # an object with an odd .shape: its verdict stands for all rows
            return verdict

    def _mask(self, result: Any) -> Mask:
        """Fast, unguarded verdict; a bool may stand for every row of a batch."""
        return self._eval(_as_array(result), result)

    def _eval(self, arr: np.ndarray[Any, Any], raw: Any) -> Mask:
        raise NotImplementedError

    def _from_extrema(self, lo: Any, hi: Any) -> bool:
        """Whether a batch with this min and max certainly passes (False: unsure)."""
        raise NotImplementedError

    def _elements(self, arr: np.ndarray[Any, Any]) -> Any:
        """The element-wise verdict, same shape as *arr*."""
        raise NotImplementedError

    def __and__(self, other: Check | Callable[[Any], Any]) -> Check:
        """Both checks must pass (row by row)."""
        return _AllOf(self, as_check(other))

    def __rand__(self, other: Callable[[Any], Any]) -> Check:
        """``plain_callable & check``."""
        return _AllOf(as_check(other), self)

    def __or__(self, other: Check | Callable[[Any], Any]) -> Check:
        """Either check may pass (row by row)."""
        return _AnyOf(self, as_check(other))

    def __ror__(self, other: Callable[[Any], Any]) -> Check:
        """``plain_callable | check``."""
        return _AnyOf(as_check(other), self)

    def __repr__(self) -> str:
        """Return the expression that builds this check."""
        return f"{type(self).__name__}()"


class _Combined(Check):
    __slots__ = ("_children", "_elem", "_needs_array", "_other", "_scalar")
    _sep: str = ""

    def __init__(self, left: Check, right: Check) -> None:
        super().__init__()
        kids: list[Check] = []
        for c in (left, right):
            kids.extend(c._children if isinstance(c, type(self)) else (c,))
        self._children: tuple[Check, ...] = tuple(kids)
        self._needs_array = any(c._needs_array for c in kids)
        elem = [c for c in kids if c._elementwise]
        if any(isinstance(c, _InRange) and c._bounded for c in elem):
            elem = [c for c in elem if not isinstance(c, _Finite)]  # implied by finite bounds
        self._elem: tuple[Check, ...] = tuple(elem)
        self._other: tuple[Check, ...] = tuple(c for c in kids if not c._elementwise)
        # For one Python number and only finite/in_range children: one interval test.
        self._scalar: tuple[float, float, bool] | None = None
        if not self._other and all(isinstance(c, (_Finite, _InRange)) for c in elem):
            ranges = [c for c in elem if isinstance(c, _InRange)]
            self._scalar = (
                max((c._lo for c in ranges), default=-math.inf),
                min((c._hi for c in ranges), default=math.inf),
                any(isinstance(c, _Finite) for c in elem),
            )

    def __repr__(self) -> str:
        """Return ``a & b`` / ``a | b``, parenthesising ``|`` inside ``&``."""
        parts = []
        for c in self._children:
            text = repr(c)
            parts.append(f"({text})" if isinstance(c, _AnyOf) and self._sep == " & " else text)
        return self._sep.join(parts)


class _AllOf(_Combined):
    __slots__ = ()
    _sep = " & "

    def _mask(self, result: Any) -> Mask:
        if type(result) in _PY_NUMBERS and not self._other:
            # One Python number: its own min and max, judged exactly, no array.
            bounds = self._scalar
            if bounds is not None:
                lo, hi, finite = bounds
                return bool(lo <= result <= hi) and (not finite or _math_isfinite(result))
            return all(c._from_extrema(result, result) for c in self._elem)
        arr = _as_array(result) if self._needs_array else None
        return self._eval(arr, result)  # type: ignore[arg-type]

    def _eval(self, arr: np.ndarray[Any, Any], raw: Any) -> Mask:
        acc: Mask = True
        for c in self._other:  # whole-call verdicts first: they may end it cheaply
            m = c._eval(arr, raw)
            if m is False:
                return False
            if m is not True:
                acc = m if acc is True else acc & m
        elem = self._elem
        if not elem:
            return acc
        if arr.size and arr.dtype.kind in _NUMERIC:
            # The healthy batch: two reductions decide every element-wise check.
            lo, hi = _extrema(arr)
            for c in elem:
                if not c._from_extrema(lo, hi):
                    break
            else:
                return acc
        e = elem[0]._elements(arr)
        for c in elem[1:]:
            e = e & c._elements(arr)
        if e.all():
            return acc
        m = _rows(e)
        return m if acc is True else acc & m


class _AnyOf(_Combined):
    __slots__ = ()
    _sep = " | "

    def _mask(self, result: Any) -> Mask:
        arr = _as_array(result) if self._needs_array else None
        return self._eval(arr, result)  # type: ignore[arg-type]

    def _eval(self, arr: np.ndarray[Any, Any], raw: Any) -> Mask:
        acc: Mask = False
        for c in self._children:
            m = c._eval(arr, raw)
            if m is True:
                return True
            if m is not False:
                acc = m if acc is False else acc | m
        return acc


class _Finite(Check):
    __slots__ = ()
    _elementwise = True

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
    __slots__ = ("_bounded", "_hi", "_lo", "_text")
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


def _callable_name(fn: object) -> str:
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    return name if isinstance(name, str) else repr(fn)


class _Custom(Check):
    __slots__ = ("_fn", "_text")
    _needs_array = False

    def __init__(self, fn: Callable[[Any], Any], name: str | None) -> None:
        super().__init__()
        if not callable(fn):
            raise ConfigurationError("fn", "a callable returning a bool or a per-row mask", fn)
        if name is not None and not isinstance(name, str):
            raise ConfigurationError("name", "a str or None", name)
        self._fn = fn
        self._text = name if name is not None else f"custom({_callable_name(fn)})"

    def _mask(self, result: Any) -> Mask:
        return self._eval(None, result)

    def _eval(self, arr: np.ndarray[Any, Any] | None, raw: Any) -> Mask:
        if type(raw) in (list, tuple):
            raw = _asarray(raw) if arr is None else arr
        out = self._fn(raw)
        if isinstance(out, bool):
            return out
        m = _asarray(out)
        if m.ndim == 0:
            return bool(m)
        if m.dtype != np.bool_:
            raise InvalidInputError("custom check mask", "a bool or a boolean mask", m.dtype)
        n = _n_rows(raw)
        if n != m.shape[0]:
            raise InvalidInputError("custom check mask", f"one entry per row ({n})", m.shape)
        return _rows(m)

    def __repr__(self) -> str:
        """Return ``custom(fn_name)`` or the given name."""
        return self._text


def custom(fn: Callable[[Any], Any], name: str | None = None) -> Check:
    """Your own predicate as a check: *fn(result)* returns a bool or a per-row mask.

    A 2-D mask is reduced per row (a row passes if all its entries do). *fn*
    receives the result as the model returned it (lists and tuples as an
    array). A mask of the wrong length, or *fn* raising, makes the result
    invalid (every row fails).

    Args:
        fn: the predicate; ``True`` means OK.
        name: what ``repr`` shows (default ``custom(<fn name>)``).

    Returns:
        A check.

    Raises:
        ConfigurationError: *fn* is not callable or *name* not a str.

    Example:
        >>> import numpy as np
        >>> def positive(x):
        ...     return x > 0
        >>> (custom(positive) & finite())(np.array([1.0, -1.0, np.nan]))
        array([ True, False, False])
        >>> custom(positive) | custom(positive, name="positive_again")
        custom(positive) | positive_again
    """
    return _Custom(fn, name)


def as_check(obj: Check | Callable[[Any], Any]) -> Check:
    """Return *obj* if it is a :class:`Check`, else ``custom(obj)`` for a callable.

    Args:
        obj: a check or a plain callable returning a bool or a per-row mask.

    Returns:
        A check.

    Raises:
        ConfigurationError: *obj* is not callable.

    Example:
        >>> as_check(finite())
        finite()
        >>> as_check(callable)
        custom(callable)
    """
    if isinstance(obj, Check):
        return obj
    if not callable(obj):
        raise ConfigurationError("check", "a Check or a callable returning a bool or mask", obj)
    return _Custom(obj, None)

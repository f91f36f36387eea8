"""Output checks: vectorised judges of a model's result, one verdict per row.

A check is called with a model's result. For a scalar result (a Python or
numpy scalar, a 0-d array) it returns a ``bool``; for a batch (rows on axis 0)
a boolean mask of shape ``(n_rows,)``. A row of a 2-D or higher result passes
only if all its elements pass. ``True`` means the row is fine.

Lists and tuples are converted with :func:`numpy.asarray` once, before any
check sees them. A result a check cannot judge (a string given to
:func:`in_range`, a ragged list, a check that raises) is an *invalid* result:
every row fails, the check's ``errors`` count goes up and the first such
failure is logged once on this module's logger (``aiguard.contain._checks``).

The base :class:`Check`, the ``&`` / ``|`` combinations and :func:`custom`
live here; the built-in rules (:func:`finite`, :func:`in_range`, ...) in
``_check_rules.py``. Internally a check answers through ``_mask(result)``, which may also return a
single ``bool`` for a batch, meaning the same verdict for every row: a healthy
batch costs two reductions (min and max) rather than a per-row mask.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from aiguard._core._logging import fields
from aiguard.errors import ConfigurationError, InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeAlias

    import numpy.typing as npt

    Mask: TypeAlias = "bool | npt.NDArray[np.bool_]"

__all__ = ["NUMERIC", "PY_NUMBERS", "Check", "Mask", "as_array", "as_check", "custom", "extrema",
           "in_unit", "judge", "rows_of", "unguarded"]

_log: Final = logging.getLogger(__name__)
_ndarray: Final = np.ndarray
_asarray: Final = np.asarray
_isfinite: Final = np.isfinite
_math_isfinite: Final = math.isfinite
_min: Final = np.minimum.reduce
_max: Final = np.maximum.reduce
_einsum: Final = np.einsum
_PY_NUMBERS: Final = (float, int)
_NUMERIC: Final = frozenset("biuf")
#: Python number types judged without an array; numpy dtype kinds that are numeric.
PY_NUMBERS: Final = _PY_NUMBERS
NUMERIC: Final = _NUMERIC


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
    except Exception as exc:
        errors = getattr(check, "_errors", 0)
        if not errors:
            _log.warning(
                "aiguard check %r could not judge a result of type %s; treating it as"
                " invalid (every row fails). Logged once per check.",
                check,
                type(result).__name__,
                exc_info=True,
                extra=fields("check.raised", repr(check), exc),
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
    #: ``(lo, hi)`` of an interval check (``in_range``), for the one-number shortcut of ``&``.
    _interval: tuple[float, float] | None = None
    #: An interval with both ends finite, which implies ``finite()``.
    _bounded: bool = False
    #: ``finite()`` itself.
    _finite_only: bool = False
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
        if any(c._bounded for c in elem):
            elem = [c for c in elem if not c._finite_only]  # implied by finite bounds
        self._elem: tuple[Check, ...] = tuple(elem)
        self._other: tuple[Check, ...] = tuple(c for c in kids if not c._elementwise)
        # For one Python number and only finite/in_range children: one interval test.
        self._scalar: tuple[float, float, bool] | None = None
        if not self._other and all(c._finite_only or c._interval is not None for c in elem):
            ranges = [c._interval for c in elem if c._interval is not None]
            self._scalar = (
                max((lo for lo, _ in ranges), default=-math.inf),
                min((hi for _, hi in ranges), default=math.inf),
                any(c._finite_only for c in elem),
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
        >>> from aiguard.checks import finite
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
        >>> from aiguard.checks import finite
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


# Shared with the concrete checks in ``_check_rules.py``.
rows_of = _rows
in_unit = _in_unit
extrema = _extrema
as_array = _as_array

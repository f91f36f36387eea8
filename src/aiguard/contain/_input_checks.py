"""Input checks: judge the rows *sent to* the model against the training data.

Corrupt, incomplete or hostile inputs are an incident of their own. These
checks take the model's inputs (a 2-D array, a pandas DataFrame, or a
``{name: column}`` mapping; rows on axis 0) and return ``True`` / ``False``
or a per-row mask, like the output checks, so they combine with ``&`` and
``|``. Used as ``Guard(input_check=...)``: the failing rows go to the fallback
(``fallback_rows=True``) or the whole call does.

The out-of-distribution score of a row (:func:`ood_score`) is the largest,
over the numeric features, robust z-score against the reference,
``|x - median| / (IQR / 1.349)`` (``IQR / 1.349`` estimates the standard
deviation of normal data; the reference's standard deviation stands in when
its IQR is 0, and 1 when that is 0 too); a category the reference never saw
scores ``inf``; missing values are ignored (a row with no value scores 0).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from aiguard._core import _validate
from aiguard.contain._checks import Check
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from aiguard import drift
    from aiguard.contain._checks import Mask

__all__ = ["missing", "ood", "ood_score", "schema", "within_reference"]

_IQR_TO_SIGMA = 1.349


def _reference(value: object) -> drift.Reference:
    from aiguard import drift  # noqa: PLC0415 - lazy: the drift statistics import scipy.stats

    if not isinstance(value, drift.Reference):
        raise ConfigurationError("reference", "an aiguard.drift.Reference", value)
    return value


def _column(inputs: Any, name: str, j: int) -> NDArray[Any]:
    """Column *name* (position *j*) of the inputs, as an array of rows."""
    if hasattr(inputs, "dtypes") or isinstance(inputs, dict):
        return np.asarray(inputs[name])
    arr = np.asarray(inputs)
    return arr.reshape(-1) if arr.ndim == 1 else arr[:, j]


def _unseen(reference: drift.Reference, inputs: Any) -> NDArray[np.bool_] | None:
    """Per row: holds a category the reference never saw (None: no categorical feature)."""
    bad = None
    for j, (name, kind) in enumerate(zip(reference.feature_names, reference.kinds, strict=True)):
        if kind != "categorical":
            continue
        col = _column(inputs, name, j)
        present = np.array([v is not None and v == v for v in col.tolist()], dtype=bool)  # noqa: PLR0124 - NaN test
        known = np.isin(col.astype(str), np.asarray(reference.categories(name)))
        out = present & ~known
        bad = out if bad is None else bad | out
    return bad


class _WithinReference(Check):
    __slots__ = ("_hi", "_lo", "_reference", "_text")
    _needs_array = False

    def __init__(self, reference: drift.Reference, tolerance: float) -> None:
        super().__init__()
        self._reference = reference
        lo, hi = [], []
        for name, kind in zip(reference.feature_names, reference.kinds, strict=True):
            if kind == "numeric":
                s = reference.summary[name]
                margin = tolerance * (s["max"] - s["min"])
                lo.append(s["min"] - margin)
                hi.append(s["max"] + margin)
        self._lo, self._hi = np.array(lo), np.array(hi)
        self._text = f"within_reference(tolerance={tolerance!r})"

    def _mask(self, result: Any) -> Mask:
        return self._eval(None, result)  # type: ignore[arg-type]

    def _eval(self, arr: np.ndarray[Any, Any], raw: Any) -> Mask:  # noqa: ARG002
        table = self._reference.table(raw, argument="inputs", check_finite=False)
        x = table.numeric
        with np.errstate(invalid="ignore"):
            out = ~((x < self._lo) | (x > self._hi)).any(axis=1)
        unseen = _unseen(self._reference, raw)
        if unseen is not None:
            out &= ~unseen
        return np.asarray(out, dtype=bool)

    def __repr__(self) -> str:
        """Return ``within_reference(tolerance=...)``."""
        return self._text


def within_reference(reference: drift.Reference, *, tolerance: float = 0.0) -> Check:
    """Rows whose numeric values lie in the training range and categories were seen.

    A numeric value passes within ``[min - t * (max - min), max + t * (max - min)]``
    of its feature's reference range (``t = tolerance``); a categorical value
    passes if the reference saw it. Missing values pass (see :func:`missing`).

    Args:
        reference: the :class:`aiguard.drift.Reference` of the training inputs.
        tolerance: share of the range allowed beyond each end.

    Returns:
        A check over the inputs.

    Raises:
        ConfigurationError: *reference* is not a Reference, *tolerance* negative.

    Example:
        >>> import numpy as np
        >>> from aiguard import checks, drift
        >>> ref = drift.Reference(np.array([[0.0, 10.0], [1.0, 20.0]]))
        >>> checks.within_reference(ref, tolerance=0.1)(np.array([[0.5, 15.0], [1.05, 25.0]]))
        array([ True, False])
    """
    ref = _reference(reference)
    return _WithinReference(ref, _validate.real(tolerance, "tolerance", low=0))


def _missing_cells(inputs: Any) -> NDArray[np.bool_]:
    if hasattr(inputs, "isna"):
        cells: NDArray[np.bool_] = np.asarray(inputs.isna())
    else:
        arr = np.asarray(inputs)
        if arr.dtype.kind in "fc":
            cells = np.isnan(arr)
        elif arr.dtype == object:
            flat = [v is None or v != v for v in arr.reshape(-1).tolist()]  # noqa: PLR0124 - NaN test
            cells = np.array(flat, dtype=bool).reshape(arr.shape)
        else:
            cells = np.zeros(arr.shape, dtype=bool)
    return cells.reshape(len(cells), -1) if cells.ndim else cells.reshape(1, 1)


class _Missing(Check):
    __slots__ = ("_max_share", "_text")
    _needs_array = False

    def __init__(self, max_share: float) -> None:
        super().__init__()
        self._max_share = max_share
        self._text = f"missing(max_share={max_share!r})"

    def _mask(self, result: Any) -> Mask:
        return self._eval(None, result)  # type: ignore[arg-type]

    def _eval(self, arr: np.ndarray[Any, Any], raw: Any) -> Mask:  # noqa: ARG002
        cells = _missing_cells(raw)
        if not cells.shape[1]:
            return np.ones(cells.shape[0], dtype=bool)
        share = cells.sum(axis=1) / cells.shape[1]
        return np.asarray(share <= self._max_share + 1e-12)

    def __repr__(self) -> str:
        """Return ``missing(max_share=...)``."""
        return self._text


def missing(*, max_share: float = 0.0) -> Check:
    """Rows with at most *max_share* of their values missing (NaN or None).

    Example:
        >>> import numpy as np
        >>> from aiguard import checks
        >>> checks.missing(max_share=0.5)(np.array([[1.0, np.nan], [np.nan, np.nan]]))
        array([ True, False])
    """
    return _Missing(_validate.fraction(max_share, "max_share", zero=True))


class _Schema(Check):
    __slots__ = ("_dtype", "_n", "_text")
    _needs_array = False

    def __init__(self, n_features: int | None, dtype: np.dtype[Any] | None, text: str) -> None:
        super().__init__()
        self._n, self._dtype, self._text = n_features, dtype, text

    def _mask(self, result: Any) -> Mask:
        return self._eval(None, result)  # type: ignore[arg-type]

    def _eval(self, arr: np.ndarray[Any, Any], raw: Any) -> Mask:  # noqa: ARG002
        dtypes = getattr(raw, "dtypes", None)
        if dtypes is not None:
            width = len(raw.columns)
            kinds = [np.dtype(d) if isinstance(d, np.dtype) else np.dtype(object) for d in dtypes]
        else:
            a = np.asarray(raw)
            width = a.shape[1] if a.ndim == 2 else -1
            kinds = [a.dtype]
        if self._n is not None and width != self._n:
            return False
        if self._dtype is not None:
            return all(np.can_cast(k, self._dtype, casting="same_kind") for k in kinds)
        return True

    def __repr__(self) -> str:
        """Return ``schema(...)``."""
        return self._text


def schema(*, n_features: int | None = None, dtype: Any = None) -> Check:
    """The whole batch has *n_features* columns and values castable to *dtype*.

    A mismatch fails every row of the call (the batch cannot be trusted).

    Example:
        >>> import numpy as np
        >>> from aiguard import checks
        >>> s = checks.schema(n_features=2, dtype="float64")
        >>> s(np.zeros((3, 2))), s(np.zeros((2, 3)))
        (array([ True,  True,  True]), array([False, False]))
    """
    n = None if n_features is None else _validate.count(n_features, "n_features")
    kind = None
    if dtype is not None:
        try:
            kind = np.dtype(dtype)
        except TypeError as exc:
            raise ConfigurationError("dtype", "a numpy dtype", dtype) from exc
    parts = [f"n_features={n!r}"] if n is not None else []
    if kind is not None:
        parts.append(f"dtype={kind.name!r}")
    return _Schema(n, kind, f"schema({', '.join(parts)})")


def ood_score(reference: drift.Reference, inputs: Any) -> NDArray[np.float64]:
    """Per-row out-of-distribution score (see the module docstring for the method).

    Example:
        >>> import numpy as np
        >>> from aiguard import checks, drift
        >>> ref = drift.Reference(np.random.default_rng(0).normal(size=(10000, 2)))
        >>> checks.ood_score(ref, np.array([[0.0, 0.0], [0.0, 8.0]])).round(0)
        array([0., 8.])
    """
    ref = _reference(reference)
    center, scale = _robust(ref)
    table = ref.table(inputs, argument="inputs", check_finite=False)
    with np.errstate(invalid="ignore"):
        z = np.abs(table.numeric - center) / scale
    z = np.where(np.isnan(z), 0.0, z)
    out = z.max(axis=1) if z.shape[1] else np.zeros(table.n_rows)
    unseen = _unseen(ref, inputs)
    if unseen is not None:
        out = np.where(unseen, math.inf, out)
    return np.asarray(out, dtype=np.float64)


def _robust(ref: drift.Reference) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    center, scale = [], []
    for name, kind in zip(ref.feature_names, ref.kinds, strict=True):
        if kind != "numeric":
            continue
        s = ref.summary[name]
        q = s["quantiles"]
        spread = (q["75%"] - q["25%"]) / _IQR_TO_SIGMA
        if not spread > 0:
            spread = s["std"] if s["std"] > 0 else 1.0
        center.append(q["50%"])
        scale.append(spread)
    return np.array(center, dtype=np.float64), np.array(scale, dtype=np.float64)


class _Ood(Check):
    __slots__ = ("_max", "_reference", "_text")
    _needs_array = False

    def __init__(self, reference: drift.Reference, max_score: float) -> None:
        super().__init__()
        self._reference, self._max = reference, max_score
        self._text = f"ood(max_score={max_score!r})"

    def _mask(self, result: Any) -> Mask:
        return self._eval(None, result)  # type: ignore[arg-type]

    def _eval(self, arr: np.ndarray[Any, Any], raw: Any) -> Mask:  # noqa: ARG002
        return np.asarray(ood_score(self._reference, raw) <= self._max)

    def __repr__(self) -> str:
        """Return ``ood(max_score=...)``."""
        return self._text


def ood(reference: drift.Reference, *, max_score: float = 6.0) -> Check:
    """Rows whose out-of-distribution score (:func:`ood_score`) is at most *max_score*.

    Example:
        >>> import numpy as np
        >>> from aiguard import checks, drift
        >>> ref = drift.Reference(np.random.default_rng(0).normal(size=(10000, 2)))
        >>> checks.ood(ref, max_score=5)(np.array([[0.0, 0.0], [0.0, 8.0]]))
        array([ True, False])
    """
    return _Ood(_reference(reference), _validate.real(max_score, "max_score", low=0,
                                                      low_open=True))


"""Samples given by users, as checked 2-D arrays (features in columns).

Accepts numpy arrays, nested lists and anything with ``__array__`` (pandas,
polars); ``axis`` says along which axis the samples run. Numbers become
float64 with NaN for a missing value; labels keep their dtype.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from aiguard.errors import ConfigurationError, InvalidInputError

if TYPE_CHECKING:
    from aiguard.detect._drift._types import FloatArray

__all__ = ["as_labels", "as_pair", "as_samples", "check_pair", "is_missing", "missing_rate"]


def is_missing(value: object) -> bool:
    """True for None, float NaN and pandas' NA / NaT (without importing pandas)."""
    if value is None:
        return True
    if isinstance(value, float | np.floating):
        return bool(value != value)  # noqa: PLR0124 - NaN test that also covers np.float32
    return type(value).__name__ in {"NAType", "NaTType"}


def _object_to_float(arr: npt.NDArray[Any], name: str) -> FloatArray:
    """Convert an object array of numbers and missing markers, refusing anything else."""
    flat = arr.ravel()
    out = np.empty(flat.shape, dtype=np.float64)
    for i, value in enumerate(flat):
        if isinstance(value, numbers.Real):
            out[i] = float(value)
        elif is_missing(value):
            out[i] = np.nan
        else:
            kinds = sorted({type(v).__name__ for v in flat})
            raise InvalidInputError(
                name,
                "numeric (declare the feature categorical or use chi2 for labels)",
                f"an object array holding {', '.join(kinds)}",
            )
    return out.reshape(arr.shape)


def _to_array(x: object, name: str) -> npt.NDArray[Any]:
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.asarray(x)
    except (ValueError, TypeError) as exc:  # ragged nested lists and the like
        raise InvalidInputError(
            name, "an array-like of samples", f"{type(x).__name__} ({exc})"
        ) from exc


def _orient(arr: npt.NDArray[Any], name: str, axis: int) -> tuple[npt.NDArray[Any], bool]:
    """Return ``arr`` as 2-D (n_samples, n_features) and whether it was 1-D."""
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
        raise ConfigurationError("axis", "0, 1, -1 or -2", axis)
    if arr.ndim == 1:
        if axis not in (0, -1):
            raise ConfigurationError("axis", "0 or -1 for 1-D input", axis)
        arr = arr[:, np.newaxis]
        was_1d = True
    elif arr.ndim == 2:
        if axis not in (0, 1, -1, -2):
            raise ConfigurationError("axis", "0, 1, -1 or -2", axis)
        if axis in (1, -1):
            arr = arr.T
        was_1d = False
    else:
        raise InvalidInputError(name, "a 1-D or 2-D array", f"an array with {arr.ndim} dimensions")
    if arr.shape[0] == 0:
        raise InvalidInputError(name, "non-empty (at least one sample)", "an empty array")
    if arr.shape[1] == 0:
        raise InvalidInputError(name, "at least one feature", "an array with 0 features")
    return arr, was_1d


def as_samples(x: object, name: str, *, axis: int = 0) -> tuple[FloatArray, bool]:
    """Convert ``x`` to a float64 ``(n_samples, n_features)`` array.

    Accepts numpy arrays, nested lists and anything with ``__array__`` (pandas,
    polars). Booleans become 0/1; ``None`` and pandas' NA in object arrays
    become NaN. The values are not scanned for NaN or inf here (that happens
    after sorting, for free, see :func:`sort_samples`).

    Args:
        x: the samples.
        name: the argument's name for error messages (``"reference"``).
        axis: the axis along which samples run (0 or 1; -1/-2 allowed).

    Returns:
        ``(array, was_1d)``: a 2-D float64 array (a view when possible) and
        whether ``x`` was 1-D (results are then scalars).

    Raises:
        InvalidInputError: wrong number of dimensions, no samples, no feature,
            strings, complex numbers, dates, or object arrays mixing numbers
            with other types.
        ConfigurationError: an invalid ``axis``.
    """
    arr = _to_array(x, name)
    kind = arr.dtype.kind
    if kind in "fiu":
        values = arr
    elif kind == "b":
        values = arr.astype(np.float64)
    elif kind == "O":
        values = _object_to_float(arr, name)
    elif kind in "USa":
        raise InvalidInputError(
            name,
            "numeric (declare the feature categorical or use chi2 for labels)",
            f"an array of strings ({arr.dtype})",
        )
    else:
        raise InvalidInputError(name, "real numbers", f"an array of dtype {arr.dtype}")
    values2d, was_1d = _orient(values, name, axis)
    return values2d.astype(np.float64, copy=False), was_1d


def check_pair(reference: npt.NDArray[Any], current: npt.NDArray[Any]) -> None:
    """Raise unless two ``(n_samples, n_features)`` arrays have the same features.

    Raises:
        InvalidInputError: naming ``current`` when the feature counts differ.
    """
    if reference.shape[1] != current.shape[1]:
        raise InvalidInputError(
            "current",
            f"{reference.shape[1]} feature(s) like reference",
            f"{current.shape[1]} feature(s)",
        )


def as_pair(
    reference: object, current: object, *, axis: int = 0
) -> tuple[FloatArray, FloatArray, bool]:
    """Convert both samples with :func:`as_samples` and check their feature counts.

    Returns:
        ``(reference_2d, current_2d, was_1d)``; ``was_1d`` only when both are 1-D.
    """
    ref, ref_1d = as_samples(reference, "reference", axis=axis)
    cur, cur_1d = as_samples(current, "current", axis=axis)
    check_pair(ref, cur)
    return ref, cur, ref_1d and cur_1d


def as_labels(x: object, name: str, *, axis: int = 0) -> tuple[npt.NDArray[Any], bool]:
    """Convert categorical samples to a 2-D ``(n_samples, n_features)`` array.

    Labels may be numbers, strings, booleans or any hashable; missing values
    are ``None``, NaN or pandas' NA. Within one feature, labels must be of one
    kind (numbers, or strings, or booleans), so that the union of categories
    has a well-defined order.

    Returns:
        ``(array, was_1d)`` with the array's own dtype (object, str or numeric).

    Raises:
        InvalidInputError: wrong dimensions, empty, or a feature mixing kinds
            (e.g. ``1`` and ``"a"``).
    """
    arr = _to_array(x, name)
    arr2d, was_1d = _orient(arr, name, axis)
    if arr2d.dtype.kind == "O":
        for j in range(arr2d.shape[1]):
            kinds = {_label_kind(v) for v in arr2d[:, j]} - {"missing"}
            if len(kinds) > 1:
                raise InvalidInputError(
                    name,
                    "labels of one kind per feature",
                    f"feature {j} mixing {' and '.join(sorted(kinds))}",
                )
    elif arr2d.dtype.kind not in "biufUSa":
        raise InvalidInputError(
            name, "labels (numbers, strings or booleans)", f"dtype {arr2d.dtype}"
        )
    return arr2d, was_1d


def _label_kind(value: object) -> str:
    if is_missing(value):
        return "missing"
    if isinstance(value, bool | np.bool_):
        return "booleans"
    if isinstance(value, numbers.Number):
        return "numbers"
    if isinstance(value, str | bytes):
        return "strings"
    return type(value).__name__


def missing_rate(x: object, *, axis: int = 0) -> Any:
    """Return the share of missing values per feature.

    Missing means NaN, ``None`` or pandas' NA. The rate is reported on its own
    (a feature whose values went missing has drifted in a way no distribution
    statistic on the remaining values can see).

    Args:
        x: 1-D or 2-D samples (numbers or labels).
        axis: the axis along which samples run.

    Returns:
        A float for 1-D input, a float array of shape ``(n_features,)`` for 2-D.

    Example:
        >>> import numpy as np
        >>> from aiguard import drift
        >>> drift.missing_rate([1.0, np.nan, 3.0, np.nan])
        0.5
        >>> drift.missing_rate(np.array([[1.0, np.nan], [2.0, 5.0]]))
        array([0. , 0.5])
    """
    arr = _to_array(x, "x")
    arr2d, was_1d = _orient(arr, "x", axis)
    kind = arr2d.dtype.kind
    if kind in "fc":
        missing = np.isnan(arr2d)
    elif kind == "O":
        missing = np.vectorize(is_missing, otypes=[bool])(arr2d)
    else:
        missing = np.zeros(arr2d.shape, dtype=bool)
    rate = missing.mean(axis=0)
    return float(rate[0]) if was_1d else rate

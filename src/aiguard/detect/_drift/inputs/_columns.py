"""Turn user data (arrays, pandas or polars frames, lists) into typed columns.

A table is split once into a float64 block of numeric columns (samples along
axis 0) and a list of categorical columns as arrays of ``str`` labels with
missing values removed and counted. Categorical columns are the ones declared
in ``categorical=``, string or object columns holding strings, and pandas
``object`` / ``category`` / ``string`` columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from aiguard.errors import ConfigurationError, InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

__all__ = ["Table", "as_table", "categorical_labels"]

_NUMBER_TYPES = (int, float, np.integer, np.floating, bool, np.bool_)


@attrs.frozen
class Table:
    """Columns of one data set, split by kind.

    Attributes:
        names: every feature name, in input order.
        numeric: float64 array (n_rows, n_numeric), samples along axis 0.
        numeric_index: positions in ``names`` of the numeric block's columns.
        categorical: one ``str`` label array per categorical column (missing removed).
        categorical_missing: missing count per categorical column.
        categorical_index: positions in ``names`` of the categorical columns.
        n_rows: number of rows.
        nan_columns: positions in the numeric block of the columns holding NaN;
            None when the table was built with ``check_finite=False`` (the caller
            checks, see :meth:`check_finite`).
    """

    names: tuple[str, ...]
    numeric: NDArray[np.float64]
    numeric_index: tuple[int, ...]
    categorical: tuple[NDArray[np.str_], ...]
    categorical_missing: tuple[int, ...]
    categorical_index: tuple[int, ...]
    n_rows: int
    nan_columns: NDArray[np.intp] | None
    argument: str = "data"

    def check_finite(self, candidates: NDArray[np.intp]) -> NDArray[np.intp]:
        """Raise on inf in the numeric *candidates* columns; return those holding NaN.

        *candidates* are the numeric columns that may hold a non-finite value
        (e.g. those whose sum is not finite); the others are not read.

        Raises:
            InvalidInputError: an inf in any candidate column.
        """
        if not candidates.size:
            return candidates
        block = self.numeric[:, candidates]
        has_inf = np.isinf(block).any(axis=0)
        if has_inf.any():
            bad = [self.names[self.numeric_index[j]] for j in candidates[has_inf]]
            raise InvalidInputError(self.argument, "finite values or NaN (no inf)", f"inf in {bad}")
        out: NDArray[np.intp] = candidates[np.isnan(block).any(axis=0)]
        return out


def _mapping_columns(
    data: Mapping[Any, Any], argument: str
) -> tuple[list[str], list[np.ndarray], list[bool]]:
    """Columns of a ``{name: values}`` mapping; string columns are categorical."""
    names = [str(k) for k in data]
    arrays = [np.asarray(v) for v in data.values()]
    flags = [a.dtype.kind in "US" for a in arrays]
    lengths = {a.shape[0] if a.ndim else -1 for a in arrays}
    if len(lengths) > 1 or any(a.ndim != 1 for a in arrays):
        raise InvalidInputError(argument, "1-D columns of equal length", sorted(lengths))
    return names, arrays, flags


def _frame_columns(
    data: Any, argument: str
) -> tuple[list[str], list[np.ndarray], list[bool]] | None:
    """Columns, names and pandas-declared categorical flags of a DataFrame, else None."""
    if isinstance(data, Mapping):
        return _mapping_columns(data, argument) if data else None
    columns = getattr(data, "columns", None)
    dtypes = getattr(data, "dtypes", None)
    if columns is None or dtypes is None or not hasattr(data, "__getitem__"):
        return None
    names = [str(c) for c in columns]
    arrays: list[np.ndarray] = []
    flags: list[bool] = []
    for col, dtype in zip(columns, list(dtypes), strict=True):
        kind = str(dtype)
        is_cat = kind in {"object", "category", "string", "str"} or kind.startswith(
            ("string", "Categorical", "Utf8", "String", "Cat")
        )
        values = data[col]
        arr = _categorical_array(values) if is_cat else None
        if arr is None:
            arr = np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values)
            if is_cat:
                arr = arr.astype(object)
        arrays.append(arr)
        flags.append(is_cat)
    return names, arrays, flags


def _categorical_array(values: Any) -> NDArray[Any] | None:
    """A pandas label column as objects, missing values (``pd.NA`` too) as None; else None."""
    try:  # pandas' string columns hold pd.NA, which is no label (Dask makes such columns)
        return np.asarray(values.to_numpy(dtype=object, na_value=None))
    except (TypeError, AttributeError):  # not pandas (polars, a plain array)
        return None


def categorical_labels(column: NDArray[Any], argument: str) -> tuple[NDArray[np.str_], int]:
    """String labels of a categorical column and its missing count.

    Missing values are ``None`` and float NaN. Numbers are labelled by their
    float form (``3`` and ``3.0`` are the same category, ``"3"`` is not).

    Raises:
        InvalidInputError: the column mixes strings and numbers.
    """
    if column.dtype.kind in "fiub":
        values = column.astype(np.float64)
        if np.isinf(values).any():
            raise InvalidInputError(argument, "finite (no inf)", "inf in a categorical column")
        keep = ~np.isnan(values)
        return values[keep].astype(str), int(column.size - keep.sum())
    if column.dtype.kind in "US":
        return column.astype(str), 0
    items = column.tolist()
    kinds = {type(v) for v in items}
    missing = [v is None or (isinstance(v, float) and v != v) for v in items]  # noqa: PLR0124
    present = [v for v, m in zip(items, missing, strict=True) if not m]
    has_str = any(isinstance(v, str) for v in present)
    has_num = any(isinstance(v, _NUMBER_TYPES) for v in present)
    if (has_str and has_num) or not all(isinstance(v, (str, *_NUMBER_TYPES)) for v in present):
        names = sorted(k.__name__ for k in kinds)
        raise InvalidInputError(argument, "one type per column (strings or numbers)", names)
    n_missing = sum(missing)
    if has_num:
        labels = np.asarray(present, dtype=np.float64)
        if np.isinf(labels).any():
            raise InvalidInputError(argument, "finite (no inf)", "inf in a categorical column")
        return labels.astype(str), n_missing
    return np.asarray(present, dtype=str), n_missing


def _object_is_numeric(column: NDArray[Any], argument: str) -> bool:
    """Whether an object column holds only numbers (and missing values)."""
    present = [v for v in column.tolist() if v is not None]
    has_str = any(isinstance(v, str) for v in present)
    has_num = any(isinstance(v, _NUMBER_TYPES) for v in present)
    if (has_str and has_num) or not all(isinstance(v, (str, *_NUMBER_TYPES)) for v in present):
        names = sorted({type(v).__name__ for v in present})
        raise InvalidInputError(argument, "one type per column (strings or numbers)", names)
    return not has_str


def _split(data: Any, argument: str) -> tuple[list[str] | None, list[np.ndarray], list[bool]]:
    """Columns of *data* (samples along axis 0) with pandas categorical flags."""
    frame = _frame_columns(data, argument)
    if frame is not None:
        return frame
    try:
        arr = np.asarray(data)
    except ValueError as exc:  # ragged lists and the like
        raise InvalidInputError(argument, "array-like", type(data).__name__) from exc
    if arr.ndim == 1:
        arr = arr[:, None]
    elif arr.ndim != 2:
        raise InvalidInputError(argument, "a 1-D or 2-D array", f"ndim={arr.ndim}")
    if arr.dtype.kind not in "fiubUSO":
        raise InvalidInputError(argument, "numbers or strings", f"dtype {arr.dtype}")
    return None, [arr[:, j] for j in range(arr.shape[1])], [arr.dtype.kind in "US"] * arr.shape[1]


def _resolve_categorical(
    names: list[str], *, categorical: bool | Sequence[int | str] | None
) -> set[int]:
    """Positions of the columns declared categorical (every one for ``True``)."""
    if categorical is None or categorical is False:
        return set()
    if categorical is True:
        return set(range(len(names)))
    out: set[int] = set()
    for item in categorical:
        if isinstance(item, str):
            if item not in names:
                raise ConfigurationError("categorical", f"feature names from {names}", item)
            out.add(names.index(item))
        elif isinstance(item, (int, np.integer)) and -len(names) <= item < len(names):
            out.add(int(item) % len(names))
        else:
            raise ConfigurationError("categorical", "feature names or column indices", item)
    return out


def as_table(
    data: Any,
    *,
    argument: str,
    feature_names: Sequence[str] | None = None,
    categorical: bool | Sequence[int | str] | None = None,
    check_finite: bool = True,
) -> Table:
    """Split *data* into numeric and categorical columns.

    With ``check_finite=False`` the numeric block is not read for inf and NaN
    (``nan_columns`` is None): the caller checks it in a pass it makes anyway.

    Raises:
        InvalidInputError: wrong ndim, no rows, no columns, inf, mixed types.
        ConfigurationError: ``feature_names`` or ``categorical`` do not fit the data.
    """
    frame_names, columns, declared = _split(data, argument)
    if not columns:
        raise InvalidInputError(argument, "at least one feature column", "0 columns")
    n_rows = int(columns[0].shape[0])
    if n_rows == 0:
        raise InvalidInputError(argument, "non-empty", "0 rows")
    names = _names(feature_names, frame_names, len(columns))
    cat = _resolve_categorical(names, categorical=categorical)
    numeric_idx: list[int] = []
    cat_idx: list[int] = []
    for j, col in enumerate(columns):
        is_cat = j in cat or declared[j]
        if not is_cat and col.dtype.kind == "O":
            is_cat = not _object_is_numeric(col, argument)
        (cat_idx if is_cat else numeric_idx).append(j)
    nan_columns: NDArray[np.intp] | None = np.zeros(0, dtype=np.intp)
    if numeric_idx:
        block = _numeric_block(data, columns, numeric_idx, argument)
        nan_columns = _nan_candidates(block) if check_finite else None
    else:
        block = np.empty((n_rows, 0), dtype=np.float64)
    labels: list[NDArray[np.str_]] = []
    missing: list[int] = []
    for j in cat_idx:
        lab, miss = categorical_labels(columns[j], argument)
        labels.append(lab)
        missing.append(miss)
    table = Table(
        names=tuple(names),
        numeric=block,
        numeric_index=tuple(numeric_idx),
        categorical=tuple(labels),
        categorical_missing=tuple(missing),
        categorical_index=tuple(cat_idx),
        n_rows=n_rows,
        nan_columns=nan_columns,
        argument=argument,
    )
    if nan_columns is not None and nan_columns.size:
        table = attrs.evolve(table, nan_columns=table.check_finite(nan_columns))
    return table


def _names(
    feature_names: Sequence[str] | None, frame_names: list[str] | None, n_cols: int
) -> list[str]:
    """The feature names: given, else the frame's, else ``x0, x1, ...``; unique."""
    if feature_names is not None:
        names = [str(n) for n in feature_names]
        if len(names) != n_cols:
            raise ConfigurationError("feature_names", f"{n_cols} names", len(names))
    else:
        names = frame_names if frame_names is not None else [f"x{j}" for j in range(n_cols)]
    if len(set(names)) != len(names):
        raise ConfigurationError("feature_names", "unique names", names)
    return names


def _nan_candidates(block: NDArray[np.float64]) -> NDArray[np.intp]:
    """The columns that may hold NaN or inf, in one read: a finite column sum proves neither."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.flatnonzero(~np.isfinite(block.sum(axis=0)))


def _numeric_block(
    data: Any, columns: list[np.ndarray], numeric_idx: list[int], argument: str
) -> NDArray[np.float64]:
    """The float64 block of the numeric columns; a numeric 2-D array is used without a copy."""
    if (
        isinstance(data, np.ndarray)
        and data.ndim == 2
        and data.dtype == np.float64
        and len(numeric_idx) == data.shape[1]
    ):
        return data
    odd = [j for j in numeric_idx if columns[j].dtype.kind not in "fiubO"]
    if odd:
        kinds = sorted({str(columns[j].dtype) for j in odd})
        raise InvalidInputError(argument, "numbers or labels (declare them categorical)", kinds)
    return np.column_stack([columns[j] for j in numeric_idx]).astype(np.float64)

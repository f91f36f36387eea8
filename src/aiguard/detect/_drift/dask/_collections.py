"""Dask collections seen from aiguard: recognised without importing Dask, cut into row chunks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiguard.errors import InvalidInputError, MissingExtraError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["SPLIT_EVERY", "chunks", "is_dask", "need_dask", "tree_reduce"]

#: states merged by one task of the tree reduction (the memory of a merge is that many + 1)
SPLIT_EVERY = 4


def is_dask(data: object) -> bool:
    """Whether *data* is a Dask collection (the ``__dask_graph__`` protocol; Dask not imported).

    Example:
        >>> import numpy as np
        >>> is_dask(np.zeros(3))
        False
    """
    return callable(getattr(type(data), "__dask_graph__", None))


def need_dask(feature: str) -> Any:
    """The ``dask`` module, or :class:`~aiguard.errors.MissingExtraError` naming the extra."""
    try:
        import dask  # noqa: PLC0415 - optional, and never at `import aiguard`
    except ImportError as exc:  # pragma: no cover - dask is a dev dependency
        raise MissingExtraError(feature, "dask", "dask") from exc
    return dask


def chunks(data: Any, argument: str) -> list[Any]:
    """The row chunks of a Dask array (each with every column) or a Dask DataFrame's partitions.

    Raises:
        InvalidInputError: not a 1-D or 2-D array, nor a DataFrame.
    """
    if hasattr(data, "npartitions") and hasattr(data, "columns"):
        return list(data.to_delayed())
    ndim = getattr(data, "ndim", None)
    if ndim == 1:
        return list(data.to_delayed())
    if ndim == 2:
        return [row[0] for row in data.rechunk({1: -1}).to_delayed()]
    raise InvalidInputError(
        argument, "a 1-D or 2-D Dask array or a Dask DataFrame", type(data).__name__
    )


def tree_reduce(
    parts: Sequence[Any], combine: Callable[..., Any], *args: Any, split_every: int = SPLIT_EVERY
) -> Any:
    """One delayed value: *parts* merged ``split_every`` at a time by ``combine(*args, *group)``."""
    dask = need_dask("a Dask reduction")
    level = list(parts)
    while len(level) > 1:
        level = [
            dask.delayed(combine, pure=True)(*args, *level[i : i + split_every])
            for i in range(0, len(level), split_every)
        ]
    return level[0]

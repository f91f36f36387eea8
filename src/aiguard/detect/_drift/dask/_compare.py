"""Comparing a Dask collection to a fitted reference: chunks to accumulator state, tree-reduced.

The graph, for each block of features ``start:stop``:

* the fitted reference enters the graph once (one key, shipped to each
  worker that needs it); a task cuts the block's part of it;
* map: each row chunk updates an empty :class:`~aiguard.drift.Accumulator`
  of the block and returns its state as :meth:`~aiguard.drift.Accumulator.to_bytes`
  (arrays, no pickle, the reference not included);
* reduce: ``SPLIT_EVERY`` states are merged (``+``, exact) per task, in a tree;
* finish, still on a worker: the block's statistics before the decisions
  (a :class:`~aiguard.detect._drift.reference._compare.Sheet`: a few numbers
  per feature and method, and the bin counts).

The client stitches the blocks' sheets and makes the decisions (the
multiple-testing correction runs across all features). No chunk and no
state comes to the client whole. The numbers are those of
:meth:`Accumulator.compare`, which equal ``Reference.compare`` on the same data.

Blocks: the state of a block is held by the task that merges it, so the
features are cut into blocks whose state fits ``max_memory`` (the memory of
one task on a worker): per feature, the reference's sorted column and its
distinct values (24 bytes per reference value), the KS slot counts of the
``SPLIT_EVERY + 1`` states a merge holds (16 bytes per distinct reference
value each) and, for Cramér-von Mises, Anderson-Darling, Wasserstein and
energy, the current values themselves (16 bytes per current value: kept and
sorted).
"""

from __future__ import annotations

import math
import uuid
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from aiguard.detect._drift.dask._collections import SPLIT_EVERY, chunks, need_dask, tree_reduce
from aiguard.detect._drift.reference._accumulator import Accumulator
from aiguard.detect._drift.reference._rank_state import KEPT_METHODS
from aiguard.errors import ConfigurationError, InvalidInputError

if TYPE_CHECKING:
    from aiguard.detect._drift.reference._compare import Sheet
    from aiguard.detect._drift.reference._fitted import FittedReference

__all__ = ["TASK_MEMORY", "compare_dask", "plan_dask_blocks"]

#: the default memory of one task on a worker (``max_memory=None``)
TASK_MEMORY: Final = 1 << 30


def plan_dask_blocks(
    fitted: FittedReference, n_current: int, chosen: tuple[str, ...], max_memory: int
) -> int:
    """Features per block whose state fits *max_memory* (see the module doc).

    Raises:
        ConfigurationError: one feature's state does not fit.
    """
    n_ref = fitted.n_rows
    per_feature = 24 * n_ref
    if "ks" in chosen:
        per_feature += 16 * n_ref * (SPLIT_EVERY + 1)
    if KEPT_METHODS.intersection(chosen):
        per_feature += 16 * n_current
    if per_feature > max_memory:
        raise ConfigurationError(
            "max_memory",
            f"at least {per_feature} bytes (the state of one feature in one Dask task)",
            max_memory,
        )
    return max(1, min(fitted.n_features, max_memory // per_feature))


def _block_reference(fitted: FittedReference, start: int, stop: int) -> FittedReference:
    return fitted if (start, stop) == (0, fitted.n_features) else fitted.subset(start, stop)


def _columns(chunk: Any, fitted: FittedReference, start: int) -> Any:
    """The block's columns of a chunk: by name from a frame, by position from an array."""
    if hasattr(chunk, "columns"):
        return chunk[list(fitted.names)]
    arr = np.asarray(chunk)
    arr = arr.reshape(-1, 1) if arr.ndim == 1 else arr
    return arr[:, start : start + fitted.n_features]


def chunk_state(
    fitted: FittedReference,
    chunk: Any,
    start: int,
    methods: tuple[str, ...],
) -> bytes:
    """The accumulator state of one row chunk against one block of features (on a worker)."""
    from aiguard.detect._drift.reference._reference import Reference  # noqa: PLC0415 - cycle

    acc = Accumulator(Reference._from_fitted(fitted), methods)  # noqa: SLF001 - the package's own
    if len(chunk):
        acc.update(_columns(chunk, fitted, start))
    return acc.to_bytes()


def merge_states(fitted: FittedReference, methods: tuple[str, ...], *states: bytes) -> bytes:
    """The sum of several accumulator states of one block (on a worker)."""
    from aiguard.detect._drift.reference._reference import Reference  # noqa: PLC0415 - cycle

    ref = Reference._from_fitted(fitted)  # noqa: SLF001 - the package's own
    total = Accumulator(ref, methods)
    for state in states:
        total = total + Accumulator.from_bytes(ref, state)
    return total.to_bytes()


def finish_block(
    fitted: FittedReference, state: bytes, chosen: tuple[str, ...], eps: float
) -> Sheet:
    """The block's statistics from its merged state (on a worker)."""
    from aiguard.detect._drift.reference._reference import Reference  # noqa: PLC0415 - cycle

    acc = Accumulator.from_bytes(Reference._from_fitted(fitted), state)  # noqa: SLF001
    return acc.sheet(chosen, eps=eps)


def _n_rows(data: Any, parts: list[Any]) -> int:
    """Rows of *data*: its shape when Dask knows it, else counted (one pass)."""
    rows = getattr(data, "shape", (math.nan,))[0]
    if isinstance(rows, int | np.integer):
        return int(rows)
    dask = need_dask("a Dask comparison")
    return int(sum(dask.compute(*[dask.delayed(len)(p) for p in parts])))


def _shipped(dask: Any, fitted: FittedReference) -> Any:
    """The fitted reference as one value of the graph: scattered to a distributed cluster once.

    Under a ``distributed.Client`` it is scattered (sent to one worker, then
    copied worker to worker as tasks need it, never through the scheduler's
    graph); under another scheduler it is one key of the graph.
    """
    client = getattr(dask.base.get_scheduler(), "__self__", None)
    if client is not None and hasattr(client, "scatter"):
        return client.scatter(fitted, hash=False)
    return dask.delayed(fitted, name=f"aiguard-reference-{uuid.uuid4().hex}", traverse=False)


def compare_dask(
    sheet: Sheet,
    fitted: FittedReference,
    current: Any,
    *,
    max_memory: int | None,
    split_every: int = SPLIT_EVERY,
) -> None:
    """Fill *sheet* from a Dask array or DataFrame, on the current Dask scheduler.

    Raises:
        InvalidInputError: *current* does not have the reference's columns.
        ConfigurationError: one feature's state does not fit *max_memory*.
    """
    dask = need_dask("compare of a Dask collection")
    if sheet.compat is not None:
        raise ConfigurationError(
            "compat", "None for a Dask collection (Evidently bins whole columns)", sheet.compat
        )
    names = fitted.names
    if hasattr(current, "columns"):
        absent = [n for n in names if n not in [str(c) for c in current.columns]]
        if absent:
            raise InvalidInputError(
                "current", f"the reference's columns {list(names)}", f"missing {absent}"
            )
    elif getattr(current, "ndim", 0) in (1, 2):
        width = 1 if current.ndim == 1 else current.shape[1]
        if width != len(names):
            raise InvalidInputError(
                "current", f"{len(names)} feature columns like the reference", f"{width} columns"
            )
    parts = chunks(current, "current")
    methods = sheet.chosen
    n_current = _n_rows(current, parts) if KEPT_METHODS.intersection(methods) else 0
    step = plan_dask_blocks(fitted, n_current, methods, max_memory or TASK_MEMORY)
    whole = _shipped(dask, fitted)
    finals = []
    for start in range(0, fitted.n_features, step):
        stop = min(fitted.n_features, start + step)
        block = dask.delayed(_block_reference, pure=True)(whole, start, stop)
        states = [
            dask.delayed(chunk_state, pure=True)(block, chunk, start, methods) for chunk in parts
        ]
        merged = tree_reduce(states, merge_states, block, methods, split_every=split_every)
        finals.append(dask.delayed(finish_block, pure=True)(block, merged, sheet.chosen, sheet.eps))
    for start, part in zip(range(0, fitted.n_features, step), dask.compute(*finals), strict=True):
        sheet.put(start, part)
    if sheet.n_rows == 0:
        raise InvalidInputError("current", "non-empty", "0 rows")

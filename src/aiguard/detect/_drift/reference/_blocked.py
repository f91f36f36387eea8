"""Fit and compare in blocks of features, within a memory budget.

The rank statistics need each feature's values whole and sorted, so the
unit of work is a block of features: read the block from the source (in
chunks of rows), fit or compare it with the in-memory code, keep its small
results, drop it. The numbers are those of the in-memory path on the whole
columns, because each feature is computed from all of its values at once.

A reference fitted in blocks keeps its sorted columns in a scratch file
(column-major, so a block is one contiguous read), mapped read-only and
unlinked at once: the file lives as long as the reference and no longer.
Compare reads the reference's block from that mapping and drops its pages
again (:func:`~aiguard.detect._drift.scale.release`) after the block. The budget, the
sources and the progress bar come from :mod:`~aiguard.detect._drift.scale`.

The next block is read in a background thread while the current one is
computed (:func:`prefetched`). Cost: one sort per feature for the fit and for
each comparison, as in memory; a row-major source (an ``.npy`` file, an iterator's scratch file
is column-major) is read once per block, a Parquet file reads only the
block's columns.
"""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aiguard.detect._drift._workers import resolve_workers
from aiguard.detect._drift.binned import pad_edges
from aiguard.detect._drift.inputs import as_table
from aiguard.detect._drift.reference._compare import Sheet, fill_sheet
from aiguard.detect._drift.reference._fit import fit_reference
from aiguard.detect._drift.reference._fitted import FittedReference
from aiguard.detect._drift.scale import plan_blocks, release
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from aiguard.detect._drift.binned import BinsSpec
    from aiguard.detect._drift.scale import Progress, Source

__all__ = ["compare_blocked", "fit_blocked"]


def prefetched(source: Source, k: int, step: int) -> Iterator[tuple[int, int, Any]]:
    """``(start, stop, block)`` for each block of *step* of the *k* columns of *source*.

    The next block is read in a background thread while the caller computes
    the current one (pyarrow and numpy's copies release the GIL), so reading
    and sorting overlap on two cores. At most two blocks of current data are
    held: within :data:`~aiguard.detect._drift.scale.BYTES_PER_VALUE`, which
    counts a sorted copy that the in-place sort of a block does not make.
    """
    bounds = [(start, min(k, start + step)) for start in range(0, k, step)]
    with ThreadPoolExecutor(1, thread_name_prefix="aiguard-read") as pool:
        pending = pool.submit(source.read, *bounds[0])
        for i, (start, stop) in enumerate(bounds):
            block = pending.result()
            if i + 1 < len(bounds):
                pending = pool.submit(source.read, *bounds[i + 1])
            yield start, stop, block
            del block


def _block_categorical(
    categorical: bool | Sequence[int | str] | None,  # noqa: FBT001 - the user's categorical= as given
    names: tuple[str, ...],
    start: int,
    stop: int,
) -> bool | list[int] | None:
    """The ``categorical=`` argument restricted to the columns ``start:stop``."""
    if categorical is None or isinstance(categorical, bool):
        return categorical
    wanted = set()
    for c in categorical:
        if isinstance(c, str):
            if c not in names:
                raise ConfigurationError("categorical", f"names among {list(names)}", c)
            wanted.add(names.index(c))
        else:
            if not 0 <= int(c) < len(names):
                raise ConfigurationError("categorical", f"indices in [0, {len(names)})", c)
            wanted.add(int(c))
    return [j - start for j in sorted(wanted) if start <= j < stop]


def fit_blocked(
    source: Source,
    *,
    feature_names: Sequence[str] | None,
    categorical: bool | Sequence[int | str] | None,
    bins: BinsSpec,
    workers: int | None,
    max_memory: int,
    spill_dir: str | None,
    progress: Progress,
) -> FittedReference:
    """Fit a reference block by block (see the module doc); sorted columns go to a scratch file.

    Raises:
        ConfigurationError: one feature does not fit in *max_memory*, or bad
            ``feature_names`` / ``categorical``.
        InvalidInputError: as :class:`~aiguard.drift.Reference`.
    """
    names = tuple(str(n) for n in feature_names) if feature_names is not None else source.names
    if len(names) != len(source.names):
        raise ConfigurationError(
            "feature_names", f"{len(source.names)} names", list(feature_names or ())
        )
    source.select(source.names, "data")
    k, n = len(names), source.n_rows
    threads = resolve_workers(workers, n * k, k)
    step, threads = plan_blocks(n, max_memory, k, threads)
    given = source
    if step < k:
        source = source.columnar(spill_dir)
    fd, scratch = tempfile.mkstemp(prefix="aiguard-reference-", suffix=".bin", dir=spill_dir)
    parts: list[_Part] = []
    try:
        with os.fdopen(fd, "wb") as fh:
            for start, stop, block in prefetched(source, k, step):
                table = as_table(
                    block,
                    argument="data",
                    feature_names=names[start:stop],
                    categorical=_block_categorical(categorical, names, start, stop),
                    check_finite=False,
                )
                part = fit_reference(table, bins, threads, overwrite=True)
                part.sorted_values.T.tofile(fh)  # Fortran order: the columns one after another
                parts.append(_Part(start, part))
                del part, table, block
                progress.advance(stop - start, n)
        return _assemble(parts, names, n, bins, Path(scratch))
    finally:
        progress.close()
        if source is not given:
            source.close()
        Path(scratch).unlink(missing_ok=True)  # a mapping keeps its data until it is closed


class _Part:
    """The small fields of one block's fitted state (its sorted values are on disk)."""

    __slots__ = (
        "categorical",
        "categories",
        "category_counts",
        "counts",
        "inner",
        "missing",
        "n_valid",
        "numeric",
        "summary",
    )

    def __init__(self, start: int, part: FittedReference) -> None:
        p = range(len(part.numeric_index))
        self.numeric = [start + j for j in part.numeric_index]
        self.categorical = [start + j for j in part.categorical_index]
        self.inner = [part.inner_edges(i).copy() for i in p]
        self.counts = [part.counts[i, : int(part.nbins[i])].copy() for i in p]
        self.n_valid = part.n_valid.copy()
        self.missing = part.missing.copy()
        self.categories = list(part.categories)
        self.category_counts = list(part.category_counts)
        self.summary = list(part.summary)


def _assemble(
    parts: list[_Part], names: tuple[str, ...], n: int, bins: BinsSpec, scratch: Path
) -> FittedReference:
    """One state from the blocks' states, the sorted columns mapped from *scratch*."""
    numeric = [j for part in parts for j in part.numeric]
    edges, nbins = pad_edges([e for part in parts for e in part.inner])
    counts = np.zeros((len(numeric), edges.shape[0] + 1), dtype=np.int64)
    for i, c in enumerate(c for part in parts for c in part.counts):
        counts[i, : c.size] = c
    values = (
        np.memmap(scratch, dtype=np.float64, mode="r", shape=(n, len(numeric)), order="F")
        if numeric
        else np.empty((n, 0))
    )
    return FittedReference(
        names=names,
        numeric_index=numeric,
        categorical_index=[j for part in parts for j in part.categorical],
        n_rows=n,
        bins=bins,
        sorted_values=values,
        n_valid=np.concatenate([part.n_valid for part in parts]),
        edges=edges,
        nbins=nbins,
        counts=counts,
        missing=np.concatenate([part.missing for part in parts]),
        categories=[c for part in parts for c in part.categories],
        category_counts=[c for part in parts for c in part.category_counts],
        summary=[s for part in parts for s in part.summary],
    )


def compare_blocked(
    sheet: Sheet,
    ref: FittedReference,
    source: Source,
    *,
    workers: int | None,
    max_memory: int,
    spill_dir: str | None,
    progress: Progress,
) -> None:
    """Fill *sheet* block by block from *source* (see the module doc).

    Raises:
        ConfigurationError: one feature does not fit in *max_memory*.
        InvalidInputError: the source does not have the reference's columns.
    """
    k = ref.n_features
    source.select(ref.names, "current")
    values = ref.n_rows + source.n_rows
    step, threads = plan_blocks(values, max_memory, k, resolve_workers(workers, values * k, k))
    given = source
    if step < k:
        source = source.columnar(spill_dir)
    try:
        for start, stop, block in prefetched(source, k, step):
            sub = ref.subset(start, stop)
            part = Sheet(stop - start, sheet.chosen, eps=sheet.eps, compat=sheet.compat)
            fill_sheet(part, sub, block, threads, overwrite=True)
            del block
            release(ref.sorted_values)  # the block's pages of a mapped reference
            sheet.put(start, part)
            progress.advance(stop - start, source.n_rows)
    finally:
        progress.close()
        if source is not given:
            source.close()

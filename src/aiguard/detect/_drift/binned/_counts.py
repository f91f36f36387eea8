"""Bin counts of numeric columns on padded edges: from sorted columns, or in one read.

Counts are integers of shape ``(n_features, n_bins)``; features with fewer
bins are padded with zeros (their edges with +inf). Bins are closed on the
left like ``np.histogram``: ``[e_i, e_{i+1})``; NaN lands in no bin.
"""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING, Final

import numpy as np

from aiguard.detect._drift._workers import run_blocks

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["bin_counts", "scan_bin_counts", "sorted_bin_counts"]


_CHUNK_ELEMENTS: Final = 1 << 16


_BYTE_MAX: Final = 255  # chunks added into one byte counter before it is flushed


_MAX_TILE_BYTES: Final = 16 << 20


def sorted_bin_counts(
    values: NDArray[np.float64], n_valid: NDArray[np.int64], edges: NDArray[np.float64]
) -> NDArray[np.int64]:
    """Bin counts read off columns sorted ascending (NaN last): binary searches, no data pass.

    Equal to :func:`bin_counts` on the same data (bins closed on the left).
    """
    f, k = edges.shape[1], edges.shape[0] + 1
    counts = np.empty((f, k), dtype=np.int64)
    for j in range(f):
        col = values[: n_valid[j], j]
        below = np.searchsorted(col, edges[:, j], side="left")
        counts[j] = np.diff(np.concatenate(([0], below, [col.size])))
    return counts


def bin_counts(values: NDArray[np.float64], edges: NDArray[np.float64]) -> NDArray[np.int64]:
    """Bin counts of every column of *values* ``(n, f)`` on padded *edges* ``(m, f)``.

    :func:`scan_bin_counts` without the non-finite candidates.
    """
    return scan_bin_counts(values, edges)[0]


def scan_bin_counts(
    values: NDArray[np.float64],
    edges: NDArray[np.float64],
    nan_columns: NDArray[np.intp] | None = None,
    *,
    tile_cache: dict[int, NDArray[np.float64]] | None = None,
    workers: int = 1,
) -> tuple[NDArray[np.int64], NDArray[np.intp]]:
    """Bin counts per column, and the columns that may hold a non-finite value.

    For each edge, count the values ``>=`` it per column; bin counts are the
    differences. The data is read in flat, contiguous chunks that stay in
    cache, compared with the edges tiled to the chunk's length (long inner
    loops, no broadcasting; *tile_cache*, keyed by chunk length, keeps the
    tiles for the next call on the same edges). Each edge's boolean masks are
    added up as ``uint64`` words into a byte-per-value accumulator (eight byte
    counters per word, no carry while a counter stays below 256), reduced to
    per-column counts every 255 chunks. NaN lands in no bin.

    Without *nan_columns*, each chunk's sum (taken while it is in cache) tells
    whether it may hold NaN or inf; only such chunks are read again, per
    column. *workers* threads take contiguous blocks of chunks.

    Returns:
        ``(counts, candidates)``: ``(f, m + 1)`` counts, and the columns that
        may hold a non-finite value (their sum is not finite; the caller checks
        those for inf). With *nan_columns* given, *nan_columns* itself.
    """
    n, f = values.shape
    m = edges.shape[0]
    if f == 0:
        return np.zeros((0, m + 1), dtype=np.int64), np.zeros(0, dtype=np.intp)
    if not values.flags.c_contiguous:
        values = np.ascontiguousarray(values)
    lane = f * 8 // math.gcd(f, 8)  # lcm(f, 8): whole rows and whole uint64 words
    per = lane // f  # data rows per lane
    rows = per * max(1, min(_CHUNK_ELEMENTS // lane, n // per))
    tiles = _tiles(edges, rows, tile_cache) if m * rows * f * 8 <= _MAX_TILE_BYTES else None
    chunks = n // rows
    at_least = np.zeros((m, f), dtype=np.int64)
    suspect: list[slice] = []
    lock = threading.Lock()

    def count(first: int, last: int) -> None:
        part = values[first * rows : last * rows]
        mine, odd = _count_chunks(part, edges, tiles, rows, last - first)
        with lock:
            at_least[...] += mine
            suspect.extend(slice(s.start + first * rows, s.stop + first * rows) for s in odd)

    run_blocks(count, chunks, workers if chunks >= 4 * workers else 1)
    full = chunks * rows
    if full < n:  # the last rows, fewer than a chunk
        tail = values[full:]
        for e in range(m):
            at_least[e] += np.count_nonzero(tail >= edges[e], axis=0)
        suspect.append(slice(full, n))
    if nan_columns is None:
        bad = np.zeros(f, dtype=bool)
        with np.errstate(invalid="ignore", over="ignore"):
            for part in suspect:
                bad |= ~np.isfinite(values[part].sum(axis=0))
        nan_columns = np.flatnonzero(bad)
    valid = np.full(f, n, dtype=np.int64)
    if nan_columns.size:  # NaN compares False with every edge
        valid[nan_columns] -= np.isnan(values[:, nan_columns]).sum(axis=0)
    cumulative = np.vstack([valid, at_least, np.zeros(f, dtype=np.int64)])
    counts: NDArray[np.int64] = (cumulative[:-1] - cumulative[1:]).T.copy()
    return counts, nan_columns


def _tiles(
    edges: NDArray[np.float64], rows: int, cache: dict[int, NDArray[np.float64]] | None
) -> NDArray[np.float64]:
    """*edges* ``(m, f)`` tiled to ``(m, rows * f)``, from *cache* when it has them."""
    tiles = None if cache is None else cache.get(rows)
    if tiles is None:
        tiles = np.tile(edges, (1, rows))
        if cache is not None:
            cache.clear()  # one chunk length at a time
            cache[rows] = tiles
    return tiles


def _count_chunks(
    values: NDArray[np.float64],
    edges: NDArray[np.float64],
    tiles: NDArray[np.float64] | None,
    rows: int,
    chunks: int,
) -> tuple[NDArray[np.int64], list[slice]]:
    """``#(value >= edge)`` per edge and column over the first *chunks* chunks of *rows* rows.

    Also returns the row ranges of the chunks whose sum is not finite.
    """
    f = values.shape[1]
    m = edges.shape[0]
    size = rows * f
    flat = values.reshape(-1)
    masks = np.empty((m, size), dtype=bool)  # one row per edge, added up in one call
    words = masks.view(np.uint64)
    acc = np.zeros((m, size // 8), dtype=np.uint64)
    at_least = np.zeros((m, f), dtype=np.int64)
    suspect: list[slice] = []
    pending = 0
    with np.errstate(invalid="ignore", over="ignore"):
        for c in range(chunks):
            chunk = flat[c * size : (c + 1) * size]
            if not math.isfinite(chunk.sum()):
                suspect.append(slice(c * rows, (c + 1) * rows))
            for e in range(m):
                if tiles is not None:
                    np.greater_equal(chunk, tiles[e], out=masks[e])
                else:  # very many bins: broadcast one edge row instead of tiling them all
                    np.greater_equal(
                        chunk.reshape(rows, f), edges[e], out=masks[e].reshape(rows, f)
                    )
            np.add(acc, words, out=acc)
            pending += 1
            if pending == _BYTE_MAX:
                _flush(acc, at_least, rows, f)
                pending = 0
    if pending:
        _flush(acc, at_least, rows, f)
    return at_least, suspect


def _flush(acc: NDArray[np.uint64], at_least: NDArray[np.int64], rows: int, f: int) -> None:
    """Add the byte counters of *acc* to *at_least* per column and zero them."""
    m = acc.shape[0]
    at_least += acc.view(np.uint8).reshape(m, rows, f).sum(axis=1, dtype=np.int64)
    acc.fill(0)

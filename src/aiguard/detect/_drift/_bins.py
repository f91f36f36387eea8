"""Binning rules and the binned statistics computed from bin counts.

Everything works on bin *counts*, shape ``(n_features, n_bins)``, so a fitted
reference, a streaming accumulator and the one-shot functions share one code
path. Features with fewer bins are padded; ``valid`` masks the real bins.

Binning rules (numeric columns, fitted on the reference):

* ``bins=int`` (default 10): quantile bins of the reference. Tied quantiles
  merge; when the reference has at most ``bins`` distinct values each value
  gets its own bin.
* ``bins="sturges"`` / ``"doane"``: ``np.histogram_bin_edges`` of the reference.
* explicit edges: a strictly increasing sequence of at least two finite numbers.
* Values outside the reference range go to the outer bins (no value is dropped).
* A constant reference (one distinct value ``c``) gets three bins: below ``c``,
  exactly ``c``, above ``c``, so that any change is visible.

Bins are closed on the left like ``np.histogram``: ``[e_i, e_{i+1})``.

Epsilon rule (PSI and KL only): proportions are floored at ``eps`` (default
1e-4) in every real bin and renormalised to sum to one, so an empty bin
contributes a large but finite term and the divergences stay non-negative.
Jensen-Shannon and Hellinger use the raw proportions.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, Union

import numpy as np
from scipy.special import rel_entr

from aiguard.detect._drift._workers import run_blocks
from aiguard.errors import ConfigurationError, InvalidInputError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "BINNED_METHODS",
    "BinsSpec",
    "bin_counts",
    "binned_statistics",
    "evidently_proportions",
    "fit_inner_edges",
    "pad_edges",
    "proportions",
    "sorted_bin_counts",
    "sorted_quantiles",
]

BinsSpec = Union[int, str, Sequence[float], "np.ndarray[Any, Any]"]
BINNED_METHODS: Final = ("psi", "jensenshannon", "kl", "hellinger")
DEFAULT_EPS: Final = 1e-4
_CHUNK_ELEMENTS: Final = 1 << 16
_BYTE_MAX: Final = 255  # chunks added into one byte counter before it is flushed
_MAX_TILE_BYTES: Final = 16 << 20


def validate_bins(bins: object) -> BinsSpec:
    """Return *bins* if it is a valid bins specification, else raise ConfigurationError."""
    if isinstance(bins, str):
        if bins not in {"sturges", "doane"}:
            raise ConfigurationError("bins", "an int, 'sturges', 'doane' or edges", bins)
        return bins
    if isinstance(bins, (bool, np.bool_)):
        raise ConfigurationError("bins", "an int, 'sturges', 'doane' or edges", bins)
    if isinstance(bins, (int, np.integer)):
        if bins < 1:
            raise ConfigurationError("bins", "a positive int", bins)
        return int(bins)
    try:
        edges = np.asarray(bins, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError("bins", "an int, 'sturges', 'doane' or edges", bins) from exc
    if edges.ndim != 1 or edges.size < 2 or not np.isfinite(edges).all():
        raise ConfigurationError("bins", "at least two finite edges", bins)
    if not (np.diff(edges) > 0).all():
        raise ConfigurationError("bins", "strictly increasing edges", bins)
    return edges


def sorted_quantiles(
    sorted_col: NDArray[np.float64], q: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``np.quantile(sorted_col, q)`` ("linear"), bit for bit, without a copy or a partition.

    The column is already sorted, so the order statistics are plain lookups;
    the interpolation repeats numpy's ``_lerp`` (including its switch to
    ``b - (b - a) (1 - t)`` for ``t >= 0.5``).
    """
    n = sorted_col.size
    virtual = (n - 1) * q
    above = virtual >= n - 1
    previous = np.where(above, -1.0, np.floor(virtual))
    gamma = virtual - previous
    lo = np.where(above, n - 1, previous).astype(np.intp)
    hi = np.where(above, n - 1, previous + 1).astype(np.intp)
    a, b = sorted_col[lo], sorted_col[hi]
    diff = b - a
    out: NDArray[np.float64] = np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)
    return out


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


def _more_distinct_than(sorted_col: NDArray[np.float64], bins: int) -> bool:
    """Whether a sorted column holds more than *bins* distinct values.

    A probe of ``4 * bins + 1`` evenly spaced values decides most columns
    without a pass over all of them (distinct values in the probe are distinct
    in the column); only when the probe is inconclusive is every value read.
    """
    n = sorted_col.size
    if n > 4 * bins + 1:
        probe = sorted_col[np.linspace(0, n - 1, 4 * bins + 1).astype(np.intp)]
        if np.count_nonzero(probe[1:] != probe[:-1]) + 1 > bins:
            return True
    return bool(np.count_nonzero(sorted_col[1:] != sorted_col[:-1]) + 1 > bins)


def fit_inner_edges(sorted_col: NDArray[np.float64], bins: BinsSpec) -> NDArray[np.float64]:
    """Inner bin edges of one reference column (sorted, NaN-free, non-empty).

    The bins are ``(-inf, e_0), [e_0, e_1), ..., [e_last, +inf)``.
    """
    if not isinstance(bins, (str, int)):
        explicit: NDArray[np.float64] = np.asarray(bins, dtype=np.float64)[1:-1].copy()
        return explicit
    lo, hi = sorted_col[0], sorted_col[-1]
    if lo == hi:
        return np.array([lo, np.nextafter(lo, np.inf)])
    if isinstance(bins, str):
        rule: NDArray[np.float64] = np.histogram_bin_edges(sorted_col, bins=bins)[1:-1].copy()
        return rule
    if not _more_distinct_than(sorted_col, bins):
        distinct = sorted_col[np.r_[True, sorted_col[1:] != sorted_col[:-1]]]
        each: NDArray[np.float64] = distinct[1:].copy()
        return each
    inner = np.unique(sorted_quantiles(sorted_col, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    kept: NDArray[np.float64] = inner[inner > lo]
    return kept


def pad_edges(inner: Sequence[NDArray[np.float64]]) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """Stack per-feature inner edges into ``(max_edges, n_features)`` padded with +inf.

    Returns the padded edges and the number of bins of each feature.
    """
    nbins = np.array([e.size + 1 for e in inner], dtype=np.intp)
    width = int(nbins.max()) - 1 if nbins.size else 0
    out = np.full((width, len(inner)), np.inf)
    for j, e in enumerate(inner):
        out[: e.size, j] = e
    return out, nbins


def bin_counts(
    values: NDArray[np.float64],
    edges: NDArray[np.float64],
    nan_columns: NDArray[np.intp] | None = None,
    *,
    tile_cache: dict[int, NDArray[np.float64]] | None = None,
) -> NDArray[np.int64]:
    """Bin counts of every column of *values* ``(n, f)`` on padded *edges* ``(m, f)``.

    See :func:`scan_bin_counts`; *nan_columns* (the columns that may hold
    NaN, when the caller already knows them) spares finding them.
    """
    counts, _ = scan_bin_counts(values, edges, nan_columns, tile_cache=tile_cache)
    return counts


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


def bin_labels(edges: NDArray[np.float64]) -> tuple[str, ...]:
    """Readable labels of the bins between inner *edges* (as few digits as keep them apart)."""
    if edges.size == 0:
        return ("all",)
    for digits in range(3, 18):  # the fewest significant digits that keep edges apart
        text = [f"{e:.{digits}g}" for e in edges]
        if len(set(text)) == len(text):
            break
    inner = [f"[{a}, {b})" for a, b in itertools.pairwise(text)]
    return (f"< {text[0]}", *inner, f">= {text[-1]}")


def proportions(counts: NDArray[np.int64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Row-normalised proportions and row totals (rows of zero give NaN)."""
    totals = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return counts / totals[:, None], totals


def _floored(p: NDArray[np.float64], valid: NDArray[np.bool_], eps: float) -> NDArray[np.float64]:
    """The documented epsilon rule: floor real bins at *eps*, renormalise."""
    q = np.where(valid, np.maximum(p, eps), 0.0)
    out: NDArray[np.float64] = q / q.sum(axis=1, keepdims=True)
    return out


def _js(p: NDArray[np.float64], q: NDArray[np.float64], base: float | None) -> NDArray[np.float64]:
    m = (p + q) / 2.0
    js = (rel_entr(p, m).sum(axis=1) + rel_entr(q, m).sum(axis=1)) / 2.0
    if base is not None:
        js = js / np.log(base)
    out: NDArray[np.float64] = np.sqrt(np.maximum(js, 0.0))
    return out


def statistic_from_proportions(
    method: str,
    p_ref: NDArray[np.float64],
    p_cur: NDArray[np.float64],
    valid: NDArray[np.bool_],
    *,
    eps: float = DEFAULT_EPS,
    base: float | None = None,
    filled: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
) -> NDArray[np.float64]:
    """One binned statistic per row of the proportion matrices.

    *filled* replaces the epsilon rule with already-filled proportions (the
    Evidently compatibility path).
    """
    if method in {"psi", "kl"}:
        a, b = (
            filled
            if filled is not None
            else (_floored(p_ref, valid, eps), _floored(p_cur, valid, eps))
        )
        if method == "kl":
            return np.asarray(rel_entr(a, b).sum(axis=1), dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(valid, (a - b) * np.log(a / b), 0.0)
        return np.asarray(terms.sum(axis=1), dtype=np.float64)
    p = np.where(valid, p_ref, 0.0)
    q = np.where(valid, p_cur, 0.0)
    if method == "jensenshannon":
        return _js(p, q, base)
    # hellinger (methods are validated by the callers)
    dist: NDArray[np.float64] = np.sqrt(((np.sqrt(p) - np.sqrt(q)) ** 2).sum(axis=1) / 2.0)
    return dist


def binned_statistics(
    methods: Sequence[str],
    ref_counts: NDArray[np.int64],
    cur_counts: NDArray[np.int64],
    nbins: NDArray[np.intp],
    *,
    eps: float = DEFAULT_EPS,
    base: float | None = None,
) -> dict[str, NDArray[np.float64]]:
    """Each method's statistic per feature from reference and current bin counts."""
    valid = np.arange(ref_counts.shape[1])[None, :] < nbins[:, None]
    p_ref, n_ref = proportions(ref_counts)
    p_cur, n_cur = proportions(cur_counts)
    empty = (n_ref == 0) | (n_cur == 0)
    if empty.any():
        p_ref = np.where(empty[:, None], 1.0 / nbins[:, None], p_ref)
        p_cur = np.where(empty[:, None], 1.0 / nbins[:, None], p_cur)
    out: dict[str, NDArray[np.float64]] = {}
    for method in methods:
        stat = statistic_from_proportions(method, p_ref, p_cur, valid, eps=eps, base=base)
        out[method] = np.where(empty, np.nan, stat)
    return out


# --- compat="evidently" ---------------------------------------------------------------------


def _evidently_fill(p: NDArray[np.float64]) -> NDArray[np.float64]:
    nonzero = p[p != 0]
    smallest = float(nonzero.min()) if nonzero.size else 1.0
    fill = smallest / 1e6 if smallest <= 1e-4 else 1e-4
    return np.where(p == 0, fill, p)


def evidently_proportions(
    ref: NDArray[Any], cur: NDArray[Any], *, numeric: bool
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Evidently 0.7's ``get_binned_data`` proportions (unfilled) for one column.

    More than 20 distinct reference values (numeric columns): Sturges edges of
    the concatenation; otherwise one bin per distinct value of the union.
    Proportions are count / n.
    """
    ref_unique = np.unique(ref)
    if numeric and ref_unique.size > 20:
        edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
        return (
            np.histogram(ref, edges)[0] / ref.size,
            np.histogram(cur, edges)[0] / cur.size,
        )
    keys = np.union1d(ref_unique, np.unique(cur))
    ref_counts = np.bincount(np.searchsorted(keys, ref), minlength=keys.size)
    cur_counts = np.bincount(np.searchsorted(keys, cur), minlength=keys.size)
    return ref_counts / ref.size, cur_counts / cur.size


def evidently_statistic(
    method: str, ref: NDArray[Any], cur: NDArray[Any], *, numeric: bool, base: float | None = None
) -> float:
    """One statistic with Evidently 0.7's exact rules (NaN-free 1-D inputs)."""
    if method == "hellinger":
        return _evidently_hellinger(ref, cur, numeric=numeric)
    p, q = evidently_proportions(ref, cur, numeric=numeric)
    valid = np.ones((1, p.size), dtype=bool)
    filled = None
    if method in {"psi", "kl"}:
        filled = (_evidently_fill(p)[None, :], _evidently_fill(q)[None, :])
        if method == "kl":  # scipy.stats.entropy normalises its inputs
            filled = (filled[0] / filled[0].sum(), filled[1] / filled[1].sum())
    stat = statistic_from_proportions(
        method, p[None, :], q[None, :], valid, base=base, filled=filled
    )
    return float(stat[0])


def _evidently_hellinger(ref: NDArray[Any], cur: NDArray[Any], *, numeric: bool) -> float:
    """Evidently's Hellinger: categorical shares, or Sturges bins of the distinct values."""
    keys = np.union1d(np.unique(ref), np.unique(cur))
    if not numeric:
        p = np.bincount(np.searchsorted(keys, ref), minlength=keys.size) / ref.size
        q = np.bincount(np.searchsorted(keys, cur), minlength=keys.size) / cur.size
        bc = float(np.sqrt(p * q).sum())
    else:
        edges = np.histogram_bin_edges(keys, bins="sturges")
        h1 = np.histogram(ref, bins=edges, density=True)[0]
        h2 = np.histogram(cur, bins=edges, density=True)[0]
        width = (edges.max() - edges.min()) / (edges.size - 1)
        bc = float(np.sqrt(h1 * h2).sum() * width)
    return float(np.sqrt(1.0 - np.clip(bc, 0.0, 1.0)))


def check_compat(compat: object) -> str | None:
    """Return *compat* if it is None or ``"evidently"``, else raise ConfigurationError."""
    if compat not in (None, "evidently"):
        raise ConfigurationError("compat", "None or 'evidently'", compat)
    return None if compat is None else "evidently"


def check_eps(eps: object) -> float:
    """Return *eps* if it is a float in (0, 1), else raise ConfigurationError."""
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0.0 < eps < 1.0:
        raise ConfigurationError("eps", "a float in (0, 1)", eps)
    return float(eps)


def check_base(base: object) -> float | None:
    """Return *base* if it is None or a float > 0 other than 1, else raise ConfigurationError."""
    if base is None:
        return None
    if isinstance(base, bool) or not isinstance(base, (int, float)) or base <= 0 or base == 1:
        raise ConfigurationError("base", "None or a positive number other than 1", base)
    return float(base)


def empty_error(argument: str, name: str) -> InvalidInputError:
    """The error for a column with no usable value."""
    return InvalidInputError(
        argument, "at least one non-missing value per column", f"none in {name!r}"
    )

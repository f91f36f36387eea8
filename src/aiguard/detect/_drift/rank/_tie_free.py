"""The tie-free path of the merge, and the integer keys both merge paths sort.

Long rows without ties (the common case of continuous data) take a shorter
path, :func:`tie_free_row`, when only KS, Cramér-von Mises, Wasserstein and
the reference's standard deviation are wanted. It never materialises the
merged values: the merge of the integer keys yields ``kr[i]``, the number of
reference values below the ``i``-th current value, and with no ties

* ``max(F_ref - F_cur) = max(0, max_i(kr[i] / n - i / m))`` (just before a
  current value) and ``max(F_cur - F_ref) = max_i((i + 1) / m - kr[i] / n)``;
* Cramér-von Mises' ``U = m * sum(kr^2) + n * sum_j(kc[j]^2)`` where ``kc[j]``,
  the number of current values below the ``j``-th reference value, is
  ``#{i: kr[i] <= j}``, so ``sum_j kc[j]^2 = sum_i (2i + 1) (n - kr[i])``;
* Wasserstein-1 is the integral of ``|F_ref^-1(t) - F_cur^-1(t)|`` over
  ``t`` in (0, 1): the mean of ``|r[i] - c[i]|`` when ``n == m``, else a sum
  over the merged grid of the two samples' steps ``i / n`` and ``j / m``
  (which depends on ``n`` and ``m`` only, and is cached).

A row with any tie in the pooled sample goes through the general path
(:mod:`._merge`).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from aiguard.detect._drift._types import FloatArray

__all__ = ["TIE_FREE", "RowBuffers", "einsum_dot", "merge_keys", "sorted_keys", "tie_free_row"]


TIE_FREE = frozenset({"ks_plus", "ks_minus", "wasserstein", "cvm_u", "ref_std"})


_MAGNITUDE = np.uint64(0x7FFF_FFFF_FFFF_FFFF)


_SIGN = np.uint64(0x8000_0000_0000_0000)


_ONE = np.uint64(1)


_TWO = np.uint64(2)


def sorted_keys(ref: FloatArray, cur: FloatArray, keys: npt.NDArray[np.uint64]) -> int:
    """Write the merged order of two sorted rows into *keys* as tagged integer keys.

    A float's bits read as an unsigned integer order non-negative floats; for
    negative ones the magnitude bits flipped do (the sign bit is the same
    within each group). Shifted left by one, the freed bit holds the origin
    (0 reference, 1 current), so equal values put the reference first, and
    ``-0.0`` gets the key of ``0.0``. Negative values come first in the
    buffer, then non-negative ones, each group a stable sort of two sorted
    runs (one linear merge). The keys depend on nothing but the value.

    Returns:
        The number of negative values (the length of the first group).
    """
    n, m = ref.size, cur.size
    nr = int(np.searchsorted(ref, 0.0, side="left"))
    nc = int(np.searchsorted(cur, 0.0, side="left"))
    neg = nr + nc
    segments = (
        (ref[:nr], 0, 0, True),
        (cur[:nc], 1, nr, True),
        (ref[nr:], 0, neg, False),
        (cur[nc:], 1, neg + n - nr, False),
    )
    for x, origin, start, negative in segments:
        out = keys[start : start + x.size]
        bits = x.view(np.uint64)
        if negative:
            np.bitwise_xor(bits, _MAGNITUDE, out=out)
            np.left_shift(out, _ONE, out=out)
        else:
            np.left_shift(bits, _ONE, out=out)
        if origin:
            np.bitwise_or(out, _ONE, out=out)
    keys[:neg].sort(kind="stable")
    keys[neg : n + m].sort(kind="stable")
    return neg


def merge_keys(
    ref: FloatArray, cur: FloatArray, values: FloatArray, tag: npt.NDArray[np.int64]
) -> None:
    """Merge one long row pair through integer keys (about twice as fast as complex).

    See :func:`sorted_keys`; the merged values are written to *values*
    (``n + m`` floats) and their origins (0 reference, 1 current) to *tag*.
    """
    keys = values.view(np.uint64)
    neg = sorted_keys(ref, cur, keys)
    np.bitwise_and(keys, _ONE, out=tag.view(np.uint64))
    np.right_shift(keys, _ONE, out=keys)
    if neg:
        np.bitwise_xor(keys[:neg], _MAGNITUDE, out=keys[:neg])
        np.bitwise_or(keys[:neg], _SIGN, out=keys[:neg])


class RowBuffers:
    """Work arrays of the tie-free path for one row length, reused across rows."""

    __slots__ = ("gaps", "keys", "kr", "odd", "ordinal", "pos", "s", "steps", "tag")

    def __init__(self, n: int, m: int) -> None:
        total = n + m
        self.keys = np.empty(total, dtype=np.uint64)
        self.gaps = np.empty(total, dtype=np.uint64)
        self.tag = np.empty(total, dtype=np.uint8)
        self.pos = np.empty(m)
        self.s = np.empty(m)
        self.kr = np.empty(m)
        self.ordinal = np.arange(m, dtype=np.float64)
        self.odd = 2.0 * self.ordinal + 1.0
        self.steps = self.ordinal * (2.0 if n == m else float(n + m))


def tie_free_row(
    ref: FloatArray, cur: FloatArray, want: frozenset[str], buf: RowBuffers
) -> dict[str, float] | None:
    """KS, Cramér-von Mises, Wasserstein and the reference std of one row pair.

    Formulas in the module docstring. Returns None when the pooled sample has
    a tie (two equal keys differ by less than 2), for the general path.
    """
    n, m = ref.size, cur.size
    total = n + m
    keys = buf.keys
    neg = sorted_keys(ref, cur, keys)
    gaps = buf.gaps[: total - 1]
    np.subtract(keys[1:], keys[:-1], out=gaps)  # wraps at the sign boundary: large
    if 0 < neg < total:
        gaps[neg - 1] = _TWO  # the last negative and the first non-negative: not comparable
    if gaps.size and gaps.min() < _TWO:
        return None
    np.bitwise_and(keys, _ONE, out=buf.tag, casting="unsafe")
    # pos[i]: merged position of the i-th current value; kr[i] = pos[i] - i
    pos = buf.pos
    np.copyto(pos, np.flatnonzero(buf.tag.view(np.bool_)), casting="unsafe")
    res: dict[str, float] = {}
    if "ks_plus" in want or "ks_minus" in want:
        # n m (F_ref - F_cur) just before the i-th current value: m kr - n i = m pos - (n + m) i
        t = buf.s
        if n == m:
            np.subtract(pos, buf.steps, out=t)  # steps = 2 i; the scale n m becomes n
            scale = float(n)
        else:
            np.multiply(pos, float(m), out=t)
            np.subtract(t, buf.steps, out=t)  # steps = (n + m) i
            scale = float(n) * m
        top, bottom = float(t.max()), float(t.min())
        res["ks_plus"] = max(0.0, top) / scale
        res["ks_minus"] = (scale / m - bottom) / scale  # ((i + 1) / m - kr / n) at its largest
    if "cvm_u" in want:
        # sum kr^2, and sum_j kc[j]^2 = sum (2i + 1) (n - kr): sums of non-negative
        # integers, exact below 2^53 and never a difference of large sums beyond
        kr, rest = buf.kr, buf.s
        np.subtract(pos, buf.ordinal, out=kr)
        np.subtract(float(n), kr, out=rest)
        res["cvm_u"] = m * einsum_dot(kr, kr) + n * einsum_dot(buf.odd, rest)
    if "wasserstein" in want:
        res["wasserstein"] = _quantile_distance(ref, cur, buf)
    if "ref_std" in want:
        dev = buf.s if m == n else np.empty(n)
        np.subtract(ref, ref.mean(), out=dev)
        with np.errstate(over="ignore", invalid="ignore"):  # |x| near 1e300 overflows x**2
            res["ref_std"] = math.sqrt(einsum_dot(dev, dev) / n)
    return res


def einsum_dot(a: FloatArray, b: FloatArray) -> float:
    """``a . b`` in einsum's own loop, in the calling thread.

    Not BLAS on purpose: OpenBLAS runs a long dot on its own threads, which
    then spin on the other cores for a while and slow down every thread of a
    ``workers > 1`` comparison (measured: 142 ms against 98 ms), and it would
    quietly use a second core under ``workers=1``.
    """
    return float(np.einsum("i,i->", a, b))


def _quantile_distance(ref: FloatArray, cur: FloatArray, buf: RowBuffers) -> float:
    """Wasserstein-1 as the integral of the distance between the quantile functions."""
    n, m = ref.size, cur.size
    diff = buf.s
    if n == m:
        np.subtract(ref, cur, out=diff)
        np.abs(diff, out=diff)
        return float(diff.sum()) / n
    ref_index, cur_index, weights = _quantile_grid(n, m)
    gap = ref[ref_index] - cur[cur_index]
    np.abs(gap, out=gap)
    return einsum_dot(gap, weights)


@lru_cache(maxsize=2)
def _quantile_grid(n: int, m: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], FloatArray]:
    """Pieces of ``(0, 1]`` on which both quantile functions are constant.

    The breakpoints are ``i / n`` and ``j / m``, i.e. ``i * m`` and ``j * n`` over
    ``n * m``. On the piece ending at ``b / (n m)`` the reference quantile is
    ``ref[ceil(b / m) - 1]`` and the current one ``cur[ceil(b / n) - 1]``.

    Returns:
        Reference indices, current indices and piece lengths.
    """
    ends = np.union1d(
        np.arange(1, n + 1, dtype=np.int64) * m, np.arange(1, m + 1, dtype=np.int64) * n
    )
    ref_index = ((ends + (m - 1)) // m - 1).astype(np.intp)
    cur_index = ((ends + (n - 1)) // n - 1).astype(np.intp)
    weights = np.diff(ends, prepend=0) / (float(n) * m)
    for arr in (ref_index, cur_index, weights):
        arr.flags.writeable = False  # cached: shared by every later call
    return ref_index, cur_index, weights

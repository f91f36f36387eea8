"""Raw two-sample statistics from one merge of two sorted samples per feature.

Everything here works on *rows*: ``ref`` is ``(k, n)`` and ``cur`` is
``(k, m)``, one feature per row, each row sorted ascending, NaN- and inf-free.

The two rows of a feature are merged by a stable sort of a complex buffer whose
real part holds the values and whose imaginary part holds the origin (0 for
reference, 1 for current). Both halves are already sorted, so the stable sort
(timsort) finds two runs and does one linear merge; ties between the samples
keep reference values first, which is what ECDFs evaluated with
``side="right"`` need. From the merged row, with ``cc[p]`` / ``cr[p]`` the
number of current / reference values among the first ``p + 1``:

* ``d[p] = cr[p] / n - cc[p] / m`` is ``F_ref - F_cur`` just right of the
  ``p``-th merged value, as ``scipy.stats.ks_2samp`` evaluates it (the same
  integer counts, to a few units in the last place) when ``p`` ends a run of
  equal values;
* ``delta[p] = v[p + 1] - v[p]`` are the gaps of ``scipy.stats`` ``_cdf_distance``;
* ranks (mid-ranks for ties) follow from run starts and ends.

Rows are processed in chunks of about ``_CHUNK_ELEMENTS`` merged values with
buffers allocated once per call and reused (fresh large arrays cost page
faults, which dominate at this size).

Long rows without ties take the shorter path of :mod:`._tie_free` (KS,
Cramér-von Mises, Wasserstein and the reference's standard deviation); a row
with a tie comes back here. The merged values of one long row are decoded from
the integer keys of :func:`~._tie_free.sorted_keys`, about twice as fast as the
complex sort.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from aiguard.detect._drift._workers import run_blocks
from aiguard.detect._drift.rank._tie_free import (
    TIE_FREE,
    RowBuffers,
    merge_keys,
    tie_free_row,
)

if TYPE_CHECKING:
    from aiguard.detect._drift._types import FloatArray

__all__ = ["RAW_QUANTITIES", "merged_quantities"]

_CHUNK_ELEMENTS = 1 << 18
#: merged length from which a row takes the tie-free path (below it, per-row
#: Python overhead outweighs what the path saves)
_TIE_FREE_MIN_TOTAL = 1 << 11

#: what :func:`merged_quantities` can compute, per feature
RAW_QUANTITIES = (
    "ks_plus",  # max(F_ref - F_cur) >= 0
    "ks_minus",  # max(F_cur - F_ref) >= 0
    "wasserstein",  # integral |F_ref - F_cur|
    "energy_sq",  # integral (F_ref - F_cur)^2
    "cvm_u",  # U of Anderson (1962), mid-ranks for ties
    "ad_a2kn",  # A2akN of Scholz & Stephens (1987), mid-rank version
    "distinct",  # number of distinct values in the pooled sample
    "ref_std",  # standard deviation (ddof=0) of the reference, as numpy.std computes it
)


class _Buffers:
    """Work arrays for one chunk size, reused across chunks."""

    __slots__ = (
        "cc",
        "counts",
        "d",
        "delta",
        "idx",
        "isc",
        "scaled",
        "tag",
        "tmp",
        "tmp2",
        "v",
        "z",
    )

    def __init__(self, rows: int, total: int, n: int) -> None:
        # the complex merge buffer is only needed for chunks of several rows
        self.z = np.empty((rows if rows > 1 else 0, total), dtype=np.complex128)
        self.isc = np.empty((rows, total))
        self.v = np.empty((rows, total))
        self.cc = np.empty((rows, total))
        self.d = np.empty((rows, total))
        self.delta = np.empty((rows, total - 1))
        self.tmp = np.empty((rows, total))
        self.tmp2 = np.empty((rows, total))
        self.idx = np.arange(1, total + 1, dtype=np.float64)
        self.scaled = self.idx * float(total - n)  # (p + 1) m
        self.tag = np.empty((rows, total), dtype=np.int64)
        self.counts = np.empty((rows, total), dtype=np.int64)


def merged_quantities(
    ref: FloatArray,
    cur: FloatArray,
    want: frozenset[str],
    *,
    workers: int = 1,
    ref_std: FloatArray | None = None,
) -> dict[str, FloatArray]:
    """Compute the requested raw quantities for every row pair.

    Args:
        ref: ``(k, n)`` reference rows, each sorted ascending.
        cur: ``(k, m)`` current rows, each sorted ascending.
        want: names from :data:`RAW_QUANTITIES`.
        workers: threads for the tie-free path (blocks of rows; see
            :mod:`aiguard.detect._drift._workers`).
        ref_std: the reference rows' standard deviations when the caller already
            has them (a fitted reference); returned as ``"ref_std"`` if wanted.

    Returns:
        ``{name: (k,) float64 array}`` for each requested name.
    """
    k, n = ref.shape
    m = cur.shape[1]
    total = n + m
    rows = max(1, min(k, _CHUNK_ELEMENTS // total))
    if ref_std is not None and "ref_std" in want:
        want = want - {"ref_std"}  # given: not computed again
    else:
        ref_std = None
    out = {name: np.empty(k) for name in want}
    if ref_std is not None:
        out["ref_std"] = ref_std
    if total >= _TIE_FREE_MIN_TOTAL and want <= TIE_FREE:
        run_blocks(lambda start, stop: _by_row(ref, cur, want, out, (start, stop)), k, workers)
        return out
    buf = _Buffers(rows, total, n)
    for start in range(0, k, rows):
        stop = min(k, start + rows)
        part = _chunk(ref[start:stop], cur[start:stop], buf, want)
        for name, values in part.items():
            out[name][start:stop] = values
    return out


def _merge_complex(ref: FloatArray, cur: FloatArray, buf: _Buffers) -> None:
    """Merge many short rows at once: a stable sort of (value, origin) complex pairs."""
    rows, n = ref.shape
    z = buf.z[:rows]
    z.real[:, :n] = ref
    z.real[:, n:] = cur
    z.imag[:, :n] = 0.0
    z.imag[:, n:] = 1.0
    z.sort(axis=1, kind="stable")
    np.copyto(buf.v[:rows], z.real)
    np.copyto(buf.tag[:rows], z.imag, casting="unsafe")


def _by_row(
    ref: FloatArray,
    cur: FloatArray,
    want: frozenset[str],
    out: dict[str, FloatArray],
    block: tuple[int, int],
) -> None:
    """Fill rows ``start:stop`` (*block*) of *out*: tie-free path, or the general one on ties."""
    start, stop = block
    n = ref.shape[1]
    m = cur.shape[1]
    rowbuf = RowBuffers(n, m)
    general: _Buffers | None = None
    for j in range(start, stop):
        res = tie_free_row(ref[j], cur[j], want, rowbuf)
        if res is None:
            if general is None:
                general = _Buffers(1, n + m, n)
            for name, values in _chunk(ref[j : j + 1], cur[j : j + 1], general, want).items():
                out[name][j] = values[0]
        else:
            for name, value in res.items():
                out[name][j] = value


def _chunk(
    ref: FloatArray, cur: FloatArray, buf: _Buffers, want: frozenset[str]
) -> dict[str, FloatArray]:
    """Every quantity in *want* for a chunk of row pairs (the general path: ties allowed)."""
    rows, n = ref.shape
    m = cur.shape[1]
    need_cc = "cvm_u" in want or "ad_a2kn" in want
    d, delta, cc = _merged_differences(ref, cur, buf, need_cc=need_cc)
    ties = not bool(np.all(delta))
    res = _ecdf_quantities(d, delta, buf.tmp2[:rows], ties=ties, want=want)
    if "ref_std" in want:
        # numpy.std's algorithm (mean, deviations, sum of squares) in a reused buffer
        dev = buf.tmp2[:rows, :n]
        np.subtract(ref, ref.mean(axis=1, keepdims=True), out=dev)
        with np.errstate(over="ignore", invalid="ignore"):  # |x| near 1e300 overflows x**2
            res["ref_std"] = np.sqrt(_row_dot(dev, dev) / n)
    if need_cc:
        res.update(_rank_quantities(cc, delta, buf, ties=ties, sizes=(n, m), want=want))
    return res


def _merged_differences(
    ref: FloatArray, cur: FloatArray, buf: _Buffers, *, need_cc: bool
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Merge the chunk; return ``d = F_ref - F_cur``, the gaps ``delta`` and the counts ``cc``.

    ``cc`` (current values among the first ``p + 1``, as floats) is only filled
    with *need_cc*.
    """
    rows, n = ref.shape
    m = cur.shape[1]
    if rows == 1:
        merge_keys(ref[0], cur[0], buf.v[0], buf.tag[0])
    else:
        _merge_complex(ref, cur, buf)
    v = buf.v[:rows]
    # integer running counts: a float cumsum is several times slower
    counts = buf.counts[:rows]
    np.cumsum(buf.tag[:rows], axis=1, out=counts)
    d = buf.d[:rows]
    # d = cr / n - cc / m = ((p + 1) m - cc (n + m)) / (n m): integers below 2^53 up to
    # the division, so d is exactly 0 wherever the two ECDFs are equal, as in scipy
    # (whose cr / n - cc / m is too); a residual of 1e-16 times a gap of 1e300 is not
    cc = buf.cc[:rows]
    if need_cc:  # convert the counts to float once, for d and the ranks
        np.copyto(cc, counts)
    np.multiply(cc if need_cc else counts, float(n + m), out=d)
    np.subtract(buf.scaled, d, out=d)
    np.divide(d, float(n) * m, out=d)
    delta = buf.delta[:rows]
    np.subtract(v[:, 1:], v[:, :-1], out=delta)
    return d, delta, cc


def _ecdf_quantities(
    d: FloatArray, delta: FloatArray, work: FloatArray, *, ties: bool, want: frozenset[str]
) -> dict[str, FloatArray]:
    """KS extremes, Wasserstein, energy and distinct counts from ``d`` and the gaps.

    *work* is a buffer of ``d``'s shape.
    """
    res: dict[str, FloatArray] = {}
    if "ks_plus" in want or "ks_minus" in want:
        if ties:
            # only the last of a run of equal values is an ECDF evaluation point
            masked = work
            masked[:, -1] = 0.0
            np.multiply(d[:, :-1], delta != 0.0, out=masked[:, :-1])
            res["ks_plus"] = masked.max(axis=1)
            res["ks_minus"] = -masked.min(axis=1)
        else:
            res["ks_plus"] = d.max(axis=1)
            res["ks_minus"] = -d.min(axis=1)
    if "wasserstein" in want:
        np.abs(d[:, :-1], out=work[:, :-1])
        res["wasserstein"] = _row_dot(work[:, :-1], delta)
    if "energy_sq" in want:
        np.square(d[:, :-1], out=work[:, :-1])
        res["energy_sq"] = _row_dot(work[:, :-1], delta)
    if "distinct" in want:
        res["distinct"] = np.count_nonzero(delta, axis=1).astype(np.float64) + 1.0
    return res


def _row_dot(a: FloatArray, b: FloatArray) -> FloatArray:
    """``sum(a * b, axis=1)`` by ``einsum`` (not BLAS: see :func:`einsum_dot`)."""
    return np.asarray(np.einsum("ij,ij->i", a, b), dtype=np.float64)


def _square_sum(k: int) -> float:
    """``1^2 + 2^2 + ... + k^2``."""
    return float(k * (k + 1) * (2 * k + 1) // 6)


def _run_bounds(delta: FloatArray) -> tuple[FloatArray, FloatArray]:
    """0-based first and last merged index of the run of equal values at each index."""
    rows, gaps = delta.shape
    total = gaps + 1
    pos = np.arange(total, dtype=np.float64)
    new = np.ones((rows, total), dtype=bool)
    new[:, 1:] = delta != 0.0
    first = np.where(new, pos, 0.0)
    np.maximum.accumulate(first, axis=1, out=first)
    end = np.ones((rows, total), dtype=bool)
    end[:, :-1] = new[:, 1:]
    last = np.where(end, pos, float(total - 1))[:, ::-1]
    last = np.minimum.accumulate(last, axis=1)[:, ::-1]
    return first, last


def _rank_quantities(
    cc: FloatArray,
    delta: FloatArray,
    buf: _Buffers,
    *,
    ties: bool,
    sizes: tuple[int, int],
    want: frozenset[str],
) -> dict[str, FloatArray]:
    """Cramér-von Mises' ``U`` and Anderson-Darling's ``A2akN`` from the running counts ``cc``."""
    n, m = sizes
    rows, total = cc.shape
    cr = buf.tmp[:rows]
    np.subtract(buf.idx, cc, out=cr)
    if not ties and "ad_a2kn" not in want:
        # without ties a current value's rank minus its own rank is cr, a reference
        # value's is cc, and at the i-th value of a sample its own count is i, so
        # sum_cur cr^2 = sum_all cr^2 - sum_{k<=n} k^2 (and the same for cc)
        u = m * (_row_dot(cr, cr) - _square_sum(n)) + n * (_row_dot(cc, cc) - _square_sum(m))
        return {"cvm_u": u}
    isc = buf.isc[:rows]  # origin as 0.0 / 1.0
    np.copyto(isc, buf.tag[:rows])
    res: dict[str, FloatArray] = {}
    if not ties:
        if "cvm_u" in want:
            # no ties: rank of a current value minus its own rank is the number of
            # reference values below it, and vice versa
            res["cvm_u"] = m * np.einsum("ij,ij,ij->i", isc, cr, cr) + n * np.einsum(
                "ij,ij,ij->i", 1.0 - isc, cc, cc
            )
        if "ad_a2kn" in want:
            b = np.arange(total, dtype=np.float64) + 0.5
            mc = cc - 0.5 * isc
            mr = cr - 0.5 * (1.0 - isc)
            denom = b * (total - b) - total / 4.0
            inner = (total * mc - b * m) ** 2 / m + (total * mr - b * n) ** 2 / n
            res["ad_a2kn"] = (inner / denom).sum(axis=1) / total * (total - 1.0) / total
        return res
    first, last = _run_bounds(delta)
    if "cvm_u" in want:
        mid = (first + last) / 2.0 + 1.0
        dev_c = mid - cc
        dev_r = mid - cr
        res["cvm_u"] = m * np.einsum("ij,ij,ij->i", isc, dev_c, dev_c) + n * np.einsum(
            "ij,ij,ij->i", 1.0 - isc, dev_r, dev_r
        )
    if "ad_a2kn" in want:
        pos = np.arange(total)
        is_end = last == pos
        # counts of each sample before the run starts: prefix counts at first - 1
        first_i = first.astype(np.intp)
        cc0 = np.zeros((rows, total + 1))
        cc0[:, 1:] = cc
        before_c = np.take_along_axis(cc0, first_i, axis=1)
        before_r = first - before_c
        lj = last - first + 1.0
        fc = cc - before_c  # at run ends: current values in the run
        fr = cr - before_r
        mc = cc - fc / 2.0
        mr = cr - fr / 2.0
        b = first + lj / 2.0
        with np.errstate(divide="ignore", invalid="ignore"):
            denom = b * (total - b) - total * lj / 4.0
            inner = lj / total * ((total * mc - b * m) ** 2 / m + (total * mr - b * n) ** 2 / n)
            terms = np.where(is_end, inner / denom, 0.0)
        res["ad_a2kn"] = terms.sum(axis=1) * (total - 1.0) / total
    return res

"""``Reference.compare``: every requested statistic for every feature, one pass each.

Numeric features: the current block is binned once (binned statistics) and
sorted once (rank and distance statistics, through the presorted kernels of
:mod:`~aiguard.detect._drift.rank`). Categorical features: counts over the union of
categories (binned statistics, ``chi2``). Missing values are omitted and
reported as their own rate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import numpy as np

from aiguard.detect._drift._checks import check_alpha, check_min_effect, check_number
from aiguard.detect._drift._corrections import check_correction
from aiguard.detect._drift._result import finish
from aiguard.detect._drift._workers import check_workers, resolve_workers
from aiguard.detect._drift.binned import (
    BINNED_METHODS,
    DEFAULT_THRESHOLDS,
    binned_statistics,
    check_compat,
    check_eps,
    evidently_statistic,
    scan_bin_counts,
    sorted_bin_counts,
)
from aiguard.detect._drift.inputs import SortedSamples, sort_samples
from aiguard.detect._drift.rank import CONTINUOUS_METHODS, compare_sorted
from aiguard.detect._drift.report import DriftReport, FeatureDrift, MethodResult
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from numpy.typing import NDArray

    from aiguard.detect._drift.inputs import Table
    from aiguard.detect._drift.reference._fitted import FittedReference

__all__ = [
    "DEFAULT_METHODS",
    "METHODS",
    "TESTS",
    "Sheet",
    "build_report",
    "categorical_chi2",
    "check_methods",
    "check_thresholds",
    "compare_reference",
    "fill_sheet",
    "sheet_report",
]

TESTS: Final = frozenset({"ks", "cramervonmises", "anderson", "chi2"})
METHODS: Final = (*CONTINUOUS_METHODS, *BINNED_METHODS, "chi2")
DEFAULT_METHODS: Final = ("ks", "chi2", "psi")
# drift thresholds of the distances without a test (Evidently's defaults; Wasserstein is normed)
DISTANCE_THRESHOLDS: Final = {**DEFAULT_THRESHOLDS, "wasserstein": 0.1, "energy": 0.1}


def check_methods(methods: Sequence[str] | None) -> tuple[str, ...]:
    """Validate *methods* (None means the defaults)."""
    if methods is None:
        return DEFAULT_METHODS
    if isinstance(methods, str):
        methods = (methods,)
    out = tuple(methods)
    unknown = [m for m in out if m not in METHODS]
    if unknown or not out:
        raise ConfigurationError("methods", f"a non-empty subset of {METHODS}", unknown or out)
    return tuple(dict.fromkeys(out))


def check_thresholds(thresholds: dict[str, float] | None) -> dict[str, float]:
    """The drift threshold of every distance: the defaults, updated with *thresholds*."""
    out = dict(DISTANCE_THRESHOLDS)
    for key, value in (thresholds or {}).items():
        if key not in out:
            raise ConfigurationError("thresholds", f"keys among {sorted(out)}", key)
        out[key] = check_number(f"thresholds[{key!r}]", value)
    return out


def _continuous(
    ref: FittedReference, cur_sorted: SortedSamples, methods: list[str], workers: int
) -> dict[str, tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]]:
    """Rank and distance statistics of the sorted current block (missing values omitted).

    Wasserstein is normed (divided by the reference's standard deviation).
    """
    return compare_sorted(
        ref.sorted_samples,
        cur_sorted,
        methods,
        nan_policy="omit",
        normed=True,
        workers=workers,
        ref_std=ref.std,
    )


def build_report(
    ref: FittedReference,
    *,
    methods: tuple[str, ...],
    stats: dict[str, tuple[NDArray[np.float64], NDArray[np.float64] | None]],
    hist: list[tuple[tuple[str, ...], NDArray[np.int64], NDArray[np.int64]]],
    n_current: int,
    missing_current: NDArray[np.int64],
    alpha: float,
    correction: str | None,
    min_effect: float | None,
    thresholds: dict[str, float],
    effects: dict[str, NDArray[np.float64]] | None = None,
) -> DriftReport:
    """Decide per method (corrected across the features it applies to) and rank the features.

    ``min_effect`` applies to the tests, on ``effects[method]`` (default: the statistic).
    """
    k = ref.n_features
    per_feature: list[list[MethodResult]] = [[] for _ in range(k)]
    for m in methods:
        stat, pval = stats[m]
        effect = (effects or {}).get(m, stat)
        where = np.flatnonzero(~_not_applicable(stat))
        if where.size == 0:
            continue
        res = finish(
            m,
            stat[where],
            None if pval is None else pval[where],
            was_1d=False,
            alpha=alpha,
            threshold=None if m in TESTS else thresholds[m],
            correction=correction if m in TESTS else None,
            effect=effect[where],
            min_effect=min_effect if m in TESTS else None,
        )
        for i, j in enumerate(where):
            per_feature[j].append(
                MethodResult(
                    method=m,
                    statistic=float(res.statistic[i]),
                    pvalue=None if res.pvalue is None else float(res.pvalue[i]),
                    raw_pvalue=None if res.raw_pvalue is None else float(res.raw_pvalue[i]),
                    threshold=float(res.threshold if res.threshold is not None else np.nan),
                    drifted=bool(res.drifted[i]),
                )
            )
    features = []
    ref_missing = ref.missing
    kinds = ref.kinds
    shares_ref, shares_cur, totals, moved = _shares(hist)
    for pos in range(k):
        labels, rc, _ = hist[pos]
        size = rc.size
        results = tuple(per_feature[pos])
        score = max([r.score for r in results] + [0.0])
        features.append(
            FeatureDrift(
                name=ref.names[pos],
                kind=kinds[pos],
                drifted=any(r.drifted for r in results),
                score=float(score),
                results=results,
                n_reference=totals[pos][0],
                n_current=totals[pos][1],
                missing_reference=float(ref_missing[pos] / ref.n_rows),
                missing_current=float(missing_current[pos] / n_current) if n_current else 0.0,
                bins=labels,
                reference_shares=tuple(shares_ref[pos][:size]),
                current_shares=tuple(shares_cur[pos][:size]),
                moved_bins=moved[pos],
            )
        )
    order = sorted(range(k), key=lambda j: (not features[j].drifted, -features[j].score, j))
    return DriftReport(
        features=tuple(features[j] for j in order),
        methods=methods,
        alpha=alpha,
        correction=correction,
        min_effect=min_effect,
        n_reference=ref.n_rows,
        n_current=n_current,
    )


def _shares(
    hist: list[tuple[tuple[str, ...], NDArray[np.int64], NDArray[np.int64]]],
) -> tuple[list[list[float]], list[list[float]], list[tuple[int, int]], list[tuple[int, ...]]]:
    """Every feature's bin shares, totals and most-moved bins, at once.

    The moved bins are the (up to) three whose share moved most, largest first,
    the lower bin first on ties; bins that did not move are never listed.
    """
    k = len(hist)
    width = max((rc.size for _, rc, _ in hist), default=0)
    ref_counts = np.zeros((k, width))
    cur_counts = np.zeros((k, width))
    for pos, (_, rc, cc) in enumerate(hist):
        ref_counts[pos, : rc.size] = rc
        cur_counts[pos, : cc.size] = cc
    n_ref = ref_counts.sum(axis=1)
    n_cur = cur_counts.sum(axis=1)
    pr = ref_counts / np.maximum(n_ref, 1.0)[:, None]
    pc = cur_counts / np.maximum(n_cur, 1.0)[:, None]
    shift = np.abs(pc - pr)  # padding moves 0 and is never among the moved bins
    order = np.argsort(-shift, axis=1, kind="stable")[:, :3]
    keep = np.take_along_axis(shift, order, axis=1) > 0
    moved = [
        tuple(i for i, ok in zip(row, mask, strict=True) if ok)
        for row, mask in zip(order.tolist(), keep.tolist(), strict=True)
    ]
    totals = list(
        zip(n_ref.astype(np.int64).tolist(), n_cur.astype(np.int64).tolist(), strict=True)
    )
    return pr.tolist(), pc.tolist(), totals, moved


_NA: Final = np.float64(np.inf)  # marks "method does not apply to this feature"


def _not_applicable(stat: NDArray[np.float64]) -> NDArray[np.bool_]:
    return np.isposinf(stat)


def compare_reference(
    ref: FittedReference,
    current: Any,
    *,
    methods: Sequence[str] | None,
    alpha: float,
    correction: str | None,
    min_effect: float | None,
    thresholds: dict[str, float] | None,
    eps: float,
    compat: str | None,
    workers: int | None = None,
    fill: Callable[[Sheet, FittedReference, Any, int | None], None] | None = None,
) -> DriftReport:
    """Compute a :class:`DriftReport` of *current* against *ref* (see ``Reference.compare``).

    *fill* fills the sheet (default :func:`fill_sheet`; the blocked pass gives its own).
    """
    chosen = check_methods(methods)
    workers = check_workers(workers)
    alpha = check_alpha(alpha)
    check_correction(correction)
    min_effect = check_min_effect(min_effect)
    limits = check_thresholds(thresholds)
    sheet = Sheet(ref.n_features, chosen, eps=check_eps(eps), compat=check_compat(compat))
    (fill or fill_sheet)(sheet, ref, current, workers)
    return sheet_report(
        sheet, ref, alpha=alpha, correction=correction, min_effect=min_effect, thresholds=limits
    )


def fill_sheet(
    sheet: Sheet,
    ref: FittedReference,
    current: Any,
    workers: int | None,
    *,
    overwrite: bool = False,
) -> None:
    """Fill *sheet* with every statistic of *current* (the features of *ref*) against *ref*.

    ``overwrite=True``: *current* is the caller's to sort in place.
    """
    # the finiteness checks happen in the passes below (a sort, or the bin counts)
    table = ref.table(current, check_finite=False)
    if ref.numeric_index:
        _numeric(sheet, ref, table, workers, overwrite=overwrite and sheet.compat is None)
    for i in range(len(ref.categorical_index)):
        _categorical(sheet, ref, table, i)
    sheet.n_rows = table.n_rows


def sheet_report(
    sheet: Sheet,
    ref: FittedReference,
    *,
    alpha: float,
    correction: str | None,
    min_effect: float | None,
    thresholds: dict[str, float],
) -> DriftReport:
    """The :class:`DriftReport` of a filled *sheet* (parameters checked)."""
    return build_report(
        ref,
        methods=sheet.chosen,
        stats=sheet.stats,
        hist=sheet.hist,
        n_current=sheet.n_rows,
        missing_current=sheet.missing,
        alpha=alpha,
        correction=correction,
        min_effect=min_effect,
        thresholds=thresholds,
        effects={m: np.where(np.isnan(e), sheet.stats[m][0], e) for m, e in sheet.effects.items()},
    )


class Sheet:
    """What one comparison fills in, per method and feature, before the decisions.

    ``stats[m]`` is ``(statistic, pvalue or None)``, the statistic +inf where
    *m* does not apply; ``effects[m]`` NaN where the statistic is the effect;
    ``hist[pos]`` the bin labels, reference and current counts of a feature;
    ``n_rows`` the current rows.
    """

    __slots__ = (
        "binned",
        "chosen",
        "compat",
        "effects",
        "eps",
        "hist",
        "missing",
        "n_rows",
        "stats",
    )

    def __init__(self, k: int, chosen: tuple[str, ...], *, eps: float, compat: str | None) -> None:
        self.chosen = chosen
        self.binned = [m for m in chosen if m in BINNED_METHODS]
        self.eps = eps
        self.compat = compat
        self.stats: dict[str, tuple[NDArray[np.float64], NDArray[np.float64] | None]] = {
            m: (np.full(k, _NA), np.full(k, np.nan) if m in TESTS else None) for m in chosen
        }
        self.effects: dict[str, NDArray[np.float64]] = {m: np.full(k, np.nan) for m in chosen}
        self.hist: list[Any] = [None] * k
        self.missing = np.zeros(k, dtype=np.int64)
        self.n_rows = 0

    def put(self, start: int, part: Sheet) -> None:
        """Copy *part*, the sheet of features ``start, start + 1, ...``, into this one."""
        stop = start + len(part.hist)
        for m in self.chosen:
            stat, pval = self.stats[m]
            stat[start:stop] = part.stats[m][0]
            if pval is not None:
                pval[start:stop] = part.stats[m][1]
            self.effects[m][start:stop] = part.effects[m]
        self.hist[start:stop] = part.hist
        self.missing[start:stop] = part.missing
        self.n_rows = part.n_rows


def _numeric(
    sheet: Sheet, ref: FittedReference, table: Table, workers: int | None, *, overwrite: bool
) -> None:
    """Bin counts and every requested statistic of the numeric features (one sort or one read)."""
    num = list(ref.numeric_index)
    cur = table.numeric
    wanted = [m for m in sheet.chosen if m in CONTINUOUS_METHODS]
    threads = resolve_workers(workers, ref.sorted_values.size + cur.size, len(num))
    if wanted:  # one sort serves the rank statistics and the bin counts
        cur_sorted = sort_samples(
            cur,
            "current",
            nan_policy="omit",
            workers=threads,
            names=ref.numeric_names,
            overwrite=overwrite,
        )
        counts = sorted_bin_counts(cur_sorted.values, cur_sorted.counts, ref.edges)
    else:
        counts, candidates = scan_bin_counts(
            cur, ref.edges, tile_cache=ref.tile_cache, workers=threads
        )
        table.check_finite(candidates)
    sheet.missing[num] = table.n_rows - counts.sum(axis=1)
    for i, pos in enumerate(num):
        nb = int(ref.nbins[i])
        sheet.hist[pos] = (ref.bin_labels[i], ref.counts[i, :nb], counts[i, :nb])
    if sheet.binned:
        _numeric_binned(sheet, ref, cur, counts)
    if wanted:
        for m, (s, p, e) in _continuous(ref, cur_sorted, wanted, threads).items():
            sheet.stats[m][0][num] = s
            sheet.effects[m][num] = e
            if m in TESTS:
                sheet.stats[m][1][num] = p  # type: ignore[index]


def _numeric_binned(
    sheet: Sheet, ref: FittedReference, cur: NDArray[np.float64], counts: NDArray[np.int64]
) -> None:
    """The binned statistics of the numeric features from their bin *counts*."""
    num = list(ref.numeric_index)
    if sheet.compat == "evidently":  # Evidently bins the values itself
        for m in sheet.binned:
            for i, pos in enumerate(num):
                b = cur[:, i]
                b = b[~np.isnan(b)]
                value = evidently_statistic(m, ref.column(i), b, numeric=True) if b.size else np.nan
                sheet.stats[m][0][pos] = value
        return
    values = binned_statistics(sheet.binned, ref.counts, counts, ref.nbins, eps=sheet.eps)
    for m in sheet.binned:
        sheet.stats[m][0][num] = values[m]


def _categorical(sheet: Sheet, ref: FittedReference, table: Table, i: int) -> None:
    """Counts over the union of categories, and the statistics, of categorical feature *i*."""
    pos = ref.categorical_index[i]
    labels = table.categorical[i]
    sheet.missing[pos] = table.categorical_missing[i]
    ref_cats, ref_counts = ref.categories[i], ref.category_counts[i]
    cats = np.union1d(ref_cats, labels)
    rc = np.zeros(cats.size, dtype=np.int64)
    rc[np.searchsorted(cats, ref_cats)] = ref_counts
    cc = np.bincount(np.searchsorted(cats, labels), minlength=cats.size).astype(np.int64)
    unseen = ~np.isin(cats, ref_cats)
    names = tuple(str(c) + (" (new)" if u else "") for c, u in zip(cats, unseen, strict=True))
    sheet.hist[pos] = (names, rc, cc)
    stats = sheet.stats
    if sheet.compat == "evidently" and labels.size:
        ref_values = np.repeat(ref_cats, ref_counts)
        for m in sheet.binned:
            stats[m][0][pos] = evidently_statistic(m, ref_values, labels, numeric=False)
    elif sheet.binned:
        nb = np.array([rc.size], dtype=np.intp)
        values = binned_statistics(sheet.binned, rc[None, :], cc[None, :], nb, eps=sheet.eps)
        for m in sheet.binned:
            stats[m][0][pos] = values[m][0]
    if "chi2" in sheet.chosen:
        chi2, pvalue, effect = categorical_chi2(rc, cc)
        stats["chi2"][0][pos], stats["chi2"][1][pos] = chi2, pvalue  # type: ignore[index]
        sheet.effects["chi2"][pos] = effect


def categorical_chi2(rc: NDArray[np.int64], cc: NDArray[np.int64]) -> tuple[float, float, float]:
    """``chi2``, its p-value and Cramér's V of reference and current category counts."""
    chi2, pvalue = _chi2(rc, cc)
    return chi2, pvalue, _cramers_v(chi2, rc, cc)


def _cramers_v(chi2: float, rc: NDArray[np.int64], cc: NDArray[np.int64]) -> float:
    """Cramér's V of the 2 x k table, ``sqrt(chi2 / n)``: chi2's effect size for ``min_effect``."""
    n = int(rc.sum() + cc.sum())
    return float(np.sqrt(chi2 / n)) if n and np.isfinite(chi2) else float("nan")


def _chi2(rc: NDArray[np.int64], cc: NDArray[np.int64]) -> tuple[float, float]:
    """``scipy.stats.chi2_contingency`` of the 2 x k table (categories seen in either)."""
    from scipy.stats import chi2_contingency  # noqa: PLC0415 - scipy is heavy to import

    table = np.vstack([rc, cc])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return (
            (0.0, 1.0) if table.shape[1] < 2 and (table.sum(axis=1) > 0).all() else (np.nan, np.nan)
        )
    res = chi2_contingency(table)
    return float(res.statistic), float(res.pvalue)

"""``compat="evidently"``: the binned statistics with Evidently 0.7's own binning and fill rules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from aiguard.detect._drift.binned._divergences import statistic_from_proportions
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["check_compat", "evidently_proportions", "evidently_statistic"]


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

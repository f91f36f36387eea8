"""The binned statistics (PSI, Jensen-Shannon, KL, Hellinger) from bin counts.

Everything works on bin *counts*, shape ``(n_features, n_bins)``, so a fitted
reference, a streaming accumulator and the one-shot functions share one code
path. Features with fewer bins are padded; ``valid`` masks the real bins.

Epsilon rule (PSI and KL only): proportions are floored at ``eps`` (default
1e-4) in every real bin and renormalised to sum to one, so an empty bin
contributes a large but finite term and the divergences stay non-negative.
Jensen-Shannon and Hellinger use the raw proportions.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Final

import numpy as np
from scipy.special import rel_entr

from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

__all__ = [
    "BINNED_METHODS",
    "DEFAULT_EPS",
    "binned_statistics",
    "check_base",
    "check_eps",
    "proportions",
    "statistic_from_proportions",
]


BINNED_METHODS: Final = ("psi", "jensenshannon", "kl", "hellinger")


DEFAULT_EPS: Final = 1e-4


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


def check_eps(eps: object) -> float:
    """Return *eps* if it is a float in (0, 1), else raise ConfigurationError."""
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not 0.0 < float(eps) < 1.0:
        raise ConfigurationError("eps", "a float in (0, 1)", eps)
    return float(eps)


def check_base(base: object) -> float | None:
    """Return *base* if it is None or a float > 0 other than 1, else raise ConfigurationError."""
    if base is None:
        return None
    if (
        isinstance(base, bool)
        or not isinstance(base, numbers.Real)
        or not 0.0 < float(base) < math.inf
        or float(base) == 1.0
    ):
        raise ConfigurationError("base", "None or a positive number other than 1", base)
    return float(base)

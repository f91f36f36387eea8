"""The accumulator's parameter checks and the small pieces of its report."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from aiguard.detect._drift.binned import BINNED_METHODS
from aiguard.detect._drift.reference._compare import METHODS, categorical_chi2
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

    from aiguard.detect._drift.reference._fitted import FittedReference

__all__ = ["check_binned", "check_methods", "fill_chi2", "merge_counts", "slot_samples"]


def check_methods(methods: Sequence[str] | None) -> tuple[str, ...]:
    if methods is None:
        return ("psi",)
    out = (methods,) if isinstance(methods, str) else tuple(dict.fromkeys(methods))
    if not out or any(m not in METHODS for m in out):
        raise ConfigurationError("methods", f"a non-empty subset of {METHODS}", methods)
    return out


def slot_samples(  # pragma: no cover - scipy's exact KS fallback, old scipy only
    multiplicity: NDArray[np.int64], slots: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Two samples with the ranks of the slot counts (for scipy's exact KS fallback)."""
    positions = np.arange(slots.size, dtype=np.float64)
    return np.repeat(positions[1::2], multiplicity), np.repeat(positions, slots)


def check_binned(methods: Sequence[str]) -> tuple[str, ...]:
    out = (methods,) if isinstance(methods, str) else tuple(methods)
    if not out or any(m not in BINNED_METHODS for m in out):
        raise ConfigurationError("methods", f"a non-empty subset of {BINNED_METHODS}", methods)
    return out


def merge_counts(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    out = dict(a)
    for key, value in b.items():
        out[key] = out.get(key, 0) + value
    return out


def fill_chi2(
    fitted: FittedReference,
    stats: dict[str, tuple[NDArray[np.float64], NDArray[np.float64] | None]],
    effects: dict[str, NDArray[np.float64]],
    hist: Any,
) -> None:
    """The chi-squared test of each categorical feature's counts, into *stats* and *effects*."""
    for pos in fitted.categorical_index:
        _, rc, cc = hist[pos]
        chi2, p_chi2, effect = categorical_chi2(rc, cc)
        stats["chi2"][0][pos], stats["chi2"][1][pos] = chi2, p_chi2  # type: ignore[index]
        effects["chi2"][pos] = effect

"""The accumulator's parameter checks and the small pieces of its report."""

from __future__ import annotations

import io
import json
import zipfile
from typing import TYPE_CHECKING, Any

import numpy as np

from aiguard.detect._drift.binned import BINNED_METHODS
from aiguard.detect._drift.reference._compare import METHODS, categorical_chi2
from aiguard.errors import ConfigurationError, InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

    from aiguard.detect._drift.reference._fitted import FittedReference

__all__ = [
    "FORMAT", "check_binned", "check_methods", "fill_chi2", "merge_counts", "narrow", "read_npz",
    "slot_samples", "write_npz",
]

FORMAT = "aiguard.drift.Accumulator/1"


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


def narrow(counts: NDArray[np.int64]) -> NDArray[Any]:
    """Non-negative counts in the narrowest unsigned type that holds them (read back as int64).

    KS slot counts are mostly small (a chunk's values spread over ``2d + 1``
    slots): one byte each instead of eight, for the state a Dask chunk sends back.
    """
    top = int(counts.max()) if counts.size else 0
    for dtype in (np.uint8, np.uint16, np.uint32):
        if top <= np.iinfo(dtype).max:
            return counts.astype(dtype)
    return counts


def write_npz(arrays: dict[str, Any]) -> bytes:
    """The arrays as ``.npz`` bytes (no pickle)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def read_npz(data: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """The arrays and the JSON header of an accumulator's bytes.

    Raises:
        InvalidInputError: not the bytes of ``Accumulator.to_bytes``.
    """
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        header = json.loads(str(arrays["header"]))
        ok = header.get("format") == FORMAT
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        raise InvalidInputError("data", "bytes from Accumulator.to_bytes", "other bytes") from exc
    if not ok:
        raise InvalidInputError("data", "the state of an accumulator of this reference", "other")
    return arrays, header

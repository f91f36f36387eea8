"""Save and load a :class:`Reference`'s fitted state as one ``.npz`` file: arrays and JSON.

No pickle anywhere: the header is UTF-8 JSON stored as a ``uint8`` array and
the file is read with ``np.load(allow_pickle=False)``, so loading a reference
from an untrusted place cannot run code.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np

from aiguard.detect._drift.reference._fitted import FittedReference
from aiguard.errors import InvalidInputError, StoreError

if TYPE_CHECKING:
    import os

__all__ = ["read_reference", "write_reference"]

_FORMAT: Final = "aiguard.drift.Reference/1"
_EXPECTED: Final = "a saved aiguard Reference (.npz)"


def write_reference(fitted: FittedReference, path: str | os.PathLike[str]) -> None:
    """Write *fitted* to *path* (see :meth:`Reference.save`).

    Raises:
        StoreError: the file cannot be written.
    """
    bins = fitted.bins
    meta = {
        "format": _FORMAT,
        "names": list(fitted.names),
        "numeric_index": list(fitted.numeric_index),
        "categorical_index": list(fitted.categorical_index),
        "n_rows": fitted.n_rows,
        "bins": bins if isinstance(bins, int | str) else np.asarray(bins).tolist(),
        "summary": list(fitted.summary),
    }
    categories = fitted.categories
    arrays = {
        "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        "sorted": fitted.sorted_values,
        "n_valid": fitted.n_valid,
        "edges": fitted.edges,
        "nbins": fitted.nbins.astype(np.int64),
        "counts": fitted.counts,
        "missing": fitted.missing,
        "cat_sizes": np.array([c.size for c in categories], dtype=np.int64),
        "cat_labels": (
            np.concatenate(categories) if categories else np.array([], dtype=str)
        ).astype(str),
        "cat_counts": (
            np.concatenate(fitted.category_counts) if categories else np.zeros(0, np.int64)
        ),
    }
    try:
        with Path(path).open("wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]
    except OSError as exc:
        raise StoreError(f"cannot write the reference to {str(path)!r}: {exc}") from exc


def read_reference(path: str | os.PathLike[str]) -> FittedReference:
    """Read the state written by :func:`write_reference` (see :meth:`Reference.load`).

    Raises:
        StoreError: the file cannot be read.
        InvalidInputError: the file is not a saved reference, or its arrays do
            not fit together (argument ``path``).
    """
    try:
        with np.load(Path(path), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except OSError as exc:
        raise StoreError(f"cannot read the reference {str(path)!r}: {exc}") from exc
    except ValueError as exc:
        raise InvalidInputError("path", _EXPECTED, str(path)) from exc
    try:
        meta = json.loads(arrays["meta"].tobytes().decode())
        if meta.get("format") != _FORMAT:
            raise KeyError("format")  # noqa: TRY301 - one error path for every malformed file
        bounds = list(itertools.pairwise(np.cumsum(np.r_[0, arrays["cat_sizes"]])))
        labels, counts = arrays["cat_labels"], arrays["cat_counts"]
        return FittedReference(
            names=meta["names"],
            numeric_index=meta["numeric_index"],
            categorical_index=meta["categorical_index"],
            n_rows=meta["n_rows"],
            bins=meta["bins"],
            sorted_values=arrays["sorted"],
            n_valid=arrays["n_valid"],
            edges=arrays["edges"],
            nbins=arrays["nbins"],
            counts=arrays["counts"],
            missing=arrays["missing"],
            categories=[labels[a:b] for a, b in bounds],
            category_counts=[counts[a:b] for a, b in bounds],
            summary=meta["summary"],
        )
    except (KeyError, ValueError, TypeError, UnicodeDecodeError) as exc:
        # InvalidInputError (a ValueError) too: arrays that do not fit together
        raise InvalidInputError("path", _EXPECTED, str(path)) from exc

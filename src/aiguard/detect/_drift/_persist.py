"""Save and load a :class:`Reference` as one ``.npz`` file: arrays plus a JSON header.

No pickle anywhere: the header is UTF-8 JSON stored as a ``uint8`` array and
the file is read with ``np.load(allow_pickle=False)``, so loading a reference
from an untrusted place cannot run code.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from aiguard.errors import InvalidInputError, StoreError

if TYPE_CHECKING:
    import os

    from aiguard.detect._drift._reference import Reference

__all__ = ["read_reference", "write_reference"]

_FORMAT: Final = "aiguard.drift.Reference/1"


def write_reference(ref: Reference, path: str | os.PathLike[str]) -> None:
    """Write *ref* to *path* (see :meth:`Reference.save`)."""
    bins: Any = ref._bins if isinstance(ref._bins, (int, str)) else np.asarray(ref._bins).tolist()
    meta = {
        "format": _FORMAT,
        "names": list(ref._names),
        "numeric_index": list(ref._num_index),
        "categorical_index": list(ref._cat_index),
        "n_rows": ref._n_rows,
        "bins": bins,
        "summary": ref._summary,
    }
    sizes = np.array([c.size for c in ref._categories], dtype=np.int64)
    labels = np.concatenate(ref._categories) if ref._categories else np.array([], dtype=str)
    arrays = {
        "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        "sorted": ref._sorted,
        "n_valid": ref._n_valid,
        "edges": ref._edges,
        "nbins": ref._nbins.astype(np.int64),
        "counts": ref._counts,
        "missing": ref._missing,
        "cat_sizes": sizes,
        "cat_labels": labels.astype(str),
        "cat_counts": np.concatenate(ref._cat_counts) if ref._cat_counts else np.zeros(0, np.int64),
    }
    try:
        with Path(path).open("wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]
    except OSError as exc:
        raise StoreError(f"cannot write the reference to {str(path)!r}: {exc}") from exc


def read_reference(cls: type[Reference], path: str | os.PathLike[str]) -> Reference:
    """Read a reference written by :func:`write_reference` (see :meth:`Reference.load`)."""
    try:
        with np.load(Path(path), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except OSError as exc:
        raise StoreError(f"cannot read the reference {str(path)!r}: {exc}") from exc
    except ValueError as exc:
        raise InvalidInputError("path", "a saved aiguard Reference (.npz)", str(path)) from exc
    try:
        meta = json.loads(arrays["meta"].tobytes().decode())
        if meta.get("format") != _FORMAT:
            raise KeyError("format")  # noqa: TRY301 - one error path for every malformed file
        ref = cls.__new__(cls)
        ref._tile_cache = {}
        ref._labels = None
        ref._names = tuple(meta["names"])
        ref._num_index = tuple(meta["numeric_index"])
        ref._cat_index = tuple(meta["categorical_index"])
        ref._n_rows = int(meta["n_rows"])
        bins = meta["bins"]
        ref._bins = bins if isinstance(bins, (int, str)) else np.asarray(bins, dtype=np.float64)
        ref._summary = meta["summary"]
        ref._sorted = arrays["sorted"]
        ref._n_valid = arrays["n_valid"]
        ref._edges = arrays["edges"]
        ref._nbins = arrays["nbins"].astype(np.intp)
        ref._counts = arrays["counts"]
        ref._missing = arrays["missing"]
        bounds = np.cumsum(np.r_[0, arrays["cat_sizes"]])
        labels, counts = arrays["cat_labels"], arrays["cat_counts"]
        ref._categories = tuple(labels[a:b] for a, b in itertools.pairwise(bounds))
        ref._cat_counts = tuple(counts[a:b] for a, b in itertools.pairwise(bounds))
    except (KeyError, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise InvalidInputError("path", "a saved aiguard Reference (.npz)", str(path)) from exc
    return ref

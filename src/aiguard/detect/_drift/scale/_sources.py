"""Tables read one block of features at a time: arrays, ``.npy`` and Parquet files, iterators.

A source knows its column names and row count without reading the data, and
:meth:`Source.read` returns the columns ``start`` to ``stop - 1`` whole, read
in chunks of rows so that nothing but that block is held:

* :class:`ArraySource`: a 2-D array, usually memory-mapped (``np.load(path,
  mmap_mode="r")`` or a ``.npy`` path); rows are copied in chunks and the
  pages of the mapping dropped after each chunk.
* :class:`ParquetSource`: a Parquet file, read column batch by column batch
  and row group by row group with pyarrow.
* :class:`SpillSource`: an iterator of 2-D batches, which can be read only
  once: the batches are written to a scratch file, column-major within each
  batch, so a block of columns is one contiguous read per batch.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from aiguard.detect._drift.scale._release import mapping, release
from aiguard.errors import InvalidInputError, MissingExtraError

__all__ = ["ArraySource", "ParquetSource", "Source", "SpillSource", "open_source"]

#: bytes of one chunk of rows copied from a source
CHUNK_BYTES = 4 << 20
#: bytes of the columns read from one Parquet row group at once
READ_BYTES = 16 << 20


class Source(Protocol):
    """A table read one block of columns at a time."""

    @property
    def names(self) -> tuple[str, ...]:
        """Column names (``x0, x1, ...`` when the source has none)."""

    @property
    def n_rows(self) -> int:
        """Number of rows."""

    def read(self, start: int, stop: int) -> Any:
        """Columns ``start`` to ``stop - 1``: a 2-D float64 array or ``{name: column}``."""

    def columnar(self, spill_dir: str | None) -> Source:
        """This source, or a copy of it whose column blocks are cheap to read."""

    def select(self, names: Sequence[str], argument: str) -> None:
        """Read the columns *names*, in that order, from now on (raise naming *argument*)."""

    def close(self) -> None:
        """Release files and scratch space."""


def _default_names(k: int) -> tuple[str, ...]:
    return tuple(f"x{j}" for j in range(k))


def _check_width(names: Sequence[str], width: int, argument: str) -> None:
    if len(names) != width:
        raise InvalidInputError(
            argument, f"{len(names)} feature columns like the reference", f"{width} columns"
        )


class ArraySource:
    """A 2-D numeric array (memory-mapped or not), copied a chunk of rows at a time."""

    def __init__(self, array: np.ndarray[Any, Any], argument: str) -> None:
        arr = array.reshape(-1, 1) if array.ndim == 1 else array
        if arr.ndim != 2 or arr.dtype.kind not in "fiub" or arr.shape[0] == 0:
            raise InvalidInputError(
                argument, "a non-empty 1-D or 2-D numeric array", f"{arr.dtype} {arr.shape}"
            )
        self._array = arr
        self.array = arr
        self.names = _default_names(arr.shape[1])
        self.n_rows = int(arr.shape[0])

    def select(self, names: Sequence[str], argument: str) -> None:
        """Columns are matched by position (see :class:`Source`)."""
        _check_width(names, self._array.shape[1], argument)
        self.names = tuple(names)

    def read(self, start: int, stop: int) -> np.ndarray[Any, Any]:
        """Columns ``start:stop`` as a Fortran-ordered float64 array (see :class:`Source`)."""
        arr = self._array
        out = np.empty((self.n_rows, stop - start), dtype=np.float64, order="F")
        step = max(1, CHUNK_BYTES // max(1, arr.shape[1] * arr.itemsize))
        for r in range(0, self.n_rows, step):
            out[r : r + step] = arr[r : r + step, start:stop]
            release(arr)
        return out

    def columnar(self, spill_dir: str | None) -> Source:
        """A source whose column blocks are contiguous reads.

        A memory-mapped row-major array would be read whole for every block of
        columns; it is copied once, a chunk of rows at a time, into a
        column-major scratch file (:class:`SpillSource`). Others are returned as they are.
        """
        arr = self._array
        if mapping(arr) is None or arr.shape[1] == 1 or not arr.flags.c_contiguous:
            return self
        spill = SpillSource(self._chunks(), "data", spill_dir)
        spill.select(self.names, "data")
        return spill

    def _chunks(self) -> Iterator[np.ndarray[Any, Any]]:
        arr = self._array
        step = max(1, CHUNK_BYTES // max(1, arr.shape[1] * arr.itemsize))
        for r in range(0, self.n_rows, step):
            yield np.array(arr[r : r + step])
            release(arr)

    def close(self) -> None:
        """Nothing to release (the array is the caller's)."""


class ParquetSource:
    """A Parquet file read by column batches and row batches with pyarrow."""

    def __init__(self, path: Path, argument: str) -> None:
        try:
            import pyarrow.parquet as pq  # noqa: PLC0415 - optional
        except ImportError as exc:  # pragma: no cover - pyarrow is a dev dependency
            raise MissingExtraError("reading Parquet", "parquet", "pyarrow") from exc
        try:
            self._file = pq.ParquetFile(path)
        except (OSError, ValueError) as exc:
            raise InvalidInputError(argument, "a readable Parquet file", str(path)) from exc
        self.names = tuple(self._file.schema_arrow.names)
        self.n_rows = int(self._file.metadata.num_rows)
        self._columns = self.names
        if self.n_rows == 0:
            raise InvalidInputError(argument, "non-empty", "0 rows")

    def select(self, names: Sequence[str], argument: str) -> None:
        """Columns are matched by name (see :class:`Source`)."""
        absent = [n for n in names if n not in self.names]
        if absent:
            raise InvalidInputError(
                argument, f"the reference's columns {list(names)}", f"missing {absent}"
            )
        self._columns = tuple(names)

    def read(self, start: int, stop: int) -> Any:
        """Columns ``start:stop``: a float64 array when all are numeric, else a mapping."""
        import pyarrow as pa  # noqa: PLC0415 - optional

        names = list(self._columns[start:stop])
        schema = self._file.schema_arrow
        numeric = [
            pa.types.is_floating(schema.field(n).type)
            or pa.types.is_integer(schema.field(n).type)
            or pa.types.is_boolean(schema.field(n).type)
            for n in names
        ]
        out = np.empty((self.n_rows, sum(numeric)), dtype=np.float64, order="F")
        labels: dict[str, list[Any]] = {
            n: [] for n, ok in zip(names, numeric, strict=True) if not ok
        }
        where = np.cumsum(numeric) - 1  # each numeric column's place in out
        meta = self._file.metadata
        r = 0
        for group in range(meta.num_row_groups):
            rows = meta.row_group(group).num_rows
            step = max(1, READ_BYTES // (8 * max(rows, 1)))
            for c in range(0, len(names), step):
                part = self._file.read_row_group(group, columns=names[c : c + step])
                for j, column in enumerate(part.columns, start=c):
                    if numeric[j]:
                        _copy_numeric(column, out[r : r + rows, where[j]])
                    else:
                        labels[names[j]].append(column.to_numpy())
            r += rows
        if not labels:
            return out
        data: dict[str, Any] = {}
        k = 0
        for n, ok in zip(names, numeric, strict=True):
            if ok:
                data[n] = out[:, k]
                k += 1
            else:
                data[n] = np.concatenate(labels[n]).astype(object)
        return data

    def columnar(self, spill_dir: str | None) -> Source:  # noqa: ARG002 - the protocol's
        """This source: its column blocks are already cheap to read."""
        return self

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def _copy_numeric(column: Any, out: np.ndarray[Any, Any]) -> None:
    """Copy a numeric Arrow column (float, integer or boolean) into *out*, null as NaN.

    Each chunk is cast to float64 and read straight from its buffer: pyarrow's
    ``to_numpy`` would import pandas on first use (about a second of CPU).
    """
    import pyarrow as pa  # noqa: PLC0415 - optional

    r = 0
    for chunk in column.chunks:
        size = len(chunk)
        double = chunk if chunk.type == pa.float64() else chunk.cast(pa.float64())
        data = double.buffers()[1]
        part = out[r : r + size]
        part[:] = np.frombuffer(data, np.float64, size, double.offset * 8)
        if double.null_count:
            bits = np.frombuffer(double.buffers()[0], np.uint8)
            valid = np.unpackbits(bits, bitorder="little")[double.offset : double.offset + size]
            part[valid == 0] = np.nan
        r += size


class SpillSource:
    """An iterator of 2-D numeric batches, written once to a scratch file.

    The file holds each batch column-major, one after the other; it is removed
    by :meth:`close`, which the blocked passes call when they end.
    """

    def __init__(self, batches: Iterator[Any], argument: str, directory: str | None) -> None:
        fd, name = tempfile.mkstemp(prefix="aiguard-spill-", suffix=".bin", dir=directory)
        self._path = Path(name)
        self._file = os.fdopen(fd, "w+b")
        self._chunks: list[tuple[int, int]] = []  # (offset, rows) of each batch
        width: int | None = None
        names: tuple[str, ...] | None = None
        offset = 0
        try:
            for batch in batches:
                if names is None and hasattr(batch, "columns") and hasattr(batch, "dtypes"):
                    names = tuple(str(c) for c in batch.columns)
                arr = np.asarray(batch)
                arr = arr.reshape(-1, 1) if arr.ndim == 1 else arr
                _check_batch(arr, width, argument)
                width = arr.shape[1]
                if arr.shape[0] == 0:
                    continue
                np.asarray(arr, dtype=np.float64).T.copy(order="C").tofile(self._file)
                self._chunks.append((offset, arr.shape[0]))
                offset += arr.size * 8
        except BaseException:
            self.close()
            raise
        if width is None or not self._chunks:
            self.close()
            raise InvalidInputError(argument, "at least one non-empty batch", "no rows")
        self._width = width
        self.names = names or _default_names(width)
        self.n_rows = sum(rows for _, rows in self._chunks)

    def select(self, names: Sequence[str], argument: str) -> None:
        """Columns are matched by position (see :class:`Source`)."""
        _check_width(names, self._width, argument)
        self.names = tuple(names)

    def read(self, start: int, stop: int) -> np.ndarray[Any, Any]:
        """Columns ``start:stop`` as a Fortran-ordered float64 array (see :class:`Source`)."""
        out = np.empty((self.n_rows, stop - start), dtype=np.float64, order="F")
        r = 0
        for offset, rows in self._chunks:
            self._file.seek(offset + start * rows * 8)
            block = np.fromfile(self._file, dtype=np.float64, count=(stop - start) * rows)
            out[r : r + rows] = block.reshape(stop - start, rows).T
            r += rows
        return out

    def columnar(self, spill_dir: str | None) -> Source:  # noqa: ARG002 - the protocol's
        """This source: its column blocks are already cheap to read."""
        return self

    def close(self) -> None:
        """Close and remove the scratch file."""
        self._file.close()
        self._path.unlink(missing_ok=True)


def _check_batch(arr: np.ndarray[Any, Any], width: int | None, argument: str) -> None:
    if arr.ndim != 2 or arr.dtype.kind not in "fiub" or (width or arr.shape[1]) != arr.shape[1]:
        raise InvalidInputError(
            argument,
            f"batches of numbers with {width or 'the same number of'} columns",
            f"{arr.dtype} {arr.shape}",
        )


def _is_iterator(data: Any) -> bool:
    return isinstance(data, Iterator) or (
        isinstance(data, Iterable)
        and not isinstance(data, str | bytes | Mapping | Sequence | np.ndarray)
        and not hasattr(data, "dtypes")
    )


def open_source(data: Any, argument: str, spill_dir: str | None) -> Source | None:
    """A source for *data* when it is read in blocks, None for in-memory tables.

    Paths (``.npy``, ``.parquet`` / ``.pq``), numeric numpy arrays and
    iterators of batches are sources; frames, mappings and lists are not.

    Raises:
        InvalidInputError: an unknown file type or unreadable file (naming *argument*).
    """
    if isinstance(data, str | os.PathLike):
        path = Path(data)
        suffix = path.suffix.lower()
        if suffix == ".npy":
            try:
                arr = np.load(path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise InvalidInputError(argument, "a readable .npy file", str(path)) from exc
            return ArraySource(arr, argument)
        if suffix in (".parquet", ".pq"):
            return ParquetSource(path, argument)
        raise InvalidInputError(argument, "a .npy or .parquet file", str(path))
    if isinstance(data, np.ndarray):
        ok = data.dtype.kind in "fiub" and data.ndim in (1, 2) and data.size > 0
        return ArraySource(data, argument) if ok else None
    if _is_iterator(data):
        return SpillSource(iter(data), argument, spill_dir)
    return None

"""The durable incident log: append-only JSON Lines, one change record per line.

Durability (``durability=``):

* ``"fsync"`` (default): each :meth:`IncidentLog.append` writes its line with
  one ``write`` on an ``O_APPEND`` descriptor, then ``fsync``; when it
  returns, the record survives a process crash *and* a power cut. Cost: one
  disk flush per change (a few ms on a cloud disk; measured in
  ``benchmarks/incidents.py``).
* ``"batch"``: the line is written at once (it survives ``kill -9``: it is in
  the kernel) and a background thread fsyncs ``batch_interval`` seconds
  later, one fsync for every line written meanwhile; a power cut can lose
  the last interval's records. Many times more records per second. While
  nothing is written the thread sleeps without a timeout (an idle service
  wakes nobody).

Crash safety: a line is a record only when it ends with a newline and parses
as a valid record. A writer that died mid-line leaves a torn last line; the
next writer to open the log (under an exclusive ``flock``) cuts it off, so
appending continues on a clean line; a reader skips it. Every append takes
the lock, so several processes may append to one log (each sees the others'
records at its next append or :meth:`~IncidentLog.refresh`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiguard._core._events import log_once
from aiguard.errors import ConfigurationError, InvalidInputError, StoreError
from aiguard.review._incident import Incident
from aiguard.review._records import check_record

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = ["FileLines", "MemoryLines", "encode"]


def encode(record: Mapping[str, Any]) -> bytes:
    """One record as a JSON line (sorted keys, no NaN)."""
    try:
        text = json.dumps(dict(record), sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError("record", "a JSON-serialisable change record", f"{exc}") from exc
    return text.encode() + b"\n"


def decode(line: bytes) -> dict[str, Any] | None:
    """The record in *line*, or None if it is not a valid record."""
    try:
        return check_record(json.loads(line))
    except (ValueError, UnicodeDecodeError, InvalidInputError):
        return None


class MemoryLines:
    """Lines kept in memory: the log of an :class:`IncidentLog` built without a path."""

    durable = False

    def __init__(self) -> None:
        self._lines: list[bytes] = []

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Nothing to lock across processes."""
        yield

    def read_new(self) -> list[bytes]:
        """Lines not returned before."""
        return []

    def write(self, line: bytes) -> None:
        """Keep *line*."""
        self._lines.append(line)

    def read_all(self) -> list[bytes]:
        """Every line."""
        return list(self._lines)

    def close(self) -> None:
        """Nothing to close."""

    def __repr__(self) -> str:
        """``memory``."""
        return "memory"


class FileLines:
    """Lines of a JSON Lines file, locked with ``flock``, fsynced per line or in batches."""

    durable = True

    def __init__(self, path: str | os.PathLike[str], *, durability: str,
                 batch_interval: float, readonly: bool) -> None:
        if durability not in ("fsync", "batch"):
            raise ConfigurationError("durability", "'fsync' or 'batch'", durability)
        self.path = Path(path)
        self._fsync = durability == "fsync"
        self._offset = 0
        self._dirty = False
        self._stop = threading.Event()
        self._wrote = threading.Event()  # set by a write in batch mode: the syncer's cue
        self.sync_rounds = 0
        """Batch mode: times the fsync thread woke to sync (an idle log wakes it never)."""
        self.torn = 0
        """Torn last lines cut off when the log was opened for writing."""
        flags = os.O_RDONLY if readonly else os.O_RDWR | os.O_CREAT | os.O_APPEND
        try:
            self._fd = os.open(self.path, flags, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot open the incident log {str(self.path)!r}: "
                             f"{exc.strerror}") from exc
        if not readonly:
            with self.locked():
                self._cut_torn_tail()
            if not self._fsync:
                thread = threading.Thread(target=self._syncer, args=(batch_interval,),
                                          name="aiguard-incident-log-fsync", daemon=True)
                thread.start()

    def _cut_torn_tail(self) -> None:
        size = os.fstat(self._fd).st_size
        if size == 0:
            return
        tail = os.pread(self._fd, min(size, 1 << 20), max(0, size - (1 << 20)))
        if tail.endswith(b"\n"):
            return
        cut = tail.rfind(b"\n")
        keep = (size - len(tail) + cut + 1) if cut >= 0 else 0
        if cut < 0 and size > len(tail):  # pragma: no cover - a record over 1 MiB
            return
        os.ftruncate(self._fd, keep)
        os.fsync(self._fd)
        self.torn += 1
        log_once(f"torn:{self.path}", "aiguard: incident log %s ended with a torn line "
                 "(a writer crashed mid-record); it was cut off", str(self.path), exc_info=False,
                 event="incident_log.torn", name=str(self.path))

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the file's exclusive lock (other writing processes wait)."""
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except OSError as exc:
            raise StoreError(f"cannot lock the incident log {str(self.path)!r}: "
                             f"{exc.strerror}") from exc
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def read_new(self) -> list[bytes]:
        """Complete lines written since the last call (by any process)."""
        size = os.fstat(self._fd).st_size
        if size <= self._offset:
            return []
        data = os.pread(self._fd, size - self._offset, self._offset)
        end = data.rfind(b"\n")
        if end < 0:
            return []
        self._offset += end + 1
        return data[: end + 1].splitlines()

    def write(self, line: bytes) -> None:
        """Append *line* in one write, then fsync (or mark it for the batch fsync)."""
        try:
            written = os.write(self._fd, line)
            if written != len(line):  # pragma: no cover - a full disk
                raise OSError(28, "short write")  # noqa: TRY301 - one handler for both
            if self._fsync:
                os.fsync(self._fd)
            else:
                self._dirty = True
                self._wrote.set()
        except OSError as exc:
            raise StoreError(f"cannot append to the incident log {str(self.path)!r}: "
                             f"{exc.strerror}") from exc
        self._offset += len(line)

    def read_all(self) -> list[bytes]:
        """Every complete line of the file."""
        size = os.fstat(self._fd).st_size
        data = os.pread(self._fd, size, 0)
        return data[: data.rfind(b"\n") + 1].splitlines()

    def _syncer(self, interval: float) -> None:
        """After a write, wait *interval* seconds, then fsync; while nothing is written, sleep."""
        while True:
            self._wrote.wait()
            if self._stop.wait(interval):
                return  # close() fsyncs what is pending
            self._wrote.clear()  # before the sync: a write from here on sets it again
            self.sync_rounds += 1
            self.sync()

    def sync(self) -> None:
        """Fsync now if anything was written since the last fsync."""
        if self._dirty:
            self._dirty = False
            with contextlib.suppress(OSError):
                os.fsync(self._fd)

    def close(self) -> None:
        """Fsync what is pending and close the file."""
        self._stop.set()
        self._wrote.set()  # wakes an idle syncer, which sees the stop
        self.sync()
        with contextlib.suppress(OSError):
            os.close(self._fd)

    def __repr__(self) -> str:
        """The path."""
        return str(self.path)


def fold(incidents: dict[str, Incident], record: dict[str, Any]) -> bool:
    """Apply *record* to *incidents* in place; False when it does not apply (skipped)."""
    try:
        if record["op"] == "open":
            if record["id"] in incidents:
                return False
            incidents[record["id"]] = Incident.from_open(record)
            return True
        current = incidents.get(record["id"])
        if current is None:
            return False
        incidents[record["id"]] = current.apply(record)
    except InvalidInputError:
        return False
    return True

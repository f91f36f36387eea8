"""Writable flag stores that need nothing but the standard library: memory and a file.

Both implement :class:`aiguard.typing.FlagStore` (``read_all`` and
``write``); the memory and file stores also keep a bounded ``history`` per
flag. They move JSON records (see :mod:`aiguard.state._records`); the flag set
validates them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiguard._core._logging import fields
from aiguard._core._validate import count
from aiguard.errors import ConfigurationError, StoreError
from aiguard.state._records import HISTORY_LIMIT, encode_record

_flock: Callable[[int, int], object] | None
try:
    import fcntl

    _flock, _LOCK_EX = fcntl.flock, fcntl.LOCK_EX
except ImportError:  # pragma: no cover - Windows: no inter-process lock, documented
    _flock, _LOCK_EX = None, 0

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

__all__ = ["FileStore", "MemoryStore"]

_log = logging.getLogger(__name__)
_FORMAT = "aiguard.flags/1"


class MemoryStore:
    """Flag records in this process's memory: the default store. Thread-safe.

    Records are kept as JSON text, so what you read is always a fresh copy and
    a record that JSON cannot hold is refused when written. Every write is
    also appended to a per-flag :meth:`history` of the last *history_limit*
    records. Two :class:`~aiguard.Flags` sets sharing one ``MemoryStore`` see
    each other's changes at their next refresh.

    Args:
        history_limit: how many past records are kept per flag.

    Example:
        >>> store = MemoryStore()
        >>> store.write("recs.personalized", {"on": False, "reason": "3 AM"})
        >>> store.read_all()
        {'recs.personalized': {'on': False, 'reason': '3 AM'}}
    """

    def __init__(self, *, history_limit: int = HISTORY_LIMIT) -> None:
        self.history_limit = count(history_limit, "history_limit")
        self._lock = threading.Lock()
        self._records: dict[str, str] = {}
        self._history: dict[str, deque[str]] = {}

    def __repr__(self) -> str:
        """Show how many flags are stored."""
        return f"MemoryStore(<{len(self._records)} flags>)"

    def read_all(self) -> dict[str, dict[str, Any]]:
        """Return a copy of every stored record, keyed by flag name."""
        with self._lock:
            items = list(self._records.items())
        return {name: json.loads(text) for name, text in items}

    def write(self, name: str, record: Mapping[str, Any]) -> None:
        """Store *record* for flag *name* and append it to the flag's history.

        Raises:
            InvalidInputError: *record* cannot be stored as JSON.
        """
        text = encode_record(record)
        with self._lock:
            self._put(name, text)

    def write_missing(self, records: Mapping[str, Mapping[str, Any]]) -> list[str]:
        """Store each record whose flag the store does not hold yet; return the names written.

        Atomic (one lock): a record already stored is never replaced.

        Raises:
            InvalidInputError: a record cannot be stored as JSON (nothing is written).

        Example:
            >>> store = MemoryStore()
            >>> store.write("a", {"on": False})
            >>> store.write_missing({"a": {"on": True}, "b": {"on": True}})
            ['b']
            >>> store.read_all()["a"]
            {'on': False}
        """
        texts = {name: encode_record(record) for name, record in records.items()}
        with self._lock:
            missing = [name for name in texts if name not in self._records]
            for name in missing:
                self._put(name, texts[name])
        return missing

    def _put(self, name: str, text: str) -> None:
        """Store *text* for *name* and append it to the history; the caller holds the lock."""
        self._records[name] = text
        history = self._history.get(name)
        if history is None:
            history = self._history[name] = deque(maxlen=self.history_limit)
        history.append(text)

    def history(self, name: str) -> list[dict[str, Any]]:
        """Return the last records written for *name*, oldest first."""
        with self._lock:
            texts = list(self._history.get(name, ()))
        return [json.loads(text) for text in texts]


class FileStore:
    """Flag records in one JSON file: survives restarts, shared by processes on one host.

    The file holds ``{"format": "aiguard.flags/1", "flags": {name: record},
    "history": {name: [record, ...]}}``. Writes take an exclusive lock on
    ``PATH.lock`` (``fcntl.flock``) so concurrent writers from several
    processes lose no update, then write a temporary file in the same
    directory, ``fsync`` it and rename it over the old one: a crash mid-write
    leaves the previous file intact. Reads poll the file: only changed
    content is parsed, so hand edits (made atomically) are picked up at the
    next refresh. A missing file reads as no flags. A file that is not valid
    JSON (corrupt, half-written by a non-atomic editor) makes :meth:`read_all`
    raise :class:`~aiguard.errors.StoreError` (counted in :attr:`errors`,
    logged once per content), so the flag set keeps its last good values and
    reports itself stale; writes refuse to overwrite it, so nothing is lost.
    A single record that is not a JSON object keeps its last good record.

    Args:
        path: the JSON file (its directory must exist when writing).
        history_limit: how many past records are kept per flag.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "flags.json"
        >>> store = FileStore(path)
        >>> store.read_all()
        {}
        >>> store.write("recs.personalized", {"on": False})
        >>> FileStore(path).read_all()
        {'recs.personalized': {'on': False}}
    """

    def __init__(self, path: str | os.PathLike[str], *, history_limit: int = HISTORY_LIMIT) -> None:
        if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
            raise ConfigurationError("path", "a file path", path)
        self.path = Path(path)
        self.history_limit = count(history_limit, "history_limit")
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._thread_lock = threading.Lock()
        self._last_bytes: bytes | None = None
        self._last_good: dict[str, dict[str, Any]] = {}
        self._reported: set[str] = set()
        self.errors = 0
        """Failed reads and writes (unreadable or corrupt file)."""
        self.garbage = 0
        """Records found that are not JSON objects, counted per parse."""

    def __repr__(self) -> str:
        """Show the path."""
        return f"FileStore({str(self.path)!r})"

    def _fail(self, message: str, key: str, exc: Exception) -> StoreError:
        self.errors += 1
        if not key.startswith("corrupt:"):
            # an outage: counted here, logged by whoever handles the StoreError (the flag set
            # logs once when it goes down and once when it is back), as the Redis store does
            _log.debug("aiguard: %s", message, extra=fields("store.failed", str(self.path), exc))
        elif key not in self._reported:  # bad content: once per distinct content
            self._reported.add(key)
            _log.warning("aiguard: %s", message, extra=fields("store.corrupt", str(self.path), exc))
        return StoreError(message)

    def _parse(self, data: bytes) -> dict[str, Any]:
        """Return the document in *data*, or raise StoreError if it is not one."""
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            message = f"{self!r} is not valid JSON ({exc}); keeping the last good values"
            raise self._fail(message, f"corrupt:{hash(data)}", exc) from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("flags", {}), dict):
            message = (
                f'{self!r} is not an aiguard flag file ({{"flags": {{...}}}}); '
                "keeping the last good values"
            )
            raise self._fail(message, f"corrupt:{hash(data)}", StoreError("not a flag file"))
        return doc

    def _read_bytes(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._fail(f"{self!r} cannot be read: {exc}", "read", exc) from exc

    def read_all(self) -> dict[str, dict[str, Any]]:
        """Return every flag record in the file (only re-parsed when the content changed).

        Raises:
            StoreError: the file cannot be read or is not valid JSON.
        """
        data = self._read_bytes()
        if data is None:
            self._last_bytes = None
            self._last_good = {}
            return {}
        if data != self._last_bytes:
            flags: dict[str, Any] = self._parse(data).get("flags", {})
            records: dict[str, dict[str, Any]] = {}
            for name, record in flags.items():
                if isinstance(record, dict):
                    records[name] = record
                    continue
                self.garbage += 1
                if f"garbage:{name}" not in self._reported:
                    self._reported.add(f"garbage:{name}")
                    _log.warning(
                        "aiguard: %r holds garbage for flag %r (%.60r); keeping its last good",
                        self, name, record, extra=fields("store.garbage", name),
                    )
                if name in self._last_good:
                    records[name] = self._last_good[name]
            self._last_good = records
            self._last_bytes = data
        return {name: dict(record) for name, record in self._last_good.items()}

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            if _flock is None:  # pragma: no cover - Windows
                yield
                return
            try:
                fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                message = f"{self!r} cannot create its lock file: {exc}"
                raise self._fail(message, "lock", exc) from exc
            try:
                _flock(fd, _LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the lock

    def _replace(self, data: bytes) -> None:
        directory = self.path.parent
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                mode = self.path.stat().st_mode & 0o777
            except FileNotFoundError:
                mode = 0o644
            os.chmod(tmp, mode)  # noqa: PTH101 - tmp is a str from mkstemp
            os.replace(tmp, self.path)  # noqa: PTH105 - atomic rename is the point
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)  # noqa: PTH108
            raise
        with contextlib.suppress(OSError):  # make the rename itself durable
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def write(self, name: str, record: Mapping[str, Any]) -> None:
        """Store *record* for flag *name* and append it to the history, atomically.

        Raises:
            InvalidInputError: *record* cannot be stored as JSON.
            StoreError: the file cannot be written, or holds something that
                is not a flag file (fix or remove it first: nothing is overwritten).
        """
        self._update({name: json.loads(encode_record(record))}, replace=True)

    def write_missing(self, records: Mapping[str, Mapping[str, Any]]) -> list[str]:
        """Store each record whose flag the file does not hold yet; return the names written.

        Atomic across processes (under the file lock): a record already in the
        file is never replaced, and the file is rewritten only when something
        was missing.

        Raises:
            InvalidInputError: a record cannot be stored as JSON (nothing is written).
            StoreError: as for :meth:`write`.
        """
        values = {name: json.loads(encode_record(record)) for name, record in records.items()}
        return self._update(values, replace=False)

    def _update(self, values: Mapping[str, Any], *, replace: bool) -> list[str]:
        """Under the lock, put *values* (only missing ones unless *replace*); return their names."""
        with self._locked():
            data = self._read_bytes()
            empty = {"format": _FORMAT, "flags": {}, "history": {}}
            doc: dict[str, Any] = empty if data is None else self._parse(data)
            flags = doc.setdefault("flags", {})
            names = [name for name in values if replace or name not in flags]
            if not names:
                return names
            histories = doc.get("history")
            if not isinstance(histories, dict):
                histories = doc["history"] = {}
            for name in names:
                flags[name] = value = values[name]
                history = histories.get(name)
                history = [*history, value] if isinstance(history, list) else [value]
                histories[name] = history[-self.history_limit :]
            doc["format"] = _FORMAT
            try:
                self._replace(json.dumps(doc, indent=1, sort_keys=True).encode())
            except OSError as exc:
                raise self._fail(f"{self!r} cannot be written: {exc}", "write", exc) from exc
            return names

    def history(self, name: str) -> list[dict[str, Any]]:
        """Return the last records written for *name*, oldest first.

        Raises:
            StoreError: the file cannot be read or is not valid JSON.
        """
        data = self._read_bytes()
        if data is None:
            return []
        history = self._parse(data).get("history", {})
        records = history.get(name, []) if isinstance(history, dict) else []
        return [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []

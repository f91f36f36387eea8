"""Breaker boards: where the replicas of a shared breaker post their reports.

A board holds, per shared breaker name, the latest report of each replica (a
JSON-compatible mapping). :class:`~aiguard.RedisStore` is the board of a fleet;
:class:`FileBoard` serves the processes of one host, :class:`MemoryBoard` the
threads of one process (and tests). See :mod:`aiguard.state._fleet`.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from aiguard._core._poller import renew_after_fork
from aiguard.errors import StoreError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["BreakerBoard", "FileBoard", "MemoryBoard"]


@runtime_checkable
class BreakerBoard(Protocol):
    """Where replicas post their breaker reports (``RedisStore``, ``FileBoard``, ``MemoryBoard``).

    A report is a JSON-compatible mapping; each call may raise
    :class:`aiguard.errors.StoreError`.
    """

    def post_breaker(self, breaker: str, replica: str, report: Mapping[str, Any]) -> None:
        """Store *replica*'s latest report for *breaker*."""
        ...

    def read_breakers(self, breaker: str) -> Mapping[str, Mapping[str, Any]]:
        """Return every replica's latest report for *breaker*."""
        ...

    def forget_breaker(self, breaker: str, replica: str) -> None:
        """Delete *replica*'s report for *breaker*."""
        ...


class MemoryBoard:
    """A board in this process's memory: tests, and replicas that are threads.

    Example:
        >>> board = MemoryBoard()
        >>> board.post_breaker("recs", "a", {"state": "open"})
        >>> board.read_breakers("recs")
        {'a': {'state': 'open'}}
    """

    def __init__(self) -> None:
        self._reports: dict[str, dict[str, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def post_breaker(self, breaker: str, replica: str, report: Mapping[str, Any]) -> None:
        """Store *replica*'s latest report for *breaker*."""
        with self._lock:
            self._reports.setdefault(breaker, {})[replica] = dict(report)

    def read_breakers(self, breaker: str) -> dict[str, dict[str, Any]]:
        """Return a copy of every replica's latest report for *breaker*."""
        with self._lock:
            return {r: dict(report) for r, report in self._reports.get(breaker, {}).items()}

    def forget_breaker(self, breaker: str, replica: str) -> None:
        """Delete *replica*'s report for *breaker*."""
        with self._lock:
            self._reports.get(breaker, {}).pop(replica, None)


_FILE_LOCK = threading.Lock()


@renew_after_fork  # before the pollers of shared breakers restart in the child
def _renew_file_lock() -> None:  # pragma: no cover - runs in forked children
    global _FILE_LOCK
    _FILE_LOCK = threading.Lock()


class FileBoard:
    """A board in one JSON file: the replicas of a single host (e.g. gunicorn workers).

    Updates take an exclusive ``lockf`` lock on ``PATH.lock`` and replace the
    file atomically (write, fsync, rename). An unreadable or corrupt file
    raises :class:`~aiguard.errors.StoreError` on read; the next post rewrites it.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "breakers.json"
        >>> FileBoard(path).post_breaker("recs", "a", {"state": "closed"})
        >>> FileBoard(path).read_breakers("recs")
        {'a': {'state': 'closed'}}
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")

    def _load(self) -> dict[str, dict[str, dict[str, Any]]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot read breaker board {self.path}: {exc}") from exc
        if not isinstance(data, dict):
            raise StoreError(f"breaker board {self.path} does not hold a JSON object")
        return data

    def _update(self, breaker: str, replica: str, report: Mapping[str, Any] | None) -> None:
        try:
            import fcntl  # noqa: PLC0415 - POSIX only

            # lockf locks belong to the process (a forked child never inherits one
            # held by a parent's thread); the thread lock orders this process's threads.
            with _FILE_LOCK, self._lock_path.open("a") as lock:
                fcntl.lockf(lock, fcntl.LOCK_EX)
                try:
                    data = self._load()
                except StoreError:
                    data = {}  # a corrupt board is rebuilt from the replicas' next posts
                reports = data.setdefault(breaker, {})
                if report is None:
                    reports.pop(replica, None)
                else:
                    reports[replica] = dict(report)
                temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
                with temporary.open("w", encoding="utf-8") as out:
                    json.dump(data, out, sort_keys=True)
                    out.flush()
                    os.fsync(out.fileno())
                temporary.replace(self.path)
        except OSError as exc:
            raise StoreError(f"cannot update breaker board {self.path}: {exc}") from exc

    def post_breaker(self, breaker: str, replica: str, report: Mapping[str, Any]) -> None:
        """Store *replica*'s latest report for *breaker*."""
        self._update(breaker, replica, report)

    def read_breakers(self, breaker: str) -> dict[str, dict[str, Any]]:
        """Return every replica's latest report for *breaker*."""
        reports = self._load().get(breaker, {})
        return {r: v for r, v in reports.items() if isinstance(v, dict)}

    def forget_breaker(self, breaker: str, replica: str) -> None:
        """Delete *replica*'s report for *breaker*."""
        self._update(breaker, replica, None)

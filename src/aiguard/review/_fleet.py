"""An :class:`~aiguard.IncidentLog` kept in a fleet store (Redis): one incident shared by replicas.

The store keeps the change records in one list; each replica folds the list
the same way, so every replica sees the same incidents. Opening is claimed
per deduplication key (``SET NX``): when two replicas see the same cause at
once, the first claim wins and the other joins its incident. A key stays
claimed after resolution until a new incident with that key is opened; the
opener then replaces the resolved holder.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["StoreLines"]

_NEEDS = ("append_incident_record", "read_incident_records", "claim_incident")


class StoreLines:
    """Lines of an incident log kept in a fleet store (``RedisStore``)."""

    durable = True

    def __init__(self, store: Any) -> None:
        if not all(callable(getattr(store, name, None)) for name in _NEEDS):
            raise ConfigurationError("store", "a store with " + ", ".join(_NEEDS)
                                     + " (RedisStore)", store)
        self._store = store
        self._read = 0
        self._mine: set[bytes] = set()

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Appends are atomic in the store; nothing to lock."""
        yield

    def read_new(self) -> list[bytes]:
        """Records appended by other replicas since the last read (this one's are applied)."""
        lines = [bytes(line) for line in self._store.read_incident_records(self._read)]
        self._read += len(lines)
        fresh = []
        for line in lines:
            if line in self._mine:
                self._mine.discard(line)
            else:
                fresh.append(line)
        return fresh

    def write(self, line: bytes) -> None:
        """Append one record (remembered, so reading skips it: it is applied already)."""
        self._mine.add(line)
        try:
            self._store.append_incident_record(line)
        except Exception:
            self._mine.discard(line)
            raise

    def claim(self, key: str, incident_id: str, replace: str = "") -> str:
        """The incident id holding *key* (*incident_id* when it won the claim)."""
        return str(self._store.claim_incident(key, incident_id, replace))

    def read_all(self) -> list[bytes]:
        """Every record."""
        return [bytes(line) for line in self._store.read_incident_records(0)]

    def close(self) -> None:
        """The store stays open (it is the caller's)."""

    def __repr__(self) -> str:
        """The store."""
        return repr(self._store)

"""``IncidentLog``: the incidents as folded from their durable change records."""

from __future__ import annotations

import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from typing_extensions import Self

from aiguard._core import _validate
from aiguard.errors import ConfigurationError, InvalidInputError
from aiguard.review._incident import Incident
from aiguard.review._log import FileLines, MemoryLines, decode, encode, fold
from aiguard.review._records import check_record

if TYPE_CHECKING:
    import os
    from collections.abc import Mapping

    from aiguard.typing import Clock

__all__ = ["IncidentLog"]


class IncidentLog:
    """Incidents kept as an append-only log of change records (JSON Lines, or Redis).

    Args:
        path: the JSON Lines file (created if missing); None keeps records in
            memory only.
        durability: ``"fsync"`` (each append is on disk when it returns) or
            ``"batch"`` (fsync *batch_interval* seconds after a write; see the module
            :mod:`aiguard.review._log` for the trade-off).
        batch_interval: batch mode: seconds from a write to the fsync that covers it
            (and every write in between); an idle log wakes no thread.
        readonly: open for reading only (never cuts a torn line, never writes).
        store: a fleet store instead of a file: an object with
            ``append_incident_record(line)`` and ``read_incident_records(start)``
            (:class:`~aiguard.RedisStore` has them), so every replica shares
            the same incidents.
        clock: wall clock (seconds since the epoch) stamped on changes made
            through :meth:`change`.

    Attributes:
        skipped: lines that were not valid records, or changes that did not
            apply (a replica's conflicting change), skipped when read.

    Example:
        >>> from aiguard.classify import Severity
        >>> log = IncidentLog()
        >>> inc = log.open(Incident.open_record(
        ...     id="INC-1", title="recs output shift", key="recs", type="data_quality",
        ...     severity=Severity.HIGH, at=0.0, actor="aiguard", affected={"guard": "recs"},
        ...     tags=(), respond_within=None))
        >>> inc = log.change("INC-1", "ack", actor="ana", at=120.0)
        >>> [i.id for i in log.open_incidents()], log.get("INC-1").time_to_acknowledge
        (['INC-1'], 120.0)
        >>> [r["op"] for r in log.history("INC-1")]
        ['open', 'ack']
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *,
                 durability: str = "fsync", batch_interval: float = 0.05,
                 readonly: bool = False, store: Any = None, clock: Clock = time.time) -> None:
        if path is not None and store is not None:
            raise ConfigurationError("store", "None when a path is given", store)
        if not callable(clock):
            raise ConfigurationError("clock", "a callable returning seconds", clock)
        batch_interval = _validate.duration(batch_interval, "batch_interval")
        self._clock = clock
        self._lock = threading.RLock()
        self._lines: Any
        if store is not None:
            from aiguard.review._fleet import StoreLines  # noqa: PLC0415 - optional extra

            self._lines = StoreLines(store)
        elif path is None:
            self._lines = MemoryLines()
        else:
            self._lines = FileLines(path, durability=durability,
                                    batch_interval=batch_interval, readonly=readonly)
        self.readonly = readonly
        self._incidents: dict[str, Incident] = {}
        self._open_by_key: dict[str, list[str]] = {}
        self.records = 0
        """Records folded so far."""
        self.skipped = 0
        self.refresh()

    @property
    def torn(self) -> int:
        """Torn last lines cut off when the log was opened (0 or 1)."""
        return int(getattr(self._lines, "torn", 0))

    def refresh(self) -> None:
        """Read the records other writers appended since the last read."""
        with self._lock:
            for line in self._lines.read_new():
                record = decode(line)
                if record is None or not fold(self._incidents, record):
                    self.skipped += 1
                else:
                    self.records += 1
                    self._index(self._incidents[record["id"]])

    # -- writing ---------------------------------------------------------------

    def _write(self, record: dict[str, Any]) -> Incident:
        if self.readonly:
            raise ConfigurationError("readonly", "False to change incidents", self.readonly)
        record.setdefault("rid", uuid.uuid4().hex[:12])
        line = encode(record)
        if record["op"] == "open":
            if record["id"] in self._incidents:
                raise InvalidInputError("id", "a new incident id", record["id"])
            new = Incident.from_open(record)
        else:
            current = self.get(record["id"])
            new = current.apply(record)
        self._lines.write(line)
        self._incidents[new.id] = new
        self._index(new)
        self.records += 1
        return new

    def append(self, record: Mapping[str, Any]) -> Incident:
        """Validate, apply and durably append one change record; return the incident after it.

        Raises:
            InvalidInputError: the record is not valid or does not apply (an
                unknown id, a status moving backwards, ...); nothing is written.
            StoreError: the file or store cannot be written.
        """
        rec = check_record(dict(record))
        with self._lock, self._lines.locked():
            self.refresh()
            return self._write(rec)

    def open(self, record: Mapping[str, Any]) -> Incident:
        """Append an ``open`` record, unless an open incident has the same key: return that one.

        The check and the append happen under the log's lock (and the file's
        ``flock``), so two processes sharing a log open one incident per key.
        """
        rec = check_record(dict(record))
        key = rec["incident"].get("key") if rec["op"] == "open" else None
        if key is None:
            raise InvalidInputError("record", "an 'open' record with a key", rec["op"])
        with self._lock, self._lines.locked():
            self.refresh()
            found = self.find_open(str(key))
            if found is not None:
                return found
            claim = getattr(self._lines, "claim", None)
            if claim is not None:
                found = self._claimed(claim, str(key), rec["id"])
                if found is not None:
                    return found
            return self._write(rec)

    def _claimed(self, claim: Any, key: str, incident_id: str) -> Incident | None:
        """The open incident another replica holds *key* for, or None when this one won."""
        winner = claim(key, incident_id)
        if winner == incident_id:
            return None
        for _ in range(50):
            self.refresh()
            if winner in self._incidents:
                break
            time.sleep(0.01)
        held = self._incidents.get(winner)
        if held is not None and held.is_open:
            return held
        # resolved, or its opener died before writing it: take the key over
        winner = claim(key, incident_id, winner)
        return None if winner == incident_id else self._incidents.get(winner)

    def change(self, incident_id: str, op: str, *, actor: str, why: str | None = None,
               at: float | None = None, **fields: Any) -> Incident:
        """Append the change *op* of *incident_id* (``ack``, ``status``, ``role``, ...)."""
        record = {"v": 1, "id": incident_id, "op": op, "actor": actor, "why": why,
                  "at": self._clock() if at is None else at, **fields}
        return self.append(record)

    # -- reading ---------------------------------------------------------------

    def get(self, incident_id: str) -> Incident:
        """The incident *incident_id* as of the last read.

        Raises:
            InvalidInputError: no such incident.
        """
        found = self._incidents.get(incident_id)
        if found is None:
            raise InvalidInputError("incident", "the id of a logged incident", repr(incident_id))
        return found

    def __contains__(self, incident_id: object) -> bool:
        """Whether the log holds *incident_id*."""
        return incident_id in self._incidents

    def incidents(self) -> list[Incident]:
        """Every incident, oldest first."""
        return sorted(self._incidents.values(), key=lambda i: (i.opened_at, i.id))

    def open_incidents(self) -> list[Incident]:
        """Incidents not yet resolved, oldest first."""
        return [i for i in self.incidents() if i.is_open]

    def _index(self, incident: Incident) -> None:
        # open ids per key, oldest first (two when replicas raced); no scan on close
        held = self._open_by_key.setdefault(incident.key, [])
        if incident.is_open and incident.id not in held:
            held.append(incident.id)
        elif not incident.is_open and incident.id in held:
            held.remove(incident.id)

    def find_open(self, key: str) -> Incident | None:
        """The open incident with deduplication key *key*, if any (an index lookup).

        Safe without the log's lock (``Incidents.handle`` calls it on the
        signalling thread while the worker writes): it reads a copy of the index entry.
        """
        held = tuple(self._open_by_key.get(key, ()))
        return self._incidents[held[0]] if held else None

    def between(self, start: float, end: float) -> list[Incident]:
        """Incidents active in [start, end]: opened by *end*, not resolved before *start*."""
        found = []
        for incident in self.incidents():
            resolved = incident.status_times.get("resolved")
            if incident.opened_at <= end and (resolved is None or resolved[0] >= start):
                found.append(incident)
        return found

    def history(self, incident_id: str) -> list[dict[str, Any]]:
        """Every valid record of *incident_id*, in log order (re-read from the file)."""
        self.get(incident_id)
        found = []
        for line in self._lines.read_all():
            record = decode(line)
            if record is not None and record["id"] == incident_id:
                found.append(record)
        return found

    def close(self) -> None:
        """Flush and close the file (batch mode: a last fsync)."""
        self._lines.close()

    def __enter__(self) -> Self:
        """Use as a context manager."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close."""
        self.close()

    def __repr__(self) -> str:
        """Where the log is and how many incidents it holds."""
        return f"IncidentLog({self._lines!r}, incidents={len(self._incidents)})"

"""The values an incident is made of: status, timeline entries, and change-record checks.

Every change to an incident is one JSON record (``{"v": 1, "id", "op", "at",
"actor", "why", ...}``); :meth:`Incident.apply` folds a record into a new
incident. The log stores records, never objects: no pickle, no eval, and each
record read back is checked here before it is applied.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from typing import Any

import attrs

from aiguard.errors import InvalidInputError

__all__ = ["ROLES", "Status", "TimelineEntry", "check_record", "utc"]

ROLES: tuple[str, ...] = ("commander", "technical_lead", "communications_lead", "expert")
OPS: tuple[str, ...] = (
    "open", "signal", "status", "ack", "severity", "action", "role", "note", "count", "field",
    "factor", "item", "tag",
)
FIELDS: tuple[str, ...] = (
    "root_cause", "started_at", "title", "guard", "model_version", "flag", "cohort",
    "went_well", "went_wrong", "lucky",
)
MAX_TEXT = 2000


class Status(enum.Enum):
    """Where an incident is: detected, acknowledged, contained, mitigated, resolved, reviewed.

    Statuses only move forward (skipping is allowed: a policy can contain an
    incident before anyone acknowledges it).

    Example:
        >>> Status.CONTAINED > Status.DETECTED
        True
    """

    DETECTED = "detected"
    ACKNOWLEDGED = "acknowledged"
    CONTAINED = "contained"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"
    REVIEWED = "reviewed"

    @property
    def rank(self) -> int:
        """0 for DETECTED up to 5 for REVIEWED."""
        return _ORDER.index(self)

    @property
    def open(self) -> bool:
        """Not yet resolved."""
        return self.rank < _ORDER.index(Status.RESOLVED)

    def __gt__(self, other: object) -> bool:
        """Later in the life of an incident."""
        if not isinstance(other, Status):
            return NotImplemented
        return self.rank > other.rank


_ORDER = list(Status)


def utc(at: float) -> str:
    """Seconds since the epoch as an ISO 8601 UTC string (to the second).

    Example:
        >>> utc(0)
        '1970-01-01T00:00:00Z'
    """
    return dt.datetime.fromtimestamp(at, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@attrs.frozen(kw_only=True)
class TimelineEntry:
    """One line of an incident's append-only timeline.

    Attributes:
        at: seconds since the epoch (shown in UTC).
        actor: who: a person (``"ana"``) or the system (``"aiguard"``, ``"breaker recs"``).
        what: what happened.
        why: why, when known.
        kind: ``"signal"``, ``"status"``, ``"severity"``, ``"action"``, ``"role"``,
            ``"breaker"``, ``"flag"``, ``"fallback"``, ``"router"``,
            ``"escalation"`` or ``"note"``.

    Example:
        >>> TimelineEntry(at=0, actor="ana", what="acknowledged", kind="status").line()
        '1970-01-01T00:00:00Z  ana  acknowledged'
    """

    at: float
    actor: str
    what: str
    why: str | None = None
    kind: str = "note"

    def line(self) -> str:
        """``UTC  actor  what (why)``."""
        why = f" ({self.why})" if self.why else ""
        return f"{utc(self.at)}  {self.actor}  {self.what}{why}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {"at": self.at, "utc": utc(self.at), "actor": self.actor, "what": self.what,
                "why": self.why, "kind": self.kind}


def _text(record: dict[str, Any], key: str, *, optional: bool = False) -> None:
    value = record.get(key)
    if value is None and optional:
        return
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise InvalidInputError(f"record[{key!r}]", f"a string of at most {MAX_TEXT} characters",
                                repr(value)[:80])


def check_record(record: object) -> dict[str, Any]:
    """Return *record* if it is a valid change record, else raise InvalidInputError.

    Example:
        >>> check_record({"v": 1, "id": "INC-1", "op": "note", "at": 1.0, "actor": "ana",
        ...               "what": "looked at dashboards"})["op"]
        'note'
    """
    if not isinstance(record, dict):
        raise InvalidInputError("record", "a JSON object", type(record).__name__)
    if record.get("v") != 1:
        raise InvalidInputError("record['v']", "1", repr(record.get("v")))
    if record.get("op") not in OPS:
        raise InvalidInputError("record['op']", f"one of {', '.join(OPS)}", repr(record.get("op")))
    at = record.get("at")
    if isinstance(at, bool) or not isinstance(at, (int, float)) or not math.isfinite(at):
        raise InvalidInputError("record['at']", "a finite number of seconds", repr(at))
    _text(record, "id")
    _text(record, "actor")
    _text(record, "why", optional=True)
    op = record["op"]
    if op == "open" and not isinstance(record.get("incident"), dict):
        raise InvalidInputError("record['incident']", "a JSON object", repr(record.get("incident")))
    if op in ("note", "factor"):
        _text(record, "what")
    if op == "field" and record.get("field") not in FIELDS:
        raise InvalidInputError("record['field']", f"one of {', '.join(FIELDS)}",
                                repr(record.get("field")))
    if op == "role" and record.get("role") not in ROLES:
        raise InvalidInputError("record['role']", f"one of {', '.join(ROLES)}",
                                repr(record.get("role")))
    return record

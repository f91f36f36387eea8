"""How signals are grouped into incidents (the deduplication key), and how incidents are named.

Evidence keys that usually hold raw rows (``RAW_KEYS``) are dropped from the
record unless the application opted in for that guard (``capture_rows=``).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import attrs

from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from aiguard.classify._runner import ActionResult
    from aiguard.detect._signal import Signal

__all__ = ["RAW_KEYS", "capture_table", "default_key", "new_incident_id", "redact_evidence",
           "retarget"]

RAW_KEYS = ("rows", "inputs", "outputs", "examples", "values")


def default_key(signal: Signal) -> str:
    """``evidence["guard"]`` or the source up to its first dot.

    Example:
        >>> from aiguard.detect import Signal
        >>> default_key(Signal(source="recs.latency", kind="latency", value=3, at=0))
        'recs'
    """
    guard = signal.evidence.get("guard")
    return str(guard) if isinstance(guard, str) and guard else signal.source.split(".", 1)[0]


def new_incident_id() -> str:
    """``INC-`` and 8 random upper-case hex digits.

    Example:
        >>> len(new_incident_id()), new_incident_id()[:4]
        (12, 'INC-')
    """
    return f"INC-{uuid.uuid4().hex[:8].upper()}"


def retarget(result: ActionResult, incident_id: str) -> ActionResult:
    """*result* moved to *incident_id* (another replica opened the incident first)."""
    return attrs.evolve(result, incident_id=incident_id)


def capture_table(capture_rows: Mapping[str, Callable[[Any], Any]] | None) -> dict[str, Any]:
    """Validate ``capture_rows=``: a mapping of deduplication key -> redaction callable.

    Example:
        >>> capture_table({"search": len})
        {'search': <built-in function len>}
    """
    if capture_rows is None:
        return {}
    if not callable(getattr(capture_rows, "items", None)):
        raise ConfigurationError("capture_rows", "a mapping {guard: redact callable}",
                                 capture_rows)
    for key, redact in capture_rows.items():
        if not isinstance(key, str) or not callable(redact):
            raise ConfigurationError("capture_rows", "a mapping {guard: redact callable}",
                                     f"{key!r}: {redact!r}")
    return dict(capture_rows)


def redact_evidence(evidence: Mapping[str, Any],
                    redact: Callable[[Any], Any] | None) -> tuple[dict[str, Any], bool]:
    """*evidence* without its raw-row keys, or with them passed through *redact*.

    Returns the evidence and whether *redact* raised (its value is then dropped).

    Example:
        >>> redact_evidence({"rejected": 3, "rows": [[1, 2]]}, None)
        ({'rejected': 3}, False)
        >>> redact_evidence({"rejected": 3, "rows": [[1, 2]]}, len)
        ({'rejected': 3, 'rows': 1}, False)
    """
    kept = dict(evidence)
    failed = False
    for name in RAW_KEYS:
        if name not in kept:
            continue
        if redact is None:
            del kept[name]
            continue
        try:
            kept[name] = redact(kept[name])
        except Exception:  # never record what the redaction could not clean
            del kept[name]
            failed = True
    return kept, failed

"""How signals are grouped into incidents (the deduplication key), and how incidents are named.

Evidence keys that usually hold raw rows (``RAW_KEYS``) are dropped from the
record unless the application opted in for that guard (``capture_rows=``).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from aiguard.classify._runner import ActionResult
    from aiguard.detect._signal import Signal

__all__ = ["RAW_KEYS", "default_key", "new_incident_id", "retarget"]

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

"""The one thing detection hands to classification: a :class:`Signal`.

A monitor or detector that decides something is wrong (or has stopped being
wrong) emits a ``Signal``. Classification (:mod:`aiguard.classify`) turns it
into a severity and actions; the incident record (:mod:`aiguard.review`) keeps
its evidence. Evidence holds aggregates only (statistics, feature and group
names, counts, shares), never raw input rows or outputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping  # noqa: TC003 - attrs resolves the field annotations
from types import MappingProxyType
from typing import Any, Literal

import attrs

__all__ = ["SIGNAL_KINDS", "Signal", "SignalKind", "SignalStatus"]

SignalKind = Literal[
    "drift", "latency", "error_rate", "output", "performance", "fairness", "confidence", "input"
]
SignalStatus = Literal["breach", "escalated", "recovered"]

SIGNAL_KINDS: tuple[str, ...] = (
    "drift",
    "latency",
    "error_rate",
    "output",
    "performance",
    "fairness",
    "confidence",
    "input",
)
_STATUSES: tuple[str, ...] = ("breach", "escalated", "recovered")


def _freeze(evidence: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(evidence or {}))


def _one_of(options: tuple[str, ...]) -> Any:
    def check(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value not in options:
            from aiguard.errors import ConfigurationError  # noqa: PLC0415 - avoid a cycle at import

            raise ConfigurationError(attribute.name, f"one of {', '.join(map(repr, options))}",
                                     value)

    return check


def _as_float(value: object) -> float:
    return float(value)  # type: ignore[arg-type]


def _as_optional_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


@attrs.frozen(kw_only=True)
class Signal:
    """A detection decision: *source* says *kind* moved to *value* (against *baseline*).

    Attributes:
        source: who decided, e.g. ``"recs.latency"`` (the monitor's name).
        kind: what was watched: ``"drift"``, ``"latency"``, ``"error_rate"``,
            ``"output"``, ``"performance"``, ``"fairness"``, ``"confidence"``
            or ``"input"``.
        value: the observed figure that crossed (or came back under) the threshold.
        baseline: the figure it is compared with, when there is one.
        threshold: the limit that decides, when there is one.
        evidence: a small read-only mapping of aggregates that explain the
            decision (which features moved, which groups, the window).
        at: when it was decided, in seconds of the emitter's clock.
        status: ``"breach"`` (first crossing), ``"escalated"`` (the value got
            worse while in breach) or ``"recovered"`` (back within bounds).

    Example:
        >>> s = Signal(source="recs.latency", kind="latency", value=3.0, baseline=0.2,
        ...            threshold=1.0, evidence={"quantile": "p99"}, at=12.0)
        >>> s.breach, s.evidence["quantile"]
        (True, 'p99')
    """

    source: str
    kind: SignalKind = attrs.field(validator=_one_of(SIGNAL_KINDS))
    value: float = attrs.field(converter=_as_float)
    baseline: float | None = attrs.field(default=None, converter=_as_optional_float)
    threshold: float | None = attrs.field(default=None, converter=_as_optional_float)
    evidence: Mapping[str, Any] = attrs.field(factory=dict, converter=_freeze, hash=False)
    at: float = attrs.field(converter=_as_float)
    status: SignalStatus = attrs.field(default="breach", validator=_one_of(_STATUSES))

    @property
    def breach(self) -> bool:
        """True while the watched figure is out of bounds (``breach`` or ``escalated``)."""
        return self.status != "recovered"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (NaN and infinities as ``None``)."""

        def clean(value: float | None) -> float | None:
            return None if value is None or not math.isfinite(value) else value

        return {
            "source": self.source,
            "kind": self.kind,
            "value": clean(self.value),
            "baseline": clean(self.baseline),
            "threshold": clean(self.threshold),
            "evidence": dict(self.evidence),
            "at": self.at,
            "status": self.status,
        }

"""What happened to one guarded call: who served it, why, how fast."""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

import attrs

from aiguard._core._format import readable_repr

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["STAGES", "Outcome"]

#: The stages of the Guard pipeline, in the order a call meets them.
STAGES: tuple[str, ...] = (
    "kill_switch",
    "rate_limit",
    "bulkhead",
    "breaker",
    "timeout",
    "retry",
    "model",
    "check",
    "fallback",
)


def _frozen(mapping: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(mapping))


@attrs.frozen(slots=True, repr=False)
class Outcome:
    """The outcome of one guarded call, as read from ``guard.last_outcome``.

    Attributes:
        guard: name of the guard.
        served_by: ``"model"`` when the model's answer was returned (possibly
            with some rows replaced, see ``rows_replaced``), ``"raised"`` when
            the call raised to the caller (no fallback, an exception outside
            ``fallback_on``, or every fallback tier failed; ``error`` holds
            what was raised), else the name of the fallback tier that served
            the whole call.
        reason: why the model's answer was not used as-is: ``None`` (it was),
            ``"error"`` (the model raised), ``"invalid"`` (the output failed the
            check), ``"open"`` (breaker open), ``"disabled"`` (kill switch off),
            ``"rate_limited"``, ``"bulkhead_full"``, ``"timeout"``,
            ``"invalid_input"`` (the guard's ``input_check`` rejected the call's rows).
        stage: the pipeline stage that decided (one of :data:`STAGES`, or
            ``"input_check"`` for a call the input check refused as a whole).
        rows_replaced: how many rows of a batch a per-row fallback replaced.
        latency: seconds from entering the guard to the answer, on the guard's clock.
        error: the exception that made the guard fall back, if any.
        rows_rejected: how many rows the guard's ``input_check`` rejected
            (they went to the fallback, or the call was refused).
        rejected: rows rejected per input check (its ``repr``), a read-only mapping.

    Example:
        >>> o = Outcome(guard="recs", served_by="popular_items", reason="error",
        ...             stage="model", rows_replaced=0, latency=0.002, error=None)
        >>> o.fallback
        True
    """

    guard: str
    served_by: str
    reason: str | None
    stage: str
    rows_replaced: int
    latency: float
    error: BaseException | None = attrs.field(default=None, eq=False)
    rows_rejected: int = 0
    rejected: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen, hash=False)

    @property
    def fallback(self) -> bool:
        """Whether a fallback served the call (whole or some rows)."""
        return self.served_by not in ("model", "raised") or self.rows_replaced > 0

    @property
    def raised(self) -> bool:
        """Whether the call raised to the caller instead of returning."""
        return self.served_by == "raised"

    def __repr__(self) -> str:
        """The fields, floats without binary noise; input rejections only when there are some."""
        fields = [(f.name, getattr(self, f.name)) for f in attrs.fields(type(self))]
        if not self.rows_rejected and not self.rejected:
            fields = fields[:-2]
        else:
            fields[-1] = ("rejected", dict(self.rejected))
        return readable_repr(type(self).__name__, fields)

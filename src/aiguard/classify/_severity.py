"""How bad, how fast: the four severity levels of the playbook's classification matrix.

===========  ==================================================  ================
level        meaning (the playbook's words)                      respond within
===========  ==================================================  ================
CRITICAL     immediate harm to users or major business disruption   15 minutes
HIGH         significant impact, limited scope                       1 hour
MEDIUM       moderate impact, manageable workarounds                 4 hours
LOW          minor issues, minimal business impact                   24 hours
===========  ==================================================  ================

Levels are ordered (``LOW < MEDIUM < HIGH < CRITICAL``). When evidence is
unknown or conflicting, aiguard assumes the worst: :func:`worst` of the
candidates. The response times are defaults; an application passes its own
with ``respond_within={Severity.HIGH: timedelta(minutes=30)}`` to a
:class:`~aiguard.Policy` (see :func:`sla_table`).
"""

from __future__ import annotations

import enum
from datetime import timedelta
from typing import TYPE_CHECKING

from aiguard.classify._values import seconds as check_seconds
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["Severity", "sla_table", "worst"]

_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}
_DEFAULT_SECONDS = {"critical": 15 * 60.0, "high": 3600.0, "medium": 4 * 3600.0, "low": 24 * 3600.0}
_DESCRIPTIONS = {
    "critical": "immediate harm to users or major business disruption",
    "high": "significant impact, limited scope",
    "medium": "moderate impact, manageable workarounds",
    "low": "minor issues, minimal business impact",
}


class Severity(enum.Enum):
    """How bad an incident is, ordered ``LOW < MEDIUM < HIGH < CRITICAL``.

    Example:
        >>> Severity.HIGH > Severity.MEDIUM, Severity("critical").respond_within
        (True, datetime.timedelta(seconds=900))
        >>> Severity.LOW.description
        'minor issues, minimal business impact'
    """

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for LOW up to 3 for CRITICAL."""
        return _RANK[self.value]

    @property
    def respond_within(self) -> timedelta:
        """The default response time of this level (see :func:`sla_table` to change it)."""
        return timedelta(seconds=_DEFAULT_SECONDS[self.value])

    @property
    def description(self) -> str:
        """The playbook's description of this level."""
        return _DESCRIPTIONS[self.value]

    def __lt__(self, other: object) -> bool:
        """Order by rank."""
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        """Order by rank."""
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        """Order by rank."""
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        """Order by rank."""
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank

    @classmethod
    def parse(cls, value: object, argument: str = "severity") -> Severity:
        """Return the level named by *value* (a Severity or its name, any case).

        Raises:
            ConfigurationError: *value* names no level.

        Example:
            >>> Severity.parse("HIGH")
            <Severity.HIGH: 'high'>
        """
        if isinstance(value, Severity):
            return value
        if isinstance(value, str) and value.lower() in _RANK:
            return cls(value.lower())
        raise ConfigurationError(argument, "a Severity or one of low, medium, high, critical",
                                 value)


def worst(severities: Iterable[Severity]) -> Severity:
    """The highest of *severities* (the rule for unknown or conflicting evidence).

    Example:
        >>> worst([Severity.MEDIUM, Severity.CRITICAL, Severity.LOW])
        <Severity.CRITICAL: 'critical'>
    """
    found = list(severities)
    if not found:
        raise ConfigurationError("severities", "at least one Severity", found)
    return max(found, key=lambda s: s.rank)


def sla_table(overrides: Mapping[Severity | str, float | timedelta] | None = None,
              ) -> dict[Severity, float]:
    """Seconds to respond per level: the defaults with an application's *overrides*.

    Raises:
        ConfigurationError: an unknown level or a duration that is not > 0.

    Example:
        >>> sla_table({"high": timedelta(minutes=30)})[Severity.HIGH]
        1800.0
    """
    table = {level: level.respond_within.total_seconds() for level in Severity}
    if overrides is None:
        return table
    if not hasattr(overrides, "items"):
        raise ConfigurationError("respond_within", "a mapping {Severity: seconds}", overrides)
    for level, seconds in overrides.items():
        table[Severity.parse(level, "respond_within")] = check_seconds(
            seconds, f"respond_within[{level!s}]")
    return table

"""The people half of :class:`~aiguard.Incidents` (mixed in): what responders do to an incident.

Every method appends one change record (validated, durable) and returns the
incident after it; acknowledging, closing and tagging also tell the escalation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiguard.classify._severity import Severity

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiguard.classify._runner import ActionRunner
    from aiguard.review._escalation import Escalation
    from aiguard.review._incident import Incident
    from aiguard.review._incident_log import IncidentLog
    from aiguard.review._records import Status

__all__ = ["People"]


class People:
    """Acknowledge, assign, move, annotate and close incidents (mixed into Incidents)."""

    log: IncidentLog
    escalation: Escalation | None
    runner: ActionRunner
    _write: Callable[..., Incident]

    def get(self, incident_id: str) -> Incident:
        """The incident *incident_id* (InvalidInputError if unknown)."""
        return self.log.get(incident_id)

    def open_incidents(self) -> list[Incident]:
        """Incidents not yet resolved, oldest first."""
        return self.log.open_incidents()

    def ack(self, incident_id: str, *, actor: str) -> Incident:
        """A person acknowledges: the escalation clock stops."""
        incident = self._write(incident_id, "ack", actor=actor)
        if self.escalation is not None:
            self.escalation.acknowledge(incident_id)
        return incident

    def set_status(self, incident_id: str, status: Status | str, *, actor: str,
                   reason: str | None = None) -> Incident:
        """Move to a later status (``contained``, ``mitigated``, ``resolved``, ``reviewed``)."""
        value = getattr(status, "value", status)
        incident = self._write(incident_id, "status", status=value, actor=actor, why=reason)
        if not incident.is_open:
            self.runner.forget(incident_id)
            if self.escalation is not None:
                self.escalation.acknowledge(incident_id)
        return incident

    def resolve(self, incident_id: str, *, actor: str, reason: str | None = None,
                root_cause: str | None = None) -> Incident:
        """Record the root cause (if given) and move to RESOLVED."""
        if root_cause is not None:
            self._write(incident_id, "field", field="root_cause", value=root_cause, actor=actor)
        return self.set_status(incident_id, "resolved", actor=actor, reason=reason)

    def assign(self, incident_id: str, role: str, name: str, *, actor: str) -> Incident:
        """Give *role* (commander, technical_lead, communications_lead, expert) to *name*."""
        return self._write(incident_id, "role", role=role, name=name, actor=actor)

    def set_severity(self, incident_id: str, severity: Severity | str, *, actor: str,
                     reason: str | None = None) -> Incident:
        """Raise, or lower (a reason is required), the severity."""
        level = Severity.parse(severity)
        incident = self._write(incident_id, "severity", severity=level.value, actor=actor,
                               why=reason)
        if self.escalation is not None:
            self.escalation.update(incident)
        return incident

    def note(self, incident_id: str, what: str, *, actor: str, why: str | None = None,
             kind: str = "note") -> Incident:
        """Add a line to the timeline."""
        return self._write(incident_id, "note", what=what, actor=actor, why=why, kind=kind)

    def set(self, incident_id: str, field: str, value: str | float | None, *,
            actor: str) -> Incident:
        """Set a field: root_cause, started_at, went_well, went_wrong, lucky, model_version, ..."""
        return self._write(incident_id, "field", field=field, value=value, actor=actor)

    def add_factor(self, incident_id: str, what: str, *, actor: str) -> Incident:
        """Add a contributing factor."""
        return self._write(incident_id, "factor", what=what, actor=actor)

    def add_action_item(self, incident_id: str, what: str, *, owner: str,
                        actor: str) -> Incident:
        """Add an action item with its owner."""
        return self._write(incident_id, "item", what=what, owner=owner, actor=actor)

    def tag(self, incident_id: str, tag: str, *, actor: str) -> Incident:
        """Tag the incident (legal, compliance, pr, security): the tag's targets are notified."""
        incident = self._write(incident_id, "tag", tag=tag, actor=actor)
        if self.escalation is not None:
            self.escalation.update(incident)
        return incident

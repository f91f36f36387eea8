"""Phase 4, post-incident review: the incident record, escalation, the durable log, the postmortem.

:class:`Incidents` turns signals into classified :class:`Incident` records,
applies the policy's actions, pages through an :class:`Escalation` and keeps
every change in an :class:`IncidentLog`; ``incident.postmortem()`` starts the
blameless review.
"""

from aiguard.review._escalation import Escalation, EscalationEvent, Level
from aiguard.review._incident import Incident
from aiguard.review._incident_log import IncidentLog
from aiguard.review._keys import default_key
from aiguard.review._manager import Incidents
from aiguard.review._notifiers import (
    LogNotifier,
    Webhook,
    message_for,
    sign,
    slack_payload,
    verify_signature,
)
from aiguard.review._postmortem import Postmortem
from aiguard.review._records import ROLES, Status, TimelineEntry

__all__ = [
    "ROLES",
    "Escalation",
    "EscalationEvent",
    "Incident",
    "IncidentLog",
    "Incidents",
    "Level",
    "LogNotifier",
    "Postmortem",
    "Status",
    "TimelineEntry",
    "Webhook",
    "default_key",
    "message_for",
    "sign",
    "slack_payload",
    "verify_signature",
]

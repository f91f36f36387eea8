"""Type-checked only (mypy --strict): the incident API keeps its types for users' code."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aiguard as ag
from aiguard.detect import Signal

if TYPE_CHECKING:
    from aiguard.classify import ActionContext, Decision
    from aiguard.typing import Action, IncidentHook, Notifier


def pager(message: Any) -> None:
    """A callback notifier."""


class Ticket:
    """A user's own action: satisfies the Action Protocol without subclassing."""

    name = "ticket()"
    key = "ticket"

    def describe(self) -> str:
        return "open a ticket"

    def __call__(self, context: ActionContext, /) -> str:
        return f"ticket for {context.incident_id}"


def mirror(incident: ag.Incident, /) -> None:
    """A user's incident hook."""


notifier: Notifier = pager
action: Action = Ticket()
hook: IncidentHook = mirror
rule: ag.rules.Rule = ag.rules.when(ag.rules.kind("drift"), severity=ag.Severity.LOW,
                                    actions=[action, ag.rules.notify(notifier)])
policy: ag.Policy = ag.Policy([rule], observe_only=True)
decision: Decision = policy.classify(Signal(source="x", kind="drift", value=1.0, at=0.0))
level: ag.Severity = decision.severity
incidents = ag.Incidents(policy, hooks=[hook], escalation=ag.Escalation(
    levels=[("on-call", 0, notifier)]))
opened: list[ag.Incident] = incidents.open_incidents()
status: ag.Status = opened[0].status if opened else ag.Status.DETECTED
seconds: float | None = opened[0].time_to_contain if opened else None
markdown: str = opened[0].postmortem().markdown if opened else ""
log: ag.IncidentLog = ag.IncidentLog()

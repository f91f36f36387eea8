"""Phase 1b, classification: how bad is it, how fast must we act, what do we do?

A :class:`Policy` of rules turns a :class:`~aiguard.detect.Signal` into a
:class:`Severity` (with its response time) and containment actions
(:mod:`aiguard.rules`).
"""

from aiguard import rules
from aiguard.classify._actions import Action, ActionContext
from aiguard.classify._policy import INCIDENT_TYPES, Decision, Policy, Rule
from aiguard.classify._runner import ActionResult
from aiguard.classify._severity import Severity, sla_table, worst

__all__ = [
    "INCIDENT_TYPES",
    "Action",
    "ActionContext",
    "ActionResult",
    "Decision",
    "Policy",
    "Rule",
    "Severity",
    "rules",
    "sla_table",
    "worst",
]

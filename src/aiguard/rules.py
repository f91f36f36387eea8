"""Policy rules: signal predicates, ``when(...)``, containment actions and the default rules.

Predicates combine with ``&``, ``|`` and ``~`` and print as the expression that
built them; actions act on your existing containment objects.

Example:
    >>> import aiguard as ag
    >>> g = ag.Guard(name="recs", breaker=ag.CircuitBreaker(name="recs"))
    >>> rule = ag.rules.when(ag.rules.kind("latency") & ag.rules.ratio_above(5),
    ...                      severity="high", actions=[ag.rules.fallback(g)],
    ...                      name="latency spike")
    >>> rule.name, rule.actions
    ('latency spike', (fallback(recs),))
"""

from aiguard.classify._actions import (
    Action,
    ActionContext,
    fallback,
    kill,
    notify,
    page,
    rollback,
    shed,
    shutdown,
)
from aiguard.classify._match import (
    Match,
    always,
    drop_above,
    evidence,
    kind,
    ratio_above,
    source,
    value_above,
    value_below,
)
from aiguard.classify._policy import Rule, default_rules, when

__all__ = [
    "Action",
    "ActionContext",
    "Match",
    "Rule",
    "always",
    "default_rules",
    "drop_above",
    "evidence",
    "fallback",
    "kill",
    "kind",
    "notify",
    "page",
    "ratio_above",
    "rollback",
    "shed",
    "shutdown",
    "source",
    "value_above",
    "value_below",
    "when",
]

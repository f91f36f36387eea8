"""Policies: ordered rules ``when(predicate) -> severity + actions``, and the default one.

Every rule whose predicate matches a breach signal is taken into account:
the decision's severity is the **worst** of the matching rules' (conflicting
evidence: assume the worst) and its actions are those of every matching rule,
in rule order, each once. A breach no rule matches is *unknown* evidence and
gets ``unmatched`` (default CRITICAL, the worst). Recovery signals are never
classified: they are recorded on the incident's timeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from aiguard.classify import _actions, _match
from aiguard.classify._severity import Severity, sla_table, worst
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from datetime import timedelta

    from aiguard.detect._signal import Signal
    from aiguard.typing import Action

__all__ = ["INCIDENT_TYPES", "Decision", "Policy", "Rule", "default_rules", "when"]

#: The incident types of the playbook (the ``type`` of a rule and of an incident).
INCIDENT_TYPES: tuple[str, ...] = (
    "data_drift", "data_quality", "adversarial", "infrastructure", "performance", "fairness",
)


def _incident_type(_instance: object, _attribute: object, value: object) -> None:
    if value not in INCIDENT_TYPES:
        raise ConfigurationError("type", f"one of {', '.join(INCIDENT_TYPES)}", value)


def _severity(value: object) -> Severity:
    return Severity.parse(value)


def _actions_tuple(value: Iterable[Action]) -> tuple[Action, ...]:
    items = tuple(value)
    for item in items:
        if not callable(item) or not isinstance(getattr(item, "key", None), str):
            raise ConfigurationError("actions", "Action objects (aiguard.rules.fallback, ...)",
                                     item)
    return items


@attrs.frozen(kw_only=True)
class Rule:
    """One line of a policy: when *predicate* matches, *severity* and *actions*.

    Attributes:
        name: a short name for the timeline (``"latency spike"``).
        predicate: ``signal -> bool`` (see :mod:`aiguard.rules`).
        severity: the level this rule assigns.
        actions: what to do, in order.
        type: the incident type (one of :data:`INCIDENT_TYPES`).

    Example:
        >>> from aiguard.classify import _match as m
        >>> Rule(name="errors", predicate=m.kind("error_rate"), severity=Severity.HIGH,
        ...      type="infrastructure").severity
        <Severity.HIGH: 'high'>
    """

    name: str
    predicate: Callable[[Signal], bool]
    severity: Severity = attrs.field(converter=_severity)
    actions: tuple[Action, ...] = attrs.field(default=(), converter=_actions_tuple)
    type: str = attrs.field(default="performance", validator=_incident_type)


def when(predicate: Callable[[Signal], bool], *, severity: Severity | str,
         actions: Sequence[Action] = (), type: str = "performance",  # noqa: A002 - the field
         name: str | None = None) -> Rule:
    """Build a :class:`Rule`: ``when(kind("latency") & ratio_above(5), severity="high", ...)``.

    Example:
        >>> from aiguard.classify._match import kind
        >>> when(kind("fairness"), severity="critical", type="fairness").name
        "kind('fairness')"
    """
    if not callable(predicate):
        raise ConfigurationError("predicate", "a callable signal -> bool", predicate)
    return Rule(name=name or repr(predicate), predicate=predicate, severity=severity,
                actions=actions, type=type)


@attrs.frozen(kw_only=True)
class Decision:
    """What a policy decided about one signal.

    Attributes:
        severity: the worst severity of the matching rules (``unmatched`` if none).
        rules: the names of the matching rules.
        actions: the actions to take, each once, in rule order.
        type: the incident type of the worst matching rule.
        observe_only: True when the actions are to be recorded, not taken.
        respond_within: seconds allowed to respond at this severity.

    Example:
        >>> Decision(severity=Severity.LOW, rules=(), actions=(), type="performance",
        ...          observe_only=True, respond_within=86400.0).matched
        False
    """

    severity: Severity
    rules: tuple[str, ...]
    actions: tuple[Action, ...]
    type: str
    observe_only: bool
    respond_within: float

    @property
    def matched(self) -> bool:
        """Whether a rule matched (False: unknown evidence, ``unmatched`` severity)."""
        return bool(self.rules)


class Policy:
    """An ordered list of :class:`Rule` turning signals into a severity and actions.

    Args:
        rules: the rules, in order.
        observe_only: record every decision and the actions it *would* take,
            change nothing (the way teams adopt a policy).
        respond_within: per-level response times overriding the defaults
            (``{Severity.HIGH: timedelta(minutes=30)}``).
        unmatched: the severity of a breach no rule matches (unknown evidence).

    Example:
        >>> from aiguard.detect import Signal
        >>> from aiguard.classify._match import kind
        >>> policy = Policy([when(kind("error_rate"), severity="high", type="infrastructure")])
        >>> d = policy.classify(Signal(source="recs.errors", kind="error_rate", value=0.3, at=0))
        >>> d.severity, d.rules, d.respond_within
        (<Severity.HIGH: 'high'>, ("kind('error_rate')",), 3600.0)
    """

    def __init__(self, rules: Iterable[Rule], *, observe_only: bool = False,
                 respond_within: Mapping[Severity | str, float | timedelta] | None = None,
                 unmatched: Severity | str = Severity.CRITICAL) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        for rule in self.rules:
            if not isinstance(rule, Rule):
                raise ConfigurationError("rules", "Rule objects (aiguard.rules.when(...))", rule)
        if not isinstance(observe_only, bool):
            raise ConfigurationError("observe_only", "a bool", observe_only)
        self.observe_only = observe_only
        self.respond_within = sla_table(respond_within)
        self.unmatched = Severity.parse(unmatched, "unmatched")

    @classmethod
    def default(cls, *, observe_only: bool = False, **targets: Any) -> Policy:
        """The playbook's decision framework as a policy (see :func:`default_rules`).

        Example:
            >>> [r.name for r in Policy.default().rules][:2]
            ['fairness violation', 'security signal']
        """
        return cls(default_rules(**targets), observe_only=observe_only)

    def classify(self, signal: Signal) -> Decision:
        """Decide the severity and the actions for *signal* (pure; changes nothing)."""
        matched = [rule for rule in self.rules if rule.predicate(signal)]
        if not matched:
            return Decision(severity=self.unmatched, rules=(), actions=(), type="performance",
                            observe_only=self.observe_only,
                            respond_within=self.respond_within[self.unmatched])
        severity = worst(rule.severity for rule in matched)
        top = next(rule for rule in matched if rule.severity is severity)
        seen: set[str] = set()
        actions: list[Action] = []
        for rule in matched:
            for action in rule.actions:
                if action.key not in seen:
                    seen.add(action.key)
                    actions.append(action)
        return Decision(severity=severity, rules=tuple(rule.name for rule in matched),
                        actions=tuple(actions), type=top.type, observe_only=self.observe_only,
                        respond_within=self.respond_within[severity])

    def __repr__(self) -> str:
        """The rules' names and the mode."""
        mode = ", observe_only=True" if self.observe_only else ""
        return f"Policy({[rule.name for rule in self.rules]!r}{mode})"


def _contain(guard: Any, flags: Any, kill_switch: str | None) -> list[Action]:
    if flags is not None and kill_switch is not None:
        return [_actions.kill(flags, kill_switch)]
    return [] if guard is None else [_actions.fallback(guard)]


def default_rules(*, guard: Any = None, flags: Any = None, kill_switch: str | None = None,
                  registry: Any = None, rate_limit: Any = None, shed_to: float | None = None,
                  escalation: Any = None, notifier: Any = None) -> list[Rule]:
    """The playbook's decision framework; each action is included only when its target is given.

    ``contain`` below is ``kill(flags, kill_switch)`` when both are given, else
    ``fallback(guard)``; ``page`` needs *escalation*, ``notify`` *notifier*,
    ``shed`` *rate_limit* and *shed_to*, ``rollback`` *registry*.

    ===================  ==========================================  ========  ===============
    rule                 when                                        severity  actions
    ===================  ==========================================  ========  ===============
    fairness violation   kind fairness                               CRITICAL  contain, page
    security signal      evidence ``tags`` has security/adversarial  CRITICAL  contain, page
    latency spike        kind latency, value >= 5 x baseline         HIGH      fallback, shed,
                                                                               page
    latency breach       kind latency                                MEDIUM    notify
    error rate           kind error_rate                             HIGH      fallback, page
    bad outputs          kind output                                 HIGH      fallback, page
    major accuracy drop  kind performance, baseline - value >= 0.10  HIGH      rollback (else
                                                                               fallback), page
    minor accuracy drop  kind performance                            MEDIUM    notify
    corrupt inputs       kind input                                  MEDIUM    notify
    data drift           kind drift or confidence                    MEDIUM    notify
    ===================  ==========================================  ========  ===============

    Example:
        >>> len(default_rules())
        10
    """
    contain = _contain(guard, flags, kill_switch)
    fall: list[Action] = [] if guard is None else [_actions.fallback(guard)]
    pages: list[Action] = [] if escalation is None else [_actions.page(escalation)]
    notes: list[Action] = [] if notifier is None else [_actions.notify(notifier)]
    sheds: list[Action] = [] if rate_limit is None or shed_to is None else [
        _actions.shed(rate_limit, to=shed_to)]
    back: list[Action] = [] if registry is None else [_actions.rollback(registry)]
    m = _match
    return [
        when(m.kind("fairness"), severity="critical", actions=contain + pages, type="fairness",
             name="fairness violation"),
        when(m.evidence("tags", "security", "adversarial"), severity="critical",
             actions=contain + pages, type="adversarial", name="security signal"),
        when(m.kind("latency") & m.ratio_above(5), severity="high",
             actions=fall + sheds + pages, type="performance", name="latency spike"),
        when(m.kind("latency"), severity="medium", actions=notes, type="performance",
             name="latency breach"),
        when(m.kind("error_rate"), severity="high", actions=fall + pages,
             type="infrastructure", name="error rate"),
        when(m.kind("output"), severity="high", actions=fall + pages, type="data_quality",
             name="bad outputs"),
        when(m.kind("performance") & m.drop_above(0.10), severity="high",
             actions=(back or fall) + pages, type="performance", name="major accuracy drop"),
        when(m.kind("performance"), severity="medium", actions=notes, type="data_drift",
             name="minor accuracy drop"),
        when(m.kind("input"), severity="medium", actions=notes, type="data_quality",
             name="corrupt inputs"),
        when(m.kind("drift", "confidence"), severity="medium", actions=notes, type="data_drift",
             name="data drift"),
    ]

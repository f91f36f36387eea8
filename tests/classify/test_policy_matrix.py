"""The default policy, rule by rule, with observe_only off and on, through a real Incidents."""

from __future__ import annotations

from typing import Any

import pytest

import aiguard as ag
from aiguard.detect import Signal
from aiguard.testing import FakeClock

T0 = 1_700_000_000.0


class Registry:
    """A stand-in model registry: counts rollbacks."""

    name = "recs-registry"

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def rollback(self, *, reason: str) -> str:
        self.reasons.append(reason)
        return "v41"


class World:
    """Every containment target of the default policy, freshly built."""

    def __init__(self, *, observe_only: bool) -> None:
        self.clock = FakeClock(T0)
        self.breaker = ag.CircuitBreaker(name="recs", clock=self.clock)
        self.guard = ag.Guard(name="recs", breaker=self.breaker, fallback=lambda x: 0.0)
        self.flags = ag.Flags(refresh=None, declare={"recs.model": True})
        self.limit = ag.RateLimit(100, clock=self.clock)
        self.registry = Registry()
        self.pages: list[dict[str, Any]] = []
        self.notes: list[dict[str, Any]] = []
        self.escalation = ag.Escalation(
            levels=[("on-call", 0, self.pages.append), ("leadership", 3600, self.pages.append)],
            clock=self.clock)
        self.policy = ag.Policy.default(
            guard=self.guard, flags=self.flags, kill_switch="recs.model", registry=self.registry,
            rate_limit=self.limit, shed_to=10, escalation=self.escalation,
            notifier=self.notes.append, observe_only=observe_only)
        self.incidents = ag.Incidents(self.policy, escalation=self.escalation, clock=self.clock)

    def state(self) -> dict[str, Any]:
        return {"breaker": self.breaker.state.value, "flag": self.flags.enabled("recs.model"),
                "rate": self.limit.rate, "rollbacks": len(self.registry.reasons),
                "pages": sorted({p["target"] for p in self.pages}), "notes": len(self.notes)}


UNTOUCHED = {"breaker": "closed", "flag": True, "rate": 100.0, "rollbacks": 0, "pages": [],
             "notes": 0}

# rule name -> (signal fields, severity, incident type, state after, contained)
MATRIX: dict[str, tuple[dict[str, Any], str, str, dict[str, Any], bool]] = {
    "fairness violation": (
        {"kind": "fairness", "value": 0.25, "threshold": 0.1,
         "evidence": {"groups": ["a", "b"]}},
        "critical", "fairness",
        {"flag": False, "pages": ["leadership", "on-call"]}, True),
    "security signal": (
        {"kind": "input", "value": 0.3, "evidence": {"tags": ["adversarial"]}},
        "critical", "adversarial",
        {"flag": False, "pages": ["leadership", "on-call"], "notes": 1}, True),
    "latency spike": (
        {"kind": "latency", "value": 3.0, "baseline": 0.2},
        "high", "performance",
        {"breaker": "forced_open", "rate": 10.0, "pages": ["on-call"], "notes": 1}, True),
    "latency breach": (
        {"kind": "latency", "value": 0.5, "baseline": 0.2},
        "medium", "performance", {"notes": 1}, False),
    "error rate": (
        {"kind": "error_rate", "value": 0.3, "threshold": 0.05},
        "high", "infrastructure", {"breaker": "forced_open", "pages": ["on-call"]}, True),
    "bad outputs": (
        {"kind": "output", "value": 0.4, "baseline": 0.02},
        "high", "data_quality", {"breaker": "forced_open", "pages": ["on-call"]}, True),
    "major accuracy drop": (
        {"kind": "performance", "value": 0.78, "baseline": 0.92},
        "high", "performance", {"rollbacks": 1, "pages": ["on-call"], "notes": 1}, True),
    "minor accuracy drop": (
        {"kind": "performance", "value": 0.90, "baseline": 0.92},
        "medium", "data_drift", {"notes": 1}, False),
    "corrupt inputs": (
        {"kind": "input", "value": 0.2}, "medium", "data_quality", {"notes": 1}, False),
    "data drift": (
        {"kind": "drift", "value": 0.3, "evidence": {"features": ["region"]}},
        "medium", "data_drift", {"notes": 1}, False),
}


def test_the_matrix_covers_every_default_rule() -> None:
    """One row per default rule, in the policy's order."""
    assert list(MATRIX) == [rule.name for rule in ag.Policy.default().rules]


@pytest.mark.parametrize("observe_only", [False, True], ids=["act", "observe_only"])
@pytest.mark.parametrize("rule", list(MATRIX))
def test_default_rule(rule: str, observe_only: bool) -> None:
    """The rule's severity, type and actions; observe_only records the same and changes nothing."""
    fields, severity, kind, changed, contains = MATRIX[rule]
    world = World(observe_only=observe_only)
    signal = Signal(source="recs.monitor", at=0.0, **fields)
    decision = world.policy.classify(signal)
    assert rule in decision.rules
    assert decision.severity.value == severity
    world.incidents.handle(signal)
    assert world.incidents.flush()
    incident = world.incidents.open_incidents()[0]
    assert incident.severity.value == severity
    assert incident.type == kind
    statuses = {a["status"] for a in incident.actions}
    if observe_only:
        assert world.state() == UNTOUCHED
        assert statuses == {"observed"}
        assert all(a["detail"].startswith("would ") for a in incident.actions)
        assert incident.status.value == "detected"
        assert any("observe_only" in e.what for e in incident.timeline)
    else:
        assert world.state() == {**UNTOUCHED, **changed}
        assert statuses == {"applied"}
        assert (incident.status.value == "contained") is contains
    assert [a["action"] for a in incident.actions] == [a.name for a in decision.actions]
    world.incidents.close()


def test_an_unmatched_breach_is_assumed_to_be_the_worst() -> None:
    """A signal no rule matches is unknown evidence: CRITICAL by default."""
    policy = ag.Policy([ag.rules.when(ag.rules.kind("drift"), severity="low")])
    decision = policy.classify(Signal(source="x", kind="latency", value=1, at=0))
    assert decision.severity is ag.Severity.CRITICAL
    assert not decision.matched
    assert decision.respond_within == 900.0


def test_conflicting_rules_take_the_worst_severity_and_every_action_once() -> None:
    """Two matching rules: the higher severity, actions in rule order without duplicates."""
    notes: list[object] = []
    note = ag.rules.notify(notes.append)
    policy = ag.Policy([
        ag.rules.when(ag.rules.kind("latency"), severity="medium", actions=[note], name="a"),
        ag.rules.when(ag.rules.always(), severity="high", actions=[note],
                      type="infrastructure", name="b"),
    ], respond_within={"high": 600})
    decision = policy.classify(Signal(source="x", kind="latency", value=1, at=0))
    assert (decision.severity, decision.rules, decision.type) == (
        ag.Severity.HIGH, ("a", "b"), "infrastructure")
    assert decision.actions == (note,)
    assert decision.respond_within == 600.0


def test_policy_and_rule_validation() -> None:
    """Bad rules, types, actions and flags raise ConfigurationError naming them."""
    with pytest.raises(ag.ConfigurationError, match="rules"):
        ag.Policy(["not a rule"])  # type: ignore[list-item]
    with pytest.raises(ag.ConfigurationError, match="observe_only"):
        ag.Policy([], observe_only=1)  # type: ignore[arg-type]
    with pytest.raises(ag.ConfigurationError, match="type"):
        ag.rules.when(ag.rules.always(), severity="low", type="weather")
    with pytest.raises(ag.ConfigurationError, match="actions"):
        ag.rules.when(ag.rules.always(), severity="low", actions=[print])  # type: ignore[list-item]
    with pytest.raises(ag.ConfigurationError, match="predicate"):
        ag.rules.when("always", severity="low")  # type: ignore[arg-type]
    with pytest.raises(ag.ConfigurationError, match="unmatched"):
        ag.Policy([], unmatched="bad")


def test_repr_names_the_rules_and_the_mode() -> None:
    """The policy prints its rules' names and observe_only."""
    policy = ag.Policy([ag.rules.when(ag.rules.always(), severity="low", name="all")],
                       observe_only=True)
    assert repr(policy) == "Policy(['all'], observe_only=True)"


def test_contain_falls_back_when_no_kill_switch_is_given() -> None:
    """Without flags, the critical rules contain with the guard's fallback."""
    guard = ag.Guard(name="recs", breaker=ag.CircuitBreaker(name="recs"))
    rule = ag.Policy.default(guard=guard).rules[0]
    assert [a.name for a in rule.actions] == ["fallback(recs)"]
    assert ag.Policy.default().rules[0].actions == ()

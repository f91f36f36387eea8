"""Incidents(contain="inline"): inline-safe containment on the signalling thread; "worker"."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

import pytest

import aiguard as ag
from aiguard.detect import Signal
from aiguard.testing import FakeClock

if TYPE_CHECKING:
    from aiguard.classify import ActionContext

T0 = 1_700_000_000.0
ERRORS = Signal(source="recs.errors", kind="error_rate", value=0.4, threshold=0.05, at=0.0)


class Gate:
    """Blocks an Incidents' worker until opened, so what handle() did alone can be seen."""

    def __init__(self, incidents: ag.Incidents) -> None:
        self.open = threading.Event()
        incidents.worker.submit(self.open.wait)

    def release(self) -> None:
        self.open.set()


class Seen(ag.rules.Action):
    """A containment action recording the thread it runs on (inline-safe or not)."""

    contains = True

    def __init__(self, *, inline: bool, failures: int = 0) -> None:
        super().__init__(f"seen(inline={inline})", "seen")
        self.inline = inline
        self.failures = failures
        self.threads: list[str] = []

    def __call__(self, context: ActionContext) -> str:
        self.threads.append(threading.current_thread().name)
        if len(self.threads) <= self.failures:
            msg = "switch unreachable"
            raise ConnectionError(msg)
        return "seen"


def world(*, contain: str = "inline", **kw: Any) -> tuple[ag.CircuitBreaker, ag.Incidents]:
    breaker = ag.CircuitBreaker(name="recs")
    guard = ag.Guard(name="recs", breaker=breaker)
    incidents = ag.Incidents(ag.Policy.default(guard=guard), clock=FakeClock(T0),
                             contain=contain, **kw)
    return breaker, incidents


def test_the_breaker_is_forced_open_before_handle_returns() -> None:
    """With the worker blocked, handle() alone forces the fallback; the records follow."""
    breaker, incidents = world()
    gate = Gate(incidents)
    incidents.handle(ERRORS)
    assert breaker.state is ag.BreakerState.FORCED_OPEN
    assert incidents.open_incidents() == []  # nothing recorded yet: that is the worker's
    gate.release()
    assert incidents.flush()
    (incident,) = incidents.open_incidents()
    assert [(a["action"], a["status"]) for a in incident.actions] == [
        ("fallback(recs)", "applied")]
    assert incident.status is ag.Status.CONTAINED
    incidents.close()


def test_inline_false_leaves_every_action_to_the_worker() -> None:
    """Incidents(contain="worker"): the same inline-safe action runs on the worker thread."""
    action = Seen(inline=True)
    policy = ag.Policy([ag.rules.when(ag.rules.always(), severity="high", actions=[action])])
    incidents = ag.Incidents(policy, contain="worker", handoff=0)
    incidents.handle(ERRORS)
    assert incidents.flush()
    assert action.threads == ["aiguard-incidents"]
    incidents.close()


def test_only_inline_safe_actions_run_on_the_callers_thread() -> None:
    """An inline action sees the caller's thread; a containment action without inline=True not."""
    fast, slow = Seen(inline=True), Seen(inline=False)
    slow.key = "slow"
    policy = ag.Policy([ag.rules.when(ag.rules.always(), severity="high",
                                      actions=[fast, slow])])
    incidents = ag.Incidents(policy, handoff=0, contain="inline")
    incidents.handle(ERRORS)
    assert incidents.flush()
    assert fast.threads == [threading.current_thread().name]
    assert slow.threads == ["aiguard-incidents"]
    (incident,) = incidents.open_incidents()
    assert [a["status"] for a in incident.actions] == ["applied", "applied"]
    incidents.close()


@pytest.mark.parametrize("contain", ["inline", "thread"])
def test_signals_racing_their_incidents_opening_contain_once_and_join_it(contain: str) -> None:
    """Three signals before the worker opens the incident: one incident, one application."""
    action = Seen(inline=True)
    policy = ag.Policy([ag.rules.when(ag.rules.always(), severity="high", actions=[action])])
    ids = iter(["INC-1", "INC-2", "INC-3"])
    incidents = ag.Incidents(policy, new_id=lambda: next(ids), contain=contain)
    gate = Gate(incidents)
    for _ in range(3):
        incidents.handle(ERRORS)
    if contain == "inline":  # applied before handle() returned
        assert len(action.threads) == 1
    gate.release()
    assert incidents.flush()
    assert len(action.threads) == 1
    (incident,) = incidents.open_incidents()
    assert incident.id == "INC-1"
    assert len(incident.signals) == 3
    assert [a["status"] for a in incident.actions] == ["applied"]
    incidents.close()


@pytest.mark.parametrize("contain", ["thread", "inline", "worker"])
def test_an_open_incident_is_not_contained_twice_even_after_a_manual_reset(contain: str) -> None:
    """Idempotent per incident: a breaker reset by a person stays reset on the next signal."""
    breaker, incidents = world(contain=contain)
    incidents.handle(ERRORS)
    assert incidents.flush()
    breaker.reset()
    incidents.handle(ERRORS)
    assert incidents.flush()
    assert breaker.state is ag.BreakerState.CLOSED
    (incident,) = incidents.open_incidents()
    assert len(incident.actions) == 1
    incidents.resolve(incident.id, actor="ana")
    incidents.handle(ERRORS)  # a new incident: contained again
    assert incidents.flush()
    assert breaker.state is ag.BreakerState.FORCED_OPEN
    incidents.close()


def test_an_inline_action_that_raises_is_recorded_and_retried_on_the_worker() -> None:
    """The caller never sees the error; the worker records it and retries after 1 s."""
    clock = FakeClock(T0)
    action = Seen(inline=True, failures=1)
    policy = ag.Policy([ag.rules.when(ag.rules.always(), severity="high", actions=[action])])
    incidents = ag.Incidents(policy, clock=clock, contain="inline")
    incidents.handle(ERRORS)
    assert incidents.flush()
    clock.advance(1)
    assert incidents.flush()
    (incident,) = incidents.open_incidents()
    assert [(a["status"], a["at"]) for a in incident.actions] == [
        ("failed", T0), ("applied", T0 + 1)]
    assert incident.actions[0]["detail"] == "ConnectionError: switch unreachable"
    assert action.threads == [threading.current_thread().name, "aiguard-incidents"]
    assert incident.status is ag.Status.CONTAINED
    incidents.close()


def test_observe_only_changes_nothing_inline() -> None:
    """An observe_only policy applies nothing at signal time; the worker records 'observed'."""
    breaker = ag.CircuitBreaker(name="recs")
    policy = ag.Policy.default(guard=ag.Guard(name="recs", breaker=breaker), observe_only=True)
    incidents = ag.Incidents(policy, clock=FakeClock(T0))
    incidents.handle(ERRORS)
    assert breaker.state is ag.BreakerState.CLOSED
    assert incidents.flush()
    assert [a["status"] for a in incidents.open_incidents()[0].actions] == ["observed"]
    incidents.close()


class Waits(threading.Event):
    """threading.Event recording each timed wait (how handle() hands over to the worker)."""

    timeouts: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        Waits.timeouts.append(timeout)
        return super().wait(timeout)


@pytest.mark.parametrize(("registry", "waits"), [(False, []), (True, [0.25])],
                         ids=["all-inline", "rollback-on-worker"])
def test_handle_waits_for_the_worker_only_when_it_must_contain(
        monkeypatch: pytest.MonkeyPatch, registry: bool, waits: list[float]) -> None:
    """No hand-over wait when containment is done inline; up to handoff when a rollback is left."""
    class Registry:
        def rollback(self, *, reason: str) -> str:
            return "v1"

    guard = ag.Guard(name="recs", breaker=ag.CircuitBreaker(name="recs"))
    policy = ag.Policy([ag.rules.when(ag.rules.always(), severity="high", actions=[
        ag.rules.rollback(Registry()) if registry else ag.rules.fallback(guard)])])
    incidents = ag.Incidents(policy, handoff=0.25, clock=FakeClock(T0), contain="inline")
    Waits.timeouts = []
    monkeypatch.setattr(threading, "Event", Waits)
    incidents.handle(ERRORS)
    assert Waits.timeouts == waits
    monkeypatch.undo()
    assert incidents.flush()
    assert incidents.open_incidents()[0].status is ag.Status.CONTAINED
    incidents.close()


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="SCHED_BATCH is Linux's")
def test_the_worker_yields_its_wakeups_only_when_it_has_nothing_to_contain() -> None:
    """SCHED_BATCH when the worker has no containment to apply; the default policy otherwise."""
    guard = ag.Guard(name="recs", breaker=ag.CircuitBreaker(name="recs"))

    class Registry:
        def rollback(self, *, reason: str) -> None:
            """Roll back."""

    cases = {
        "inline": ag.Incidents(ag.Policy.default(guard=guard), contain="inline"),
        "rollback": ag.Incidents(ag.Policy.default(registry=Registry()), contain="inline"),
        "worker": ag.Incidents(ag.Policy.default(guard=guard), contain="worker"),
        "thread": ag.Incidents(ag.Policy.default(registry=Registry())),
    }
    for incidents in cases.values():
        assert incidents.flush()
    assert {name: i.worker.batch for name, i in cases.items()} == {
        "inline": True, "rollback": False, "worker": False, "thread": True}
    for incidents in cases.values():
        incidents.close()


def test_validation_of_contain_and_a_bad_retry_rule_leaves_no_thread() -> None:
    """contain must name a mode; a refused retry rule stops the worker it had started."""
    with pytest.raises(ag.ConfigurationError, match=r"^contain must be 'thread', 'inline' or"):
        ag.Incidents(contain="caller")

    def workers() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "aiguard-incidents"}

    before = workers()
    with pytest.raises(ag.ConfigurationError, match="retry_delays"):
        ag.Incidents(retry_delays=(-1,))
    assert workers() == before


@pytest.mark.parametrize("contain", ["thread", "inline", "worker"])
def test_incident_ids_are_made_once_per_new_incident(contain: str) -> None:
    """new_id is called for a new incident only, never for a signal joining an open one."""
    made: list[str] = []

    def new_id() -> str:
        made.append(f"INC-{len(made) + 1:04d}")
        return made[-1]

    incidents = ag.Incidents(clock=FakeClock(T0), new_id=new_id, contain=contain)
    for source in ("recs.errors", "recs.errors", "search.errors", "recs.errors"):
        incidents.handle(Signal(source=source, kind="error_rate", value=0.4, at=0.0))
        assert incidents.flush()
    assert made == ["INC-0001", "INC-0002"]
    assert sorted(i.id for i in incidents.open_incidents()) == made
    incidents.close()

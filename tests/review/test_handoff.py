"""Incidents(contain="thread"), the default: containment on its own threads, a bounded wait."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

import pytest

import aiguard as ag
from aiguard.classify._handoff import MAX_THREADS, Containment, Handoff
from aiguard.detect import Signal
from aiguard.review import _early
from aiguard.testing import FakeClock

if TYPE_CHECKING:
    from aiguard.classify import ActionContext

T0 = 1_700_000_000.0
RECS = Signal(source="recs.errors", kind="error_rate", value=0.4, threshold=0.05, at=0.0)
SEARCH = Signal(source="search.errors", kind="error_rate", value=0.4, threshold=0.05, at=0.0)


class Probe(ag.rules.Action):
    """A containment action recording its threads; it may raise first, or hang until released."""

    contains = True
    inline = True

    def __init__(self, name: str = "probe", *, failures: int = 0, hang: bool = False) -> None:
        super().__init__(name, name)
        self.failures = failures
        self.threads: list[threading.Thread] = []
        self.started = threading.Event()
        self.release = threading.Event()
        if not hang:
            self.release.set()

    def __call__(self, context: ActionContext) -> str:
        self.threads.append(threading.current_thread())
        self.started.set()
        self.release.wait(10.0)
        if len(self.threads) <= self.failures:
            msg = "switch unreachable"
            raise ConnectionError(msg)
        return "probed"


def incidents_with(*actions: ag.rules.Action, **kw: object) -> ag.Incidents:
    policy = ag.Policy([ag.rules.when(ag.rules.always(), severity="high", actions=actions)])
    return ag.Incidents(policy, **kw)  # type: ignore[arg-type]


def test_containment_is_applied_on_a_containment_thread_not_the_callers() -> None:
    """The breaker is forced open by a thread of the Incidents' own, and the incident contained."""
    breaker = ag.CircuitBreaker(name="recs")
    seen: list[threading.Thread] = []
    breaker.add_listener(lambda e: seen.append(threading.current_thread()), outcomes=False)
    incidents = ag.Incidents(ag.Policy.default(guard=ag.Guard(name="recs", breaker=breaker)),
                             clock=FakeClock(T0))
    assert incidents.contain == "thread"
    incidents.handle(RECS)
    assert incidents.flush()
    assert breaker.state is ag.BreakerState.FORCED_OPEN
    assert seen[0] is not threading.current_thread()
    assert seen[0].name == "aiguard-incidents-contain-0"
    assert seen[0] is not incidents.worker._thread
    (incident,) = incidents.open_incidents()
    assert [(a["action"], a["status"]) for a in incident.actions] == [
        ("fallback(recs)", "applied")]
    assert incident.status is ag.Status.CONTAINED
    incidents.close()


def test_a_hanging_action_costs_the_caller_the_bound_and_others_are_still_contained() -> None:
    """handle() returns while the action hangs (late); another guard is contained meanwhile."""
    stuck, other = Probe("stuck", hang=True), Probe("other")
    policy = ag.Policy([
        ag.rules.when(ag.rules.source("recs.*"), severity="high", actions=[stuck]),
        ag.rules.when(ag.rules.source("search.*"), severity="high", actions=[other]),
    ])
    incidents = ag.Incidents(policy, clock=FakeClock(T0), handoff=0.01)
    incidents.handle(RECS)
    assert stuck.started.wait(5.0)
    assert incidents.late == 1  # handle() stopped waiting: the action still runs
    assert incidents.worker.flush()  # the incident is recorded meanwhile, not yet contained
    assert incidents.open_incidents()[0].status is ag.Status.DETECTED
    incidents.handle(SEARCH)  # a second containment thread serves it
    assert other.started.wait(5.0)
    assert other.threads[0] is not stuck.threads[0]
    assert not incidents.flush(timeout=0.05)  # the stuck action has not returned
    stuck.release.set()
    assert incidents.flush()
    statuses = {i.key: (i.status, [a["status"] for a in i.actions])
                for i in incidents.open_incidents()}
    assert statuses == {"recs": (ag.Status.CONTAINED, ["applied"]),
                        "search": (ag.Status.CONTAINED, ["applied"])}
    incidents.close()


def test_an_action_that_raises_is_recorded_and_retried_on_the_worker() -> None:
    """The caller never sees the error; it is on the timeline, then retried after 1 s."""
    clock = FakeClock(T0)
    action = Probe(failures=1)
    incidents = incidents_with(action, clock=clock)
    incidents.handle(RECS)
    assert incidents.flush()
    clock.advance(1)
    assert incidents.flush()
    (incident,) = incidents.open_incidents()
    assert [(a["status"], a["at"]) for a in incident.actions] == [
        ("failed", T0), ("applied", T0 + 1)]
    assert incident.actions[0]["detail"] == "ConnectionError: switch unreachable"
    assert [t.name for t in action.threads] == ["aiguard-incidents-contain-0",
                                                "aiguard-incidents"]
    incidents.close()


def test_observe_only_hands_nothing_over() -> None:
    """observe_only: no action runs, the caller does not wait, 'observed' is recorded."""
    action = Probe()
    policy = ag.Policy([ag.rules.when(ag.rules.always(), severity="high", actions=[action])],
                       observe_only=True)
    incidents = ag.Incidents(policy, clock=FakeClock(T0))
    incidents.handle(RECS)
    assert incidents.flush()
    assert action.threads == []
    assert [a["status"] for a in incidents.open_incidents()[0].actions] == ["observed"]
    incidents.close()


def test_slow_actions_run_on_the_containment_thread_after_the_inline_safe_ones() -> None:
    """A rollback is handed over too, after the in-memory flips, not left to the worker."""
    order: list[tuple[str, str]] = []

    class Registry:
        def rollback(self, *, reason: str) -> str:
            order.append(("rollback", threading.current_thread().name))
            return "v1"

    breaker = ag.CircuitBreaker(name="recs")
    breaker.add_listener(lambda e: order.append(("fallback", threading.current_thread().name)),
                         outcomes=False)
    guard = ag.Guard(name="recs", breaker=breaker)
    incidents = incidents_with(ag.rules.rollback(Registry()), ag.rules.fallback(guard),
                               clock=FakeClock(T0))
    incidents.handle(RECS)
    assert incidents.flush()
    assert order == [("fallback", "aiguard-incidents-contain-0"),
                     ("rollback", "aiguard-incidents-contain-0")]
    incidents.close()


def test_a_signal_handled_from_a_containment_thread_does_not_wait_for_itself() -> None:
    """An action that raises another signal (a listener) is not a caller: no wait, no late."""
    class Chain(Probe):
        def __call__(self, context: ActionContext) -> str:
            incidents.handle(SEARCH)
            return super().__call__(context)

    chain = Chain("chain")
    incidents = incidents_with(chain, clock=FakeClock(T0), handoff=5.0)
    incidents.handle(RECS)
    assert incidents.flush()
    assert incidents.late == 0
    assert sorted(i.key for i in incidents.open_incidents()) == ["recs", "search"]
    incidents.close()


def test_handoff_threads_survive_a_raising_job_and_stop_at_the_maximum() -> None:
    """A job that raises is counted; spare() adds threads up to MAX_THREADS, then logs once."""
    handoff = Handoff("t")
    handoff.submit(lambda: 1 / 0)
    assert handoff.drain(5.0)
    assert handoff.errors == 1
    gate = threading.Event()
    held = threading.Semaphore(0)

    def hold() -> None:
        held.release()
        gate.wait(10.0)

    for _ in range(MAX_THREADS):
        handoff.submit(hold)
        assert held.acquire(timeout=5.0)  # taken: no thread idle any more
        handoff.spare()
    assert handoff.threads == MAX_THREADS
    handoff.submit(hold)  # every thread held: it queues
    assert not handoff.drain(0.01)
    gate.set()
    assert handoff.drain(5.0)
    handoff.close()
    handoff.spare()  # closed: starts nothing
    assert handoff.threads == MAX_THREADS
    assert not any(t.is_alive() for t in threading.enumerate() if t.name.startswith("aiguard-t-"))


def test_a_finished_containment_calls_back_at_once_or_never() -> None:
    """then() registers a callback only while the job runs; after it, False and no call."""
    runner_calls: list[str] = []

    class Runner:
        def apply_claimed(self, action: object, context: object) -> str:
            runner_calls.append("applied")
            return "applied"

    job = Containment(Runner(), [object()], context=None)  # type: ignore[arg-type,list-item]
    called: list[int] = []
    assert job.then(lambda: called.append(1))
    job()
    assert (called, job.applied, runner_calls) == ([1], ("applied",), ["applied"])
    assert not job.then(lambda: called.append(2))
    assert called == [1]


@pytest.mark.parametrize("contain", ["thread", "inline", "worker"])
def test_every_mode_contains_the_default_policy_once(contain: str) -> None:
    """Each mode forces the breaker open and records one applied action."""
    breaker = ag.CircuitBreaker(name="recs")
    incidents = ag.Incidents(ag.Policy.default(guard=ag.Guard(name="recs", breaker=breaker)),
                             clock=FakeClock(T0), contain=contain)
    for _ in range(3):
        incidents.handle(RECS)
    assert incidents.flush()
    assert breaker.state is ag.BreakerState.FORCED_OPEN
    (incident,) = incidents.open_incidents()
    assert [a["status"] for a in incident.actions] == ["applied"]
    incidents.close()


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="SCHED_BATCH is Linux's")
def test_a_spare_started_by_the_batch_worker_wakes_under_the_default_policy() -> None:
    """The worker (SCHED_BATCH) starts spares; they reset to SCHED_OTHER, to wake at once."""
    stuck = Probe("stuck", hang=True)
    incidents = incidents_with(stuck, clock=FakeClock(T0), handoff=0)
    incidents.handle(RECS)  # holds the only thread; the worker then starts a spare
    assert stuck.started.wait(5.0)
    assert incidents.worker.flush()
    assert incidents.worker.batch
    assert incidents.handoffs is not None
    assert incidents.handoffs.threads == 2
    policies = {t.name: os.sched_getscheduler(t.native_id or 0) for t in threading.enumerate()
                if t.name.startswith("aiguard-incidents-contain-")}
    assert policies == {"aiguard-incidents-contain-0": os.SCHED_OTHER,
                        "aiguard-incidents-contain-1": os.SCHED_OTHER}
    stuck.release.set()
    incidents.close()


def test_the_records_follow_a_slow_containment_even_when_the_caller_does_not_wait(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """handoff=0: the worker still writes the incident after the action (RECORDS_WAIT)."""
    monkeypatch.setattr(_early, "RECORDS_WAIT", 5.0)  # 0.1 s by default; a loaded CI is slower
    order: list[str] = []

    class Slow(Probe):
        def __call__(self, context: ActionContext) -> str:
            threading.Event().wait(0.02)
            order.append("contained")
            return "slow"

    incidents = incidents_with(Slow("slow"), clock=FakeClock(T0), handoff=0,
                               hooks=[lambda incident: order.append(incident.status.value)])
    incidents.handle(RECS)
    assert incidents.flush()
    assert order[:2] == ["contained", "detected"]
    assert incidents.late == 0  # it did not wait, so it was never late
    incidents.close()

"""Actions: idempotent, validated, run off the caller's thread, retried per the documented rule."""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

import aiguard as ag
from aiguard.classify import ActionContext, ActionResult
from aiguard.classify._runner import MAX_QUEUE, ActionRunner, Worker, background
from aiguard.detect import Signal
from aiguard.testing import FakeClock

if TYPE_CHECKING:
    from pathlib import Path

CTX = ActionContext(incident_id="INC-1", severity=ag.Severity.HIGH, reason="test")


def test_fallback_forces_the_breaker_open_once() -> None:
    """fallback(guard) forces the breaker open; again is a no-op saying so."""
    breaker = ag.CircuitBreaker(name="recs")
    action = ag.rules.fallback(ag.Guard(name="recs", breaker=breaker))
    assert "FORCED_OPEN" in action.describe()
    assert "forced open" in action(CTX)
    assert breaker.state is ag.BreakerState.FORCED_OPEN
    assert action(CTX) == "breaker 'recs' already forced open"
    assert ag.rules.fallback(breaker).name == "fallback(recs)"


def test_kill_turns_the_flag_off_with_incident_and_actor() -> None:
    """kill(name, flags=flags) stamps the incident id and reason on the flag."""
    flags = ag.Flags(refresh=None, declare={"recs.model": True})
    action = ag.rules.kill("recs.model", flags=flags)
    assert action(CTX) == "flag 'recs.model' turned off"
    state = flags.get("recs.model")
    assert (state.on, state.actor, state.reason) == (False, "aiguard", "INC-1: test")
    assert action(CTX) == "flag 'recs.model' already off"
    assert action.describe() == "turn kill switch 'recs.model' off"


def test_kill_still_takes_the_first_spelling() -> None:
    """kill(flags, name), the spelling before kill(name, flags=...), builds the same action."""
    flags = ag.Flags(refresh=None, declare={"recs.model": True})
    old, new = ag.rules.kill(flags, "recs.model"), ag.rules.kill("recs.model", flags=flags)
    assert (old.name, old.key, old.inline) == (new.name, new.key, new.inline)
    assert old(CTX) == "flag 'recs.model' turned off"
    assert new(CTX) == "flag 'recs.model' already off"


def test_which_built_in_actions_are_inline_safe(tmp_path: Path) -> None:
    """In-memory flips of aiguard's own objects are inline-safe; I/O and duck types are not."""
    breaker = ag.CircuitBreaker(name="recs")

    class DuckBreaker:  # force_open may do anything: not ours to judge
        name = "duck"
        state = None

        def force_open(self) -> None:
            """Force open."""

    class DuckLimit:
        rate, per = 5.0, 1.0

        def set_rate(self, rate: float) -> None:
            """Set the rate."""

    memory = ag.Flags(refresh=None)
    on_disk = ag.Flags(ag.FileStore(tmp_path / "flags.json"), refresh=None)
    inline = {
        "fallback(guard)": ag.rules.fallback(ag.Guard(name="recs", breaker=breaker)),
        "fallback(breaker)": ag.rules.fallback(breaker),
        "kill, memory store": ag.rules.kill("recs.model", flags=memory),
        "shed(RateLimit)": ag.rules.shed(ag.RateLimit(100), to=10),
        "shutdown, memory store": ag.rules.shutdown(memory),
    }
    worker = {
        "fallback(duck)": ag.rules.fallback(DuckBreaker()),
        "kill, file store": ag.rules.kill("recs.model", flags=on_disk),
        "shutdown, file store": ag.rules.shutdown(on_disk),
        "shed(duck)": ag.rules.shed(DuckLimit(), to=1),
        "rollback": ag.rules.rollback(ag.ModelRegistry("recs", refresh=None)),
        "page": ag.rules.page(ag.Escalation(levels=[("on-call", 0, print)])),
        "notify": ag.rules.notify(print),
    }
    assert {name: a.inline for name, a in inline.items()} == dict.fromkeys(inline, True)
    assert {name: a.inline for name, a in worker.items()} == dict.fromkeys(worker, False)
    assert all(a.contains for a in inline.values())


def test_rollback_passes_the_reason() -> None:
    """rollback(registry) calls registry.rollback(reason=...)."""
    calls: list[str] = []

    class Registry:
        def rollback(self, *, reason: str) -> None:
            calls.append(reason)

    action = ag.rules.rollback(Registry())
    assert action.name == "rollback(Registry)"
    assert action(CTX) == "rolled back"
    assert calls == ["INC-1: test"]
    assert "previous model version" in action.describe()


def test_rollback_names_the_version_a_model_registry_went_back_to() -> None:
    """With a ModelRegistry the detail names the version, not the ChampionChange record."""
    registry = ag.ModelRegistry("recs", refresh=None)
    registry.register("v1", lambda x: x)
    registry.register("v2", lambda x: x)
    registry.promote("v2", reason="release", actor="ci")
    assert ag.rules.rollback(registry)(CTX) == "rolled back to 'v1'"
    assert registry.champion == "v1"


def test_shed_lowers_the_rate_limit_and_its_burst() -> None:
    """shed(limit, to=10) lowers the rate and caps the burst; a second time changes nothing."""
    clock = FakeClock()
    limit = ag.RateLimit(100, clock=clock)
    action = ag.rules.shed(limit, to=10)
    assert action(CTX) == "rate limit lowered to 10 per 1 s"
    assert (limit.rate, limit.burst) == (10.0, 10.0)
    admitted = sum(limit.admit(clock()) >= 0 for _ in range(50))
    assert admitted == 10
    assert action(CTX) == "rate limit already at 10"
    assert action.describe() == "lower the rate limit to 10 per 1 s"


def test_shutdown_is_the_global_switch() -> None:
    """shutdown(flags) turns everything off once."""
    flags = ag.Flags(refresh=None)
    action = ag.rules.shutdown(flags)
    assert action(CTX) == "every AI feature turned off"
    assert flags.shut_down
    assert action(CTX) == "already shut down"
    assert "global switch" in action.describe()


def test_page_and_notify() -> None:
    """page() starts the escalation; notify() sends one message."""
    sent: list[dict[str, Any]] = []
    escalation = ag.Escalation(levels=[("on-call", 0, sent.append)])
    incident = ag.Incident.new(id="INC-1", title="t", key="recs", type="performance",
                               severity="high", at=0.0)
    ctx = ActionContext(incident_id="INC-1", severity=ag.Severity.HIGH, reason="r",
                        incident=incident)
    assert ag.rules.page(escalation)(ctx) == "paged on-call"
    assert ag.rules.page(escalation).describe() == "page the escalation path"

    def hook(message: dict[str, Any]) -> None:
        sent.append(message)

    assert ag.rules.notify(hook)(ctx) == "notified hook"
    assert ag.rules.notify(hook).describe() == "notify hook"
    assert [m["event"] for m in sent] == ["escalation", "notify"]


@pytest.mark.parametrize(("build", "argument"), [
    (lambda: ag.rules.fallback(ag.Guard(name="g")), "guard"),
    (lambda: ag.rules.kill("f", flags=object()), "flags"),
    (lambda: ag.rules.kill("f"), "flags"),  # type: ignore[call-overload]
    (lambda: ag.rules.kill("", flags=ag.Flags(refresh=None)), "flag"),
    (lambda: ag.rules.kill(object(), "f"), "flags"),
    (lambda: ag.rules.kill(ag.Flags(refresh=None), "f",  # type: ignore[call-overload]
                           flags=ag.Flags(refresh=None)), "flags"),
    (lambda: ag.rules.rollback(object()), "registry"),
    (lambda: ag.rules.shed(object(), to=1), "rate_limit"),
    (lambda: ag.rules.shed(ag.RateLimit(5), to=0), "to"),
    (lambda: ag.rules.shutdown(object()), "flags"),
    (lambda: ag.rules.page(object()), "escalation"),
    (lambda: ag.rules.notify("nobody"), "notifier"),
])
def test_actions_validate_their_targets(build: Any, argument: str) -> None:
    """A target without the needed method raises ConfigurationError naming it."""
    with pytest.raises(ag.ConfigurationError, match=f"^{argument} must be"):
        build()


def test_set_rate_validates() -> None:
    """RateLimit.set_rate refuses a rate <= 0 and keeps the old one."""
    limit = ag.RateLimit(5)
    with pytest.raises(ag.ConfigurationError, match="rate"):
        limit.set_rate(0)
    assert limit.rate == 5.0


class Flaky(ag.rules.Action):
    """Fails *failures* times, then succeeds."""

    def __init__(self, failures: int) -> None:
        super().__init__("flaky()", "flaky")
        self.failures = failures
        self.calls = 0

    def __call__(self, context: ActionContext) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            msg = f"registry down (try {self.calls})"
            raise ConnectionError(msg)
        return "done"


def run_with(action: Flaky, clock: FakeClock) -> tuple[ActionRunner, list[ActionResult]]:
    results: list[ActionResult] = []
    runner = ActionRunner(Worker("t", clock=clock), results.append, clock=clock)
    runner.apply(action, CTX, observe_only=False)
    assert runner.worker.flush()
    return runner, results


def test_a_failing_action_is_retried_after_1_5_and_30_seconds() -> None:
    """The documented rule: retries 1 s, 5 s and 30 s after each failure, then success."""
    clock = FakeClock(100.0)
    action = Flaky(3)
    runner, results = run_with(action, clock)
    waits = []
    for delay in (1.0, 5.0, 30.0):
        clock.advance(delay - 0.5)
        assert runner.worker.flush()
        waits.append(action.calls)
        clock.advance(0.5)
        assert runner.worker.flush()
    assert waits == [1, 2, 3]
    assert [(r.status, r.attempt) for r in results] == [
        ("failed", 1), ("failed", 2), ("failed", 3), ("applied", 4)]
    assert [r.at for r in results] == [100.0, 101.0, 106.0, 136.0]
    assert results[0].detail == "ConnectionError: registry down (try 1)"
    runner.worker.close()


def test_an_action_failing_every_time_gives_up_after_four_attempts() -> None:
    """After the last retry the result is gave_up and nothing more is scheduled."""
    clock = FakeClock()
    action = Flaky(99)
    runner, results = run_with(action, clock)
    for delay in (1.0, 5.0, 30.0, 1000.0):
        clock.advance(delay)
        assert runner.worker.flush()
    assert [r.status for r in results] == ["failed", "failed", "failed", "gave_up"]
    assert action.calls == 4
    assert runner.worker.pending_timers == 0
    assert not results[-1].ok
    runner.worker.close()


def test_an_action_runs_once_per_incident_and_again_for_another() -> None:
    """Idempotent per (incident, key); forget() lets a closed incident's keys go."""
    clock = FakeClock()
    action = Flaky(0)
    runner, _ = run_with(action, clock)
    runner.apply(action, CTX, observe_only=False)
    runner.apply(action, ActionContext(incident_id="INC-2", severity=ag.Severity.LOW,
                                       reason="x"), observe_only=False)
    assert runner.worker.flush()
    assert action.calls == 2
    runner.forget("INC-1")
    runner.apply(action, CTX, observe_only=False)
    assert runner.worker.flush()
    assert action.calls == 3
    assert runner.snapshot() == {"applied_keys": 2, "worker_errors": 0}
    runner.worker.close()


def test_actions_run_off_the_callers_thread() -> None:
    """The action sees the worker's thread, not the one that handed the signal over."""
    seen: list[str] = []
    policy = ag.Policy([ag.rules.when(ag.rules.always(), severity="low", actions=[
        ag.rules.notify(lambda _m: seen.append(threading.current_thread().name))])])
    incidents = ag.Incidents(policy)
    incidents.handle(Signal(source="recs.x", kind="drift", value=1, at=0))
    assert incidents.flush()
    assert seen == ["aiguard-incidents"]
    incidents.close()


def test_a_failing_action_never_breaks_a_guarded_call() -> None:
    """The guard keeps answering while the policy's action raises on the worker."""
    def broken(_message: object) -> None:
        raise RuntimeError("pager down")

    guard = ag.Guard(name="recs", fallback=lambda x: -1)
    policy = ag.Policy([ag.rules.when(ag.rules.always(), severity="high",
                                      actions=[ag.rules.notify(broken)])],
                       )
    incidents = ag.Incidents(policy, retry_delays=())
    incidents.watch_guard(guard)

    @guard
    def predict(x: int) -> int:
        incidents.handle(Signal(source="recs.out", kind="output", value=x, at=0))
        return x * 2

    assert [predict(i) for i in range(3)] == [0, 2, 4]
    assert incidents.flush()
    incident = incidents.open_incidents()[0]
    assert [a["status"] for a in incident.actions] == ["gave_up"]
    assert "pager down" in incident.actions[0]["detail"]
    incidents.close()


def test_worker_counts_raising_jobs_and_drops_past_the_queue_limit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A job that raises is counted; a full queue drops and counts."""
    worker = Worker("t", clock=time.monotonic)
    worker.submit(lambda: 1 / 0)
    assert worker.flush()
    assert worker.errors == 1
    gate = threading.Event()
    worker.submit(gate.wait)
    monkeypatch.setattr("aiguard.classify._runner.MAX_QUEUE", 2)
    for _ in range(5):
        worker.submit(lambda: None)
    gate.set()
    assert worker.flush()
    assert worker.dropped >= 2
    assert MAX_QUEUE == 10_000
    worker.close()


def test_runner_validates_retry_delays() -> None:
    """Negative or non-number delays are refused."""
    worker = Worker("t", clock=time.monotonic)
    with pytest.raises(ag.ConfigurationError, match="retry_delays"):
        ActionRunner(worker, print, clock=time.monotonic, retry_delays=(1, -1))
    worker.close()


def test_a_raising_report_is_logged_not_raised() -> None:
    """The runner survives a report callable that raises."""
    def report(_result: ActionResult) -> None:
        raise ValueError("x")

    clock = FakeClock()
    runner = ActionRunner(Worker("t", clock=clock), report, clock=clock)
    action = Flaky(0)
    runner.apply(action, CTX, observe_only=False)
    assert runner.worker.flush()
    assert action.calls == 1
    assert runner.worker.errors == 0
    runner.worker.close()


def test_a_users_own_containment_action_runs_first_and_contains() -> None:
    """Any object with contains=True is applied before the records and moves to CONTAINED."""
    order: list[str] = []

    class Quarantine:
        name = "quarantine()"
        key = "quarantine"
        contains = True

        def describe(self) -> str:
            return "quarantine the model"

        def __call__(self, context: ActionContext) -> str:
            order.append("quarantine")
            return "quarantined"

    def hook(incident: ag.Incident) -> None:
        order.append(f"record {len(incident.timeline)}")

    policy = ag.Policy([ag.rules.when(ag.rules.always(), severity="high",
                                      actions=[Quarantine()])])
    incidents = ag.Incidents(policy, hooks=[hook])
    incidents.handle(Signal(source="recs.x", kind="output", value=1, at=0))
    assert incidents.flush()
    assert order[0] == "quarantine"
    assert incidents.open_incidents()[0].status is ag.Status.CONTAINED
    incidents.close()


def test_apply_inline_runs_on_the_calling_thread_once_and_settle_reports_it() -> None:
    """apply_inline acts at once, once per incident; the result is reported only by settle."""
    clock = FakeClock(50.0)
    results: list[ActionResult] = []
    runner = ActionRunner(Worker("t", clock=clock), results.append, clock=clock)
    action = Flaky(0)
    applied = runner.apply_inline(action, CTX)
    assert applied is not None
    assert (action.calls, applied.detail, applied.error, results) == (1, "done", None, [])
    assert runner.apply_inline(action, CTX) is None  # claimed: not applied twice
    runner.apply(action, CTX, observe_only=False)  # nor by the worker
    assert runner.worker.flush()
    assert action.calls == 1
    clock.advance(3)
    runner.settle(applied, CTX)
    assert [(r.status, r.attempt, r.at, r.detail) for r in results] == [
        ("applied", 1, 50.0, "done")]
    runner.worker.close()


def test_a_failed_inline_attempt_is_attempt_one_of_the_retry_rule() -> None:
    """An inline action that raises is reported failed by settle, then retried after 1 s."""
    clock = FakeClock()
    results: list[ActionResult] = []
    runner = ActionRunner(Worker("t", clock=clock), results.append, clock=clock)
    action = Flaky(1)
    applied = runner.apply_inline(action, CTX)
    assert applied is not None
    assert applied.error == "ConnectionError: registry down (try 1)"
    runner.settle(applied, CTX)
    clock.advance(1)
    assert runner.worker.flush()
    assert [(r.status, r.attempt) for r in results] == [("failed", 1), ("applied", 2)]
    assert action.calls == 2
    runner.worker.close()


def test_settle_moves_the_claim_to_the_incident_the_signal_joined() -> None:
    """Claimed under a planned id, reported under the real one; dropped if that one had it."""
    clock = FakeClock()
    results: list[ActionResult] = []
    runner = ActionRunner(Worker("t", clock=clock), results.append, clock=clock)
    action = Flaky(0)
    planned = ActionContext(incident_id="INC-P", severity=ag.Severity.HIGH, reason="r")
    applied = runner.apply_inline(action, planned)
    assert applied is not None
    runner.settle(applied, CTX)  # the signal joined INC-1: the claim moves there
    assert [r.incident_id for r in results] == ["INC-1"]
    assert runner.snapshot()["applied_keys"] == 1
    assert runner.apply_inline(action, planned) is not None  # INC-P's claim was released
    second = runner.apply_inline(action, ActionContext(incident_id="INC-Q",
                                                       severity=ag.Severity.HIGH, reason="r"))
    assert second is not None
    runner.settle(second, CTX)  # INC-1 had it already: nothing more is reported
    assert len(results) == 1
    runner.worker.close()


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="SCHED_BATCH is Linux's")
def test_a_batch_worker_runs_under_sched_batch_and_a_default_one_does_not() -> None:
    """Worker(batch=True) puts its own thread under SCHED_BATCH; the caller's is untouched."""
    seen: dict[str, int] = {}
    batch, plain = Worker("b", clock=time.monotonic, batch=True), Worker("p", clock=time.monotonic)
    batch.submit(lambda: seen.update(batch=os.sched_getscheduler(0)))
    plain.submit(lambda: seen.update(plain=os.sched_getscheduler(0)))
    assert batch.flush()
    assert plain.flush()
    assert seen == {"batch": os.SCHED_BATCH, "plain": os.SCHED_OTHER}
    assert (batch.batch, plain.batch) == (True, False)
    assert os.sched_getscheduler(0) == os.SCHED_OTHER
    batch.close()
    plain.close()


def test_background_answers_false_where_the_policy_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused sched_setscheduler (seccomp, not Linux) leaves the thread as it was."""
    def refuse(*_args: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "sched_setscheduler", refuse, raising=False)
    assert background() is False
    worker = Worker("t", clock=time.monotonic, batch=True)
    assert worker.flush()
    assert worker.batch is False
    worker.close()

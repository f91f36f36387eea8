"""CanaryRouter: sticky monotone assignment, the judged ramp on a FakeClock, manual controls."""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aiguard as ag
from aiguard.errors import ConfigurationError
from aiguard.testing import FakeClock


def reference_in_candidate(name: str, key: object, percent: float) -> bool:
    """The documented rule, written out: blake2b bucket of 'aiguard:name:key' < percent * 100."""
    digest = hashlib.blake2b(f"aiguard:{name}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 10_000 < round(percent * 100)


@settings(max_examples=60, deadline=None)
@given(
    name=st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True),
    keys=st.lists(st.one_of(st.integers(), st.text(max_size=12)), min_size=1, max_size=40),
    percents=st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=6),
)
def test_assignment_is_sticky_and_monotone(name: str, keys: list[object],
                                           percents: list[float]) -> None:
    """Raising the share only adds keys; each key's arm matches the reference hash rule."""
    canary = ag.CanaryRouter(lambda k: "stable", lambda k: "candidate", key=lambda k: k,
                             name=name, clock=FakeClock())
    before: set[object] = set()
    for percent in sorted(percents):
        canary.set_step(percent)
        chosen = {k for k in keys if canary(k) == "candidate"}
        assert before <= chosen
        assert chosen == {k for k in keys if reference_in_candidate(name, k, percent)}
        assert all(canary.arm(k) == ("candidate" if k in chosen else "stable") for k in keys)
        before = chosen


class Model:
    """A model whose latency, errors and outputs are drawn from a seeded generator."""

    def __init__(self, clock: FakeClock, *, seed: int, slow: float = 1.0, error: float = 0.01,
                 shift: float = 0.0) -> None:
        self.clock, self.rng = clock, np.random.default_rng(seed)
        self.slow, self.error, self.shift = slow, error, shift

    def __call__(self, _user: int) -> float:
        self.clock.advance(float(self.rng.gamma(4.0, 0.005)) * self.slow)
        if self.rng.random() < self.error:
            raise RuntimeError("model error")
        return float(self.rng.normal(0.5 + self.shift, 0.05))


def drive(canary: ag.CanaryRouter, clock: FakeClock, seconds: float, rate: float) -> None:
    """Serve `rate` requests per second of fake time for `seconds`, errors swallowed."""
    users = iter(range(10**9))
    end = clock() + seconds
    while clock() < end:
        with contextlib.suppress(RuntimeError):
            canary(next(users) % 5000)
        clock.advance(1.0 / rate)


def make(clock: FakeClock, candidate: Model, **kwargs: Any) -> ag.CanaryRouter:
    stable = Model(clock, seed=1)
    options: dict[str, Any] = {"steps": (10, 50, 100), "interval": 60, "min_samples": 100,
                               "key": lambda u: u, "clock": clock, **kwargs}
    return ag.CanaryRouter(stable, candidate, **options)


def test_good_candidate_ramps_to_completion_and_is_promoted() -> None:
    """Same behaviour as stable: promote, promote, complete; the registry promotes it."""
    clock = FakeClock()
    registry = ag.ModelRegistry("recs", refresh=None)
    registry.register("v1", abs)
    registry.register("v2", abs)
    canary = make(clock, Model(clock, seed=2), registry=registry, version="v2")
    seen: list[ag.CanaryEvent] = []
    canary.add_listener(seen.append)
    drive(canary, clock, 200, rate=40)
    assert [e.kind for e in canary.events] == ["promote", "promote", "complete"]
    assert [e.step for e in canary.events] == [50, 100, 100]
    assert (canary.status, canary.percent, registry.champion) == ("complete", 100, "v2")
    assert seen == list(canary.events)
    assert canary.events[0].evidence is not None
    assert canary.events[0].evidence.verdict == "pass"
    assert "promoted in registry 'recs'" in canary.events[-1].reason
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        canary.events[0].kind = "rollback"  # type: ignore[misc]


def test_inconclusive_candidate_pauses_and_says_why() -> None:
    """Too little traffic for min_samples: 'pause' events at each interval, step unchanged."""
    clock = FakeClock()
    canary = make(clock, Model(clock, seed=2))
    drive(canary, clock, 130, rate=2)
    kinds = {e.kind for e in canary.events}
    assert kinds == {"pause"}
    assert len(canary.events) == 2
    assert "too little data" in canary.events[0].reason
    assert (canary.status, canary.percent) == ("running", 10)


def test_bad_candidate_rolls_back_within_one_interval_of_the_evidence() -> None:
    """Latency 10x, errors 5x, outputs shifted: rollback at the first decision, all to stable."""
    clock = FakeClock()
    canary = make(clock, Model(clock, seed=2, slow=10, error=0.05, shift=0.2), min_samples=50)
    drive(canary, clock, 61, rate=40)
    assert [e.kind for e in canary.events] == ["rollback"]
    event = canary.events[0]
    assert event.time <= 61
    assert (event.step, canary.percent, canary.status) == (0, 0, "rolled_back")
    assert event.evidence is not None
    failed = {m.name for m in event.evidence.metrics if m.verdict == "fail"}
    assert failed == {"latency", "error", "output"}
    assert event.counts["candidate"] >= 50
    assert all(canary(u) is not None for u in range(50) if canary.arm(u) == "stable")
    assert {canary.arm(u) for u in range(5000)} == {"stable"}


def test_marginal_candidate_holds() -> None:
    """Only the (non-critical) output shifted: score 2/3 is marginal, the router holds."""
    clock = FakeClock()
    canary = make(clock, Model(clock, seed=2, shift=0.2))
    drive(canary, clock, 61, rate=40)
    assert [e.kind for e in canary.events] == ["hold"]
    assert canary.events[0].evidence is not None
    assert canary.events[0].evidence.verdict == "marginal"
    assert canary.percent == 10


def test_manual_controls_are_recorded() -> None:
    """pause freezes decisions, resume restarts them, set_step and abort move traffic."""
    clock = FakeClock()
    canary = make(clock, Model(clock, seed=2))
    canary.pause(reason="freeze", actor="ana")
    canary.pause(reason="again")  # already paused: nothing recorded
    drive(canary, clock, 130, rate=20)
    assert [e.kind for e in canary.events] == ["manual_pause"]
    assert canary.evaluate() is None
    canary.resume(actor="ana")
    canary.resume()  # not paused: nothing recorded
    canary.set_step(25, reason="ops", actor="bob")
    canary.abort("incident INC-4", actor="bob")
    kinds = [(e.kind, e.step, e.actor) for e in canary.events]
    assert kinds == [("manual_pause", 10, "ana"), ("resume", 10, "ana"),
                     ("set_step", 25, "bob"), ("abort", 0, "bob")]
    assert canary.status == "aborted"
    canary.set_step(5)
    assert (canary.status, canary.percent) == ("running", 5)
    assert "running" in repr(canary)


def test_labels_are_judged_when_recorded() -> None:
    """record('label', ...) adds the delayed-label metric; worse accuracy is judged."""
    clock = FakeClock()
    canary = make(clock, Model(clock, seed=2), min_samples=50)
    canary.record("label", "stable", np.ones(200))
    canary.record("label", "candidate", np.r_[np.ones(100), np.zeros(100)])
    drive(canary, clock, 61, rate=40)
    evidence = canary.events[0].evidence
    assert evidence is not None
    assert {m.name: m.verdict for m in evidence.metrics}["label"] == "fail"
    with pytest.raises(ConfigurationError, match="arm"):
        canary.record("label", "both", [1.0])  # type: ignore[arg-type]


def test_custom_judge_and_evaluate_now() -> None:
    """Any Judge-shaped callable decides; evaluate() decides at once."""
    clock = FakeClock()
    verdicts = iter(["inconclusive", "pass"])

    def judge(candidate: Any, baseline: Any) -> ag.Judgement:
        return ag.Judgement(next(verdicts), 1.0, (), "custom")  # type: ignore[arg-type]

    canary = make(clock, Model(clock, seed=2), judge=judge, min_samples=1)
    drive(canary, clock, 5, rate=20)
    first = canary.evaluate()
    second = canary.evaluate()
    assert first is not None
    assert second is not None
    assert (first.kind, second.kind, canary.percent) == ("pause", "promote", 50)


async def test_async_models() -> None:
    """acall awaits the chosen arm and records it; errors propagate and count."""
    async def stable(x: int) -> int:
        return 0

    async def candidate(x: int) -> int:
        if x == 3:
            raise ValueError("bad")
        return 1

    canary = ag.CanaryRouter(stable, candidate, steps=(100,), key=lambda x: x, clock=FakeClock())
    assert await canary.acall(1) == 1
    with pytest.raises(ValueError, match="bad"):
        await canary.acall(3)
    sync = ag.CanaryRouter(abs, lambda x: 1 / 0, steps=(100,), clock=FakeClock())
    with pytest.raises(ZeroDivisionError):
        sync(1)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"steps": ()}, "steps"), ({"steps": (5, 5)}, "steps"), ({"steps": (0, 10)}, "steps"),
     ({"steps": 10}, "steps"), ({"min_samples": 0}, "min_samples"),
     ({"interval": 0}, "interval"), ({"key": 3}, "key"), ({"judge": 3}, "judge"),
     ({"version": "v2"}, "version"), ({"max_samples": True}, "max_samples"),
     ({"stable": None}, "stable")],
)
def test_bad_configuration(kwargs: dict[str, Any], argument: str) -> None:
    """Each invalid parameter names itself."""
    full: dict[str, Any] = {"stable": abs, "candidate": abs, **kwargs}
    with pytest.raises(ConfigurationError) as info:
        ag.CanaryRouter(full.pop("stable"), full.pop("candidate"), **full)
    assert info.value.argument == argument


def test_numpy_parameters_and_set_step_bounds() -> None:
    """numpy scalars are accepted; set_step outside [0, 100] is refused."""
    canary = ag.CanaryRouter(abs, abs, steps=np.array([1.0, 50.0]), min_samples=np.int64(5),
                             interval=np.float32(30))
    assert (canary.steps, canary.min_samples, canary.interval) == ((1.0, 50.0), 5, 30.0)
    with pytest.raises(ConfigurationError, match="percent"):
        canary.set_step(101)


def test_bucket_cache_keeps_key_types_apart_and_stays_bounded() -> None:
    """1, 1.0, True and '1' get their own text's bucket; the key cache is cleared when full."""
    canary = ag.CanaryRouter(abs, abs, steps=(50,), name="types")
    for key in (1, 1.0, True, "1", ("a", 1)):
        expected = "candidate" if reference_in_candidate("types", key, 50) else "stable"
        assert canary.arm(key) == expected
    for key in range(40_000):
        canary.arm(key)
    assert canary.arm(39_999) == ("candidate" if reference_in_candidate("types", 39_999, 50)
                                  else "stable")


def test_complete_without_registry_and_with_champion_already_serving() -> None:
    """At 100 % a pass completes; a registry already serving the version is left as is."""
    def judge(candidate: Any, baseline: Any) -> ag.Judgement:
        return ag.Judgement("pass", 1.0, (), "ok")

    plain = ag.CanaryRouter(abs, abs, steps=(100,), judge=judge, min_samples=1,
                            clock=FakeClock())
    registry = ag.ModelRegistry("recs", refresh=None)
    registry.register("v2", abs)
    done = ag.CanaryRouter(abs, abs, steps=(100,), judge=judge, min_samples=1,
                           registry=registry, version="v2", clock=FakeClock())
    for router in (plain, done):
        router(1)  # the candidate serves everyone at 100 %
        router._samples.record(0, 0.1, error=False, output=1.0)  # the stable arm's earlier window
        event = router.evaluate()
        assert event is not None
        assert (event.kind, router.status) == ("complete", "complete")
    assert registry.history() == []  # v2 already served: nothing promoted


def test_evaluate_does_not_wait_for_another_decision() -> None:
    """blocking=False returns None at once while another thread holds the decision."""
    canary = ag.CanaryRouter(abs, abs, clock=FakeClock())
    with canary._lock:
        assert canary.evaluate(blocking=False) is None


def test_summary_of_unarrayable_answers_is_nan() -> None:
    """An answer numpy cannot hold has no output summary."""
    import math

    from aiguard.recover._samples import summarise

    class Odd:
        def __array__(self, *args: object, **kwargs: object) -> Any:
            raise TypeError("no")

    assert math.isnan(summarise(Odd()))


def test_broken_judge_and_failing_promotion_never_reach_the_caller() -> None:
    """A judge that raises pauses the step; a registry promotion that fails is noted."""
    def broken(candidate: Any, baseline: Any) -> ag.Judgement:
        raise ZeroDivisionError("judge bug")

    clock = FakeClock()
    canary = ag.CanaryRouter(abs, abs, steps=(50,), judge=broken, min_samples=1, interval=1,
                             key=lambda x: x, clock=clock)
    for user in range(20):
        assert canary(user) == user
    clock.advance(2)
    assert canary(1) == 1
    assert canary.events[-1].kind == "pause"
    assert "judge raised" in canary.events[-1].reason
    assert canary.errors == 1

    def passing(candidate: Any, baseline: Any) -> ag.Judgement:
        return ag.Judgement("pass", 1.0, (), "ok")

    class DownRegistry(ag.ModelRegistry):
        def promote(self, version: str, *, reason: str, actor: str | None = None) -> Any:
            raise ag.StoreError("down")

    registry = DownRegistry("recs", refresh=None)
    registry.register("v1", abs)
    registry.register("v2", abs)
    done = ag.CanaryRouter(abs, abs, steps=(100,), judge=passing, min_samples=1,
                           registry=registry, version="v2", clock=FakeClock())
    done(1)
    done._samples.record(0, 0.1, error=False, output=1.0)
    event = done.evaluate()
    assert event is not None
    assert (event.kind, done.errors) == ("complete", 1)
    assert "promoting 'v2' in the registry failed" in event.reason
    with pytest.raises(ConfigurationError, match="registered"):
        ag.CanaryRouter(abs, abs, registry=registry, version="v9")


def test_ramp_ending_below_100_completes_without_promoting() -> None:
    """Steps ending at 50 (or set_step past the last) complete there; nothing is promoted."""
    def passing(candidate: Any, baseline: Any) -> ag.Judgement:
        return ag.Judgement("pass", 1.0, (), "ok")

    registry = ag.ModelRegistry("recs", refresh=None)
    registry.register("v1", abs)
    registry.register("v2", abs)
    canary = ag.CanaryRouter(abs, abs, steps=(10, 50), judge=passing, min_samples=1,
                             registry=registry, version="v2", key=lambda x: x,
                             clock=FakeClock())
    canary.set_step(75)
    for user in range(200):
        canary(user)
    event = canary.evaluate()
    assert event is not None
    assert (event.kind, canary.status, canary.percent) == ("complete", "complete", 75)
    assert registry.champion == "v1"
    assert "passed at 75 %" in event.reason


def test_keyless_calls_get_the_share_spread_evenly() -> None:
    """Without a key, every 100 consecutive calls hold the step's share, give or take 3."""
    canary = ag.CanaryRouter(lambda _x: 0, lambda _x: 1, steps=(25, 100), interval=1e9,
                             clock=FakeClock())
    served = [canary(x) for x in range(2000)]
    assert abs(sum(served) - 500) <= 3
    assert all(abs(sum(served[i:i + 100]) - 25) <= 3 for i in range(0, 1901, 50))


def test_unhashed_key_types_route_by_their_own_bucket_and_steps_reassign() -> None:
    """Float and tuple keys route by the reference rule; a new step re-reads cached keys."""
    canary = ag.CanaryRouter(lambda _x: "stable", lambda _x: "candidate", steps=(30, 60),
                             key=lambda k: k, name="mixed", clock=FakeClock())
    keys: list[object] = [0.5, 2.0, ("a", 1), *range(40), *(f"u{i}" for i in range(40))]
    for percent in (30, 60, 0):
        canary.set_step(percent)
        for key in keys:
            expected = "candidate" if reference_in_candidate("mixed", key, percent) else "stable"
            assert canary(key) == expected == canary.arm(key)

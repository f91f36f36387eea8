"""Event capture: outcomes, breaker transitions and flag changes, detached on close."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import aiguard as ag
from aiguard.testing import Event, Events, FakeClock, inject


class ModelDownError(Exception):
    """A model-side failure."""


def rules(x: float) -> float:
    """A rule-based fallback."""
    return -1.0


def make(clock: FakeClock) -> tuple[ag.Guard, ag.CircuitBreaker, Any]:
    breaker = ag.CircuitBreaker(name="recs-breaker", failure_rate=0.5, window=3, min_calls=3,
                                open_for=10, half_open_calls=1, clock=clock)
    g = ag.Guard(name="recs", breaker=breaker, fallback=rules)

    @g
    def predict(x: float) -> float:
        return x

    return g, breaker, predict


def test_watching_a_guard_captures_outcomes_and_its_breaker() -> None:
    """Outcomes of the guard and transitions of its breaker, in order, named by source."""
    clock = FakeClock()
    _, breaker, predict = make(clock)
    events = Events().watch(predict)
    predict(1.0)
    with inject(predict).raise_(ModelDownError):
        predict(1.0)
        predict(1.0)
    predict(1.0)  # rejected: open
    assert [o.reason for o in events.outcomes] == [None, "error", "error", "open"]
    assert [(t.old.value, t.new.value) for t in events.transitions] == [("closed", "open")]
    assert [e.kind for e in events.events if e.source == "recs-breaker"].count("failure") == 2
    assert events.of("rejected")[0].name == "recs-breaker"
    assert {e.source for e in events} == {"recs", "recs-breaker"}
    assert all(isinstance(e, Event) for e in events)
    assert len(events) == len(events.events)
    assert "'outcome': 4" in repr(events)
    events.close()
    predict(1.0)
    breaker.force_open()
    assert len(events.outcomes) == 4
    assert len(events.transitions) == 1


def test_watching_the_same_source_twice_records_once() -> None:
    """A breaker watched directly and through its guard is subscribed once."""
    g, breaker, predict = make(FakeClock())
    events = Events().watch(g, breaker, predict)
    breaker.force_open()
    assert len(events.transitions) == 1
    events.close()
    events.watch(breaker)  # can watch again after closing
    breaker.reset()
    assert len(events.transitions) == 2


def test_clear_and_context_manager() -> None:
    """clear() forgets, keeps watching; the context manager closes on exit."""
    g = ag.Guard(name="plain")

    @g
    def predict(x: float) -> float:
        return x

    with Events().watch(g) as events:
        predict(1.0)
        events.clear()
        assert events.outcomes == []
        predict(2.0)
        assert len(events.outcomes) == 1
    predict(3.0)
    assert len(events.outcomes) == 1


class FakeFlags:
    """A duck-typed flag set: enabled() plus listeners."""

    def __init__(self) -> None:
        self.listeners: list[Any] = []
        self.name = 42  # not a str: the type name is used instead

    def enabled(self, name: str) -> bool:
        return True

    def add_listener(self, fn: Any) -> None:
        self.listeners.append(fn)

    def remove_listener(self, fn: Any) -> None:
        self.listeners.remove(fn)

    def change(self, *payload: Any) -> None:
        for fn in list(self.listeners):
            fn(*payload)


def test_flag_changes_of_a_guards_flag_set() -> None:
    """Watching a guard with a kill switch also captures its flag changes, not as transitions."""
    flags = ag.Flags(refresh=None, declare={"recs.personalized": True})
    g = ag.Guard(name="ks", kill_switch="recs.personalized", flags=flags, fallback=rules)

    @g
    def predict(x: float) -> float:
        return x

    events = Events().watch(predict)
    flags.set("recs.personalized", on=False, reason="INC-42")
    assert predict(1.0) == -1.0
    (change,) = events.flag_changes
    assert (change.name, change.new.on, change.new.reason) == ("recs.personalized", False, "INC-42")
    assert events.transitions == []
    assert [o.reason for o in events.outcomes] == ["disabled"]
    events.close()
    flags.set("recs.personalized", on=True)
    assert len(events.flag_changes) == 1
    flags.close()


def test_other_sources_are_classified_by_their_payload() -> None:
    """A payload's own kind wins; flag sets report 'flag'; else the type name."""
    flags = FakeFlags()
    events = Events().watch(flags)
    flags.change({"flag": "recs.personalized", "enabled": False})
    flags.change("recs", False)  # several arguments are captured as a tuple
    assert [e.kind for e in events] == ["flag", "flag"]
    assert events.of("flag")[1] == ("recs", False)
    assert events.events[0].source == "FakeFlags"
    events.close()
    assert flags.listeners == []

    class Source:
        name = "custom"

        def __init__(self) -> None:
            self.fn: Any = None

        def add_listener(self, fn: Any) -> None:
            self.fn = fn

        def remove_listener(self, fn: Any) -> None:
            self.fn = None

    class Change:
        new = "on"

    class Kinded:
        kind = "promotion"

    source = Source()
    events = Events().watch(source)
    source.fn(Change())
    source.fn(Kinded())
    source.fn(3.5)
    assert [e.kind for e in events] == ["transition", "promotion", "float"]
    assert {e.source for e in events} == {"custom"}


def test_unwatchable_targets_are_refused() -> None:
    """Something without listeners is a configuration error."""
    with pytest.raises(ag.ConfigurationError, match="target must be a Guard"):
        Events().watch(object())


def test_capture_is_thread_safe() -> None:
    """Outcomes from eight threads are all captured."""
    g = ag.Guard(name="threads")

    @g
    def predict(x: float) -> float:
        return x

    events = Events().watch(g)

    def work() -> None:
        for i in range(300):
            predict(float(i))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(events.outcomes) == 2400

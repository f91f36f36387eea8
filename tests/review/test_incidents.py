"""Incidents: open on a breach, deduplicate, raise severity, timeline from containment."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import aiguard as ag
from aiguard.detect import Signal
from aiguard.review import default_key
from aiguard.testing import FakeClock

T0 = 1_700_000_000.0


def sig(kind: str = "drift", source: str = "recs.inputs", value: float = 0.3,
        **kw: Any) -> Signal:
    return Signal(source=source, kind=kind, value=value, at=0.0, **kw)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def test_first_breach_opens_and_repeats_join_by_key(clock: FakeClock) -> None:
    """Signals from the same guard join one incident; another guard opens its own."""
    incidents = ag.Incidents(clock=clock)
    incidents.handle(sig())
    incidents.handle(sig(source="recs.inputs"))
    incidents.handle(sig(kind="latency", source="search.latency", value=0.3, baseline=0.2))
    assert incidents.flush()
    by_key = {i.key: i for i in incidents.open_incidents()}
    assert sorted(by_key) == ["recs", "search"]
    assert len(by_key["recs"].signals) == 2
    assert by_key["recs"].title == "data drift on recs"
    assert dict(by_key["recs"].affected) == {"guard": "recs"}
    incidents.close()


def test_a_worse_signal_raises_the_open_incidents_severity(clock: FakeClock) -> None:
    """Drift (medium) then bad outputs (high) on the same guard: one incident, raised to high."""
    incidents = ag.Incidents(clock=clock)
    incidents.handle(sig())
    assert incidents.flush()  # records are stamped when the worker takes the signal
    clock.advance(60)
    incidents.handle(sig(kind="output", source="recs.outputs", value=0.4, baseline=0.02))
    assert incidents.flush()
    clock.advance(60)
    incidents.handle(sig())  # a milder one does not lower it
    assert incidents.flush()
    (inc,) = incidents.open_incidents()
    assert inc.severity is ag.Severity.HIGH
    assert [c[1] for c in inc.severity_changes] == ["medium", "high"]
    assert inc.time_at_severity(now=T0 + 600) == {"medium": 60.0, "high": 540.0}
    incidents.close()


def test_recovery_is_recorded_on_the_open_incident_only(clock: FakeClock) -> None:
    """A recovered signal lands on the timeline; with no open incident it is ignored."""
    incidents = ag.Incidents(clock=clock)
    incidents.handle(sig(status="recovered"))
    assert incidents.flush()
    assert incidents.open_incidents() == []
    incidents.handle(sig())
    incidents.handle(sig(value=0.01, status="recovered"))
    assert incidents.flush()
    (inc,) = incidents.open_incidents()
    assert [s["status"] for s in inc.signals] == ["breach", "recovered"]
    incidents.close()


def test_evidence_keeps_aggregates_and_drops_rows_unless_opted_in(clock: FakeClock) -> None:
    """Raw rows in evidence are dropped; capture_rows keeps them through the redaction."""
    rows = {"features": ["region"], "rows": [[1, 2]], "inputs": ["Alice, 12 Elm St"]}
    incidents = ag.Incidents(clock=clock, capture_rows={"search": lambda v: f"<{len(v)} rows>"})
    incidents.handle(sig(evidence=rows))
    incidents.handle(sig(source="search.inputs", evidence=rows))
    assert incidents.flush()
    by_key = {i.key: i for i in incidents.open_incidents()}
    assert by_key["recs"].signals[0]["evidence"] == {"features": ["region"]}
    assert by_key["search"].signals[0]["evidence"] == {
        "features": ["region"], "rows": "<1 rows>", "inputs": "<1 rows>"}
    assert "Alice" not in str([i.to_dict() for i in by_key.values()])
    incidents.close()


def test_a_raising_redaction_drops_the_rows_and_is_counted(clock: FakeClock) -> None:
    """capture_rows whose redact raises: the rows are dropped, never recorded raw."""
    def redact(_rows: object) -> object:
        raise ValueError("cannot parse")

    incidents = ag.Incidents(clock=clock, capture_rows={"recs": redact})
    incidents.handle(sig(evidence={"rejected": 2, "rows": [["Alice", "12 Elm St"]]}))
    assert incidents.flush()
    (inc,) = incidents.open_incidents()
    assert inc.signals[0]["evidence"] == {"rejected": 2}
    assert incidents.errors == 1
    incidents.close()


@pytest.mark.parametrize("bad", [["recs"], {"recs": "mask"}, {3: len}])
def test_capture_rows_must_map_guards_to_callables(bad: object) -> None:
    """capture_rows that is not {guard name: callable} is refused, naming the argument."""
    with pytest.raises(ag.ConfigurationError, match=r"^capture_rows must be a mapping"):
        ag.Incidents(capture_rows=bad)  # type: ignore[arg-type]


def test_dedup_key_contract() -> None:
    """evidence['guard'] wins, else the source up to the first dot."""
    assert default_key(sig(source="recs.latency")) == "recs"
    assert default_key(sig(source="plain")) == "plain"
    assert default_key(sig(source="x.y", evidence={"guard": "fraud"})) == "fraud"


def test_breaker_transitions_and_trips_feed_the_timeline(clock: FakeClock) -> None:
    """An automatic trip opens an incident; later transitions are timeline lines."""
    breaker = ag.CircuitBreaker(name="recs", window=2, min_calls=2, open_for=30, clock=clock)
    incidents = ag.Incidents(clock=clock)
    incidents.watch_breaker(breaker)

    @breaker
    def predict(x: float) -> float:
        raise RuntimeError("model server down")

    for _ in range(2):
        with pytest.raises(RuntimeError):
            predict(1.0)
    assert incidents.flush()
    (inc,) = incidents.open_incidents()
    assert (inc.key, inc.severity, inc.type) == ("recs", ag.Severity.HIGH, "infrastructure")
    assert inc.signals[0]["source"] == "recs.breaker"
    breaker.force_open()
    breaker.reset()
    assert incidents.flush()
    lines = [e.what for e in incidents.get(inc.id).timeline if e.kind == "breaker"]
    assert lines == ["breaker recs open -> forced_open", "breaker recs forced_open -> closed"]
    incidents.unwatch_all()
    breaker.force_open()
    assert incidents.flush()
    assert len(incidents.get(inc.id).timeline) == len(incidents.get(inc.id).timeline)
    incidents.close()


def test_flag_changes_feed_the_matching_incident(clock: FakeClock) -> None:
    """recs.personalized goes to the recs incident; the global switch to every open one."""
    flags = ag.Flags(refresh=None, declare={"recs.personalized": True})
    incidents = ag.Incidents(clock=clock)
    incidents.watch_flags(flags)
    incidents.handle(sig())
    incidents.handle(sig(source="search.inputs"))
    assert incidents.flush()
    flags.set("recs.personalized", on=False, reason="INC drift", actor="ana")
    flags.set("other.flag", on=False, actor="bo")
    flags.set("recs.personalized", on=True, percent=10, reason="canary", actor="ana")
    flags.shutdown(reason="full stop", actor="cto")
    assert incidents.flush()
    by_key = {i.key: i for i in incidents.open_incidents()}
    recs = [(e.actor, e.what, e.why) for e in by_key["recs"].timeline if e.kind == "flag"]
    assert recs == [("ana", "flag recs.personalized off", "INC drift"),
                    ("ana", "flag recs.personalized on for 10%", "canary"),
                    ("cto", "flag aiguard.all off", "full stop")]
    search = [e.what for e in by_key["search"].timeline if e.kind == "flag"]
    assert search == ["flag aiguard.all off"]
    incidents.close()


def test_watch_guard_ignores_the_signals_of_the_guards_monitors(
        clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    """A guard's listeners also get its monitors' Signals: they are not counted, nothing raises."""
    from aiguard.detect import OutputMonitor

    monitor = OutputMonitor(np.arange(100) % 2, window=100, every=20, min_rows=20, clock=clock)
    guard = ag.Guard(name="recs", fallback=lambda x: np.zeros(len(x), dtype=int),
                     monitors=[monitor], clock=clock, kill_switch="recs.on",
                     flags=ag.Flags(refresh=None, declare={"recs.on": True}))
    seen: list[object] = []
    guard.add_listener(seen.append)
    incidents = ag.Incidents(clock=clock, count_every=10.0)
    incidents.watch_guard(guard)
    incidents.handle(sig(kind="error_rate", source="recs.errors"))
    assert incidents.flush()

    @guard
    def predict(x: np.ndarray) -> np.ndarray:
        return np.ones(len(x), dtype=int)  # only ones: the share of class 0 collapses

    for _ in range(5):
        predict(np.ones(10))
        monitor.drain()
    guard.config.flags.set("recs.on", on=False, actor="test")
    predict(np.ones(10))  # one call served by the fallback
    monitor.close()
    assert any(isinstance(s, ag.Signal) for s in seen)  # the listeners did get a Signal
    clock.advance(10)
    assert incidents.flush()
    (inc,) = incidents.open_incidents()
    assert inc.counters["fallback_calls"] == 1
    assert incidents.errors == 0
    assert "listener of guard" not in caplog.text  # the watcher did not raise on the Signal
    incidents.close()


def test_fallbacks_are_counted_not_logged_per_call(clock: FakeClock) -> None:
    """1000 fallback calls become counts on the incident, in a few timeline lines."""
    guard = ag.Guard(name="recs", fallback=lambda x: np.zeros(len(x)),
                     check=ag.checks.finite(), fallback_rows=True)
    incidents = ag.Incidents(clock=clock, count_every=10.0)
    incidents.watch_guard(guard)

    @guard
    def predict(x: np.ndarray) -> np.ndarray:
        if x[0] < 0:
            raise RuntimeError("down")
        out = x.astype(float)
        out[1] = np.nan
        return out

    predict(np.ones(3))  # no incident yet: counted, then dropped at the report
    assert incidents.flush()
    incidents.handle(sig(kind="error_rate", source="recs.errors"))
    assert incidents.flush()
    for i in range(1000):
        predict(-np.ones(3))
        if i == 500:
            clock.advance(10)
    for _ in range(3):
        predict(np.ones(3))  # model served, one row replaced each
    assert incidents.flush()
    (inc,) = incidents.open_incidents()
    assert dict(inc.counters) == {"fallback_calls": 1000, "rows_replaced": 3}
    assert sum(e.kind == "fallback" for e in inc.timeline) <= 3
    incidents.close()


def test_router_events_are_timeline_lines(clock: FakeClock) -> None:
    """Any object with add_listener: its events go to the incident of its name."""
    class Router:
        name = "recs"

        def __init__(self) -> None:
            self.listeners: list[Any] = []

        def add_listener(self, fn: Any) -> None:
            self.listeners.append(fn)

        def remove_listener(self, fn: Any) -> None:
            self.listeners.remove(fn)

    router = Router()
    incidents = ag.Incidents(clock=clock)
    incidents.watch_router(router)
    incidents.handle(sig())
    assert incidents.flush()
    for fn in router.listeners:
        fn("canary at 10%: judged worse, rolled back")
    assert incidents.flush()
    (inc,) = incidents.open_incidents()
    assert [e.what for e in inc.timeline if e.kind == "router"] == [
        "router recs: canary at 10%: judged worse, rolled back"]
    incidents.close()
    assert router.listeners == []


def test_people_move_the_incident_and_close_it(clock: FakeClock) -> None:
    """ack, roles, severity, notes, fields, factors, items, tags, resolve."""
    esc = ag.Escalation(levels=[("on-call", 0, lambda m: None)], clock=clock)
    incidents = ag.Incidents(ag.Policy.default(escalation=esc), escalation=esc, clock=clock)
    incidents.handle(sig(kind="error_rate", source="recs.errors"))
    assert incidents.flush()
    inc_id = incidents.open_incidents()[0].id
    clock.advance(120)
    incidents.ack(inc_id, actor="ana")
    incidents.assign(inc_id, "commander", "ana", actor="ana")
    incidents.set_severity(inc_id, "critical", actor="ana", reason="revenue impact")
    incidents.note(inc_id, "checked the region feature", actor="li")
    incidents.set(inc_id, "model_version", "v42", actor="li")
    incidents.add_factor(inc_id, "no input schema check", actor="li")
    incidents.add_action_item(inc_id, "add checks.schema", owner="li", actor="ana")
    incidents.tag(inc_id, "pr", actor="ana")
    incidents.set_status(inc_id, ag.Status.MITIGATED, actor="li", reason="rolled back")
    inc = incidents.resolve(inc_id, actor="ana", root_cause="upstream ETL broke region")
    assert inc.status is ag.Status.RESOLVED
    assert inc.fields["root_cause"] == "upstream ETL broke region"
    assert inc.time_to_acknowledge == 120.0
    assert esc.tracking == []
    assert incidents.open_incidents() == []
    assert repr(incidents).startswith("Incidents(open=0")
    with pytest.raises(ag.InvalidInputError):
        incidents.set_status(inc_id, "contained", actor="x")
    incidents.close()


def test_hooks_see_every_change_and_a_raising_hook_is_contained(clock: FakeClock) -> None:
    """Hooks get the incident after each change; one that raises changes nothing."""
    seen: list[str] = []

    def broken(_incident: ag.Incident) -> None:
        raise RuntimeError("ticket system down")

    incidents = ag.Incidents(clock=clock, hooks=[lambda i: seen.append(i.id), broken])
    incidents.handle(sig())
    assert incidents.flush()
    assert len(seen) == 1
    assert incidents.errors == 0
    incidents.close()


def test_a_failing_dedup_key_is_counted_not_raised(clock: FakeClock) -> None:
    """A signal that cannot be recorded is counted in errors and logged once."""
    def key(_s: Signal) -> str:
        raise KeyError("x")

    incidents = ag.Incidents(clock=clock, dedup_key=key)
    incidents.handle(sig())
    assert incidents.flush()
    assert incidents.errors == 1
    incidents.close()


def test_incidents_share_a_file_log(tmp_path: Any, clock: FakeClock) -> None:
    """An Incidents on a file log: another reader sees the incident and its actions."""
    path = tmp_path / "incidents.jsonl"
    guard = ag.Guard(name="recs", breaker=ag.CircuitBreaker(name="recs"))
    incidents = ag.Incidents(ag.Policy.default(guard=guard), log=ag.IncidentLog(path),
                             clock=clock)
    incidents.handle(sig(kind="output", source="recs.outputs", value=0.4, baseline=0.02))
    incidents.close()
    reader = ag.IncidentLog(path, readonly=True)
    (inc,) = reader.incidents()
    assert inc.status is ag.Status.CONTAINED
    assert [op["op"] for op in reader.history(inc.id)] == [
        "open", "signal", "action", "status"]
    reader.close()


def test_validation(clock: FakeClock) -> None:
    """Bad policy, log or clock raise ConfigurationError."""
    with pytest.raises(ag.ConfigurationError, match="policy"):
        ag.Incidents("strict")  # type: ignore[arg-type]
    with pytest.raises(ag.ConfigurationError, match="log"):
        ag.Incidents(log="file.jsonl")  # type: ignore[arg-type]
    with pytest.raises(ag.ConfigurationError, match="clock"):
        ag.Incidents(clock=5)  # type: ignore[arg-type]


def test_affected_comes_from_the_first_signals_evidence_and_raised_calls_count(
        clock: FakeClock) -> None:
    """model_version, flag and cohort in the evidence fill 'affected'; raised calls are counted."""
    guard = ag.Guard(name="recs")
    incidents = ag.Incidents(clock=clock)
    incidents.watch_guard(guard)

    @guard
    def predict(x: float) -> float:
        raise RuntimeError("down")

    incidents.handle(sig(evidence={"model_version": "v42", "cohort": "AZ", "flag": ["x"]}))
    assert incidents.flush()
    for _ in range(3):
        with pytest.raises(RuntimeError):
            predict(1.0)
    assert incidents.flush()
    (inc,) = incidents.open_incidents()
    assert dict(inc.affected) == {"guard": "recs", "model_version": "v42", "cohort": "AZ"}
    assert dict(inc.counters) == {"rejected_calls": 3}
    with pytest.raises(ag.ConfigurationError, match="new_id"):
        ag.Incidents(new_id="INC-1")  # type: ignore[arg-type]
    incidents.close()

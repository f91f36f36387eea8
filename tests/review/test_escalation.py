"""Escalation rules on a FakeClock: levels, critical, SLA breach, repeats, acknowledgement, tags."""

from __future__ import annotations

from typing import Any

import pytest

import aiguard as ag
from aiguard.detect import Signal
from aiguard.review import EscalationEvent, Incident, Level
from aiguard.testing import FakeClock

T0 = 1_700_000_000.0


class Pager:
    """Collects (target, reason) of every message."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def __call__(self, message: dict[str, Any]) -> None:
        self.sent.append((message["target"], message["reason"]))


def incident(severity: str = "medium", tags: tuple[str, ...] = ()) -> Incident:
    return Incident.new(id="INC-1", title="recs", key="recs", type="performance",
                        severity=severity, at=T0, tags=tags)


def path(pager: Pager, clock: FakeClock, **kw: Any) -> ag.Escalation:
    return ag.Escalation(levels=[("on-call", 0, pager), ("team lead", 900, pager),
                                 ("leadership", 3600, pager)], clock=clock, **kw)


def test_page_notifies_the_first_level_at_once() -> None:
    """Level 0 is paged when the incident is paged; paging twice does nothing more."""
    pager, clock = Pager(), FakeClock(T0)
    esc = path(pager, clock)
    assert esc.page(incident()) == "paged on-call"
    assert esc.page(incident()) == "already paged"
    assert pager.sent == [("on-call", "paged")]
    assert esc.tracking == ["INC-1"]


def test_levels_follow_their_delays_without_acknowledgement() -> None:
    """The team lead at 15 min, leadership at 1 h; not a second earlier."""
    pager, clock = Pager(), FakeClock(T0)
    esc = path(pager, clock)
    esc.page(incident("low"))
    clock.advance(899.0)
    assert esc.tick() == []
    clock.advance(1.0)
    assert [e.target for e in esc.tick()] == ["team lead"]
    assert esc.tick() == []
    clock.advance(2700.0)
    assert [e.reason for e in esc.tick()] == ["no acknowledgement after 3600s"]
    assert [t for t, _ in pager.sent] == ["on-call", "team lead", "leadership"]


def test_acknowledgement_stops_the_clock() -> None:
    """After ack nothing more is sent; a later page of an acknowledged incident is refused."""
    pager, clock = Pager(), FakeClock(T0)
    esc = path(pager, clock)
    esc.page(incident())
    assert esc.acknowledge("INC-1") is True
    assert esc.acknowledge("INC-1") is False
    clock.advance(10_000)
    assert esc.tick() == []
    assert pager.sent == [("on-call", "paged")]
    acked = incident().apply({"v": 1, "id": "INC-1", "op": "ack", "at": T0, "actor": "ana"})
    assert esc.page(acked) == "acknowledged"


def test_critical_goes_to_leadership_at_once() -> None:
    """A CRITICAL incident pages the last level immediately."""
    pager, clock = Pager(), FakeClock(T0)
    esc = path(pager, clock)
    esc.page(incident("critical"))
    assert pager.sent == [("on-call", "paged"), ("leadership", "critical")]
    clock.advance(3600)
    assert [e.target for e in esc.tick()] == ["team lead"]


def test_raising_to_critical_later_goes_to_leadership_at_once() -> None:
    """update() with a severity raised to CRITICAL notifies leadership then, once."""
    pager, clock = Pager(), FakeClock(T0)
    esc = path(pager, clock)
    inc = incident("high")
    esc.page(inc)
    clock.advance(60)
    raised = inc.apply({"v": 1, "id": "INC-1", "op": "severity", "at": T0 + 60, "actor": "ana",
                        "severity": "critical"})
    assert [(e.target, e.reason) for e in esc.update(raised)] == [("leadership", "critical")]
    assert esc.update(raised) == []
    assert esc.update(incident().apply({"v": 1, "id": "INC-1", "op": "note", "at": T0,
                                        "actor": "x", "what": "y"})) == []
    assert esc.update(Incident.new(id="INC-9", title="x", key="x", type="performance",
                                   severity="low", at=T0)) == []


def test_past_its_sla_without_acknowledgement_escalates_once() -> None:
    """HIGH (1 h) with a slow path: at 1 h the next level is notified as sla_breached."""
    pager, clock = Pager(), FakeClock(T0)
    esc = ag.Escalation(levels=[("on-call", 0, pager), ("team lead", 7200, pager),
                                ("leadership", 14400, pager)], clock=clock)
    esc.page(incident("high"))
    clock.advance(3599)
    assert esc.tick() == []
    clock.advance(1)
    assert [(e.target, e.reason) for e in esc.tick()] == [("team lead", "sla_breached")]
    clock.advance(3600)
    assert esc.tick() == []  # the team lead's own delay is now spent, no second page
    clock.advance(7200)
    assert [(e.target, e.reason) for e in esc.tick()] == [
        ("leadership", "no acknowledgement after 14400s")]


def test_custom_sla_from_the_policy_is_used() -> None:
    """respond_within={'medium': 600} breaches after 10 min."""
    pager, clock = Pager(), FakeClock(T0)
    esc = ag.Escalation(levels=[("on-call", 0, pager), ("team lead", 7200, pager)], clock=clock)
    inc = Incident.new(id="INC-1", title="x", key="x", type="performance", severity="medium",
                       at=T0, respond_within=ag.classify.sla_table({"medium": 600}))
    esc.page(inc)
    clock.advance(600)
    assert [e.reason for e in esc.tick()] == ["sla_breached"]


def test_the_path_repeats_then_stops() -> None:
    """repeat=2 loops the whole path twice, repeat_every apart, then stays quiet."""
    pager, clock = Pager(), FakeClock(T0)
    esc = ag.Escalation(levels=[("on-call", 0, pager), ("lead", 100, pager)], repeat=2,
                        repeat_every=500, clock=clock)
    esc.page(incident("low"))
    for _ in range(40):
        clock.advance(50)
        esc.tick()
    assert pager.sent == [
        ("on-call", "paged"), ("lead", "no acknowledgement after 100s"),
        ("on-call", "repeat 1"), ("lead", "repeat 1"),
        ("on-call", "repeat 2"), ("lead", "repeat 2"),
    ]
    times: list[float] = []
    esc2 = ag.Escalation(levels=[("on-call", 0, lambda m: times.append(clock()))], repeat=1,
                         clock=clock)
    assert esc2.repeat_every == 60.0
    start = clock()
    esc2.page(Incident.new(id="INC-2", title="x", key="x", type="performance", severity="low",
                           at=start))
    for _ in range(10):
        clock.advance(30)
        esc2.tick()
    assert [t - start for t in times] == [0.0, 60.0]


def test_cross_functional_tags_notify_their_own_targets_once() -> None:
    """legal and pr tags notify their targets at page time, a tag added later at update."""
    pager, legal, pr, clock = Pager(), Pager(), Pager(), FakeClock(T0)
    esc = path(pager, clock, tags={"legal": legal, "pr": [pr]})
    inc = incident("low", tags=("legal", "unknown-tag"))
    esc.page(inc)
    assert legal.sent == [("legal", "tag legal")]
    tagged = inc.apply({"v": 1, "id": "INC-1", "op": "tag", "at": T0, "actor": "ana",
                        "tag": "pr"})
    esc.update(tagged)
    esc.update(tagged)
    assert pr.sent == [("pr", "tag pr")]
    assert legal.sent == [("legal", "tag legal")]


def test_a_failing_notifier_is_counted_and_the_others_still_run() -> None:
    """One notifier raising does not stop the next; the event says how many failed."""
    pager, clock, events = Pager(), FakeClock(T0), []

    def broken(_message: dict[str, Any]) -> None:
        raise ConnectionError("pager service down")

    def bad_listener(_event: EscalationEvent) -> None:
        raise RuntimeError("x")

    esc = ag.Escalation(levels=[Level("on-call", 0, [broken, pager])], clock=clock,
                        on_event=events.append)
    esc.page(incident())
    assert pager.sent == [("on-call", "paged")]
    assert events[0].failed == 1
    assert events[0].line == "notified on-call (paged, 1 notifier(s) failed)"
    esc2 = ag.Escalation(levels=[Level("on-call", 0, pager)], clock=clock, on_event=bad_listener)
    esc2.page(incident())  # a raising on_event is logged, not raised


@pytest.mark.parametrize(("kwargs", "argument"), [
    ({"levels": []}, "levels"),
    ({"levels": [("a", 100, print), ("b", 10, print)]}, "levels"),
    ({"levels": [("a", -1, print)]}, "after"),
    ({"levels": [("a", 0, "nobody")]}, "notify"),
    ({"levels": [("a", 0, [])]}, "notify"),
    ({"levels": [("a", 0, print)], "repeat": -1}, "repeat"),
    ({"levels": [("a", 0, print)], "repeat": True}, "repeat"),
    ({"levels": [("a", 0, print)], "repeat_every": -5}, "after"),
])
def test_escalation_validation(kwargs: dict[str, Any], argument: str) -> None:
    """Bad levels, delays, notifiers and repeats raise ConfigurationError naming them."""
    with pytest.raises(ag.ConfigurationError, match=f"^{argument} must be"):
        ag.Escalation(**kwargs)


def test_repr_shows_the_path() -> None:
    """The path and how many incidents are being escalated."""
    assert repr(path(Pager(), FakeClock())) == (
        "Escalation(on-call@0s -> team lead@900s -> leadership@3600s, tracking=0)")


def test_incidents_drive_escalation_timers_and_record_them() -> None:
    """Through Incidents: the worker ticks on the clock, pages land on the timeline, ack stops."""
    pager, clock = Pager(), FakeClock(T0)
    esc = path(pager, clock)
    guard = ag.Guard(name="recs", breaker=ag.CircuitBreaker(name="recs", clock=clock))
    incidents = ag.Incidents(ag.Policy.default(guard=guard, escalation=esc), escalation=esc,
                             clock=clock)
    incidents.handle(Signal(source="recs.errors", kind="error_rate", value=0.5, at=0))
    assert incidents.flush()
    inc_id = incidents.open_incidents()[0].id
    clock.advance(900)
    assert incidents.flush()
    assert [t for t, _ in pager.sent] == ["on-call", "team lead"]
    incidents.ack(inc_id, actor="ana")
    clock.advance(7200)
    assert incidents.flush()
    assert [t for t, _ in pager.sent] == ["on-call", "team lead"]
    lines = [e.what for e in incidents.get(inc_id).timeline if e.kind == "escalation"]
    assert lines == ["notified on-call (paged)",
                     "notified team lead (no acknowledgement after 900s)"]
    incidents.close()

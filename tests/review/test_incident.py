"""The incident record: validated transitions, severity changes, times, fields, JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

import aiguard as ag
from aiguard.errors import InvalidInputError
from aiguard.review import Incident, Status, TimelineEntry
from aiguard.review._records import check_record

T0 = 1_700_000_000.0


def rec(op: str, at: float, actor: str = "ana", **fields: Any) -> dict[str, Any]:
    return {"v": 1, "id": "INC-1", "op": op, "at": T0 + at, "actor": actor, **fields}


def fresh(severity: str = "medium") -> Incident:
    return Incident.new(id="INC-1", title="recs output shift", key="recs", type="data_quality",
                        severity=severity, at=T0, affected={"guard": "recs"})


def test_a_new_incident_is_detected_with_one_timeline_line() -> None:
    """Opening stamps DETECTED, the first severity and a timeline entry."""
    inc = fresh()
    assert inc.status is Status.DETECTED
    assert inc.is_open
    assert inc.severity_changes == ((T0, "medium", None),)
    assert inc.timeline == (TimelineEntry(at=T0, actor="aiguard", kind="status",
                                          what="detected: recs output shift (medium)"),)
    assert inc.sla == 4 * 3600


def test_statuses_only_move_forward_and_may_skip() -> None:
    """detected -> contained -> resolved is fine; back to mitigated is refused."""
    inc = fresh().apply(rec("status", 60, actor="aiguard", status="contained"))
    inc = inc.apply(rec("status", 600, status="resolved", why="fixed"))
    assert inc.status is Status.RESOLVED
    assert not inc.is_open
    with pytest.raises(InvalidInputError, match="status must be a status after 'resolved'"):
        inc.apply(rec("status", 700, status="mitigated"))
    with pytest.raises(InvalidInputError, match="status must be one of"):
        inc.apply(rec("status", 700, status="closed"))
    assert inc.timeline[-1].line() == (
        "2023-11-14T22:23:20Z  ana  status contained -> resolved (fixed)")


def test_acknowledge_once_and_even_after_containment() -> None:
    """ack sets the time once; after CONTAINED it does not move the status back."""
    inc = fresh().apply(rec("ack", 30))
    assert (inc.status, inc.time_to_acknowledge) == (Status.ACKNOWLEDGED, 30.0)
    assert inc.apply(rec("ack", 90)) == inc
    late = fresh().apply(rec("status", 5, status="contained")).apply(rec("ack", 120))
    assert (late.status, late.time_to_acknowledge) == (Status.CONTAINED, 120.0)


def test_severity_may_be_raised_freely_and_lowered_only_with_a_reason() -> None:
    """Lowering without why is refused; the same level is a no-op."""
    inc = fresh().apply(rec("severity", 10, severity="critical"))
    assert inc.severity is ag.Severity.CRITICAL
    with pytest.raises(InvalidInputError, match="why"):
        inc.apply(rec("severity", 20, severity="low"))
    lowered = inc.apply(rec("severity", 20, severity="low", why="only one cohort"))
    assert lowered.severity_changes[-1] == (T0 + 20, "low", "only one cohort")
    assert lowered.apply(rec("severity", 30, severity="low")) == lowered
    assert lowered.timeline[-1].what == "severity lowered critical -> low"


def test_times_to_each_phase_and_time_at_each_severity() -> None:
    """Times from detection; a skipped status counts from the next one reached."""
    inc = (fresh()
           .apply(rec("field", 0, field="started_at", value=T0 - 1800))
           .apply(rec("severity", 300, severity="high"))
           .apply(rec("ack", 400))
           .apply(rec("status", 900, status="mitigated"))
           .apply(rec("status", 3600, status="resolved")))
    assert inc.time_to_detect == 1800.0
    assert inc.time_to_acknowledge == 400.0
    assert inc.time_to_contain == 900.0  # never CONTAINED: MITIGATED came first
    assert inc.time_to_mitigate == 900.0
    assert inc.time_to_resolve == 3600.0
    assert inc.time_at_severity() == {"medium": 300.0, "high": 3300.0}
    assert fresh().time_at_severity(now=T0 + 50) == {"medium": 50.0}
    assert fresh().time_to_contain is None
    assert fresh().time_to_detect is None


def test_roles_signals_actions_counts_fields_factors_items_tags() -> None:
    """Each change lands in its field and on the timeline."""
    inc = (fresh()
           .apply(rec("role", 1, role="commander", name="ana"))
           .apply(rec("role", 2, role="expert", name="li"))
           .apply(rec("role", 3, role="expert", name="bo"))
           .apply(rec("signal", 4, actor="aiguard", signal={"source": "recs.out",
                                                            "kind": "output", "value": 0.4}))
           .apply(rec("action", 5, actor="aiguard", action="fallback(recs)", status="applied",
                      detail="forced open"))
           .apply(rec("count", 6, actor="guard recs", fallback_calls=120, rows_replaced=7))
           .apply(rec("count", 7, actor="guard recs", fallback_calls=30))
           .apply(rec("count", 8, actor="guard recs"))
           .apply(rec("field", 9, field="root_cause", value="region feature corrupted"))
           .apply(rec("field", 9, field="model_version", value="v42"))
           .apply(rec("field", 9, field="title", value="winter coats in Arizona"))
           .apply(rec("factor", 10, what="no schema check upstream"))
           .apply(rec("item", 11, what="add input checks", owner="li"))
           .apply(rec("tag", 12, tag="pr"))
           .apply(rec("tag", 13, tag="pr"))
           .apply(rec("note", 14, what="dashboards checked", kind="note")))
    assert dict(inc.roles) == {"commander": "ana", "expert": ["li", "bo"]}
    assert inc.signals[0]["received_at"] == T0 + 4
    assert inc.actions[0]["status"] == "applied"
    assert dict(inc.counters) == {"fallback_calls": 150, "rows_replaced": 7}
    assert inc.fields["root_cause"] == "region feature corrupted"
    assert inc.affected["model_version"] == "v42"
    assert inc.title == "winter coats in Arizona"
    assert inc.contributing_factors == ("no schema check upstream",)
    assert inc.action_items == ({"what": "add input checks", "owner": "li"},)
    assert inc.tags == ("pr",)
    kinds = [e.kind for e in inc.timeline]
    assert kinds.count("fallback") == 2  # empty count reports add no line
    assert inc.timeline[-1].what == "dashboards checked"
    json.dumps(inc.to_dict())


@pytest.mark.parametrize(("record", "match"), [
    ({"op": "open", "incident": {}}, "change of incident"),
    ({"op": "note", "id": "INC-2", "what": "x"}, "change of incident"),
    ({"op": "signal", "signal": "x"}, "signal"),
    ({"op": "count", "fallback_calls": -1}, "fallback_calls"),
    ({"op": "count", "rows_replaced": True}, "rows_replaced"),
    ({"op": "field", "field": "root_cause", "value": [1]}, "value"),
    ({"op": "field", "field": "password", "value": "x"}, "field"),
    ({"op": "role", "role": "janitor", "name": "x"}, "role"),
    ({"op": "teleport"}, "op"),
    ({"op": "note", "what": 3}, "what"),
    ({"op": "note", "what": "x", "at": float("nan")}, "at"),
    ({"op": "note", "what": "x", "v": 2}, "v"),
    ({"op": "note", "what": "x", "actor": None}, "actor"),
])
def test_bad_records_are_refused(record: dict[str, Any], match: str) -> None:
    """Malformed or foreign change records raise InvalidInputError naming the field."""
    full = {**rec("note", 0), **record}
    with pytest.raises(InvalidInputError, match=match):
        fresh().apply(full)


def test_check_record_refuses_non_objects_and_bad_open_records() -> None:
    """Only JSON objects; an open record needs its incident body."""
    with pytest.raises(InvalidInputError, match="JSON object"):
        check_record([1])
    with pytest.raises(InvalidInputError, match="incident"):
        check_record({**rec("open", 0), "incident": None})
    with pytest.raises(InvalidInputError, match="opening fields"):
        Incident.from_open({**rec("open", 0), "incident": {"title": "x"}})
    with pytest.raises(InvalidInputError):
        Incident.from_open({**rec("open", 0), "incident": {
            "title": "x", "key": "k", "type": "performance", "severity": "dire",
            "respond_within": {}}})


def test_status_order_and_repr_helpers() -> None:
    """Status compares by rank; open until RESOLVED."""
    assert Status.REVIEWED > Status.RESOLVED > Status.DETECTED
    assert [s.open for s in Status] == [True, True, True, True, False, False]
    with pytest.raises(TypeError):
        _ = Status.DETECTED > 1  # type: ignore[operator]

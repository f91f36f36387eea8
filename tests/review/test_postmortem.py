"""The postmortem: every figure derived from the record, prompts where only people can answer."""

from __future__ import annotations

import json

import aiguard as ag
from aiguard.review import Incident
from aiguard.review._postmortem import PROMPT, QUESTIONS, duration

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def change(inc: Incident, op: str, at: float, actor: str = "ana", **kw: object) -> Incident:
    return inc.apply({"v": 1, "id": inc.id, "op": op, "at": T0 + at, "actor": actor, **kw})


def walked() -> Incident:
    inc = Incident.new(id="INC-7", title="bad outputs on recs", key="recs", type="data_quality",
                       severity="medium", at=T0, affected={"guard": "recs"})
    inc = change(inc, "signal", 0, "aiguard", signal={
        "source": "recs.inputs", "kind": "drift", "value": 0.31, "baseline": 0.02,
        "threshold": 0.2, "evidence": {"features": ["region"]}})
    inc = change(inc, "severity", 120, "aiguard", severity="high")
    inc = change(inc, "action", 120, "aiguard", action="fallback(recs)", status="applied",
                 detail="breaker 'recs' forced open")
    inc = change(inc, "action", 121, "aiguard", action="page()", status="gave_up",
                 detail="ConnectionError: HTTP 500")
    inc = change(inc, "status", 120, "aiguard", status="contained")
    inc = change(inc, "count", 600, "guard recs", fallback_calls=4210, rows_replaced=17)
    inc = change(inc, "ack", 900)
    inc = change(inc, "role", 901, role="commander", name="ana")
    inc = change(inc, "status", 3600, status="mitigated")
    inc = change(inc, "field", 3700, field="root_cause", value="region feature null upstream")
    inc = change(inc, "factor", 3700, what="no input schema check")
    inc = change(inc, "item", 3800, what="add checks.schema on inputs", owner="li")
    return change(inc, "status", 7200, status="resolved")


def test_figures_come_from_the_record() -> None:
    """Impact, times, SLA verdict and first detection are computed from the incident."""
    data = walked().postmortem().data
    assert data["detected_at"] == "2023-11-14T22:13:20Z"
    assert data["first_signal"]["source"] == "recs.inputs"
    assert data["impact"] == {
        "fallback_calls": 4210, "rows_replaced": 17, "rejected_calls": 0,
        "time_at_severity": {"medium": 120.0, "high": 7080.0},
        "detection_to_containment": 120.0}
    assert data["times"] == {"detect": None, "acknowledge": 900.0, "contain": 120.0,
                             "mitigate": 3600.0, "resolve": 7200.0}
    assert data["response"] == {"worst_severity": "high", "respond_within": 3600.0,
                                "first_response": 120.0, "within_sla": True}
    assert data["went_well"] == ["fallback(recs): breaker 'recs' forced open"]
    assert data["went_wrong"] == ["page() gave_up: ConnectionError: HTTP 500"]
    assert data["lucky"] is None
    json.dumps(data)


def test_the_five_questions_are_answered_from_data_or_left_as_prompts() -> None:
    """Q1-Q5 from the data where it answers; a bare incident leaves prompts."""
    answers = [q["answer"] for q in walked().postmortem().data["questions"]]
    assert [q["question"] for q in walked().postmortem().data["questions"]] == list(QUESTIONS)
    assert answers[0].startswith("bad outputs on recs; first detected 2023-11-14T22:13:20Z by "
                                 "recs.inputs (drift 0.31, baseline 0.02)")
    assert answers[1] == "region feature null upstream; contributing: no input schema check"
    assert answers[2] == ("first response after 2m 00s, within the high SLA of 1h 00m 00s; "
                          "contained after 2m 00s")
    assert answers[3].startswith("the fallback served 4210 calls and replaced 17 rows")
    assert answers[4] == "add checks.schema on inputs (li)"
    bare = Incident.new(id="INC-8", title="t", key="k", type="performance", severity="low",
                        at=T0).postmortem(now=T0 + 10).data
    bare_answers = [q["answer"] for q in bare["questions"]]
    assert bare_answers[1] == bare_answers[3] == bare_answers[4] == PROMPT
    assert bare_answers[2].startswith("first response after -, no response recorded")
    assert bare_answers[0] == "t; detected 2023-11-14T22:13:20Z"


def test_markdown_has_the_blameless_sections_and_the_timeline() -> None:
    """Every section heading, the impact numbers and each timeline line are in the Markdown."""
    inc = walked()
    md = inc.postmortem().markdown
    for heading in ("## Summary", "## Impact", "## Timeline (UTC)",
                    "## Root cause and contributing factors", "## What went well",
                    "## What went wrong", "## Where we got lucky", "## Action items",
                    "## Review questions"):
        assert heading in md
    assert "- Calls served by fallback: 4210" in md
    assert "- Rows replaced: 17" in md
    assert "- Time at each severity: medium 2m 00s, high 1h 58m 00s" in md
    assert md.count("\n| 2023-11-1") == len(inc.timeline)
    assert "- add checks.schema on inputs (owner: li)" in md
    assert f"- {PROMPT}" in md  # where we got lucky: only people know
    assert str(inc.postmortem()) == md


def test_outside_the_sla_is_said_so() -> None:
    """A critical incident first answered after 20 minutes is outside its 15-minute SLA."""
    inc = Incident.new(id="INC-9", title="t", key="k", type="fairness", severity="critical",
                       at=T0)
    inc = change(inc, "ack", 1200)
    response = inc.postmortem().data["response"]
    assert (response["within_sla"], response["respond_within"]) == (False, 900.0)
    assert "outside the critical SLA" in inc.postmortem().markdown


def test_fields_people_fill_in_are_used() -> None:
    """went_well, went_wrong and lucky set by people appear as written."""
    inc = walked()
    inc = change(inc, "field", 8000, field="lucky", value="it happened at night")
    inc = change(inc, "field", 8000, field="went_well", value="the runbook was clear")
    inc = change(inc, "field", 8000, field="went_wrong", value="paging was slow")
    data = inc.postmortem().data
    assert data["lucky"] == "it happened at night"
    assert data["went_well"][-1] == "the runbook was clear"
    assert data["went_wrong"][-1] == "paging was slow"


def test_duration_format() -> None:
    """Seconds, minutes, hours."""
    assert [duration(x) for x in (None, 5.0, 65.0, 3600.0, 90061.0)] == [
        "-", "5s", "1m 05s", "1h 00m 00s", "25h 01m 01s"]
    assert isinstance(ag.Incident, type)

"""The blameless postmortem, filled in from the incident's record.

Sections: summary, impact, timeline, root cause and contributing factors,
what went well, what went wrong, where we got lucky, action items, and the
playbook's five review questions. Whatever the record answers is written from
the data (first detection time and source, root cause fields, detection and
response times against the severity's SLA, which containment served how many
calls); the rest is left as a prompt for the people in the review.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from aiguard.classify._severity import Severity
from aiguard.review._records import utc

if TYPE_CHECKING:
    from aiguard.review._incident import Incident

__all__ = ["PROMPT", "Postmortem"]

PROMPT = "(to be answered in the review)"
QUESTIONS = (
    "What happened and when was it first detected?",
    "What was the root cause and contributing factors?",
    "How effective was our detection and response?",
    "What worked well and what needs improvement?",
    "What preventive measures can we implement?",
)


def duration(seconds: float | None) -> str:
    """``1h 02m 05s`` (or ``-`` for None).

    Example:
        >>> duration(3725.0), duration(42.5), duration(None)
        ('1h 02m 05s', '42.5s', '-')
    """
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.3g}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def _response(incident: Incident) -> dict[str, Any]:
    reached = {level for _at, level, _why in incident.severity_changes}
    worst = max(reached, key=lambda level: Severity(level).rank)
    sla = float(incident.respond_within[worst])
    responded = [t for t in (incident.time_to_acknowledge, incident.time_to_contain)
                 if t is not None]
    first = min(responded) if responded else None
    return {"worst_severity": worst, "respond_within": sla, "first_response": first,
            "within_sla": None if first is None else first <= sla}


def _data(incident: Incident, now: float | None) -> dict[str, Any]:
    first = incident.signals[0] if incident.signals else {}
    applied = [a for a in incident.actions if a["status"] == "applied"]
    failed = [a for a in incident.actions if a["status"] in ("failed", "gave_up")]
    fields = incident.fields
    return {
        "id": incident.id, "title": incident.title, "type": incident.type,
        "severity": incident.severity.value, "status": incident.status.value,
        "affected": dict(incident.affected),
        "detected_at": utc(incident.opened_at),
        "first_signal": {k: first.get(k) for k in ("source", "kind", "value", "baseline",
                                                   "threshold", "evidence")} if first else None,
        "impact": {
            "fallback_calls": incident.counters.get("fallback_calls", 0),
            "rows_replaced": incident.counters.get("rows_replaced", 0),
            "rejected_calls": incident.counters.get("rejected_calls", 0),
            "time_at_severity": incident.time_at_severity(now),
            "detection_to_containment": incident.time_to_contain,
        },
        "times": {"detect": incident.time_to_detect, "acknowledge": incident.time_to_acknowledge,
                  "contain": incident.time_to_contain, "mitigate": incident.time_to_mitigate,
                  "resolve": incident.time_to_resolve},
        "response": _response(incident),
        "root_cause": fields.get("root_cause"),
        "contributing_factors": list(incident.contributing_factors),
        "went_well": [f"{a['action']}: {a['detail']}" for a in applied]
        + ([str(fields["went_well"])] if fields.get("went_well") else []),
        "went_wrong": [f"{a['action']} {a['status']}: {a['detail']}" for a in failed]
        + ([str(fields["went_wrong"])] if fields.get("went_wrong") else []),
        "lucky": fields.get("lucky"),
        "action_items": [dict(i) for i in incident.action_items],
        "roles": dict(incident.roles),
        "timeline": [e.to_dict() for e in incident.timeline],
    }


def _answers(d: dict[str, Any]) -> list[str]:
    first = d["first_signal"]
    q1 = (f"{d['title']}; first detected {d['detected_at']} by {first['source']} "
          f"({first['kind']} {first['value']!r}, baseline {first['baseline']!r})"
          if first else f"{d['title']}; detected {d['detected_at']}")
    q2 = d["root_cause"] or PROMPT
    if d["root_cause"] and d["contributing_factors"]:
        q2 += "; contributing: " + "; ".join(d["contributing_factors"])
    r = d["response"]
    verdict = ("no response recorded" if r["first_response"] is None else
               "within" if r["within_sla"] else "outside")
    q3 = (f"first response after {duration(r['first_response'])}, {verdict} the "
          f"{r['worst_severity']} SLA of {duration(r['respond_within'])}; contained after "
          f"{duration(d['times']['contain'])}")
    imp = d["impact"]
    q4 = (f"the fallback served {imp['fallback_calls']} calls and replaced "
          f"{imp['rows_replaced']} rows" if d["went_well"] else PROMPT)
    if d["went_wrong"]:
        q4 += "; needs improvement: " + "; ".join(d["went_wrong"])
    q5 = "; ".join(f"{i['what']} ({i['owner']})" for i in d["action_items"]) or PROMPT
    return [q1, q2, q3, q4, q5]


def _bullets(items: list[str]) -> list[str]:
    return [f"- {item}" for item in items] or [f"- {PROMPT}"]


def _markdown(d: dict[str, Any], answers: list[str]) -> str:
    imp, times = d["impact"], d["times"]
    lines = [f"# Postmortem {d['id']}: {d['title']}", "",
             "*Blameless review: we look at systems and decisions, not at people.*", "",
             "## Summary", "",
             f"- Type: {d['type']}; severity {d['severity']}; status {d['status']}",
             f"- Detected: {d['detected_at']}",
             f"- Affected: {', '.join(f'{k} {v}' for k, v in d['affected'].items()) or '-'}",
             f"- Roles: {', '.join(f'{k}: {v}' for k, v in d['roles'].items()) or PROMPT}",
             "", "## Impact", "",
             f"- Calls served by fallback: {imp['fallback_calls']}",
             f"- Rows replaced: {imp['rows_replaced']}",
             f"- Calls rejected: {imp['rejected_calls']}",
             f"- Detection to containment: {duration(imp['detection_to_containment'])}",
             "- Time at each severity: " + (", ".join(
                 f"{k} {duration(v)}" for k, v in imp["time_at_severity"].items()) or "-"),
             "- Time to acknowledge / contain / mitigate / resolve: "
             + " / ".join(duration(times[k]) for k in ("acknowledge", "contain", "mitigate",
                                                        "resolve")),
             "", "## Timeline (UTC)", "", "| time | actor | what | why |", "|---|---|---|---|"]
    lines += [f"| {e['utc']} | {e['actor']} | {e['what']} | {e['why'] or ''} |".replace(
        "\n", " ") for e in d["timeline"]]
    lines += ["", "## Root cause and contributing factors", "",
              f"- Root cause: {d['root_cause'] or PROMPT}",
              *_bullets([f"Contributing: {f}" for f in d["contributing_factors"]]),
              "", "## What went well", "", *_bullets(d["went_well"]),
              "", "## What went wrong", "", *_bullets(d["went_wrong"]),
              "", "## Where we got lucky", "", f"- {d['lucky'] or PROMPT}",
              "", "## Action items", "",
              *_bullets([f"{i['what']} (owner: {i['owner']})" for i in d["action_items"]]),
              "", "## Review questions", ""]
    for n, (question, answer) in enumerate(zip(QUESTIONS, answers, strict=True), 1):
        lines += [f"{n}. **{question}** {answer}"]
    return "\n".join(lines) + "\n"


@attrs.frozen
class Postmortem:
    """A postmortem document: ``markdown`` and its JSON twin ``data``.

    Example:
        >>> from aiguard.review._incident import Incident
        >>> inc = Incident.new(id="INC-1", title="recs drift", key="recs", type="data_drift",
        ...                    severity="medium", at=0.0)
        >>> pm = inc.postmortem(now=3600.0)
        >>> pm.data["impact"]["time_at_severity"]
        {'medium': 3600.0}
        >>> pm.markdown.splitlines()[0]
        '# Postmortem INC-1: recs drift'
    """

    markdown: str
    data: dict[str, Any]

    @classmethod
    def build(cls, incident: Incident, *, now: float | None = None) -> Postmortem:
        """Fill the postmortem in from *incident*."""
        data = _data(incident, now)
        answers = _answers(data)
        pairs = zip(QUESTIONS, answers, strict=True)
        data["questions"] = [{"question": q, "answer": a} for q, a in pairs]
        return cls(markdown=_markdown(data, answers), data=data)

    def __str__(self) -> str:
        """The Markdown."""
        return self.markdown

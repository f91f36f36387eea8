"""The drill's shared machinery: the simulated clock, the timeline printer, the incident wiring.

Everything a scenario prints goes through :meth:`Drill.emit`, which writes one
timeline line (or one JSON object with ``--json``) stamped with the *simulated*
clock, so two runs with the same seed print the same thing. Nothing here reads
the wall clock except the pacing sleep, which only changes how fast lines appear.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TextIO

import attrs

import aiguard as ag
from aiguard.testing import FakeClock

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from pathlib import Path

    from aiguard.review._incident import Incident

#: 02:50 UTC on the night of the drill: ten minutes of healthy traffic before "3 AM".
START = datetime(2026, 12, 4, 2, 50, tzinfo=timezone.utc).timestamp()
PACE = 0.12
"""Seconds between timeline lines without ``--fast`` (a few seconds in all)."""


@attrs.define
class Options:
    """The command line, parsed."""

    scenario: str
    seed: int
    out: Path
    fast: bool
    json: bool
    webhook: str | None


@attrs.define
class Drill:
    """One run: the clock, the output stream and the events emitted so far."""

    options: Options
    stream: TextIO = attrs.field(factory=lambda: sys.stdout)
    clock: FakeClock = attrs.field(factory=lambda: FakeClock(START))
    events: list[dict[str, Any]] = attrs.field(factory=list)
    counts: dict[str, int] = attrs.field(factory=dict)
    """The scenario's running counters, copied into every event."""
    _progress_shown: bool = False

    @property
    def tty(self) -> bool:
        """Whether the progress line is drawn (a terminal, not ``--json``)."""
        return not self.options.json and bool(getattr(self.stream, "isatty", lambda: False)())

    def hhmm(self, at: float | None = None) -> str:
        """The simulated time *at* (default: now) as ``HH:MM:SS`` UTC."""
        moment = self.clock() if at is None else at
        return datetime.fromtimestamp(moment, tz=timezone.utc).strftime("%H:%M:%S")

    def emit(self, phase: str, what: str, *, severity: str | None = None,
             served: str | None = None, counts: Mapping[str, int] | None = None,
             **data: Any) -> None:
        """Record one timeline event and print it (a line, or a JSON object with ``--json``)."""
        event: dict[str, Any] = {
            "seq": len(self.events) + 1, "time": self.hhmm(), "sim_seconds": round(
                self.clock() - START, 3), "phase": phase, "severity": severity,
            "what": what, "served": served,
            "counts": dict(self.counts if counts is None else counts), **data,
        }
        self.events.append(event)
        self._clear_progress()
        if self.options.json:
            self.stream.write(json.dumps(event, sort_keys=True) + "\n")
        else:
            self.stream.write(self._line(event) + "\n")
        self.stream.flush()
        if not self.options.fast:
            time.sleep(PACE)

    @staticmethod
    def _line(event: Mapping[str, Any]) -> str:
        severity = f"[{event['severity'].upper()}]" if event["severity"] else ""
        tail = []
        if event["served"]:
            tail.append(f"serving: {event['served']}")
        if event["served"] and event["counts"]:  # traffic lines say how much went where
            tail.append(" ".join(f"{k}={v}" for k, v in event["counts"].items()))
        suffix = f"  ({'; '.join(tail)})" if tail else ""
        return f"{event['time']}  {event['phase']:<9} {severity:<11} {event['what']}{suffix}"

    def progress(self, done: int, total: int, label: str) -> None:
        """Draw the simulated traffic's progress on one line (terminals only)."""
        if not self.tty:
            return
        width = 24
        filled = int(width * done / max(total, 1))
        self.stream.write(f"\r  {self.hhmm()} {label:<22} [{'#' * filled}{'.' * (width - filled)}]"
                          f" {done}/{total}")
        self.stream.flush()
        self._progress_shown = True

    def _clear_progress(self) -> None:
        if self._progress_shown:
            self.stream.write("\r" + " " * 78 + "\r")
            self._progress_shown = False

    def say(self, text: str) -> None:
        """Print a line of prose (not part of the event stream; nothing with ``--json``)."""
        if not self.options.json:
            self._clear_progress()
            self.stream.write(text + "\n")


@attrs.define
class Response:
    """The incident side of a drill: log, escalation, incidents and what was paged."""

    incidents: ag.Incidents
    escalation: ag.Escalation
    log: ag.IncidentLog
    paged: list[dict[str, Any]]
    webhook: ag.Webhook | None

    def close(self) -> None:
        """Stop the worker threads; deliver what the webhook still holds."""
        self.incidents.close()
        if self.webhook is not None:
            self.webhook.flush()
            self.webhook.close()
        self.log.close()


def respond(drill: Drill, policy_for: Any) -> Response:
    """Wire the incident side: ``policy_for(escalation)`` gives the policy to run."""
    out = drill.options.out
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "incidents.jsonl"
    log_path.unlink(missing_ok=True)  # a rerun into the same directory starts afresh
    paged: list[dict[str, Any]] = []
    webhook = None if drill.options.webhook is None else ag.Webhook(drill.options.webhook)

    def pager(message: Mapping[str, Any]) -> None:
        paged.append(dict(message))
        drill.emit("escalate", f"paged {message.get('target')} ({message.get('reason')})",
                   severity=message.get("severity"), incident=message.get("incident"))
        if webhook is not None:
            webhook(message)

    escalation = ag.Escalation(
        levels=[("on-call", 0, pager), ("team lead", 15 * 60, pager),
                ("leadership", 3600, pager)], clock=drill.clock)
    log = ag.IncidentLog(log_path, durability="batch", clock=drill.clock)
    ids = (f"INC-{n:04d}" for n in itertools.count(1))
    incidents = ag.Incidents(policy_for(escalation), log=log, escalation=escalation,
                             clock=drill.clock, new_id=lambda: next(ids), handoff=0,
                             hooks=[Reporter(drill)])
    return Response(incidents, escalation, log, paged, webhook)


_PHASE_OF_ACTION = {"rollback": "recover", "page": "escalate", "notify": "escalate"}
_PHASE_OF_STATUS = {"contained": "contain", "acknowledged": "respond", "mitigated": "recover",
                    "resolved": "review"}


class Reporter:
    """An incident hook: prints each new severity, action and status as it is written."""

    def __init__(self, drill: Drill) -> None:
        self.drill = drill
        self.seen: set[tuple[str, ...]] = set()

    def __call__(self, incident: Incident) -> None:
        """Emit what changed on *incident* since the last call (runs on the incidents' worker)."""
        emit, sev = self.drill.emit, incident.severity.value
        if (incident.id,) not in self.seen:
            self.seen.add((incident.id,))
            emit("classify", f"{incident.id} opened: {incident.title}", severity=sev,
                 incident=incident.id)
        if (incident.id, "severity", sev) not in self.seen:
            self.seen.add((incident.id, "severity", sev))
            minutes = int(incident.severity.respond_within.total_seconds() // 60)
            emit("classify", f"{incident.id} classified {sev.upper()}: respond within "
                 f"{minutes} min", severity=sev, incident=incident.id)
        for action in incident.actions:
            name = str(action["action"])
            if (incident.id, "action", name) not in self.seen:
                self.seen.add((incident.id, "action", name))
                phase = _PHASE_OF_ACTION.get(name.split("(", 1)[0], "contain")
                emit(phase, f"{name} {action['status']}: {action['detail']}", severity=sev,
                     incident=incident.id, action=name.split("(", 1)[0], status=action["status"])
        status = incident.status.value
        if status in _PHASE_OF_STATUS and (incident.id, "status", status) not in self.seen:
            self.seen.add((incident.id, "status", status))
            emit(_PHASE_OF_STATUS[status], f"{incident.id} {status}", severity=sev,
                 incident=incident.id, status=status)


def hand_over(drill: Drill, response: Response, signals: list[ag.Signal], served: str) -> float:
    """Give *signals* to the incidents in order (emptying the list); return the first breach."""
    # monitors decide on their own threads: order what one call raised by time, then source
    taken, signals[:] = sorted(signals, key=lambda s: (s.at, s.source)), []
    first = float("inf")
    for signal in taken:
        if signal.status == "breach":
            first = min(first, signal.at)
        drill.emit("detect", f"{signal.source}: {signal.kind} {signal.status} (value "
                   f"{signal.value:.2f}, threshold {signal.threshold or 0:.2f})", served=served,
                   source=signal.source, kind=signal.kind, status=signal.status)
        response.incidents.handle(signal)
        assert response.incidents.flush()
    return first


def contained(response: Response) -> str | None:
    """The id of the open incident once it is contained, else None (containment pending)."""
    opened = response.incidents.open_incidents()
    return opened[0].id if opened and opened[0].status.value == "contained" else None


def serve_until_contained(response: Response, serve_a_second: Callable[[], object]) -> str:
    """Serve a simulated second at a time until the incident is contained; return its id."""
    for _ in range(600):
        serve_a_second()
        incident_id = contained(response)
        if incident_id is not None:
            return incident_id
    msg = "the drill's incident was not contained within 10 simulated minutes"  # pragma: no cover
    raise AssertionError(msg)  # pragma: no cover


def review(response: Response, incident_id: str, *, root_cause: str,
           factors: Iterable[str] = (), actions: Iterable[tuple[str, str]] = ()) -> Incident:
    """Resolve the incident with its root cause, factors and ``(action item, owner)`` pairs."""
    incidents = response.incidents
    incidents.resolve(incident_id, actor="ana", root_cause=root_cause)
    for factor in factors:
        incidents.add_factor(incident_id, factor, actor="ana")
    for item, owner in actions:
        incidents.add_action_item(incident_id, item, owner=owner, actor="ana")
    assert incidents.flush()
    return incidents.get(incident_id)


def tally(counts: Mapping[str, int], lines: Mapping[str, str]) -> dict[str, int]:
    """Impact lines read from the drill's counters: ``{line: counter}`` -> ``{line: count}``."""
    return {line: counts[counter] for line, counter in lines.items()}


def timings(first_breach: float, fault: float, incident: Incident) -> dict[str, Any]:
    """The impact lines of a contained incident: fault to detection, to containment, severity."""
    return {"fault to detection (s)": round(first_breach - fault, 1),
            "fault to containment (s)": round(incident.status_times["contained"][0] - fault, 1),
            "severity": incident.severity.value}


def write_files(drill: Drill, incident: Incident, report: Any) -> dict[str, str]:
    """Write the postmortem (Markdown and JSON) and the HTML drift report; return the paths."""
    out = drill.options.out
    pm = incident.postmortem(now=drill.clock())
    (out / "postmortem.md").write_text(pm.markdown, encoding="utf-8")
    (out / "postmortem.json").write_text(json.dumps(pm.data, indent=2, sort_keys=True,
                                                    default=str), encoding="utf-8")
    report.to_html(out / "drift.html")
    return {"postmortem_md": "postmortem.md", "postmortem_json": "postmortem.json",
            "incident_log": "incidents.jsonl", "drift_report": "drift.html"}


def finish(drill: Drill, impact: Mapping[str, Any], files: Mapping[str, str]) -> None:
    """Emit the summary: the impact in numbers and where the files are."""
    drill.emit("summary", "drill complete", impact=dict(impact), files=dict(files),
               out=str(drill.options.out))
    if drill.options.json:
        return
    drill.say("\nimpact:")
    for name, value in impact.items():
        drill.say(f"  {name:<34} {value}")
    drill.say(f"\nwritten to {drill.options.out}/:")
    for name in files.values():
        drill.say(f"  {drill.options.out / name}")

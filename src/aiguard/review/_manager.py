"""``Incidents``: signals in, classified incidents with actions, escalation and a timeline out.

Deduplication key (documented contract): ``evidence["guard"]`` when the
signal names its guard, else the part of ``signal.source`` before the first
dot (``"recs.latency"`` -> ``"recs"``): one open incident per affected
guard. Every later signal with that key joins the open incident (its severity
is raised when the new decision is worse); a key with no open incident opens a
new one. Pass ``dedup_key=`` to change it.

Order of work on the worker, per breach signal: classify, apply the
containment actions (the 1 ms budget), then write the incident's records
(fsync), then page and notify.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from aiguard._core._events import log_once
from aiguard.classify._actions import ActionContext
from aiguard.classify._policy import Policy
from aiguard.classify._runner import ActionResult, ActionRunner, Worker
from aiguard.classify._severity import Severity
from aiguard.classify._values import seconds
from aiguard.errors import ConfigurationError
from aiguard.review._incident import Incident
from aiguard.review._incident_log import IncidentLog
from aiguard.review._keys import RAW_KEYS, default_key, new_incident_id, retarget
from aiguard.review._records import Status
from aiguard.review._watch import Watchers

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from aiguard.classify._policy import Decision
    from aiguard.detect._signal import Signal
    from aiguard.review._escalation import Escalation, EscalationEvent
    from aiguard.typing import Clock, IncidentHook

__all__ = ["Incidents"]

class Incidents(Watchers):
    """Open, deduplicate, contain, escalate and record incidents from signals.

    Args:
        policy: the :class:`~aiguard.Policy` (default: ``Policy.default()``,
            which takes no action until given containment targets).
        log: an :class:`~aiguard.IncidentLog` (default: in memory).
        escalation: an :class:`~aiguard.Escalation`; acknowledgements stop it
            and its notifications land on the timeline.
        clock: wall clock, seconds since the epoch (FakeClock in tests).
        dedup_key: ``signal -> key`` (default :func:`default_key`).
        retry_delays: seconds before each retry of a failed action.
        count_every: seconds between fallback-count records on the timeline.
        tick_every: seconds between escalation checks.
        capture_rows: ``{guard: redact}``: keep raw rows found in the evidence of
            that guard's signals, passed through ``redact``; otherwise evidence
            keys holding rows (``rows``, ``inputs``, ``outputs``, ...) are dropped.
        hooks: callables (:class:`aiguard.typing.IncidentHook`) called with
            every incident after each change.
        actor: the name the system acts under.
        handoff: seconds :meth:`handle` waits at most for the worker to
            contain (0: never wait; see :meth:`handle`).
        new_id: makes a new incident's id (default ``INC-`` and 8 random hex digits).

    Example:
        >>> import aiguard as ag
        >>> from aiguard.detect import Signal
        >>> from aiguard.testing import FakeClock
        >>> breaker = ag.CircuitBreaker(name="recs")
        >>> recs = ag.Guard(name="recs", breaker=breaker)
        >>> incidents = ag.Incidents(ag.Policy.default(guard=recs), clock=FakeClock(1.7e9))
        >>> incidents.handle(Signal(source="recs.errors", kind="error_rate", value=0.4,
        ...                         threshold=0.05, at=0.0))
        >>> incidents.flush()
        True
        >>> inc = incidents.open_incidents()[0]
        >>> inc.severity.value, inc.status.value, breaker.state.value
        ('high', 'contained', 'forced_open')
        >>> incidents.close()
    """

    def __init__(self, policy: Policy | None = None, *, log: IncidentLog | None = None,
                 escalation: Escalation | None = None, clock: Clock = time.time,
                 dedup_key: Callable[[Signal], str] = default_key,
                 retry_delays: Sequence[float] = (1.0, 5.0, 30.0), count_every: float = 10.0,
                 tick_every: float = 1.0,
                 capture_rows: Mapping[str, Callable[[Any], Any]] | None = None,
                 hooks: Sequence[IncidentHook] = (), actor: str = "aiguard",
                 handoff: float = 0.001, new_id: Callable[[], str] = new_incident_id) -> None:
        self.policy = Policy.default() if policy is None else policy
        if not isinstance(self.policy, Policy):
            raise ConfigurationError("policy", "a Policy", policy)
        if log is not None and not isinstance(log, IncidentLog):
            raise ConfigurationError("log", "an IncidentLog", log)
        if not callable(clock) or not callable(dedup_key):
            raise ConfigurationError("clock", "a callable returning seconds", clock)
        self.log = IncidentLog(clock=clock) if log is None else log
        self.escalation = escalation
        if escalation is not None and escalation.on_event is None:
            escalation.on_event = self._escalated
        self._clock = clock
        self._key = dedup_key
        if not callable(new_id):
            raise ConfigurationError("new_id", "a callable returning an incident id", new_id)
        self._new_id = new_id
        self._capture = dict(capture_rows or {})
        self._hooks = tuple(hooks)
        self.actor = actor
        self.worker = Worker("incidents", clock=clock)
        self.runner = ActionRunner(self.worker, self._action_done, clock=clock,
                                   retry_delays=retry_delays)
        self._tick_every = float(tick_every)
        self._handoff = seconds(handoff, "handoff", zero=True)
        self._ticking = False
        self._pending: list[ActionResult] = []
        self.errors = 0
        """Signals or events that could not be recorded (logged once)."""
        super().__init__(count_every=float(count_every))

    # -- signals -------------------------------------------------------------

    def handle(self, signal: Signal) -> None:
        """Take *signal* from any thread; never raises.

        The worker does the work. The calling thread waits at most ``handoff``
        seconds, until the worker has applied the containment actions: a
        thread that keeps running Python code holds the GIL, and a woken
        worker would otherwise wait out the interpreter's switch interval
        (5 ms) before it could contain anything. Signals are rare (one per
        breach), so this is paid once per breach, not per call.
        """
        contained = threading.Event()
        self.worker.submit(lambda: self._guarded(self._process, signal, contained.set))
        if self._handoff and not self.worker.on_worker():
            contained.wait(self._handoff)

    __call__ = handle

    def _guarded(self, fn: Callable[..., object], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            self.errors += 1
            log_once("incidents-record", "aiguard: Incidents could not record a signal or "
                     "event (counted in .errors, logged once)", event="incidents.record_failed")

    def _evidence(self, signal: Signal, key: str) -> dict[str, Any]:
        data = signal.to_dict()
        evidence = dict(data["evidence"])
        redact = self._capture.get(key)
        for name in RAW_KEYS:
            if name in evidence:
                if redact is None:
                    del evidence[name]
                else:
                    evidence[name] = redact(evidence[name])
        data["evidence"] = evidence
        return data

    def _process(self, signal: Signal, contained: Callable[[], object] = lambda: None) -> None:
        try:
            self._classify_and_act(signal, contained)
        finally:
            contained()

    def _classify_and_act(self, signal: Signal, contained: Callable[[], object]) -> None:
        key = self._key(signal)
        current = self.log.find_open(key)
        if not signal.breach:
            if current is not None:
                self._write(current.id, "signal", signal=self._evidence(signal, key))
            return
        decision = self.policy.classify(signal)
        incident_id = current.id if current is not None else self._new_id()
        context = ActionContext(incident_id=incident_id, severity=decision.severity,
                                reason=self._reason(decision, signal), incident=current,
                                actor=self.actor)
        contains = [a for a in decision.actions if getattr(a, "contains", False)]
        for action in contains:  # containment first: the 1 ms budget
            self.runner.run_now(action, context, observe_only=decision.observe_only)
        contained()
        time.sleep(0)  # hand the GIL back to the thread that waited for the containment
        incident = self._record(current, incident_id, key, decision, signal)
        for result in self._take_pending(incident.id):
            self._action_done(result)
        later = [a for a in decision.actions if a not in contains]
        context = ActionContext(incident_id=incident.id, severity=decision.severity,
                                reason=context.reason, incident=self.log.get(incident.id),
                                actor=self.actor)
        for action in later:
            self.runner.run_now(action, context, observe_only=decision.observe_only)
        if self.escalation is not None and current is not None:
            self.escalation.update(self.log.get(incident.id))
        self._schedule_tick()

    @staticmethod
    def _reason(decision: Decision, signal: Signal) -> str:
        rules = ", ".join(decision.rules) or "no rule matched (unknown evidence)"
        base = "" if signal.baseline is None else f" vs baseline {signal.baseline:g}"
        return f"{rules}: {signal.source} {signal.kind} {signal.value:g}{base}"

    def _record(self, current: Incident | None, incident_id: str, key: str,
                decision: Decision, signal: Signal) -> Incident:
        data = self._evidence(signal, key)
        if current is None:
            affected = {"guard": key}
            for name in ("model_version", "flag", "cohort"):
                if isinstance(signal.evidence.get(name), (str, int, float)):
                    affected[name] = signal.evidence[name]
            title = f"{decision.rules[0] if decision.rules else 'unknown signal'} on {key}"
            record = Incident.open_record(
                id=incident_id, title=title, key=key, type=decision.type,
                severity=decision.severity, at=self._clock(), actor=self.actor,
                affected=affected, tags=tuple(t for t in signal.evidence.get("tags", ())
                                              if isinstance(t, str)),
                respond_within=self.policy.respond_within)
            opened = self.log.open(record)
            if opened.id != incident_id:  # another replica opened it first: move our results
                self._pending = [retarget(r, opened.id) for r in self._pending]
            current = opened
        self._write(current.id, "signal", signal=data)
        if decision.severity > current.severity:
            self._write(current.id, "severity", severity=decision.severity.value,
                        why=self._reason(decision, signal))
        if decision.observe_only and decision.actions:
            self._write(current.id, "note", kind="note",
                        what=f"observe_only: the policy would take {len(decision.actions)} "
                             "action(s), none taken")
        return self.log.get(current.id)

    def _take_pending(self, incident_id: str) -> list[ActionResult]:
        taken = [r for r in self._pending if r.incident_id == incident_id]
        self._pending = [r for r in self._pending if r.incident_id != incident_id]
        return taken

    def _action_done(self, result: ActionResult) -> None:
        if result.incident_id not in self.log:
            self._pending.append(result)
            return
        self._write(result.incident_id, "action", action=result.action, status=result.status,
                    detail=result.detail, why=f"attempt {result.attempt}")
        incident = self.log.get(result.incident_id)
        if result.status == "applied" and result.contains and \
                incident.status.rank < Status.CONTAINED.rank:
            self._write(incident.id, "status", status="contained",
                        why=f"{result.action}: {result.detail}")

    def _write(self, incident_id: str, op: str, **fields: Any) -> Incident:
        actor = fields.pop("actor", self.actor)
        incident = self.log.change(incident_id, op, actor=actor, at=self._clock(), **fields)
        for hook in self._hooks:
            try:
                hook(incident)
            except Exception:  # noqa: PERF203 - principle 1
                log_once(f"incident-hook:{id(hook)}", "aiguard: an incident hook raised",
                         event="incidents.hook_raised", name=incident.id)
        return incident

    # -- escalation timers ---------------------------------------------------

    def _schedule_tick(self) -> None:
        if self.escalation is None or self._ticking or not self.escalation.tracking:
            return
        self._ticking = True
        self.worker.later(self._clock() + self._tick_every, self._tick)

    def _tick(self) -> None:
        self._ticking = False
        assert self.escalation is not None
        self.escalation.tick()
        self._schedule_tick()

    def _escalated(self, event: EscalationEvent) -> None:
        if event.incident_id in self.log:
            self._write(event.incident_id, "note", kind="escalation", what=event.line,
                        actor="escalation")

    # -- people --------------------------------------------------------------

    def get(self, incident_id: str) -> Incident:
        """The incident *incident_id* (InvalidInputError if unknown)."""
        return self.log.get(incident_id)

    def open_incidents(self) -> list[Incident]:
        """Incidents not yet resolved, oldest first."""
        return self.log.open_incidents()

    def ack(self, incident_id: str, *, actor: str) -> Incident:
        """A person acknowledges: the escalation clock stops."""
        incident = self._write(incident_id, "ack", actor=actor)
        if self.escalation is not None:
            self.escalation.acknowledge(incident_id)
        return incident

    def set_status(self, incident_id: str, status: Status | str, *, actor: str,
                   reason: str | None = None) -> Incident:
        """Move to a later status (``contained``, ``mitigated``, ``resolved``, ``reviewed``)."""
        value = getattr(status, "value", status)
        incident = self._write(incident_id, "status", status=value, actor=actor, why=reason)
        if not incident.is_open:
            self.runner.forget(incident_id)
            if self.escalation is not None:
                self.escalation.acknowledge(incident_id)
        return incident

    def resolve(self, incident_id: str, *, actor: str, reason: str | None = None,
                root_cause: str | None = None) -> Incident:
        """Record the root cause (if given) and move to RESOLVED."""
        if root_cause is not None:
            self._write(incident_id, "field", field="root_cause", value=root_cause, actor=actor)
        return self.set_status(incident_id, "resolved", actor=actor, reason=reason)

    def assign(self, incident_id: str, role: str, name: str, *, actor: str) -> Incident:
        """Give *role* (commander, technical_lead, communications_lead, expert) to *name*."""
        return self._write(incident_id, "role", role=role, name=name, actor=actor)

    def set_severity(self, incident_id: str, severity: Severity | str, *, actor: str,
                     reason: str | None = None) -> Incident:
        """Raise, or lower (a reason is required), the severity."""
        level = Severity.parse(severity)
        incident = self._write(incident_id, "severity", severity=level.value, actor=actor,
                               why=reason)
        if self.escalation is not None:
            self.escalation.update(incident)
        return incident

    def note(self, incident_id: str, what: str, *, actor: str, why: str | None = None,
             kind: str = "note") -> Incident:
        """Add a line to the timeline."""
        return self._write(incident_id, "note", what=what, actor=actor, why=why, kind=kind)

    def set(self, incident_id: str, field: str, value: str | float | None, *,
            actor: str) -> Incident:
        """Set a field: root_cause, started_at, went_well, went_wrong, lucky, model_version, ..."""
        return self._write(incident_id, "field", field=field, value=value, actor=actor)

    def add_factor(self, incident_id: str, what: str, *, actor: str) -> Incident:
        """Add a contributing factor."""
        return self._write(incident_id, "factor", what=what, actor=actor)

    def add_action_item(self, incident_id: str, what: str, *, owner: str,
                        actor: str) -> Incident:
        """Add an action item with its owner."""
        return self._write(incident_id, "item", what=what, owner=owner, actor=actor)

    def tag(self, incident_id: str, tag: str, *, actor: str) -> Incident:
        """Tag the incident (legal, compliance, pr, security): the tag's targets are notified."""
        incident = self._write(incident_id, "tag", tag=tag, actor=actor)
        if self.escalation is not None:
            self.escalation.update(incident)
        return incident

    # -- lifecycle -----------------------------------------------------------

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued signal and event, and the fallback counts, are recorded."""
        self.worker.submit(self.report_counts, force=True)
        return self.worker.flush(timeout)

    def close(self) -> None:
        """Record what is queued, stop the worker and the watchers, close the log."""
        self.flush()
        self.unwatch_all()
        self.worker.close()
        self.log.close()

    def __repr__(self) -> str:
        """How many incidents are open."""
        return f"Incidents(open={len(self.open_incidents())}, policy={self.policy!r})"


"""``Incidents``: signals in, classified incidents with actions, escalation and a timeline out.

Deduplication key (documented contract): ``evidence["guard"]`` when the
signal names its guard, else the part of ``signal.source`` before the first
dot (``"recs.latency"`` -> ``"recs"``): one open incident per affected
guard. Every later signal with that key joins the open incident (its severity
is raised when the new decision is worse); a key with no open incident opens a
new one. Pass ``dedup_key=`` to change it.

Order of work, per breach signal (``contain="thread"``, the default). On
the thread that calls :meth:`Incidents.handle`: classify, claim the
containment actions not yet applied to the incident (idempotency), hand
them to a containment thread (:mod:`aiguard.classify._handoff`) and wait
for them at most ``handoff`` seconds (1 ms). On the containment thread:
apply them, the inline-safe ones (:attr:`aiguard.rules.Action.inline`)
first; that is the 1 ms budget. On the worker: write the incident's records
(fsync) with every action's result, then page and notify.

``contain="inline"`` applies the inline-safe actions on the caller's thread
instead (the rest on the worker); ``contain="worker"`` leaves everything to
the worker, the caller waiting for it at most ``handoff``.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import attrs

from aiguard._core._events import log_once
from aiguard.classify._actions import ActionContext
from aiguard.classify._handoff import Handoff
from aiguard.classify._policy import Decision, Policy
from aiguard.classify._runner import ActionResult, ActionRunner, Worker
from aiguard.classify._values import seconds
from aiguard.errors import ConfigurationError
from aiguard.review._early import (
    CONTAIN,
    Early,
    EarlyWork,
    contains_inline_only,
)
from aiguard.review._incident import Incident
from aiguard.review._incident_log import IncidentLog
from aiguard.review._keys import (
    capture_table,
    default_key,
    new_incident_id,
    redact_evidence,
    retarget,
)
from aiguard.review._people import People
from aiguard.review._records import Status
from aiguard.review._watch import Watchers

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from aiguard.detect._signal import Signal
    from aiguard.review._escalation import Escalation, EscalationEvent
    from aiguard.typing import Clock, IncidentHook

__all__ = ["Incidents"]


def _nothing() -> None:
    """The no-op ``contained`` callback."""


class Incidents(Watchers, People, Early):
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
        capture_rows: ``{key: redact}``, per deduplication key (the guard's
            name by default): for the signals of that guard, evidence keys
            that hold raw rows (``rows``, ``inputs``, ``outputs``,
            ``examples``, ``values``) are kept, passed through ``redact``
            (a callable taking the value and returning what may be recorded,
            e.g. masked or truncated rows). For every other guard those keys
            are dropped before anything is written, sent or exported. A
            ``redact`` that raises drops the value (counted, logged once).
        hooks: callables (:class:`aiguard.typing.IncidentHook`) called with
            every incident after each change.
        actor: the name the system acts under.
        contain: where containment actions run. ``"thread"`` (default): on
            a containment thread, off the caller's thread; :meth:`handle`
            waits for them at most ``handoff``. ``"inline"``: the
            inline-safe ones on the thread calling :meth:`handle` (no
            wait), the others on the worker. ``"worker"``: all on the
            worker, after the records of earlier signals, ``handle``
            waiting at most ``handoff``.
        handoff: seconds :meth:`handle` waits at most for containment done
            on another thread (0: never wait; see :meth:`handle`).
        new_id: makes a new incident's id (default ``INC-`` and 8 random hex
            digits); called by :meth:`handle`'s thread.

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
                 contain: str = "thread", handoff: float = 0.001,
                 new_id: Callable[[], str] = new_incident_id) -> None:
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
        self._capture = capture_table(capture_rows)
        if contain not in CONTAIN:
            raise ConfigurationError("contain", "'thread', 'inline' or 'worker'", contain)
        self.contain = contain
        self._planned: dict[str, str] = {}  # key -> id planned for the incident being opened
        self._plan_lock = threading.Lock()
        self._hooks = tuple(hooks)
        self.actor = actor
        self._handoff = seconds(handoff, "handoff", zero=True)
        # records may wait, containment may not: a worker that contains keeps its wake-ups prompt
        self.worker = Worker("incidents", clock=clock, batch=contain == "thread" or (
            contain == "inline" and contains_inline_only(self.policy)))
        try:
            self.runner = ActionRunner(self.worker, self._action_done, clock=clock,
                                       retry_delays=retry_delays)
        except ConfigurationError:
            self.worker.close()
            raise
        self.handoffs = Handoff("incidents") if contain == "thread" else None
        """The containment threads (``contain="thread"``), else None."""
        self.late = 0
        """Signals whose containment was not done when :meth:`handle` stopped waiting."""
        self._tick_every = float(tick_every)
        self._ticking = False
        self._pending: list[ActionResult] = []
        self.errors = 0
        """Signals or events that could not be recorded (logged once)."""
        super().__init__(count_every=float(count_every))

    # -- signals -------------------------------------------------------------

    def handle(self, signal: Signal) -> None:
        """Take *signal* from any thread; never raises.

        This thread classifies the signal. With ``contain="thread"`` (the
        default) it hands the containment actions not yet applied to the
        incident to a containment thread and waits for them, at most
        ``handoff`` seconds: waiting releases the GIL, so that thread runs
        at once, where a thread woken while the caller keeps running Python
        code would wait out the interpreter's switch interval (5 ms). An
        action that hangs or raises costs the caller at most the bound
        (``late`` counts the signals whose containment took longer). A
        signal with nothing to contain (not a breach, ``observe_only``, its
        incident already contained) returns without waiting. Records,
        pages and notifications happen on the worker. ``contain="inline"``
        and ``"worker"``: see the class.
        """
        early = None
        if self.contain != "worker":
            try:
                early = self._contain_early(signal)
            except Exception:  # the worker retries the whole signal and counts it there
                early = None
        nested = self.worker.on_worker() or (
            self.handoffs is not None and self.handoffs.on_thread())
        job = None if early is None else early.job
        if job is not None:
            assert self.handoffs is not None  # only contain="thread" makes jobs
            self.handoffs.submit(job)
            if self._handoff and not nested and not job.done.wait(self._handoff):
                self.late += 1
        waits = early is None or early.waits
        if not (waits and self._handoff) or nested:
            self.worker.submit(lambda: self._guarded(self._process, signal, _nothing, early))
            return
        contained = threading.Event()
        self.worker.submit(lambda: self._guarded(self._process, signal, contained.set, early))
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
        data["evidence"], failed = redact_evidence(data["evidence"], self._capture.get(key))
        if failed:
            self.errors += 1
            log_once(f"redact:{key}", "aiguard: the capture_rows redaction of %r raised; the "
                     "rows were dropped (counted, logged once)", key, exc_info=False)
        return data

    def _process(self, signal: Signal, contained: Callable[[], object] = _nothing,
                 early: EarlyWork | None = None) -> None:
        try:
            self._classify_and_act(signal, contained, early)
        finally:
            contained()

    def _classify_and_act(self, signal: Signal, contained: Callable[[], object],
                          early: EarlyWork | None) -> None:
        key = self._key(signal) if early is None else early.key
        current = self.log.find_open(key)
        if not signal.breach:
            if current is not None:
                self._write(current.id, "signal", signal=self._evidence(signal, key))
            return
        decision, incident_id = self._decide(signal, current, early)
        context = ActionContext(incident_id=incident_id, severity=decision.severity,
                                reason=self._reason(decision, signal), incident=current,
                                actor=self.actor)
        for applied in () if early is None else early.applied:
            self.runner.settle(applied, context)
        contains = [a for a in decision.actions if getattr(a, "contains", False)]
        for action in contains if early is None or early.worker_contains else ():
            self.runner.run_now(action, context, observe_only=decision.observe_only)
        job = self._job_first(early)
        contained()
        time.sleep(0)  # hand the GIL back to the thread that waited for the containment
        incident = self._record(current, incident_id, key, decision, signal)
        with self._plan_lock:
            if self._planned.get(key) in self.log:
                del self._planned[key]
        for result in self._take_pending(incident.id):
            self._action_done(result)
        self._settle_when_done(job, attrs.evolve(context, incident_id=incident.id))
        later = [a for a in decision.actions if a not in contains]
        context = ActionContext(incident_id=incident.id, severity=decision.severity,
                                reason=context.reason, incident=self.log.get(incident.id),
                                actor=self.actor)
        for action in later:
            self.runner.run_now(action, context, observe_only=decision.observe_only)
        if self.escalation is not None and current is not None:
            self.escalation.update(self.log.get(incident.id))
        self._schedule_tick()

    def _decide(self, signal: Signal, current: Incident | None,
                early: EarlyWork | None) -> tuple[Decision, str]:
        """The decision (made by handle() when inline) and the incident's id (new ones once)."""
        if early is None or early.decision is None:
            decision, planned = self.policy.classify(signal), None
        else:
            decision, planned = early.decision, early.incident_id
        if current is not None:
            return decision, current.id
        return decision, self._new_id() if planned is None else planned

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
                log_once("incident-hook", "aiguard: an incident hook raised",
                         event="incidents.hook_raised", name=incident.id, owner=hook)
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

    # -- lifecycle -----------------------------------------------------------

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued signal and event, and the fallback counts, are recorded.

        False on timeout (a containment action that has not returned yet).
        """
        end = time.monotonic() + timeout
        applied = self.handoffs is None or self.handoffs.drain(timeout)
        self.worker.submit(self.report_counts, force=True)
        return self.worker.flush(max(0.0, end - time.monotonic())) and applied

    def close(self) -> None:
        """Record what is queued, stop the threads and the watchers, close the log."""
        self.flush()
        self.unwatch_all()
        if self.handoffs is not None:
            self.handoffs.close()
        self.worker.close()
        self.log.close()

    def __repr__(self) -> str:
        """How many incidents are open."""
        return f"Incidents(open={len(self.open_incidents())}, policy={self.policy!r})"

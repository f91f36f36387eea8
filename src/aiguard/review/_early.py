"""Signal-time containment, the part of :meth:`Incidents.handle` before the worker (mixed in).

:meth:`Early._contain_early` runs on the thread calling ``handle``: it
classifies the signal, picks the incident's id (the open one's, or one
planned for the incident about to be opened) and, per ``contain=``, claims
the containment actions and builds the :class:`Containment` job for a
containment thread (``"thread"``) or applies the inline-safe ones at once
(``"inline"``). The worker later records what was applied
(:meth:`Early._settle_when_done`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from aiguard.classify._actions import ActionContext
from aiguard.classify._handoff import Containment

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable

    from aiguard.classify._handoff import Handoff
    from aiguard.classify._policy import Decision, Policy
    from aiguard.classify._runner import ActionRunner, Applied, Worker
    from aiguard.detect._signal import Signal
    from aiguard.review._incident_log import IncidentLog

__all__ = ["CONTAIN", "RECORDS_WAIT", "Early", "EarlyWork", "contains_inline_only"]

CONTAIN = ("thread", "inline", "worker")
"""Where :class:`~aiguard.Incidents` applies containment (``contain=``)."""

RECORDS_WAIT = 0.1
"""Seconds the worker waits for a signal's containment job before writing its records
(containment first; an action still running then is recorded when it returns)."""


@attrs.frozen
class EarlyWork:
    """What :meth:`Incidents.handle` did on the signalling thread, for the worker to finish."""

    key: str
    decision: Decision | None  # None: not a breach
    incident_id: str  # the open incident's id, or the id planned for the new one
    applied: tuple[Applied, ...]
    waits: bool  # containment is left for the worker: the caller may wait for it
    job: Containment | None = None  # contain="thread": the actions handed to a thread
    worker_contains: bool = True  # False: the worker applies no containment for it


def contains_inline_only(policy: Policy) -> bool:
    """Whether every containment action of *policy* is inline-safe (none left to the worker)."""
    return all(getattr(action, "inline", False) is True for rule in policy.rules
               for action in rule.actions if getattr(action, "contains", False))


class Early:
    """Classify and contain at signal time; record the results later (mixed into Incidents)."""

    policy: Policy
    log: IncidentLog
    runner: ActionRunner
    worker: Worker
    handoffs: Handoff | None
    contain: str
    actor: str
    _key: Callable[[Signal], str]
    _new_id: Callable[[], str]
    _guarded: Callable[..., None]
    _planned: dict[str, str]  # key -> id planned for the incident being opened
    _plan_lock: threading.Lock

    @staticmethod
    def _reason(decision: Decision, signal: Signal) -> str:
        rules = ", ".join(decision.rules) or "no rule matched (unknown evidence)"
        base = "" if signal.baseline is None else f" vs baseline {signal.baseline:g}"
        return f"{rules}: {signal.source} {signal.kind} {signal.value:g}{base}"

    def _contain_early(self, signal: Signal) -> EarlyWork:
        """Classify *signal*; hand its containment to a thread, or apply the inline-safe part."""
        key = self._key(signal)
        if not signal.breach:
            return EarlyWork(key, None, "", (), waits=False)
        decision = self.policy.classify(signal)
        incident_id = self._incident_id(key)
        contains = [a for a in decision.actions if getattr(a, "contains", False)]
        if decision.observe_only or not contains:
            return EarlyWork(key, decision, incident_id, (), waits=False)
        context = ActionContext(incident_id=incident_id, severity=decision.severity,
                                reason=self._reason(decision, signal), actor=self.actor)
        if self.contain == "thread":
            contains.sort(key=lambda a: getattr(a, "inline", False) is not True)  # fast first
            claimed = [a for a in contains if self.runner.claim(a, context)]
            job = Containment(self.runner, claimed, context) if claimed else None
            return EarlyWork(key, decision, incident_id, (), waits=False, job=job,
                          worker_contains=False)
        applied: list[Applied] = []
        waits = False
        for action in contains:
            if getattr(action, "inline", False) is True:
                done = self.runner.apply_inline(action, context)
                if done is not None:
                    applied.append(done)
            else:
                waits = True
        return EarlyWork(key, decision, incident_id, tuple(applied), waits=waits)

    def _incident_id(self, key: str) -> str:
        """The open incident's id for *key*, else the id planned for the one to be opened."""
        current = self.log.find_open(key)
        if current is not None:
            return current.id
        with self._plan_lock:
            planned = self._planned.get(key)
            if planned is None or planned in self.log:
                planned = self._planned[key] = self._new_id()
            return planned

    @staticmethod
    def _job_first(early: EarlyWork | None) -> Containment | None:
        """The signal's containment job (if any), once done or after ``RECORDS_WAIT``."""
        job = None if early is None else early.job
        if job is not None:  # containment first, when it is quick
            job.done.wait(RECORDS_WAIT)
        return job

    def _settle_when_done(self, job: Containment | None, context: ActionContext) -> None:
        """Record the results of *job* (now, or on the worker once its thread is done)."""
        if job is None:
            return
        assert self.handoffs is not None
        self.handoffs.spare()  # the job's thread may be held: keep one idle for the next signal
        if job.then(lambda: self.worker.submit(lambda: self._guarded(self._settle, job, context))):
            return
        self._settle(job, context)

    def _settle(self, job: Containment, context: ActionContext) -> None:
        for applied in job.applied:
            self.runner.settle(applied, context)

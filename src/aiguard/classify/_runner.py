"""Where actions run: one small worker thread, off the caller's thread, with timed retries.

The caller only appends to a deque and notifies a condition (no I/O, no wait).
The worker runs jobs in order, then any timer that is due on the injected
clock. It sleeps on the condition and is woken by each submit (no polling
for jobs); with a real clock it also wakes every ``poll`` seconds while
timers are pending; with :class:`~aiguard.testing.FakeClock` tests advance
the clock and call :meth:`Worker.flush`, which runs every due timer before
returning.

A woken worker still has to be scheduled by the OS and to take the GIL from
a thread running Python code (up to the interpreter's 5 ms switch interval),
and its queue is in order, behind records that fsync. So containment is not
applied here: :class:`~aiguard.Incidents` claims it (:meth:`ActionRunner.claim`)
and applies it on a containment thread (:mod:`aiguard.classify._handoff`,
the default) or, with ``contain="inline"``, on the thread that has the
signal (:meth:`ActionRunner.apply_inline`); the worker only *reports* it
(:meth:`ActionRunner.settle`).

Waking the worker must not cost the waker either. On Linux a freshly woken
thread preempts the thread that woke it; on a busy machine the waker then
waits a whole time slice (about 5 ms, measured in ``benchmarks/incidents.py``)
for a CPU. A worker built with ``batch=True`` therefore runs under
``SCHED_BATCH`` (:func:`background`), the policy Linux gives work that may
wait: the same CPU share, but its wake-ups never preempt the serving thread.
The price: it starts a job a little later on a busy machine, so a worker
that must contain something fast keeps the default policy. Elsewhere, or
where the policy cannot be set, nothing changes.

Retry rule for a failing action (:class:`ActionRunner`): it is tried again
after 1 s, 5 s and 30 s on the runner's clock (``retry_delays``); every failure
is reported (``"failed"``) and, after the last, ``"gave_up"``. A job that
raises anything else is counted in ``errors`` and logged once: the worker
keeps going and no guarded call ever sees it.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import os
import threading
from typing import TYPE_CHECKING, Any

import attrs

from aiguard._core._clock import validate_clock
from aiguard._core._events import log_once
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from aiguard.classify._actions import ActionContext
    from aiguard.typing import Action, Clock

__all__ = ["ActionResult", "ActionRunner", "Applied", "Worker", "background", "foreground"]

MAX_QUEUE = 10_000


def background() -> bool:
    """Put the calling thread under ``SCHED_BATCH`` (Linux): its wake-ups never preempt others.

    Returns whether the policy was set (False: not Linux, or not allowed).

    Example:
        >>> import threading
        >>> seen = []
        >>> thread = threading.Thread(target=lambda: seen.append(background()))
        >>> thread.start(); thread.join()
        >>> seen in ([True], [False])
        True
    """
    return _policy("SCHED_BATCH")


def foreground() -> bool:
    """Put the calling thread under the default policy (a thread inherits its starter's).

    Example:
        >>> foreground() in (True, False)
        True
    """
    return _policy("SCHED_OTHER")


def _policy(name: str) -> bool:
    try:  # 0: the calling thread
        os.sched_setscheduler(0, getattr(os, name), os.sched_param(0))
    except (AttributeError, OSError):  # not Linux, or refused (a seccomp profile): as it was
        return False
    return True


class Worker:
    """A daemon thread running submitted jobs in order, and timers due on *clock*.

    Example:
        >>> import time
        >>> worker = Worker("demo", clock=time.monotonic)
        >>> seen = []
        >>> worker.submit(lambda: seen.append(1))
        >>> worker.flush(), seen
        (True, [1])
        >>> worker.close()
    """

    def __init__(self, name: str, *, clock: Clock, poll: float = 0.05,
                 batch: bool = False) -> None:
        self.name = name
        self._batch = batch
        self._clock = validate_clock(clock)
        self._poll = poll
        self._cond = threading.Condition()
        self._jobs: collections.deque[Callable[[], object]] = collections.deque()
        self._timers: list[tuple[float, int, Callable[[], object]]] = []
        self._seq = itertools.count()
        self._busy = False
        self._closed = False
        self.errors = 0
        """Jobs that raised (logged once)."""
        self.dropped = 0
        """Jobs refused because the queue held ``MAX_QUEUE`` (logged once)."""
        self.batch = False
        """Whether the thread runs under ``SCHED_BATCH`` (asked with ``batch=True``,
        granted on Linux; see :func:`background`)."""
        self._thread = threading.Thread(target=self._run, name=f"aiguard-{name}", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], object], *, force: bool = False) -> None:
        """Queue *job*; returns at once and never raises (*force*: even past the limit)."""
        with self._cond:
            if len(self._jobs) >= MAX_QUEUE and not force:
                self.dropped += 1
                log_once(f"worker-full:{self.name}", "aiguard: %s queue is full; jobs are "
                         "dropped and counted", self.name, exc_info=False,
                         event="worker.queue_full", name=self.name)
                return
            self._jobs.append(job)
            self._cond.notify()

    def later(self, at: float, job: Callable[[], object]) -> None:
        """Run *job* once the clock reads *at* or later."""
        with self._cond:
            heapq.heappush(self._timers, (at, next(self._seq), job))
            self._cond.notify()

    def on_worker(self) -> bool:
        """Whether the calling thread is this worker's thread."""
        return threading.current_thread() is self._thread

    @property
    def pending_timers(self) -> int:
        """How many timers wait."""
        return len(self._timers)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued job and every due timer has run; False on timeout."""
        done = threading.Event()
        self.submit(done.set, force=True)
        if not done.wait(timeout):
            return False
        with self._cond:
            return self._cond.wait_for(lambda: not self._jobs and not self._busy
                                       and not self._due(self._clock()), timeout)

    def _due(self, now: float) -> bool:
        return bool(self._timers) and self._timers[0][0] <= now

    def _next(self) -> Callable[[], object] | None:
        with self._cond:
            self._busy = False
            self._cond.notify_all()
            while True:
                if self._jobs:
                    self._busy = True
                    return self._jobs.popleft()
                if self._due(self._clock()):
                    self._busy = True
                    return heapq.heappop(self._timers)[2]
                if self._closed:
                    return None
                self._cond.wait(self._poll if self._timers else None)

    def _run(self) -> None:
        if self._batch:
            self.batch = background()
        while (job := self._next()) is not None:
            try:
                job()
            except Exception:  # noqa: PERF203 - principle 1: one job never stops the worker
                self.errors += 1
                log_once(f"worker-job:{self.name}", "aiguard: a job of %s raised; it is "
                         "skipped (counted, logged once)", self.name,
                         event="worker.job_raised", name=self.name)

    def close(self, timeout: float = 5.0) -> None:
        """Run what is queued, then stop the thread (pending timers are dropped)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)


@attrs.frozen(kw_only=True)
class ActionResult:
    """What happened when an action ran (given to the runner's ``report`` callable).

    Attributes:
        incident_id: the incident.
        action: the action's name.
        status: ``"applied"``, ``"observed"`` (observe_only: recorded, not
            taken), ``"failed"`` (will be retried), ``"gave_up"`` (last retry failed).
        detail: what the action returned, what it would do, or the error.
        attempt: 1 for the first try.
        at: the runner's clock when it finished.
        contains: the action is a containment action (``Action.contains``).

    Example:
        >>> ActionResult(incident_id="INC-1", action="kill('recs')", status="applied",
        ...              detail="flag 'recs' turned off", attempt=1, at=0.0).ok
        True
    """

    incident_id: str
    action: str
    status: str
    detail: str
    attempt: int
    at: float
    contains: bool = False

    @property
    def ok(self) -> bool:
        """Applied or observed."""
        return self.status in ("applied", "observed")


@attrs.frozen(kw_only=True)
class Applied:
    """An action applied inline, on the signalling thread, waiting to be reported by the worker.

    Attributes:
        action: the action.
        incident_id: the incident id it was claimed under (idempotency).
        detail: what it returned, or None when it raised.
        error: the error when it raised (then retried by the worker), else None.
        at: the runner's clock when it finished.

    Example:
        >>> Applied(action=None, incident_id="INC-1", detail="done", error=None, at=0.0).error
    """

    action: Any
    incident_id: str
    detail: str | None
    error: str | None
    at: float


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


class ActionRunner:
    """Apply actions on a :class:`Worker`, once per incident and key, retrying failures.

    Args:
        worker: the worker thread to run on.
        report: called (on the worker) with each :class:`ActionResult`.
        clock: the clock timing retries.
        retry_delays: seconds before each retry after a failure (default 1, 5, 30).

    Example:
        >>> import time
        >>> from aiguard.classify._actions import ActionContext, notify
        >>> from aiguard.classify._severity import Severity
        >>> results = []
        >>> runner = ActionRunner(Worker("demo", clock=time.monotonic), results.append,
        ...                       clock=time.monotonic)
        >>> ctx = ActionContext(incident_id="INC-1", severity=Severity.HIGH, reason="demo")
        >>> runner.apply(notify(lambda message: None), ctx, observe_only=False)
        >>> runner.worker.flush(); [r.status for r in results]
        True
        ['applied']
    """

    def __init__(self, worker: Worker, report: Callable[[ActionResult], object], *,
                 clock: Clock, retry_delays: Sequence[float] = (1.0, 5.0, 30.0)) -> None:
        self.worker = worker
        self._report = report
        self._clock = validate_clock(clock)
        delays = tuple(retry_delays)
        if any(isinstance(d, bool) or not isinstance(d, (int, float)) or not d >= 0
               for d in delays):
            raise ConfigurationError("retry_delays", "seconds >= 0", retry_delays)
        self.retry_delays = tuple(float(d) for d in delays)
        self._done: dict[str, set[str]] = {}  # incident id -> keys applied
        self._lock = threading.Lock()

    @staticmethod
    def _key(action: Action, context: ActionContext) -> str:
        if getattr(action, "repeat_on_raise", False):
            return f"{action.key}@{context.severity.value}"
        return action.key

    def _claim(self, action: Action, context: ActionContext) -> bool:
        key = self._key(action, context)
        with self._lock:
            done = self._done.setdefault(context.incident_id, set())
            if key in done:
                return False
            done.add(key)
            return True

    def _release(self, action: Action, incident_id: str, context: ActionContext) -> None:
        key = self._key(action, context)
        with self._lock:
            done = self._done.get(incident_id)
            if done is not None:
                done.discard(key)
                if not done:
                    del self._done[incident_id]

    def apply(self, action: Action, context: ActionContext, *, observe_only: bool) -> None:
        """Queue *action* for *context*'s incident unless it already ran for it (idempotent)."""
        if self._claim(action, context):
            self.worker.submit(lambda: self._attempt(action, context, 1,
                                                     observe_only=observe_only))

    def run_now(self, action: Action, context: ActionContext, *, observe_only: bool) -> None:
        """Like :meth:`apply` but on the current thread (call it from the worker only)."""
        if self._claim(action, context):
            self._attempt(action, context, 1, observe_only=observe_only)

    def claim(self, action: Action, context: ActionContext) -> bool:
        """Claim *action* for *context*'s incident: False when it already ran (or runs) for it."""
        return self._claim(action, context)

    def apply_inline(self, action: Action, context: ActionContext) -> Applied | None:
        """Apply *action* on the calling thread, once per incident; None if it already ran.

        Nothing is reported here (the caller must not pay for a record):
        hand the :class:`Applied` to :meth:`settle` on the worker. An action
        that raises is caught; :meth:`settle` reports it and retries it.
        """
        return self.apply_claimed(action, context) if self._claim(action, context) else None

    def apply_claimed(self, action: Action, context: ActionContext) -> Applied:
        """Apply *action*, already :meth:`claim`-ed, here (see :meth:`apply_inline`)."""
        try:
            detail, error = str(action(context)), None
        except Exception as exc:
            detail, error = None, _error_text(exc)
        return Applied(action=action, incident_id=context.incident_id, detail=detail,
                       error=error, at=self._clock())

    def settle(self, applied: Applied, context: ActionContext) -> None:
        """Report an inline application for *context*'s incident (call it from the worker).

        When the incident turned out to have another id than the one claimed
        (a signal raced its incident's opening), the claim moves to it; if
        the action had already run for that incident, nothing is reported.
        A failed inline attempt counts as attempt 1 of the retry rule.
        """
        action = applied.action
        if applied.incident_id != context.incident_id:
            self._release(action, applied.incident_id, context)
            if not self._claim(action, context):
                return
        if applied.error is None:
            self._send(context, action, "applied", str(applied.detail), 1, at=applied.at)
        else:
            self._failed(action, context, 1, applied.error)

    def _attempt(self, action: Action, context: ActionContext, attempt: int, *,
                 observe_only: bool) -> None:
        if observe_only:
            self._send(context, action, "observed", f"would {action.describe()}", attempt)
            return
        try:
            detail = action(context)
        except Exception as exc:
            self._failed(action, context, attempt, _error_text(exc))
            return
        self._send(context, action, "applied", str(detail), attempt)

    def _failed(self, action: Action, context: ActionContext, attempt: int, error: str) -> None:
        if attempt > len(self.retry_delays):
            self._send(context, action, "gave_up", error, attempt)
            return
        self._send(context, action, "failed", error, attempt)
        at = self._clock() + self.retry_delays[attempt - 1]
        self.worker.later(at, lambda: self._attempt(action, context, attempt + 1,
                                                    observe_only=False))

    def _send(self, context: ActionContext, action: Action, status: str, detail: str,
              attempt: int, *, at: float | None = None) -> None:
        result = ActionResult(incident_id=context.incident_id, action=action.name,
                              status=status, detail=detail, attempt=attempt,
                              at=self._clock() if at is None else at,
                              contains=bool(getattr(action, "contains", False)))
        try:
            self._report(result)
        except Exception:
            log_once("action-report", "aiguard: reporting an action result raised (logged once)",
                     event="policy.report_raised")

    def forget(self, incident_id: str) -> None:
        """Drop the idempotency keys of a closed incident."""
        with self._lock:
            self._done.pop(incident_id, None)

    def snapshot(self) -> dict[str, Any]:
        """Counters for tests and metrics."""
        with self._lock:
            keys = sum(len(done) for done in self._done.values())
        return {"applied_keys": keys, "worker_errors": self.worker.errors}

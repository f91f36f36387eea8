"""Containment threads: apply a signal's containment at once, off the caller's thread.

:meth:`aiguard.Incidents.handle` puts a :class:`Containment` job on the
queue of :class:`Handoff` and waits for it on a :class:`threading.Event`
for at most ``handoff`` seconds (1 ms by default). Waiting on an event
releases the GIL, so a containment thread woken by the job runs at once
(on the other core, or on the caller's core that the wait frees) instead
of waiting up to the interpreter's switch interval (5 ms) for a caller that
keeps running Python code. The caller pays at most the bound, and only for
a signal that needs containment (a breach whose actions were not yet
applied to its incident), never per call.

Why threads of their own and not the incidents' worker: the worker writes
records (each an ``fsync`` of milliseconds), runs pages and webhooks, and
its queue is FIFO; containment must not wait behind any of it. Why several:
an action that hangs holds its thread for as long as it hangs; containment
goes on on another. After each signal the worker calls :meth:`Handoff.spare`,
which starts a thread when none is idle (up to :data:`MAX_THREADS`; starting
one is never on the caller's path), so an idle thread is normally waiting;
when every thread is held, jobs queue (their callers still wait at most the
bound).
"""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING

from aiguard._core._events import log_once
from aiguard.classify._runner import foreground

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from aiguard.classify._actions import ActionContext
    from aiguard.classify._runner import ActionRunner, Applied
    from aiguard.typing import Action

__all__ = ["MAX_THREADS", "Containment", "Handoff"]

MAX_THREADS = 4


class Containment:
    """One signal's claimed containment actions, applied by a containment thread.

    ``done`` is set once every action ran (applied or raised); ``applied``
    then holds an :class:`~aiguard.classify._runner.Applied` per action, for
    the incidents' worker to record (:meth:`ActionRunner.settle`).

    Example:
        >>> import time
        >>> from aiguard.classify._actions import ActionContext, notify
        >>> from aiguard.classify._runner import ActionRunner, Worker
        >>> from aiguard.classify._severity import Severity
        >>> worker = Worker("demo", clock=time.monotonic)
        >>> runner = ActionRunner(worker, print, clock=time.monotonic)
        >>> ctx = ActionContext(incident_id="INC-1", severity=Severity.HIGH, reason="demo")
        >>> job = Containment(runner, [notify(lambda message: None)], ctx)
        >>> job(); job.done.is_set(), [a.detail for a in job.applied]
        (True, ['notified <lambda>'])
        >>> worker.close()
    """

    def __init__(self, runner: ActionRunner, actions: Sequence[Action],
                 context: ActionContext) -> None:
        self.context = context
        self.done = threading.Event()
        self.applied: tuple[Applied, ...] = ()
        self._runner = runner
        self._actions = tuple(actions)
        self._lock = threading.Lock()
        self._then: Callable[[], object] | None = None

    def __call__(self) -> None:
        """Apply every action (on a containment thread), then run the :meth:`then` callback."""
        applied = tuple(self._runner.apply_claimed(a, self.context) for a in self._actions)
        with self._lock:
            self.applied = applied
            self.done.set()
            then, self._then = self._then, None
        if then is not None:
            then()

    def then(self, callback: Callable[[], object]) -> bool:
        """Call *callback* once done; False (and no call) when it is done already."""
        with self._lock:
            if self.done.is_set():
                return False
            self._then = callback
            return True


class Handoff:
    """Up to :data:`MAX_THREADS` daemon threads running containment jobs as soon as queued.

    Example:
        >>> handoff = Handoff("demo")
        >>> seen = threading.Event()
        >>> handoff.submit(seen.set)
        >>> seen.wait(5.0)
        True
        >>> handoff.close()
    """

    def __init__(self, name: str, *, threads: int = MAX_THREADS) -> None:
        self.name = name
        self._max = threads
        self._jobs: queue.SimpleQueue[Callable[[], object] | None] = queue.SimpleQueue()
        self._lock = threading.Condition(threading.Lock())
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._unfinished = 0
        self._closed = False
        self.errors = 0
        """Jobs that raised (logged once)."""
        self.spare()

    @property
    def threads(self) -> int:
        """How many containment threads were started."""
        return len(self._threads)

    def submit(self, job: Callable[[], object]) -> None:
        """Queue *job* for the next idle thread; never waits or raises (dropped once closed)."""
        with self._lock:
            self._unfinished += 1
        self._jobs.put(job)

    def drain(self, timeout: float) -> bool:
        """Wait until every submitted job has finished; False on timeout (a job still runs)."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._unfinished, timeout)

    def on_thread(self) -> bool:
        """Whether the calling thread is one of these threads."""
        return threading.current_thread() in self._threads

    def spare(self) -> None:
        """Start a thread if none is idle and fewer than the maximum run."""
        with self._lock:
            if self._idle or self._closed:
                return
            if len(self._threads) >= self._max:
                log_once(f"handoff-full:{self.name}", "aiguard: every containment thread of %s "
                         "is held by an action that has not returned; containment waits "
                         "(logged once)", self.name, exc_info=False,
                         event="handoff.threads_held", name=self.name)
                return
            thread = threading.Thread(target=self._run, daemon=True,
                                      name=f"aiguard-{self.name}-contain-{len(self._threads)}")
            self._threads.append(thread)
            self._idle += 1
        thread.start()

    def _run(self) -> None:
        foreground()  # started by the worker (SCHED_BATCH), it would wake late otherwise
        while (job := self._jobs.get()) is not None:
            with self._lock:
                self._idle -= 1
            try:
                job()
            except Exception:  # principle 1: a job that raises never stops the thread
                self.errors += 1
                log_once(f"handoff-job:{self.name}", "aiguard: a containment job of %s raised "
                         "(counted, logged once)", self.name, event="handoff.job_raised",
                         name=self.name)
            with self._lock:
                self._idle += 1
                self._unfinished -= 1
                self._lock.notify_all()

    def close(self, timeout: float = 1.0) -> None:
        """Stop the threads once the queued jobs ran (a thread held by a job is left, daemon)."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._jobs.put(None)
        for thread in threads:
            thread.join(timeout)

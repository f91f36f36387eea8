"""ShadowRouter: callers get the primary's answer; a sample also goes to the shadow, later.

**The caller's path** (sample 1.0, a sync primary) is: read the length of a
``collections.deque``; if it holds ``max_queue`` requests, call the primary,
count a drop and return (no timing: the answer would go nowhere); otherwise
time the primary, append ``(args, kwargs, answer, seconds)`` to the deque and
count the request. ``deque.append`` is one C call that takes no lock and wakes
nobody: unlike ``queue.Queue``/``SimpleQueue``, whose ``put`` signals a waiting
worker (a system call, then a thread contending for the interpreter right
after the caller's call), the caller never pays for waking the shadow. With
``sample`` below 1 the draw comes first, so a request not sampled costs one
random number and is not timed.

**The workers** take requests from the left of the deque. A worker that
finds it empty naps on its own lock with a timeout that doubles from 1 ms to
50 ms (so a shadowed request waits at most 50 ms for it; a caller wakes a
napping worker only when the deque is already half full, a burst); after
10 empty naps in a row (about a quarter of a second without a request) it
*parks*: it blocks on its lock with no timeout, so an idle router wakes
nobody, ever. A parked worker is woken by the first caller that appends
(the router's *alarm* drops to 0 while a worker is parked): that caller
takes the idle lock and releases the worker's lock, a few microseconds, once
per quiet spell; under steady traffic workers nap and callers never pay it.
A worker announces itself idle (under the idle lock) *before* it looks at
the deque one last time, and a caller appends *before* it reads the alarm,
so a request appended while a worker parks is either seen by that worker or
wakes it: no request waits for a worker that sleeps forever.
:meth:`ShadowRouter.flush` wakes one and :meth:`ShadowRouter.close` wakes
them all. Between two requests a worker gives the interpreter back
(``time.sleep(0)``), so a saturated shadow takes the interpreter lock in short
slices, never for a run of requests, and on Linux its thread runs at a lower
priority (``priority="low"``: nice + 10), so the kernel prefers the callers'
threads for the CPU; ``priority="idle"`` (``SCHED_IDLE``) gives it only CPU
the callers' threads leave.
A shadow doing CPU work in pure Python still holds the interpreter lock while
it runs and so shares the CPU with the primary; numpy work and I/O release
it. ``benchmarks/routers.py`` measures the primary's p50 and p99 beside a
saturated shadow.

A worker calls the shadow (awaiting it on its own event loop when it is a
coroutine function, with ``timeout`` enforced there) and adds the pair to the
comparison windows (:mod:`aiguard.recover._shadow_run`). With
``isolation="process"`` the one worker sends each request to a child process
that does this instead (:mod:`aiguard.recover._shadow_process`).

The queue bound is checked, then the request appended: with several callers
at once it may exceed ``max_queue`` by at most one request per concurrent
caller. The counters (accepted, dropped, finished, errors, timeouts) are
:func:`itertools.count` objects: ``next()`` is one C call, as cheap as
``+= 1`` on an attribute and never loses an increment between callers'
threads, so ``offered == accepted + dropped`` holds exactly; they are read
without being consumed (:func:`aiguard._core._counter.peek`).
"""

from __future__ import annotations

import inspect
import itertools
import operator
import os
import random
import sys
import threading
import time
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any, Final, Literal

from typing_extensions import Self

from aiguard._core import _validate
from aiguard._core._clock import MONOTONIC, validate_clock
from aiguard._core._counter import peek
from aiguard.errors import ConfigurationError
from aiguard.recover._shadow_board import FULL, POSTED, Board
from aiguard.recover._shadow_child import child_config
from aiguard.recover._shadow_process import RemoteShadow
from aiguard.recover._shadow_run import InThreads, LocalShadow
from aiguard.recover._shadow_stats import ShadowReport

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiguard.recover._shadow_run import Backend
    from aiguard.typing import Clock

__all__ = ["ShadowRouter"]

_STOP: Final = object()
_NAP_MIN: Final = 0.001  # seconds an idle worker first naps; doubled up to _NAP_MAX
_NAP_MAX: Final = 0.05
_NAPS: Final = 10  # empty naps in a row (about 0.26 s) before an idle worker parks
_NEVER: Final = sys.maxsize  # the alarm while no worker is idle: no caller wakes anyone


class ShadowRouter:
    """Serve the primary; validate a shadow model on a sample of live requests, off the path.

    Args:
        primary: the model callers get answers from (sync or ``async def``).
        shadow: the model under validation (sync or ``async def``); its
            answers, errors and delays are never seen by callers.
        sample: the share of requests also sent to the shadow, in (0, 1].
        max_queue: requests waiting for the shadow before new ones are dropped.
        workers: background threads calling the shadow (1 with
            ``isolation="process"``: its one thread sends to one child).
        timeout: seconds after which a shadow answer is discarded and counted
            as a timeout (an ``async`` shadow is cancelled then; a sync one
            cannot be interrupted, so a hung one occupies its worker and the
            queue fills and drops), or None.
        compare: ``compare(primary_answer, shadow_answer)`` returning a bool
            or a per-row array of bools, instead of the default comparison
            (classes compared for equality, scores by difference).
        window: how many recent values each statistic keeps.
        clock: seconds, for the latencies.
        name: for reports and logs.
        seed: seeds the sampling (for reproducible tests).
        priority: the workers' CPU priority on Linux. ``"low"`` (default):
            nice + 10, the kernel prefers the serving threads, and the shadow
            still gets a share of a busy machine. ``"idle"``: ``SCHED_IDLE``
            (nice 19 where refused), the shadow runs only on CPU nothing else
            wants: the primary's tail stays that of no shadow at all (see
            docs/benchmarks.md), but on a busy machine the shadow falls behind,
            drops (counted) and :meth:`flush` may wait until its timeout.
        isolation: where the shadow runs. ``"thread"`` (default): on the
            workers, threads of this process, sharing the interpreter lock
            with the callers. ``"process"``: in a child process (started
            with ``spawn``) with its own interpreter, for a shadow doing
            heavy pure-Python work (on numpy and I/O shadows it measured no
            better than a thread: docs/benchmarks.md); one worker thread
            hands it the requests. ``shadow``, ``compare`` and ``clock`` must then be
            picklable (module-level functions, model objects), the child
            takes about a second to start and holds its own copy of the
            shadow model (pickled once, at construction). A child that dies
            is logged once; its requests and all later ones are dropped
            (counted), the primary serves on.

    Raises:
        ConfigurationError: an invalid parameter.

    Example:
        >>> import numpy as np
        >>> router = ShadowRouter(lambda x: x > 0.5, lambda x: x > 0.4, name="fraud")
        >>> router(np.array([0.3, 0.45, 0.9])).tolist()   # the primary's answer
        [False, False, True]
        >>> router.flush()
        True
        >>> router.report().agreement                     # the shadow disagreed on one row
        0.6666666666666666
        >>> router.close()
    """

    def __init__(
        self,
        primary: Callable[..., Any],
        shadow: Callable[..., Any],
        *,
        sample: float = 1.0,
        max_queue: int = 1000,
        workers: int = 1,
        timeout: float | None = None,
        compare: Callable[[Any, Any], Any] | None = None,
        window: int = 10_000,
        clock: Clock = MONOTONIC,
        name: str = "shadow",
        seed: int | None = None,
        priority: Literal["low", "idle"] = "low",
        isolation: Literal["thread", "process"] = "thread",
    ) -> None:
        if priority not in ("low", "idle"):
            raise ConfigurationError("priority", "'low' or 'idle'", priority)
        if isolation not in ("thread", "process"):
            raise ConfigurationError("isolation", "'thread' or 'process'", isolation)
        self.isolation = isolation
        self.priority = priority
        for argument, model in (("primary", primary), ("shadow", shadow)):
            if not callable(model):
                raise ConfigurationError(argument, "a callable model", model)
        if compare is not None and not callable(compare):
            raise ConfigurationError("compare", "a callable (primary, shadow) -> bool(s)", compare)
        self.primary, self.shadow, self.name = primary, shadow, str(name)
        self.sample = _validate.fraction(sample, "sample")
        self.max_queue = _validate.count(max_queue, "max_queue")
        self.timeout = None if timeout is None else _validate.duration(timeout, "timeout")
        self._clock = validate_clock(clock)
        window = _validate.count(window, "window")
        self._random = random.Random(seed).random  # noqa: S311 - sampling, not security
        self.workers = _validate.count(workers, "workers")
        self.closed = False
        if isolation == "process" and self.workers != 1:
            raise ConfigurationError("workers", "1 with isolation='process'", workers)
        # where the shadow runs: here on the workers, or the pickled setup of a child process
        # (one attribute, not two: the caller's path reads this object's attributes, and up
        # to 30 of them CPython keeps in a layout its attribute caches read fastest)
        self._place: LocalShadow | bytes = (
            LocalShadow(shadow, timeout=self.timeout, clock=self._clock, compare=compare,
                        window=window, name=self.name) if isolation == "thread"
            else child_config(shadow, compare=compare, clock=self._clock, timeout=self.timeout,
                              window=window, name=self.name, idle=priority == "idle"))
        self._wake_at = self.max_queue // 2  # a caller wakes a napping worker from half full
        self._offer = self._sync if isolation == "thread" else self._sync_pulled
        self._call = (self.acall if inspect.iscoroutinefunction(primary)
                      else self._offer if self.sample == 1.0 else self._sync_sampled)
        self._start()
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: ShadowRouter._after_fork(ref))

    def _start(self) -> None:
        self._pending: deque[Any] = deque()
        self._append = self._pending.append
        # offered = accepted + dropped; finished counts requests the workers are done with
        self._accepted, self._dropped, self._finished = (itertools.count() for _ in range(3))
        self._wakeups = itertools.count()  # returns from a nap or a park (a test hook)
        self._limit = 0 if self.closed else self.max_queue  # 0 once closed: all dropped
        self._idle_lock = threading.Lock()  # guards the two lists and the alarm
        self._napping: list[threading.Lock] = []  # the gates of napping workers
        self._parked: list[threading.Lock] = []  # the gates of parked workers
        self._alarm = _NEVER  # a caller that saw at least this many waiting wakes a worker
        self._board: Board | None = None  # isolation="process": once the child pulls from it
        self._backend: Backend = (
            InThreads(self._place, self._finished, idle=self.priority == "idle")
            if isinstance(self._place, LocalShadow)
            else RemoteShadow(self._place, name=self.name, finished=self._finished,
                              refuse=self._refuse, slots=self.max_queue,
                              on_board=self._set_board))
        self._threads = [
            threading.Thread(target=self._work, name=f"aiguard-shadow-{self.name}-{i}",
                             daemon=True)
            for i in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _after_fork(ref: weakref.ref[ShadowRouter]) -> None:  # pragma: no cover - in children
        """A forked child (gunicorn --preload) gets an empty queue and its own workers."""
        router = ref()
        if router is not None and not router.closed:
            if isinstance(router._place, LocalShadow):  # a parent worker may have held its lock
                router._place.stats._lock = threading.Lock()
            router._backend.forget()  # the parent's child process is not this process's
            router._start()  # fresh queue, counters, idle lock, workers (and child process)

    def __repr__(self) -> str:
        """Show the name, sample, queue bound and counters."""
        return (f"ShadowRouter({self.name!r}, sample={self.sample}, max_queue={self.max_queue}, "
                f"offered={self.offered}, dropped={self.dropped})")

    # -- the caller's path ----------------------------------------------------

    if TYPE_CHECKING:

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            """Return the primary's answer (a coroutine to await when the primary is async)."""

    else:  # the bound method picked at construction, reached without a frame of ours
        __call__ = property(
            operator.attrgetter("_call"),
            doc="Return the primary's answer (a coroutine to await when the primary is async).")

    @property
    def offered(self) -> int:
        """Requests sampled for the shadow so far (queued, or dropped on a full queue)."""
        return peek(self._accepted) + peek(self._dropped)

    @property
    def dropped(self) -> int:
        """Sampled requests not shadowed: the queue was full, the router closed, the child died."""
        return peek(self._dropped) + self._backend.lost

    @property
    def finished(self) -> int:
        """Queued requests the workers are done with (compared, failed, timed out or lost)."""
        return peek(self._finished) + self._backend.pulled

    @property
    def errors(self) -> int:
        """Shadow calls that raised."""
        return self._backend.errors

    @property
    def timeouts(self) -> int:
        """Shadow calls slower than ``timeout``."""
        return self._backend.timeouts

    def _sync(self, *args: Any, **kwargs: Any) -> Any:
        waiting = len(self._pending)
        if waiting >= self._limit:  # full: no timing either, the answer goes nowhere
            answer = self.primary(*args, **kwargs)
            next(self._dropped)
            return answer
        clock = self._clock
        start = clock()
        answer = self.primary(*args, **kwargs)
        self._append((args, kwargs, answer, clock() - start))
        next(self._accepted)
        if waiting >= self._alarm:  # read after the append: a parked worker, or a burst
            self._wake()
        return answer

    def _sync_pulled(self, *args: Any, **kwargs: Any) -> Any:
        """``isolation="process"``: a request of arrays goes on the board, the rest queue."""
        board = self._board
        if board is None or kwargs:  # the child not pulling (yet), or keywords: the queue
            return self._sync(*args, **kwargs)
        if board.full():  # the child is max_queue requests behind
            answer = self.primary(*args)
            next(self._dropped)
            return answer
        clock = self._clock
        start = clock()
        answer = self.primary(*args)
        self._post(board, args, answer, clock() - start)
        return answer

    def _post(self, board: Board, args: tuple[Any, ...], answer: Any, seconds: float) -> None:
        """Post a request on the board, or queue it for the sender when it is not arrays."""
        status = board.post(args, answer, seconds)
        if status == POSTED:
            next(self._accepted)
        elif status == FULL or (waiting := len(self._pending)) >= self._limit:  # or closed
            next(self._dropped)  # not arrays and the sender's queue full
        else:
            self._append((args, {}, answer, seconds))
            next(self._accepted)
            if waiting >= self._alarm:
                self._wake()

    def _sync_sampled(self, *args: Any, **kwargs: Any) -> Any:
        if self._random() >= self.sample:  # not sampled: not timed either
            return self.primary(*args, **kwargs)
        return self._offer(*args, **kwargs)

    async def acall(self, *args: Any, **kwargs: Any) -> Any:
        """Await the primary and return its answer; the shadow runs on a worker, never awaited."""
        if self.sample < 1.0 and self._random() >= self.sample:
            return await self.primary(*args, **kwargs)
        board = self._board
        if board is not None and not kwargs:  # isolation="process": as _sync_pulled
            if board.full():
                answer = await self.primary(*args)
                next(self._dropped)
                return answer
            start = self._clock()
            answer = await self.primary(*args)
            self._post(board, args, answer, self._clock() - start)
            return answer
        waiting = len(self._pending)
        if waiting >= self._limit:
            answer = await self.primary(*args, **kwargs)
            next(self._dropped)
            return answer
        clock = self._clock
        start = clock()
        answer = await self.primary(*args, **kwargs)
        self._append((args, kwargs, answer, clock() - start))
        next(self._accepted)
        if waiting >= self._alarm:
            self._wake()
        return answer

    def _wake(self, *, every: bool = False) -> None:
        """Wake one idle worker, a parked one first (*every*: all of them)."""
        with self._idle_lock:
            idle = self._parked or self._napping
            while idle:
                idle.pop().release()  # under the lock: a worker that finds its gate gone
                if not every:  # may take it at once (see _idle)
                    break
                idle = self._parked or self._napping
            self._set_alarm()

    def _refuse(self) -> None:
        """Drop every request from now on (the shadow's process is gone)."""
        self._limit = 0
        self._board = None

    def _set_board(self, board: Board) -> None:
        """The child pulls from *board* now: callers post requests of arrays there."""
        if self._limit:
            self._board = board

    def _set_alarm(self) -> None:
        """Under the idle lock: 0 while a worker is parked, half full while one naps, else never."""
        self._alarm = 0 if self._parked else self._wake_at if self._napping else _NEVER

    # -- the workers ----------------------------------------------------------

    def _work(self) -> None:
        pending, popleft = self._pending, self._pending.popleft
        backend = self._backend
        gate = threading.Lock()
        gate.acquire()  # held: this worker blocks on it while idle, a waker releases it
        naps = _NAPS  # a new worker parks until the first request
        try:
            backend.begin()
            while True:
                try:
                    item = popleft()
                except IndexError:
                    backend.settle()
                    naps = self._idle(gate, naps)
                    continue
                if item is _STOP:
                    return
                if pending and (self._parked or self._napping):  # more than this one can take
                    self._wake()
                backend.serve(item)
                naps = 0
                time.sleep(0)  # give the interpreter back to the callers between requests
        finally:
            backend.end()

    def _idle(self, gate: threading.Lock, naps: int) -> int:
        """Wait on *gate* for a request: nap after fewer than _NAPS empty naps, else park.

        Returns the number of empty naps in a row now (0 once woken or a request is seen).
        """
        park = naps >= _NAPS
        idle = self._parked if park else self._napping
        with self._idle_lock:
            idle.append(gate)
            self._set_alarm()
        # announced first, then checked: a caller appending from now on reads the new alarm
        waited = not self._pending
        if not waited:
            woken = False
        elif park:
            woken = gate.acquire()  # no timeout: until a caller, flush() or close() wakes it
        else:
            woken = gate.acquire(timeout=min(_NAP_MIN * 2**naps, _NAP_MAX))
        if not woken and not self._withdraw(gate, idle):
            woken = gate.acquire()  # a waker took the gate meanwhile and released it: consume
        next(self._wakeups)
        return 0 if woken or not waited else naps + 1

    def _withdraw(self, gate: threading.Lock, idle: list[threading.Lock]) -> bool:
        """Take *gate* off the idle list; False when a waker has taken it already."""
        with self._idle_lock:
            if gate not in idle:
                return False
            idle.remove(gate)
            self._set_alarm()
            return True

    # -- control and report ---------------------------------------------------

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued request was shadowed; return False on *timeout* (seconds).

        For tests and reports; callers never need it.
        """
        deadline = time.monotonic() + _validate.duration(timeout, "timeout", zero=True)
        if self._pending:  # a napping worker takes them now (a parked one was woken already)
            self._wake()
        while self.finished < peek(self._accepted):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.001)
        return True

    def report(self) -> ShadowReport:
        """Return the counters and comparison statistics now (drift is computed here)."""
        snap = self._backend.snapshot()
        accepted, dropped, finished = peek(self._accepted), peek(self._dropped), self.finished
        return ShadowReport(
            name=self.name, offered=accepted + dropped, shadowed=snap["shadowed"],
            dropped=dropped + snap["lost"], pending=max(0, accepted - finished),
            errors=snap["errors"], timeouts=snap["timeouts"], garbage=snap["garbage"],
            agreement=snap["agreement"], compared_rows=snap["compared_rows"],
            score_diff=snap["score_diff"], drift=snap["drift"], latency=snap["latency"])

    def close(self, timeout: float = 1.0) -> None:
        """Stop the workers after the queued requests (waits up to *timeout* seconds each).

        Requests offered after closing are dropped (counted). With
        ``isolation="process"`` the child then stops (waited for up to
        *timeout* seconds, terminated after that); :meth:`report` keeps its
        final statistics.
        """
        if self.closed:
            return
        self.closed = True
        self._limit = 0
        self._board = None
        for _ in self._threads:
            self._append(_STOP)
        self._wake(every=True)
        for thread in self._threads:
            thread.join(timeout)
        self._backend.close(timeout)

    def __enter__(self) -> Self:
        """Return the router."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the router."""
        self.close()


"""ShadowRouter: callers get the primary's answer; a sample also goes to the shadow, later.

The caller's path is: if the ``queue.SimpleQueue`` already holds ``max_queue``
items, call the primary and count the request as dropped (no timing: the
answer would go nowhere); otherwise call the primary, time it, and put
``(args, kwargs, answer, seconds)`` on the queue (a C-level put). Nothing on
that path waits for the shadow or takes a lock: a full queue, a slow, failing
or hanging shadow never blocks the primary. (A shadow doing CPU work in pure
Python holds the interpreter lock while it runs and so shares the CPU with the
primary; numpy work and I/O release it. ``benchmarks/routers.py`` measures.)
Background worker threads take requests from the queue, call the shadow
(awaiting it on their own event loop when it is a coroutine function, with
``timeout`` enforced there), and add the pair to the comparison windows.

The queue bound is checked, then the item put: with several callers at once
it may exceed ``max_queue`` by at most one item per concurrent caller.
Counters are plain integers updated under the interpreter lock.
"""

from __future__ import annotations

import asyncio
import inspect
import operator
import os
import queue
import random
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Final

from typing_extensions import Self

from aiguard._core import _validate
from aiguard._core._clock import MONOTONIC, validate_clock
from aiguard._core._events import log_once
from aiguard.errors import ConfigurationError
from aiguard.recover._shadow_stats import Comparison, ShadowReport

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiguard.typing import Clock

__all__ = ["ShadowRouter"]

_STOP: Final = object()


class ShadowRouter:
    """Serve the primary; validate a shadow model on a sample of live requests, off the path.

    Args:
        primary: the model callers get answers from (sync or ``async def``).
        shadow: the model under validation (sync or ``async def``); its
            answers, errors and delays are never seen by callers.
        sample: the share of requests also sent to the shadow, in (0, 1].
        max_queue: requests waiting for the shadow before new ones are dropped.
        workers: background threads calling the shadow.
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
    ) -> None:
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
        self._stats = Comparison(_validate.count(window, "window"), compare)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._random = random.Random(seed).random  # noqa: S311 - sampling, not security
        self.offered = self.dropped = self.errors = self.timeouts = self.finished = 0
        self.closed = False
        self._limit = self.max_queue  # 0 once closed: everything is dropped
        self._qsize, self._put = self._queue.qsize, self._queue.put
        self._offer = self._enqueue if self.sample == 1.0 else self._sampled
        self._call = (self.acall if inspect.iscoroutinefunction(primary)
                      else self._sync if self.sample == 1.0 else self._sync_sampled)
        self.workers = _validate.count(workers, "workers")
        self._start()
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: ShadowRouter._after_fork(ref))

    def _start(self) -> None:
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
            router._stats._lock = threading.Lock()  # a parent worker may have held it
            router._queue = queue.SimpleQueue()
            router._qsize, router._put = router._queue.qsize, router._queue.put
            router.offered = router.dropped = router.finished = 0
            router._start()

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

    def _sync(self, *args: Any, **kwargs: Any) -> Any:
        if self._qsize() >= self._limit:  # full: no timing either, the answer goes nowhere
            answer = self.primary(*args, **kwargs)
            self.offered += 1
            self.dropped += 1
            return answer
        clock = self._clock
        start = clock()
        answer = self.primary(*args, **kwargs)
        elapsed = clock() - start
        self.offered += 1
        self._put((args, kwargs, answer, elapsed))
        return answer

    def _sync_sampled(self, *args: Any, **kwargs: Any) -> Any:
        clock = self._clock
        start = clock()
        answer = self.primary(*args, **kwargs)
        if self._random() < self.sample:
            self._enqueue((args, kwargs, answer, clock() - start))
        return answer

    async def acall(self, *args: Any, **kwargs: Any) -> Any:
        """Await the primary and return its answer; the shadow runs on a worker, never awaited."""
        clock = self._clock
        start = clock()
        answer = await self.primary(*args, **kwargs)
        self._offer((args, kwargs, answer, clock() - start))
        return answer

    def _enqueue(self, item: tuple[Any, ...]) -> None:
        self.offered += 1
        if self._qsize() < self._limit:
            self._put(item)
        else:
            self.dropped += 1

    def _sampled(self, item: tuple[Any, ...]) -> None:
        if self._random() < self.sample:
            self._enqueue(item)

    # -- the workers ----------------------------------------------------------

    def _work(self) -> None:
        _lower_priority()
        loop: asyncio.AbstractEventLoop | None = None
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                loop = self._one(item, loop)
                self.finished += 1
        finally:
            if loop is not None:
                loop.close()

    def _one(
        self, item: tuple[Any, ...], loop: asyncio.AbstractEventLoop | None
    ) -> asyncio.AbstractEventLoop | None:
        args, kwargs, answer, t_primary = item
        clock = self._clock
        start = clock()
        try:
            result = self.shadow(*args, **kwargs)
            if inspect.isawaitable(result):
                loop = loop or asyncio.new_event_loop()
                result = loop.run_until_complete(asyncio.wait_for(result, self.timeout))
        except (TimeoutError, asyncio.TimeoutError):
            self.timeouts += 1
            return loop
        except Exception:
            self.errors += 1
            log_once(f"shadow:{self.name}:{id(self)}", "aiguard: shadow model of %r raised "
                     "(logged once, counted in errors)", self.name,
                     event="shadow.raised", name=self.name)
            return loop
        elapsed = clock() - start
        if self.timeout is not None and elapsed > self.timeout:
            self.timeouts += 1
            return loop
        self._stats.add(answer, result, t_primary, elapsed)
        return loop

    # -- control and report ---------------------------------------------------

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued request was shadowed; return False on *timeout* (seconds).

        For tests and reports; callers never need it.
        """
        deadline = time.monotonic() + _validate.duration(timeout, "timeout", zero=True)
        while self.finished < self.offered - self.dropped:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.001)
        return True

    def report(self) -> ShadowReport:
        """Return the counters and comparison statistics now (drift is computed here)."""
        snap = self._stats.snapshot()
        return ShadowReport(
            name=self.name, offered=self.offered, shadowed=snap["shadowed"],
            dropped=self.dropped, pending=max(0, self.offered - self.dropped - self.finished),
            errors=self.errors, timeouts=self.timeouts, garbage=snap["garbage"],
            agreement=snap["agreement"], compared_rows=snap["compared_rows"],
            score_diff=snap["score_diff"], drift=snap["drift"], latency=snap["latency"])

    def close(self, timeout: float = 1.0) -> None:
        """Stop the workers after the queued requests (waits up to *timeout* seconds each).

        Requests offered after closing are dropped (counted).
        """
        if self.closed:
            return
        self.closed = True
        self._limit = 0
        for _ in self._threads:
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join(timeout)

    def __enter__(self) -> Self:
        """Return the router."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the router."""
        self.close()


def _lower_priority() -> None:
    """Make this thread yield the CPU to the serving threads (Linux: nice + 10 per thread).

    On Linux a thread is a task with its own nice value, so the kernel
    prefers the callers' threads when the shadow competes with them for a
    core. Elsewhere (or when refused) the worker keeps the process's priority.
    """
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + 10))
    except (AttributeError, OSError):  # pragma: no cover - not Linux, or not permitted
        return

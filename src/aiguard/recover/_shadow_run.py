"""One shadow call: run the shadow on a request, count its outcome, compare the pair.

Shared by both places a shadow runs: the router's worker threads
(``isolation="thread"``) and the child process of ``isolation="process"``
(:mod:`aiguard.recover._shadow_process`), so the two count and compare alike.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import os
import threading
import time
from typing import TYPE_CHECKING, Any, Protocol

from aiguard._core._counter import peek
from aiguard._core._events import log_once
from aiguard.recover._shadow_stats import Comparison

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiguard.typing import Clock

__all__ = ["Backend", "InThreads", "LocalShadow", "lower_priority"]


class Backend(Protocol):
    """Where a router's shadow runs; the router's worker threads drive it.

    A worker calls :meth:`begin` once, :meth:`serve` per request it takes off
    the queue, :meth:`settle` before it naps (nothing of this worker's may
    stay unfinished while it sleeps) and :meth:`end` as it stops;
    ``ShadowRouter.close`` calls :meth:`close` after joining the workers.
    """

    @property
    def errors(self) -> int:
        """Shadow calls that raised (or requests that could not reach the shadow)."""

    @property
    def timeouts(self) -> int:
        """Shadow calls slower than the timeout."""

    @property
    def lost(self) -> int:
        """Accepted requests never shadowed because the shadow's process died."""

    @property
    def pulled(self) -> int:
        """Requests finished that the router's ``finished`` counter does not count."""

    def begin(self) -> None:
        """On a worker, before its first request (a worker that runs the shadow lowers itself)."""

    def serve(self, item: tuple[Any, ...]) -> None:
        """On a worker: shadow one request (or send it to where it is shadowed)."""

    def settle(self) -> None:
        """On a worker about to nap: finish what it started."""

    def end(self) -> None:
        """On a worker that stops."""

    def close(self, timeout: float) -> None:
        """After the workers were joined (or *timeout* passed)."""

    def snapshot(self) -> dict[str, Any]:
        """The comparison statistics, with ``errors``, ``timeouts`` and ``lost``."""

    def forget(self) -> None:
        """In a process forked from this one: let go of what belongs to the parent."""


class LocalShadow:
    """The shadow, called in this process: outcome counters and the comparison windows.

    Each thread that calls :meth:`run` gets its own event loop for ``async``
    shadows (created on its first coroutine, closed by :meth:`release`).
    """

    def __init__(
        self,
        shadow: Callable[..., Any],
        *,
        timeout: float | None,
        clock: Clock,
        compare: Callable[[Any, Any], Any] | None,
        window: int,
        name: str,
    ) -> None:
        self.shadow, self.timeout, self.clock, self.name = shadow, timeout, clock, name
        self.stats = Comparison(window, compare)
        self._errors, self._timeouts = itertools.count(), itertools.count()
        self._loops = threading.local()

    @property
    def errors(self) -> int:
        """Shadow calls that raised."""
        return peek(self._errors)

    @property
    def timeouts(self) -> int:
        """Shadow calls slower than ``timeout``."""
        return peek(self._timeouts)

    def counts(self) -> tuple[int, int, int, int]:
        """``(errors, timeouts, shadowed, garbage)`` so far."""
        return self.errors, self.timeouts, self.stats.shadowed, self.stats.garbage

    def run(self, item: tuple[Any, ...]) -> None:
        """Call the shadow on ``(args, kwargs, primary_answer, primary_seconds)``; compare."""
        args, kwargs, answer, t_primary = item
        clock = self.clock
        start = clock()
        try:
            result = self.shadow(*args, **kwargs)
            if inspect.isawaitable(result):
                loop = getattr(self._loops, "loop", None)
                if loop is None:
                    loop = self._loops.loop = asyncio.new_event_loop()
                result = loop.run_until_complete(asyncio.wait_for(result, self.timeout))
        except (TimeoutError, asyncio.TimeoutError):
            next(self._timeouts)
            return
        except Exception:
            self.failed()
            return
        elapsed = clock() - start
        if self.timeout is not None and elapsed > self.timeout:
            next(self._timeouts)
            return
        time.sleep(0)  # the shadow's own work and the comparison: two short slices, not one
        self.stats.add(answer, result, t_primary, elapsed)

    def failed(self) -> None:
        """Count an error (the shadow raised, or its request could not reach it); log once."""
        next(self._errors)
        log_once(f"shadow:{self.name}", "aiguard: shadow model of %r raised "
                 "(logged once, counted in errors)", self.name,
                 event="shadow.raised", name=self.name, owner=self)

    def release(self) -> None:
        """Close the calling thread's event loop, if it made one."""
        loop = getattr(self._loops, "loop", None)
        if loop is not None:
            loop.close()
            self._loops.loop = None


def lower_priority(*, idle: bool) -> None:
    """Make this thread yield the CPU to the serving threads (Linux, per thread).

    On Linux a thread is a task with its own nice value and scheduling
    policy (threads it starts inherit them). With *idle*, ``SCHED_IDLE``: the
    kernel runs the shadow only on CPU no normal task wants (nice 19 where
    that policy is refused); else nice + 10, so the kernel prefers the
    callers' threads when the shadow competes with them for a core.
    Elsewhere (not Linux, or not permitted) the thread keeps its priority.
    """
    tid = threading.get_native_id()
    if idle:
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # 0: the calling thread
        except (AttributeError, OSError):  # pragma: no cover - not Linux, or refused
            pass
        else:
            return
    try:
        niceness = 19 if idle else min(19, os.getpriority(os.PRIO_PROCESS, tid) + 10)
        os.setpriority(os.PRIO_PROCESS, tid, niceness)
    except (AttributeError, OSError):  # pragma: no cover - not Linux, or not permitted
        return


class InThreads:
    """``isolation="thread"``: the router's workers call the shadow themselves."""

    lost = pulled = 0

    def __init__(self, local: LocalShadow, finished: itertools.count[int], *, idle: bool) -> None:
        self._local, self._finished, self._idle = local, finished, idle

    @property
    def errors(self) -> int:
        """Shadow calls that raised."""
        return self._local.errors

    @property
    def timeouts(self) -> int:
        """Shadow calls slower than ``timeout``."""
        return self._local.timeouts

    def begin(self) -> None:
        """Lower this worker's priority: it runs the shadow."""
        lower_priority(idle=self._idle)

    def serve(self, item: tuple[Any, ...]) -> None:
        """Shadow *item* on this thread; it is finished when this returns."""
        self._local.run(item)
        next(self._finished)

    def settle(self) -> None:
        """Nothing in flight: :meth:`serve` finishes each request."""

    def end(self) -> None:
        """Close this worker's event loop."""
        self._local.release()

    def close(self, timeout: float) -> None:
        """Nothing beyond the workers."""

    def forget(self) -> None:
        """Nothing the parent owns (its workers were not copied by the fork)."""

    def snapshot(self) -> dict[str, Any]:
        """The comparison windows' statistics and the outcome counters."""
        return {**self._local.stats.snapshot(), "errors": self.errors,
                "timeouts": self.timeouts, "lost": 0}

"""Shared machinery of the time-bounding primitives: a worker pool.

Python cannot stop a thread, so a sync call that must be bounded in time runs
on a worker thread while the caller waits on a future; at the deadline the
caller gives up and the thread is *abandoned*: it keeps running until the model
returns, and is counted. The pool here differs from
:class:`concurrent.futures.ThreadPoolExecutor` on two points that matter for
containment:

* its threads are daemon threads, so a model call that hangs forever cannot
  block the interpreter from exiting (the standard executor joins its workers
  at exit);
* it knows how many of its workers are *stuck* in abandoned calls, so a caller
  can fail fast instead of queueing behind them.
"""

from __future__ import annotations

import contextvars
import logging
import queue
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar

from aiguard._core._logging import fields

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["WorkerPool"]

_log = logging.getLogger(__name__)

R = TypeVar("R")


class WorkerPool:
    """A small pool of daemon threads, created lazily and grown up to ``max_workers``.

    Attributes:
        max_workers: the most threads the pool will ever start.
        abandoned: how many calls were abandoned while running (ever).
    """

    __slots__ = (
        "_idle",
        "_lock",
        "_logged",
        "_name",
        "_queue",
        "_start_failed",
        "_stuck",
        "_threads",
        "abandoned",
        "max_workers",
    )

    def __init__(self, max_workers: int, name: str) -> None:
        self.max_workers = max_workers
        self.abandoned = 0
        self._name = name
        self._stuck = 0
        self._threads = 0
        self._logged = False
        self._start_failed = False
        self._lock = threading.Lock()
        self._idle = threading.Semaphore(0)
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]]] = (
            queue.SimpleQueue()
        )

    @property
    def stuck(self) -> int:
        """Abandoned calls whose thread is still running."""
        return self._stuck

    @property
    def threads(self) -> int:
        """Threads started so far."""
        return self._threads

    def saturated(self) -> bool:
        """True when every possible worker is stuck in an abandoned call."""
        return self._stuck >= self.max_workers

    def submit(
        self, fn: Callable[..., R], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Future[R]:
        """Run ``fn(*args, **kwargs)`` on a worker, in a copy of the caller's context."""
        future: Future[R] = Future()
        context = contextvars.copy_context()
        self._queue.put((future, lambda: context.run(fn, *args, **kwargs)))
        if not self._idle.acquire(blocking=False):
            with self._lock:
                if self._threads < self.max_workers:
                    self._threads += 1
                    thread = threading.Thread(
                        target=self._work, name=f"{self._name}-{self._threads}", daemon=True
                    )
                    try:
                        thread.start()
                    except RuntimeError:  # the OS refused a thread: queue on the others
                        self._threads -= 1
                        if not self._start_failed:
                            self._start_failed = True
                            _log.warning(
                                "aiguard: could not start a %s worker thread; the call "
                                "waits for a busy worker (and times out if none frees)",
                                self._name,
                                exc_info=True,
                                extra=fields("workers.start_failed", self._name),
                            )
        return future

    def _work(self) -> None:
        get, idle = self._queue.get, self._idle
        while True:
            future, job = get()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(job())
                except BaseException as exc:  # handed to the waiting caller
                    future.set_exception(exc)
            del future, job  # do not keep the last call alive while idle
            idle.release()

    def abandon(self, future: Future[Any], what: str | None) -> bool:
        """Give up on *future*: cancel it if it has not started, else count it as abandoned.

        The first abandonment is logged, naming *what* gave up (None: never log,
        for hedging, where abandoning the slower requests is the plan).

        Returns:
            True if a running thread was abandoned, False if the call never started.
        """
        if future.cancel():
            return False
        with self._lock:
            self.abandoned += 1
            self._stuck += 1
            first = not self._logged and what is not None
            self._logged = self._logged or first
        future.add_done_callback(self._unstick)
        if first:
            _log.warning(
                "aiguard: %s abandoned a worker thread still running the model call "
                "(Python cannot stop a thread); it keeps running and is counted in "
                ".abandoned. Further abandonments are not logged.",
                what,
                extra=fields("workers.abandoned", what),
            )
        return True

    def _unstick(self, _future: Future[Any]) -> None:
        with self._lock:
            self._stuck -= 1

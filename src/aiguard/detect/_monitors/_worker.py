"""A monitor's background thread: heavy work (binning, comparing) off the caller's thread.

The caller's side only puts a task on a bounded queue (``put_nowait``); when
the queue is full the task is dropped and counted, never waited for
(principle 1: a slow monitor must not slow the protected call). The thread is
a daemon started on the first task, so a monitor that is never fed costs no
thread. A task that raises is counted and logged once.
"""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING, Any

from aiguard._core import _validate
from aiguard._core._events import log_once
from aiguard.detect._monitors._base import Monitor

if TYPE_CHECKING:
    from collections.abc import Callable

    from typing_extensions import Unpack

    from aiguard.detect._monitors._base import MonitorOptions

__all__ = ["BackgroundMonitor", "Worker"]

_STOP = object()


class Worker:
    """One daemon thread running tasks from a bounded queue, in order.

    Attributes:
        dropped: tasks refused because the queue was full.
        errors: tasks that raised.
    """

    __slots__ = ("_lock", "_name", "_queue", "_thread", "dropped", "errors")

    def __init__(self, name: str, capacity: int) -> None:
        self._name = name
        self._queue: queue.Queue[Any] = queue.Queue(capacity)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.dropped = 0
        self.errors = 0

    def submit(self, task: Callable[..., Any], *args: Any) -> bool:
        """Queue ``task(*args)``; False (and counted) when the queue is full."""
        if self._thread is None:
            self._start()
        try:
            self._queue.put_nowait((task, args))
        except queue.Full:
            self.dropped += 1
            log_once(f"monitor-queue:{self._name}",
                     "aiguard: monitor %r dropped work, its queue is full (logged once)",
                     self._name, exc_info=False)
            return False
        return True

    def drain(self) -> None:
        """Wait until every queued task has run (for tests and orderly shutdown)."""
        if self._thread is not None:
            self._queue.join()

    def close(self) -> None:
        """Run what is queued, then stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                thread = threading.Thread(
                    target=self._run, name=f"aiguard-monitor-{self._name}", daemon=True
                )
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        get, done = self._queue.get, self._queue.task_done
        while True:
            item = get()
            try:
                if item is _STOP:
                    return
                task, args = item
                task(*args)
            except Exception:
                self.errors += 1
                log_once(f"monitor-task:{self._name}",
                         "aiguard: monitor %r failed in its background thread (logged once)",
                         self._name)
            finally:
                done()


class BackgroundMonitor(Monitor):
    """A monitor that compares on a :class:`Worker` thread: ``dropped``, ``drain``, ``close``."""

    def __init__(self, *, queue: int, **options: Unpack[MonitorOptions]) -> None:
        super().__init__(**options)
        self._worker = Worker(self.name, _validate.count(queue, "queue"))

    @property
    def dropped(self) -> int:
        """Work dropped because the background queue was full."""
        return self._worker.dropped

    def drain(self) -> None:
        """Queue what the caller's side gathered, then wait until the thread has taken it all in."""
        self._collect()
        self._send_pending()
        self._worker.drain()

    def close(self) -> None:
        """Stop the background thread (after the queued work)."""
        self._worker.close()

    def _send_pending(self) -> None:
        """Queue the rows gathered on the caller's side (none unless a subclass gathers)."""

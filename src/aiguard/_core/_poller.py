"""One background poller: a daemon thread calling a function every interval, across forks.

Flag sets re-read their store, shared breakers post and read their board, and
a Redis subscription listens for change messages, all in the background and
never in the protected call. They share this one mechanism:

* a daemon thread calls ``tick()`` every ``interval`` seconds of the injected
  ``clock``; a tick may return a number of seconds to wait before the next one
  instead (a back-off), and :meth:`Poller.wake` asks for a tick at once;
* a tick that raises is counted in :attr:`Poller.errors` and logged once per
  run of failures (principle 1: the poller keeps going, nothing reaches the
  caller): WARNING at the first failure, INFO at the next good tick;
* threads do not survive ``fork``: one ``os.register_at_fork`` hook, in the
  child, first runs the :func:`renew_after_fork` callbacks (module-level
  locks), then gives every live poller fresh events and calls its owner's
  ``after_fork`` (fresh locks, a new replica id), and only when all of that
  is done starts the threads again, so a gunicorn ``--preload`` worker keeps
  polling and never takes a lock a parent thread held at the fork. A
  stopped poller stays stopped;
* ``weak=True`` holds a bound-method tick (and ``after_fork``) weakly, so the
  poller never keeps its owner alive: when the owner is collected the
  poller stops.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import weakref
from typing import TYPE_CHECKING, Final

from aiguard._core._clock import validate_clock
from aiguard._core._events import log_once
from aiguard._core._logging import Health
from aiguard._core._validate import duration
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiguard.typing import Clock

__all__ = ["Poller", "renew_after_fork"]

_log = logging.getLogger(__name__)
_LIVE: Final[weakref.WeakSet[Poller]] = weakref.WeakSet()
_RENEW: Final[list[Callable[[], object]]] = []

def _hold(fn: Callable[..., object], *, weak: bool) -> Callable[[], Callable[..., object] | None]:
    """Return a getter for *fn*: the function itself, or a weak reference to a bound method."""
    if not weak:
        return lambda: fn
    if getattr(fn, "__self__", None) is None:
        raise ConfigurationError("tick", "a bound method when weak=True", fn)
    return weakref.WeakMethod(fn)


class Poller:
    """A daemon thread calling *tick* every *interval* seconds; safe across ``fork``.

    Args:
        tick: what to call; it may return None (the next tick comes after
            *interval*) or a number of seconds to wait instead (e.g. a back-off).
        interval: seconds between ticks (a number or a timedelta).
        name: the thread's name.
        clock: monotonic seconds the schedule is read from (tests pass a
            :class:`~aiguard.testing.FakeClock` and call :meth:`run_pending`).
        first: seconds before the first tick (default: *interval*; 0 for at once).
        weak: hold *tick* and *after_fork* (bound methods) weakly: the
            poller stops when their owner is garbage-collected.
        after_fork: called in a forked child before the thread starts again.
        start: start the thread now (False: call :meth:`start` or drive
            :meth:`run_pending` yourself).

    Raises:
        ConfigurationError: an invalid argument.

    Example:
        >>> from aiguard.testing import FakeClock
        >>> clock, seen = FakeClock(), []
        >>> poller = Poller(lambda: seen.append(clock()), interval=5, name="demo",
        ...                 clock=clock, start=False)
        >>> poller.run_pending(), clock.advance(5), poller.run_pending()
        (False, 5.0, True)
        >>> seen, poller.ticks
        ([5.0], 1)
        >>> poller.stop()
    """

    __slots__ = (
        "__weakref__",
        "_after_fork",
        "_clock",
        "_due",
        "_health",
        "_lock",
        "_started",
        "_stop",
        "_thread",
        "_tick",
        "_wake",
        "errors",
        "interval",
        "last_error",
        "name",
        "ticks",
    )

    def __init__(
        self,
        tick: Callable[[], float | None],
        *,
        interval: object,
        name: str,
        clock: Clock = time.monotonic,
        first: object = None,
        weak: bool = False,
        after_fork: Callable[[], object] | None = None,
        start: bool = True,
    ) -> None:
        if not callable(tick):
            raise ConfigurationError("tick", "a callable", tick)
        if after_fork is not None and not callable(after_fork):
            raise ConfigurationError("after_fork", "a callable or None", after_fork)
        self.interval = duration(interval, "interval")
        first_wait = self.interval if first is None else duration(first, "first", zero=True)
        self.name = name
        self._clock = validate_clock(clock)
        self._tick = _hold(tick, weak=weak)
        self._after_fork = None if after_fork is None else _hold(after_fork, weak=weak)
        self._due = self._clock() + first_wait
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = False
        self.ticks = 0
        """Ticks run so far."""
        self.errors = 0
        """Ticks that raised (each counted; the first one logged)."""
        self.last_error: str | None = None
        """The last tick failure, as text."""
        self._health = Health(_log, "poller", name)
        if weak:
            weakref.finalize(tick.__self__, self.stop)  # type: ignore[attr-defined]
        _LIVE.add(self)
        if start:
            self.start()

    def __repr__(self) -> str:
        """Show the name, interval and whether the thread runs."""
        state = "stopped" if self.stopped else "running" if self.running else "idle"
        return f"<Poller {self.name!r} every {self.interval:g} s, {state}>"

    @property
    def stopped(self) -> bool:
        """True once :meth:`stop` was called (a long tick checks this to return early)."""
        return self._stop.is_set()

    @property
    def running(self) -> bool:
        """True while the background thread is alive."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self) -> None:
        """Start the background thread (no-op when it runs; refused once stopped).

        Raises:
            ConfigurationError: the poller was stopped.
        """
        with self._lock:
            if self._stop.is_set():
                raise ConfigurationError("poller", "a poller that was not stopped", self.name)
            self._started = True
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, args=(self._stop, self._wake), name=self.name, daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        """Stop for good: the thread exits at once, or when a running tick returns."""
        self._stop.set()
        self._wake.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the thread has exited; return whether it has."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        return not self.running

    def wake(self) -> None:
        """Ask for a tick as soon as the thread is free (e.g. a change was announced)."""
        self._wake.set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to *seconds* inside a tick; return True if the poller was stopped meanwhile."""
        return self._stop.wait(seconds)

    def run_pending(self) -> bool:
        """Run the tick if it is due by the clock; return whether it ran."""
        if self._clock() < self._due:
            return False
        self.run_now()
        return True

    def run_now(self) -> None:
        """Run the tick now (failures counted and logged once) and schedule the next one."""
        fn = self._tick()
        if fn is None:  # the owner is gone: stop, and never come back due
            self.stop()
            self._due = math.inf
            return
        wait: object = None
        try:
            wait = fn()
        except Exception as exc:
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            self._health.down("aiguard: background %s failed (%s); it keeps running "
                              "(logged once until a tick succeeds, counted in errors)",
                              self.name, self.last_error, error=exc)
        else:
            self._health.up("aiguard: background %s runs again", self.name)
        finally:
            self.ticks += 1
            self._due = self._clock() + _next_wait(wait, self.interval)

    def _run(self, stop: threading.Event, wake: threading.Event) -> None:
        # stop is the event this thread started with; self._stop is checked too, since
        # forked() gives the poller fresh events and a stop() after it sets only those
        while not stop.is_set() and not self._stop.is_set():
            left = self._due - self._clock()
            if left > 0 and wake.wait(min(left, 3600.0)):
                wake.clear()
                if stop.is_set():
                    return
                self.run_now()
            else:  # the wait timed out: due by the clock, or a fake clock that has not moved
                self.run_pending()

    def forked(self) -> bool:
        """In a forked child: fresh events and lock, the owner's hook; return whether to restart."""
        self._lock = threading.Lock()
        stopped = self._stop.is_set()
        self._stop, self._wake, self._thread = threading.Event(), threading.Event(), None
        if stopped:
            self._stop.set()
            return False
        hook = None if self._after_fork is None else self._after_fork()
        if hook is not None:
            try:
                hook()
            except Exception as exc:
                self.errors += 1
                log_once(f"poller-fork:{self.name}",
                         "aiguard: %s could not renew its state after fork: %r", self.name, exc,
                         event="poller.fork_failed", name=self.name, owner=self)
        return self._started


def _next_wait(wait: object, interval: float) -> float:
    if isinstance(wait, (int, float)) and not isinstance(wait, bool) and 0 <= wait < math.inf:
        return float(wait)
    return interval


def renew_after_fork(fn: Callable[[], object]) -> Callable[[], object]:
    """Register *fn* to run in a forked child before any poller restarts (e.g. a module lock).

    Every process-wide piece of state a poller's tick may touch is renewed
    first, then every poller's owner, and only then do the threads start:
    no restarted thread can take a lock a parent thread held at the fork.
    """
    _RENEW.append(fn)
    return fn


def _after_fork_in_child() -> None:  # pragma: no cover - runs in forked children
    for fn in _RENEW:
        fn()
    pollers = list(_LIVE)
    restart = [poller for poller in pollers if poller.forked()]
    for poller in restart:
        poller.start()


if hasattr(os, "register_at_fork"):  # pragma: no branch - absent on Windows only
    os.register_at_fork(after_in_child=_after_fork_in_child)

"""Feeding the timeline from containment: breaker transitions, flag changes, fallbacks, routers.

Listeners run on the thread that emits (often the guarded call's), so each
one only counts or queues; the incidents' worker writes the records.
Fallbacks are **counted**, not logged per call: the counts go to the open
incident of the guard every ``count_every`` seconds (and on ``flush``).

An event is attached to the open incident whose key is the guard, breaker or
router name, or the flag name up to its first dot (``recs.personalized`` ->
``recs``); the global switch goes to every open incident. An automatic
breaker trip (CLOSED/HALF_OPEN -> OPEN) with no open incident is itself a
breach: it becomes an ``error_rate`` signal from ``<breaker>.breaker``.
"""

from __future__ import annotations

import collections
import functools
import threading
from typing import TYPE_CHECKING, Any

from aiguard.detect._signal import Signal

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiguard.classify._runner import Worker
    from aiguard.review._incident import Incident
    from aiguard.review._incident_log import IncidentLog
    from aiguard.typing import Clock

__all__ = ["Watchers"]

GLOBAL_SWITCH = "aiguard.all"


class Watchers:
    """The listener half of :class:`~aiguard.Incidents` (mixed in)."""

    worker: Worker
    log: IncidentLog
    actor: str
    _clock: Clock
    _write: Callable[..., Incident]
    handle: Callable[[Signal], None]
    _guarded: Callable[..., None]

    def __init__(self, *, count_every: float) -> None:
        self._count_lock = threading.Lock()
        self._counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self._count_every = count_every
        self._counting = False
        self._unwatch: list[Callable[[], None]] = []

    def _attach(self, key: str) -> list[Incident]:
        if key == GLOBAL_SWITCH:
            return list(self.log.open_incidents())
        found = self.log.find_open(key) or self.log.find_open(key.split(".", 1)[0])
        return [] if found is None else [found]

    # -- breakers ------------------------------------------------------------

    def watch_breaker(self, breaker: Any) -> None:
        """Record *breaker*'s state changes on the open incident of its name."""
        def listener(event: Any) -> None:
            if event.kind == "transition":
                self.worker.submit(lambda: self._guarded(self._breaker_event, event))

        breaker.add_listener(listener, outcomes=False)
        self._unwatch.append(lambda: breaker.remove_listener(listener))

    def _breaker_event(self, event: Any) -> None:
        what = f"breaker {event.name} {event.old.value} -> {event.new.value}"
        targets = self._attach(event.name)
        if not targets and event.new.value == "open" and event.old.value != "forced_open":
            self.handle(Signal(source=f"{event.name}.breaker", kind="error_rate", value=1.0,
                               evidence={"guard": event.name, "breaker": event.reason or ""},
                               at=event.at))
            return
        for incident in targets:
            self._write(incident.id, "note", kind="breaker", what=what, why=event.reason,
                        actor=f"breaker {event.name}")

    # -- flags ---------------------------------------------------------------

    def watch_flags(self, flags: Any) -> None:
        """Record flag changes on the open incident of the flag's prefix (global switch: all)."""
        def listener(change: Any) -> None:
            self.worker.submit(lambda: self._guarded(self._flag_event, change))

        flags.add_listener(listener)
        self._unwatch.append(lambda: flags.remove_listener(listener))

    def _flag_event(self, change: Any) -> None:
        new = change.new
        value = "removed" if new is None else ("on" if new.on else "off")
        if new is not None and new.percent is not None and new.on:
            value = f"on for {new.percent:g}%"
        actor = (new.actor if new is not None and new.actor else "flags")
        for incident in self._attach(change.name):
            self._write(incident.id, "note", kind="flag", what=f"flag {change.name} {value}",
                        why=None if new is None else new.reason, actor=actor)

    # -- guards: fallbacks counted -------------------------------------------

    def watch_guard(self, guard: Any) -> None:
        """Count calls *guard* served by fallback (and rows replaced, calls rejected)."""
        name = guard.name
        counts, lock = self._counts, self._count_lock

        def listener(outcome: Any) -> None:
            # a guard's listeners also get its monitors' Signals: only Outcomes are counted
            served_by = getattr(outcome, "served_by", None)
            if served_by is None or (served_by == "model" and not outcome.rows_replaced):
                return
            with lock:
                if outcome.served_by == "raised":
                    counts[name, "rejected_calls"] += 1
                else:
                    counts[name, "fallback_calls"] += outcome.served_by != "model"
                    counts[name, "rows_replaced"] += outcome.rows_replaced
            if not self._counting:
                self._counting = True
                self.worker.later(self._clock() + self._count_every, self.report_counts)

        guard.add_listener(listener)
        self._unwatch.append(lambda: guard.remove_listener(listener))

    def report_counts(self) -> None:
        """Write the counts gathered since the last report to the open incidents (worker only)."""
        with self._count_lock:
            counts = dict(self._counts)
            self._counts.clear()
            self._counting = False
        by_guard: dict[str, dict[str, int]] = {}
        for (guard, name), value in counts.items():
            by_guard.setdefault(guard, {})[name] = value
        for guard, values in by_guard.items():
            for incident in self._attach(guard):
                self._guarded(functools.partial(self._write, incident.id, "count",
                                                actor=f"guard {guard}", **values))

    # -- routers and anything else with add_listener -------------------------

    def watch_router(self, router: Any, *, name: str | None = None) -> None:
        """Record every event of *router* (any object with ``add_listener``) as a timeline line."""
        key = name or getattr(router, "name", None) or type(router).__name__

        def listener(event: Any) -> None:
            self.worker.submit(lambda: self._guarded(self._router_event, key, event))

        router.add_listener(listener)
        remove = getattr(router, "remove_listener", None)
        if callable(remove):
            self._unwatch.append(lambda: remove(listener))

    def _router_event(self, key: str, event: Any) -> None:
        for incident in self._attach(key):
            self._write(incident.id, "note", kind="router", what=f"router {key}: {event}",
                        actor=f"router {key}")

    def unwatch_all(self) -> None:
        """Remove every listener this object added."""
        for undo in self._unwatch:
            undo()
        self._unwatch.clear()

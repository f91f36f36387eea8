"""The state every part of a :class:`~aiguard.Flags` set shares, and the primitives they all use.

:class:`Flags` is assembled from parts that each hold one concern: reading the
snapshot (``_reading``), declaring flags (``_declaring``), changing them
(``_writing``) and talking to the store in the background (``_refreshing``).
They share the slots declared here and three primitives: rebuilding the
snapshot after a change, telling listeners, and registering declared flags in
a writable store.

Locks: ``_lock`` guards the state dicts and the snapshot swap (never held
around I/O); ``_read_lock`` serialises reads of the store so two refreshes
cannot apply out of order; ``_gen`` counts local changes, so a refresh that
raced a :meth:`~aiguard.Flags.set` drops its now older read.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from aiguard._core._events import log_once
from aiguard._core._logging import fields
from aiguard.contain.flags._snapshot import build_snapshot
from aiguard.state._records import HISTORY_LIMIT, default_actor, make_record, parse_record

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable

    from aiguard._core._poller import Poller
    from aiguard.contain.flags._types import FlagChange, FlagSpec
    from aiguard.state._records import FlagState
    from aiguard.typing import Clock, FlagStore

__all__ = ["FlagsBase"]

_log = logging.getLogger(__name__)


class FlagsBase:
    """The slots of a flag set and the primitives its parts share (not used on its own)."""

    __slots__ = (
        "__weakref__",
        "_clock",
        "_closed",
        "_declared",
        "_failing",
        "_gen",
        "_invalid",
        "_key_cache",
        "_last_error",
        "_last_read",
        "_listener_errors",
        "_listeners",
        "_local_history",
        "_lock",
        "_poller",
        "_read_errors",
        "_read_lock",
        "_ready",
        "_refresh",
        "_registration_errors",
        "_reported",
        "_snap",
        "_specs",
        "_stale",
        "_states",
        "_store",
        "_store_states",
        "_subscription",
        "_unregistered",
        "_wall_clock",
        "faults",
    )

    _store: FlagStore
    _refresh: float | None
    _clock: Clock
    _wall_clock: Clock
    _lock: threading.Lock
    _read_lock: threading.Lock
    _specs: dict[str, FlagSpec]
    _declared: dict[str, FlagState]
    _store_states: dict[str, FlagState]
    _states: dict[str, FlagState]
    _snap: dict[str, Any]
    _local_history: dict[str, deque[FlagState]]
    _key_cache: dict[str, dict[str, int]]
    _listeners: tuple[Callable[[FlagChange], object], ...]
    _reported: set[str]
    _unregistered: dict[str, bool]
    _gen: int
    _stale: bool
    _failing: bool
    _ready: bool
    _closed: bool
    _last_read: float | None
    _last_error: str | None
    _read_errors: int
    _invalid: int
    _listener_errors: int
    _registration_errors: int
    _poller: Poller
    _subscription: Any
    faults: int

    def _rebuild(self) -> None:
        """Recompute the states and the snapshot; the caller holds ``_lock``."""
        states = dict(self._declared)
        states.update(self._store_states)
        self._states = states
        self._snap = build_snapshot(states, self._key_cache)

    def _emit(self, changes: list[FlagChange]) -> None:
        for change in changes:
            if change.new is not None and change.new.source == "store":
                history = self._local_history.get(change.name)
                if history is None:  # setdefault: two threads cannot both create it
                    history = self._local_history.setdefault(
                        change.name, deque(maxlen=HISTORY_LIMIT)
                    )
                history.append(change.new)
            for listener in self._listeners:
                self._call(listener, change)

    def _call(self, listener: Callable[[FlagChange], object], change: FlagChange) -> None:
        try:
            listener(change)
        except Exception as exc:
            self._listener_errors += 1
            key = f"listener:{id(listener)}"
            if key not in self._reported:
                self._reported.add(key)
                _log.warning("aiguard: flag listener %r raised %r (logged once per listener)",
                             listener, exc, extra=fields("listener.raised", change.name, exc))

    def _register_declared(self) -> None:
        """Write each declared flag the store does not hold yet, never overriding one it holds.

        Uses the store's atomic ``write_missing`` (a Redis script of HSETNX, the
        file store's lock, the memory store's lock), so replicas declaring the
        same flag at once register it exactly once and a value already stored
        (by an operator, or by a replica with another default) always wins.
        A store without ``write_missing`` (read-only: environment,
        OpenFeature) is left alone. A failure is counted, logged once and
        retried at the next refresh.
        """
        write_missing = getattr(self._store, "write_missing", None)
        with self._lock:
            todo = {n: d for n, d in self._unregistered.items() if n not in self._store_states}
            if not callable(write_missing) or not todo:
                self._unregistered.clear()
                return
        actor, now = default_actor(), self._wall_clock()
        records = {
            name: make_record(
                on=default, updated_at=now, actor=actor,
                reason=f"declared in code (default {'on' if default else 'off'})",
            )
            for name, default in todo.items()
        }
        try:
            written = list(write_missing(records))
        except Exception as exc:
            self._registration_errors += 1
            log_once("flags-register",
                     "aiguard: could not register declared flags in %r (%r); retrying at each "
                     "refresh (logged once)", self._store, exc, exc_info=False,
                     event="flags.register_failed", name=repr(self._store), owner=self)
            return
        with self._lock:
            for name in todo:
                self._unregistered.pop(name, None)
            for name in written:
                if name in records and name not in self._store_states:
                    self._store_states[name] = parse_record(name, records[name])
            self._gen += 1
            self._rebuild()

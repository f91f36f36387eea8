"""Feature flags and kill switches: turn one AI feature off without a full shutdown.

A :class:`Flags` set keeps a local snapshot of every flag, refreshed from its
store (memory, a file, the environment, Redis, OpenFeature) by a background
poller. :meth:`Flags.enabled` reads only that snapshot: no I/O, no lock, no
exception, whatever the store is doing. See ``docs/contain/flags.md``.

The class is assembled from one part per concern, each in its own module:
``_reading`` (the hot path and the state), ``_declaring`` (declared flags and
their registration in the store), ``_writing`` (changes and listeners) and
``_refreshing`` (reading the store, the background poller, closing); the
slots and shared primitives are in ``_base``, the snapshot in ``_snapshot``.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING

from aiguard._core._clock import MONOTONIC, validate_clock
from aiguard._core._poller import Poller
from aiguard._core._validate import duration
from aiguard.contain.flags._declaring import Declaring
from aiguard.contain.flags._reading import Reading
from aiguard.contain.flags._refreshing import Refreshing
from aiguard.contain.flags._types import FlagSpec
from aiguard.contain.flags._writing import Writing
from aiguard.errors import ConfigurationError
from aiguard.state._records import ALL, FlagState
from aiguard.state._stores import MemoryStore

if TYPE_CHECKING:
    from datetime import timedelta

    from aiguard.typing import Clock, FlagStore

__all__ = ["Flags"]

_IDLE_INTERVAL = 1.0  # the poller of a flag set without refresh= never starts; it renews locks


def _check_store(store: object) -> FlagStore:
    if store is None:
        return MemoryStore()
    if not all(callable(getattr(store, method, None)) for method in ("read_all", "write")):
        raise ConfigurationError("store", "a FlagStore (with read_all and write)", store)
    return store  # type: ignore[return-value]


class Flags(Reading, Declaring, Writing, Refreshing):
    """A set of feature flags and kill switches, read from a local snapshot.

    The first snapshot is read from *store* when the flag set is built; a
    daemon thread (:class:`aiguard._core._poller.Poller`) then re-reads it
    every *refresh* seconds (and at once on a store's change notification,
    e.g. Redis pub/sub). The thread restarts in forked children (gunicorn
    ``--preload`` workers keep refreshing).

    Fail-safe: when the store cannot be read, the last known values stay in
    force and :attr:`stale` becomes True (counted in :attr:`status`, logged
    once per outage). A record that fails validation is ignored and that
    flag keeps its last good value. A flag never read from the store has its
    declared default (see :meth:`declare`); a name neither declared nor read
    gives the ``default`` passed to :meth:`enabled`. Declared flags the
    store does not hold yet are registered there (writable stores only),
    never overriding a stored value.

    Args:
        store: where flag records live (default: a new :class:`~aiguard.MemoryStore`).
        refresh: seconds between background reads (a number or a timedelta),
            or None for no background thread (call :meth:`refresh` yourself).
        clock: monotonic clock for :attr:`status` and change events.
        wall_clock: wall clock (seconds since the epoch) stamped on changes.
        declare: flags to declare at once, ``{name: default}``.

    Raises:
        ConfigurationError: an invalid argument.

    Example:
        >>> flags = Flags(declare={"recs.personalized": True})
        >>> flags.enabled("recs.personalized")
        True
        >>> flags.set("recs.personalized", on=False, reason="drift, INC-42", actor="ana")
        >>> flags.enabled("recs.personalized")
        False
        >>> flags.get("recs.personalized").reason
        'drift, INC-42'
        >>> flags.close()
    """

    __slots__ = ()

    def __init__(
        self,
        store: FlagStore | None = None,
        *,
        refresh: float | timedelta | None = 1.0,
        clock: Clock = MONOTONIC,
        wall_clock: Clock = time.time,
        declare: Mapping[str, bool] | None = None,
    ) -> None:
        self._store = _check_store(store)
        self._refresh = None if refresh is None else duration(refresh, "refresh")
        self._clock = validate_clock(clock)
        self._wall_clock = validate_clock(wall_clock, argument="wall_clock")
        if declare is not None and not isinstance(declare, Mapping):
            raise ConfigurationError("declare", "a mapping {name: default}", declare)
        self._init_state()
        for name, default in (declare or {}).items():
            self.declare(name, default=default)
        self._ready = True  # from here on, declared flags are registered after each good read
        self.refresh()
        self._start_background()

    def _init_state(self) -> None:
        self._lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._specs = {ALL: FlagSpec(ALL, default=True, description="the global switch")}
        self._declared = {
            ALL: FlagState(ALL, on=True, reason="declared default", source="declared")
        }
        self._store_states = {}
        self._local_history = {}
        self._key_cache = {}
        self._listeners = ()
        self._reported = set()
        self._unregistered = {}
        self._gen = 0
        self._stale = True
        self._failing = self._ready = self._closed = False
        self._last_read = self._last_error = None
        self._read_errors = self._invalid = self._listener_errors = 0
        self._registration_errors = 0
        self.faults = 0
        """Calls to :meth:`enabled` that hit an internal error and returned a safe value."""
        self._poller = Poller(  # started by _start_background when refresh= is given
            self.refresh, interval=self._refresh or _IDLE_INTERVAL, name="aiguard-flags-refresh",
            weak=True, after_fork=self._after_fork, start=False,
        )
        self._subscription = None
        self._rebuild()

    def _start_background(self) -> None:
        """Start the poller and the store subscription (neither without refresh=)."""
        if self._refresh is None:
            return  # the poller stays idle: it only renews the locks in a forked child
        self._poller.start()
        subscribe = getattr(self._store, "subscribe", None)
        if callable(subscribe):
            ref = weakref.ref(self)
            self._subscription = subscribe(lambda: (f := ref()) is not None and f.refresh())

    def __repr__(self) -> str:
        """Show the store, how many flags are known and whether the snapshot is stale."""
        stale = ", stale" if self._stale else ""
        return f"<Flags {self._store!r}: {len(self._states)} flags{stale}>"

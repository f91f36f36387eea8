"""Feature flags and kill switches: turn one AI feature off without a full shutdown.

A :class:`Flags` set keeps a local snapshot of every flag, refreshed from its
store (memory, a file, the environment, Redis, OpenFeature) by a background
thread. :meth:`Flags.enabled` reads only that snapshot: no I/O, no lock, no
exception, whatever the store is doing. See ``docs/contain/flags.md``.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from typing_extensions import Self

from aiguard._core._clock import MONOTONIC, validate_clock
from aiguard.contain.flags._rollout import BUCKETS, bucket, cached_bucket, threshold
from aiguard.contain.flags._types import FlagChange, FlagSpec, FlagsStatus
from aiguard.errors import ConfigurationError, InvalidInputError, StoreError, UnknownFlagError
from aiguard.state._records import (
    ALL,
    HISTORY_LIMIT,
    FlagState,
    default_actor,
    make_record,
    parse_record,
    validate_name,
)
from aiguard.state._stores import MemoryStore

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiguard.typing import Clock, FlagStore

__all__ = ["Flags"]

_log = logging.getLogger("aiguard")
_LIVE: Final[weakref.WeakSet[Flags]] = weakref.WeakSet()


class _AllOff(dict[str, Any]):
    """The snapshot while the global switch is off: every name reads off."""

    __slots__ = ()

    def get(self, key: object, default: object = None) -> bool:
        del key, default
        return False


_ALL_OFF: Final = _AllOff()


_KEY_CACHE_SIZE: Final = 1 << 15


def _remember(known: dict[str, int], name: str, key: str) -> int:
    """Compute and cache *key*'s bucket for flag *name* (the cache is bounded by clearing)."""
    if len(known) >= _KEY_CACHE_SIZE:
        known.clear()
    found = known[key] = bucket(name, key)
    return found


def _try_parse(name: str, record: object) -> FlagState | Exception:
    try:
        return parse_record(name, record)
    except (InvalidInputError, TypeError) as exc:
        return exc


def _refresher(ref: weakref.ref[Flags], stop: threading.Event, interval: float) -> None:
    """Refresh the flag set every *interval* seconds until stopped or garbage-collected."""
    while not stop.wait(interval):
        flags = ref()
        if flags is None:
            return
        flags.refresh()
        del flags


class Flags:
    """A set of feature flags and kill switches, read from a local snapshot.

    The first snapshot is read from *store* when the flag set is built; a
    daemon thread then re-reads it every *refresh* seconds (and at once on a
    store's change notification, e.g. Redis pub/sub). The thread restarts in
    forked children (gunicorn ``--preload`` workers keep refreshing).

    Fail-safe: when the store cannot be read, the last known values stay in
    force and :attr:`stale` becomes True (counted in :attr:`status`, logged
    once per outage). A record that fails validation is ignored and that
    flag keeps its last good value. A flag never read from the store has its
    declared default (see :meth:`declare`); a name neither declared nor read
    gives the ``default`` passed to :meth:`enabled`.

    Args:
        store: where flag records live (default: a new :class:`~aiguard.MemoryStore`).
        refresh: seconds between background reads, or None for no background
            thread (call :meth:`refresh` yourself).
        clock: monotonic clock for :attr:`status` and change events.
        wall_clock: wall clock (seconds since the epoch) stamped on changes.
        declare: flags to declare at once, ``{name: default}``.

    Raises:
        ConfigurationError: an invalid argument.

    Example:
        >>> flags = Flags(declare={"recs.personalized": True})
        >>> flags.enabled("recs.personalized")
        True
        >>> flags.set("recs.personalized", False, reason="drift, INC-42", actor="ana")
        >>> flags.enabled("recs.personalized")
        False
        >>> flags.get("recs.personalized").reason
        'drift, INC-42'
        >>> flags.close()
    """

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
        "_read_errors",
        "_read_lock",
        "_refresh",
        "_reported",
        "_snap",
        "_specs",
        "_stale",
        "_states",
        "_stop",
        "_store",
        "_store_states",
        "_subscription",
        "_wall_clock",
        "faults",
    )

    def __init__(
        self,
        store: FlagStore | None = None,
        *,
        refresh: float | None = 1.0,
        clock: Clock = MONOTONIC,
        wall_clock: Clock = time.time,
        declare: Mapping[str, bool] | None = None,
    ) -> None:
        if store is None:
            store = MemoryStore()
        if not callable(getattr(store, "read_all", None)) or not callable(
            getattr(store, "write", None)
        ):
            raise ConfigurationError("store", "a FlagStore (with read_all and write)", store)
        if refresh is not None and (
            isinstance(refresh, bool)
            or not isinstance(refresh, (int, float))
            or not (refresh > 0 and math.isfinite(refresh))
        ):
            raise ConfigurationError("refresh", "a finite number of seconds > 0, or None", refresh)
        self._store = store
        self._refresh = None if refresh is None else float(refresh)
        self._clock = validate_clock(clock)
        self._wall_clock = validate_clock(wall_clock, argument="wall_clock")
        self._lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._specs: dict[str, FlagSpec] = {}
        self._declared: dict[str, FlagState] = {}
        self._store_states: dict[str, FlagState] = {}
        self._states: dict[str, FlagState] = {}
        self._snap: dict[str, Any] = {}
        self._local_history: dict[str, deque[FlagState]] = {}
        self._key_cache: dict[str, dict[str, int]] = {}
        self._listeners: tuple[Callable[[FlagChange], object], ...] = ()
        self._reported: set[str] = set()
        self._gen = 0
        self._stale = True
        self._failing = False
        self._last_read: float | None = None
        self._last_error: str | None = None
        self._read_errors = 0
        self._invalid = 0
        self._listener_errors = 0
        self.faults = 0
        """Calls to :meth:`enabled` that hit an internal error and returned a safe value."""
        self._closed = False
        self._stop = threading.Event()
        self._subscription: Any = None
        self._specs[ALL] = FlagSpec(ALL, default=True, description="the global switch")
        self._declared[ALL] = FlagState(ALL, on=True, reason="declared default", source="declared")
        if declare is not None:
            if not isinstance(declare, Mapping):
                raise ConfigurationError("declare", "a mapping {name: default}", declare)
            for name, default in declare.items():
                self.declare(name, default=default)
        self._rebuild()
        self.refresh()
        _LIVE.add(self)
        if self._refresh is not None:
            self._start()
            subscribe = getattr(store, "subscribe", None)
            if callable(subscribe):
                ref = weakref.ref(self)
                self._subscription = subscribe(lambda: (f := ref()) is not None and f.refresh())

    def __repr__(self) -> str:
        """Show the store, how many flags are known and whether the snapshot is stale."""
        stale = ", stale" if self._stale else ""
        return f"<Flags {self._store!r}: {len(self._states)} flags{stale}>"

    # -- the hot path ------------------------------------------------------

    def enabled(self, name: str, *, key: object = None, default: bool = True) -> bool:
        """Whether feature *name* is on (for *key*, under a partial rollout).

        Reads the local snapshot only: no I/O, no lock, and it never raises.
        A flag fully on or off answers without hashing. Under a partial
        rollout, *key* (a user id, a request id, ...) is hashed with the flag
        name into one of 10,000 buckets; a key is in when its bucket is below
        ``percent * 100``. Without a key a partial rollout answers False
        (the caller is not in the rollout). While the global switch is off
        (:meth:`shutdown`), every name answers False.

        Args:
            name: the flag name.
            key: what the rollout sticks to.
            default: the answer for a name that is neither declared nor in
                the store (a declared flag answers its declared default instead).

        Example:
            >>> flags = Flags()
            >>> flags.set("recs", True, percent=50)
            >>> [flags.enabled("recs", key=user) for user in ("ana", "bo", "cy")]
            [True, True, False]
            >>> flags.enabled("recs"), flags.enabled("never.heard.of", default=False)
            (False, False)
        """
        try:
            value = self._snap.get(name, default)
            if value is True or value is False:
                return value
            if key is None:
                return False
            cut, known = value  # a partial rollout: (threshold, this flag's str-key buckets)
            if key.__class__ is str:
                hit = known.get(key)
                return (hit if hit is not None else _remember(known, name, key)) < cut  # type: ignore[no-any-return]
            try:
                return cached_bucket(name, key) < cut  # type: ignore[no-any-return]
            except TypeError:  # an unhashable key: hash it without the cache
                return bucket(name, key) < cut  # type: ignore[no-any-return]
        except Exception as exc:
            return self._fault(name, default, exc)

    def __contains__(self, name: object) -> bool:
        """Whether *name* is declared or in the store."""
        return name in self._states

    def _fault(self, name: object, default: object, exc: Exception) -> bool:
        self.faults += 1
        if "fault" not in self._reported:
            self._reported.add("fault")
            _log.warning("aiguard: flags.enabled(%.60r) failed (%r); answering safely", name, exc)
        return default is True

    # -- reading state -----------------------------------------------------

    @property
    def store(self) -> FlagStore:
        """The store the flags are read from."""
        return self._store

    @property
    def stale(self) -> bool:
        """True when the last read of the store failed (the values may be out of date)."""
        return self._stale

    @property
    def shut_down(self) -> bool:
        """True while the global switch (:meth:`shutdown`) holds every feature off."""
        return self._snap is _ALL_OFF

    @property
    def status(self) -> FlagsStatus:
        """Staleness, last read time and error counts (see :class:`FlagsStatus`)."""
        return FlagsStatus(
            stale=self._stale,
            last_read=self._last_read,
            read_errors=self._read_errors,
            invalid_records=self._invalid,
            listener_errors=self._listener_errors,
            last_error=self._last_error,
        )

    def get(self, name: str) -> FlagState:
        """Return the current state of flag *name*.

        Raises:
            UnknownFlagError: *name* is neither declared nor in the store.

        Example:
            >>> flags = Flags()
            >>> flags.set("recs", False, reason="drill", actor="ana")
            >>> state = flags.get("recs")
            >>> state.on, state.actor, state.reason
            (False, 'ana', 'drill')
        """
        try:
            return self._states[name]
        except KeyError:
            raise UnknownFlagError(name) from None

    def states(self) -> dict[str, FlagState]:
        """Return the current state of every known flag, by name.

        Example:
            >>> sorted(Flags(declare={"recs": True}).states())
            ['aiguard.all', 'recs']
        """
        return dict(self._states)

    def description(self, name: str) -> str | None:
        """Return the description given to :meth:`declare` for *name* (or None)."""
        spec = self._specs.get(name)
        return None if spec is None else spec.description

    def history(self, name: str) -> list[FlagState]:
        """Return the recorded changes of *name*, oldest first: who, when, why.

        Read from the store when it keeps a history (memory, file, Redis);
        otherwise the changes this process saw. Does I/O: not for the hot path.

        Raises:
            UnknownFlagError: *name* is unknown and has no history.
            StoreError: the store's history cannot be read.

        Example:
            >>> flags = Flags()
            >>> flags.set("recs", False, reason="drift", actor="ana")
            >>> flags.set("recs", True, reason="fixed", actor="bo")
            >>> [(s.on, s.actor, s.reason) for s in flags.history("recs")]
            [(False, 'ana', 'drift'), (True, 'bo', 'fixed')]
        """
        read = getattr(self._store, "history", None)
        if callable(read):
            parsed = (_try_parse(name, record) for record in read(name))
            states = [state for state in parsed if not isinstance(state, Exception)]
        else:
            states = list(self._local_history.get(name, ()))
        if not states and name not in self._states:
            raise UnknownFlagError(name)
        return states

    # -- changing state ----------------------------------------------------

    def declare(
        self, name: str, *, default: bool = True, description: str | None = None
    ) -> FlagSpec:
        """Declare flag *name* and its value while nothing was ever read for it.

        ``default=True`` fails open (the feature runs when the store has no
        record or was never readable), ``default=False`` fails closed.
        Declaring the same name again with the same default is harmless.

        Raises:
            ConfigurationError: an invalid name or default, the reserved
                name ``aiguard.all``, or a different default for a declared name.

        Example:
            >>> flags = Flags()
            >>> flags.declare("recs.experimental", default=False, description="new ranker")
            FlagSpec(name='recs.experimental', default=False, description='new ranker')
            >>> flags.enabled("recs.experimental")
            False
        """
        try:
            validate_name(name)
        except InvalidInputError as exc:
            raise ConfigurationError("name", exc.expected, name) from None
        if name == ALL:
            raise ConfigurationError("name", f"not the reserved {ALL!r} (use shutdown())", name)
        if not isinstance(default, bool):
            raise ConfigurationError("default", "True (fail open) or False (fail closed)", default)
        if description is not None and not isinstance(description, str):
            raise ConfigurationError("description", "a string or None", description)
        spec = FlagSpec(name, default=default, description=description)
        with self._lock:
            known = self._specs.get(name)
            if known is not None and known.default != default:
                raise ConfigurationError(
                    "default", f"{known.default} as declared before for {name!r}", default
                )
            self._specs[name] = spec
            self._declared[name] = FlagState(
                name, on=default, reason="declared default", source="declared"
            )
            self._rebuild()
        return spec

    def set(
        self,
        name: str,
        on: bool,
        *,
        percent: float | None = None,
        reason: str | None = None,
        actor: str | None = None,
    ) -> None:
        """Turn flag *name* on (for *percent* of keys) or off, in the store and here at once.

        Other processes see the change at their next refresh. *actor*
        defaults to ``user@hostname``.

        Raises:
            InvalidInputError: an invalid name, *on* not a bool, *percent*
                outside [0, 100] (or given for ``aiguard.all``), *reason* or
                *actor* not a short string.
            StoreError: the store cannot be written (nothing changed).

        Example:
            >>> flags = Flags()
            >>> flags.set("search.rerank", True, percent=10, reason="canary")
            >>> flags.get("search.rerank").percent
            10.0
        """
        validate_name(name)
        if name == ALL and percent is not None:
            raise InvalidInputError("percent", f"None for the global switch {ALL!r}", repr(percent))
        record = make_record(
            on,
            percent=percent,
            updated_at=self._wall_clock(),
            actor=default_actor() if actor is None else actor,
            reason=reason,
        )
        state = parse_record(name, record)
        self._store.write(name, record)
        with self._lock:
            self._gen += 1
            old = self._states.get(name)
            self._store_states[name] = state
            self._rebuild()
        if old != state:
            self._emit([FlagChange(name, old, state, "set", self._clock())])

    def shutdown(self, *, reason: str | None = None, actor: str | None = None) -> None:
        """Turn every AI feature off at once: the global switch ``aiguard.all``.

        Distinct from single flags: their own values are kept and come back
        with :meth:`restore`.

        Example:
            >>> flags = Flags()
            >>> flags.shutdown(reason="full shutdown, INC-7", actor="ana")
            >>> flags.enabled("anything"), flags.shut_down
            (False, True)
            >>> flags.restore(reason="contained", actor="ana")
            >>> flags.enabled("anything")
            True
        """
        self.set(ALL, on=False, reason=reason, actor=actor)

    def restore(self, *, reason: str | None = None, actor: str | None = None) -> None:
        """Undo :meth:`shutdown`: every flag reads its own value again."""
        self.set(ALL, on=True, reason=reason, actor=actor)

    def add_listener(self, listener: Callable[[FlagChange], object]) -> None:
        """Call *listener* with a :class:`FlagChange` whenever a flag changes.

        Called for changes made here (in the caller's thread) and for changes
        seen on refresh (in the refresher thread). A listener that raises is
        counted in :attr:`status` and logged once; nothing else is affected.

        Example:
            >>> flags = Flags()
            >>> flags.add_listener(lambda change: print(change.name, change.new.on))
            >>> flags.set("recs", False)
            recs False
        """
        if not callable(listener):
            raise ConfigurationError("listener", "a callable taking a FlagChange", listener)
        with self._lock:
            self._listeners = (*self._listeners, listener)

    def remove_listener(self, listener: Callable[[FlagChange], object]) -> None:
        """Stop calling *listener* (no error if it was not added)."""
        with self._lock:
            self._listeners = tuple(f for f in self._listeners if f != listener)

    # -- refreshing ----------------------------------------------------------

    def refresh(self) -> bool:
        """Read the store now and apply what changed; return whether the read succeeded.

        Never raises: a failed read keeps the last known values and marks the
        flag set stale. The background thread calls this every *refresh* seconds.

        Example:
            >>> store = MemoryStore()
            >>> flags = Flags(store, refresh=None)
            >>> store.write("recs", {"on": False})  # e.g. another process
            >>> flags.enabled("recs")
            True
            >>> flags.refresh(), flags.enabled("recs")
            (True, False)
        """
        with self._read_lock:
            gen = self._gen
            try:
                raw: object = self._store.read_all()
                if not isinstance(raw, Mapping):
                    msg = f"{self._store!r}.read_all() returned {type(raw).__name__}, not a mapping"
                    raise StoreError(msg)  # noqa: TRY301 - handled with every other read failure
                parsed = self._parse_all(raw)
            except Exception as exc:
                self._read_failed(exc)
                return False
            changes: list[FlagChange] = []
            with self._lock:
                if gen == self._gen:  # else a set() raced this read: the next read has it
                    old = self._states
                    self._store_states = parsed
                    self._rebuild()
                    now = self._clock()
                    changes = [
                        FlagChange(name, old.get(name), self._states.get(name), "refresh", now)
                        for name in old.keys() | self._states.keys()
                        if old.get(name) != self._states.get(name)
                    ]
            self._read_ok()
        if changes:
            self._emit(sorted(changes, key=lambda c: c.name))
        return True

    def _parse_all(self, raw: Mapping[str, Any]) -> dict[str, FlagState]:
        parsed: dict[str, FlagState] = {}
        for name, record in raw.items():
            state = _try_parse(name, record)
            if not isinstance(state, Exception):
                parsed[name] = state
            else:
                self._invalid += 1
                if f"invalid:{name}" not in self._reported:
                    self._reported.add(f"invalid:{name}")
                    _log.warning(
                        "aiguard: ignoring invalid record for flag %.60r in %r (%s); "
                        "keeping its last good value", name, self._store, state,
                    )
                last = self._store_states.get(name)
                if last is not None:
                    parsed[name] = last
        return parsed

    def _read_failed(self, exc: Exception) -> None:
        self._read_errors += 1
        self._last_error = f"{type(exc).__name__}: {exc}"
        if not self._failing:
            self._failing = True
            _log.warning(
                "aiguard: flag store %r cannot be read (%s); keeping the last known values",
                self._store, self._last_error,
            )
        self._stale = True

    def _read_ok(self) -> None:
        if self._failing:
            self._failing = False
            _log.warning("aiguard: flag store %r can be read again", self._store)
        self._stale = False
        self._last_read = self._clock()

    def _rebuild(self) -> None:
        """Recompute the states and the snapshot; the caller holds ``_lock``."""
        states = dict(self._declared)
        states.update(self._store_states)
        self._states = states
        if not states[ALL].on:
            self._snap = _ALL_OFF
            return
        snap: dict[str, Any] = {}
        for name, state in states.items():
            if name == ALL:  # on here; the global switch has no rollout
                snap[name] = True
            elif state.fully_off or state.fully_on:
                snap[name] = state.on and state.percent != 0
            else:  # a partial rollout: the bucket threshold, unless it rounds to none or all
                cut = threshold(state.percent or 0.0)
                known = self._key_cache.setdefault(name, {})  # buckets do not depend on percent
                snap[name] = (cut, known) if 0 < cut < BUCKETS else cut >= BUCKETS
        self._snap = snap

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
                _log.warning("aiguard: flag listener %r raised %r", listener, exc)

    # -- background thread and lifecycle --------------------------------------

    def _start(self) -> None:
        assert self._refresh is not None
        self._stop = threading.Event()
        thread = threading.Thread(
            target=_refresher,
            args=(weakref.ref(self), self._stop, self._refresh),
            name="aiguard-flags-refresh",
            daemon=True,
        )
        thread.start()
        weakref.finalize(self, self._stop.set)

    def _after_fork(self) -> None:
        """In a forked child: fresh locks (a parent thread may have held them), a new thread."""
        self._lock = threading.Lock()
        self._read_lock = threading.Lock()
        if not self._closed and self._refresh is not None:
            self._start()

    def close(self) -> None:
        """Stop the background refresher and the store subscription (the snapshot stays usable)."""
        self._closed = True
        self._stop.set()
        _LIVE.discard(self)
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            close = getattr(subscription, "close", None)
            if callable(close):
                close()

    def __enter__(self) -> Self:
        """Use the flag set in a ``with`` block; it is closed at the end."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the flag set."""
        self.close()


def _after_fork_in_child() -> None:  # pragma: no cover - runs in forked children
    for flags in list(_LIVE):
        flags._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

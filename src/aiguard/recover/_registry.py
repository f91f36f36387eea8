"""ModelRegistry: named model versions, one champion serving, one-call rollback.

The call path reads one attribute, the champion's frozen :class:`ModelVersion`,
and calls its bound callable. A swap replaces that attribute in one store
(atomic under the interpreter), so a call in flight finishes on the version it
read, no call ever sees half of a swap, and no lock is taken around the model.

The champion *choice* lives in a state store (see
:mod:`aiguard.recover._champion`): a promote or rollback writes it, and every
registry on the same store adopts it at its next background refresh. A choice
naming a version this replica has not registered is counted in
:attr:`ModelRegistry.missing` and logged once when a second refresh still
finds it missing (a replica starting up registers its versions just after its
first refresh); the replica keeps serving its champion, and adopts the
version as soon as it is registered.
"""

from __future__ import annotations

import logging
import operator
import os
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Literal

import attrs
from typing_extensions import Self

from aiguard._core import _validate
from aiguard._core._clock import validate_clock
from aiguard._core._events import Listeners, log_once
from aiguard._core._logging import Health
from aiguard._core._poller import Poller
from aiguard.errors import ConfigurationError, StoreError, UnknownVersionError
from aiguard.recover import _champion
from aiguard.state._records import default_actor
from aiguard.state._stores import MemoryStore

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from aiguard.recover._champion import ChampionChange
    from aiguard.typing import Clock, FlagStore

__all__ = ["ModelRegistry", "ModelVersion"]

_log = logging.getLogger(__name__)


def _callables(model: object) -> tuple[Callable[..., Any], Callable[..., Any]]:
    predict = getattr(model, "predict", None)
    if callable(model):
        return model, predict if callable(predict) else model
    if callable(predict):
        return predict, predict
    raise ConfigurationError("model", "a callable or an object with predict()", model)


@attrs.frozen
class ModelVersion:
    """A registered version: the loaded model and what calling it means.

    Attributes:
        version: its name.
        model: the model object.
        metadata: whatever the user attached (training data, metrics...).
    """

    version: str
    model: object = attrs.field(repr=False)
    metadata: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    call: Callable[..., Any] = attrs.field(repr=False, eq=False, default=None)
    predict: Callable[..., Any] = attrs.field(repr=False, eq=False, default=None)


def _no_champion(name: str) -> ModelVersion:
    def refuse(*_args: object, **_kwargs: object) -> Any:
        raise UnknownVersionError(name, None)

    return ModelVersion("", None, {}, refuse, refuse)


class ModelRegistry:
    """Model versions under one name; callers call the champion; rollback is one call.

    Args:
        name: the registry's name (a flag name: ``[a-z0-9][a-z0-9._-]*``).
        store: where the champion choice is shared (default: a private
            :class:`~aiguard.MemoryStore`); a file or Redis store shares it
            with every replica and with ``aiguard models``.
        clock: wall-clock seconds for the history (comparable between hosts).
        refresh: seconds between background reads of the store, or None for
            no thread (call :meth:`refresh` yourself).

    Until the first promote, the first version registered serves (nothing is
    written to the store for it).

    Example:
        >>> registry = ModelRegistry("recs", refresh=None)
        >>> registry.register("v1", lambda x: x + 1)
        >>> registry.register("v2", lambda x: x + 2)
        >>> registry(1), registry.champion
        (2, 'v1')
        >>> _ = registry.promote("v2", reason="retrained on December data")
        >>> registry(1)
        3
        >>> registry.rollback(reason="INC-7: accuracy dropped").version
        'v1'
        >>> [(c.action, c.version) for c in registry.history()]
        [('promote', 'v2'), ('rollback', 'v1')]
    """

    def __init__(
        self,
        name: str,
        *,
        store: FlagStore | None = None,
        clock: Clock = time.time,
        refresh: float | None = 1.0,
    ) -> None:
        self.name = _champion.validate_registry_name(name)
        if store is None:
            store = MemoryStore()
        if not callable(getattr(store, "read_all", None)) or not callable(
                getattr(store, "write", None)):
            raise ConfigurationError("store", "a FlagStore (with read_all and write)", store)
        self.store = store
        self._clock = validate_clock(clock)
        self.refresh_interval = (None if refresh is None
                                 else _validate.duration(refresh, "refresh"))
        self._versions: dict[str, ModelVersion] = {}
        self._active = _no_champion(self.name)
        self._lock = threading.RLock()  # writers only; never taken on the call path
        self._wanted: str | None = None  # the store's choice, when not registered here
        self._unsynced: ChampionChange | None = None  # a change the store did not take yet
        self._known: ChampionChange | None = None  # the last choice read or written
        self.missing = 0
        """Store choices naming a version this replica has not registered."""
        self.errors = 0
        """Failed reads and writes of the store."""
        self.stale = False
        """True while the store cannot be read (the last choice stays in force)."""
        self._health = {action: Health(_log, f"registry.store_{action}", name)
                        for action in ("read", "write")}
        self._listeners: Listeners[ChampionChange] = Listeners(f"registry {name!r}")
        self._poller: Poller | None = None
        if self.refresh_interval is None:  # no thread; a caller's thread may hold the lock
            ref = weakref.ref(self)
            os.register_at_fork(after_in_child=lambda: ModelRegistry._renew(ref()))
        else:  # the shared poller renews the lock in a forked child before it restarts
            self._poller = Poller(self._tick, interval=self.refresh_interval, first=0,
                                  name=f"aiguard-models-{name}", weak=True,
                                  after_fork=self._renew_lock)

    def _tick(self) -> None:
        self.refresh()

    def _renew_lock(self) -> None:  # pragma: no cover - runs in forked children
        """A lock held by a parent's thread at the fork would stay held in the child."""
        self._lock = threading.RLock()

    @staticmethod
    def _renew(registry: ModelRegistry | None) -> None:  # pragma: no cover - in children
        if registry is not None:
            registry._renew_lock()

    def __repr__(self) -> str:
        """Show the name, the versions and the champion."""
        return (f"ModelRegistry({self.name!r}, versions={list(self._versions)}, "
                f"champion={self.champion!r})")

    # -- the call path -------------------------------------------------------

    # The call path is two C-level steps: the property's attrgetter reads the champion
    # entry once (one atomic attribute read) and returns its callable, which Python
    # then calls with the caller's arguments; no Python frame of ours in between.
    if TYPE_CHECKING:

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            """Call the champion like the model (``model(x)``, or ``model.predict(x)``)."""

        def predict(self, *args: Any, **kwargs: Any) -> Any:
            """Call the champion's ``predict`` (or the champion itself when it has none)."""

    else:
        __call__ = property(
            operator.attrgetter("_active.call"),
            doc="Call the champion like the model (``model(x)``, or ``model.predict(x)``).")
        predict = property(
            operator.attrgetter("_active.predict"),
            doc="Call the champion's ``predict`` (or the champion itself when it has none).")

    # -- versions ------------------------------------------------------------

    @property
    def champion(self) -> str | None:
        """The version serving now (None before any version is registered)."""
        return self._active.version or None

    @property
    def versions(self) -> tuple[str, ...]:
        """Every registered version, in registration order."""
        return tuple(self._versions)

    def model(self, version: str) -> ModelVersion:
        """Return the registered *version* (UnknownVersionError when it is not)."""
        try:
            return self._versions[version]
        except KeyError:
            raise UnknownVersionError(self.name, version) from None

    def register(
        self, version: str, model: object, *, metadata: Mapping[str, Any] | None = None
    ) -> None:
        """Register *model* as *version* (it serves at once when it is the store's choice).

        Raises:
            InvalidInputError: *version* is not a short non-empty string.
            ConfigurationError: *model* is neither callable nor has ``predict``,
                or *version* is registered already.
        """
        _champion.validate_version(version)
        call, predict = _callables(model)
        entry = ModelVersion(version, model, dict(metadata or {}), call, predict)
        with self._lock:
            if version in self._versions:
                raise ConfigurationError("version", "a version not registered yet", version)
            self._versions[version] = entry
            if not self._active.version or version == self._wanted:
                self._active = entry
                self._wanted = None if version == self._wanted else self._wanted
        if self._poller is not None:
            self._poller.wake()

    # -- changes -------------------------------------------------------------

    def promote(self, version: str, *, reason: str, actor: str | None = None) -> ChampionChange:
        """Make *version* the champion, here and (through the store) on every replica.

        Raises:
            UnknownVersionError: *version* is not registered here.
            InvalidInputError: *version* is the champion already, or *reason*/*actor*
                are not short strings.
        """
        self.model(version)
        return self._change("promote", version, reason=reason, actor=actor)

    def rollback(
        self, *, reason: str, actor: str | None = None, to: str | None = None
    ) -> ChampionChange:
        """Serve the last known good version again (or *to*), here and on every replica.

        The last known good version is the last one that served as champion
        before the current one and was not itself rolled back. If the store
        cannot be written, the rollback still applies here at once (counted in
        :attr:`errors`, logged once) and is written at the next refresh.

        Raises:
            UnknownVersionError: the target is not registered here.
            InvalidInputError: there is no known good version to go back to.
        """
        return self._change("rollback", to, reason=reason, actor=actor)

    def _change(
        self, action: Literal["promote", "rollback"], to: str | None, *, reason: object,
        actor: object,
    ) -> ChampionChange:
        if not isinstance(reason, str) or not reason:
            raise ConfigurationError("reason", "a non-empty string", reason)
        if actor is not None and not isinstance(actor, str):
            raise ConfigurationError("actor", "a string or None", actor)
        with self._lock:
            current = self._unsynced
            if current is None:
                try:
                    current = _champion.read(self.store, self.name)
                except StoreError as exc:
                    self._store_failed("read", exc)
                    current = self._known
            change = _champion.change_record(
                current, self.champion, action=action, to=to, at=self._clock(),
                actor=actor or default_actor(), reason=reason)
            entry = self.model(change.version)
            self._known = change
            self._write(change)
            self._active = entry
            self._wanted = None
        self._listeners.emit(change)
        return change

    def _write(self, change: ChampionChange) -> None:
        try:
            self.store.write(_champion.key(self.name), change.to_record())
        except StoreError as exc:
            self._store_failed("write", exc)
            self._unsynced = change
        else:
            self._unsynced = None
            self._store_ok("write")

    def _store_failed(self, action: str, exc: Exception) -> None:
        self.errors += 1
        self._health[action].down(
            "aiguard: registry %r cannot %s its store %r; serving its own choice "
            "(logged once until it can again, counted in errors)", self.name, action, self.store,
            error=exc)

    def _store_ok(self, action: str) -> None:
        self._health[action].up("aiguard: registry %r can %s its store %r again",
                                self.name, action, self.store)

    # -- replicas ------------------------------------------------------------

    def refresh(self) -> str | None:
        """Read the store's choice now and adopt it if it is registered here; return the champion.

        Never raises: a store that cannot be read leaves the champion as it
        is (:attr:`stale`, counted in :attr:`errors`, logged once).
        """
        with self._lock:
            if self._unsynced is not None:
                self._write(self._unsynced)
                if self._unsynced is not None:
                    return self.champion
            try:
                change = _champion.read(self.store, self.name)
            except Exception as exc:
                self._store_failed("read", exc)
                self.stale = True
                return self.champion
            self.stale = False
            self._store_ok("read")
            self._known = change or self._known
            if change is None or change.version == self._active.version:
                return self.champion
            entry = self._versions.get(change.version)
            if entry is None:
                self.missing += 1
                first_sight, self._wanted = self._wanted != change.version, change.version
                if first_sight:  # a replica starting up registers its versions right after
                    return self.champion
                log_once(f"models:{self.name}:missing:{change.version}",
                         "aiguard: registry %r: the store chose version %r, which this "
                         "replica has not registered; still serving %r",
                         self.name, change.version, self.champion, exc_info=False,
                         event="registry.unknown_version", name=self.name, owner=self)
                return self.champion
            self._active = entry
            self._wanted = None
        self._listeners.emit(change)
        return self.champion

    def add_listener(self, listener: Callable[[ChampionChange], object]) -> None:
        """Call *listener* with every :class:`ChampionChange` this registry applies.

        Its own promotes and rollbacks, and changes adopted from the store
        (another replica's, or the CLI's). A listener that raises is counted
        and logged once, never raised.
        """
        self._listeners.add(listener)

    def remove_listener(self, listener: Callable[[ChampionChange], object]) -> None:
        """Stop calling *listener* (a listener that was never added is ignored)."""
        self._listeners.remove(listener)

    def history(self) -> list[ChampionChange]:
        """Return the champion changes the store remembers, oldest first.

        Raises:
            StoreError: the store cannot be read.
        """
        return _champion.read_history(self.store, self.name)

    def close(self) -> None:
        """Stop the background refresh (the registry keeps serving its champion)."""
        if self._poller is not None:
            self._poller.stop()

    def __enter__(self) -> Self:
        """Return the registry itself."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the background refresh."""
        self.close()

"""Listener lists that never break the caller, and logging that says a thing once.

Breakers, guards and flag sets report what happens to listeners that users
register. Principle 1 applies: a listener that raises must not break the
protected call. :class:`Listeners` calls each listener in turn, swallows and
counts its exception, and logs it once per listener (not once per call) on the
logger of the module that made the list.

The listener list is an immutable tuple swapped under a lock on change, so
:meth:`Listeners.emit` reads it without locking and the empty check on the hot
path (``if listeners:``) is one attribute read.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import weakref
from typing import TYPE_CHECKING, Generic, TypeVar

from aiguard._core._logging import fields
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Listeners", "log_once"]

_logged: set[str] = set()
_logged_lock = threading.Lock()
# keys logged per owner, by id(owner): forgotten when the owner dies, so an object that later
# gets the same id (CPython reuses addresses) logs its own first time
_owned: dict[int, set[str]] = {}


def _forget(owner_id: int) -> None:
    # no lock: a finalizer may run in any thread, also one inside _first holding the lock;
    # one dict.pop is atomic
    _owned.pop(owner_id, None)


def _first(key: str, owner: object) -> bool:
    """Whether *key* (for *owner*, if not None) is seen for the first time; records it."""
    with _logged_lock:
        if owner is None:
            seen = _logged
        else:
            found = _owned.get(id(owner))
            if found is None:
                found = _owned[id(owner)] = set()
                with contextlib.suppress(TypeError):  # not weakly referenceable: kept
                    weakref.finalize(owner, _forget, id(owner))
            seen = found
        if key in seen:
            return False
        seen.add(key)
        return True

E = TypeVar("E")


def _caller_logger(depth: int) -> logging.Logger:
    """The logger of the aiguard module *depth* frames up (rare paths only: it reads a frame)."""
    module = str(sys._getframe(depth + 1).f_globals.get("__name__", ""))  # noqa: SLF001
    return logging.getLogger(module if module.startswith("aiguard.") else "aiguard")


def log_once(
    key: str,
    message: str,
    *args: object,
    exc_info: bool = True,
    event: str | None = None,
    name: object = None,
    logger: logging.Logger | None = None,
    owner: object = None,
) -> bool:
    """Log *message* at warning level the first time *key* is seen in this process.

    With *owner*, "the first time" is per object: the first time *key* is seen for that
    object while it lives. A new object that CPython places at a dead one's address logs
    its own first time (keys built from ``id()`` would be silenced by the dead one's).

    The record carries aiguard's structured fields (:func:`aiguard._core._logging.fields`):
    ``aiguard_event`` is *event* (default: *key* up to its first ``:``),
    ``aiguard_name`` is *name*, ``aiguard_error`` the exception being handled
    (only with *exc_info*, which attaches it anyway).

    Args:
        key: what makes two messages "the same" (e.g. ``"listener:recs"``).
        message: a ``%``-style logging format.
        *args: its arguments.
        exc_info: attach the exception being handled, if any.
        event: the record's ``aiguard_event``.
        name: the record's ``aiguard_name`` (the guard, breaker... concerned).
        logger: where to log (default: the calling module's logger).
        owner: the object the message is about (a breaker, a listener...), if the message
            is once per such object.

    Returns:
        True if this call logged, False if *key* was logged before.

    Example:
        >>> log_once("doctest-demo", "aiguard: %s", "first", exc_info=False)
        True
        >>> log_once("doctest-demo", "aiguard: %s", "second", exc_info=False)
        False
    """
    if not _first(key, owner):
        return False
    target = _caller_logger(1) if logger is None else logger
    error = sys.exc_info()[1] if exc_info else None  # exc_info=False: the text may be secret
    target.warning(message, *args, exc_info=exc_info,
                   extra=fields(event or key.split(":", 1)[0], name, error), stacklevel=2)
    return True


class Listeners(Generic[E]):
    """An ordered set of callables that receive events; a failing one is counted, not raised.

    Args:
        owner: a short description of who emits (``"breaker 'recs'"``), used
            in the log message when a listener raises.

    Attributes:
        errors: how many times a listener raised, over the object's life.

    Example:
        >>> seen = []
        >>> listeners = Listeners("demo")
        >>> listeners.add(seen.append)
        >>> listeners.add(lambda event: 1 / 0)  # a broken listener
        >>> listeners.emit("tripped")
        >>> seen, listeners.errors, len(listeners)
        (['tripped'], 1, 2)
    """

    __slots__ = ("_lock", "_logger", "_owner", "errors", "items")

    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._logger = _caller_logger(1)  # the module that owns the list
        self._lock = threading.Lock()
        self.items: tuple[Callable[[E], object], ...] = ()
        self.errors = 0

    def add(self, listener: Callable[[E], object]) -> None:
        """Register *listener* (a callable taking one event); adding it twice is a no-op."""
        if not callable(listener):
            raise ConfigurationError("listener", "a callable taking one event", listener)
        with self._lock:
            if listener not in self.items:
                self.items = (*self.items, listener)

    def remove(self, listener: Callable[[E], object]) -> None:
        """Unregister *listener*; removing one that is not registered is a no-op."""
        with self._lock:
            self.items = tuple(item for item in self.items if item != listener)

    def emit(self, event: E) -> None:
        """Call every listener with *event*; exceptions are counted and logged once each."""
        for listener in self.items:
            try:
                listener(event)
            except Exception:  # noqa: PERF203 - principle 1: one listener never breaks the call
                self._failed(listener)

    def _failed(self, listener: Callable[[E], object]) -> None:
        with self._lock:
            self.errors += 1
        log_once(
            f"listener:{self._owner}",
            "aiguard: a listener of %s raised; it is skipped for this event "
            "(logged once, counted in errors)",
            self._owner,
            event="listener.raised",
            name=self._owner,
            logger=self._logger,
            owner=listener,
        )

    def __bool__(self) -> bool:
        """Whether any listener is registered."""
        return bool(self.items)

    def __len__(self) -> int:
        """How many listeners are registered."""
        return len(self.items)

    def __repr__(self) -> str:
        """Show the owner, the number of listeners and of errors."""
        return f"Listeners({self._owner!r}, n={len(self.items)}, errors={self.errors})"

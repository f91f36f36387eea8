"""Changing flags: :meth:`set`, the global switch, and the listeners told of every change."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiguard.contain.flags._base import FlagsBase
from aiguard.contain.flags._types import FlagChange
from aiguard.errors import ConfigurationError, InvalidInputError
from aiguard.state._records import ALL, default_actor, make_record, parse_record, validate_name

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Writing"]


class Writing(FlagsBase):
    """Writes go to the store first, then to the local snapshot, then to the listeners."""

    __slots__ = ()

    def set(
        self,
        name: str,
        *,
        on: bool,
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
            >>> from aiguard import Flags
            >>> flags = Flags()
            >>> flags.set("search.rerank", on=True, percent=10, reason="canary")
            >>> flags.get("search.rerank").percent
            10.0
        """
        validate_name(name)
        if name == ALL and percent is not None:
            raise InvalidInputError("percent", f"None for the global switch {ALL!r}", repr(percent))
        record = make_record(
            on=on,
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
            self._unregistered.pop(name, None)
            self._rebuild()
        if old != state:
            self._emit([FlagChange(name, old, state, "set", self._clock())])

    def shutdown(self, *, reason: str | None = None, actor: str | None = None) -> None:
        """Turn every AI feature off at once: the global switch ``aiguard.all``.

        Distinct from single flags: their own values are kept and come back
        with :meth:`restore`.

        Example:
            >>> from aiguard import Flags
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
            >>> from aiguard import Flags
            >>> flags = Flags()
            >>> flags.add_listener(lambda change: print(change.name, change.new.on))
            >>> flags.set("recs", on=False)
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

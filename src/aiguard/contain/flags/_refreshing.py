"""Reading the store in the background: :meth:`refresh`, the poller, the subscription, close."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from typing_extensions import Self

from aiguard._core._logging import fields
from aiguard.contain.flags._base import FlagsBase
from aiguard.contain.flags._reading import try_parse
from aiguard.contain.flags._types import FlagChange
from aiguard.errors import StoreError

if TYPE_CHECKING:
    from aiguard.state._records import FlagState

__all__ = ["Refreshing"]

_log = logging.getLogger(__name__)


class Refreshing(FlagsBase):
    """The store is read here only: by the poller, a store notification or a manual refresh."""

    __slots__ = ()

    def refresh(self) -> bool:
        """Read the store now and apply what changed; return whether the read succeeded.

        Never raises: a failed read keeps the last known values and marks the
        flag set stale. The background poller calls this every *refresh*
        seconds. After a successful read, declared flags the store does not
        hold yet are registered there (see :meth:`declare`).

        Example:
            >>> from aiguard import Flags, MemoryStore
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
            changes = self._apply(parsed, gen)
            self._read_ok()
        if changes:
            self._emit(sorted(changes, key=lambda c: c.name))
        if self._unregistered and self._ready:
            self._register_declared()
        return True

    def _apply(self, parsed: dict[str, FlagState], gen: int) -> list[FlagChange]:
        with self._lock:
            if gen != self._gen:  # a set() raced this read: the next read has it
                return []
            old = self._states
            self._store_states = parsed
            self._rebuild()
            now = self._clock()
            return [
                FlagChange(name, old.get(name), self._states.get(name), "refresh", now)
                for name in old.keys() | self._states.keys()
                if old.get(name) != self._states.get(name)
            ]

    def _parse_all(self, raw: Mapping[str, Any]) -> dict[str, FlagState]:
        parsed: dict[str, FlagState] = {}
        for name, record in raw.items():
            state = try_parse(name, record)
            if isinstance(state, Exception):
                self._invalid += 1
                self._report_invalid(name, state)
                last = self._store_states.get(name)
                if last is not None:
                    parsed[name] = last
            else:
                parsed[name] = state
        return parsed

    def _report_invalid(self, name: str, error: Exception) -> None:
        if f"invalid:{name}" not in self._reported:
            self._reported.add(f"invalid:{name}")
            _log.warning(
                "aiguard: ignoring invalid record for flag %.60r in %r (%s); "
                "keeping its last good value", name, self._store, error,
                extra=fields("flags.invalid_record", name, error),
            )

    def _read_failed(self, exc: Exception) -> None:
        self._read_errors += 1
        self._last_error = f"{type(exc).__name__}: {exc}"
        if not self._failing:
            self._failing = True
            _log.warning(
                "aiguard: flag store %r cannot be read (%s); keeping the last known values "
                "(logged once per outage)", self._store, self._last_error,
                extra=fields("flags.store.down", self._store, exc),
            )
        self._stale = True

    def _read_ok(self) -> None:
        if self._failing:
            self._failing = False
            _log.info("aiguard: flag store %r can be read again", self._store,
                      extra=fields("flags.store.up", self._store))
        self._stale = False
        self._last_read = self._clock()

    def _after_fork(self) -> None:
        """In a forked child, before the poller restarts: locks no dead thread holds."""
        self._lock = threading.Lock()
        self._read_lock = threading.Lock()

    def close(self) -> None:
        """Stop the background refresher and the store subscription (the snapshot stays usable)."""
        self._closed = True
        self._poller.stop()
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

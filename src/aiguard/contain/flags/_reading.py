"""Reading a flag set: the hot path :meth:`enabled`, and the state, status and history."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiguard._core._logging import fields
from aiguard.contain.flags._base import FlagsBase
from aiguard.contain.flags._rollout import bucket, cached_bucket
from aiguard.contain.flags._snapshot import ALL_OFF, remember
from aiguard.contain.flags._types import FlagsStatus
from aiguard.errors import InvalidInputError, UnknownFlagError
from aiguard.state._records import parse_record

if TYPE_CHECKING:
    from aiguard.state._records import FlagState
    from aiguard.typing import FlagStore

__all__ = ["Reading", "try_parse"]

_log = logging.getLogger(__name__)


def try_parse(name: str, record: object) -> FlagState | Exception:
    """Return the state in *record*, or the exception that says why it is not one."""
    try:
        return parse_record(name, record)
    except (InvalidInputError, TypeError) as exc:
        return exc


class Reading(FlagsBase):
    """What a flag set answers: :meth:`enabled` from the snapshot, the rest from its state."""

    __slots__ = ()

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
            >>> from aiguard import Flags
            >>> flags = Flags()
            >>> flags.set("recs", on=True, percent=50)
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
                return (hit if hit is not None else remember(known, name, key)) < cut  # type: ignore[no-any-return]
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
            _log.warning("aiguard: flags.enabled(%.60r) failed (%r); answering safely "
                         "(logged once, counted in faults)", name, exc,
                         extra=fields("flags.enabled_failed", name, exc))
        return default is True

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
        return self._snap is ALL_OFF

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
            registration_errors=self._registration_errors,
        )

    def get(self, name: str) -> FlagState:
        """Return the current state of flag *name*.

        Raises:
            UnknownFlagError: *name* is neither declared nor in the store.

        Example:
            >>> from aiguard import Flags
            >>> flags = Flags()
            >>> flags.set("recs", on=False, reason="drill", actor="ana")
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
            >>> from aiguard import Flags
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
            >>> from aiguard import Flags
            >>> flags = Flags()
            >>> flags.set("recs", on=False, reason="drift", actor="ana")
            >>> flags.set("recs", on=True, reason="fixed", actor="bo")
            >>> [(s.on, s.actor, s.reason) for s in flags.history("recs")]
            [(False, 'ana', 'drift'), (True, 'bo', 'fixed')]
        """
        read = getattr(self._store, "history", None)
        if callable(read):
            parsed = (try_parse(name, record) for record in read(name))
            states = [state for state in parsed if not isinstance(state, Exception)]
        else:
            states = list(self._local_history.get(name, ()))
        if not states and name not in self._states:
            raise UnknownFlagError(name)
        return states

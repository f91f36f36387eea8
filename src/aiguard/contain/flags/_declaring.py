"""Declaring flags in code: their value while nothing was read, and their place in the store."""

from __future__ import annotations

from aiguard.contain.flags._base import FlagsBase
from aiguard.contain.flags._types import FlagSpec
from aiguard.errors import ConfigurationError, InvalidInputError
from aiguard.state._records import ALL, FlagState, validate_name

__all__ = ["Declaring"]


def _check_declaration(name: object, default: object, description: object) -> str:
    try:
        checked = validate_name(name)
    except InvalidInputError as exc:
        raise ConfigurationError("name", exc.expected, name) from None
    if checked == ALL:
        raise ConfigurationError("name", f"not the reserved {ALL!r} (use shutdown())", name)
    if not isinstance(default, bool):
        raise ConfigurationError("default", "True (fail open) or False (fail closed)", default)
    if description is not None and not isinstance(description, str):
        raise ConfigurationError("description", "a string or None", description)
    return checked


class Declaring(FlagsBase):
    """:meth:`declare`: a flag's fail-open or fail-closed default, registered in the store."""

    __slots__ = ()

    def declare(
        self, name: str, *, default: bool = True, description: str | None = None
    ) -> FlagSpec:
        """Declare flag *name* and its value while nothing was ever read for it.

        ``default=True`` fails open (the feature runs when the store has no
        record or was never readable), ``default=False`` fails closed.
        Declaring the same name again with the same default is harmless.

        On a writable store (memory, file, Redis) a declared flag the store
        does not hold yet is registered there with its default, the actor
        (``user@hostname``) and the reason ``declared in code``, so operators
        see it in ``aiguard flags list`` and can switch it off without
        ``--create``. A value the store already holds is never overridden:
        registration is atomic in the store (Redis ``HSETNX``, the file
        store's lock), so when replicas with different defaults start at
        once, the first registration wins and every replica reads it. A
        read-only store (environment, OpenFeature) is left alone. A store that
        cannot be written now is retried at each refresh.

        Raises:
            ConfigurationError: an invalid name or default, the reserved
                name ``aiguard.all``, or a different default for a declared name.

        Example:
            >>> from aiguard import Flags
            >>> flags = Flags()
            >>> flags.declare("recs.experimental", default=False, description="new ranker")
            FlagSpec(name='recs.experimental', default=False, description='new ranker')
            >>> flags.enabled("recs.experimental")
            False
            >>> flags.store.read_all()["recs.experimental"]["reason"]
            'declared in code (default off)'
        """
        name = _check_declaration(name, default, description)
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
            register = name not in self._store_states
            if register:
                self._unregistered[name] = default
        if register and self._ready and not self._stale:  # else: at the next good read
            self._register_declared()
        return spec

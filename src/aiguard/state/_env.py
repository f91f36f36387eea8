"""A read-only flag store over environment variables: for containers and local runs.

It implements :class:`aiguard.typing.FlagStore` without ``write_missing``, so
declared flags are never registered here (see :meth:`aiguard.Flags.declare`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from aiguard.errors import ConfigurationError
from aiguard.state._readonly import ReadOnlyStore
from aiguard.state._records import NAME_PATTERN

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["EnvStore"]


_ON = frozenset({"on", "true", "1", "yes", "enabled"})
_OFF = frozenset({"off", "false", "0", "no", "disabled"})


class EnvStore(ReadOnlyStore):
    """Flags from environment variables: read-only, for containers and local runs.

    ``AIGUARD_FLAG_RECS__PERSONALIZED=off`` sets flag ``recs.personalized``:
    the part after the prefix is lower-cased and ``__`` becomes ``.``
    (:meth:`variable` gives the name to use). Values, case-insensitive:
    ``on``/``true``/``1``/``yes``/``enabled``, ``off``/``false``/``0``/``no``/
    ``disabled``, or a rollout share such as ``25%`` (on for 25 % of keys).
    A value that is none of these is ignored (the flag keeps its last good
    value), counted in :attr:`garbage` and logged once. :meth:`write` raises
    :class:`~aiguard.errors.StoreError`: change the environment and restart.

    Args:
        prefix: the variable prefix.
        environ: the mapping to read (default: ``os.environ``, read at each refresh).

    Example:
        >>> store = EnvStore(environ={"AIGUARD_FLAG_RECS__PERSONALIZED": "off",
        ...                           "AIGUARD_FLAG_SEARCH": "25%", "PATH": "/bin"})
        >>> store.read_all()["recs.personalized"]["on"]
        False
        >>> store.read_all()["search"]["percent"]
        25.0
        >>> EnvStore.variable("recs.personalized")
        'AIGUARD_FLAG_RECS__PERSONALIZED'
    """

    def __init__(
        self, prefix: str = "AIGUARD_FLAG_", *, environ: Mapping[str, str] | None = None
    ) -> None:
        if not isinstance(prefix, str) or not prefix:
            raise ConfigurationError("prefix", "a non-empty string", prefix)
        super().__init__()
        self.prefix = prefix
        self._environ: Mapping[str, str] = os.environ if environ is None else environ

    def __repr__(self) -> str:
        """Show the prefix."""
        return f"EnvStore({self.prefix!r})"

    @staticmethod
    def variable(name: str, prefix: str = "AIGUARD_FLAG_") -> str:
        """Return the environment variable that sets flag *name*."""
        return prefix + name.upper().replace(".", "__")

    def _parse(self, variable: str, value: str) -> tuple[str, dict[str, Any]] | None:
        name = variable[len(self.prefix) :].lower().replace("__", ".")
        if NAME_PATTERN.fullmatch(name) is None:
            return None
        text = value.strip().lower()
        percent: float | None = None
        if text in _ON:
            on = True
        elif text in _OFF:
            on = False
        elif text.endswith("%"):
            try:
                percent = float(text[:-1])
            except ValueError:
                return None
            if not 0 <= percent <= 100:  # also refuses nan
                return None
            on = True
        else:
            return None
        record = {"on": on, "percent": percent, "reason": f"environment variable {variable}"}
        return name, record

    def read_all(self) -> dict[str, dict[str, Any]]:
        """Return the records of every ``PREFIX*`` variable that holds a valid value."""
        records: dict[str, dict[str, Any]] = {}
        for variable, value in list(self._environ.items()):
            if not variable.startswith(self.prefix):
                continue
            parsed = self._parse(variable, value)
            if parsed is not None:
                records[parsed[0]] = parsed[1]
                continue
            self._unusable(
                variable, "aiguard: ignoring %s=%.40r (expected on, off or a share like 25%%)",
                variable, value,
            )
            name = variable[len(self.prefix) :].lower().replace("__", ".")
            if name in self._last_good:
                records[name] = self._last_good[name]
        self._last_good = records
        return {name: dict(record) for name, record in records.items()}

    def _refusal(self, name: str) -> str:
        return (
            f"EnvStore is read-only: set {self.variable(name, self.prefix)} in the "
            "environment and restart, or use a FileStore or RedisStore to flip flags live"
        )

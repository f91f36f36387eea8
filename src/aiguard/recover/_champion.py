"""The champion choice as a record in a state store, shared by every replica and the CLI.

A registry named ``recs`` keeps its choice under the flag name ``models.recs``
of any :class:`~aiguard.typing.FlagStore` (memory, file, Redis). The record
is a flag record (``on`` is always true, so flag tools read it as a harmless
flag) with the champion fields added::

    {"on": true, "percent": null, "updated_at": 1764120000.0,
     "actor": "ana@ops-1", "reason": "drift, INC-42",
     "kind": "aiguard.model/1", "version": "v2", "previous": "v3",
     "action": "rollback", "good": ["v1"]}

``good`` is the stack of *known good* versions, most recent first, not
counting the champion: a promote pushes the outgoing champion (it served and
was not rolled back), a rollback pops its target and drops the outgoing
champion (it was rolled back). The default rollback target, the *last known
good* version, is therefore ``good[0]``: the last version that served as
champion before the current one and was not itself rolled back. Carrying the
stack in every record keeps rollback correct when the store's bounded
history has forgotten older changes.

Writers read, change and write the record: two writers at the same instant
(the CLI and a canary) are ordered by the store, last one wins; both changes
are in the history.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs

from aiguard.errors import InvalidInputError
from aiguard.state._records import validate_name

if TYPE_CHECKING:
    from aiguard.typing import FlagStore

__all__ = ["KIND", "PREFIX", "ChampionChange", "change_record", "key", "parse", "validate_version"]

PREFIX: Final = "models."
KIND: Final = "aiguard.model/1"
_GOOD_LIMIT: Final = 50
_VERSION_LIMIT: Final = 128


def key(name: str) -> str:
    """Return the store key of registry *name* (``models.NAME``).

    Example:
        >>> key("recs")
        'models.recs'
    """
    return PREFIX + name


def validate_registry_name(name: object) -> str:
    """Return *name* if it can name a registry (a flag name of at most 121 characters)."""
    validate_name(name, argument="name")
    assert isinstance(name, str)
    if len(PREFIX + name) > 128:
        raise InvalidInputError("name", "a registry name of at most 121 characters", repr(name))
    return name


def validate_version(version: object, argument: str = "version") -> str:
    """Return *version* if it is a non-empty string of at most 128 characters.

    Example:
        >>> validate_version("2026-12-01")
        '2026-12-01'
    """
    if not isinstance(version, str) or not version or len(version) > _VERSION_LIMIT:
        raise InvalidInputError(argument, "a non-empty string of at most 128 characters",
                                repr(version)[:80])
    return version


@attrs.frozen
class ChampionChange:
    """One change of champion: which version served from when, who changed it and why.

    Attributes:
        version: the new champion.
        previous: the champion before (None for the first).
        action: ``"promote"`` or ``"rollback"``.
        at: wall-clock seconds since the epoch.
        actor: who.
        reason: why.
        good: the known good versions after the change, most recent first.
    """

    version: str
    previous: str | None
    action: Literal["promote", "rollback"]
    at: float | None
    actor: str | None
    reason: str | None
    good: tuple[str, ...] = ()

    def to_record(self) -> dict[str, Any]:
        """Return the store record of this change."""
        return {"on": True, "percent": None, "updated_at": self.at, "actor": self.actor,
                "reason": self.reason, "kind": KIND, "version": self.version,
                "previous": self.previous, "action": self.action, "good": list(self.good)}


def parse(record: object) -> ChampionChange | None:
    """Return the change a stored record holds, or None when it is not a champion record.

    Example:
        >>> parse({"on": True, "kind": "aiguard.model/1", "version": "v1",
        ...        "action": "promote"}).version
        'v1'
        >>> parse({"on": False}) is None
        True
    """
    if not isinstance(record, Mapping) or record.get("kind") != KIND:
        return None
    version, previous = record.get("version"), record.get("previous")
    action, good = record.get("action"), record.get("good", [])
    at = record.get("updated_at")
    if (
        not isinstance(version, str)
        or not (previous is None or isinstance(previous, str))
        or action not in {"promote", "rollback"}
        or not isinstance(good, list)
        or not all(isinstance(g, str) for g in good)
        or not (at is None or (isinstance(at, (int, float)) and not isinstance(at, bool)))
    ):
        return None
    actor, reason = record.get("actor"), record.get("reason")
    return ChampionChange(
        version, previous, action, None if at is None else float(at),
        actor if isinstance(actor, str) else None,
        reason if isinstance(reason, str) else None, tuple(good))


def change_record(
    current: ChampionChange | None,
    serving: str | None,
    *,
    action: Literal["promote", "rollback"],
    to: str | None,
    at: float,
    actor: str | None,
    reason: str | None,
) -> ChampionChange:
    """Return the change that promotes *to*, or rolls back (to *to*, default the last known good).

    *current* is the store's record (None when nothing was written yet);
    *serving* is the champion when there is no record (a registry's first
    registered version).

    Raises:
        InvalidInputError: a rollback with no known good version to go to, or
            promoting the champion itself.

    Example:
        >>> first = change_record(None, "v1", action="promote", to="v2", at=0.0,
        ...                       actor="ana", reason="retrained")
        >>> first.good
        ('v1',)
        >>> change_record(first, None, action="rollback", to=None, at=1.0, actor="ana",
        ...               reason="bad").version
        'v1'
    """
    champion = current.version if current is not None else serving
    good = list(current.good) if current is not None else []
    if action == "promote":
        assert to is not None
        if to == champion:
            raise InvalidInputError("version", f"a version other than the champion {champion!r}",
                                    repr(to))
        stack = [champion] if champion is not None else []
        good = [v for v in [*stack, *good] if v != to]
        target = to
    else:
        candidates = [v for v in good if v != champion]
        if to is None:
            if not candidates:
                raise InvalidInputError(
                    "to", f"given: no known good version before {champion!r} to roll back to",
                    "None")
            to = candidates[0]
        if to == champion:
            raise InvalidInputError("to", f"a version other than the champion {champion!r}",
                                    repr(to))
        good = [v for v in good if v not in {to, champion}]
        target = to
    return ChampionChange(target, champion, action, at, actor, reason,
                          tuple(dict.fromkeys(good))[:_GOOD_LIMIT])


def read(store: FlagStore, name: str) -> ChampionChange | None:
    """Return registry *name*'s current choice in *store* (None when none; StoreError when down)."""
    return parse(store.read_all().get(key(name)))


def read_history(store: FlagStore, name: str) -> list[ChampionChange]:
    """Return the changes the store remembers for *name*, oldest first ([] without history)."""
    history = getattr(store, "history", None)
    if not callable(history):
        return []
    changes = (parse(record) for record in history(key(name)))
    return [change for change in changes if change is not None]

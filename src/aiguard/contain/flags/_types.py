"""Value objects of the flag set: what a flag is declared as, how it changed, how fresh it is."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import attrs

if TYPE_CHECKING:
    from aiguard.state._records import FlagState

__all__ = ["FlagChange", "FlagSpec", "FlagsStatus"]


@attrs.frozen(slots=True)
class FlagSpec:
    """A flag declared in code: its value while nothing was ever read from the store.

    Attributes:
        name: the flag name.
        default: True to fail open (the feature runs until told otherwise),
            False to fail closed (it stays off until a store says on).
        description: what the flag turns off, for the CLI and the docs.

    Example:
        >>> FlagSpec("recs.personalized", default=True, description="personalised recs")
        FlagSpec(name='recs.personalized', default=True, description='personalised recs')
    """

    name: str
    default: bool = attrs.field(default=True, kw_only=True)
    description: str | None = attrs.field(default=None, kw_only=True)


@attrs.frozen(slots=True)
class FlagChange:
    """A flag changed value: given to every listener (and to the incident timeline).

    Attributes:
        name: the flag name.
        old: the state before (None when the flag was unknown).
        new: the state after (None when its record vanished and nothing was declared).
        source: ``"set"`` (changed through this flag set) or ``"refresh"``
            (seen in the store: another process, the CLI, an edited file).
        at: the flag set's clock when the change was seen.

    Example:
        >>> from aiguard.state._records import FlagState
        >>> FlagChange("f", None, FlagState("f", on=False), "set", 0.0).new.on
        False
    """

    name: str
    old: FlagState | None
    new: FlagState | None
    source: Literal["set", "refresh"]
    at: float


@attrs.frozen(slots=True)
class FlagsStatus:
    """How fresh a flag set's snapshot is.

    Attributes:
        stale: the last read of the store failed (or none ever succeeded):
            the values in force are the last known ones (or the declared defaults).
        last_read: clock time of the last successful read (None: never).
        read_errors: failed reads since the flag set was built.
        invalid_records: records ignored because they failed validation.
        listener_errors: listener calls that raised.
        last_error: the last read error, as text.
        registration_errors: failed attempts to register declared flags in
            the store (retried at every refresh until they land).

    Example:
        >>> from aiguard import Flags
        >>> Flags(refresh=None).status.stale
        False
    """

    stale: bool
    last_read: float | None
    read_errors: int
    invalid_records: int
    listener_errors: int
    last_error: str | None
    registration_errors: int = 0

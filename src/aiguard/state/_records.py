"""The flag record: the one JSON shape every flag store holds, and its validation.

A record is a JSON object. Only ``on`` is required; unknown keys are ignored
(so newer writers do not break older readers)::

    {"on": false, "percent": null, "updated_at": 1764120000.0,
     "actor": "ana@ops-1", "reason": "recs drift, INC-42"}

* ``on`` (bool): the feature is on (subject to ``percent``) or off.
* ``percent`` (number in [0, 100] or null): the share of keys in the rollout;
  null means everyone (100).
* ``updated_at`` (number or null): wall-clock seconds since the epoch.
* ``actor`` / ``reason`` (string or null): who changed it, and why.

Stores (memory, file, environment, Redis, OpenFeature) only move records;
:func:`parse_record` is where a record becomes a trusted :class:`FlagState`.
"""

from __future__ import annotations

import getpass
import json
import math
import re
import socket
from collections.abc import Mapping
from typing import Any, Final, Literal

import attrs

from aiguard._core._validate import real
from aiguard.errors import ConfigurationError, InvalidInputError

__all__ = [
    "ALL",
    "HISTORY_LIMIT",
    "NAME_PATTERN",
    "FlagState",
    "default_actor",
    "encode_record",
    "make_record",
    "parse_record",
    "validate_name",
    "validate_percent",
]

NAME_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,127}")
"""Flag names: lower-case letters, digits, ``.``, ``_``, ``-``; 1 to 128 characters."""
ALL: Final = "aiguard.all"
"""The reserved global switch: while it is off, every flag reads off."""
HISTORY_LIMIT: Final = 100
"""How many past records stores keep per flag by default."""
_TEXT_LIMIT: Final = 1000

_EXPECTED_NAME: Final = "a flag name matching [a-z0-9][a-z0-9._-]{0,127}"
_EXPECTED_PERCENT: Final = "a number in [0, 100] or None"


def validate_name(name: object, *, argument: str = "name") -> str:
    """Return *name* if it is a valid flag name, else raise InvalidInputError.

    Example:
        >>> validate_name("recs.personalized")
        'recs.personalized'
        >>> validate_name("Recs!")
        Traceback (most recent call last):
        ...
        aiguard.errors.InvalidInputError: name must be a flag name matching \
[a-z0-9][a-z0-9._-]{0,127}, got 'Recs!'
    """
    if not isinstance(name, str) or NAME_PATTERN.fullmatch(name) is None:
        raise InvalidInputError(argument, _EXPECTED_NAME, repr(name))
    return name


def validate_percent(percent: object, *, argument: str = "percent") -> float | None:
    """Return *percent* as a float in [0, 100] (or None), else raise InvalidInputError.

    Numpy scalars are accepted, bools refused (see :mod:`aiguard._core._validate`).

    Example:
        >>> import numpy as np
        >>> validate_percent(np.float32(25))
        25.0
        >>> validate_percent(101)
        Traceback (most recent call last):
        ...
        aiguard.errors.InvalidInputError: percent must be a number in [0, 100] or None, got 101
    """
    if percent is None:
        return None
    try:  # the shared validator (numpy scalars in, bools out); a change is input, not config
        return real(percent, argument, low=0.0, high=100.0, expected=_EXPECTED_PERCENT)
    except ConfigurationError as exc:
        raise InvalidInputError(argument, _EXPECTED_PERCENT, repr(exc.got)) from None


def _validate_text(value: object, argument: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > _TEXT_LIMIT:
        expected = f"a string of at most {_TEXT_LIMIT} characters"
        raise InvalidInputError(argument, expected, repr(value)[:80])
    return value


@attrs.frozen(slots=True)
class FlagState:
    """One flag's current value, as read from a store or declared in code.

    Attributes:
        name: the flag name (the only positional field).
        on: whether the feature is on (for everyone in ``percent``).
        percent: share of keys in the rollout, in [0, 100]; None means everyone.
        updated_at: wall-clock seconds since the epoch of the last change
            (None for a declared default that was never written).
        actor: who made the change.
        reason: why.
        source: ``"store"`` (read from, or written to, the store) or
            ``"declared"`` (the declared default: nothing was ever read).

    Example:
        >>> state = FlagState("recs.personalized", on=True, percent=25.0)
        >>> state.fully_on, state.fully_off
        (False, False)
    """

    name: str
    on: bool = attrs.field(kw_only=True)
    percent: float | None = attrs.field(default=None, kw_only=True)
    updated_at: float | None = attrs.field(default=None, kw_only=True)
    actor: str | None = attrs.field(default=None, kw_only=True)
    reason: str | None = attrs.field(default=None, kw_only=True)
    source: Literal["store", "declared"] = attrs.field(default="store", kw_only=True)

    @property
    def fully_on(self) -> bool:
        """On for every key (no partial rollout)."""
        return self.on and (self.percent is None or self.percent >= 100)

    @property
    def fully_off(self) -> bool:
        """Off for every key (switched off, or a 0 % rollout)."""
        return not self.on or self.percent == 0

    def to_record(self) -> dict[str, Any]:
        """Return the JSON record a store keeps for this state.

        Example:
            >>> FlagState("a", on=False, reason="drill").to_record()
            {'on': False, 'percent': None, 'updated_at': None, 'actor': None, 'reason': 'drill'}
        """
        return {
            "on": self.on,
            "percent": self.percent,
            "updated_at": self.updated_at,
            "actor": self.actor,
            "reason": self.reason,
        }


def make_record(
    *,
    on: object,
    percent: object = None,
    updated_at: float | None = None,
    actor: object = None,
    reason: object = None,
) -> dict[str, Any]:
    """Validate the fields of a change and return its JSON record.

    Raises:
        InvalidInputError: *on* is not a bool, *percent* not in [0, 100],
            *actor* or *reason* not a short string.

    Example:
        >>> make_record(on=True, percent=10, updated_at=0.0, actor="ana", reason="canary")
        {'on': True, 'percent': 10.0, 'updated_at': 0.0, 'actor': 'ana', 'reason': 'canary'}
    """
    if not isinstance(on, bool):
        raise InvalidInputError("on", "True or False", repr(on))
    return {
        "on": on,
        "percent": validate_percent(percent),
        "updated_at": updated_at,
        "actor": _validate_text(actor, "actor"),
        "reason": _validate_text(reason, "reason"),
    }


def parse_record(name: str, record: object) -> FlagState:
    """Turn a stored record into a :class:`FlagState`, or raise InvalidInputError.

    Unknown keys are ignored; missing optional keys default to None.

    Example:
        >>> parse_record("recs", {"on": False, "reason": "3 AM", "future_key": 1})
        FlagState(name='recs', on=False, percent=None, updated_at=None, actor=None, \
reason='3 AM', source='store')
        >>> parse_record("recs", {"on": "nope"})
        Traceback (most recent call last):
        ...
        aiguard.errors.InvalidInputError: record['on'] must be True or False, got 'nope'
    """
    validate_name(name)
    if not isinstance(record, Mapping):
        raise InvalidInputError("record", "a JSON object", repr(record)[:80])
    on = record.get("on")
    if not isinstance(on, bool):
        raise InvalidInputError("record['on']", "True or False", repr(on)[:80])
    updated_at = record.get("updated_at")
    if updated_at is not None and (
        isinstance(updated_at, bool)
        or not isinstance(updated_at, (int, float))
        or not math.isfinite(updated_at)
    ):
        raise InvalidInputError("record['updated_at']", "a number or null", repr(updated_at)[:80])
    return FlagState(
        name=name,
        on=on,
        percent=validate_percent(record.get("percent"), argument="record['percent']"),
        updated_at=None if updated_at is None else float(updated_at),
        actor=_validate_text(record.get("actor"), "record['actor']"),
        reason=_validate_text(record.get("reason"), "record['reason']"),
    )


_ACTOR: str | None = None


def default_actor() -> str:
    """Return ``user@hostname`` for this process: who made a change when nobody said.

    Example:
        >>> "@" in default_actor()
        True
    """
    global _ACTOR
    if _ACTOR is None:
        try:
            user = getpass.getuser()
        except Exception:  # no passwd entry in some containers
            user = "unknown"
        _ACTOR = f"{user}@{socket.gethostname()}"
    return _ACTOR


def encode_record(record: object, *, argument: str = "record") -> str:
    """Return *record* as compact JSON, or raise InvalidInputError if it is not a JSON object.

    Example:
        >>> encode_record({"on": False})
        '{"on":false}'
    """
    if not isinstance(record, Mapping):
        raise InvalidInputError(argument, "a JSON-serialisable mapping", repr(record)[:80])
    try:
        return json.dumps(dict(record), sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(argument, "a JSON-serialisable mapping", f"{exc}") from exc

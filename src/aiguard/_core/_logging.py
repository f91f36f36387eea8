"""How aiguard logs: one logger per module, the same structured fields, state changes once.

The conventions every module follows (the user-facing page is
``docs/integrations/logging.md``):

* **Loggers.** Each module logs on ``logging.getLogger(__name__)``, so every
  logger sits under ``aiguard.`` (``aiguard.state._fleet``,
  ``aiguard.contain.flags._refreshing``...): configure ``"aiguard"`` for all of
  them, or one subtree. The ``"aiguard"`` logger holds a
  :class:`logging.NullHandler` (the standard library's advice for libraries):
  an application that configures no logging sees nothing, and one that does
  sees everything at WARNING and above through its root handlers.
* **Fields.** Every record carries the same ``extra=`` fields, named with the
  :data:`PREFIX` ``aiguard_`` so they never clash with other libraries' fields:
  ``aiguard_event`` (a short, stable name of what happened, e.g.
  ``"store.down"``), ``aiguard_name`` (the guard, breaker, registry, store...
  concerned, or None) and ``aiguard_error`` (``"Type: message"`` of the
  exception involved, or None). A JSON formatter can copy them as they are.
* **Never per call.** Nothing on the protected call's path logs at INFO or
  above. A fault inside aiguard is counted and logged once (:func:`log_once`,
  in :mod:`aiguard._core._events`); a dependency that goes down and comes back
  is logged once per change of state (:class:`Health`): WARNING when it goes
  down, INFO when it is back, nothing for the polls in between.
"""

from __future__ import annotations

import logging
from typing import Final

__all__ = ["FIELDS", "PREFIX", "Health", "describe", "fields"]

PREFIX: Final = "aiguard_"
"""The prefix of every ``extra=`` field aiguard puts on its log records."""

FIELDS: Final = (f"{PREFIX}event", f"{PREFIX}name", f"{PREFIX}error")
"""The fields every aiguard log record carries (see the module docstring)."""

ROOT: Final = logging.getLogger("aiguard")
# The library convention: no output unless the application configures logging (and no
# "No handlers could be found" fallback to stderr from logging.lastResort either).
if not any(isinstance(h, logging.NullHandler) for h in ROOT.handlers):  # pragma: no branch
    ROOT.addHandler(logging.NullHandler())


def describe(error: BaseException | str | None) -> str | None:
    """``"Type: message"`` for an exception, the text itself for a string, None for None.

    Example:
        >>> describe(ValueError("bad")), describe("timed out"), describe(None)
        ('ValueError: bad', 'timed out', None)
    """
    if error is None or isinstance(error, str):
        return error
    return f"{type(error).__name__}: {error}"


def fields(event: str, name: object = None, error: BaseException | str | None = None
           ) -> dict[str, object]:
    """The ``extra=`` mapping of one aiguard log record.

    Args:
        event: what happened, a short stable name (``"store.down"``).
        name: the guard, breaker, store... concerned (kept as is when a str,
            else its ``repr``), or None.
        error: the exception involved (or its description), or None.

    Example:
        >>> fields("store.down", "recs", OSError("refused"))
        {'aiguard_event': 'store.down', 'aiguard_name': 'recs', 'aiguard_error': 'OSError: refused'}
    """
    label = name if name is None or isinstance(name, str) else repr(name)
    return {FIELDS[0]: event, FIELDS[1]: label, FIELDS[2]: describe(error)}


class Health:
    """Log a dependency's changes of state once each: down at WARNING, back up at INFO.

    A background poller that cannot reach its store calls :meth:`down` at
    every failed poll and :meth:`up` at every good one; only the first call
    after a change logs, so an outage of an hour is two lines, not 3,600.

    Args:
        logger: the module's logger.
        event: the event's stem: the records say ``"<event>.down"`` and ``"<event>.up"``.
        name: what the records name (``aiguard_name``).

    Example:
        >>> health = Health(logging.getLogger("aiguard.demo"), "store", "recs")
        >>> health.down("cannot read %s", "it", error=OSError("refused"))
        True
        >>> health.down("cannot read %s", "it", error=OSError("refused"))  # still down
        False
        >>> health.up("can read it again"), health.up("can read it again"), health.failing
        (True, False, False)
    """

    __slots__ = ("event", "failing", "logger", "name")

    def __init__(self, logger: logging.Logger, event: str, name: object) -> None:
        self.logger = logger
        self.event = event
        self.name = name
        self.failing = False
        """True from a :meth:`down` until the next :meth:`up`."""

    # No lock: each owner reports from one poller thread or under its own lock, and a
    # lock held across a fork would stay held in the child. A race costs one extra line.

    def down(self, message: str, *args: object, error: BaseException | str | None = None) -> bool:
        """Report a failure; log *message* at WARNING if this starts an outage. Return whether."""
        if self.failing:
            return False
        self.failing = True
        self.logger.warning(message, *args, extra=fields(f"{self.event}.down", self.name, error),
                            stacklevel=2)
        return True

    def up(self, message: str, *args: object) -> bool:
        """Report a success; log *message* at INFO if this ends an outage. Return whether."""
        if not self.failing:
            return False
        self.failing = False
        self.logger.info(message, *args, extra=fields(f"{self.event}.up", self.name),
                         stacklevel=2)
        return True

    def __repr__(self) -> str:
        """Show the event stem, the name and the state."""
        return f"Health({self.event!r}, {self.name!r}, failing={self.failing})"

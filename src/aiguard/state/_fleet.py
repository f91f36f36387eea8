"""Shared breaker state: open a breaker on every replica when enough of them tripped.

Opt-in. Each replica's breaker posts its own state to a *board* (a Redis
store, a file, or memory), and a background poller on every replica reads the
board and applies a :class:`FleetRule`: when ``tripped`` of the ``of``
replicas tripped within ``within`` seconds, the breakers that are still closed
are forced open; when the tripped replicas recover (or stop reporting), the
breakers the rule forced are reset. One bad replica alone never opens the
fleet (unless you ask for ``tripped=1``).

Only the background poller touches the board: the breaker's listener just
stores the latest report in memory, so the protected call does no I/O. A board
that cannot be reached is logged when it goes down (WARNING) and when it is
back (INFO), never at every poll in between.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

import attrs

from aiguard._core._clock import validate_clock
from aiguard._core._logging import Health, fields
from aiguard._core._poller import Poller
from aiguard._core._validate import count, duration
from aiguard.errors import ConfigurationError
from aiguard.state._boards import BreakerBoard, FileBoard, MemoryBoard

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import timedelta

    from aiguard.typing import Clock

__all__ = ["BreakerBoard", "FileBoard", "FleetBreaker", "FleetRule", "MemoryBoard", "share_breaker"]

_log = logging.getLogger(__name__)
_TRIPPED = frozenset({"open", "half_open"})


def _tripped(value: object) -> int:
    return count(value, "tripped")


def _of(value: object) -> int:
    return count(value, "of")


def _within(value: object) -> float:
    return duration(value, "within")


@attrs.frozen
class FleetRule:
    """Open everywhere when ``tripped`` of the ``of`` replicas tripped within ``within`` seconds.

    A replica counts while its own breaker is open or half-open, it tripped
    (last went open) at most ``within`` seconds ago, and its report was
    refreshed within ``within`` seconds (a replica that died stops counting).
    A breaker that keeps failing re-trips at each failed half-open trial, so
    choose ``within`` >= the breaker's ``open_for`` to keep counting it.
    ``of`` is the fleet size the rule is written for; more replicas on the
    board than ``of`` is logged once.

    Example:
        >>> rule = FleetRule(tripped=2, of=4, within=60)
        >>> print(rule)
        open everywhere when 2 of 4 replicas tripped within 60 s
        >>> reports = {"a": {"state": "open", "tripped_at": 95, "at": 99},
        ...            "b": {"state": "closed", "tripped_at": None, "at": 99}}
        >>> rule.count(reports, now=100.0)
        1
    """

    tripped: int = attrs.field(converter=_tripped)
    of: int = attrs.field(converter=_of)
    within: float = attrs.field(converter=_within)

    def __attrs_post_init__(self) -> None:
        """Check that the rule can be met."""
        if self.tripped > self.of:
            raise ConfigurationError("tripped", f"<= of ({self.of})", self.tripped)

    def __str__(self) -> str:
        """Read the rule as a sentence."""
        return (
            f"open everywhere when {self.tripped} of {self.of} replicas "
            f"tripped within {self.within:g} s"
        )

    def count(self, reports: Mapping[str, Mapping[str, Any]], *, now: float) -> int:
        """Return how many replicas in *reports* count as tripped at time *now*."""
        since = now - self.within
        total = 0
        for report in reports.values():
            tripped_at, at = report.get("tripped_at"), report.get("at")
            if (
                report.get("state") in _TRIPPED
                and isinstance(tripped_at, (int, float))
                and isinstance(at, (int, float))
                and tripped_at >= since
                and at >= since
            ):
                total += 1
        return total


def _state_name(state: object) -> str:
    return str(getattr(state, "value", state))


def _default_replica() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class FleetBreaker:
    """One replica's membership in a shared breaker; made by :func:`share_breaker`.

    Attributes:
        engaged: whether the fleet rule held at the last successful poll.
        tripped: how many replicas counted as tripped at that poll.
        stale: whether the last poll failed to reach the board (the last
            decision then stays in force).
        errors: board failures so far.

    Example:
        >>> board = MemoryBoard()
        >>> class Breaker:  # any object with add_listener, force_open, reset, state
        ...     state = "closed"
        ...     def add_listener(self, fn): pass
        ...     def force_open(self): self.state = "forced_open"
        ...     def reset(self): self.state = "closed"
        >>> mine = Breaker()
        >>> fleet = share_breaker(mine, name="recs", board=board, replica="me",
        ...                       rule=FleetRule(tripped=2, of=3, within=60),
        ...                       clock=lambda: 100.0, start=False)
        >>> for other in ("a", "b"):
        ...     board.post_breaker("recs", other, {"state": "open", "tripped_at": 99, "at": 99})
        >>> fleet.poll(), mine.state
        (True, 'forced_open')
        >>> board.post_breaker("recs", "a", {"state": "closed", "tripped_at": None, "at": 100})
        >>> fleet.poll(), mine.state
        (False, 'closed')
    """

    def __init__(
        self,
        breaker: Any,
        *,
        board: BreakerBoard,
        rule: FleetRule,
        name: str | None = None,
        replica: str | None = None,
        interval: float | timedelta = 1.0,
        clock: Clock = time.time,
        start: bool = True,
    ) -> None:
        for method in ("add_listener", "force_open", "reset"):
            if not callable(getattr(breaker, method, None)):
                raise ConfigurationError("breaker", f"a circuit breaker with {method}()", breaker)
        if not isinstance(board, BreakerBoard):
            raise ConfigurationError(
                "board", "a breaker board (RedisStore, FileBoard, MemoryBoard)", board
            )
        if not isinstance(rule, FleetRule):
            raise ConfigurationError("rule", "a FleetRule", rule)
        name = name if name is not None else getattr(breaker, "name", None)
        if not isinstance(name, str) or not name:
            raise ConfigurationError("name", "a non-empty string (the breaker has no name)", name)
        if replica is not None and (not isinstance(replica, str) or not replica):
            raise ConfigurationError("replica", "a non-empty string or None", replica)
        self.breaker = breaker
        self.board = board
        self.rule = rule
        self.name = name
        self.interval = duration(interval, "interval")
        self._clock = validate_clock(clock)
        self._replica_given = replica is not None
        self.replica = replica if replica is not None else _default_replica()
        self.engaged = False
        self.tripped = 0
        self.stale = False
        self.errors = 0
        self._forced = False
        self._warned_size = False
        self._board_health = Health(_log, "fleet.board", name)
        self._breaker_health = Health(_log, "fleet.breaker", name)
        self._closed = False
        self._poll_lock = threading.Lock()
        state = _state_name(breaker.state)
        self._report = self._make_report(state, self._clock() if state in _TRIPPED else None)
        self._poller = Poller(
            self.poll, interval=self.interval, name=f"aiguard-fleet-{self.name}", first=0,
            after_fork=self._after_fork, start=False,
        )
        try:  # transitions only: per-call outcome events would cost an allocation per call
            breaker.add_listener(self._on_event, outcomes=False)
        except TypeError:  # a breaker whose listeners only ever see transitions
            breaker.add_listener(self._on_event)
        if start:
            self._poller.start()

    def __repr__(self) -> str:
        """Show the breaker name, replica, rule and whether the fleet is engaged."""
        return (
            f"FleetBreaker({self.name!r}, replica={self.replica!r}, "
            f"rule={self.rule!r}, engaged={self.engaged})"
        )

    # -- the call path: memory only ----------------------------------------

    def _make_report(self, state: str, tripped_at: float | None) -> dict[str, Any]:
        return {"state": state, "tripped_at": tripped_at, "replica": self.replica}

    def _on_event(self, event: Any) -> None:
        if getattr(event, "kind", "transition") != "transition":
            return  # an outcome of one call, not a state change
        state = _state_name(getattr(event, "new", self.breaker.state))
        if state == "open":
            tripped_at: float | None = self._clock()
        elif state == "half_open":
            tripped_at = self._report.get("tripped_at")
        else:
            tripped_at = None
        self._report = self._make_report(state, tripped_at)
        self._poller.wake()

    # -- the background poller ---------------------------------------------

    def _after_fork(self) -> None:
        """In a forked child, before the poller restarts: a fresh lock and replica id."""
        self._poll_lock = threading.Lock()
        if not self._replica_given:
            self.replica = _default_replica()
            self._report = {**self._report, "replica": self.replica}

    def poll(self) -> bool:
        """Post this replica's report, read the board, apply the rule; return ``engaged``.

        The background thread calls this every ``interval`` seconds (and at
        once after a local transition). Never raises: a board failure marks
        the fleet state stale, is counted and logged once, and keeps the last
        decision in force.
        """
        with self._poll_lock:
            if self._closed:
                return self.engaged
            now = self._clock()
            try:
                self.board.post_breaker(self.name, self.replica, {**self._report, "at": now})
                reports = self.board.read_breakers(self.name)
            except Exception as exc:
                self.errors += 1
                self._board_health.down(
                    "aiguard: shared breaker %r cannot reach its board: %s; keeping the last "
                    "decision (logged once until it is back)", self.name, exc, error=exc)
                self.stale = True
                return self.engaged
            self.stale = False
            self._board_health.up("aiguard: shared breaker %r reaches its board again",
                                  self.name)
            self._forget_dead(reports, now)
            if len(reports) > self.rule.of and not self._warned_size:
                self._warned_size = True
                _log.warning("aiguard: shared breaker %r sees %d replicas, rule %s",
                             self.name, len(reports), self.rule,
                             extra=fields("fleet.oversized", self.name))
            self.tripped = self.rule.count(reports, now=now)
            self.engaged = self.tripped >= self.rule.tripped
            self._apply()
            return self.engaged

    def _forget_dead(self, reports: Mapping[str, Mapping[str, Any]], now: float) -> None:
        horizon = now - max(10 * self.rule.within, 300.0)
        for replica, report in reports.items():
            at = report.get("at")
            if not isinstance(at, (int, float)) or at < horizon:
                with contextlib.suppress(Exception):
                    self.board.forget_breaker(self.name, replica)

    def _apply(self) -> None:
        state = _state_name(self.breaker.state)
        try:
            if self.engaged and state == "closed":
                self.breaker.force_open()
                self._forced = True
            elif not self.engaged and self._forced:
                self._forced = False
                if state == "forced_open":  # an operator may have changed it meanwhile
                    self.breaker.reset()
        except Exception as exc:
            self.errors += 1
            self._breaker_health.down("aiguard: shared breaker %r could not change its "
                                      "breaker: %r", self.name, exc, error=exc)
        else:
            self._breaker_health.up("aiguard: shared breaker %r can change its breaker again",
                                    self.name)

    def close(self) -> None:
        """Stop the poller, release a breaker the rule forced open, take our report down."""
        self._closed = True
        self._poller.stop()
        with self._poll_lock:
            if self._forced and _state_name(self.breaker.state) == "forced_open":
                self.breaker.reset()
            self._forced = False
            with contextlib.suppress(Exception):  # best effort: our report expires anyway
                self.board.forget_breaker(self.name, self.replica)


def share_breaker(
    breaker: Any,
    *,
    board: BreakerBoard,
    rule: FleetRule,
    name: str | None = None,
    replica: str | None = None,
    interval: float | timedelta = 1.0,
    clock: Clock = time.time,
    start: bool = True,
) -> FleetBreaker:
    """Share *breaker*'s state with the other replicas through *board*, under *rule*.

    Args:
        breaker: the local :class:`~aiguard.CircuitBreaker`.
        board: a ``RedisStore`` (a fleet), a ``FileBoard`` (one host) or a
            ``MemoryBoard`` (one process).
        rule: when to open every replica, e.g. ``FleetRule(tripped=3, of=10, within=60)``.
        name: the shared breaker's name on the board (default: ``breaker.name``).
        replica: this replica's id (default ``hostname:pid``, renewed in forked children).
        interval: seconds between polls of the board (a number or a timedelta).
        clock: wall-clock seconds, comparable between hosts (default :func:`time.time`).
        start: start the background poller (``False``: call :meth:`FleetBreaker.poll` yourself).

    Returns:
        The :class:`FleetBreaker`; ``close()`` it to leave the fleet.

    Raises:
        ConfigurationError: an invalid argument.

    Example:
        >>> class Breaker:
        ...     name, state = "recs", "closed"
        ...     def add_listener(self, fn): pass
        ...     def force_open(self): self.state = "forced_open"
        ...     def reset(self): self.state = "closed"
        >>> fleet = share_breaker(Breaker(), board=MemoryBoard(),
        ...                       rule=FleetRule(tripped=2, of=4, within=30), start=False)
        >>> fleet.poll()
        False
    """
    return FleetBreaker(
        breaker, board=board, rule=rule, name=name, replica=replica,
        interval=interval, clock=clock, start=start,
    )

"""Escalation: who is paged, when, and until whom.

Rules, all on the injected clock (:meth:`Escalation.tick` checks them):

1. :meth:`~Escalation.page` notifies every level whose ``after`` is 0 at once.
2. A level is notified when ``after`` seconds have passed since the page
   without an acknowledgement (on-call now, team lead after 15 min, ...).
3. A CRITICAL incident notifies the **last** level (leadership) at once, also
   when its severity is raised to CRITICAL later (:meth:`~Escalation.update`).
4. An incident past its severity's ``respond_within`` without
   acknowledgement notifies the next level not yet notified at once
   (``sla_breached``), once.
5. After the last level, the whole path repeats every ``repeat_every``
   seconds, ``repeat`` times.
6. An acknowledgement (:meth:`~Escalation.acknowledge`) stops the clock.
7. Cross-functional tags on the incident (``legal``, ``compliance``, ``pr``,
   ``security``) notify their own targets once each, whatever the level.

Every notification, and every notifier that raised, is an
:class:`EscalationEvent` given to ``on_event`` (the incident's timeline).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import attrs

from aiguard._core._events import log_once
from aiguard.classify._severity import Severity
from aiguard.errors import ConfigurationError
from aiguard.review._notifiers import message_for

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from aiguard.typing import Clock, Notifier

__all__ = ["Escalation", "EscalationEvent", "Level"]


def _notifiers(value: object) -> tuple[Notifier, ...]:
    items = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    if not items or not all(callable(item) for item in items):
        raise ConfigurationError("notify", "a notifier callable or a list of them", value)
    return items


def _after(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigurationError("after", "seconds >= 0", value)
    return float(value)


@attrs.frozen
class Level:
    """One step of the escalation path: *name* is notified *after* seconds unacknowledged.

    Example:
        >>> Level("team lead", 900, [print]).after
        900.0
    """

    name: str
    after: float = attrs.field(converter=_after)
    notify: tuple[Notifier, ...] = attrs.field(converter=_notifiers)


@attrs.frozen(kw_only=True)
class EscalationEvent:
    """A notification the escalation sent (or failed to send).

    Attributes:
        incident_id: the incident.
        target: the level's or tag's name.
        reason: ``"paged"``, ``"no acknowledgement after 900s"``,
            ``"critical"``, ``"sla_breached"``, ``"repeat 1"``, ``"tag legal"``.
        at: the clock time.
        failed: how many of the target's notifiers raised.

    Example:
        >>> EscalationEvent(incident_id="INC-1", target="on-call", reason="paged", at=0.0).line
        'notified on-call (paged)'
    """

    incident_id: str
    target: str
    reason: str
    at: float
    failed: int = 0

    @property
    def line(self) -> str:
        """How the timeline says it."""
        failed = f", {self.failed} notifier(s) failed" if self.failed else ""
        return f"notified {self.target} ({self.reason}{failed})"


@attrs.define
class _Track:
    incident: Any
    started: float
    notified: set[str] = attrs.field(factory=set)
    tags: set[str] = attrs.field(factory=set)
    cycle: int = 0
    sla_done: bool = False


class Escalation:
    """Page people by levels with delays until someone acknowledges.

    Args:
        levels: :class:`Level` objects or ``(name, after_seconds, notifiers)``
            tuples, in order; the last one is leadership.
        repeat: how many times the whole path repeats after the last level.
        repeat_every: seconds between repeats (default: the last level's ``after``, at least 60).
        tags: ``{tag: notifiers}`` for cross-functional tags.
        on_event: called with each :class:`EscalationEvent`.
        clock: wall clock, seconds since the epoch (a FakeClock in tests).

    Example:
        >>> from aiguard.testing import FakeClock
        >>> from aiguard.review._incident import Incident
        >>> clock, sent = FakeClock(), []
        >>> esc = Escalation(levels=[("on-call", 0, sent.append), ("team lead", 900, sent.append)],
        ...                  clock=clock)
        >>> inc = Incident.new(id="INC-1", title="recs", key="recs", type="data_drift",
        ...                    severity="medium", at=0.0)
        >>> esc.page(inc)
        'paged on-call'
        >>> _ = clock.advance(900); [e.target for e in esc.tick()]
        ['team lead']
    """

    def __init__(self, *, levels: Iterable[Level | tuple[str, float, Any]], repeat: int = 0,
                 repeat_every: float | None = None,
                 tags: Mapping[str, Notifier | Sequence[Notifier]] | None = None,
                 on_event: Callable[[EscalationEvent], object] | None = None,
                 clock: Clock = time.time) -> None:
        self.levels = tuple(lv if isinstance(lv, Level) else Level(*lv) for lv in levels)
        if not self.levels:
            raise ConfigurationError("levels", "at least one level", levels)
        if any(b.after < a.after for a, b in zip(self.levels, self.levels[1:], strict=False)):
            raise ConfigurationError("levels", "levels in order of their 'after'", levels)
        if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 0:
            raise ConfigurationError("repeat", "an int >= 0", repeat)
        self.repeat = repeat
        self.repeat_every = (max(60.0, self.levels[-1].after) if repeat_every is None
                             else _after(repeat_every))
        self.tags = {str(k): _notifiers(v) for k, v in (tags or {}).items()}
        self.on_event = on_event
        self._clock = clock
        self._lock = threading.Lock()
        self._tracks: dict[str, _Track] = {}

    @property
    def tracking(self) -> list[str]:
        """Ids of the incidents being escalated (paged, not acknowledged)."""
        return list(self._tracks)

    def page(self, incident: Any) -> str:
        """Start escalating *incident* (idempotent); return what was done."""
        now = self._clock()
        with self._lock:
            if incident.id in self._tracks or incident.acknowledged_at is not None:
                return "already paged" if incident.id in self._tracks else "acknowledged"
            track = _Track(incident=incident, started=now)
            self._tracks[incident.id] = track
        events = self._check(track, now, first=True)
        return "paged " + ", ".join(e.target for e in events) if events else "paged"

    def update(self, incident: Any) -> list[EscalationEvent]:
        """Tell the escalation the incident changed (severity raised, tags added)."""
        with self._lock:
            track = self._tracks.get(incident.id)
            if track is None:
                return []
            track.incident = incident
        return self._check(track, self._clock())

    def acknowledge(self, incident_id: str) -> bool:
        """Stop escalating *incident_id*; True if it was being escalated."""
        with self._lock:
            return self._tracks.pop(incident_id, None) is not None

    def tick(self, now: float | None = None) -> list[EscalationEvent]:
        """Apply the timed rules at *now* (default: the clock); return what was notified."""
        now = self._clock() if now is None else now
        with self._lock:
            tracks = list(self._tracks.values())
        events: list[EscalationEvent] = []
        for track in tracks:
            events.extend(self._check(track, now))
        return events

    def _due(self, track: _Track, now: float, *, first: bool) -> list[tuple[Level | str, str]]:
        incident, elapsed = track.incident, now - track.started
        due: list[tuple[Level | str, str]] = []
        if track.cycle < self.repeat and len(track.notified) == len(self.levels):
            last_at = self.levels[-1].after + (track.cycle + 1) * self.repeat_every
            if elapsed >= last_at:
                track.cycle += 1
                track.notified.clear()
        cycle_start = 0.0 if track.cycle == 0 else (
            self.levels[-1].after + track.cycle * self.repeat_every)
        for level in self.levels:
            if level.name not in track.notified and elapsed - cycle_start >= level.after:
                reason = ("paged" if level.after == 0 and track.cycle == 0 else
                          f"repeat {track.cycle}" if track.cycle else
                          f"no acknowledgement after {level.after:g}s")
                due.append((level, reason))
        last = self.levels[-1]
        if incident.severity is Severity.CRITICAL and last.name not in track.notified and all(
                lv is not last for lv, _ in due):
            due.append((last, "critical"))
        sla = float(getattr(incident, "sla", 0) or 0)
        if not first and not track.sla_done and sla and elapsed >= sla:
            track.sla_done = True
            pending = [lv for lv in self.levels if lv.name not in track.notified
                       and all(lv is not d for d, _ in due)]
            if pending:
                due.append((pending[0], "sla_breached"))
        due.extend((tag, f"tag {tag}") for tag in incident.tags
                   if tag in self.tags and tag not in track.tags)
        return due

    def _check(self, track: _Track, now: float, *, first: bool = False) -> list[EscalationEvent]:
        with self._lock:
            if track.incident.id not in self._tracks:
                return []
            due = self._due(track, now, first=first)
            for target, _ in due:
                if isinstance(target, Level):
                    track.notified.add(target.name)
                else:
                    track.tags.add(target)
        return [self._send(track.incident, target, reason, now) for target, reason in due]

    def _send(self, incident: Any, target: Level | str, reason: str,
              now: float) -> EscalationEvent:
        name = target.name if isinstance(target, Level) else target
        notifiers = target.notify if isinstance(target, Level) else self.tags[target]
        message = message_for(incident, event="escalation", target=name, reason=reason)
        failed = 0
        for notifier in notifiers:
            try:
                notifier(message)
            except Exception:  # noqa: PERF203 - one notifier never stops the others
                failed += 1
                log_once("notifier", "aiguard: a notifier of %r raised "
                         "(counted in the timeline, logged once)", name,
                         event="escalation.notifier_raised", name=name, owner=notifier)
        event = EscalationEvent(incident_id=incident.id, target=name, reason=reason, at=now,
                                failed=failed)
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                log_once("escalation-on-event", "aiguard: escalation on_event raised",
                         event="escalation.on_event_raised")
        return event

    def __repr__(self) -> str:
        """The levels and their delays."""
        path = " -> ".join(f"{lv.name}@{lv.after:g}s" for lv in self.levels)
        return f"Escalation({path}, tracking={len(self._tracks)})"

"""The incident record: a frozen value folded from change records.

An :class:`Incident` never changes in place: :meth:`Incident.apply` takes one
change record (see :mod:`aiguard.review._records`) and returns the next
incident, so the in-memory state, the durable log and a replica reading the
same log all arrive at the same value by the same code.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs

from aiguard.classify._severity import Severity, sla_table
from aiguard.errors import InvalidInputError
from aiguard.review._records import Status, TimelineEntry, check_record

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aiguard.review._postmortem import Postmortem

__all__ = ["Incident"]

_NOTE_OPS = {"note": "note", "factor": "note", "item": "note", "tag": "note", "field": "note"}


def _ro(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@attrs.frozen(kw_only=True)
class Incident:
    """One AI incident, from the first signal to the blameless review.

    Attributes:
        id: e.g. ``"INC-3F2A9C01"``.
        title: one line.
        key: the deduplication key (repeated signals of the same cause join
            the open incident with this key; see :class:`~aiguard.Incidents`).
        type: ``data_drift``, ``data_quality``, ``adversarial``,
            ``infrastructure``, ``performance`` or ``fairness``.
        severity: the current :class:`~aiguard.Severity`.
        status: the current :class:`Status`.
        opened_at: seconds since the epoch when it was detected.
        affected: ``guard``, ``model_version``, ``flag``, ``cohort`` (when known).
        respond_within: seconds to respond, per severity value.
        signals: the signals' JSON dicts, with their evidence (aggregates only).
        actions: containment actions: ``{"action", "status", "detail", "at"}``.
        roles: ``commander``, ``technical_lead``, ``communications_lead`` (a
            name each) and ``expert`` (a list of names).
        timeline: the append-only :class:`TimelineEntry` list.
        status_times: status value -> ``(at, actor)`` when it was reached.
        acknowledged_at: when a person acknowledged (None: not yet).
        severity_changes: ``(at, severity value, why)``, the first at opening.
        counters: ``fallback_calls``, ``rows_replaced``, ``rejected_calls``.
        fields: ``root_cause``, ``started_at``, ``went_well``, ... as set.
        contributing_factors: texts.
        action_items: ``{"what", "owner"}`` dicts.
        tags: cross-functional tags (``legal``, ``compliance``, ``pr``, ``security``).

    Example:
        >>> inc = Incident.new(id="INC-1", title="recs drift", key="recs", type="data_drift",
        ...                    severity="medium", at=0.0)
        >>> inc = inc.apply({"v": 1, "id": "INC-1", "op": "ack", "at": 60.0, "actor": "ana"})
        >>> inc.status.value, inc.time_to_acknowledge
        ('acknowledged', 60.0)
    """

    id: str
    title: str
    key: str
    type: str
    severity: Severity
    status: Status = Status.DETECTED
    opened_at: float
    affected: Mapping[str, Any] = attrs.field(factory=dict, converter=_ro)
    respond_within: Mapping[str, float] = attrs.field(factory=dict, converter=_ro)
    signals: tuple[Mapping[str, Any], ...] = ()
    actions: tuple[Mapping[str, Any], ...] = ()
    roles: Mapping[str, Any] = attrs.field(factory=dict, converter=_ro)
    timeline: tuple[TimelineEntry, ...] = ()
    status_times: Mapping[str, tuple[float, str]] = attrs.field(factory=dict, converter=_ro)
    acknowledged_at: float | None = None
    severity_changes: tuple[tuple[float, str, str | None], ...] = ()
    counters: Mapping[str, int] = attrs.field(factory=dict, converter=_ro)
    fields: Mapping[str, Any] = attrs.field(factory=dict, converter=_ro)
    contributing_factors: tuple[str, ...] = ()
    action_items: tuple[Mapping[str, Any], ...] = ()
    tags: tuple[str, ...] = ()

    # -- building ----------------------------------------------------------

    @classmethod
    def new(cls, *, id: str, title: str, key: str, type: str,  # noqa: A002 - the field's name
            severity: Severity | str, at: float, actor: str = "aiguard",
            affected: Mapping[str, Any] | None = None, tags: tuple[str, ...] = (),
            respond_within: Mapping[Severity, float] | None = None) -> Incident:
        """A DETECTED incident (the same value as applying its ``open`` record)."""
        return cls.from_open(cls.open_record(
            id=id, title=title, key=key, type=type, severity=Severity.parse(severity), at=at,
            actor=actor, affected=affected, tags=tags, respond_within=respond_within))

    @staticmethod
    def open_record(*, id: str, title: str, key: str, type: str,  # noqa: A002
                    severity: Severity, at: float, actor: str,
                    affected: Mapping[str, Any] | None, tags: tuple[str, ...],
                    respond_within: Mapping[Severity, float] | None) -> dict[str, Any]:
        """The ``open`` change record of a new incident."""
        sla = respond_within or sla_table()
        return {"v": 1, "id": id, "op": "open", "at": at, "actor": actor, "why": None,
                "incident": {"title": title, "key": key, "type": type,
                             "severity": severity.value,
                             "affected": dict(affected or {}), "tags": list(tags),
                             "respond_within": {s.value: float(v) for s, v in sla.items()}}}

    @classmethod
    def from_open(cls, record: Mapping[str, Any]) -> Incident:
        """Build the incident an ``open`` record describes (validated)."""
        rec = check_record(dict(record))
        body = rec["incident"]
        try:
            severity = Severity(body["severity"])
            sla = {Severity(k).value: float(v) for k, v in dict(body["respond_within"]).items()}
            affected = {k: v for k, v in dict(body.get("affected", {})).items()
                        if isinstance(v, (str, int, float)) or v is None}
            tags = tuple(str(t) for t in body.get("tags", ()))
            title, key, kind = str(body["title"]), str(body["key"]), str(body["type"])
        except (KeyError, ValueError, TypeError) as exc:
            raise InvalidInputError("record['incident']", "an incident's opening fields",
                                    repr(exc)) from exc
        at, actor = float(rec["at"]), rec["actor"]
        return cls(id=rec["id"], title=title, key=key, type=kind, severity=severity,
                   opened_at=at, affected=affected, respond_within=sla, tags=tags,
                   status_times={Status.DETECTED.value: (at, actor)},
                   severity_changes=((at, severity.value, None),),
                   timeline=(TimelineEntry(at=at, actor=actor, kind="status",
                                           what=f"detected: {title} ({severity.value})"),))

    # -- changing ----------------------------------------------------------

    def apply(self, record: Mapping[str, Any]) -> Incident:
        """Return the incident after the change *record*.

        Raises:
            InvalidInputError: the record is malformed, names another incident,
                moves the status backwards, or lowers the severity without a reason.
        """
        rec = check_record(dict(record))
        if rec["id"] != self.id or rec["op"] == "open":
            raise InvalidInputError("record", f"a change of incident {self.id}",
                                    f"{rec['op']} of {rec['id']}")
        at, actor, why, op = float(rec["at"]), rec["actor"], rec.get("why"), rec["op"]
        handler = getattr(self, f"_op_{op}")
        changes, what, kind = handler(rec, at, actor)
        if what is not None:
            entry = TimelineEntry(at=at, actor=actor, what=what, why=why, kind=kind)
            changes["timeline"] = (*self.timeline, entry)
        return attrs.evolve(self, **changes)

    def _op_signal(self, rec: dict[str, Any], at: float, _actor: str) -> tuple[Any, ...]:
        signal = rec.get("signal")
        if not isinstance(signal, dict):
            raise InvalidInputError("record['signal']", "a JSON object", repr(signal))
        signal = {**signal, "received_at": at}
        what = (f"signal {signal.get('status', 'breach')}: {signal.get('source')} "
                f"{signal.get('kind')} {signal.get('value')!r} (baseline "
                f"{signal.get('baseline')!r}, threshold {signal.get('threshold')!r})")
        return {"signals": (*self.signals, signal)}, what, "signal"

    def _op_status(self, rec: dict[str, Any], at: float, actor: str) -> tuple[Any, ...]:
        try:
            new = Status(rec.get("status"))
        except ValueError as exc:
            raise InvalidInputError("status", "one of " + ", ".join(s.value for s in Status),
                                    repr(rec.get("status"))) from exc
        if not new > self.status:
            raise InvalidInputError("status", f"a status after {self.status.value!r}",
                                    repr(new.value))
        changes: dict[str, Any] = {
            "status": new, "status_times": {**self.status_times, new.value: (at, actor)}}
        return changes, f"status {self.status.value} -> {new.value}", "status"

    def _op_ack(self, _rec: dict[str, Any], at: float, actor: str) -> tuple[Any, ...]:
        if self.acknowledged_at is not None:
            return {}, None, "status"
        changes: dict[str, Any] = {"acknowledged_at": at}
        if self.status is Status.DETECTED:
            changes["status"] = Status.ACKNOWLEDGED
            changes["status_times"] = {**self.status_times,
                                       Status.ACKNOWLEDGED.value: (at, actor)}
        return changes, f"acknowledged by {actor}", "status"

    def _op_severity(self, rec: dict[str, Any], at: float, _actor: str) -> tuple[Any, ...]:
        new = Severity.parse(rec.get("severity"), "record['severity']")
        if new < self.severity and not rec.get("why"):
            raise InvalidInputError("why", "a reason to lower the severity", repr(rec.get("why")))
        if new is self.severity:
            return {}, None, "severity"
        change = (at, new.value, rec.get("why"))
        verb = "raised" if new > self.severity else "lowered"
        return ({"severity": new, "severity_changes": (*self.severity_changes, change)},
                f"severity {verb} {self.severity.value} -> {new.value}", "severity")

    def _op_action(self, rec: dict[str, Any], at: float, _actor: str) -> tuple[Any, ...]:
        entry = {"action": str(rec.get("action")), "status": str(rec.get("status")),
                 "detail": str(rec.get("detail"))[:500], "at": at}
        what = f"action {entry['action']} {entry['status']}: {entry['detail']}"
        return {"actions": (*self.actions, entry)}, what, "action"

    def _op_role(self, rec: dict[str, Any], _at: float, _actor: str) -> tuple[Any, ...]:
        role, name = rec["role"], str(rec.get("name"))
        roles = dict(self.roles)
        if role == "expert":
            roles[role] = [*roles.get(role, []), name]
        else:
            roles[role] = name
        return {"roles": roles}, f"{role} is {name}", "role"

    def _op_note(self, rec: dict[str, Any], _at: float, _actor: str) -> tuple[Any, ...]:
        return {}, rec["what"], str(rec.get("kind", "note"))

    def _op_count(self, rec: dict[str, Any], _at: float, _actor: str) -> tuple[Any, ...]:
        counters = dict(self.counters)
        added = []
        for name in ("fallback_calls", "rows_replaced", "rejected_calls"):
            value = rec.get(name, 0)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidInputError(f"record[{name!r}]", "an int >= 0", repr(value))
            if value:
                counters[name] = counters.get(name, 0) + value
                added.append(f"{value} {name.replace('_', ' ')}")
        what = f"counted since the last report: {', '.join(added)}" if added else None
        return {"counters": counters}, what, "fallback"

    def _op_field(self, rec: dict[str, Any], _at: float, _actor: str) -> tuple[Any, ...]:
        name, value = rec["field"], rec.get("value")
        if not (value is None or isinstance(value, (str, int, float))) or isinstance(value, bool):
            raise InvalidInputError("record['value']", "a string, a number or null", repr(value))
        if name in ("guard", "model_version", "flag", "cohort"):
            return {"affected": {**self.affected, name: value}}, f"{name} = {value}", "note"
        if name == "title":
            return {"title": str(value)}, f"title = {value}", "note"
        label = name.replace("_", " ")
        return {"fields": {**self.fields, name: value}}, f"{label}: {value}", "note"

    def _op_factor(self, rec: dict[str, Any], _at: float, _actor: str) -> tuple[Any, ...]:
        return ({"contributing_factors": (*self.contributing_factors, rec["what"])},
                f"contributing factor: {rec['what']}", "note")

    def _op_item(self, rec: dict[str, Any], _at: float, _actor: str) -> tuple[Any, ...]:
        item = {"what": str(rec.get("what")), "owner": str(rec.get("owner"))}
        return ({"action_items": (*self.action_items, item)},
                f"action item for {item['owner']}: {item['what']}", "note")

    def _op_tag(self, rec: dict[str, Any], _at: float, _actor: str) -> tuple[Any, ...]:
        tag = str(rec.get("tag"))
        if tag in self.tags:
            return {}, None, "note"
        return {"tags": (*self.tags, tag)}, f"tagged {tag}", "note"

    # -- reading -----------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """Not yet resolved."""
        return self.status.open

    @property
    def detected_at(self) -> float:
        """When it was detected (opened)."""
        return self.opened_at

    @property
    def sla(self) -> float:
        """Seconds allowed to respond at the current severity."""
        return float(self.respond_within.get(self.severity.value,
                                             self.severity.respond_within.total_seconds()))

    def _since_open(self, status: Status) -> float | None:
        reached = self.status_times.get(status.value)
        if reached is None:
            later = [t for s, (t, _a) in self.status_times.items() if Status(s) > status]
            return None if not later else min(later) - self.opened_at
        return reached[0] - self.opened_at

    @property
    def time_to_detect(self) -> float | None:
        """Seconds from ``started_at`` (when the harm began, if known) to detection."""
        started = self.fields.get("started_at")
        return None if started is None else self.opened_at - float(started)

    @property
    def time_to_acknowledge(self) -> float | None:
        """Seconds from detection to a person's acknowledgement."""
        return None if self.acknowledged_at is None else self.acknowledged_at - self.opened_at

    @property
    def time_to_contain(self) -> float | None:
        """Seconds from detection to CONTAINED (or a later status)."""
        return self._since_open(Status.CONTAINED)

    @property
    def time_to_mitigate(self) -> float | None:
        """Seconds from detection to MITIGATED (or a later status)."""
        return self._since_open(Status.MITIGATED)

    @property
    def time_to_resolve(self) -> float | None:
        """Seconds from detection to RESOLVED (or REVIEWED)."""
        return self._since_open(Status.RESOLVED)

    def time_at_severity(self, now: float | None = None) -> dict[str, float]:
        """Seconds spent at each severity, up to resolution (or *now*)."""
        resolved = self.status_times.get(Status.RESOLVED.value)
        end = resolved[0] if resolved else (now if now is not None else math.nan)
        spent: dict[str, float] = {}
        changes = self.severity_changes
        for (at, level, _why), nxt in zip(changes, (*changes[1:], None), strict=True):
            until = end if nxt is None else nxt[0]
            spent[level] = spent.get(level, 0.0) + max(0.0, until - at)
        return spent

    def postmortem(self, *, now: float | None = None) -> Postmortem:
        """The blameless postmortem, filled in from the record (see :class:`Postmortem`)."""
        from aiguard.review._postmortem import Postmortem  # noqa: PLC0415 - avoid a cycle

        return Postmortem.build(self, now=now)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe summary with the full timeline (``aiguard incidents show --json``)."""
        return {
            "id": self.id, "title": self.title, "key": self.key, "type": self.type,
            "severity": self.severity.value, "status": self.status.value,
            "opened_at": self.opened_at, "affected": dict(self.affected),
            "signals": [dict(s) for s in self.signals], "actions": [dict(a) for a in self.actions],
            "roles": dict(self.roles), "timeline": [e.to_dict() for e in self.timeline],
            "acknowledged_at": self.acknowledged_at, "counters": dict(self.counters),
            "fields": dict(self.fields), "contributing_factors": list(self.contributing_factors),
            "action_items": [dict(i) for i in self.action_items], "tags": list(self.tags),
            "severity_changes": [list(c) for c in self.severity_changes],
            "status_times": {k: list(v) for k, v in self.status_times.items()},
        }

"""Capture what guards, breakers and flags report, to assert on it in a test."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import attrs
from typing_extensions import Self

from aiguard.contain.flags._types import FlagChange
from aiguard.contain.guard._outcome import Outcome
from aiguard.errors import ConfigurationError
from aiguard.testing._hook import guard_of

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from aiguard.contain.guard._guard import Guard

__all__ = ["Event", "Events"]


@attrs.frozen(slots=True)
class Event:
    """One captured event.

    Attributes:
        kind: ``"outcome"`` (a guarded call), ``"flag"`` (a flag changed),
            else the event's own ``kind``: for a breaker ``"transition"`` (a
            state change) or a call's ``"success"``, ``"failure"``,
            ``"slow"``, ``"rejected"``, ``"ignored"``.
        source: the name of the watched object that reported it.
        payload: what the source reported (an :class:`~aiguard.Outcome`, a
            transition, a flag change).

    Example:
        >>> Event(kind="outcome", source="recs", payload=None).kind
        'outcome'
    """

    kind: str
    source: str
    payload: Any


def _kind_of(source: Any, payload: Any) -> str:
    if isinstance(payload, Outcome):
        return "outcome"
    if isinstance(payload, FlagChange) or callable(getattr(source, "enabled", None)):
        return "flag"
    kind = getattr(payload, "kind", None)
    if isinstance(kind, str):
        return kind
    if hasattr(payload, "new"):
        return "transition"
    return type(payload).__name__.lower()


class Events:
    """Capture the events of guards, breakers and flag sets while a test runs.

    ``watch(target)`` subscribes to a :class:`~aiguard.Guard` (or a function
    it decorates, or an :func:`aiguard.wrap` object: its outcomes, plus the
    transitions of its breaker and the changes of its flags), a
    :class:`~aiguard.CircuitBreaker` or a :class:`~aiguard.Flags` set.
    ``close()`` unsubscribes from everything (the ``aiguard_events`` fixture
    does it at teardown). Thread-safe.

    Example:
        >>> import aiguard as ag
        >>> g = ag.Guard(name="recs", fallback=lambda: "rules")
        >>> @g
        ... def answer():
        ...     raise RuntimeError("boom")
        >>> events = Events().watch(answer)
        >>> _ = answer(), answer()
        >>> [o.reason for o in events.outcomes]
        ['error', 'error']
        >>> events.close()
        >>> _ = answer()
        >>> len(events.outcomes)
        2
    """

    __slots__ = ("_detach", "_events", "_lock", "_watched")

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._lock = threading.Lock()
        self._detach: list[Callable[[], None]] = []
        self._watched: set[int] = set()

    def _subscribe(self, source: Any, name: str) -> None:
        if id(source) in self._watched:
            return
        events, lock = self._events, self._lock

        def listener(*args: Any) -> None:
            payload = args[0] if len(args) == 1 else args
            event = Event(kind=_kind_of(source, payload), source=name, payload=payload)
            with lock:
                events.append(event)

        source.add_listener(listener)
        self._watched.add(id(source))

        def detach() -> None:
            self._watched.discard(id(source))
            source.remove_listener(listener)

        self._detach.append(detach)

    def watch(self, *targets: Any) -> Self:
        """Start capturing the events of each target; returns ``self`` so it chains."""
        for target in targets:
            try:
                guard: Guard | None = guard_of(target)
            except ConfigurationError:
                guard = None
            if guard is not None:
                self._subscribe(guard, guard.name)
                for part in (guard.breaker, guard.config.flags):
                    if part is not None and callable(getattr(part, "add_listener", None)):
                        self._subscribe(part, _name(part))
            elif callable(getattr(target, "add_listener", None)) and callable(
                getattr(target, "remove_listener", None)
            ):
                self._subscribe(target, _name(target))
            else:
                raise ConfigurationError(
                    "target",
                    "a Guard, a guarded function, an aiguard.wrap(...) object, "
                    "a CircuitBreaker or a Flags set",
                    target,
                )
        return self

    @property
    def events(self) -> list[Event]:
        """Every captured event, in the order they were reported (a copy)."""
        with self._lock:
            return list(self._events)

    def of(self, kind: str) -> list[Any]:
        """The payloads of the captured events of one *kind*: ``"outcome"``, ``"transition"``..."""
        return [e.payload for e in self.events if e.kind == kind]

    @property
    def outcomes(self) -> list[Outcome]:
        """The outcomes of the watched guards' calls."""
        return self.of("outcome")

    @property
    def transitions(self) -> list[Any]:
        """The state transitions of the watched breakers (:class:`~aiguard.BreakerEvent`)."""
        return self.of("transition")

    @property
    def flag_changes(self) -> list[Any]:
        """The changes of the watched flag sets (``FlagChange``: name, old, new, source)."""
        return self.of("flag")

    def clear(self) -> None:
        """Forget what was captured so far (keep watching)."""
        with self._lock:
            self._events.clear()

    def close(self) -> None:
        """Stop watching everything (what was captured stays readable)."""
        detach, self._detach = self._detach, []
        for undo in reversed(detach):
            undo()

    def __enter__(self) -> Self:
        """Use as a context manager that closes on exit."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop watching."""
        self.close()

    def __len__(self) -> int:
        """Number of captured events."""
        return len(self._events)

    def __iter__(self) -> Iterator[Event]:
        """Iterate over a snapshot of the captured events."""
        return iter(self.events)

    def __repr__(self) -> str:
        """Show how many events of each kind were captured."""
        counts: dict[str, int] = {}
        for event in self.events:
            counts[event.kind] = counts.get(event.kind, 0) + 1
        return f"Events({counts})"


def _name(source: Any) -> str:
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else type(source).__name__

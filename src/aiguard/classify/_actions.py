"""Containment actions a policy takes: small named callables acting on existing objects.

Each action is idempotent twice over: the runner applies an action at most once
per incident (its :attr:`~Action.key`), and the action itself does nothing
when its target is already in the wanted state (a breaker already forced open,
a flag already off). :meth:`Action.describe` says what it would do, which is
all an ``observe_only`` policy records.

Where an action runs: :class:`~aiguard.Incidents` applies containment
actions on a containment thread of its own (``contain="thread"``, the
default), off the thread that hands the signal over, which waits for them at
most ``handoff``; the *inline-safe* ones first (:attr:`Action.inline`: an
in-memory state flip of aiguard's own objects, a lock, a few assignments,
the object's listeners; no I/O, nothing that can wait on the network or the
disk). With ``contain="inline"`` the inline-safe ones run on the signalling
thread itself and the others on the incidents' worker. Pages and
notifications always run on the worker.

===================  ==========================================  ====================  ======
action               what it does                                target                inline
===================  ==========================================  ====================  ======
``fallback(g)``      force the fallback: breaker FORCED_OPEN     a Guard with a        yes
                                                                 breaker, or a
                                                                 CircuitBreaker
``kill(name,         turn one AI feature off (kill switch)       a flag name in a      memory
flags=f)``                                                       Flags set             store
``rollback(r)``      ``r.rollback(reason=...)``                  any model registry    no
``shed(l, to=)``     lower a rate limit to *to* calls per        a RateLimit           yes
                     period
``shutdown(f)``      the global switch: every AI feature off     a Flags set           memory
                                                                                       store
``page(e)``          start the escalation path for the incident  an Escalation         no
``notify(n)``        send a notification                         any notifier          no
===================  ==========================================  ====================  ======

"memory store": inline-safe when the flags live in a :class:`~aiguard.MemoryStore`
(the default); a file or Redis store does I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, overload

import attrs

from aiguard.classify._severity import Severity  # noqa: TC001 - attrs resolves the annotation
from aiguard.classify._values import positive
from aiguard.contain._limits import RateLimit
from aiguard.contain.breaker import CircuitBreaker
from aiguard.contain.flags import Flags
from aiguard.errors import ConfigurationError
from aiguard.state._stores import MemoryStore

if TYPE_CHECKING:
    from aiguard.typing import Notifier

__all__ = [
    "Action", "ActionContext", "fallback", "kill", "notify", "page", "rollback", "shed",
    "shutdown",
]

ACTOR = "aiguard"


@attrs.frozen(kw_only=True)
class ActionContext:
    """What an action is told when it runs.

    Attributes:
        incident_id: the incident the action contains.
        severity: the incident's severity now.
        reason: why (the rule and the signal, e.g. ``"latency spike: recs.latency 3 vs 0.2"``).
        incident: the incident record itself (for ``page`` and ``notify``), or None.

    Example:
        >>> ActionContext(incident_id="INC-1", severity=Severity.HIGH, reason="test").actor
        'aiguard'
    """

    incident_id: str
    severity: Severity
    reason: str
    incident: Any = None
    actor: str = ACTOR

    @property
    def why(self) -> str:
        """The reason stamped on flag changes and rollbacks: ``"INC-1: <reason>"``."""
        return f"{self.incident_id}: {self.reason}"[:200]


class Action:
    """Base of the built-in actions: a name, an idempotency key and a ``describe`` text.

    Subclasses implement ``__call__(context) -> str`` returning what was done.
    Any object with ``name``, ``key``, ``describe()`` and ``__call__`` works
    (the :class:`aiguard.typing.Action` Protocol). Optional class attributes:
    ``contains = True`` (a containment action), ``inline = True`` (also
    inline-safe: set it only for a cheap in-memory change that never does
    I/O or waits, since with ``contain="inline"`` it runs on the thread
    handing the signal over).

    Example:
        >>> class Log(Action):
        ...     def __init__(self):
        ...         super().__init__("log", "log")
        ...     def __call__(self, context):
        ...         return "logged"
        >>> Log()
        log
    """

    #: run again for the same incident when its severity is raised (page, notify)
    repeat_on_raise = False
    #: a containment action: applying it moves the incident to CONTAINED, and it
    #: runs before the incident's records are written
    contains = False
    #: inline-safe: an in-memory flip with no I/O, applied first, and with
    #: contain="inline" on the thread that hands the signal over
    inline = False

    def __init__(self, name: str, key: str) -> None:
        self.name = name
        self.key = key

    def describe(self) -> str:
        """What the action would do (recorded alone under ``observe_only``)."""
        return self.name

    def __call__(self, context: ActionContext) -> str:  # pragma: no cover - abstract
        """Apply the action; return what was done."""
        raise NotImplementedError

    def __repr__(self) -> str:
        """The expression that built it."""
        return self.name


def _having(value: Any, method: str, argument: str, expected: str) -> Any:
    """Return *value* if it has a callable *method*, else raise ConfigurationError."""
    if not callable(getattr(value, method, None)):
        raise ConfigurationError(argument, expected, value)
    return value


def _memory_flags(flags: Any) -> bool:
    """Whether writing *flags* stays in memory (aiguard's Flags over a MemoryStore)."""
    return isinstance(flags, Flags) and isinstance(flags.store, MemoryStore)


class _Fallback(Action):
    contains = True

    def __init__(self, target: Any) -> None:
        breaker = getattr(target, "breaker", target)
        if breaker is None or not callable(getattr(breaker, "force_open", None)):
            raise ConfigurationError(
                "guard", "a Guard with a breaker, or a CircuitBreaker", target)
        self._breaker = breaker
        self.inline = isinstance(breaker, CircuitBreaker)  # state in memory, behind one lock
        name = getattr(target, "name", "?")
        super().__init__(f"fallback({name})", f"fallback:{name}")

    def describe(self) -> str:
        return f"force the fallback of {self._breaker.name!r} (breaker FORCED_OPEN)"

    def __call__(self, context: ActionContext) -> str:  # noqa: ARG002 - the Action signature
        if getattr(self._breaker.state, "value", None) == "forced_open":
            return f"breaker {self._breaker.name!r} already forced open"
        self._breaker.force_open()
        return f"breaker {self._breaker.name!r} forced open: the fallback serves every call"


class _Kill(Action):
    contains = True

    def __init__(self, flags: Any, flag: str) -> None:
        if not callable(getattr(flags, "set", None)) or not callable(getattr(flags, "get", None)):
            raise ConfigurationError("flags", "a Flags set", flags)
        if not isinstance(flag, str) or not flag:
            raise ConfigurationError("flag", "a flag name", flag)
        self._flags, self._flag = flags, flag
        self.inline = _memory_flags(flags)
        super().__init__(f"kill({flag!r})", f"kill:{flag}")

    def describe(self) -> str:
        return f"turn kill switch {self._flag!r} off"

    def __call__(self, context: ActionContext) -> str:
        if self._flag in self._flags and self._flags.get(self._flag).fully_off:
            return f"flag {self._flag!r} already off"
        self._flags.set(self._flag, on=False, reason=context.why, actor=context.actor)
        return f"flag {self._flag!r} turned off"


class _Rollback(Action):
    contains = True

    def __init__(self, registry: Any) -> None:
        self._registry = _having(
            registry, "rollback", "registry", "an object with rollback(reason=...)"
        )
        name = getattr(registry, "name", type(registry).__name__)
        super().__init__(f"rollback({name})", f"rollback:{name}")

    def describe(self) -> str:
        return f"roll {self.name[9:-1]} back to the previous model version"

    def __call__(self, context: ActionContext) -> str:
        result = self._registry.rollback(reason=context.why)
        if result is None:
            return "rolled back"
        # a ModelRegistry answers with a ChampionChange: name the version, not the record
        return f"rolled back to {getattr(result, 'version', result)!r}"


class _Shed(Action):
    contains = True

    def __init__(self, limit: Any, to: float) -> None:
        self._limit = _having(limit, "set_rate", "rate_limit", "a RateLimit")
        self._to = positive(to, "to")
        self.inline = isinstance(limit, RateLimit)
        super().__init__(f"shed(to={to!r})", f"shed:{id(limit)}")

    def describe(self) -> str:
        return f"lower the rate limit to {self._to:g} per {self._limit.per:g} s"

    def __call__(self, context: ActionContext) -> str:  # noqa: ARG002 - the Action signature
        if self._limit.rate <= self._to:
            return f"rate limit already at {self._limit.rate:g}"
        self._limit.set_rate(self._to)
        return f"rate limit lowered to {self._to:g} per {self._limit.per:g} s"


class _Shutdown(Action):
    contains = True

    def __init__(self, flags: Any) -> None:
        self._flags = _having(flags, "shutdown", "flags", "a Flags set")
        self.inline = _memory_flags(flags)
        super().__init__("shutdown()", "shutdown")

    def describe(self) -> str:
        return "turn every AI feature off (the global switch)"

    def __call__(self, context: ActionContext) -> str:
        if self._flags.shut_down:
            return "already shut down"
        self._flags.shutdown(reason=context.why, actor=context.actor)
        return "every AI feature turned off"


class _Page(Action):
    repeat_on_raise = True

    def __init__(self, escalation: Any) -> None:
        self._escalation = _having(escalation, "page", "escalation", "an Escalation")
        super().__init__("page()", "page")

    def describe(self) -> str:
        return "page the escalation path"

    def __call__(self, context: ActionContext) -> str:
        return str(self._escalation.page(context.incident))


class _Notify(Action):
    repeat_on_raise = True

    def __init__(self, notifier: Notifier) -> None:
        if not callable(notifier):
            raise ConfigurationError("notifier", "a notifier callable", notifier)
        self._notifier = notifier
        name = (getattr(notifier, "name", None) or getattr(notifier, "__name__", None)
                or type(notifier).__name__)
        super().__init__(f"notify({name})", f"notify:{name}")

    def describe(self) -> str:
        return f"notify {self.name[7:-1]}"

    def __call__(self, context: ActionContext) -> str:
        from aiguard.review._notifiers import message_for  # noqa: PLC0415 - review builds on this

        self._notifier(message_for(context.incident, event="notify", target="notify"))
        return f"notified {self.name[7:-1]}"


def fallback(guard: Any) -> Action:
    """Force the fallback: the guard's breaker goes FORCED_OPEN (until ``reset()``).

    Example:
        >>> import aiguard as ag
        >>> g = ag.Guard(name="recs", breaker=ag.CircuitBreaker(name="recs"))
        >>> fallback(g)
        fallback(recs)
    """
    return _Fallback(guard)


@overload
def kill(flag: str, *, flags: Flags) -> Action: ...


@overload
def kill(flags: Flags, flag: str, /) -> Action: ...


def kill(flag: Any, name: str | None = None, *, flags: Any = None) -> Action:
    """Turn the kill switch *flag* of *flags* off, stamped with the incident id and actor.

    Spelled like :func:`aiguard.kill_switch` and ``Guard(kill_switch=..., flags=...)``:
    the flag's name, then the set holding it. The first spelling,
    ``kill(flags, name)``, is still accepted.

    Args:
        flag: the flag's name (``"recs.personalized"``).
        name: only in the first spelling, ``kill(flags, name)``: the flag's name
            (*flag* is then the flag set).
        flags: the :class:`~aiguard.Flags` set holding it.

    Raises:
        ConfigurationError: *flags* is not a flag set, *flag* not a name.

    Example:
        >>> import aiguard as ag
        >>> flags = ag.Flags(refresh=None)
        >>> kill("recs.personalized", flags=flags)
        kill('recs.personalized')
        >>> kill("recs.personalized", flags=flags).inline  # a MemoryStore: applied at once
        True
    """
    if name is None:
        return _Kill(flags, flag)
    if flags is not None:
        raise ConfigurationError("flags", "given once: kill(name, flags=flags)", flags)
    return _Kill(flag, name)


def rollback(registry: Any) -> Action:
    """Call ``registry.rollback(reason=...)`` (any object with that method).

    Example:
        >>> class Registry:
        ...     name = "recs"
        ...     def rollback(self, *, reason): return "v41"
        >>> rollback(Registry())
        rollback(recs)
    """
    return _Rollback(registry)


def shed(rate_limit: Any, *, to: float) -> Action:
    """Lower *rate_limit* to *to* calls per period (``RateLimit.set_rate``).

    Example:
        >>> import aiguard as ag
        >>> shed(ag.RateLimit(100), to=10)
        shed(to=10)
    """
    return _Shed(rate_limit, to)


def shutdown(flags: Any) -> Action:
    """The global switch: every AI feature off (``flags.shutdown``).

    Example:
        >>> import aiguard as ag
        >>> shutdown(ag.Flags(refresh=None))
        shutdown()
    """
    return _Shutdown(flags)


def page(escalation: Any) -> Action:
    """Start the escalation path (:meth:`Escalation.page`) for the incident.

    Example:
        >>> import aiguard as ag
        >>> page(ag.Escalation(levels=[("on-call", 0, [print])]))
        page()
    """
    return _Page(escalation)


def notify(notifier: Notifier) -> Action:
    """Send the incident to *notifier* (a callable taking a message dict).

    Example:
        >>> notify(print)
        notify(print)
    """
    return _Notify(notifier)

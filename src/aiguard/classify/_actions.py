"""Containment actions a policy takes: small named callables acting on existing objects.

Each action is idempotent twice over: the runner applies an action at most once
per incident (its :attr:`~Action.key`), and the action itself does nothing
when its target is already in the wanted state (a breaker already forced open,
a flag already off). :meth:`Action.describe` says what it would do, which is
all an ``observe_only`` policy records.

================  =============================================  ==========================
action            what it does                                   target
================  =============================================  ==========================
``fallback(g)``   force the fallback: breaker FORCED_OPEN        a Guard with a breaker, or
                                                                 a CircuitBreaker
``kill(f, name)`` turn one AI feature off (kill switch)          a Flags set and a flag name
``rollback(r)``   ``r.rollback(reason=...)``                     any model registry
``shed(l, to=)``  lower a rate limit to *to* calls per period    a RateLimit
``shutdown(f)``   the global switch: every AI feature off        a Flags set
``page(e)``       start the escalation path for the incident     an Escalation
``notify(n)``     send a notification                            any notifier callable
================  =============================================  ==========================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from aiguard.classify._severity import Severity  # noqa: TC001 - attrs resolves the annotation
from aiguard.classify._values import positive
from aiguard.errors import ConfigurationError

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
    (the :class:`aiguard.typing.Action` Protocol).

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


class _Fallback(Action):
    contains = True

    def __init__(self, target: Any) -> None:
        breaker = getattr(target, "breaker", target)
        if breaker is None or not callable(getattr(breaker, "force_open", None)):
            raise ConfigurationError(
                "guard", "a Guard with a breaker, or a CircuitBreaker", target)
        self._breaker = breaker
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
        if not callable(getattr(registry, "rollback", None)):
            raise ConfigurationError("registry", "an object with rollback(reason=...)", registry)
        self._registry = registry
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
        if not callable(getattr(limit, "set_rate", None)):
            raise ConfigurationError("rate_limit", "a RateLimit", limit)
        self._limit, self._to = limit, positive(to, "to")
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
        if not callable(getattr(flags, "shutdown", None)):
            raise ConfigurationError("flags", "a Flags set", flags)
        self._flags = flags
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
        if not callable(getattr(escalation, "page", None)):
            raise ConfigurationError("escalation", "an Escalation", escalation)
        self._escalation = escalation
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


def kill(flags: Any, flag: str) -> Action:
    """Turn the kill switch *flag* off in *flags*, stamped with the incident id and actor.

    Example:
        >>> import aiguard as ag
        >>> kill(ag.Flags(refresh=None), "recs.personalized")
        kill('recs.personalized')
    """
    return _Kill(flags, flag)


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

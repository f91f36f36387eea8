"""The Guard's configuration: the keywords it takes, and their validated, resolved form.

:func:`resolve` turns what the user passed to :class:`~aiguard.Guard` (or
``guard(**options)``) into a frozen :class:`GuardConfig` whose every stage is
either ``None`` (absent: it costs nothing) or a ready object. Adding a stage
means one keyword in :class:`GuardOptions`, one field here, one resolver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar, cast

import attrs
from typing_extensions import TypedDict

from aiguard._core._clock import MONOTONIC
from aiguard._core._matcher import exception_matcher
from aiguard.contain import _checks, _ladder, _limits
from aiguard.contain import timing as _timing
from aiguard.contain.breaker import CircuitBreaker
from aiguard.contain.guard import _monitoring
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import timedelta

    from aiguard._core._matcher import ExceptionFilter
    from aiguard.contain.flags._flags import Flags
    from aiguard.contain.guard._monitoring import Screen
    from aiguard.typing import Clock, MonitorTap

__all__ = ["GuardConfig", "GuardOptions", "resolve"]

T = TypeVar("T")


class GuardOptions(TypedDict, total=False):
    """The keywords of :class:`~aiguard.Guard` and ``guard(**options)``, for type checkers.

    Example:
        >>> import aiguard as ag
        >>> options: ag.GuardOptions = {"name": "recs", "timeout": 0.25}
        >>> ag.guard(**options).config.timeout
        timeout(0.25)
    """

    name: str
    kill_switch: str | None
    flags: Flags | None
    rate_limit: _limits.RateLimit | float | None
    bulkhead: _limits.Bulkhead | int | None
    breaker: CircuitBreaker | None
    timeout: _timing.Timeout | float | timedelta | None
    retry: _timing.Retry | int | None
    hedge: _timing.Hedge | float | timedelta | None
    check: _checks.Check | Callable[[Any], Any] | None
    fallback: Callable[..., Any] | Sequence[Callable[..., Any]] | None
    fallback_rows: bool
    fallback_on: ExceptionFilter
    clock: Clock | None
    monitors: Sequence[MonitorTap]
    input_check: _checks.Check | Callable[[Any], Any] | None


@attrs.frozen(slots=True)
class GuardConfig:
    """The validated, resolved configuration of a :class:`~aiguard.Guard` (``guard.config``).

    Every stage is either ``None`` (absent: it costs nothing) or a ready object.

    Example:
        >>> import aiguard as ag
        >>> config = ag.Guard(name="recs", rate_limit=100, timeout=0.5).config
        >>> config.rate_limit, config.timeout, config.breaker
        (RateLimit(100, per=1, burst=100), timeout(0.5), None)
    """

    name: str
    clock: Clock
    flags: Flags | None
    kill_switch: str | None
    rate_limit: _limits.RateLimit | None
    bulkhead: _limits.Bulkhead | None
    breaker: CircuitBreaker | None
    timeout: _timing.Timeout | None
    retry: _timing.Retry | None
    hedge: _timing.Hedge | None
    check: _checks.Check | None
    ladder: _ladder.Ladder | None
    fallback_rows: bool
    fallback_on: Callable[[BaseException], bool]
    monitors: tuple[MonitorTap, ...] = ()
    input_check: Screen | None = None


def _stage(kind: type[T], value: object, argument: str, build: Callable[[Any], T],
           expected: str) -> T | None:
    """Accept an instance of *kind*, or a shorthand that *build* turns into one."""
    if value is None or isinstance(value, kind):
        return value
    try:
        return build(value)
    except (TypeError, ValueError) as exc:  # ConfigurationError is a ValueError
        raise ConfigurationError(argument, expected, value) from exc


def _name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise ConfigurationError("name", "a non-empty string", name)
    return name


def _switch(kill_switch: object, flags: object) -> None:
    if kill_switch is not None:
        if not isinstance(kill_switch, str) or not kill_switch:
            raise ConfigurationError("kill_switch", "a flag name (str)", kill_switch)
        if flags is None:
            raise ConfigurationError("flags", "a Flags object when kill_switch is set", None)
    if flags is not None and not callable(getattr(flags, "enabled", None)):
        raise ConfigurationError("flags", "a Flags object", flags)


def _clock(clock: object, breaker: CircuitBreaker | None,
           rate: _limits.RateLimit | None) -> Clock:
    """The given clock, else the breaker's, else the rate limit's, else the monotonic one."""
    if clock is None:
        if breaker is not None:
            return breaker.clock
        return rate.clock if rate is not None else MONOTONIC
    if not callable(clock):
        raise ConfigurationError("clock", "a callable returning seconds", clock)
    return clock


def _build_ladder(fallback: object, check: _checks.Check | None,
            name: str) -> _ladder.Ladder | None:
    if fallback is None:
        return None
    handlers = list(fallback) if isinstance(fallback, (list, tuple)) else [fallback]
    if not handlers or not all(callable(h) for h in handlers):
        raise ConfigurationError(
            "fallback", "a callable or a non-empty sequence of callables", fallback)
    return _ladder.Ladder(cast("list[Callable[..., Any]]", handlers), check=check, guard=name)


def resolve(
    *,
    name: object,
    kill_switch: object,
    flags: Flags | None,
    rate_limit: object,
    bulkhead: object,
    breaker: object,
    timeout: object,
    retry: object,
    hedge: object,
    check: object,
    fallback: object,
    fallback_rows: object,
    fallback_on: object,
    clock: object,
    monitors: object = (),
    input_check: object = None,
) -> GuardConfig:
    """Validate the Guard's keywords and build every stage they describe.

    Raises:
        ConfigurationError: naming the keyword, the expectation and the value.
    """
    name = _name(name)
    _switch(kill_switch, flags)
    if breaker is not None and not isinstance(breaker, CircuitBreaker):
        raise ConfigurationError("breaker", "a CircuitBreaker", breaker)
    if not isinstance(fallback_rows, bool):
        raise ConfigurationError("fallback_rows", "a bool", fallback_rows)
    rate = _stage(_limits.RateLimit, rate_limit, "rate_limit", _limits.RateLimit,
                  "a RateLimit or a number of calls per second > 0")
    bulk = _stage(_limits.Bulkhead, bulkhead, "bulkhead", _limits.Bulkhead,
                  "a Bulkhead or a maximum number of concurrent calls >= 1")
    time_limit = _stage(_timing.Timeout, timeout, "timeout", _timing.timeout,
                        "seconds > 0, a timedelta or a timeout(...) object")
    ticks = _clock(clock, breaker, rate)
    retrier = _stage(_timing.Retry, retry, "retry",
                     lambda v: _timing.retry(attempts=v, clock=ticks),
                     "a retry(...) object or a number of attempts >= 1")
    hedger = _stage(_timing.Hedge, hedge, "hedge", lambda v: _timing.hedge(after=v),
                    "a hedge(...) object or seconds > 0")
    checker = None if check is None else _checks.as_check(check)  # type: ignore[arg-type]
    ladder = _build_ladder(fallback, checker, name)
    taps, screen = _monitoring.arguments(monitors, input_check, fallback_rows=fallback_rows)
    if fallback_rows and (ladder is None or (checker is None and screen is None)):
        raise ConfigurationError(
            "fallback_rows", "used with fallback= and check= or input_check=", fallback_rows)
    return GuardConfig(
        name=name, clock=ticks, flags=flags, kill_switch=kill_switch,  # type: ignore[arg-type]
        rate_limit=rate, bulkhead=bulk, breaker=breaker, timeout=time_limit,
        retry=retrier, hedge=hedger, check=checker, ladder=ladder,
        fallback_rows=fallback_rows, fallback_on=exception_matcher(fallback_on, "fallback_on"),
        monitors=taps, input_check=screen,
    )

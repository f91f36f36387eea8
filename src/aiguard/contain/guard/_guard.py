"""The Guard: kill switch, limits, breaker, timeout, retry, check and fallback around predict."""

from __future__ import annotations

import contextvars
import functools
import inspect
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

import attrs
from typing_extensions import ParamSpec

from aiguard._core._clock import MONOTONIC
from aiguard._core._events import log_once
from aiguard._core._matcher import exception_matcher
from aiguard.contain import _checks, _fallback, _limits
from aiguard.contain import timing as _timing
from aiguard.contain.breaker._breaker import CircuitBreaker
from aiguard.contain.breaker._values import _duration
from aiguard.contain.guard import _monitoring
from aiguard.contain.guard._outcome import Outcome
from aiguard.contain.guard._pipeline import OutcomeTuple, Sink, build_async, build_sync
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from aiguard.contain.flags._flags import Flags
    from aiguard.typing import Clock

__all__ = ["Guard", "GuardConfig", "guard", "wrap"]

P = ParamSpec("P")
R = TypeVar("R")
M = TypeVar("M")


def _resolve(kind: type[Any], value: Any, argument: str, build: Callable[[Any], Any],
             expected: str) -> Any:
    """Accept an instance of *kind*, or a shorthand that *build* turns into one."""
    if value is None or isinstance(value, kind):
        return value
    try:
        return build(value)
    except ConfigurationError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(argument, expected, value) from exc


@attrs.frozen(slots=True)
class GuardConfig:
    """The validated, resolved configuration of a :class:`Guard` (frozen).

    Every stage is either ``None`` (absent: it costs nothing) or a ready object.
    """

    name: str
    clock: Clock
    flags: Flags | None
    kill_switch: str | None
    rate_limit: Any
    bulkhead: Any
    breaker: CircuitBreaker | None
    timeout: Any
    retry: Any
    hedge: Any
    check: Any
    ladder: Any
    fallback_rows: bool
    fallback_on: Callable[[BaseException], bool]
    monitors: tuple[Any, ...] = ()
    input_check: Any = None


class Guard:
    """Contain a model: one object composing every containment stage around ``predict``.

    The stages run in a fixed order, each optional and free when absent::

        kill switch -> rate limit -> bulkhead -> breaker -> timeout -> retry
        -> model -> output check -> record -> fallback ladder

    Args:
        name: names the guard in outcomes, errors and logs.
        kill_switch: flag name; when ``flags.enabled(kill_switch)`` is False
            the model is not called (``reason="disabled"``). Needs ``flags``.
        flags: the :class:`~aiguard.Flags` set holding the kill switch.
        rate_limit: a :class:`~aiguard.RateLimit`, or a number of calls per second.
        bulkhead: a :class:`~aiguard.Bulkhead`, or a maximum number of concurrent calls.
        breaker: a :class:`~aiguard.CircuitBreaker`, shared by every function
            this guard decorates.
        timeout: seconds (or a timedelta, or a ``timeout(...)`` object).
        retry: a ``retry(...)`` object, or a number of attempts.
        hedge: a ``hedge(...)`` object, or the seconds after which to hedge.
        check: an output check (``aiguard.checks``) or a callable returning a
            bool or a per-row mask; bad rows count as failures for the breaker.
        fallback: a handler with the model's signature, or a sequence of them
            (a ladder: previous model, rules, constant).
        fallback_rows: replace only the rows of a batch that failed ``check``.
        fallback_on: exception types or predicates the fallback serves for
            (default: every ``Exception``).
        clock: the clock timing calls; defaults to the breaker's clock, else
            the rate limit's, else :func:`time.perf_counter`.
        monitors: objects with ``tap(args, kwargs, result, outcome)``
            (:class:`aiguard.typing.MonitorTap`, e.g. the monitors of
            :mod:`aiguard.detect`), fed after every call; their signals also
            go to this guard's listeners. A monitor that raises is counted in
            ``monitor_errors`` and logged once.
        input_check: a check of the *inputs* (``args[0]``) run before
            everything else (:func:`aiguard.checks.within_reference`, ...);
            failing rows go to the fallback (only them with ``fallback_rows``),
            else the call raises :class:`~aiguard.errors.InvalidInputError`.

    Example:
        >>> import aiguard as ag
        >>> recs = ag.Guard(name="recs", fallback=lambda x: [0.0] * len(x))
        >>> @recs
        ... def recommend(x):
        ...     raise RuntimeError("model server down")
        >>> recommend([1, 2])
        [0.0, 0.0]
        >>> recs.last_outcome.served_by, recs.last_outcome.reason
        ('fallback', 'error')
    """

    __slots__ = ("_faults", "_listeners", "_outcome", "config")

    def __init__(
        self,
        *,
        name: str = "guard",
        kill_switch: str | None = None,
        flags: Flags | None = None,
        rate_limit: Any = None,
        bulkhead: Any = None,
        breaker: CircuitBreaker | None = None,
        timeout: Any = None,
        retry: Any = None,
        hedge: Any = None,
        check: Any = None,
        fallback: Callable[..., Any] | Sequence[Callable[..., Any]] | None = None,
        fallback_rows: bool = False,
        fallback_on: Any = (Exception,),
        clock: Clock | None = None,
        monitors: Sequence[Any] = (),
        input_check: Any = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigurationError("name", "a non-empty string", name)
        if kill_switch is not None:
            if not isinstance(kill_switch, str) or not kill_switch:
                raise ConfigurationError("kill_switch", "a flag name (str)", kill_switch)
            if flags is None:
                raise ConfigurationError("flags", "a Flags object when kill_switch is set", None)
        if flags is not None and not callable(getattr(flags, "enabled", None)):
            raise ConfigurationError("flags", "a Flags object", flags)
        if breaker is not None and not isinstance(breaker, CircuitBreaker):
            raise ConfigurationError("breaker", "a CircuitBreaker", breaker)
        if not isinstance(fallback_rows, bool):
            raise ConfigurationError("fallback_rows", "a bool", fallback_rows)
        rate = _resolve(_limits.RateLimit, rate_limit, "rate_limit", _limits.RateLimit,
                        "a RateLimit or a number of calls per second > 0")
        bulk = _resolve(_limits.Bulkhead, bulkhead, "bulkhead", _limits.Bulkhead,
                        "a Bulkhead or a maximum number of concurrent calls >= 1")
        time_limit = _resolve(
            _timing.Timeout, timeout, "timeout",
            lambda v: _timing.timeout(_duration(v, "timeout")),
            "seconds > 0, a timedelta or a timeout(...) object",
        )
        if clock is None:
            clock = breaker._clock if breaker is not None else None
        if clock is None and rate is not None:
            clock = rate._clock
        if clock is None:
            clock = MONOTONIC
        elif not callable(clock):
            raise ConfigurationError("clock", "a callable returning seconds", clock)
        retrier = _resolve(_timing.Retry, retry, "retry",
                           lambda v: _timing.retry(attempts=v, clock=clock),
                           "a retry(...) object or a number of attempts >= 1")
        hedger = _resolve(_timing.Hedge, hedge, "hedge", lambda v: _timing.hedge(after=v),
                          "a hedge(...) object or seconds > 0")
        checker = None if check is None else _checks.as_check(check)
        ladder = None
        if fallback is not None:
            handlers: list[Callable[..., Any]] = (
                list(fallback) if isinstance(fallback, (list, tuple)) else [fallback]  # type: ignore[list-item]
            )
            if not handlers or not all(callable(h) for h in handlers):
                raise ConfigurationError(
                    "fallback", "a callable or a non-empty sequence of callables", fallback
                )
            ladder = _fallback.Ladder(handlers, check=checker, guard=name)
        taps, screen = _monitoring.arguments(monitors, input_check, fallback_rows=fallback_rows)
        if fallback_rows and (ladder is None or (checker is None and screen is None)):
            raise ConfigurationError(
                "fallback_rows", "used with fallback= and check= or input_check=", fallback_rows
            )
        self.config = GuardConfig(
            name=name, clock=clock, flags=flags, kill_switch=kill_switch, rate_limit=rate,
            bulkhead=bulk, breaker=breaker, timeout=time_limit, retry=retrier, hedge=hedger,
            check=checker, ladder=ladder, fallback_rows=fallback_rows,
            fallback_on=exception_matcher(fallback_on, "fallback_on"),
            monitors=taps, input_check=screen,
        )
        self._outcome: contextvars.ContextVar[OutcomeTuple | None] = contextvars.ContextVar(
            f"aiguard.outcome.{name}", default=None
        )
        self._listeners: list[Callable[[Outcome], Any]] = []
        self._faults = _monitoring.Faults()
        for monitor in taps:
            if callable(getattr(monitor, "subscribe", None)):
                monitor.subscribe(self._signal)

    @property
    def name(self) -> str:
        """The guard's name."""
        return self.config.name

    @property
    def breaker(self) -> CircuitBreaker | None:
        """The guard's circuit breaker, if any."""
        return self.config.breaker

    @property
    def last_outcome(self) -> Outcome | None:
        """The outcome of the last call through this guard in this thread or task."""
        raw = self._outcome.get()
        if raw is None:
            return None
        return Outcome(self.config.name, *raw)

    @property
    def monitors(self) -> tuple[Any, ...]:
        """The monitors fed by this guard."""
        return self.config.monitors

    @property
    def monitor_errors(self) -> int:
        """How many times a monitor raised while being fed (never seen by callers)."""
        return self._faults.count

    def _signal(self, signal: Any) -> None:
        for listener in tuple(self._listeners):
            try:
                listener(signal)
            except Exception:  # noqa: PERF203 - one listener must not silence the rest
                log_once(f"listener:{self.config.name}:{id(listener)}",
                         "aiguard: a listener of guard %r raised (logged once)", self.config.name)

    def add_listener(self, listener: Callable[[Outcome], Any]) -> None:
        """Call *listener* with the :class:`Outcome` of every call (monitors hook in here).

        With ``monitors=``, it also receives their
        :class:`~aiguard.detect.Signal` s (from the thread that decided).
        A listener that raises never breaks the call: the error is logged once.
        """
        if not callable(listener):
            raise ConfigurationError("listener", "a callable taking an Outcome", listener)
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[Outcome], Any]) -> None:
        """Stop calling *listener*."""
        self._listeners.remove(listener)

    def _sink(self) -> Sink:
        listeners = self._listeners
        name = self.config.name

        def notify(outcome: OutcomeTuple) -> None:
            event = Outcome(name, *outcome)
            for listener in tuple(listeners):
                try:
                    listener(event)
                except Exception:  # noqa: PERF203 - one listener must not silence the rest
                    log_once(f"listener:{name}:{id(listener)}",
                             "aiguard: a listener of guard %r raised (logged once)", name)

        return Sink(self._outcome.set, listeners, notify)

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Decorate a sync or ``async def`` predict function."""
        if not callable(fn):
            raise ConfigurationError("fn", "a callable to guard", fn)
        sink = self._sink()
        c = self.config
        if inspect.iscoroutinefunction(fn):
            guarded, set_model = build_async(c, fn, sink)
            if c.input_check is not None:
                guarded = _monitoring.screen_async(guarded, c, c.input_check, sink,
                                                   self._outcome.get)
            if c.monitors:
                guarded = _monitoring.tap_async(guarded, [m.tap for m in c.monitors],
                                                self._outcome.get, self._faults, c.name)
        else:
            guarded, set_model = build_sync(c, fn, sink)
            if c.input_check is not None:
                guarded = _monitoring.screen_sync(guarded, c, c.input_check, sink,
                                                  self._outcome.get)
            if c.monitors:
                guarded = _monitoring.tap_sync(guarded, [m.tap for m in c.monitors],
                                               self._outcome.get, self._faults, c.name)
        functools.update_wrapper(guarded, fn)
        guarded.__aiguard_guard__ = self  # type: ignore[attr-defined]
        guarded.__aiguard_set_model__ = set_model  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    def __repr__(self) -> str:
        """Show the configured stages."""
        c = self.config
        stages = [
            f"{label}={value!r}"
            for label, value in (
                ("kill_switch", c.kill_switch), ("rate_limit", c.rate_limit),
                ("bulkhead", c.bulkhead), ("breaker", c.breaker), ("timeout", c.timeout),
                ("retry", c.retry), ("hedge", c.hedge), ("check", c.check),
            )
            if value is not None
        ]
        if c.ladder is not None:
            stages.append(f"fallback={list(c.ladder.names)!r}")
        if c.fallback_rows:
            stages.append("fallback_rows=True")
        return f"Guard(name={c.name!r}{''.join(', ' + s for s in stages)})"


@overload
def guard(fn: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def guard(fn: None = None, /, **config: Any) -> Guard: ...
def guard(fn: Callable[P, R] | None = None, /, **config: Any) -> Callable[P, R] | Guard:
    """Build a :class:`Guard` (``@guard(...)``) or guard *fn* with defaults (``@guard``).

    Example:
        >>> import aiguard as ag
        >>> @ag.guard(name="scores", fallback=lambda x: 0.5)
        ... def score(x):
        ...     return 1 / x
        >>> score(0)
        0.5
    """
    if fn is not None:
        return Guard(name=getattr(fn, "__name__", "guard"))(fn)
    return Guard(**config)


class Wrapped(Generic[M]):
    """A model whose predict methods run through a guard; other attributes pass through."""

    _METHODS = ("predict", "predict_proba", "decision_function")

    def __init__(self, model: M, guard: Guard) -> None:
        if not isinstance(guard, Guard):
            raise ConfigurationError("guard", "a Guard", guard)
        methods = [m for m in self._METHODS if callable(getattr(model, m, None))]
        if not methods:
            raise ConfigurationError(
                "model", "an object with predict, predict_proba or decision_function", model
            )
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_guard", guard)
        for method in methods:
            object.__setattr__(self, method, guard(getattr(model, method)))

    @property
    def model(self) -> M:
        """The wrapped model itself."""
        return self._model  # type: ignore[no-any-return]

    @property
    def guard(self) -> Guard:
        """The guard around the predict methods."""
        return self._guard  # type: ignore[no-any-return]

    def __getattr__(self, item: str) -> Any:
        """Pass every other attribute through to the model."""
        return getattr(self._model, item)

    def __repr__(self) -> str:
        """Show the model and the guard."""
        return f"wrap({self._model!r}, {self._guard!r})"


def wrap(model: M, guard: Guard) -> Wrapped[M]:
    """Guard a scikit-learn style model's ``predict`` / ``predict_proba`` / ``decision_function``.

    Example:
        >>> import aiguard as ag
        >>> class Model:
        ...     classes_ = [0, 1]
        ...     def predict(self, X):
        ...         raise RuntimeError("boom")
        >>> safe = ag.wrap(Model(), ag.Guard(name="clf", fallback=lambda X: [0] * len(X)))
        >>> safe.predict([[1.0], [2.0]]), safe.classes_
        ([0, 0], [0, 1])
    """
    return Wrapped(model, guard)

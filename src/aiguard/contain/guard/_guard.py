"""The Guard: kill switch, limits, breaker, timeout, retry, check and fallback around predict."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
from typing import TYPE_CHECKING, Any, TypeVar, overload

from typing_extensions import ParamSpec

from aiguard._core import _validate
from aiguard._core._events import log_once
from aiguard.contain.guard import _monitoring
from aiguard.contain.guard._config import GuardConfig, GuardOptions, resolve
from aiguard.contain.guard._outcome import Outcome
from aiguard.contain.guard._parts import OutcomeTuple, Sink
from aiguard.contain.guard._pipeline import build_async, build_sync
from aiguard.contain.guard._stats import GuardStats
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence
    from datetime import timedelta

    from typing_extensions import Unpack

    from aiguard._core._matcher import ExceptionFilter
    from aiguard.contain._checks import Check
    from aiguard.contain._limits import Bulkhead, RateLimit
    from aiguard.contain.breaker import CircuitBreaker
    from aiguard.contain.flags._flags import Flags
    from aiguard.contain.timing import Hedge, Retry, Timeout
    from aiguard.typing import Clock, MonitorTap

__all__ = ["Guard", "GuardConfig", "GuardOptions", "guard"]

P = ParamSpec("P")
_ATTACH = threading.Lock()  # adding and removing listeners and taps (rare, never per call)
R = TypeVar("R")


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

    __slots__ = ("_active", "_faults", "_listeners", "_outcome", "_stats", "_taps", "config")

    def __init__(
        self,
        *,
        name: str = "guard",
        kill_switch: str | None = None,
        flags: Flags | None = None,
        rate_limit: RateLimit | float | None = None,
        bulkhead: Bulkhead | int | None = None,
        breaker: CircuitBreaker | None = None,
        timeout: Timeout | float | timedelta | None = None,
        retry: Retry | int | None = None,
        hedge: Hedge | float | timedelta | None = None,
        check: Check | Callable[[Any], Any] | None = None,
        fallback: Callable[..., Any] | Sequence[Callable[..., Any]] | None = None,
        fallback_rows: bool = False,
        fallback_on: ExceptionFilter = (Exception,),
        clock: Clock | None = None,
        monitors: Sequence[MonitorTap] = (),
        input_check: Check | Callable[[Any], Any] | None = None,
    ) -> None:
        self.config = resolve(
            name=name, kill_switch=kill_switch, flags=flags, rate_limit=rate_limit,
            bulkhead=bulkhead, breaker=breaker, timeout=timeout, retry=retry, hedge=hedge,
            check=check, fallback=fallback, fallback_rows=fallback_rows,
            fallback_on=fallback_on, clock=clock,
            monitors=monitors, input_check=input_check,
        )
        self._outcome: contextvars.ContextVar[OutcomeTuple | None] = contextvars.ContextVar(
            f"aiguard.outcome.{name}", default=None
        )
        self._listeners: list[Callable[[Outcome], Any]] = []
        self._taps: list[tuple[Callable[[OutcomeTuple], Any], ...]] = [()]  # raw, in one cell
        self._active: list[Callable[..., Any]] = []  # non-empty while anything listens
        self._stats: GuardStats | None = None
        self._faults = _monitoring.Faults()
        for monitor in self.config.monitors:
            subscribe = getattr(monitor, "subscribe", None)
            if callable(subscribe):
                subscribe(self._signal)

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

    def call_with_outcome(
        self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs
    ) -> tuple[R, Outcome]:
        """Call *fn* (a function calling through this guard) and return its result and outcome.

        The pair is read where the call ran, so it stays right when the call
        runs in a worker thread (``asyncio.to_thread``, Starlette's
        ``run_in_threadpool``): hand this method to the thread, not the bare
        function. When *fn* calls the guard several times, the outcome is the
        last call's. If *fn* raises, the exception propagates (the outcome is
        then in ``last_outcome`` of the context that ran it).

        Raises:
            ConfigurationError: *fn* is an ``async def`` function (use
                :meth:`acall_with_outcome`), or it returned without calling
                through this guard.

        Example:
            >>> import aiguard as ag
            >>> g = ag.Guard(name="clf", fallback=lambda x: 0)
            >>> @g
            ... def predict(x):
            ...     return 1 / x
            >>> g.call_with_outcome(predict, 0)[1].served_by
            'fallback'
        """
        if inspect.iscoroutinefunction(fn):
            raise ConfigurationError("fn", "a sync function (use acall_with_outcome)", fn)
        var = self._outcome
        var.set(None)
        result = fn(*args, **kwargs)
        return result, self._read(var.get(), fn)

    @overload
    async def acall_with_outcome(
        self, fn: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs
    ) -> tuple[R, Outcome]: ...
    @overload
    async def acall_with_outcome(
        self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs
    ) -> tuple[R, Outcome]: ...
    async def acall_with_outcome(
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> tuple[Any, Outcome]:
        """Await *fn* through this guard, return ``(result, outcome)``; sync *fn* run in a thread.

        An ``async def`` *fn* is awaited in the calling task. A sync *fn*
        (``wrapped.predict``) runs in a worker thread
        (:func:`asyncio.to_thread`), off the event loop. Either way the outcome
        returned is this call's own, and it is also set as ``last_outcome`` of
        the awaiting task, even when *fn* raises.

        Raises:
            ConfigurationError: *fn* returned without calling through this guard.

        Example:
            >>> import asyncio
            >>> import aiguard as ag
            >>> g = ag.Guard(name="clf", fallback=lambda x: 0)
            >>> @g
            ... def predict(x):
            ...     return 1 / x
            >>> result, outcome = asyncio.run(g.acall_with_outcome(predict, 0))
            >>> result, outcome.served_by, outcome.reason
            (0, 'fallback', 'error')
        """
        var = self._outcome
        if inspect.iscoroutinefunction(fn):
            var.set(None)
            result = await fn(*args, **kwargs)
            return result, self._read(var.get(), fn)
        ok, value, raw = await asyncio.to_thread(_run_capturing, var, fn, args, kwargs)
        if raw is not None:
            var.set(raw)
        if not ok:
            raise value
        return value, self._read(raw, fn)

    def _read(self, raw: OutcomeTuple | None, fn: object) -> Outcome:
        if raw is None:
            raise ConfigurationError(
                "fn", f"a function calling through guard {self.config.name!r}", fn
            )
        return Outcome(self.config.name, *raw)

    @property
    def monitors(self) -> tuple[MonitorTap, ...]:
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
                log_once(f"listener:{self.config.name}",
                         "aiguard: a listener of guard %r raised (logged once)",
                         self.config.name, owner=listener)

    def add_listener(self, listener: Callable[..., Any], *, raw: bool = False) -> None:
        """Call *listener* with the :class:`Outcome` of every call (monitors hook in here).

        With ``monitors=``, it also receives their
        :class:`~aiguard.detect.Signal` s (from the thread that decided).
        A listener that raises never breaks the call: the error is logged once.

        With ``raw=True`` the listener gets the outcome as the guard keeps it,
        a tuple of the :class:`Outcome` fields after ``guard`` in order
        (``served_by, reason, stage, rows_replaced, latency, error``, then
        ``rows_rejected, rejected`` only when the input check rejected rows;
        ``Outcome(guard.name, *raw)`` rebuilds it), and no signals. While
        only raw listeners are attached the guard builds no ``Outcome``
        object: about 1 µs less per call (``benchmarks/exporters.py``).

        Example:
            >>> import aiguard as ag
            >>> g = ag.Guard(name="g")
            >>> seen = []
            >>> g.add_listener(seen.append, raw=True)
            >>> g(lambda x: x)(1)
            1
            >>> seen[0][:4]
            ('model', None, 'model', 0)
        """
        if not callable(listener):
            raise ConfigurationError("listener", "a callable taking an Outcome", listener)
        with _ATTACH:
            if raw:
                self._taps[0] = (*self._taps[0], listener)
            else:
                self._listeners.append(listener)
            self._active[:] = [*self._taps[0], *self._listeners]

    def remove_listener(self, listener: Callable[..., Any]) -> None:
        """Stop calling *listener* (an Outcome listener, or a raw one).

        Raises:
            ValueError: *listener* is not attached.
        """
        with _ATTACH:
            taps = self._taps[0]
            if listener in self._listeners:
                self._listeners.remove(listener)
            elif listener in taps:
                i = taps.index(listener)
                self._taps[0] = taps[:i] + taps[i + 1:]
            else:
                raise ValueError(f"{listener!r} is not a listener of guard {self.config.name!r}")
            self._active[:] = [*self._taps[0], *self._listeners]

    @property
    def stats(self) -> GuardStats:
        """This guard's :class:`GuardStats`: calls by outcome, latency histogram, rows.

        Counting starts the first time ``stats`` is read (an exporter reads it
        when it starts watching) and then stays on for the guard's life: the
        Guard's own budget (kill switch + breaker + check + fallback, 1.5 µs)
        has no room for it on every guard, so a guard nobody reads pays
        nothing. Once on, it costs a few hundred nanoseconds per call
        (``python benchmarks/exporters.py``). The histogram's buckets are
        :data:`~aiguard.contain.guard.DEFAULT_BUCKETS` unless
        :meth:`enable_stats` chose others first.

        Example:
            >>> import aiguard as ag
            >>> g = ag.Guard(name="g")
            >>> predict = g(lambda x: x)
            >>> predict(1)                 # not counted: nobody asked yet
            1
            >>> stats = g.stats
            >>> predict(2), predict(3)
            (2, 3)
            >>> stats.snapshot().calls[("model", None)]
            2
        """
        stats = self._stats
        return stats if stats is not None else self.enable_stats()

    def enable_stats(self, *, buckets: Sequence[float] | None = None) -> GuardStats:
        """Switch counting on (see :attr:`stats`) with these histogram *buckets*; return the stats.

        Args:
            buckets: increasing upper bounds, in seconds; ``None`` keeps the
                bounds counting already uses, else
                :data:`~aiguard.contain.guard.DEFAULT_BUCKETS`.

        Raises:
            ConfigurationError: *buckets* are not increasing positive numbers,
                or counting is already on with other bounds (counts kept
                in some buckets cannot be re-binned into others).

        Example:
            >>> import aiguard as ag
            >>> g = ag.Guard(name="g")
            >>> g.enable_stats(buckets=[0.01, 0.1]).bounds
            (0.01, 0.1)
            >>> g.stats.bounds
            (0.01, 0.1)
        """
        with _ATTACH:
            stats = self._stats
            if stats is None:
                stats = GuardStats() if buckets is None else GuardStats(buckets=buckets)
                self._stats = stats
                self._taps[0] = (stats.record, *self._taps[0])
                self._active[:] = [*self._taps[0], *self._listeners]
            elif buckets is not None:
                wanted = _validate.bounds(buckets, "buckets")
                if wanted != stats.bounds:
                    raise ConfigurationError(
                        "buckets", f"the bounds guard {self.config.name!r} already counts "
                        f"with, {list(stats.bounds)}", list(wanted))
            return stats

    def _sink(self) -> Sink:
        listeners, taps, name = self._listeners, self._taps, self.config.name

        def notify(outcome: OutcomeTuple) -> None:
            for tap in taps[0]:
                try:
                    tap(outcome)
                except Exception:  # noqa: PERF203 - one listener must not silence the rest
                    log_once(f"listener:{name}", "aiguard: a listener of guard %r raised "
                             "(logged once)", name, owner=tap)
            if not listeners:
                return
            event = Outcome(name, *outcome)
            for listener in tuple(listeners):
                try:
                    listener(event)
                except Exception:  # noqa: PERF203 - one listener must not silence the rest
                    log_once(f"listener:{name}", "aiguard: a listener of guard %r raised "
                             "(logged once)", name, owner=listener)

        return Sink(self._outcome.set, self._active, notify)

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Decorate a sync or ``async def`` predict function."""
        if not callable(fn):
            raise ConfigurationError("fn", "a callable to guard", fn)
        sink = self._sink()
        c = self.config
        build: Any  # build_sync / build_async, and their screen and tap layers
        screen: Any
        tap: Any
        if inspect.iscoroutinefunction(fn):
            build, screen, tap = build_async, _monitoring.screen_async, _monitoring.tap_async
        else:
            build, screen, tap = build_sync, _monitoring.screen_sync, _monitoring.tap_sync
        guarded: Callable[..., Any]
        guarded, set_model = build(c, fn, sink)
        if c.input_check is not None:
            # The model's share of a batch whose other rows were rejected runs through a
            # quiet twin of the pipeline (it stores its outcome, tells nobody): the screen
            # then tells the listeners once, with the rejected rows in the outcome.
            quiet, set_quiet = build(c, fn, Sink(self._outcome.set, [], _silent))
            guarded = screen(guarded, quiet, c, c.input_check, sink, self._outcome.get)
            set_model = _both(set_model, set_quiet)
        if c.monitors:
            guarded = tap(guarded, c.monitors, self._outcome.get, self._faults, c.name)
        functools.update_wrapper(guarded, fn)
        guarded.__aiguard_guard__ = self  # type: ignore[attr-defined]
        guarded.__aiguard_set_model__ = set_model  # type: ignore[attr-defined]
        return guarded

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


def _silent(_outcome: OutcomeTuple) -> None:
    """The quiet pipeline's notify: never called (its listener list stays empty)."""


def _both(
    first: Callable[[Callable[..., Any]], None], second: Callable[[Callable[..., Any]], None]
) -> Callable[[Callable[..., Any]], None]:
    def set_model(new: Callable[..., Any]) -> None:
        first(new)
        second(new)

    return set_model


@overload
def guard(fn: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def guard(fn: None = None, /, **config: Unpack[GuardOptions]) -> Guard: ...
def guard(
    fn: Callable[P, R] | None = None, /, **config: Unpack[GuardOptions]
) -> Callable[P, R] | Guard:
    """Build a :class:`Guard` (``@guard(...)``) or guard *fn* with defaults (``@guard``).

    The keywords are :class:`Guard`'s (see :class:`GuardOptions`); type
    checkers check them.

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


def _run_capturing(
    var: contextvars.ContextVar[OutcomeTuple | None],
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> tuple[bool, Any, OutcomeTuple | None]:
    """In a worker thread: call *fn*, return (succeeded, result or exception, outcome)."""
    var.set(None)
    try:
        result = fn(*args, **kwargs)
    except BaseException as exc:  # handed back to the awaiting task, which raises it
        return False, exc, var.get()
    return True, result, var.get()

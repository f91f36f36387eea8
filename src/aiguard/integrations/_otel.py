"""OpenTelemetry spans and metrics for a guard (extra ``otel``).

How a call becomes a span: :func:`instrument` adds a raw listener to the
:class:`~aiguard.Guard` (``add_listener(..., raw=True)``), which runs in the
caller's thread right after the call with the guard's outcome tuple. For the
sampled share of calls it builds the :class:`~aiguard.Outcome` and makes the
span there with explicit times: it ends *now* and starts ``outcome.latency``
earlier. So the Guard's hot path is untouched (no context manager around the
model call, nothing at all while no instrumentation is attached), the span is
the child of whatever span is current in the caller (a web request's span),
and its duration is the guard's own measurement. What this gives up: spans the
model itself opens are siblings of the aiguard span, not its children. A call
not sampled costs the tap one counter increment and one test.

Breaker transitions are span events: a transition is decided in the thread of
the call that caused it, before that call's outcome reaches the tap, so it
is held per thread and attached to that call's span (a call with a transition
is always traced, whatever ``sample``). Fallbacks are a span event too
(``aiguard.fallback``).

Metrics, and what each costs per call:

* ``aiguard.calls`` and ``aiguard.fallback.rows`` are *observable* counters:
  the meter's callbacks read the guard's own counters (:attr:`aiguard.Guard.stats`,
  switched on by :func:`instrument`) when the metrics are collected, so they
  count every call exactly for the cost of the stats tally, not one OTel
  measurement per call (the SDK's attribute handling costs microseconds each).
* ``aiguard.call.duration`` (histogram, seconds) is recorded for the sampled
  calls only, the ones traced. OpenTelemetry has no asynchronous histogram
  instrument, so an exact one would cost a synchronous ``record`` per call;
  a systematic sample (every ``round(1 / sample)``-th call) keeps the
  distribution's shape and quantiles for a fraction of the cost, while the
  exact call counts come from ``aiguard.calls``. With ``sample=1`` every call
  is recorded. Exact cumulative buckets are in ``guard.stats`` (and the
  Prometheus collector's ``aiguard_call_duration_seconds``).
* ``aiguard.breaker.transitions`` (counter) is added to on a state change only.

Importing this module imports ``opentelemetry``; nothing else in aiguard does.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from aiguard._core import _validate
from aiguard.contain.guard import Guard, Outcome
from aiguard.errors import ConfigurationError, MissingExtraError

try:
    from opentelemetry import metrics as _metrics
    from opentelemetry import trace as _trace
    from opentelemetry.metrics import Observation
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError as exc:  # pragma: no cover - the dev environment has opentelemetry-api
    raise MissingExtraError("the OpenTelemetry instrumentation", "otel",
                            "opentelemetry-api") from exc

if TYPE_CHECKING:
    from collections.abc import Callable

    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

    from aiguard.contain.breaker import BreakerEvent
    from aiguard.contain.guard import GuardStatsSnapshot

__all__ = ["Instrumentation", "instrument"]

_SCOPE = "aiguard"
_MAX_PENDING = 16  # transitions held per thread (an operator thread never drains its own)


class _Observed:
    """The observable counters of one meter, reading every instrumented guard's stats.

    One per meter: the SDK keeps the first registration of an instrument name
    (and its callbacks) and ignores later ones, so every guard instrumented on
    a meter is read by the same callbacks.
    """

    def __init__(self, meter: Any) -> None:
        self._handles: dict[int, Instrumentation] = {}
        self._lock = threading.Lock()
        meter.create_observable_counter(
            "aiguard.calls", callbacks=[self._calls], unit="{call}",
            description="Guarded calls by who served them and why.")
        meter.create_observable_counter(
            "aiguard.fallback.rows", callbacks=[self._rows], unit="{row}",
            description="Rows of model answers replaced by a per-row fallback.")

    def add(self, handle: Instrumentation) -> None:
        with self._lock:
            self._handles[id(handle)] = handle

    def remove(self, handle: Instrumentation) -> None:
        with self._lock:
            self._handles.pop(id(handle), None)

    def _snapshots(self) -> list[tuple[str, GuardStatsSnapshot]]:
        with self._lock:
            guards = {id(h.guard): h.guard for h in self._handles.values()}
        return [(g.name, g.stats.snapshot()) for g in guards.values()]

    def _calls(self, _options: Any) -> list[Observation]:
        return [Observation(n, {"aiguard.guard": name, "aiguard.served_by": served_by,
                                "aiguard.reason": reason or "none"})
                for name, snap in self._snapshots()
                for (served_by, reason), n in snap.calls.items()]

    def _rows(self, _options: Any) -> list[Observation]:
        return [Observation(snap.rows_replaced, {"aiguard.guard": name})
                for name, snap in self._snapshots() if snap.rows_replaced]


_OBSERVED: weakref.WeakKeyDictionary[Any, _Observed] = weakref.WeakKeyDictionary()
_OBSERVED_LOCK = threading.Lock()


def _observed(meter: Any) -> _Observed:
    with _OBSERVED_LOCK:
        observed = _OBSERVED.get(meter)
        if observed is None:
            observed = _OBSERVED[meter] = _Observed(meter)
        return observed


class Instrumentation:
    """What :func:`instrument` attached to a guard; :meth:`close` detaches it.

    Attributes:
        guard: the instrumented guard.
        sample: the share of calls traced (and recorded in the duration
            histogram); the call counters count every call.
    """

    def __init__(self, guard: Guard, tracer: Any, meter: Any, sample: float) -> None:
        self.guard = guard
        self.sample = sample
        self._tracer = tracer
        self._pending = threading.local()
        self._held = [0]  # transitions held in any thread: the per-call test reads only this
        self._lock = threading.Lock()
        self._attributes: dict[tuple[str, str], dict[str, Any]] = {}  # built once per outcome kind
        guard.enable_stats()  # the counters are read from the guard's own stats
        self._duration = meter.create_histogram(
            "aiguard.call.duration", unit="s",
            description="Latency of the sampled guarded calls (those traced), from entering "
                        "the guard to the answer.",
        )
        self._transitions = meter.create_counter(
            "aiguard.breaker.transitions", unit="{transition}",
            description="Circuit breaker state changes.",
        )
        self._observed = _observed(meter)
        self._observed.add(self)
        self._tap = self._sampler(max(1, round(1.0 / sample)))
        guard.add_listener(self._tap, raw=True)
        self._breaker = guard.breaker
        if self._breaker is not None:
            self._breaker.add_listener(self._on_breaker, outcomes=False)

    def close(self) -> None:
        """Stop producing spans and metrics for the guard."""
        self.guard.remove_listener(self._tap)
        self._observed.remove(self)
        if self._breaker is not None:
            self._breaker.remove_listener(self._on_breaker)

    def __repr__(self) -> str:
        """Name the guard and the sampled share."""
        return f"Instrumentation(guard={self.guard.name!r}, sample={self.sample:g})"

    def _on_breaker(self, event: BreakerEvent) -> None:
        old, new = event.old.value, event.new.value
        self._transitions.add(1, {"aiguard.breaker": event.name,
                                  "aiguard.breaker.from": old, "aiguard.breaker.to": new})
        pending = getattr(self._pending, "items", None)
        if pending is None:
            pending = self._pending.items = []
        if len(pending) < _MAX_PENDING:
            pending.append((time.time_ns(), {
                "aiguard.breaker": event.name, "aiguard.breaker.from": old,
                "aiguard.breaker.to": new, "aiguard.breaker.reason": event.reason or "",
            }))
            with self._lock:
                self._held[0] += 1

    def _sampler(self, step: int) -> Callable[[tuple[Any, ...]], None]:
        """The guard's raw tap: count calls, trace every *step*-th and those with transitions."""
        local, held, name = self._pending, self._held, self.guard.name
        phase = 0

        def tap(raw: tuple[Any, ...]) -> None:
            nonlocal phase
            phase += 1
            pending = None
            if held[0]:
                pending = getattr(local, "items", None)
            if phase < step and not pending:
                return
            phase = 0
            if pending:
                local.items = None
                with self._lock:
                    held[0] -= len(pending)
            self._traced(Outcome(name, *raw), pending or ())

        return tap

    def _traced(self, outcome: Outcome, transitions: Any) -> None:
        key = (outcome.served_by, outcome.reason or "none")
        attributes = self._attributes.get(key)
        if attributes is None:
            attributes = self._attributes.setdefault(key, {
                "aiguard.guard": outcome.guard, "aiguard.served_by": key[0],
                "aiguard.reason": key[1]})
        self._duration.record(outcome.latency, {"aiguard.guard": outcome.guard})
        self._span(outcome, attributes, transitions)

    def _span(self, outcome: Outcome, attributes: dict[str, Any],
              transitions: Any) -> None:
        end = time.time_ns()
        start = end - int(outcome.latency * 1e9)
        span = self._tracer.start_span(
            f"aiguard {outcome.guard}", kind=SpanKind.INTERNAL, start_time=start,
            attributes={**attributes, "aiguard.stage": outcome.stage,
                        "aiguard.rows_replaced": outcome.rows_replaced,
                        "aiguard.rows_rejected": outcome.rows_rejected},
        )
        for at, event in transitions:
            span.add_event("aiguard.breaker.transition", event, timestamp=at)
        if outcome.fallback:
            span.add_event("aiguard.fallback", {
                "aiguard.served_by": outcome.served_by,
                "aiguard.reason": attributes["aiguard.reason"],
                "aiguard.rows_replaced": outcome.rows_replaced}, timestamp=end)
        if outcome.error is not None:
            span.record_exception(outcome.error, timestamp=end)
        if outcome.raised:
            span.set_status(Status(StatusCode.ERROR, attributes["aiguard.reason"]))
        span.end(end_time=end)


def instrument(
    guard: Guard,
    *,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    sample: float = 1.0,
) -> Instrumentation:
    """Make spans and metrics of *guard*'s calls through OpenTelemetry.

    Every call is counted (``aiguard.calls``, ``aiguard.fallback.rows``: observable
    counters over :attr:`aiguard.Guard.stats`, which this switches on). Each
    traced call is a span ``aiguard <guard name>`` (child of the caller's
    current span) with the outcome as attributes: ``aiguard.guard``,
    ``aiguard.served_by``, ``aiguard.reason`` (``"none"`` when the model's answer
    was used as-is), ``aiguard.stage``, ``aiguard.rows_replaced``,
    ``aiguard.rows_rejected``; breaker transitions and fallbacks are span
    events, an exception the guard caught is recorded on the span, and a call
    that raised has status ERROR. See the module docstring for why the span is
    made after the call with explicit times.

    Args:
        guard: the :class:`~aiguard.Guard` to instrument.
        tracer_provider: where spans go (default: the global tracer provider).
        meter_provider: where metrics go (default: the global meter provider).
        sample: the share of calls traced and recorded in the
            ``aiguard.call.duration`` histogram, in (0, 1]: every
            ``round(1 / sample)``-th call, plus every call with a breaker transition.

    Returns:
        The :class:`Instrumentation`; its ``close()`` detaches it.

    Raises:
        ConfigurationError: *guard* is not a Guard, or *sample* is not in (0, 1].

    Example:
        >>> import aiguard as ag
        >>> from opentelemetry.sdk.trace import TracerProvider
        >>> from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        >>> from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
        ...     InMemorySpanExporter)
        >>> exporter = InMemorySpanExporter()
        >>> provider = TracerProvider()
        >>> provider.add_span_processor(SimpleSpanProcessor(exporter))
        >>> recs = ag.Guard(name="recs", fallback=lambda x: 0.0)
        >>> handle = instrument(recs, tracer_provider=provider)
        >>> @recs
        ... def predict(x):
        ...     raise RuntimeError("down")
        >>> predict(1)
        0.0
        >>> span = exporter.get_finished_spans()[0]
        >>> span.name, span.attributes["aiguard.reason"], [e.name for e in span.events]
        ('aiguard recs', 'error', ['aiguard.fallback', 'exception'])
        >>> handle.close()
    """
    if not isinstance(guard, Guard):
        raise ConfigurationError("guard", "an aiguard Guard", guard)
    share = _validate.fraction(sample, "sample")
    from aiguard import __version__  # noqa: PLC0415 - aiguard imports this package lazily

    tracer = _trace.get_tracer(_SCOPE, __version__, tracer_provider=tracer_provider)
    if meter_provider is None:
        meter = _global_meter(__version__)
    else:
        meter = _metrics.get_meter(_SCOPE, __version__, meter_provider=meter_provider)
    return Instrumentation(guard, tracer, meter, share)


_GLOBAL_METER: list[Any] = []


def _global_meter(version: str) -> Any:
    """One meter of the global provider (a proxy per call would register the counters twice)."""
    with _OBSERVED_LOCK:
        if not _GLOBAL_METER:
            _GLOBAL_METER.append(_metrics.get_meter(_SCOPE, version))
        return _GLOBAL_METER[0]

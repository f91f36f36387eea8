"""OpenTelemetry spans and metrics for a guard (extra ``otel``).

How a call becomes a span: :func:`instrument` adds a :class:`~aiguard.Guard`
listener, which runs in the caller's thread right after the call, with the
call's :class:`~aiguard.Outcome`. The span is made there with explicit times:
it ends *now* and starts ``outcome.latency`` earlier. So the Guard's hot path is
untouched (no context manager around the model call, nothing at all while no
instrumentation is attached), the span is the child of whatever span is current
in the caller (a web request's span), and its duration is the guard's own
measurement. What this gives up: spans the model itself opens are siblings of
the aiguard span, not its children.

Breaker transitions are span events: a transition is decided in the thread of
the call that caused it, before that call's outcome reaches the listener, so it
is held per thread and attached to that call's span (a call with a transition
is always traced, whatever ``sample``). Fallbacks are a span event too
(``aiguard.fallback``).

Metrics go through the OTel metrics API on every call (not sampled):
``aiguard.calls`` (counter), ``aiguard.call.duration`` (histogram, seconds),
``aiguard.fallback.rows`` (counter) and ``aiguard.breaker.transitions`` (counter).

Importing this module imports ``opentelemetry``; nothing else in aiguard does.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from aiguard._core import _validate
from aiguard.contain.guard import Guard, Outcome
from aiguard.errors import ConfigurationError, MissingExtraError

try:
    from opentelemetry import metrics as _metrics
    from opentelemetry import trace as _trace
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError as exc:  # pragma: no cover - the dev environment has opentelemetry-api
    raise MissingExtraError("the OpenTelemetry instrumentation", "otel",
                            "opentelemetry-api") from exc

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

    from aiguard.contain.breaker import BreakerEvent

__all__ = ["Instrumentation", "instrument"]

_SCOPE = "aiguard"
_MAX_PENDING = 16  # transitions held per thread (an operator thread never drains its own)


class Instrumentation:
    """What :func:`instrument` attached to a guard; :meth:`close` detaches it.

    Attributes:
        guard: the instrumented guard.
        sample: the share of calls traced (metrics count every call).
    """

    def __init__(self, guard: Guard, tracer: Any, meter: Any, sample: float) -> None:
        self.guard = guard
        self.sample = sample
        self._tracer = tracer
        self._step = max(1, round(1.0 / sample))
        self._phase = 0
        self._pending = threading.local()
        self._by_guard = {"aiguard.guard": guard.name}
        self._attributes: dict[tuple[str, str], dict[str, Any]] = {}  # built once per outcome kind
        self._calls = meter.create_counter(
            "aiguard.calls", unit="{call}", description="Guarded calls by who served them and why."
        )
        self._duration = meter.create_histogram(
            "aiguard.call.duration", unit="s",
            description="Latency of guarded calls, from entering the guard to the answer.",
        )
        self._rows = meter.create_counter(
            "aiguard.fallback.rows", unit="{row}",
            description="Rows of model answers replaced by a per-row fallback.",
        )
        self._transitions = meter.create_counter(
            "aiguard.breaker.transitions", unit="{transition}",
            description="Circuit breaker state changes.",
        )
        guard.add_listener(self._on_outcome)
        self._breaker = guard.breaker
        if self._breaker is not None:
            self._breaker.add_listener(self._on_breaker, outcomes=False)

    def close(self) -> None:
        """Stop producing spans and metrics for the guard."""
        self.guard.remove_listener(self._on_outcome)
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

    def _on_outcome(self, outcome: object) -> None:
        if type(outcome) is not Outcome:  # the guard also passes its monitors' signals
            return
        key = (outcome.served_by, outcome.reason or "none")
        attributes = self._attributes.get(key)
        if attributes is None:
            attributes = self._attributes.setdefault(key, {
                "aiguard.guard": outcome.guard, "aiguard.served_by": key[0],
                "aiguard.reason": key[1]})
        self._calls.add(1, attributes)
        self._duration.record(outcome.latency, self._by_guard)
        if outcome.rows_replaced:
            self._rows.add(outcome.rows_replaced, self._by_guard)
        pending = getattr(self._pending, "items", None)
        self._phase += 1
        if self._phase < self._step and not pending:
            return
        self._phase = 0
        self._pending.items = None
        self._span(outcome, attributes, pending or ())

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

    Each traced call is a span ``aiguard <guard name>`` (child of the caller's
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
        sample: the share of calls traced, in (0, 1]: every
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
    meter = _metrics.get_meter(_SCOPE, __version__, meter_provider=meter_provider)
    return Instrumentation(guard, tracer, meter, share)

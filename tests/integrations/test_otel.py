"""OpenTelemetry instrumentation, read back through the SDK's in-memory exporters."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import aiguard as ag
from aiguard.detect import LatencyMonitor
from aiguard.errors import ConfigurationError
from aiguard.integrations.otel import instrument
from aiguard.testing import FakeClock

if TYPE_CHECKING:
    from collections.abc import Iterator


class Otel:
    """An SDK tracer and meter provider writing to memory."""

    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        assert data is not None
        return [p for rm in data.resource_metrics for sm in rm.scope_metrics
                for m in sm.metrics if m.name == name for p in m.data.data_points]

    def instrument(self, guard: ag.Guard, **kw: Any) -> Any:
        return instrument(guard, tracer_provider=self.tracer_provider,
                          meter_provider=self.meter_provider, **kw)


@pytest.fixture
def otel() -> Iterator[Otel]:
    o = Otel()
    yield o
    o.tracer_provider.shutdown()
    o.meter_provider.shutdown()


def flaky(clock: FakeClock, latencies: Any, errors: set[int], state: dict[str, int]) -> Any:
    def predict(x: Any) -> Any:
        i = state["i"]
        state["i"] += 1
        clock.advance(float(latencies[i]))
        if i in errors:
            raise RuntimeError("down")
        return x

    return predict


def test_a_span_per_call_with_the_outcome_and_its_latency(otel: Otel) -> None:
    """Each span carries the outcome and lasts the guard's measured latency."""
    clock = FakeClock()
    latencies = np.random.default_rng(0).gamma(2.0, 0.05, size=30)
    errors = {3, 10, 11}
    recs = ag.Guard(name="recs", clock=clock, fallback=lambda x: -1)
    handle = otel.instrument(recs)
    predict = recs(flaky(clock, latencies, errors, {"i": 0}))
    tracer = otel.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("request") as request:
        for i in range(30):
            predict(i)
    spans = [s for s in otel.spans.get_finished_spans() if s.name == "aiguard recs"]
    assert len(spans) == 30
    for i, span in enumerate(spans):
        assert span.parent is not None
        assert span.parent.span_id == request.get_span_context().span_id
        assert span.end_time is not None
        assert span.start_time is not None
        assert abs((span.end_time - span.start_time) - latencies[i] * 1e9) <= 1
        a = span.attributes
        assert a is not None
        fell_back = i in errors
        assert a["aiguard.guard"] == "recs"
        assert a["aiguard.served_by"] == ("fallback" if fell_back else "model")
        assert a["aiguard.reason"] == ("error" if fell_back else "none")
        assert a["aiguard.stage"] == ("model" if not fell_back else a["aiguard.stage"])
        assert a["aiguard.rows_replaced"] == 0
        events = [e.name for e in span.events]
        assert events == (["aiguard.fallback", "exception"] if fell_back else [])
        assert span.status.status_code is StatusCode.UNSET
    assert repr(handle) == "Instrumentation(guard='recs', sample=1)"
    handle.close()
    predict(0)
    assert len(otel.spans.get_finished_spans()) == 31  # 30 + the request span, none after close


def test_metrics_count_every_call_and_record_latency(otel: Otel) -> None:
    """Calls by outcome count every call; the latency histogram holds the sampled calls."""
    clock = FakeClock()
    latencies = np.random.default_rng(1).gamma(2.0, 0.01, size=100)
    errors = set(range(0, 100, 9))
    recs = ag.Guard(name="recs", clock=clock, fallback=lambda x: -1)
    otel.instrument(recs, sample=0.1)
    predict = recs(flaky(clock, latencies, errors, {"i": 0}))
    for i in range(100):
        predict(i)
    calls = {(p.attributes["aiguard.served_by"], p.attributes["aiguard.reason"]): p.value
             for p in otel.points("aiguard.calls")}
    assert calls == {("model", "none"): 100 - len(errors), ("fallback", "error"): len(errors)}
    (hist,) = otel.points("aiguard.call.duration")
    sampled = latencies[9::10]  # the 10th, 20th, ... call: the traced ones
    assert hist.count == 10
    assert hist.sum == pytest.approx(float(sampled.sum()))
    assert hist.min == pytest.approx(float(sampled.min()))
    assert len(otel.spans.get_finished_spans()) == 10  # every 10th call is traced


def test_rows_replaced_are_counted_and_a_raise_is_an_error_span(otel: Otel) -> None:
    """A per-row fallback adds its rows; a call that raised has status ERROR."""
    recs = ag.Guard(name="recs", check=ag.checks.finite(), fallback=lambda x: np.zeros(len(x)),
                    fallback_rows=True)
    bare = ag.Guard(name="bare")
    otel.instrument(recs)
    otel.instrument(bare)
    predict = recs(lambda x: np.array([1.0, np.nan, np.nan]))

    @bare
    def boom(x: Any) -> Any:
        raise ValueError("bad")

    predict(np.zeros(3))
    with pytest.raises(ValueError, match="bad"):
        boom(1)
    (rows,) = otel.points("aiguard.fallback.rows")
    assert rows.value == 2
    by_guard = {s.attributes["aiguard.guard"]: s for s in otel.spans.get_finished_spans()
                if s.attributes is not None}
    assert by_guard["recs"].attributes is not None
    assert by_guard["recs"].attributes["aiguard.rows_replaced"] == 2
    assert [e.name for e in by_guard["recs"].events] == ["aiguard.fallback"]
    assert by_guard["bare"].status.status_code is StatusCode.ERROR
    assert by_guard["bare"].attributes is not None
    assert by_guard["bare"].attributes["aiguard.served_by"] == "raised"
    assert [e.name for e in by_guard["bare"].events] == ["exception"]


def test_breaker_transitions_are_events_on_the_call_that_caused_them(otel: Otel) -> None:
    """The call that trips the breaker is traced, whatever the sampling, with the event."""
    clock = FakeClock()
    breaker = ag.CircuitBreaker(name="b", window=4, min_calls=4, failure_rate=0.5,
                                open_for=30, clock=clock)
    recs = ag.Guard(name="recs", breaker=breaker, fallback=lambda x: 0.0, clock=clock)
    otel.instrument(recs, sample=0.01)

    @recs
    def predict(x: Any) -> Any:
        raise RuntimeError("down")

    for _ in range(6):
        predict(1)
    spans = otel.spans.get_finished_spans()
    assert len(spans) == 1  # only the call that tripped the breaker (1 in 100 otherwise)
    (event,) = [e for e in spans[0].events if e.name == "aiguard.breaker.transition"]
    assert event.attributes is not None
    assert (event.attributes["aiguard.breaker.from"], event.attributes["aiguard.breaker.to"]) == (
        "closed", "open")
    transitions = Counter({(p.attributes["aiguard.breaker.from"],
                            p.attributes["aiguard.breaker.to"]): p.value
                           for p in otel.points("aiguard.breaker.transitions")})
    assert transitions == Counter({("closed", "open"): 1})


def test_transitions_held_per_thread_are_bounded(otel: Otel) -> None:
    """An operator thread that never makes calls holds at most a few transitions."""
    breaker = ag.CircuitBreaker(name="b")
    recs = ag.Guard(name="recs", breaker=breaker)
    handle = otel.instrument(recs, sample=0.5)
    for _ in range(20):
        breaker.force_open()
        breaker.reset()
    assert len(handle._pending.items) == 16
    predict = recs(lambda x: x)
    predict(1)
    (span,) = otel.spans.get_finished_spans()
    assert len(span.events) == 16
    predict(1)  # nothing pending and not this call's turn: no span
    assert len(otel.spans.get_finished_spans()) == 1
    handle.close()


def test_monitor_signals_passed_to_listeners_make_no_span(otel: Otel) -> None:
    """A guard hands its monitors' signals to listeners too; they are not calls."""
    clock = FakeClock()
    monitor = LatencyMonitor(window=60, slices=6, limit=0.1, baseline=0.05, min_count=5,
                             clock=clock)
    recs = ag.Guard(name="recs", monitors=[monitor], clock=clock)
    otel.instrument(recs)
    monitor.evaluate()
    monitor.observe([0.5] * 50)
    clock.advance(11)
    assert monitor.evaluate() is not None
    assert otel.spans.get_finished_spans() == ()


def test_global_providers_are_the_default() -> None:
    """Without providers the global (no-op by default) ones are used and calls still work."""
    recs = ag.Guard(name="recs")
    handle = instrument(recs)
    again = instrument(ag.Guard(name="other"))  # the same global meter, counters registered once
    assert recs(lambda x: x + 1)(1) == 2
    handle.close()
    again.close()


@pytest.mark.parametrize(("kwargs", "argument"), [
    ({"guard": object()}, "guard"),
    ({"sample": 0}, "sample"),
    ({"sample": 1.5}, "sample"),
    ({"sample": True}, "sample"),
])
def test_bad_arguments(kwargs: dict[str, Any], argument: str) -> None:
    """A wrong guard or sample is refused, naming the argument."""
    options: dict[str, Any] = {"guard": ag.Guard(), **kwargs}
    guard = options.pop("guard")
    with pytest.raises(ConfigurationError, match=argument):
        instrument(guard, **options)


def test_numpy_sample_is_accepted(otel: Otel) -> None:
    """A numpy float is a share like any other."""
    handle = otel.instrument(ag.Guard(), sample=np.float64(0.5))
    assert handle.sample == 0.5


def test_counters_are_exact_while_only_the_sampled_share_is_traced(otel: Otel) -> None:
    """At sample=0.01 every call is counted (from guard.stats), 1 in 100 traced and timed."""
    recs = ag.Guard(name="recs", fallback=lambda x: -1)
    otel.instrument(recs, sample=0.01)
    assert not recs._listeners  # a raw tap and the stats: no Outcome built per call
    predict = recs(lambda x: 1 / x)
    for i in range(300):
        predict(i % 4)
    calls = {(p.attributes["aiguard.guard"], p.attributes["aiguard.served_by"],
              p.attributes["aiguard.reason"]): p.value for p in otel.points("aiguard.calls")}
    assert calls == {("recs", "model", "none"): 225, ("recs", "fallback", "error"): 75}
    assert recs.stats.snapshot().count == 300
    (hist,) = otel.points("aiguard.call.duration")
    assert hist.count == 3
    assert len(otel.spans.get_finished_spans()) == 3


def test_two_guards_on_one_meter_and_close(otel: Otel) -> None:
    """Each guard instrumented on the same meter is observed; a closed one is no longer."""
    first, second = ag.Guard(name="first"), ag.Guard(name="second")
    handle = otel.instrument(first)
    otel.instrument(second)
    first(lambda x: x)(1)
    second(lambda x: x)(1)
    assert {p.attributes["aiguard.guard"] for p in otel.points("aiguard.calls")} == {
        "first", "second"}
    handle.close()
    assert {p.attributes["aiguard.guard"] for p in otel.points("aiguard.calls")} == {"second"}


def test_a_drained_transition_is_no_longer_held(otel: Otel) -> None:
    """Once a call carried the held transitions, later calls follow the sampling again."""
    breaker = ag.CircuitBreaker(name="b")
    recs = ag.Guard(name="recs", breaker=breaker)
    handle = otel.instrument(recs, sample=0.01)
    predict = recs(lambda x: x)
    breaker.force_open()
    breaker.reset()
    assert handle._held == [2]
    predict(1)
    assert handle._held == [0]
    for _ in range(5):
        predict(1)
    assert len(otel.spans.get_finished_spans()) == 1

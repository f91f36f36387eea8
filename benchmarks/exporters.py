"""Per-call cost of the observability exporters on a guarded call, side by side with none.

Run:  python benchmarks/exporters.py [--quick]

One Guard (circuit breaker + fallback, closed, every call succeeding) around a
one-argument identity model, called in a tight loop; best of interleaved rounds.
Rows:

- ``raw call``: the model alone (the baseline of the 'added ns' column).
- ``guard, no exporter``: the Guard alone.
- ``guard + a no-op listener``: what any Guard listener costs (the Guard builds
  the :class:`~aiguard.Outcome` object only while a listener is attached).
- ``guard + AiguardCollector``: the Prometheus collector watching the guard
  (its per-call listener: calls by served_by/reason, rows, latency buckets;
  the breaker and the rest are read at scrape time and cost nothing per call).
- ``guard + hand-written prometheus_client``: what a user writes without the
  collector, a ``Counter.labels(...).inc()`` and a ``Histogram.labels(...).observe()``
  per call from a listener (the peer).
- ``guard + otel instrument (sample=0.01)`` and ``(sample=1)``: OTel SDK
  providers (a ``TracerProvider`` with no span processor, so no export cost,
  and a ``MeterProvider`` with an in-memory reader); metrics are recorded on
  every call, a span is made for the sampled share.

'exporter ns' is the row's cost minus the Guard alone.
"""

from __future__ import annotations

import time
from typing import Any

from _bench import markdown_table, parser, versions

import aiguard


def ident(x: Any) -> Any:
    return x


def guarded() -> tuple[aiguard.Guard, Any]:
    guard = aiguard.Guard(name="bench", breaker=aiguard.CircuitBreaker(name="bench"),
                          fallback=lambda x: x)
    return guard, guard(ident)


def with_noop_listener() -> Any:
    guard, fn = guarded()
    guard.add_listener(lambda _outcome: None)
    return fn


def with_collector() -> Any:
    from aiguard.integrations.prometheus import AiguardCollector

    guard, fn = guarded()
    AiguardCollector(guards=[guard])
    return fn


def with_hand_written() -> Any:
    from prometheus_client import CollectorRegistry, Counter, Histogram

    registry = CollectorRegistry()
    calls = Counter("calls", "calls", ["guard", "served_by", "reason"], registry=registry)
    latency = Histogram("latency_seconds", "latency", ["guard"], registry=registry)
    guard, fn = guarded()

    def listen(outcome: Any) -> None:
        calls.labels(outcome.guard, outcome.served_by, outcome.reason or "none").inc()
        latency.labels(outcome.guard).observe(outcome.latency)

    guard.add_listener(listen)
    return fn


def with_otel(sample: float) -> Any:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider

    from aiguard.integrations.otel import instrument

    guard, fn = guarded()
    instrument(guard, tracer_provider=TracerProvider(),
               meter_provider=MeterProvider(metric_readers=[InMemoryMetricReader()]),
               sample=sample)
    return fn


def best(
    cases: list[tuple[str, Any]], *, number: int, rounds: int
) -> dict[str, tuple[float, float]]:
    """Best (wall ns, caller CPU ns) per call of each case, rounds interleaved across cases.

    Caller CPU is ``time.thread_time`` of the calling thread: on a shared machine
    it leaves out the time the thread waited for a core, which wall time includes.
    """
    wall = {name: float("inf") for name, _ in cases}
    cpu = dict(wall)
    for _ in range(rounds):
        for name, fn in cases:
            rng = range(number)
            c0, w0 = time.thread_time(), time.perf_counter()
            for _ in rng:
                fn(1)
            w1, c1 = time.perf_counter(), time.thread_time()
            wall[name] = min(wall[name], (w1 - w0) / number * 1e9)
            cpu[name] = min(cpu[name], (c1 - c0) / number * 1e9)
    return {name: (wall[name], cpu[name]) for name, _ in cases}


CASES: list[tuple[str, Any]] = [
    ("raw call", lambda: ident),
    ("guard, no exporter", lambda: guarded()[1]),
    ("guard + a no-op listener", with_noop_listener),
    ("guard + AiguardCollector", with_collector),
    ("guard + hand-written prometheus_client", with_hand_written),
    ("guard + otel instrument (sample=0.01)", lambda: with_otel(0.01)),
    ("guard + otel instrument (sample=1)", lambda: with_otel(1.0)),
]


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    chosen = [c for c in CASES if not args.only or c[0] in ("raw call", "guard, no exporter")
              or any(o.lower() in c[0].lower() for o in args.only)]
    packages = ["aiguard", "prometheus-client", "opentelemetry-api", "opentelemetry-sdk"]
    print(f"# exporter overhead ({versions(packages)})")
    print()
    number, rounds = (2_000, 3) if args.quick else (20_000, 7)
    timed = best([(name, make()) for name, make in chosen], number=number, rounds=rounds)
    raw, bare = timed["raw call"], timed["guard, no exporter"]
    rows = []
    for name, _make in chosen:
        wall, cpu = timed[name]
        over = "-" if name in ("raw call", "guard, no exporter") else (
            f"{wall - bare[0]:,.0f}", f"{cpu - bare[1]:,.0f}")
        rows.append([name, f"{wall:,.0f}", f"{cpu:,.0f}",
                     *(("-", "-") if over == "-" else over),
                     f"{(cpu - raw[1]) / (bare[1] - raw[1]):.2f}x"])
    print(f"Tight loop of {number:,} calls x {rounds} interleaved rounds, best round.")
    print("'exporter' columns = over the Guard alone; 'ratio' = caller CPU added over the")
    print("raw call / the Guard alone's.")
    print()
    print(markdown_table(["case", "wall ns/call", "caller CPU ns/call", "exporter wall ns",
                          "exporter CPU ns", "ratio (CPU)"], rows))


if __name__ == "__main__":
    main()

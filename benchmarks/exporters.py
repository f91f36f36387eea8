"""Per-call cost of the observability exporters on a guarded call, side by side with none.

Run:  python benchmarks/exporters.py [--quick]

One Guard (circuit breaker + fallback, closed, every call succeeding) around a
one-argument identity model, called in a tight loop; best of interleaved rounds.
Rows:

- ``raw call``: the model alone (the baseline of the 'added ns' column).
- ``guard, no exporter``: the Guard alone.
- ``guard, stats on``: the Guard counting its own calls (``guard.stats`` read
  once): calls by served_by/reason, rows, latency histogram, fed the raw
  outcome tuple (no :class:`~aiguard.Outcome` built).
- ``guard + a no-op raw listener`` and ``guard + a no-op Outcome listener``:
  what any listener costs; the Guard builds the ``Outcome`` object only for
  Outcome listeners.
- ``guard + AiguardCollector``: the Prometheus collector watching the guard
  (it switches the guard's stats on and reads them at scrape time; the breaker
  and the rest are read at scrape time too).
- ``guard + hand-written prometheus_client``: what a user writes without the
  collector, a ``Counter.labels(...).inc()`` and a ``Histogram.labels(...).observe()``
  per call from a listener (the peer).
- ``guard + otel instrument (sample=0.01)`` and ``(sample=1)``: OTel SDK
  providers (a ``TracerProvider`` with no span processor, so no export cost,
  and a ``MeterProvider`` with an in-memory reader): counters are observable
  instruments reading ``guard.stats`` at collection time; the sampled share
  of calls makes a span and a duration-histogram measurement.
- ``guard + locked tally (not shipped)``: the design not taken, the same
  counts kept under one ``threading.Lock`` instead of per-thread shards.

A second table runs the stats designs with two threads calling one guard at
once (wall time per call over both threads: contention shows there).

'exporter ns' is the row's cost minus the Guard alone.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from typing import Any

from _bench import markdown_table, parser, versions

import aiguard
import aiguard.contain.guard


def ident(x: Any) -> Any:
    return x


def guarded() -> tuple[aiguard.Guard, Any]:
    guard = aiguard.Guard(name="bench", breaker=aiguard.CircuitBreaker(name="bench"),
                          fallback=lambda x: x)
    return guard, guard(ident)


def with_stats() -> Any:
    guard, fn = guarded()
    _ = guard.stats
    return fn


def with_noop_listener(*, raw: bool) -> Any:
    guard, fn = guarded()
    guard.add_listener(lambda _outcome: None, raw=raw)
    return fn


class LockedTally:
    """The design not taken: the same counts as GuardStats, kept under one lock."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds, self.width = bounds, len(bounds) + 1
        self.rows: dict[Any, list[Any]] = {}
        self.lock = threading.Lock()

    def __call__(self, outcome: Any) -> None:
        key = (outcome[0], outcome[1])
        i = bisect_left(self.bounds, outcome[4])
        self.lock.acquire()
        try:
            row = self.rows.get(key)
            if row is None:
                row = self.rows[key] = [0] * self.width + [0.0, 0, 0]
            row[i] += 1
            row[self.width] += outcome[4]
            if outcome[3]:
                row[self.width + 1] += outcome[3]
        finally:
            self.lock.release()


def with_locked_tally() -> Any:
    guard, fn = guarded()
    guard.add_listener(LockedTally(aiguard.contain.guard.DEFAULT_BUCKETS), raw=True)
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
    ("guard, stats on", with_stats),
    ("guard + locked tally (not shipped)", with_locked_tally),
    ("guard + a no-op raw listener", lambda: with_noop_listener(raw=True)),
    ("guard + a no-op Outcome listener", lambda: with_noop_listener(raw=False)),
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
    if args.only and not any(o.lower() in "stats" for o in args.only):
        return
    print()
    print(f"Two threads calling one guard at once, {number:,} calls each x {rounds} rounds,")
    print("best round; wall ns per call over both threads (the GIL runs one at a time).")
    print()
    two = [("guard, no exporter", lambda: guarded()[1]), ("guard, stats on", with_stats),
           ("guard + locked tally (not shipped)", with_locked_tally)]
    walls = two_threads([(name, make()) for name, make in two], number=number, rounds=rounds)
    print(markdown_table(["case", "wall ns/call (2 threads)", "added over the Guard alone"],
                         [[name, f"{walls[name]:,.0f}",
                           "-" if name == two[0][0] else f"{walls[name] - walls[two[0][0]]:,.0f}"]
                          for name, _ in two]))


def two_threads(cases: list[tuple[str, Any]], *, number: int, rounds: int) -> dict[str, float]:
    """Best wall ns per call of each case with two threads calling it at once."""
    best = {name: float("inf") for name, _ in cases}
    for _ in range(rounds):
        for name, fn in cases:
            def work(fn: Any = fn) -> None:
                for _ in range(number):
                    fn(1)

            threads = [threading.Thread(target=work) for _ in range(2)]
            w0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            best[name] = min(best[name], (time.perf_counter() - w0) / (2 * number) * 1e9)
    return best


if __name__ == "__main__":
    main()

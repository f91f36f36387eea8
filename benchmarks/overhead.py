"""Per-call overhead of a closed circuit breaker and of the full Guard: aiguard against peers.

Run:  python benchmarks/overhead.py [--only NAME] [--quick]

Groups (each case is a named row; add rows to CASES):

- ``sync``: a one-argument identity function called in a tight loop through
  each breaker, CLOSED, every call succeeding; the table shows the ns added
  over the raw call and the ratio of that cost to aiguard's.
- ``async``: the same with an ``async def`` identity function, awaited.
- ``guard``: the full Guard of issue 5 (kill switch + breaker + check +
  fallback, no limits) on a scalar sync call, against pyresilience's
  ``@resilient`` with its circuit breaker and fallback, and tenacity's
  ``@retry`` (three attempts, none needed): the bundles users reach for today.
- ``checks``: a model returning a 1000 x 20 float batch, with and without the
  output check ``finite() & in_range(-10, 10)`` in a Guard (fallback_rows on).
- ``limits``: a Guard with only a RateLimit (never empty) or only a Bulkhead
  (never full), against an empty Guard and pyresilience's rate limiter and bulkhead.
- ``threads``: a 1 ms model (``time.sleep(0.001)``) called through one shared
  breaker by one thread, then by two; the ratio of the two throughputs shows
  whether the breaker serialises callers (a lock held around the call caps it at 1x).
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from typing import Any

import numpy as np
from _bench import Case, best_ns, markdown_table, parser, selected, versions

import aiguard


def ident(x: Any) -> Any:
    return x


async def aident(x: Any) -> Any:
    return x


def sleep_1ms(x: Any) -> Any:
    time.sleep(0.001)
    return x


# -- factories: each returns the decorated function ----------------------------------


def wrap_aiguard(fn: Any) -> Any:
    return aiguard.CircuitBreaker(name="bench")(fn)


def wrap_pybreaker(fn: Any) -> Any:
    import pybreaker

    return pybreaker.CircuitBreaker(fail_max=5, reset_timeout=30)(fn)


def wrap_circuitbreaker(fn: Any) -> Any:
    import circuitbreaker

    return circuitbreaker.CircuitBreaker(failure_threshold=5, recovery_timeout=30)(fn)


def wrap_purgatory_sync(fn: Any) -> Any:
    import purgatory

    factory = purgatory.SyncCircuitBreakerFactory(default_threshold=5, default_ttl=30)
    factory.initialize()
    return factory(f"bench-{id(fn)}")(fn)


async def wrap_purgatory_async(fn: Any) -> Any:
    import purgatory

    factory = purgatory.AsyncCircuitBreakerFactory(default_threshold=5, default_ttl=30)
    await factory.initialize()
    return (
        await factory(f"bench-{id(fn)}")(fn)
        if asyncio.iscoroutine(factory(f"bench-{id(fn)}"))
        else factory(f"bench-{id(fn)}")(fn)
    )


SYNC_PEERS = {
    "aiguard CircuitBreaker": (wrap_aiguard, ("aiguard",)),
    "pybreaker": (wrap_pybreaker, ("pybreaker",)),
    "circuitbreaker": (wrap_circuitbreaker, ("circuitbreaker",)),
    "purgatory": (wrap_purgatory_sync, ("purgatory",)),
}


def _sync_case(name: str, wrap: Any, packages: tuple[str, ...]) -> Case:
    return Case(name, "sync", lambda: functools.partial(wrap(ident), 1), "sync", packages=packages)


def _async_case(name: str, wrap: Any, packages: tuple[str, ...]) -> Case:
    return Case(
        name, "async", lambda: functools.partial(wrap(aident), 1), "async", packages=packages
    )


def _threads_case(name: str, wrap: Any, packages: tuple[str, ...]) -> Case:
    return Case(name, "threads", lambda: wrap(sleep_1ms), "threads", packages=packages)


def wrap_guard(fn: Any) -> Any:
    return aiguard.Guard(name="bench", breaker=aiguard.CircuitBreaker(name="bench"))(fn)


def _full_guard(fn: Any) -> Any:
    flags = aiguard.Flags()
    flags.set("bench.model", on=True, reason="bench", actor="bench")
    return aiguard.Guard(
        name="bench-full",
        kill_switch="bench.model",
        flags=flags,
        breaker=aiguard.CircuitBreaker(name="bench-full"),
        check=aiguard.checks.finite() & aiguard.checks.in_range(-1e9, 1e9),
        fallback=lambda _x: 0.0,
    )(fn)


def _pyresilience_full(fn: Any) -> Any:
    import pyresilience as pr

    return pr.resilient(
        circuit_breaker=pr.CircuitBreakerConfig(failure_threshold=5, recovery_timeout=30),
        fallback=pr.FallbackConfig(handler=lambda _x: 0.0),
    )(fn)


def _pyresilience_rate(fn: Any) -> Any:
    import pyresilience as pr

    return pr.resilient(rate_limiter=pr.RateLimiterConfig(max_calls=10**12, period=1.0))(fn)


def _pyresilience_bulkhead(fn: Any) -> Any:
    import pyresilience as pr

    return pr.resilient(bulkhead=pr.BulkheadConfig(max_concurrent=64))(fn)


def _tenacity_retry(fn: Any) -> Any:
    import tenacity

    return tenacity.retry(stop=tenacity.stop_after_attempt(3), reraise=True)(fn)


BATCH = np.random.default_rng(0).normal(size=(1000, 20))


def batch_model(_x: Any) -> Any:
    return BATCH


def _checked_guard(fn: Any) -> Any:
    return aiguard.Guard(
        name="bench-check",
        check=aiguard.checks.finite() & aiguard.checks.in_range(-10, 10),
        fallback=lambda x: np.zeros((len(x), 20)),
        fallback_rows=True,
    )(fn)


def _call_with(wrap: Any, model: Any, arg: Any) -> Any:
    return lambda: functools.partial(wrap(model), arg)


ROWS = np.zeros((1000, 3))

CASES: list[Case] = [
    Case("raw call", "sync", lambda: functools.partial(ident, 1), "sync", baseline=True),
    *(_sync_case(n, w, p) for n, (w, p) in SYNC_PEERS.items()),
    _sync_case("aiguard Guard(breaker=...)", wrap_guard, ("aiguard",)),
    Case("raw call", "async", lambda: functools.partial(aident, 1), "async", baseline=True),
    _async_case("aiguard CircuitBreaker", wrap_aiguard, ("aiguard",)),
    _async_case("circuitbreaker", wrap_circuitbreaker, ("circuitbreaker",)),
    _async_case("aiguard Guard(breaker=...)", wrap_guard, ("aiguard",)),
    Case("raw call", "guard", lambda: functools.partial(ident, 1), "sync", baseline=True),
    Case(
        "aiguard Guard(kill switch+breaker+check+fallback)",
        "guard",
        _call_with(_full_guard, ident, 1),
        packages=("aiguard",),
    ),
    Case(
        "pyresilience @resilient(breaker+fallback)",
        "guard",
        _call_with(_pyresilience_full, ident, 1),
        packages=("pyresilience",),
    ),
    Case(
        "tenacity @retry(3 attempts)",
        "guard",
        _call_with(_tenacity_retry, ident, 1),
        packages=("tenacity",),
    ),
    Case("raw call", "checks", lambda: functools.partial(batch_model, ROWS), "sync", baseline=True),
    Case(
        "aiguard Guard(check, fallback_rows) 1000x20",
        "checks",
        _call_with(_checked_guard, batch_model, ROWS),
        packages=("aiguard",),
    ),
    Case("raw call", "limits", lambda: functools.partial(ident, 1), "sync", baseline=True),
    Case(
        "aiguard Guard() (nothing configured)",
        "limits",
        _call_with(aiguard.Guard(name="bench-empty"), ident, 1),
        packages=("aiguard",),
    ),
    Case(
        "aiguard Guard(rate_limit=...)",
        "limits",
        _call_with(aiguard.Guard(name="bench-rate", rate_limit=aiguard.RateLimit(1e12)), ident, 1),
        packages=("aiguard",),
    ),
    Case(
        "aiguard Guard(bulkhead=...)",
        "limits",
        _call_with(aiguard.Guard(name="bench-bulk", bulkhead=aiguard.Bulkhead(64)), ident, 1),
        packages=("aiguard",),
    ),
    Case(
        "pyresilience rate limiter",
        "limits",
        _call_with(_pyresilience_rate, ident, 1),
        packages=("pyresilience",),
    ),
    Case(
        "pyresilience bulkhead",
        "limits",
        _call_with(_pyresilience_bulkhead, ident, 1),
        packages=("pyresilience",),
    ),
    Case("raw call", "threads", lambda: sleep_1ms, "threads", baseline=True),
    *(_threads_case(n, w, p) for n, (w, p) in SYNC_PEERS.items()),
]


def throughput(fn: Any, threads: int, seconds: float) -> float:
    """Calls per second of *fn(1)* from *threads* threads for about *seconds*."""
    counts = [0] * threads
    stop = threading.Event()
    barrier = threading.Barrier(threads + 1)

    def worker(k: int) -> None:
        barrier.wait()
        n = 0
        while not stop.is_set():
            fn(1)
            n += 1
        counts[k] = n

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in pool:
        t.join()
    return sum(counts) / (time.perf_counter() - start)


#: per group, the aiguard row that the others are compared with
REFERENCE = {
    "sync": "aiguard CircuitBreaker",
    "async": "aiguard CircuitBreaker",
    "guard": "aiguard Guard(kill switch+breaker+check+fallback)",
    "checks": "aiguard Guard(check, fallback_rows) 1000x20",
    "limits": "aiguard Guard(rate_limit=...)",
}


def _make(case: Case) -> Any:
    """Build a case; a peer that fails to build is reported, not fatal."""
    try:
        return case.make()
    except Exception as exc:
        print(f"  ! {case.group}/{case.name}: could not build ({exc!r}); skipped")
        return None


def run_loops(group: str, cases: list[Case], quick: bool) -> list[list[str]]:
    number, rounds = (5_000, 5) if quick else (20_000, 25)
    built = [(c, _make(c)) for c in cases]
    timed = [(c.name, fn, c.kind) for c, fn in built if fn is not None]
    best = best_ns(timed, number=number, rounds=rounds)
    raw = next(best[c.name] for c, fn in built if c.baseline and fn is not None)
    ours = best.get(REFERENCE[group], float("nan")) - raw
    rows = []
    for case, fn in built:
        if fn is None:
            rows.append([group, case.name, "n/a", "n/a", "n/a"])
            continue
        added = best[case.name] - raw
        ratio = "-" if case.baseline else f"{added / ours:.2f}x"
        rows.append(
            [
                group,
                case.name,
                f"{best[case.name]:,.0f}",
                "-" if case.baseline else f"{added:,.0f}",
                ratio,
            ]
        )
    return rows


def run_threads(cases: list[Case], quick: bool) -> list[list[str]]:
    seconds, rounds = (0.3, 1) if quick else (1.0, 3)
    rows = []
    for case in cases:
        fn = _make(case)
        if fn is None:
            rows.append(["threads", case.name, "n/a", "n/a", "n/a"])
            continue
        one = max(throughput(fn, 1, seconds) for _ in range(rounds))
        two = max(throughput(fn, 2, seconds) for _ in range(rounds))
        rows.append(["threads", case.name, f"{one:,.0f}", f"{two:,.0f}", f"{two / one:.2f}x"])
    return rows


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    chosen = selected(CASES, args.only)
    packages = ["aiguard", "pybreaker", "circuitbreaker", "purgatory", "pyresilience", "tenacity"]
    print(f"# breaker overhead ({versions(packages)})")
    print()
    loop_rows: list[list[str]] = []
    for group in ("sync", "async", "guard", "checks", "limits"):
        cases = [c for c in chosen if c.group == group]
        if not cases:
            continue
        if not any(c.baseline for c in cases):
            cases.insert(0, next(c for c in CASES if c.group == group and c.baseline))
        loop_rows += run_loops(group, cases, args.quick)
    if loop_rows:
        print("Tight loop, closed breaker, every call succeeds; best of interleaved rounds.")
        print("'added' = ns per call over the group's raw call; 'vs aiguard' = added / the")
        print("group's reference aiguard row's added.")
        print()
        print(markdown_table(["group", "case", "ns/call", "added ns", "vs aiguard"], loop_rows))
        print()
    thread_cases = [c for c in chosen if c.group == "threads"]
    if thread_cases:
        print("1 ms model (time.sleep(0.001)) through one shared breaker; calls per second.")
        print()
        print(
            markdown_table(
                ["group", "case", "1 thread", "2 threads", "2T / 1T"],
                run_threads(thread_cases, args.quick),
            )
        )


if __name__ == "__main__":
    main()

"""Cost of aiguard's recovery routers on the caller's path: registry, canary, shadow.

Run:  OPENBLAS_NUM_THREADS=1 python benchmarks/routers.py [--only NAME] [--quick]

Groups (each case is a named row):

- ``route``: a one-argument identity model called directly (the baseline),
  through a ``ModelRegistry`` (``registry(x)``), and through a canary
  assignment (``canary.arm(key)`` picks the model, then it is called); budget:
  300 ns added. A one-line Python wrapper class (``__call__(self, x): return
  self.model(x)``) is the floor any in-process router starts from. The full
  ``canary(x)`` call (assignment plus recording latency, error and output for
  the judge) is shown for information.
- ``shadow``: the same identity model through a ``ShadowRouter`` whose queue
  accepts the request (the worker is held, so it does not compete for the
  interpreter while timing; the loop empties the queue itself every 1,000
  requests, the default ``max_queue``, and that drain is counted in the
  time), and one whose queue is full (the drop path); budget: 2 us added.
- ``live``: the same, with the worker live (an identity shadow) and calls
  0.2 ms apart, so it shadows every request between two calls: each call
  timed on its own, median and p99 added over the direct call. What waking
  the worker costs the caller shows here, not in the tight loop.
- ``saturated``: a primary doing ~0.3 ms of numpy work (BLAS, GIL released),
  without a shadow and with a shadow 10x slower (same work 10 times) behind
  a full 100-slot queue, in alternating blocks of 1,000 calls (the shadow's
  backlog flushed before each block without it, so the baseline never runs
  beside a busy worker); p50 and p99 of the primary's latency over all
  blocks, side by side; budget: within 5 %. The second pair uses an
  I/O-bound shadow (a 2 ms sleep).

Works against the router before and after it moved from ``queue.SimpleQueue``
to a deque (``PYTHONPATH`` picks the checkout), for before/after tables.
"""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

import numpy as np
from _bench import Case, best_ns, markdown_table, parser, selected, versions

import aiguard


def ident(x: Any) -> Any:
    return x


class Wrapper:
    """The cheapest Python-level wrapper: the floor any in-process router starts from."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def __call__(self, x: Any) -> Any:
        return self.model(x)


def make_wrapper() -> Any:
    wrapper = Wrapper(ident)
    return lambda: wrapper(1)


def make_registry() -> Any:
    registry = aiguard.ModelRegistry("bench", refresh=None)
    registry.register("v1", ident)
    registry.register("v2", ident)
    registry.promote("v2", reason="bench")
    return lambda: registry(1)


def make_canary_assign() -> Any:
    canary = aiguard.CanaryRouter(ident, ident, steps=(25, 100), key=lambda x: x)
    arm, stable, candidate = canary.arm, ident, ident

    def call() -> Any:
        return (candidate if arm(7) == "candidate" else stable)(1)

    return call


def make_canary_call() -> Any:
    canary = aiguard.CanaryRouter(ident, ident, steps=(25, 100), key=lambda x: x,
                                  interval=1e9, max_samples=1000)
    return lambda: canary(7)


def _waiting(router: Any) -> tuple[Any, Any]:
    """``(length, drain)`` of the router's queue (a deque now; a SimpleQueue before)."""
    pending = getattr(router, "_pending", None)
    if pending is not None:
        return pending.__len__, pending.clear
    import queue

    def drain() -> None:  # a fresh queue: as cheap as deque.clear, so the rows compare
        router._queue = queue.SimpleQueue()
        router._qsize, router._put = router._queue.qsize, router._queue.put

    def size() -> int:
        return int(router._queue.qsize())  # the queue drain() put there

    return size, drain


def _held_shadow(max_queue: int) -> Any:
    gate = threading.Event()
    router = aiguard.ShadowRouter(ident, lambda _x: gate.wait(), max_queue=max_queue)
    router(0)  # the worker takes this one and waits: nothing competes while timing
    size, _ = _waiting(router)
    router.flush(timeout=0)  # wakes a napping worker (the new router's; the old one ignores it)
    deadline = time.monotonic() + 5
    while size() and time.monotonic() < deadline:
        time.sleep(0.001)
    return router


def make_shadow_enqueue() -> Any:
    router = _held_shadow(10**9)
    size, drain = _waiting(router)

    def call() -> Any:
        if size() >= 1000:  # the default max_queue; the drain is timed too
            drain()
        return router(1)

    return call


def make_shadow_full() -> Any:
    router = _held_shadow(1)
    router(0)  # now the queue holds its one slot: every later request is dropped
    return lambda: router(1)


CASES = [
    Case("direct model(x)", "route", lambda: lambda: ident(1), baseline=True),
    Case("floor: a one-line wrapper class", "route", make_wrapper, note="reference"),
    Case("registry(x)", "route", make_registry, note="budget 300 ns"),
    Case("canary assignment + model(x)", "route", make_canary_assign, note="budget 300 ns"),
    Case("canary(x), recording for the judge", "route", make_canary_call, note="info"),
    Case("direct model(x)", "shadow", lambda: lambda: ident(1), baseline=True),
    Case("shadow, enqueued", "shadow", make_shadow_enqueue, note="budget 2 us"),
    Case("shadow, queue full (dropped)", "shadow", make_shadow_full, note="budget 2 us"),
]


def run_loops(group: str, cases: list[Case], quick: bool) -> list[list[str]]:
    made = [(c.name, c.make(), c.kind) for c in cases]
    number, rounds = (2_000, 30) if quick else (2_000, 400)  # short rounds: quiet slots
    best = best_ns(made, number=number, rounds=rounds)
    base = next(best[c.name] for c in cases if c.baseline)
    rows = []
    for case in cases:
        added = best[case.name] - base
        rows.append([group, case.name, f"{best[case.name]:.0f}",
                     "-" if case.baseline else f"{added:.0f}", case.note or "-"])
    return rows


# -- shared by the live and saturated groups -------------------------------------------------

W = np.random.default_rng(0).normal(size=(192, 192))
X = np.random.default_rng(1).normal(size=(96, 192))


def work(x: Any) -> Any:
    return x @ W @ W.T


def slow_work(x: Any) -> Any:
    for _ in range(10):
        x @ W @ W.T
    return work(x)


def slow_io(x: Any) -> Any:
    time.sleep(0.002)
    return work(x)


def _latencies(call: Any, n: int, x: Any = None) -> list[float]:
    x = X if x is None else x
    out = []
    clock = time.perf_counter
    for _ in range(n):
        start = clock()
        call(x)
        out.append(clock() - start)
    return out


def _q(sorted_values: list[float], p: float) -> float:
    return sorted_values[int(p * (len(sorted_values) - 1))]


# -- a live worker: calls spaced out, the worker free to take each request ------------------

def run_live(quick: bool) -> list[list[str]]:
    """Per-call time of the identity model, direct and through routers, calls spaced out.

    Calls come 0.2 ms apart (a sleep, which releases the interpreter), so a
    live worker shadows each request between two calls: what the caller pays
    is the enqueue plus whatever waking the worker costs it, not the shadow's
    work. Every call runs cold (the sleep and the other thread evict caches),
    so the one-line wrapper and the router with its worker held show what a
    cold call costs without any worker activity. Blocks of 200 calls of each
    case alternate; median and p99 of all per-call times (each timed with two
    clock reads, the same for every row).
    """
    n, rounds = (200, 5) if quick else (200, 40)
    live = aiguard.ShadowRouter(ident, ident)
    held = _held_shadow(10**9)
    _, drain = _waiting(held)
    wrapper = Wrapper(ident)
    cases = [("direct model(x)", ident), ("floor: a one-line wrapper class", wrapper),
             ("shadow, worker held (no wake, no work)", held),
             ("shadow, worker live (identity shadow)", live)]
    samples: dict[str, list[float]] = {name: [] for name, _ in cases}

    def spaced(call: Any) -> list[float]:
        out = []
        clock = time.perf_counter
        for _ in range(n):
            time.sleep(0.0002)
            start = clock()
            call(1)
            out.append(clock() - start)
        return out

    for _ in range(rounds):
        for name, call in cases:
            samples[name] += spaced(call)
        drain()
    live.flush(timeout=30)
    live.close()
    base = sorted(samples["direct model(x)"])
    rows = []
    for name, _ in cases:
        lat = sorted(samples[name])
        p50, p99 = _q(lat, 0.5), _q(lat, 0.99)
        direct = name == "direct model(x)"
        rows.append(["live", name, f"{p50 * 1e9:.0f}", f"{p99 * 1e9:.0f}",
                     "-" if direct else f"{(p50 - _q(base, 0.5)) * 1e9:.0f}",
                     "-" if direct else f"{(p99 - _q(base, 0.99)) * 1e9:.0f}"])
    return rows


# -- saturation: the primary's latency with a 10x slower shadow behind a full queue ----------

def _pausable(shadow: Any) -> tuple[Any, threading.Event, threading.Event]:
    """*shadow* behind a switch: cleared, the worker parks before its next request."""
    go, parked = threading.Event(), threading.Event()
    go.set()

    def call(x: Any) -> Any:
        if not go.is_set():
            parked.set()
            go.wait()
            parked.clear()
        return shadow(x)

    return call, go, parked


def run_saturated(quick: bool) -> list[list[str]]:
    """Blocks of calls without and with the shadow, alternating; pooled p50 / p99.

    The shadow is parked (its worker blocked on an event, its queue full)
    during each block without it, so the baseline never runs beside a busy
    worker; during each shadowed block the queue stays full and the worker
    busy.
    """
    n, rounds = (100, 20) if quick else (100, 120)
    rows = []
    for label, slow in (("numpy, 10x the work", slow_work), ("I/O, 2 ms sleep", slow_io)):
        shadow, go, parked = _pausable(slow)
        router = aiguard.ShadowRouter(work, shadow, max_queue=100)
        for _ in range(200):  # fill the queue
            router(X)
        pooled: dict[str, list[float]] = {"none": [], "shadow": []}
        per_round: dict[str, list[float]] = {"none": [], "shadow": []}
        for _ in range(rounds):
            go.clear()
            parked.wait(5)
            lat = _latencies(work, n)
            pooled["none"] += lat
            per_round["none"].append(statistics.median(lat))
            go.set()
            lat = _latencies(router, n)
            pooled["shadow"] += lat
            per_round["shadow"].append(statistics.median(lat))
        router.flush(timeout=120)  # let the shadow finish what was queued, then count
        router.close()
        report = router.report()
        settled = report.shadowed + report.errors + report.timeouts + report.garbage
        assert report.offered - report.dropped == settled, report  # drops = not shadowed
        none = sorted(pooled["none"])
        slow_cut = 1.5 * _q(none, 0.5)
        for name in ("none", "shadow"):
            lat = sorted(pooled[name])
            p50, p90, p99 = _q(lat, 0.5), _q(lat, 0.9), _q(lat, 0.99)
            round_ratio = statistics.median(
                s / b for s, b in zip(per_round[name], per_round["none"], strict=True))
            stalled = sum(x > slow_cut for x in lat) / len(lat)
            rows.append([label, "no shadow" if name == "none" else "saturated shadow",
                         f"{p50 * 1e6:.0f}", f"{p90 * 1e6:.0f}", f"{p99 * 1e6:.0f}",
                         f"{p50 / _q(none, 0.5):.3f}x", f"{p99 / _q(none, 0.99):.3f}x",
                         f"{round_ratio:.3f}x", f"{100 * stalled:.2f} %"])
        rows.append([label, (f"offered {report.offered}, dropped {report.dropped}, "
                            f"shadowed {settled}"), "-", "-", "-", "-", "-", "-", "-"])
    return rows


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    chosen = selected(CASES, args.only)
    print(f"# router overhead ({versions(['aiguard', 'numpy'])})")
    print()
    rows: list[list[str]] = []
    for group in ("route", "shadow"):
        cases = [c for c in chosen if c.group == group]
        if not cases:
            continue
        if not any(c.baseline for c in cases):
            cases.insert(0, next(c for c in CASES if c.group == group and c.baseline))
        rows += run_loops(group, cases, args.quick)
    if rows:
        print("Tight loop of a one-argument identity model; best of interleaved rounds.")
        print("'added' = ns per call over calling the model directly.")
        print()
        print(markdown_table(["group", "case", "ns/call", "added ns", "budget"], rows))
        print()
    if not args.only or any("live" in o for o in args.only):
        print("Per-call ns of the identity model, calls 0.2 ms apart (cold), blocks of 200")
        print("alternating, 40 rounds; each call timed on its own (two clock reads, the same")
        print("for every row); 'added' over the direct call.")
        print()
        print(markdown_table(["group", "case", "p50 ns", "p99 ns", "added p50", "added p99"],
                             run_live(args.quick)))
        print()
    if not args.only or any("saturat" in o for o in args.only):
        print("Primary latency (us) without a shadow and with a saturated 10x-slower shadow")
        print("(queue of 100, full): blocks of 100 calls alternating, 120 rounds (the shadow")
        print("parked during each block without it); p50 / p99 of all calls of each kind;")
        print("'p50 ratio/round': median over rounds of the per-round p50 ratio; 'slow':")
        print("share of calls over 1.5x the no-shadow p50 (an interpreter-lock stall of the")
        print("primary shows here even when the host's preemption swamps the p99).")
        print()
        print(markdown_table(["shadow kind", "case", "p50 us", "p90 us", "p99 us", "p50 ratio",
                              "p99 ratio", "p50 ratio/round", "slow"],
                             run_saturated(args.quick)))

if __name__ == "__main__":
    main()

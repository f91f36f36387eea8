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
- ``saturated``: a primary doing ~0.2 ms of numpy work (BLAS, GIL released)
  called 2,000 times per round, without a shadow and with a shadow 10x
  slower (same work 10 times) behind a full 100-slot queue; p50 and p99 of the
  primary's latency side by side, best of interleaved rounds; budget: within
  5 %. The second pair uses an I/O-bound shadow (a 2 ms sleep).
"""

from __future__ import annotations

import math
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


def _held_shadow(max_queue: int) -> Any:
    gate = threading.Event()
    router = aiguard.ShadowRouter(ident, lambda _x: gate.wait(), max_queue=max_queue)
    router(0)  # the worker takes this one and waits: nothing competes while timing
    deadline = time.monotonic() + 5
    while router._queue.qsize() and time.monotonic() < deadline:
        time.sleep(0.001)
    return router


def make_shadow_enqueue() -> Any:
    router = _held_shadow(10**9)
    size, get = router._queue.qsize, router._queue.get_nowait

    def call() -> Any:
        if size() >= 1000:  # the default max_queue; the drain is timed too
            for _ in range(size()):
                get()
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
    number, rounds = (20_000, 3) if quick else (50_000, 15)
    best = best_ns(made, number=number, rounds=rounds)
    base = next(best[c.name] for c in cases if c.baseline)
    rows = []
    for case in cases:
        added = best[case.name] - base
        rows.append([group, case.name, f"{best[case.name]:.0f}",
                     "-" if case.baseline else f"{added:.0f}", case.note or "-"])
    return rows


# -- saturation: the primary's latency with a 10x slower shadow behind a full queue ----------

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


def _latencies(call: Any, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        call(X)
        out.append(time.perf_counter() - start)
    return out


def run_saturated(quick: bool) -> list[list[str]]:
    n, rounds = (500, 3) if quick else (2000, 5)
    rows = []
    for label, shadow in (("numpy, 10x the work", slow_work), ("I/O, 2 ms sleep", slow_io)):
        router = aiguard.ShadowRouter(work, shadow, max_queue=100)
        best: dict[str, list[float]] = {"none": [math.inf, math.inf],
                                        "shadow": [math.inf, math.inf]}
        for _ in range(rounds):
            for name, call in (("none", work), ("shadow", router)):
                lat = sorted(_latencies(call, n))
                p50, p99 = statistics.median(lat), lat[int(0.99 * (len(lat) - 1))]
                best[name] = [min(best[name][0], p50), min(best[name][1], p99)]
        router.flush(timeout=120)  # let the shadow finish what was queued, then count
        router.close()
        report = router.report()
        settled = report.shadowed + report.errors + report.timeouts + report.garbage
        assert report.offered - report.dropped == settled, report  # drops = not shadowed
        for name in ("none", "shadow"):
            p50, p99 = best[name]
            ratio50 = p50 / best["none"][0]
            ratio99 = p99 / best["none"][1]
            rows.append([label, "no shadow" if name == "none" else "saturated shadow",
                         f"{p50 * 1e6:.0f}", f"{p99 * 1e6:.0f}", f"{ratio50:.3f}x",
                         f"{ratio99:.3f}x"])
        rows.append([label, (f"offered {report.offered}, dropped {report.dropped}, "
                            f"shadowed {settled}"), "-", "-", "-", "-"])
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
    if not args.only or any("saturat" in o for o in args.only):
        print("Primary latency (us) without a shadow and with a saturated 10x-slower shadow")
        print("(queue of 100, always full); best p50 / p99 of interleaved rounds of 2,000 calls.")
        print()
        print(markdown_table(["shadow kind", "case", "p50 us", "p99 us", "p50 ratio", "p99 ratio"],
                             run_saturated(args.quick)))


if __name__ == "__main__":
    main()

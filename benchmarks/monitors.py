"""Cost of the monitors attached to a Guard, and their memory after 10 M observations.

Run:  /work/venv/bin/python benchmarks/monitors.py [--only NAME] [--quick]

Groups:

- ``scalar``: a one-argument identity model on a float, through a Guard with
  no monitor (the baseline) and with LatencyMonitor + ErrorRateMonitor +
  OutputMonitor together; the table shows the ns they add per call (budget
  2 us, issue 10).
- ``batch``: a model taking a 1000 x 20 float batch and returning 1000 scores,
  through a Guard with no monitor and with InputDriftMonitor + OutputMonitor;
  the ns added per call on the caller's thread (budget 50 us). Their binning
  and comparisons run in each monitor's background thread; the table also
  gives how many batches that thread took in and dropped (queue full) while
  the caller ran flat out, since on a 2-core machine it competes with the
  caller.
- ``memory``: each monitor's traced memory (tracemalloc) after 1e5 and after
  1e7 observations fed in batches of 10,000 (1e6 with ``--quick``): the
  figures do not grow with the number of observations.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from typing import Any

import numpy as np
from _bench import best_ns, markdown_table, parser, versions

import aiguard
from aiguard import drift
from aiguard.detect import (
    ConfidenceMonitor,
    ErrorRateMonitor,
    FairnessMonitor,
    InputDriftMonitor,
    LatencyMonitor,
    OutputMonitor,
    PerformanceMonitor,
)

RNG = np.random.default_rng(0)
TRAIN = RNG.normal(size=(20_000, 20))
REF = drift.Reference(TRAIN)
SCORES = RNG.random(10_000)


def ident(x: Any) -> Any:
    return x


def scores_of(x: np.ndarray) -> np.ndarray:
    return x[:, 0]


def scalar_rows(number: int, rounds: int) -> list[list[object]]:
    plain = aiguard.Guard(name="plain")(ident)
    mons = [LatencyMonitor(), ErrorRateMonitor(), OutputMonitor(SCORES, every=250)]
    watched = aiguard.Guard(name="watched", monitors=mons)(ident)
    x = 0.5
    best = best_ns([("guard", lambda: plain(x), "sync"),
                    ("guard + 3 monitors", lambda: watched(x), "sync")],
                   number=number, rounds=rounds)
    mons[2].close()
    added = best["guard + 3 monitors"] - best["guard"]
    return [
        ["Guard, no monitor", f"{best['guard']:,.0f}", "-", "-"],
        ["Guard + latency + error rate + output", f"{best['guard + 3 monitors']:,.0f}",
         f"{added:,.0f}", f"{added / 2000:.2f}x"],
    ]


def batch_rows(number: int, rounds: int) -> list[list[object]]:
    x = RNG.normal(size=(1000, 20))
    plain = aiguard.Guard(name="plain")(scores_of)
    inputs = InputDriftMonitor(REF, every=5000)
    outputs = OutputMonitor(SCORES, window=5000, every=1000)
    watched = aiguard.Guard(name="watched", monitors=[inputs, outputs])(scores_of)
    best = best_ns([("guard", lambda: plain(x), "sync"),
                    ("guard + 2 monitors", lambda: watched(x), "sync")],
                   number=number, rounds=rounds)
    calls = number * rounds
    inputs.drain()
    outputs.drain()
    taken = calls - inputs.dropped
    inputs.close()
    outputs.close()
    added = best["guard + 2 monitors"] - best["guard"]
    return [
        ["Guard, no monitor", f"{best['guard']:,.0f}", "-", "-", "-"],
        ["Guard + input drift + output", f"{best['guard + 2 monitors']:,.0f}", f"{added:,.0f}",
         f"{added / 50_000:.2f}x", f"{taken:,} of {calls:,}"],
    ]


def _feeders() -> dict[str, tuple[Any, Any]]:
    """name -> (monitor factory, feed(monitor, n_rows) for one batch)."""
    proba = RNG.dirichlet([1, 1, 1], size=10_000)
    groups = RNG.choice(np.array(["a", "b", "c"]), size=10_000)
    preds = RNG.integers(0, 2, size=10_000)
    lat = RNG.lognormal(-2, 0.5, size=10_000)
    counter = [0]

    def perf(mon: PerformanceMonitor, n: int) -> None:
        ids = np.arange(counter[0], counter[0] + n)
        counter[0] += n
        mon.observe(ids, preds[:n])
        mon.record(ids[: n // 2], preds[: n // 2])

    return {
        "LatencyMonitor": (LatencyMonitor, lambda m, n: m.observe(lat[:n])),
        "ErrorRateMonitor": (ErrorRateMonitor,
                             lambda m, n: m.observe(error=preds[:n], calls=n)),
        "OutputMonitor": (lambda: OutputMonitor(SCORES, queue=4096),
                          lambda m, n: m.observe(lat[:n])),
        "InputDriftMonitor": (lambda: InputDriftMonitor(REF, queue=4096),
                              lambda m, n: m.observe(TRAIN[:n])),
        "PerformanceMonitor": (lambda: PerformanceMonitor(max_pending=10_000), perf),
        "FairnessMonitor": (FairnessMonitor,
                            lambda m, n: m.observe(preds[:n], groups[:n])),
        "ConfidenceMonitor": (lambda: ConfidenceMonitor(proba),
                              lambda m, n: m.observe(proba[:n])),
    }


def memory_rows(total: int) -> list[list[object]]:
    rows = []
    batch = 10_000
    for name, (make, feed) in _feeders().items():
        gc.collect()
        tracemalloc.start()
        mon = make()
        fed = 0
        sizes = {}
        start = time.perf_counter()
        for mark in (100_000, total):
            while fed < mark:
                feed(mon, batch)
                fed += batch
            if hasattr(mon, "drain"):
                mon.drain()
            gc.collect()
            sizes[mark] = tracemalloc.get_traced_memory()[0]
        seconds = time.perf_counter() - start
        tracemalloc.stop()
        if hasattr(mon, "close"):
            mon.close()
        small, large = sizes[100_000], sizes[total]
        rows.append([name, f"{small / 1024:,.0f}", f"{large / 1024:,.0f}",
                     f"{(large - small) / 1024:+,.0f}", f"{seconds:,.1f}"])
    return rows


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    only = " ".join(args.only).lower()
    number, rounds = (2_000, 3) if args.quick else (20_000, 7)
    print(versions(["numpy"]))
    if not only or "scalar" in only:
        print("\nscalar calls: ns per call (best of rounds), budget 2,000 ns added\n")
        print(markdown_table(["case", "ns/call", "added ns", "of budget"],
                             scalar_rows(number, rounds)))
    if not only or "batch" in only:
        print("\n1000 x 20 batches: ns per call on the caller's thread, budget 50,000 ns added\n")
        n_batch, r_batch = (100, 3) if args.quick else (400, 5)
        print(markdown_table(["case", "ns/call", "added ns", "of budget", "batches binned"],
                             batch_rows(n_batch, r_batch)))
    if not only or "memory" in only:
        total = 1_000_000 if args.quick else 10_000_000
        print(f"\nmemory (tracemalloc, KiB) after 1e5 and {total:.0e} observations\n")
        print(markdown_table(["monitor", "KiB at 1e5", f"KiB at {total:.0e}", "growth KiB",
                              "seconds"], memory_rows(total)))


if __name__ == "__main__":
    main()

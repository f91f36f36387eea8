"""Cost of the monitors attached to a Guard, and their memory after 10 M observations.

Run:  python benchmarks/monitors.py [--only NAME] [--quick]

Groups:

- ``scalar``: a one-argument identity model on a float, through a Guard with
  no monitor (the baseline), with each of LatencyMonitor, ErrorRateMonitor,
  OutputMonitor, and with the three together (budget 2 us added, issue 10).
- ``batch``: a model taking a 1000 x 20 float batch and returning 1000 scores,
  through a Guard with no monitor and with InputDriftMonitor + OutputMonitor
  (budget 50 us added).

Each row gives the wall time per call in a tight loop, the CPU time of the
calling thread alone (``time.thread_time``) and that of the process's other
threads (``time.process_time`` minus the caller's: the output and input-drift
monitors' background threads, which bin and compare off the caller's
thread; each round drains them, so their work is counted). The budget is
judged on the wall time on a quiet machine, with the caller's CPU alongside:
on a loaded machine the wall time also pays for other processes (the load
average is printed before and after each group). Rounds are interleaved
across the cases of a group and the best round is kept. A full queue drops
batches instead of waiting (counted, shown in the last column).
- ``memory``: each monitor's traced memory (tracemalloc) after 1e5, 1e6 and
  1e7 observations fed in batches of 10,000 (up to 1e6 with ``--quick``): the
  figures do not grow with the number of observations (a few KiB of numpy
  and interpreter caches aside).
"""

from __future__ import annotations

import gc
import os
import time
import tracemalloc
from typing import Any

import numpy as np
from _bench import markdown_table, parser, versions

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


def _timed(fn: Any, arg: Any, number: int) -> tuple[float, float, float]:
    """(wall ns, caller-thread CPU ns, other threads' CPU ns) per call over one round."""
    w0, c0, p0 = time.perf_counter(), time.thread_time(), time.process_time()
    for _ in range(number):
        fn(arg)
    w1, c1, p1 = time.perf_counter(), time.thread_time(), time.process_time()
    return ((w1 - w0) / number * 1e9, (c1 - c0) / number * 1e9,
            ((p1 - p0) - (c1 - c0)) / number * 1e9)


def _rows_for(cases: list[tuple[str, Any, list[Any]]], arg: Any, number: int, rounds: int,
              budget: float) -> list[list[object]]:
    """One row per (label, function, monitors): wall and CPU, added over the first row.

    The rounds are interleaved across the cases (a burst of load hits them all
    alike); each figure is the best round's. Each round ends by draining the
    monitors' background threads, so their work lands in the round that caused it.
    """
    best = [[float("inf")] * 3 for _ in cases]
    for _ in range(rounds):
        for (_, fn, mons), fig in zip(cases, best, strict=True):
            wall, cpu, other = _timed(fn, arg, number)
            t0, p0 = time.thread_time(), time.process_time()
            for m in mons:
                if hasattr(m, "drain"):
                    m.drain()
            other += ((time.process_time() - p0) - (time.thread_time() - t0)) / number * 1e9
            fig[:] = [min(fig[0], wall), min(fig[1], cpu), min(fig[2], max(other, 0.0))]
    out: list[list[object]] = []
    base_wall = base_cpu = 0.0
    for (label, _, mons), (wall, cpu, other) in zip(cases, best, strict=True):
        dropped = sum(getattr(m, "dropped", 0) for m in mons)
        for m in mons:
            if hasattr(m, "close"):
                m.close()
        if not mons:
            base_wall, base_cpu = wall, cpu
            out.append([label, f"{wall:,.0f}", f"{cpu:,.0f}", f"{other:,.0f}", "-", "-", "-"])
            continue
        added = cpu - base_cpu
        out.append([label, f"{wall:,.0f}", f"{cpu:,.0f}", f"{other:,.0f}",
                    f"{wall - base_wall:,.0f}", f"{added:,.0f}",
                    f"{(wall - base_wall) / budget:.2f}x / {added / budget:.2f}x"
                    + (f" ({dropped} dropped)" if dropped else "")])
    return out


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} ({os.cpu_count()} cores)"


def scalar_rows(number: int, rounds: int) -> list[list[object]]:
    def case(label: str, mons: list[Any]) -> tuple[str, Any, list[Any]]:
        return label, aiguard.Guard(name=label, monitors=mons)(ident), mons

    cases = [
        case("Guard, no monitor", []),
        case("+ LatencyMonitor", [LatencyMonitor()]),
        case("+ ErrorRateMonitor", [ErrorRateMonitor()]),
        case("+ OutputMonitor", [OutputMonitor(SCORES)]),
        case("+ latency + error rate + output", [LatencyMonitor(), ErrorRateMonitor(),
                                                 OutputMonitor(SCORES)]),
    ]
    return _rows_for(cases, 0.5, number, rounds, 2_000)


def batch_rows(number: int, rounds: int) -> list[list[object]]:
    x = RNG.normal(size=(1000, 20))

    def case(label: str, mons: list[Any]) -> tuple[str, Any, list[Any]]:
        return label, aiguard.Guard(name=label, monitors=mons)(scores_of), mons

    cases = [
        case("Guard, no monitor", []),
        case("+ input drift + output", [InputDriftMonitor(REF, every=5000),
                                        OutputMonitor(SCORES, window=5000, every=1000)]),
    ]
    return _rows_for(cases, x, number, rounds, 50_000)


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
        for mark in (100_000, total // 10, total):
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
        small, middle, large = sizes[100_000], sizes[total // 10], sizes[total]
        rows.append([name, f"{small / 1024:,.0f}", f"{middle / 1024:,.0f}",
                     f"{large / 1024:,.0f}", f"{(large - middle) / 1024:+,.0f}",
                     f"{seconds:,.1f}"])
    return rows


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    only = " ".join(args.only).lower()
    number, rounds = (2_000, 3) if args.quick else (20_000, 7)
    print(versions(["numpy"]))
    headers = ["case", "wall ns/call", "caller CPU ns/call", "other threads CPU ns/call",
               "added wall ns", "added caller CPU ns", "of budget (wall / CPU)"]
    if not only or "scalar" in only:
        print(f"\nscalar calls (best of rounds), budget 2,000 ns added per call; {_load()}\n")
        print(markdown_table(headers, scalar_rows(number, rounds)))
        print(f"\nafter: {_load()}")
    if not only or "batch" in only:
        print(f"\n1000 x 20 batches (best of rounds), budget 50,000 ns added per call; {_load()}\n")
        n_batch, r_batch = (100, 3) if args.quick else (300, 5)
        print(markdown_table(headers, batch_rows(n_batch, r_batch)))
        print(f"\nafter: {_load()}")
    if not only or "memory" in only:
        total = 1_000_000 if args.quick else 10_000_000
        print(f"\nmemory (tracemalloc, KiB) after 1e5, {total // 10:.0e} and {total:.0e}"
              " observations\n")
        print(markdown_table(["monitor", "KiB at 1e5", f"KiB at {total // 10:.0e}",
                              f"KiB at {total:.0e}", "growth over the last 9/10 KiB",
                              "seconds"], memory_rows(total)))


if __name__ == "__main__":
    main()

"""Streaming change detectors: aiguard's update_many and update(x) against river's per-value update.

Run:  python benchmarks/detect.py [--only NAME] [--quick] [--scale S]

Every detector runs with river 0.26's default parameters (CUSUM: target 0,
k 0.5, h 5) on the same stream as its river peer, in one process, rounds
interleaved, best of five rounds kept (load from other processes only ever
adds time; the median round is shown beside it; see ``_bench.py``):

- PageHinkley and CUSUM on ``quiet``: N(0, 0.2^2) noise and no change, where the
  defaults never alarm: the vectorised path's own throughput;
- real-valued detectors (PageHinkley, ADWIN, KSWIN, CUSUM): ``shifts``, noise
  N(0, 0.2^2) whose mean steps to 1 after a third of the stream and back to 0
  after two thirds (PageHinkley detects a handful of times; CUSUM, whose target
  stays 0, alarms every ~10 values while the shift lasts, as it restarts after
  each alarm);
- the same four on ``noise``: plain N(0, 1), where the defaults of PageHinkley
  and CUSUM alarm every few hundred values (the alarm-dense case);
- PageHinkley with threshold 10 and CUSUM with h 1 on ``noise``: a detection
  every ~70 and ~6 values, where ``update_many`` runs lanes side by side;
- CUSUM on ``drift``: N(1, 0.2^2) throughout, a steady shift that CUSUM detects
  every ~11 values in lock step (lanes started from guessed states never meet
  the true run: ``update_many`` follows chains of fresh starts);
- binary detectors (DDM, EDDM, HDDM_A, HDDM_W): ``errors``, 0/1 errors at
  rate 0.1 then 0.3 from the middle on.

Columns: values per second of aiguard's ``update_many`` on ``n`` values (per
second of the process's CPU time in the best round and in the median round,
and of wall-clock time: on a shared machine the CPU figure is the steadier
one, and the budget verdicts use the best round's), of
aiguard's ``update(x)`` loop (CPU) and of river's ``update(x)`` loop on the first
``n_loop`` values; ``many / river``; whether the detections on those first
``n_loop`` values are river's (KSWIN draws from a different seeded stream and
CUSUM has no river peer: n/a). Budgets: PageHinkley and CUSUM ``update_many``
at least 20 M values/s; every other detector's ``update_many`` at least
river's per-value rate.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import TYPE_CHECKING, Any

import numpy as np
from _bench import markdown_table, parser, versions
from river import drift as river_drift

from aiguard.detect import ADWIN, CUSUM, DDM, EDDM, HDDM_A, HDDM_W, KSWIN, PageHinkley

if TYPE_CHECKING:
    from collections.abc import Callable

BUDGET_FAST = 20e6  # values/s for PageHinkley and CUSUM update_many


def quiet(n: int) -> np.ndarray:
    return np.random.default_rng(3).normal(0, 0.2, n)


def shifts(n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    mean = np.zeros(n)
    mean[n // 3 : 2 * n // 3] = 1.0
    return mean + rng.normal(0, 0.2, n)


def noise(n: int) -> np.ndarray:
    return np.random.default_rng(1).normal(0, 1, n)


def drift(n: int) -> np.ndarray:
    return np.random.default_rng(4).normal(1, 0.2, n)


def errors(n: int) -> np.ndarray:
    rng = np.random.default_rng(2)
    rate = np.where(np.arange(n) < n // 2, 0.1, 0.3)
    return (rng.random(n) < rate).astype(float)


# name, aiguard factory, river factory (or None), stream, n for update_many, n for the loops
Case = tuple[
    str, "Callable[[], Any]", "Callable[[], Any] | None", "Callable[[int], np.ndarray]", int, int
]
CASES: list[Case] = [
    ("PageHinkley", PageHinkley, river_drift.PageHinkley, quiet, 4_000_000, 100_000),
    ("CUSUM", CUSUM, None, quiet, 4_000_000, 100_000),
    ("PageHinkley", PageHinkley, river_drift.PageHinkley, shifts, 4_000_000, 100_000),
    ("PageHinkley", PageHinkley, river_drift.PageHinkley, noise, 4_000_000, 100_000),
    ("CUSUM", CUSUM, None, shifts, 4_000_000, 100_000),
    ("CUSUM", CUSUM, None, noise, 4_000_000, 100_000),
    ("PageHinkley(threshold=10)", lambda: PageHinkley(threshold=10.0),
     lambda: river_drift.PageHinkley(threshold=10.0), noise, 4_000_000, 100_000),
    ("CUSUM(h=1)", lambda: CUSUM(h=1.0), None, noise, 4_000_000, 100_000),
    ("CUSUM", CUSUM, None, drift, 4_000_000, 100_000),
    ("ADWIN", ADWIN, river_drift.ADWIN, shifts, 1_000_000, 100_000),
    ("ADWIN", ADWIN, river_drift.ADWIN, noise, 1_000_000, 100_000),
    ("KSWIN", lambda: KSWIN(seed=0), lambda: river_drift.KSWIN(seed=0), shifts, 100_000, 5_000),
    ("DDM", DDM, river_drift.binary.DDM, errors, 1_000_000, 100_000),
    ("EDDM", EDDM, river_drift.binary.EDDM, errors, 1_000_000, 100_000),
    ("HDDM_A", HDDM_A, river_drift.binary.HDDMA, errors, 1_000_000, 100_000),
    ("HDDM_W", HDDM_W, river_drift.binary.HDDMW, errors, 1_000_000, 100_000),
]


def loop(detector: Any, stream: np.ndarray) -> tuple[float, list[int]]:
    """CPU seconds of update(x) over the stream (Python floats, as callers have), detections."""
    values = stream.tolist()
    found = []
    start = time.process_time()
    for i, x in enumerate(values):
        detector.update(x)
        if detector.drift_detected:
            found.append(i)
    return max(time.process_time() - start, 1e-9), found


def many(detector: Any, stream: np.ndarray) -> tuple[float, float, list[int]]:
    """Wall-clock and CPU seconds of update_many over the stream, detections."""
    start, cpu = time.perf_counter(), time.process_time()
    found = detector.update_many(stream)
    return time.perf_counter() - start, time.process_time() - cpu, found.tolist()


def rate(n: int, seconds: float) -> str:
    per_second = n / seconds
    return f"{per_second / 1e6:.2f} M" if per_second >= 1e6 else f"{per_second / 1e3:.1f} k"


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=1.0, help="multiply every stream length by this")
    args = p.parse_args()
    rounds = 1 if args.quick else 5
    scale = args.scale * (0.1 if args.quick else 1.0)
    chosen = [
        c for c in CASES if not args.only or any(o.lower() in c[0].lower() for o in args.only)
    ]

    print(f"# streaming detectors ({versions(['aiguard', 'river', 'numpy', 'scipy'])})")
    print()
    print(f"cores {os.cpu_count()}, load average at start {os.getloadavg()[0]:.1f}")
    print()
    rows, verdicts = [], []
    for name, ours, theirs, make, size_many, size_loop in chosen:
        n_many, n_loop = max(1000, int(size_many * scale)), max(1000, int(size_loop * scale))
        stream = make(n_many)
        head = stream[:n_loop]
        best_many = best_cpu = best_ours = best_river = float("inf")
        cpus = []
        for _ in range(rounds):  # interleaved: a burst of load hits all three alike
            seconds, cpu, found_many = many(ours(), stream)
            best_many, best_cpu = min(best_many, seconds), min(best_cpu, cpu)
            cpus.append(cpu)
            seconds, found_ours = loop(ours(), head)
            best_ours = min(best_ours, seconds)
            if theirs is not None:
                seconds, found_river = loop(theirs(), head)
                best_river = min(best_river, seconds)
        assert [i for i in found_many if i < n_loop] == found_ours, name
        river_rate = n_loop / best_river if theirs is not None else None
        many_rate = n_many / max(best_cpu, 1e-9)
        same = "n/a" if theirs is None or name == "KSWIN" else str(found_ours == found_river)
        ratio = f"{many_rate / river_rate:.1f}x" if river_rate else "n/a"
        rows.append(
            [
                name,
                make.__name__,
                f"{n_many:,}",
                rate(n_many, max(best_cpu, 1e-9)),
                rate(n_many, max(statistics.median(cpus), 1e-9)),
                rate(n_many, best_many),
                f"{n_loop:,}",
                rate(n_loop, best_ours),
                rate(n_loop, best_river) if river_rate else "n/a",
                ratio,
                len(found_many),
                same,
            ]
        )
        if name.startswith(("PageHinkley", "CUSUM")):
            holds = many_rate >= BUDGET_FAST
            verdicts.append(
                f"- {name} on {make.__name__}: update_many {many_rate / 1e6:.1f} M values/s (CPU) "
                f"{'>=' if holds else '<'} 20 M: {'holds' if holds else 'MISSED'}"
            )
        else:
            holds = many_rate >= (river_rate or 0.0)
            verdicts.append(
                f"- {name} on {make.__name__}: update_many {many_rate / (river_rate or 1):.1f}x "
                f"river's per-value rate: {'holds' if holds else 'MISSED'}"
            )
    print(
        markdown_table(
            [
                "detector",
                "stream",
                "n",
                "update_many /s CPU",
                "median round",
                "wall",
                "n_loop",
                "update(x) /s CPU",
                "river /s CPU",
                "many / river",
                "detections",
                "same as river",
            ],
            rows,
        )
    )
    print()
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    print()
    print("Budgets:")
    print("\n".join(verdicts))


if __name__ == "__main__":
    main()

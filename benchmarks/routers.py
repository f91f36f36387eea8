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
- ``shadow`` (also: the caller's cost of a post on the board of
  ``isolation="process"``, a 96 x 192 request): the same identity model
  through a ``ShadowRouter`` whose queue
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
  a full 100-slot queue. The two arms are interleaved in many short blocks
  (120 blocks of 200 calls per arm; within a block the arm that goes first
  alternates, ABBA), the shadow parked during each block without it, so the
  baseline never runs beside a busy worker and a burst of load from other
  processes hits both arms of a block alike. Per block, the p50 and p99
  ratios (with / without); reported: their median over blocks, quartiles,
  a 95 % interval of the median (order statistics) and the share of blocks
  within budget, beside the pooled p50 / p99 of all calls of each arm, and
  the load average before and after. Budget: within 5 %. The first two
  rows are an A/A control: the same blocks with no shadow in either arm,
  the noise floor of the per-block statistics on the machine at that time.
  The next six are a co-location control: the primary called directly in
  both arms, and in one of them a process of its own (no router) doing the
  numpy shadow's work without pause, at ``SCHED_IDLE`` or nice + 10 like the
  shadow's child (and once more also copying a request's 295 KB a round, as
  the child does): what sharing the machine with a busy shadow costs, router
  or not. Then three shadows: the numpy one above, an I/O-bound one (a 2 ms sleep)
  and one of pure Python (about 3 ms of bytecode, which holds the
  interpreter lock throughout, as a Python feature pipeline or a tree
  walked in Python does). Each shadow runs on a worker
  thread (``isolation="thread"``) and in a child process
  (``isolation="process"``; its pause switch is a byte in a shared file
  mapping the child reads, since a ``threading.Event`` does not cross
  processes).

Works against the router before and after it moved from ``queue.SimpleQueue``
to a deque (``PYTHONPATH`` picks the checkout), for before/after tables.
"""

from __future__ import annotations

import itertools
import math
import mmap
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from _bench import Case, best_ns, markdown_table, parser, selected, versions

import aiguard
from aiguard.recover._shadow_run import lower_priority


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


def make_board_post() -> Any:
    """``isolation="process"``'s caller path for a request of arrays: posted on a board.

    The caller code of a process router (``_sync_pulled``) with a board no
    child reads: the loop marks every slot taken itself each 1,000 requests
    (timed too), as the child would. A 96 x 192 float64 request, answered by
    the identity model (so two arrays are posted).
    """
    from aiguard.recover._shadow_board import Board  # here: checkouts before it lack it

    router = aiguard.ShadowRouter(ident, ident, max_queue=1000)
    board = Board(1000, multiprocessing.get_context("spawn").Semaphore(0))
    board.by_id = True  # as the child's probe sets it where it can read the array objects
    router._set_board(board)
    post, x, count = router._sync_pulled, X.copy(), itertools.count(1)

    def call() -> Any:
        if next(count) % 1000 == 0:
            board.memory[64:] = bytes(len(board.memory) - 64)  # all taken
        return post(x)

    return call


CASES = [
    Case("direct model(x)", "route", lambda: lambda: ident(1), baseline=True),
    Case("floor: a one-line wrapper class", "route", make_wrapper, note="reference"),
    Case("registry(x)", "route", make_registry, note="budget 300 ns"),
    Case("canary assignment + model(x)", "route", make_canary_assign, note="budget 300 ns"),
    Case("canary(x), recording for the judge", "route", make_canary_call, note="info"),
    Case("direct model(x)", "shadow", lambda: lambda: ident(1), baseline=True),
    Case("shadow, enqueued", "shadow", make_shadow_enqueue, note="budget 2 us"),
    Case("shadow, queue full (dropped)", "shadow", make_shadow_full, note="budget 2 us"),
    Case("process: a request of arrays posted on the board", "shadow", make_board_post,
         note="info"),
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


def slow_python(x: Any) -> Any:
    """About 3 ms of pure Python (it holds the interpreter lock throughout), then the work."""
    total = 0.0
    for i in range(60_000):
        total += i * 0.5
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


class _Flag:
    """A flag in a shared 2-byte file mapping, with ``threading.Event``'s set/clear/wait.

    Picklable (by the file's path), so the shadow's child process maps the
    same bytes: byte 0 is "go", byte 1 is "parked".
    """

    def __init__(self, path: str, index: int) -> None:
        self.path, self.index = path, index
        self._map: mmap.mmap | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "index": self.index}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["index"])  # type: ignore[misc]

    @property
    def bytes(self) -> mmap.mmap:
        if self._map is None:
            with Path(self.path).open("r+b") as file:
                self._map = mmap.mmap(file.fileno(), 2)
        return self._map

    def is_set(self) -> bool:
        return self.bytes[self.index] == 1

    def set(self) -> None:
        self.bytes[self.index] = 1

    def clear(self) -> None:
        self.bytes[self.index] = 0

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.is_set():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.0005)
        return True


class _PausedInChild:
    """*shadow* behind a shared switch: cleared, the child parks before its next request."""

    def __init__(self, shadow: Any, go: _Flag, parked: _Flag) -> None:
        self.shadow, self.go, self.parked = shadow, go, parked

    def __call__(self, x: Any) -> Any:
        if not self.go.is_set():
            self.parked.set()
            while not self.go.is_set():
                time.sleep(0.0005)
            self.parked.clear()
        return self.shadow(x)


def _pausable_process(shadow: Any) -> tuple[Any, _Flag, _Flag]:
    """``_pausable`` for a shadow in a child process (the switch in shared memory)."""
    fd, path = tempfile.mkstemp(prefix="aiguard-bench-")
    os.write(fd, b"\x01\x00")
    os.close(fd)
    go, parked = _Flag(path, 0), _Flag(path, 1)
    return _PausedInChild(shadow, go, parked), go, parked


def _load() -> str:
    """The 1, 5 and 15 minute load averages, for the record ('-' where there is none)."""
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except (AttributeError, OSError):  # not on this platform
        return "-"


def _spread(ratios: list[float]) -> tuple[str, str, str, str]:
    """Median, quartiles, 95 % interval of the median, share within 5 %: table cells.

    The interval is the pair of order statistics around the median that
    covers it with 95 % probability whatever the distribution (normal
    approximation to the binomial ranks: n/2 -+ 0.98 sqrt(n)).
    """
    ranked, n = sorted(ratios), len(ratios)
    q1, median, q3 = statistics.quantiles(ranked, n=4, method="inclusive")
    half = 0.98 * math.sqrt(n)  # ranks (1-based) floor(n/2 - half) and ceil(1 + n/2 + half)
    low = ranked[max(0, math.floor(n / 2 - half) - 1)]
    high = ranked[min(n - 1, math.ceil(n / 2 + half))]
    within = sum(r <= 1.05 for r in ranked) / n
    return (f"{median:.3f}x", f"{q1:.3f} - {q3:.3f}", f"{low:.3f} - {high:.3f}",
            f"{100 * within:.0f} %")


Pooled = dict[str, list[float]]  # the sorted latencies of all calls, per arm
Ratios = dict[float, list[float]]  # per quantile, the with / without ratio of each block


def _interleaved(n: int, blocks: int, calls: dict[str, Any],
                 switch: Any = None) -> tuple[Pooled, Ratios]:
    """*blocks* blocks of *n* calls to each arm, ABBA; the per-block p50 and p99 ratios.

    *calls* maps the arms "none" and "shadow" to what each times; *switch*
    (the arm), when given, runs before each arm's calls (parks or wakes a shadow).
    """
    pooled: Pooled = {"none": [], "shadow": []}
    ratios: Ratios = {0.5: [], 0.99: []}
    for block in range(blocks):
        lat: dict[str, list[float]] = {}
        for arm in ("none", "shadow") if block % 2 == 0 else ("shadow", "none"):
            if switch is not None:
                switch(arm)
            lat[arm] = sorted(_latencies(calls[arm], n))
            pooled[arm] += lat[arm]
        for p, values in ratios.items():
            values.append(_q(lat["shadow"], p) / _q(lat["none"], p))
    return {arm: sorted(values) for arm, values in pooled.items()}, ratios


def _parking(go: Any, parked: Any) -> Any:
    """The arm switch for a shadow behind *go*: parked for "none", running for "shadow"."""
    def switch(arm: str) -> None:
        if arm == "none":
            go.clear()
            parked.wait(5)
        else:
            go.set()

    return switch


def _rows(label: str, pooled: Pooled, ratios: Ratios) -> list[list[str]]:
    """The p50 and p99 table rows of one comparison."""
    none, busy = pooled["none"], pooled["shadow"]
    return [[label, stat, f"{_q(none, p) * 1e6:.0f}", f"{_q(busy, p) * 1e6:.0f}",
             f"{_q(busy, p) / _q(none, p):.3f}x", *_spread(ratios[p])]
            for stat, p in (("p50", 0.5), ("p99", 0.99))]


def _null_rows(n: int, blocks: int) -> list[list[str]]:
    """The A/A control: both arms without a shadow, blocked and paired as the real rows.

    What the per-block ratios show when there is nothing to find: the
    noise floor of this machine, the same statistic under the same schedule.
    """
    return _rows("A/A control: no shadow in either arm",
                 *_interleaved(n, blocks, {"none": work, "shadow": work}))


def _neighbour_main(go: _Flag, parked: _Flag, idle: bool, stream: bool) -> None:
    """In a spawned process: the numpy shadow's work, over and over, parked when *go* clears.

    With *stream*, each round first copies a request's worth of memory (the
    request and the answer, 295 KB) out of a 30 MB pool into fresh memory,
    as the shadow's child does with a queue of 100 requests.
    """
    lower_priority(idle=idle)  # as the shadow's child does
    work_paused = _PausedInChild(slow_work, go, parked)
    pool = np.random.default_rng(2).random((100, 2 * X.size))
    for i in itertools.cycle(range(len(pool))):
        x = X
        if stream:
            x = np.frombuffer(bytearray(pool[i]), dtype=X.dtype)[:X.size]
            x = x.reshape(X.shape)
        work_paused(x)


def _neighbour_rows(n: int, blocks: int) -> list[list[str]]:
    """The co-location control: the shadow's numpy work in a process of its own, no router.

    The same blocks and arm switching as the router's rows, the primary
    called directly in both arms; in one a process beside it runs the 10x
    numpy work without pause (at the shadow child's priorities), in the
    other that process is parked. What sharing the machine with a busy
    shadow costs the primary when no router is involved at all.
    """
    rows: list[list[str]] = []
    for priority, stream in (("idle", False), ("low", False), ("idle", True)):
        _, go, parked = _pausable_process(slow_work)
        process = multiprocessing.get_context("spawn").Process(
            target=_neighbour_main, args=(go, parked, priority == "idle", stream), daemon=True)
        process.start()
        time.sleep(1.0)  # started, imported, working
        measured = _interleaved(n, blocks, {"none": work, "shadow": work}, _parking(go, parked))
        process.terminate()
        process.join(10)
        Path(go.path).unlink()
        what = "the numpy work" + (" + copying 295 KB a round" if stream else "")
        rows += _rows(f"co-location control: {what} beside, no router, priority={priority}",
                      *measured)
    return rows


def run_saturated(quick: bool) -> tuple[list[list[str]], list[str]]:
    """Short blocks of calls without and with the shadow, interleaved; per-block ratios.

    The shadow is parked (its worker blocked on an event, its queue full)
    during each run without it, so the baseline never runs beside a busy
    worker; during each run with it the queue stays full and the worker
    busy. Returns the table rows and one line per shadow kind (load average,
    drop accounting).
    """
    n, blocks = (100, 16) if quick else (200, 120)
    rows: list[list[str]] = _null_rows(n, blocks) + _neighbour_rows(n, blocks)
    notes: list[str] = []
    kinds = (("numpy, 10x the work", slow_work), ("I/O, 2 ms sleep", slow_io),
             ("pure Python, ~3 ms", slow_python))
    arms = (("thread", "idle"), ("thread", "low"), ("process", "idle"), ("process", "low"))
    for (kind, slow), (isolation, priority) in itertools.product(kinds, arms):
        label = f"{kind}, {isolation}, priority={priority}"
        shadow, go, parked = (_pausable if isolation == "thread" else _pausable_process)(slow)
        router = aiguard.ShadowRouter(work, shadow, max_queue=100, priority=priority,
                                      isolation=isolation)
        for _ in range(200):  # fill the queue
            router(X)
        deadline = time.monotonic() + 30
        while router.finished < 3 and time.monotonic() < deadline:  # a child has started
            time.sleep(0.01)
        load_before = _load()
        pooled, ratios = _interleaved(n, blocks, {"none": work, "shadow": router},
                                      _parking(go, parked))
        go.set()
        load_after = _load()
        router.flush(timeout=120)  # let the shadow finish what was queued, then count
        router.close(timeout=10)
        if isinstance(go, _Flag):
            Path(go.path).unlink()
        report = router.report()
        settled = report.shadowed + report.errors + report.timeouts + report.garbage
        assert report.offered - report.dropped == settled, report  # drops = not shadowed
        rows += _rows(label, pooled, ratios)
        none, with_shadow = pooled["none"], pooled["shadow"]
        slow_cut = 1.5 * _q(none, 0.5)
        stalled = [sum(x > slow_cut for x in arm) / len(arm) for arm in (none, with_shadow)]
        notes.append(f"{label}: load average (1 / 5 / 15 min) {load_before} before, "
                     f"{load_after} after; calls over 1.5x the no-shadow p50: "
                     f"{100 * stalled[0]:.1f} % without, {100 * stalled[1]:.1f} % with the "
                     f"shadow; offered {report.offered}, dropped {report.dropped}, shadowed "
                     f"{settled} (offered - dropped == shadowed: checked)")
    return rows, notes


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
        blocks, n = (16, 100) if args.quick else (120, 200)
        print("Primary latency (us) without a shadow and with a saturated 10x-slower shadow")
        print(f"(queue of 100, full), in {blocks} blocks of {n} calls per arm, the arms")
        print("interleaved (ABBA) and the shadow parked during the runs without it.")
        print("'pooled': p50 / p99 of all calls of each arm and their ratio; 'per block':")
        print("the ratio (with / without) within each block: median, quartiles, 95 % interval")
        print("of the median, share of blocks within the 5 % budget.")
        print(f"Load average (1 / 5 / 15 min) at the start: {_load()}.")
        print()
        rows, notes = run_saturated(args.quick)
        print(markdown_table(["shadow kind", "stat", "none us", "shadow us", "pooled ratio",
                              "per block: median", "quartiles", "95 % CI of median",
                              "blocks <= 1.05x"], rows))
        print()
        for note in notes:
            print(f"- {note}")


if __name__ == "__main__":
    main()

"""ShadowRouter: callers see only the primary; shadow drops, errors, garbage are counted."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from scipy import stats

import aiguard as ag
import aiguard.recover._shadow as shadow_module
from aiguard._core._counter import peek
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable


def test_callers_get_the_primary_and_the_shadow_is_compared() -> None:
    """Class outputs: agreement is the share of equal rows, checked by hand."""
    rng = np.random.default_rng(0)
    xs = [rng.random(8) for _ in range(50)]
    with ag.ShadowRouter(lambda x: (x > 0.5).astype(int), lambda x: (x > 0.45).astype(int)) as r:
        answers = [r(x) for x in xs]
        assert r.flush()
        report = r.report()
    assert all((a == (x > 0.5)).all() for a, x in zip(answers, xs, strict=True))
    expected = np.mean([((x > 0.5) == (x > 0.45)).mean() for x in xs])
    assert report.agreement == pytest.approx(expected)
    assert (report.offered, report.shadowed, report.compared_rows) == (50, 50, 400)
    assert report.drift is not None
    assert report.score_diff is None


def test_score_outputs_give_differences_and_drift_as_scipy() -> None:
    """Float outputs: score differences and KS/Wasserstein against the primary, as scipy's."""
    rng = np.random.default_rng(1)
    xs = [rng.random(10) for _ in range(40)]
    with ag.ShadowRouter(lambda x: x * 0.5, lambda x: x * 0.5 + 0.1) as r:
        for x in xs:
            r(x)
        r.flush()
        report = r.report()
    primary = np.concatenate([x * 0.5 for x in xs])
    shadow = np.concatenate([x * 0.5 + 0.1 for x in xs])
    assert report.score_diff is not None
    assert report.score_diff["mean"] == pytest.approx(0.1)
    assert report.score_diff["abs_max"] == pytest.approx(0.1)
    assert report.drift is not None
    expected = stats.ks_2samp(primary, shadow)
    assert report.drift["ks"] == pytest.approx(expected.statistic)
    assert report.drift["ks_pvalue"] == pytest.approx(expected.pvalue, rel=1e-6)
    assert report.drift["wasserstein"] == pytest.approx(
        stats.wasserstein_distance(primary, shadow))
    assert report.agreement is None


def test_saturated_queue_drops_and_counts_never_blocks() -> None:
    """A blocked shadow: the queue fills, further requests are dropped, the primary serves."""
    gate = threading.Event()
    started = threading.Event()

    def stuck(x: int) -> int:
        started.set()
        gate.wait()
        return x

    router = ag.ShadowRouter(lambda x: x, stuck, max_queue=5)
    assert router(0) == 0
    started.wait(5)  # the worker holds request 0; the queue is empty again
    answers = [router(i) for i in range(1, 101)]
    assert answers == list(range(1, 101))
    assert (router.offered, router.dropped) == (101, 95)
    assert router.report().pending == 6
    gate.set()
    assert router.flush()
    report = router.report()
    assert report.offered - report.dropped == report.shadowed == 6
    router.close()


def test_errors_garbage_and_timeouts_are_counted_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A shadow that raises, returns garbage or is slow never reaches the caller."""
    def shadow(x: float) -> Any:
        if x < 1:
            raise RuntimeError("shadow down")
        if x < 2:
            return "garbage"
        if x < 3:
            return np.array([1.0, 2.0])  # another shape
        return x

    now = [0.0]

    def clock() -> float:
        now[0] += 1.0 if threading.current_thread().name.startswith("aiguard") else 0.0
        return now[0]

    with caplog.at_level(logging.WARNING, logger="aiguard"):
        router = ag.ShadowRouter(float, shadow, timeout=5, clock=clock)
        for x in (0.5, 0.7, 1.5, 2.5, 3.0, 4.0):
            assert router(x) == float(x)
        router.flush()
    report = router.report()
    assert (report.errors, report.garbage, report.shadowed, report.timeouts) == (2, 2, 2, 0)
    assert sum("raised" in r.message for r in caplog.records) == 1
    slow = ag.ShadowRouter(lambda x: x, lambda x: x, timeout=0.5, clock=clock)
    slow(1.0)
    slow.flush()
    assert slow.report().timeouts == 1  # the fake clock moves 1 s per worker reading
    router.close()
    slow.close()


def test_nan_scores_and_non_numeric_against_numeric_are_garbage() -> None:
    """NaN score differences and text where the primary gives numbers are garbage."""
    router = ag.ShadowRouter(lambda x: np.array([x, x]), lambda x: np.array([x, np.nan]))
    router(1.0)
    classes = ag.ShadowRouter(lambda x: 1, lambda x: "one")
    classes(1)
    floats = ag.ShadowRouter(lambda x: 1.5, lambda x: "x")
    floats(1)
    for r in (router, classes, floats):
        r.flush()
        assert r.report().garbage == 1
        r.close()


def test_custom_compare() -> None:
    """compare= decides agreement (here: within 0.1)."""
    router = ag.ShadowRouter(lambda x: x, lambda x: x + 0.05 if x < 5 else x + 1,
                             compare=lambda p, s: abs(p - s) < 0.1)
    for x in range(10):
        router(float(x))
    router.flush()
    assert router.report().agreement == 0.5
    router.close()


def test_sampling_follows_the_seeded_draws() -> None:
    """sample=0.3 with a seed shadows exactly the requests an independent Random picks."""
    router = ag.ShadowRouter(lambda x: x, lambda x: x, sample=0.3, seed=42)
    for x in range(1000):
        router(x)
    draws = random.Random(42)
    expected = sum(draws.random() < 0.3 for _ in range(1000))
    assert router.offered == expected
    router.close()


async def test_async_callers_never_await_the_shadow() -> None:
    """An async primary is awaited; an async shadow runs on a worker's own loop with timeout."""
    release = threading.Event()

    async def primary(x: int) -> int:
        return x

    async def shadow(x: int) -> int:
        if x == 99:
            await asyncio.sleep(10)  # cancelled by the timeout
        return x

    router = ag.ShadowRouter(primary, shadow, timeout=0.2)
    assert await router(3) == 3
    assert await router.acall(99) == 99
    release.set()
    assert await asyncio.to_thread(router.flush)
    report = router.report()
    assert (report.shadowed, report.timeouts) == (1, 1)
    router.close()


def test_primary_failure_is_raised_and_not_shadowed() -> None:
    """A primary that raises propagates; nothing is offered to the shadow."""
    def boom(_x: int) -> int:
        raise ValueError("model down")

    router = ag.ShadowRouter(boom, lambda x: x)
    with pytest.raises(ValueError, match="model down"):
        router(1)
    assert router.offered == 0
    router.close()


def test_closed_router_drops_and_reports_render() -> None:
    """After close new requests are dropped; the report renders as dict and markdown."""
    router = ag.ShadowRouter(lambda x: x, lambda x: x, name="fraud")
    router.close()
    router.close()  # twice is fine
    router(1)
    report = router.report()
    assert (report.offered, report.dropped) == (1, 1)
    assert report.to_dict()["name"] == "fraud"
    assert "1 sampled, 0 compared, 1 dropped" in report.to_markdown()
    assert "primary latency p50 / p99 (ms) | - / -" in report.to_markdown()
    assert "fraud" in repr(router)


def test_flush_times_out_on_a_hung_shadow() -> None:
    """flush returns False when the shadow does not finish in time."""
    gate = threading.Event()
    router = ag.ShadowRouter(lambda x: x, lambda x: gate.wait())
    router(1)
    assert router.flush(timeout=0.05) is False
    gate.set()
    assert router.flush()
    router.close()


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"primary": 1}, "primary"), ({"shadow": None}, "shadow"), ({"sample": 0}, "sample"),
     ({"max_queue": 0}, "max_queue"), ({"workers": True}, "workers"),
     ({"timeout": -1}, "timeout"), ({"compare": 3}, "compare"), ({"window": 1.5}, "window")],
)
def test_bad_configuration(kwargs: dict[str, Any], argument: str) -> None:
    """Each invalid parameter names itself."""
    full: dict[str, Any] = {"primary": abs, "shadow": abs, **kwargs}
    with pytest.raises(ConfigurationError) as info:
        ag.ShadowRouter(full.pop("primary"), full.pop("shadow"), **full)
    assert info.value.argument == argument


def test_numpy_parameters() -> None:
    """numpy scalars are accepted for sample, max_queue, workers, timeout."""
    router = ag.ShadowRouter(abs, abs, sample=np.float64(0.5), max_queue=np.int32(10),
                             workers=np.int64(2), timeout=np.float32(0.5))
    assert (router.sample, router.max_queue, router.timeout) == (0.5, 10, 0.5)
    router.close()


async def test_async_sampled_and_full_queue() -> None:
    """An async primary with sample < 1 offers the seeded share; a full queue drops."""
    gate = threading.Event()

    async def primary(x: int) -> int:
        return x

    router = ag.ShadowRouter(primary, lambda x: gate.wait(), sample=0.5, max_queue=1, seed=3)
    for x in range(200):
        assert await router(x) == x
    draws = random.Random(3)
    assert router.offered == sum(draws.random() < 0.5 for _ in range(200))
    assert router.dropped >= router.offered - 2
    gate.set()
    router.close()


def test_compare_that_raises_is_garbage_and_markdown_lists_scores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A compare that raises counts garbage; a failing drift statistic leaves drift None."""
    def compare(p: Any, s: Any) -> bool:
        raise ValueError("cannot compare")

    broken = ag.ShadowRouter(abs, abs, compare=compare)
    broken(1)
    broken.flush()
    assert broken.report().garbage == 1
    broken.close()
    scores = ag.ShadowRouter(lambda x: x * 0.5, lambda x: x * 0.6)
    for x in np.linspace(0, 1, 50):
        scores(np.array([x]))
    scores.flush()
    markdown = scores.report().to_markdown()
    assert "| score diff mean |" in markdown
    assert "| drift ks |" in markdown
    import aiguard.drift

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("no")

    monkeypatch.setattr(aiguard.drift, "ks", refuse)
    assert scores.report().drift is None
    scores.close()


def test_large_answers_keep_256_spaced_values_and_count_every_row() -> None:
    """A 10,000-row answer adds 256 values to the windows; agreement counts all rows."""
    big = np.arange(10_000) % 3
    router = ag.ShadowRouter(lambda x: big, lambda x: np.where(big == 2, 0, big))
    router(0)
    router.flush()
    report = router.report()
    assert report.compared_rows == 10_000
    assert report.agreement == pytest.approx(float((big != 2).mean()))
    assert len(router._place.stats.out_primary) == 256  # type: ignore[union-attr]
    router.close()


def _until(done: Callable[[], bool]) -> None:
    for _ in range(5000):
        if done():
            return
        threading.Event().wait(0.001)
    pytest.fail("the router never got there")


@pytest.fixture
def long_naps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers nap 60 s and never park: only an explicit wake gets a napping one to a request."""
    monkeypatch.setattr(shadow_module, "_NAP_MIN", 60.0)
    monkeypatch.setattr(shadow_module, "_NAP_MAX", 60.0)
    monkeypatch.setattr(shadow_module, "_NAPS", 10**9)


@pytest.fixture
def short_naps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Naps of 1 to 2 ms: the spin-down before a worker parks takes about 20 ms."""
    monkeypatch.setattr(shadow_module, "_NAP_MIN", 0.001)
    monkeypatch.setattr(shadow_module, "_NAP_MAX", 0.002)


@pytest.mark.usefixtures("long_naps")
def test_a_burst_to_half_full_wakes_a_napping_worker() -> None:
    """A napping worker is woken by the caller that finds the queue half full, not before."""
    seen = threading.Event()
    router = ag.ShadowRouter(lambda x: x, lambda x: x == 2 and seen.set(), max_queue=2)
    router(0)  # wakes the parked new worker; after it the worker naps (60 s here)
    _until(lambda: router.finished == 1 and len(router._napping) == 1)
    router(1)  # the queue was empty: the worker naps on
    assert len(router._napping) == 1
    router(2)  # the queue was half full: this caller takes the worker's gate and releases it
    assert router._napping == []
    assert seen.wait(5)
    router.close()


@pytest.mark.usefixtures("long_naps")
def test_a_woken_worker_wakes_the_next_one_when_more_wait() -> None:
    """Two workers napping, one wake: the first wakes the second (pairs meet in the shadow)."""
    both = threading.Barrier(2, timeout=5)
    router = ag.ShadowRouter(lambda x: x, lambda x: both.wait(), max_queue=6, workers=2)
    router(0)  # each of these two wakes one parked worker: both meet in the barrier,
    router(1)  # then both nap (60 s here)
    _until(lambda: router.finished == 2 and len(router._napping) == 2)
    for x in range(4):
        router(x)  # only the fourth finds the queue half full (3 of 6): it wakes one worker
    assert len(router._napping) == 1
    _until(lambda: router.finished == 6)  # not flush(): it would wake the second worker itself
    assert (router.report().shadowed, router.errors) == (6, 0)
    router.close()


@pytest.mark.usefixtures("short_naps")
def test_an_idle_worker_parks_and_wakes_nobody_until_a_request() -> None:
    """Idle: no wake-up at all over an idle spell; a request wakes it; the spin-down is bounded."""
    router = ag.ShadowRouter(lambda x: x, lambda x: x)
    _until(lambda: len(router._parked) == 1)  # a new worker parks at once
    before = peek(router._wakeups)
    threading.Event().wait(0.1)  # 50 naps' worth of the 2 ms nap: a napping loop would show
    assert (peek(router._wakeups), len(router._parked)) == (before, 1)
    router(1)  # the alarm is 0 while a worker is parked: this caller wakes it
    assert router._parked == []
    assert router.flush()
    _until(lambda: len(router._parked) == 1)
    after = peek(router._wakeups)
    assert after - before == 1 + shadow_module._NAPS  # woken once, then the empty naps
    threading.Event().wait(0.05)
    assert peek(router._wakeups) == after
    assert router.report().shadowed == 1
    router.close()
    assert all(not thread.is_alive() for thread in router._threads)  # close woke it


def test_a_park_announced_while_a_request_waits_returns_at_once() -> None:
    """Announce, then check: a request appended meanwhile cancels the park (no wait forever)."""
    gate, started = threading.Event(), threading.Event()

    def held(_x: int) -> None:
        started.set()
        gate.wait()

    router = ag.ShadowRouter(lambda x: x, held, max_queue=10)
    router(0)
    assert started.wait(5)  # the worker holds request 0 in the shadow: it is not idle
    router(1)  # queued behind it
    own = threading.Lock()
    own.acquire()
    assert router._idle(own, shadow_module._NAPS) == 0
    assert (router._parked, router._alarm) == ([], shadow_module._NEVER)
    gate.set()
    assert router.flush()
    router.close()


def test_a_nap_ending_as_a_caller_takes_its_gate_consumes_the_release() -> None:
    """A nap that times out just as a waker took its gate takes the release: no stale wake."""
    router = ag.ShadowRouter(abs, abs)

    class Gate:
        """A gate whose timed wait ends in a timeout while a waker takes and releases it."""

        def __init__(self) -> None:
            self.lock = threading.Lock()
            self.lock.acquire()

        def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
            if timeout != -1:  # the nap
                with router._idle_lock:  # what _wake does to this gate, at the worst moment
                    router._napping.remove(self)  # type: ignore[arg-type]
                    self.lock.release()
                return False
            return self.lock.acquire(blocking, timeout)

    gate = Gate()
    before = peek(router._wakeups)
    assert router._idle(gate, 0) == 0  # type: ignore[arg-type]
    assert gate.lock.locked()  # the release was consumed: the next nap waits again
    assert (peek(router._wakeups), router._napping) == (before + 1, [])
    router.close()


@pytest.mark.parametrize("shadow", ["held", "live"])
def test_eight_threads_count_every_call_exactly(shadow: str) -> None:
    """8 threads on a full (held) or busy (live) queue: offered == accepted + dropped == calls."""
    gate, started = threading.Event(), threading.Event()

    def model(x: int) -> int:
        if shadow == "held":
            started.set()
            gate.wait()
        return x

    router = ag.ShadowRouter(lambda x: x, model, max_queue=4)
    router(-1)
    if shadow == "held":
        assert started.wait(5)  # the worker holds it: the queue fills and stays full
    per_thread, barrier = 1000, threading.Barrier(8, timeout=5)

    def call() -> None:
        barrier.wait()
        for x in range(per_thread):
            router(x)

    threads = [threading.Thread(target=call) for _ in range(8)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter allows
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        sys.setswitchinterval(interval)
    calls, accepted, dropped = 1 + 8 * per_thread, peek(router._accepted), router.dropped
    assert router.offered == accepted + dropped == calls
    if shadow == "held":  # 4 slots, +1 per concurrent caller at most, and the held request
        assert 5 <= accepted <= 13
        assert router.report().pending == accepted
    gate.set()
    assert router.flush()
    report = router.report()
    assert (report.offered, report.dropped, report.pending) == (calls, dropped, 0)
    assert report.offered - report.dropped == report.shadowed == router.finished == accepted
    router.close()


def test_requests_not_sampled_are_not_timed() -> None:
    """sample=0.3: the caller reads the clock twice per sampled request and never otherwise."""
    reads = [0]
    caller = threading.current_thread()

    def clock() -> float:
        reads[0] += threading.current_thread() is caller
        return 0.0

    router = ag.ShadowRouter(lambda x: x, lambda x: x, sample=0.3, seed=7, clock=clock)
    for x in range(200):
        router(x)
    draws = random.Random(7)
    assert reads[0] == 2 * router.offered == 2 * sum(draws.random() < 0.3 for _ in range(200))
    router.close()


def _policy_and_nice(router: ag.ShadowRouter) -> tuple[int, int]:
    """The worker thread's scheduling policy and nice value, once it has set them."""
    (thread,) = router._threads
    tid = thread.native_id
    assert tid is not None
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:  # the worker sets its priority as it starts
        policy, nice = os.sched_getscheduler(tid), os.getpriority(os.PRIO_PROCESS, tid)
        if policy == os.SCHED_IDLE or nice > os.getpriority(os.PRIO_PROCESS, 0):
            break
        time.sleep(0.001)
    return policy, nice


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="per-thread priorities are Linux only")
def test_workers_run_at_a_lower_priority_or_idle_and_callers_keep_theirs() -> None:
    """Default: nice + 10; priority="idle": SCHED_IDLE. The caller's thread is untouched."""
    own = os.getpriority(os.PRIO_PROCESS, 0)
    with ag.ShadowRouter(lambda x: x, lambda x: x) as low:
        assert _policy_and_nice(low) == (os.SCHED_OTHER, min(19, own + 10))
    with ag.ShadowRouter(lambda x: x, lambda x: x, priority="idle") as idle:
        assert _policy_and_nice(idle)[0] == os.SCHED_IDLE
    assert os.sched_getscheduler(0) == os.SCHED_OTHER
    assert os.getpriority(os.PRIO_PROCESS, 0) == own


def test_priority_is_validated() -> None:
    """An unknown priority is a ConfigurationError naming it."""
    with pytest.raises(ConfigurationError, match="priority"):
        ag.ShadowRouter(lambda x: x, lambda x: x, priority="high")  # type: ignore[arg-type]

"""GuardStats: the counters a guard keeps of its own calls, and the raw listeners feeding them."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import weakref
from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aiguard as ag
from aiguard.contain.guard import DEFAULT_BUCKETS, GuardStats, GuardStatsSnapshot
from aiguard.contain.guard import _guard as guard_module
from aiguard.errors import ConfigurationError
from aiguard.testing import FakeClock


def reference(outcomes: list[Any], bounds: tuple[float, ...]) -> dict[str, Any]:
    """What the stats should hold, computed here from the outcomes with numpy."""
    latencies = np.array([o[4] for o in outcomes], dtype=float)
    return {
        "calls": Counter((o[0], o[1]) for o in outcomes),
        "cumulative": (*(int(np.sum(latencies <= b)) for b in bounds), len(outcomes)),
        "latency_sum": float(latencies.sum()),
        "rows_replaced": sum(o[3] for o in outcomes),
        "rows_rejected": sum(o[6] for o in outcomes if len(o) > 6),
    }


def same(snap: GuardStatsSnapshot, want: dict[str, Any]) -> None:
    assert dict(snap.calls) == dict(want["calls"])
    assert snap.cumulative == want["cumulative"]
    assert snap.count == want["cumulative"][-1]
    assert snap.latency_sum == pytest.approx(want["latency_sum"])
    assert snap.rows_replaced == want["rows_replaced"]
    assert snap.rows_rejected == want["rows_rejected"]


def flaky_guard(clock: FakeClock) -> tuple[ag.Guard, Any]:
    """A guard whose model fails every 7th call, returns a NaN row every 5th, takes set times."""
    latencies = np.random.default_rng(5).gamma(2.0, 0.02, size=400)
    g = ag.Guard(name="recs", clock=clock, check=ag.checks.finite(),
                 input_check=ag.checks.finite(), fallback=lambda x: np.zeros(len(x)),
                 fallback_rows=True)
    state = {"i": 0}

    def model(x: Any) -> Any:
        i = state["i"]
        state["i"] += 1
        clock.advance(float(latencies[i]))
        if i % 7 == 3:
            raise RuntimeError("down")
        out = np.ones(len(x))
        if i % 5 == 0:
            out[-1] = np.nan
        return out

    return g, model


def inputs(i: int) -> Any:
    x = np.ones(4)
    if i % 6 == 1:
        x[0] = np.nan  # one row rejected by the input check, the rest go to the model
    if i % 23 == 2:
        x[:] = np.nan  # every row rejected: the fallback serves the whole call
    return x


def test_stats_match_every_outcome_sync() -> None:
    """Calls, cumulative buckets, latency sum and row counts equal a numpy tally of outcomes."""
    clock = FakeClock()
    g, model = flaky_guard(clock)
    stats = g.stats
    predict = g(model)
    seen = []
    for i in range(120):
        predict(inputs(i))
        o = g.last_outcome
        assert o is not None
        seen.append((o.served_by, o.reason, o.stage, o.rows_replaced, o.latency, o.error,
                     o.rows_rejected))
    want = reference(seen, DEFAULT_BUCKETS)
    same(stats.snapshot(), want)
    assert want["rows_rejected"] > 0
    assert want["rows_replaced"] > 0
    assert len(want["calls"]) >= 3


def test_stats_match_every_outcome_async() -> None:
    """The async shell feeds the stats the same way."""
    clock = FakeClock()
    g, model = flaky_guard(clock)
    stats = g.stats

    async def amodel(x: Any) -> Any:
        return model(x)

    predict = g(amodel)

    async def run() -> list[Any]:
        seen = []
        for i in range(60):
            await predict(inputs(i))
            o = g.last_outcome
            assert o is not None
            seen.append((o.served_by, o.reason, o.stage, o.rows_replaced, o.latency, o.error,
                         o.rows_rejected))
        return seen

    seen = asyncio.run(run())
    same(stats.snapshot(), reference(seen, DEFAULT_BUCKETS))


def test_counting_starts_when_stats_are_first_read() -> None:
    """Calls before the first read are not counted; the same object is returned after."""
    g = ag.Guard(name="g")
    predict = g(lambda x: x)
    predict(1)
    assert g._stats is None
    stats = g.stats
    predict(2)
    predict(3)
    assert g.stats is stats
    assert stats.snapshot().count == 2
    assert repr(stats) == f"GuardStats(calls=2, buckets={len(DEFAULT_BUCKETS)})"


def test_exact_under_concurrent_threads_and_ended_threads_are_folded_in() -> None:
    """Four threads at once, then twenty short-lived ones: no call lost, no shard left over."""
    g = ag.Guard(name="g", fallback=lambda x: 0)
    stats = g.stats

    @g
    def predict(x: int) -> int:
        if x % 3 == 0:
            raise RuntimeError("down")
        return x

    def work(n: int) -> None:
        for i in range(n):
            predict(i)

    for batch in ([1500] * 4, [30] * 20):
        threads = [threading.Thread(target=work, args=(n,)) for n in batch]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    snap = stats.snapshot()
    assert dict(snap.calls) == {("fallback", "error"): 4 * 500 + 20 * 10,
                                ("model", None): 4 * 1000 + 20 * 20}
    assert snap.count == 4 * 1500 + 20 * 30
    assert stats._shards == []  # every thread ended: its counts live in the retired total


@settings(max_examples=30)  # ~10 ms an example (a numpy reference each); 30 cover the mixes
@given(st.lists(st.tuples(
    st.sampled_from(["model", "fallback", "raised", "rules"]),
    st.sampled_from([None, "error", "invalid", "open", "timeout"]),
    st.floats(0, 20, allow_nan=False),
    st.integers(0, 5),
    st.integers(0, 3),
), max_size=60), st.lists(st.floats(0.001, 30), min_size=1, max_size=6, unique=True))
def test_recording_raw_outcomes_matches_a_reference(draws: list[Any], bounds: list[float]) -> None:
    """Any mix of outcome tuples, any bucket bounds: the snapshot equals the reference tally."""
    bounds = sorted(bounds)
    stats = GuardStats(buckets=bounds)
    outcomes = [(s, r, "model", rows, lat, None, *((rej, {"c": rej}) if rej else ()))
                for s, r, lat, rows, rej in draws]
    for o in outcomes:
        stats.record(o)
    same(stats.snapshot(), reference(outcomes, tuple(bounds)))


def test_a_latency_on_a_bound_is_in_that_bucket() -> None:
    """Buckets are upper-inclusive, like Prometheus's ``le`` and OpenTelemetry's buckets."""
    stats = GuardStats(buckets=[0.1, 1.0])
    for latency in (0.1, 0.5, 1.0, 1.5):
        stats.record(("model", None, "model", 0, latency, None))
    assert stats.snapshot().buckets == (1, 2, 1)


def test_enable_stats_bounds_and_conflicts() -> None:
    """Chosen bounds stick; other bounds later are refused naming buckets; numpy is accepted."""
    g = ag.Guard(name="g")
    stats = g.enable_stats(buckets=[np.float64(0.01), np.int64(1)])
    assert stats.bounds == (0.01, 1.0)
    assert g.enable_stats() is stats
    assert g.enable_stats(buckets=(0.01, 1)) is stats
    assert g.stats is stats
    with pytest.raises(ConfigurationError, match=r"buckets .*already counts"):
        g.enable_stats(buckets=DEFAULT_BUCKETS)


@pytest.mark.parametrize("buckets", [(), (0.1, 0.1), (0.2, 0.1), (0, 1), (True,), "0.1", 5])
def test_bad_buckets_are_refused(buckets: Any) -> None:
    """Buckets must be increasing positive seconds."""
    with pytest.raises(ConfigurationError, match="buckets"):
        GuardStats(buckets=buckets)
    with pytest.raises(ConfigurationError, match="buckets"):
        ag.Guard().enable_stats(buckets=buckets)


def test_a_broken_outcome_never_reaches_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    """A tuple the tally cannot count is logged once and skipped."""
    stats = GuardStats()
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        stats.record(("model", None, "model", 0, "not a latency", None))
        stats.record(("model", None, "model", 0, "not a latency", None))
    assert sum("guard stats could not count" in r.getMessage() for r in caplog.records) == 1
    assert stats.snapshot().latency_sum == 0.0


def test_raw_listeners_get_the_tuple_and_no_outcome_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only raw listeners (the stats among them): the guard builds no Outcome object."""
    built: list[Any] = []
    real = guard_module.Outcome

    def counting(*args: Any, **kwargs: Any) -> Any:
        built.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(guard_module, "Outcome", counting)
    g = ag.Guard(name="g", fallback=lambda x: -1)
    raw: list[Any] = []
    g.add_listener(raw.append, raw=True)
    _ = g.stats
    predict = g(lambda x: 1 / x)
    predict(1)
    predict(0)
    assert not built
    assert raw[0][:4] == ("model", None, "model", 0)
    assert raw[1][:3] == ("fallback", "error", "model")
    events: list[Any] = []
    g.add_listener(events.append)
    predict(1)
    assert len(built) == 1
    assert events[0] == real("g", *raw[2])
    assert g.stats.snapshot().count == 3


def test_raw_listener_that_raises_is_logged_once_and_removable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A raising raw listener never breaks the call; it is removed like any listener."""
    g = ag.Guard(name="g")

    def broken(_raw: Any) -> None:
        raise ValueError("listener bug")

    g.add_listener(broken, raw=True)
    predict = g(lambda x: x)
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        assert [predict(1), predict(2)] == [1, 2]
    assert sum("listener of guard" in r.getMessage() for r in caplog.records) == 1
    g.remove_listener(broken)
    assert not g._active
    with pytest.raises(ValueError, match="not a listener"):
        g.remove_listener(broken)
    with pytest.raises(ConfigurationError, match="listener"):
        g.add_listener("nope", raw=True)  # type: ignore[arg-type]


@pytest.mark.parametrize("is_async", [False, True])
def test_partly_rejected_batch_is_told_once_with_its_rejected_rows(is_async: bool) -> None:
    """Listeners see one outcome per call, rejected rows included, also when the model raises."""
    g = ag.Guard(name="g", input_check=ag.checks.finite(), fallback=lambda x: np.zeros(len(x)),
                 fallback_rows=True, fallback_on=(KeyError,))
    events: list[Any] = []
    g.add_listener(events.append)
    stats = g.stats

    def model(x: Any) -> Any:
        if x[0] < 0:
            raise ValueError("down")
        return np.ones(len(x))

    async def amodel(x: Any) -> Any:
        return model(x)

    predict = g(amodel if is_async else model)

    def call(x: Any) -> Any:
        return asyncio.run(predict(x)) if is_async else predict(x)

    assert call(np.array([1.0, np.nan, 2.0])).tolist() == [1.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="down"):
        call(np.array([-1.0, np.nan]))
    assert [(e.served_by, e.rows_replaced, e.rows_rejected) for e in events] == [
        ("model", 1, 1), ("raised", 0, 1)]
    assert events[0].rejected == {"finite()": 1}
    snap = stats.snapshot()
    assert (snap.count, snap.rows_rejected, snap.rows_replaced) == (2, 2, 1)


def test_a_new_model_reaches_the_partly_rejected_path() -> None:
    """Swapping the model (registry, wrap) swaps it in the quiet pipeline too."""
    g = ag.Guard(name="g", input_check=ag.checks.finite(), fallback=lambda x: np.zeros(len(x)),
                 fallback_rows=True)
    predict = g(lambda x: np.ones(len(x)))
    predict.__aiguard_set_model__(lambda x: np.full(len(x), 2.0))  # type: ignore[attr-defined]
    assert predict(np.array([1.0, np.nan])).tolist() == [2.0, 0.0]
    assert predict(np.array([1.0])).tolist() == [2.0]


def test_a_thread_ending_after_its_stats_are_gone_is_harmless() -> None:
    """The fold-in callback holds no strong reference: stats dropped first, nothing breaks."""
    stats = GuardStats()
    stats.record(("model", None, "model", 0, 0.1, None))
    ref = weakref.ref(stats)
    del stats
    gc.collect()
    assert ref() is None

"""The Prometheus collector, scraped from a real prometheus_client HTTP endpoint."""

from __future__ import annotations

import logging
import threading
import urllib.request
from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.parser import text_string_to_metric_families

import aiguard as ag
from aiguard.detect import LatencyMonitor, Signal
from aiguard.errors import ConfigurationError
from aiguard.integrations.prometheus import DEFAULT_BUCKETS, AiguardCollector
from aiguard.testing import FakeClock

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[tuple[CollectorRegistry, int]]:
    """One real prometheus_client HTTP endpoint on 127.0.0.1 for the module's tests.

    One per module, not per test: stopping the server waits for its 0.5 s poll.
    """
    registry = CollectorRegistry()
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    yield registry, server.server_port
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def scrape(
    endpoint: tuple[CollectorRegistry, int],
) -> Iterator[Callable[[AiguardCollector], Samples]]:
    """Register collectors on the endpoint's registry for this test; return a scraper."""
    registry, port = endpoint
    registered: list[AiguardCollector] = []

    def read(collector: AiguardCollector) -> Samples:
        if collector not in registered:
            registry.register(collector)
            registered.append(collector)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            text = resp.read().decode()
        return {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    yield read
    for collector in registered:
        registry.unregister(collector)
        collector.close()


def get(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


def test_calls_rows_and_latency_histogram_match_the_calls_made(scrape: Any) -> None:
    """Calls by (served_by, reason), fallback rows and latency buckets equal a tally kept here."""
    clock = FakeClock()
    latencies = np.random.default_rng(3).gamma(2.0, 0.01, size=200)
    errors = set(range(0, 200, 7))
    state = {"i": 0}
    recs = ag.Guard(name="recs", clock=clock, check=ag.checks.finite(),
                    fallback=lambda x: np.zeros(len(x)), fallback_rows=True)

    @recs
    def predict(x: Any) -> Any:
        i = state["i"]
        clock.advance(float(latencies[i]))
        if i in errors:
            raise RuntimeError("down")
        out = np.ones(len(x))
        if i % 5 == 0:
            out[0] = np.nan
        return out

    collector = AiguardCollector(guards=[recs])
    scrape(collector)  # registered before the calls, so every call is counted
    expected: Counter[tuple[str, str]] = Counter()
    rows = 0
    for i in range(200):
        state["i"] = i
        predict(np.zeros(3))
        o = recs.last_outcome
        assert o is not None
        expected[(o.served_by, o.reason or "none")] += 1
        rows += o.rows_replaced
    samples = scrape(collector)
    got = {(dict(k)["served_by"], dict(k)["reason"]): v for (n, k), v in samples.items()
           if n == "aiguard_calls_total"}
    assert got == {k: float(v) for k, v in expected.items()}
    assert len(got) >= 2
    assert get(samples, "aiguard_fallback_rows_total", guard="recs") == rows > 0
    for bound in DEFAULT_BUCKETS:
        le = repr(bound)
        want = float(np.sum(latencies <= bound))
        assert get(samples, "aiguard_call_duration_seconds_bucket", guard="recs", le=le) == want
    assert get(samples, "aiguard_call_duration_seconds_count", guard="recs") == 200
    assert get(samples, "aiguard_call_duration_seconds_sum", guard="recs") == pytest.approx(
        float(latencies.sum()))


def test_counts_are_exact_under_concurrent_callers(scrape: Any) -> None:
    """Four threads calling one guard: no call is lost from the counters."""
    recs = ag.Guard(name="recs", fallback=lambda x: 0)

    @recs
    def predict(x: int) -> int:
        if x % 3 == 0:
            raise RuntimeError("down")
        return x

    collector = AiguardCollector(guards=[recs])

    def work() -> None:
        for i in range(3000):
            predict(i)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    samples = scrape(collector)
    assert get(samples, "aiguard_calls_total", guard="recs", served_by="fallback",
               reason="error") == 4 * 1000
    assert get(samples, "aiguard_calls_total", guard="recs", served_by="model",
               reason="none") == 4 * 2000
    assert get(samples, "aiguard_call_duration_seconds_count", guard="recs") == 4 * 3000


def test_breaker_state_counters_and_transitions(scrape: Any) -> None:
    """State is one-hot over every state, transitions are counted by from/to."""
    clock = FakeClock()
    breaker = ag.CircuitBreaker(name="b", window=4, min_calls=4, failure_rate=0.5,
                                open_for=30, clock=clock)
    recs = ag.Guard(name="recs", breaker=breaker, fallback=lambda x: 0.0, clock=clock)

    @recs
    def predict(x: Any) -> Any:
        raise RuntimeError("down")

    collector = AiguardCollector()
    collector.watch(recs)  # also watches its breaker
    scrape(collector)
    for _ in range(6):
        predict(1)
    samples = scrape(collector)
    assert get(samples, "aiguard_breaker_state", breaker="b", state="open") == 1
    assert sum(v for (n, _), v in samples.items() if n == "aiguard_breaker_state") == 1
    assert get(samples, "aiguard_breaker_calls_total", breaker="b") == 4
    assert get(samples, "aiguard_breaker_failures_total", breaker="b") == 4
    assert get(samples, "aiguard_breaker_rejected_calls_total", breaker="b") == 2
    assert get(samples, "aiguard_breaker_failure_ratio", breaker="b") == 1.0
    assert get(samples, "aiguard_breaker_transitions_total", breaker="b",
               from_state="closed", to_state="open") == 1
    breaker.reset()
    samples = scrape(collector)
    assert get(samples, "aiguard_breaker_transitions_total", breaker="b",
               from_state="open", to_state="closed") == 1
    assert get(samples, "aiguard_breaker_state", breaker="b", state="closed") == 1


def test_flags_monitors_and_incidents(scrape: Any) -> None:
    """Flag states, a latency monitor's window quantiles and signal, incidents by severity."""
    flags = ag.Flags(refresh=None)
    flags.set("recs.on", on=True, reason="r", actor="a")
    flags.set("recs.new", on=True, percent=25, reason="r", actor="a")
    flags.set("search.on", on=False, reason="r", actor="a")
    clock = FakeClock()
    monitor = LatencyMonitor(window=60, slices=6, limit=0.1, baseline=0.05, min_count=5,
                             clock=clock, name="recs.latency")
    incidents = ag.Incidents()
    collector = AiguardCollector(flags=[flags], monitors=[monitor], incidents=incidents)
    scrape(collector)
    monitor.evaluate()
    values = np.random.default_rng(1).uniform(0.2, 0.8, size=400)
    monitor.observe(values)
    clock.advance(11)
    assert monitor.evaluate() is not None
    for source, kind in (("recs.outputs", "output"), ("search.inputs", "drift"),
                         ("ads.inputs", "drift")):
        incidents.handle(Signal(source=source, kind=kind, value=0.4, baseline=0.02, at=0.0))
    assert incidents.flush()
    severities = Counter(i.severity.value for i in incidents.open_incidents())
    samples = scrape(collector)
    assert get(samples, "aiguard_flag_enabled", flag="recs.on") == 1
    assert get(samples, "aiguard_flag_enabled", flag="search.on") == 0
    assert get(samples, "aiguard_flag_rollout_ratio", flag="recs.new") == 0.25
    assert get(samples, "aiguard_flag_rollout_ratio", flag="recs.on") == 1
    assert get(samples, "aiguard_flags_stale", store="MemoryStore") == 0
    assert get(samples, "aiguard_monitor_in_breach", monitor="recs.latency", kind="latency") == 1
    assert get(samples, "aiguard_monitor_signals_total", monitor="recs.latency",
               kind="latency", status="breach") == 1
    for q in (0.5, 0.95, 0.99):
        got = get(samples, "aiguard_monitor_latency_seconds", monitor="recs.latency",
                  quantile=str(q))
        want = np.sort(values)[int(np.floor(q * (len(values) - 1)))]
        assert got == pytest.approx(want, rel=0.0101)
    assert get(samples, "aiguard_monitor_value", monitor="recs.latency", kind="latency") == (
        pytest.approx(np.sort(values)[int(0.99 * 399)], rel=0.0101))
    for severity in ag.Severity:
        assert get(samples, "aiguard_incidents_open", severity=severity.value) == severities.get(
            severity.value, 0)
    assert sum(severities.values()) == 3
    incidents.close()
    flags.close()


def test_routers_split_and_judgements(scrape: Any) -> None:
    """Champion one-hot and changes, shadow outcomes, canary split, status and verdicts."""
    registry = ag.ModelRegistry("recs", refresh=None)
    registry.register("v1", lambda x: x)
    registry.register("v2", lambda x: x)
    shadow = ag.ShadowRouter(lambda x: x, lambda x: 1 / (x % 4), workers=1)
    clock = FakeClock()

    def judge(candidate: Any, baseline: Any) -> ag.Judgement:
        return ag.Judgement("pass", 1.0, (), "fine")

    canary = ag.CanaryRouter(lambda u: 0.0, lambda u: 1.0, steps=(10, 50, 100), judge=judge,
                             min_samples=1, interval=60, key=lambda u: u, clock=clock,
                             name="recs.canary")
    collector = AiguardCollector(routers=[registry, shadow, canary])
    scrape(collector)
    registry.promote("v2", reason="better")
    registry.rollback(reason="worse")
    for x in range(40):
        shadow(x)
    assert shadow.flush()
    for u in range(300):
        canary(u)
    clock.advance(61)
    first = canary.evaluate()
    canary.pause(reason="look")
    samples = scrape(collector)
    assert get(samples, "aiguard_model_champion", registry="recs", version="v1") == 1
    assert get(samples, "aiguard_model_champion", registry="recs", version="v2") == 0
    assert get(samples, "aiguard_model_changes_total", registry="recs", action="promote") == 1
    assert get(samples, "aiguard_model_changes_total", registry="recs", action="rollback") == 1
    assert get(samples, "aiguard_shadow_requests_total", router="shadow", result="offered") == 40
    assert get(samples, "aiguard_shadow_requests_total", router="shadow", result="error") == 10
    assert first is not None
    assert first.kind == "promote"
    assert get(samples, "aiguard_canary_traffic_ratio", router="recs.canary",
               arm="candidate") == 0.5
    assert get(samples, "aiguard_canary_traffic_ratio", router="recs.canary", arm="stable") == 0.5
    assert get(samples, "aiguard_canary_status", router="recs.canary", status="paused") == 1
    assert get(samples, "aiguard_canary_status", router="recs.canary", status="running") == 0
    assert get(samples, "aiguard_canary_events_total", router="recs.canary", kind="promote") == 1
    assert get(samples, "aiguard_canary_events_total", router="recs.canary",
               kind="manual_pause") == 1
    assert get(samples, "aiguard_canary_judgements_total", router="recs.canary",
               verdict="pass") == 1
    shadow.close()
    registry.close()


def test_an_unreadable_object_is_skipped_counted_and_logged_once(
    scrape: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A watched object that raises leaves the scrape intact; the failure is counted."""
    incidents = ag.Incidents()
    flags = ag.Flags(refresh=None)
    flags.set("recs.on", on=True, reason="r", actor="a")

    def broken() -> list[Any]:
        raise RuntimeError("store down")

    monkeypatch.setattr(incidents, "open_incidents", broken)
    collector = AiguardCollector(flags=[flags], incidents=incidents)
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        scrape(collector)
        samples = scrape(collector)
    assert get(samples, "aiguard_flag_enabled", flag="recs.on") == 1
    assert "aiguard_incidents_open" not in names(samples)
    assert get(samples, "aiguard_exporter_read_errors_total", kind="incidents") == 2
    assert sum("could not read" in r.getMessage() for r in caplog.records) == 1
    incidents.close()
    flags.close()


def test_close_detaches_every_listener(scrape: Any) -> None:
    """After close() the guard, breaker, monitor and registry listeners are gone."""
    monitor = LatencyMonitor(clock=FakeClock(), name="lat")
    breaker = ag.CircuitBreaker(name="b")
    recs = ag.Guard(name="recs", breaker=breaker, monitors=[monitor])
    registry = ag.ModelRegistry("recs", refresh=None)
    registry.register("v1", lambda x: x)
    registry.register("v2", lambda x: x)
    collector = AiguardCollector(guards=[recs], routers=[registry])
    collector.watch(recs)  # a second watch is a no-op
    predict = recs(lambda x: x)
    predict(1)
    samples = scrape(collector)
    assert get(samples, "aiguard_calls_total", guard="recs", served_by="model",
               reason="none") == 1
    assert get(samples, "aiguard_monitor_in_breach", monitor="lat", kind="latency") == 0
    collector.close()
    assert not recs._listeners
    assert not breaker._listeners
    assert monitor._subscribers == (recs._signal,)  # the guard's own subscription stays
    assert not registry._listeners
    registry.close()


def test_other_monitors_and_custom_taps(scrape: Any) -> None:
    """A non-latency monitor has no quantiles; a guard's custom tap is not watched."""

    class Tap:
        def tap(self, *args: Any) -> None:
            pass

    errors = ag.detect.ErrorRateMonitor(clock=FakeClock(), name="errs")
    recs = ag.Guard(name="recs", monitors=[errors, Tap()])
    collector = AiguardCollector(guards=[recs])
    samples = scrape(collector)
    assert get(samples, "aiguard_monitor_in_breach", monitor="errs", kind="error_rate") == 0
    assert "aiguard_monitor_latency_seconds" not in names(samples)
    assert {dict(k).get("monitor") for n, k in samples if n.startswith("aiguard_monitor")} == {
        "errs"}


def test_guard_listener_ignores_monitor_signals() -> None:
    """A guard passes its monitors' signals to listeners too; the collector skips them."""
    clock = FakeClock()
    monitor = LatencyMonitor(window=60, slices=6, limit=0.1, baseline=0.05, min_count=5,
                             clock=clock, name="lat")
    recs = ag.Guard(name="recs", monitors=[monitor], clock=clock)
    collector = AiguardCollector(guards=[recs])
    monitor.evaluate()
    monitor.observe([0.5] * 50)
    clock.advance(11)
    assert monitor.evaluate() is not None
    registry = CollectorRegistry()
    registry.register(collector)
    assert registry.get_sample_value("aiguard_call_duration_seconds_count",
                                     {"guard": "recs"}) == 0
    assert registry.get_sample_value("aiguard_monitor_signals_total",
                                     {"monitor": "lat", "kind": "latency",
                                      "status": "breach"}) == 1
    collector.close()


@pytest.mark.parametrize("buckets", [(), (0.1, 0.1), (0.2, 0.1), (0, 1), (True,), "0.1", 5])
def test_bad_buckets_are_refused(buckets: Any) -> None:
    """Buckets must be increasing positive seconds."""
    with pytest.raises(ConfigurationError, match="buckets"):
        AiguardCollector(buckets=buckets)


def test_numpy_buckets_are_accepted() -> None:
    """Numpy scalars are numbers like any other."""
    collector = AiguardCollector(buckets=[np.float64(0.1), np.int64(1)])
    registry = CollectorRegistry()
    registry.register(collector)
    assert registry.get_sample_value("aiguard_exporter_read_errors_total", {"kind": "x"}) is None


def test_watching_something_else_is_refused() -> None:
    """Only aiguard objects can be watched; the error names what was given."""
    with pytest.raises(ConfigurationError, match="obj"):
        AiguardCollector().watch(object())


def test_the_collector_reads_the_guard_stats_and_adds_no_listener(scrape: Any) -> None:
    """Watching a guard switches its stats on; the calls counted there are the ones scraped."""
    recs = ag.Guard(name="recs", input_check=ag.checks.finite(),
                    fallback=lambda x: np.zeros(len(x)), fallback_rows=True)
    predict = recs(lambda x: np.ones(len(x)))
    collector = AiguardCollector(guards=[recs])
    assert not recs._listeners
    assert recs._taps[0] == (recs.stats.record,)
    predict(np.array([1.0, np.nan, np.nan, 2.0]))
    predict(np.array([np.nan]))
    samples = scrape(collector)
    assert get(samples, "aiguard_rejected_rows_total", guard="recs") == 3
    assert get(samples, "aiguard_fallback_rows_total", guard="recs") == 3
    assert get(samples, "aiguard_calls_total", guard="recs", served_by="model",
               reason="none") == 1
    assert get(samples, "aiguard_calls_total", guard="recs", served_by="fallback",
               reason="invalid_input") == 1
    snap = recs.stats.snapshot()
    assert get(samples, "aiguard_call_duration_seconds_count", guard="recs") == snap.count == 2


def test_collector_buckets_follow_the_guard_or_conflict_loudly(scrape: Any) -> None:
    """No buckets: each guard's own bounds; other buckets than a guard counts with: refused."""
    fast = ag.Guard(name="fast")
    fast.enable_stats(buckets=[0.001, 0.01])
    plain = ag.Guard(name="plain")
    collector = AiguardCollector(guards=[fast, plain])
    fast(lambda x: x)(1)
    samples = scrape(collector)
    les = {dict(k)["le"] for n, k in samples if n == "aiguard_call_duration_seconds_bucket"
           and dict(k)["guard"] == "fast"}
    assert les == {"0.001", "0.01", "+Inf"}
    assert get(samples, "aiguard_call_duration_seconds_bucket", guard="plain",
               le=repr(DEFAULT_BUCKETS[-1])) == 0
    with pytest.raises(ConfigurationError, match=r"buckets .*already counts"):
        AiguardCollector(guards=[fast], buckets=DEFAULT_BUCKETS)
    custom = ag.Guard(name="custom")
    AiguardCollector(guards=[custom], buckets=[0.5, 5])
    assert custom.stats.bounds == (0.5, 5.0)

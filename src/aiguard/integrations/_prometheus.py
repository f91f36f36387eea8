"""One Prometheus collector over the counters aiguard keeps (extra ``prometheus``).

A scrape reads each watched object's own counters and state (``guard.stats``,
``breaker.metrics``, ``flags.states()``, ``monitor.last_signal``,
``incidents.open_incidents()``, ``router.percent``...). Watching a guard reads its
:attr:`~aiguard.Guard.stats`, which switches the guard's own counting on (calls by
``(served_by, reason)``, rows, a cumulative latency histogram: a raw tap of the
guard, no :class:`~aiguard.Outcome` built, no listener of the collector's per call).
What aiguard does not count by itself is counted by small listeners the collector
registers, none of them per call:

* breaker transitions (a transitions-only breaker listener: nothing per call);
* monitor signals (a monitor subscriber: nothing per call);
* champion changes of a model registry (a registry listener).

A :class:`~aiguard.detect.LatencyMonitor`'s histogram covers a sliding window, which a
Prometheus histogram (cumulative counts that only grow) cannot represent, so its
window quantiles are exported as gauges beside the guard's cumulative histogram.

Reading an object that fails (a store that is down, a bug) never fails the
scrape: the object's samples are left out of that scrape, the failure is
counted in ``aiguard_exporter_read_errors_total`` and logged once.

Importing this module imports ``prometheus_client``; nothing else in aiguard does.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from aiguard._core import _validate
from aiguard._core._events import log_once
from aiguard.classify import Severity
from aiguard.contain.breaker import BreakerState, CircuitBreaker
from aiguard.contain.flags import Flags
from aiguard.contain.guard import DEFAULT_BUCKETS, Guard
from aiguard.detect._monitors._base import Monitor
from aiguard.detect._monitors._latency import LatencyMonitor
from aiguard.errors import ConfigurationError, MissingExtraError
from aiguard.integrations._prometheus_metrics import HISTOGRAM, SPECS
from aiguard.recover import CanaryRouter, ModelRegistry, ShadowRouter
from aiguard.review import Incidents

try:
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        HistogramMetricFamily,
    )
    from prometheus_client.registry import Collector
except ImportError as exc:  # pragma: no cover - the dev environment has prometheus-client
    raise MissingExtraError("the Prometheus collector", "prometheus", "prometheus-client") from exc

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from prometheus_client.metrics_core import Metric

    from aiguard.contain.breaker import BreakerEvent
    from aiguard.contain.guard import GuardStatsSnapshot
    from aiguard.detect import Signal
    from aiguard.recover import ChampionChange

__all__ = ["DEFAULT_BUCKETS", "AiguardCollector"]

_CANARY_STATUSES = ("running", "paused", "rolled_back", "complete", "aborted")

Row = tuple[str, tuple[str, ...], float]


class _Tally:
    """A counter of keys, fed by a listener (transitions, signals, champion changes)."""

    __slots__ = ("counts", "key", "lock")

    def __init__(self, key: Callable[[Any], tuple[str, ...]]) -> None:
        self.counts: dict[tuple[str, ...], int] = {}
        self.key = key
        self.lock = threading.Lock()

    def __call__(self, event: object) -> None:
        key = self.key(event)
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    def snapshot(self) -> dict[tuple[str, ...], int]:
        with self.lock:
            return dict(self.counts)


def _transition(event: BreakerEvent) -> tuple[str, ...]:
    # registered with outcomes=False: only transitions arrive
    return (event.old.value, event.new.value)


def _signal(signal: Signal) -> tuple[str, ...]:
    return (signal.kind, signal.status)


def _change(change: ChampionChange) -> tuple[str, ...]:
    return (change.action,)


class AiguardCollector(Collector):
    """A Prometheus collector exporting what aiguard objects count (see the docs table).

    Register it once (``prometheus_client.REGISTRY.register(collector)``); every
    scrape reads the watched objects. Watching a :class:`~aiguard.Guard` also
    watches its breaker and its monitors. :meth:`close` removes the listeners
    the collector added.

    Args:
        guards: guards whose calls to export (switches their ``stats`` on).
        breakers: circuit breakers.
        flags: flag sets (:class:`~aiguard.Flags`).
        monitors: live monitors (``aiguard.detect``).
        incidents: the :class:`~aiguard.Incidents` manager.
        routers: :class:`~aiguard.ModelRegistry`, :class:`~aiguard.ShadowRouter`
            or :class:`~aiguard.CanaryRouter` objects.
        buckets: increasing upper bounds, in seconds, of the latency histogram;
            ``None`` (the default) uses each guard's own bounds
            (:data:`~aiguard.contain.guard.DEFAULT_BUCKETS` unless the guard's
            stats were enabled with others). Given explicitly, they switch the
            guards' stats on with these bounds.

    Raises:
        ConfigurationError: an object of the wrong kind, bad buckets, or
            ``buckets`` other than those a watched guard already counts with.

    Example:
        >>> import aiguard as ag
        >>> from prometheus_client import CollectorRegistry, generate_latest
        >>> recs = ag.Guard(name="recs", fallback=lambda x: 0.0)
        >>> @recs
        ... def predict(x):
        ...     raise RuntimeError("down")
        >>> registry = CollectorRegistry()
        >>> collector = AiguardCollector(guards=[recs])
        >>> registry.register(collector)
        >>> predict(1)
        0.0
        >>> text = generate_latest(registry).decode()
        >>> 'aiguard_calls_total{guard="recs",reason="error",served_by="fallback"} 1.0' in text
        True
        >>> collector.close()
    """

    def __init__(
        self,
        *,
        guards: Iterable[Guard] = (),
        breakers: Iterable[CircuitBreaker] = (),
        flags: Iterable[Flags] = (),
        monitors: Iterable[Monitor] = (),
        incidents: Incidents | None = None,
        routers: Iterable[ModelRegistry | ShadowRouter | CanaryRouter] = (),
        buckets: Sequence[float] | None = None,
    ) -> None:
        self._bounds = None if buckets is None else _validate.bounds(buckets, "buckets")
        self._lock = threading.Lock()
        self._watched: dict[int, tuple[str, Any, Any]] = {}  # id -> (kind, object, tally)
        self._errors: dict[str, int] = defaultdict(int)
        for group in (guards, breakers, flags, monitors, routers):
            for obj in group:
                self.watch(obj)
        if incidents is not None:
            self.watch(incidents)

    def watch(self, obj: object) -> None:
        """Export *obj* too (a guard, breaker, flag set, monitor, incidents or router).

        Watching the same object twice is a no-op.

        Raises:
            ConfigurationError: *obj* is none of those.
        """
        kind, tally = self._attach(obj)
        with self._lock:
            if id(obj) in self._watched:
                self._detach(kind, obj, tally)
                return
            self._watched[id(obj)] = (kind, obj, tally)
        if isinstance(obj, Guard):
            if obj.breaker is not None:
                self.watch(obj.breaker)
            for monitor in obj.monitors:
                if isinstance(monitor, Monitor):
                    self.watch(monitor)

    def close(self) -> None:
        """Remove every listener this collector added and stop watching."""
        with self._lock:
            watched, self._watched = list(self._watched.values()), {}
        for kind, obj, tally in watched:
            self._detach(kind, obj, tally)

    def _attach(self, obj: object) -> tuple[str, Any]:
        tally: Any
        if isinstance(obj, Guard):
            return "guard", obj.enable_stats(buckets=self._bounds)
        if isinstance(obj, CircuitBreaker):
            tally = _Tally(_transition)
            obj.add_listener(tally, outcomes=False)
            return "breaker", tally
        if isinstance(obj, Monitor):
            tally = _Tally(_signal)
            obj.subscribe(tally)
            return "monitor", tally
        if isinstance(obj, ModelRegistry):
            tally = _Tally(_change)
            obj.add_listener(tally)
            return "registry", tally
        for kind, cls in (("flags", Flags), ("incidents", Incidents),
                          ("shadow", ShadowRouter), ("canary", CanaryRouter)):
            if isinstance(obj, cls):
                return kind, None
        raise ConfigurationError(
            "obj", "a Guard, CircuitBreaker, Flags, monitor, Incidents or router", obj
        )

    @staticmethod
    def _detach(kind: str, obj: Any, tally: Any) -> None:
        if kind == "breaker":
            obj.remove_listener(tally)
        elif kind == "monitor":
            obj.unsubscribe(tally)
        elif kind == "registry":
            obj.remove_listener(tally)

    def describe(self) -> list[Metric]:
        """Nothing: the families are only known at scrape time (no read at registration)."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Read every watched object and yield one family per metric name."""
        with self._lock:
            watched = list(self._watched.values())
        rows: dict[str, list[tuple[tuple[str, ...], float]]] = defaultdict(list)
        histograms: list[tuple[str, tuple[float, ...], tuple[int, ...], float]] = []
        for kind, obj, tally in watched:
            try:
                if kind == "guard":
                    snap = tally.snapshot()
                    got = _read_guard(obj, snap)
                    histograms.append((obj.name, snap.bounds, snap.cumulative, snap.latency_sum))
                else:
                    got = _READERS[kind](obj, tally)
            except Exception:  # a scrape never fails because of one object
                self._errors[kind] += 1
                log_once(f"prometheus:{kind}",
                         "aiguard: the Prometheus collector could not read a watched %s "
                         "(skipped, counted in aiguard_exporter_read_errors_total; logged once)",
                         type(obj).__name__, event="prometheus.read_failed",
                         name=getattr(obj, "name", None), owner=obj)
                continue
            for name, labels, value in got:
                rows[name].append((labels, value))
        for kind, n in self._errors.items():
            rows["aiguard_exporter_read_errors_total"].append(((kind,), float(n)))
        for name, (doc, labels) in SPECS.items():
            family: Metric
            if name.endswith("_total"):
                family = CounterMetricFamily(name, doc, labels=labels)
            else:
                family = GaugeMetricFamily(name, doc, labels=labels)
            for values, value in rows.get(name, ()):
                family.add_metric(list(values), value)
            yield family
        hist = HistogramMetricFamily(HISTOGRAM, "Latency of guarded calls, from entering the "
                                     "guard to the answer.", labels=["guard"])
        for guard, bounds, cumulative, total in histograms:
            les = (*map(repr, bounds), "+Inf")
            hist.add_metric([guard], [(le, float(n)) for le, n in zip(les, cumulative,
                                                                     strict=True)],
                            sum_value=total)
        yield hist


def _read_guard(guard: Guard, snap: GuardStatsSnapshot) -> list[Row]:
    name = guard.name
    out: list[Row] = [
        ("aiguard_calls_total", (name, served_by, reason or "none"), float(n))
        for (served_by, reason), n in snap.calls.items()
    ]
    out.append(("aiguard_fallback_rows_total", (name,), float(snap.rows_replaced)))
    out.append(("aiguard_rejected_rows_total", (name,), float(snap.rows_rejected)))
    out.append(("aiguard_guard_monitor_errors_total", (name,), float(guard.monitor_errors)))
    return out


def _read_breaker(breaker: CircuitBreaker, tally: _Tally) -> list[Row]:
    m = breaker.metrics
    name = str(breaker.name)
    out: list[Row] = [("aiguard_breaker_state", (name, s.value), float(s is m.state))
                      for s in BreakerState]
    out += [
        ("aiguard_breaker_calls_total", (name,), float(m.calls)),
        ("aiguard_breaker_failures_total", (name,), float(m.failures)),
        ("aiguard_breaker_slow_calls_total", (name,), float(m.slow_calls)),
        ("aiguard_breaker_rejected_calls_total", (name,), float(m.rejected)),
        ("aiguard_breaker_failure_ratio", (name,), float(m.failure_rate)),
        ("aiguard_breaker_slow_call_ratio", (name,), float(m.slow_call_rate)),
    ]
    out += [("aiguard_breaker_transitions_total", (name, *key), float(n))
            for key, n in tally.snapshot().items()]
    return out


def _read_flags(flags: Flags, _tally: None) -> list[Row]:
    out: list[Row] = []
    for name, state in flags.states().items():
        out.append(("aiguard_flag_enabled", (name,), float(state.on)))
        ratio = 1.0 if state.percent is None else float(state.percent) / 100.0
        out.append(("aiguard_flag_rollout_ratio", (name,), ratio))
    out.append(("aiguard_flags_stale", (type(flags.store).__name__,), float(flags.stale)))
    return out


def _read_monitor(monitor: Monitor, tally: _Tally) -> list[Row]:
    name, kind = monitor.name, monitor.kind
    out: list[Row] = [
        ("aiguard_monitor_in_breach", (name, kind), float(monitor.in_breach)),
        ("aiguard_monitor_errors_total", (name,), float(monitor.errors)),
        ("aiguard_monitor_nonfinite_total", (name,), float(monitor.nonfinite)),
    ]
    last = monitor.last_signal
    if last is not None:
        out.append(("aiguard_monitor_value", (name, last.kind), last.value))
    out += [("aiguard_monitor_signals_total", (name, *key), float(n))
            for key, n in tally.snapshot().items()]
    if isinstance(monitor, LatencyMonitor):
        for label, value in monitor.quantiles().items():
            out.append(("aiguard_monitor_latency_seconds", (name, str(int(label[1:]) / 100)),
                        value))
    return out


def _read_incidents(incidents: Incidents, _tally: None) -> list[Row]:
    counts = dict.fromkeys(Severity, 0)
    for incident in incidents.open_incidents():
        counts[incident.severity] += 1
    return [("aiguard_incidents_open", (s.value,), float(n)) for s, n in counts.items()]


def _read_registry(registry: ModelRegistry, tally: _Tally) -> list[Row]:
    champion = registry.champion
    out: list[Row] = [("aiguard_model_champion", (registry.name, v), float(v == champion))
                      for v in registry.versions]
    out += [("aiguard_model_changes_total", (registry.name, *key), float(n))
            for key, n in tally.snapshot().items()]
    return out


def _read_shadow(router: ShadowRouter, _tally: None) -> list[Row]:
    return [("aiguard_shadow_requests_total", (router.name, result), float(n)) for result, n in (
        ("offered", router.offered), ("finished", router.finished), ("dropped", router.dropped),
        ("error", router.errors), ("timeout", router.timeouts))]


def _read_canary(router: CanaryRouter, _tally: None) -> list[Row]:
    name = router.name
    candidate = float(router.percent) / 100.0
    out: list[Row] = [
        ("aiguard_canary_traffic_ratio", (name, "candidate"), candidate),
        ("aiguard_canary_traffic_ratio", (name, "stable"), 1.0 - candidate),
    ]
    out += [("aiguard_canary_status", (name, s), float(s == router.status))
            for s in _CANARY_STATUSES]
    kinds: dict[str, int] = defaultdict(int)
    verdicts: dict[str, int] = defaultdict(int)
    for event in router.events:
        kinds[event.kind] += 1
        if event.evidence is not None:
            verdicts[event.evidence.verdict] += 1
    out += [("aiguard_canary_events_total", (name, k), float(n)) for k, n in kinds.items()]
    out += [("aiguard_canary_judgements_total", (name, v), float(n)) for v, n in verdicts.items()]
    return out


_READERS: dict[str, Callable[[Any, Any], list[Row]]] = {
    "breaker": _read_breaker,
    "flags": _read_flags,
    "monitor": _read_monitor,
    "incidents": _read_incidents,
    "registry": _read_registry,
    "shadow": _read_shadow,
    "canary": _read_canary,
}

"""The metrics :class:`~aiguard.integrations.prometheus.AiguardCollector` exports.

Plain data (no ``prometheus_client`` import): each metric's name, label names
and help text, in Prometheus conventions (base units, ``_total`` counters).
"""

from __future__ import annotations

__all__ = ["HISTOGRAM", "SPECS"]

# Every metric: its name and label names, then its help. A name ending in ``_total`` is a
# counter (Prometheus's convention), the others are gauges.
_TABLE = """\
aiguard_calls_total guard,served_by,reason
    Guarded calls by who served them and why.
aiguard_fallback_rows_total guard
    Rows of model answers replaced by a per-row fallback.
aiguard_rejected_rows_total guard
    Input rows rejected by the guard's input check.
aiguard_guard_monitor_errors_total guard
    Monitor taps of the guard that raised.
aiguard_breaker_state breaker,state
    1 for the breaker's current state, 0 for the others.
aiguard_breaker_calls_total breaker
    Model calls whose result the breaker recorded.
aiguard_breaker_failures_total breaker
    Sum of failure weights recorded by the breaker.
aiguard_breaker_slow_calls_total breaker
    Calls slower than the breaker's slow_call_duration.
aiguard_breaker_rejected_calls_total breaker
    Calls the breaker refused without calling the model.
aiguard_breaker_failure_ratio breaker
    Failure rate in the breaker's judged window (NaN until judged).
aiguard_breaker_slow_call_ratio breaker
    Slow-call rate in the breaker's judged window (NaN until judged).
aiguard_breaker_transitions_total breaker,from_state,to_state
    Breaker state changes seen since the collector watches it.
aiguard_flag_enabled flag
    1 when the flag is on.
aiguard_flag_rollout_ratio flag
    Share of keys in the flag's rollout (1 for everyone).
aiguard_flags_stale store
    1 while the flag set serves a stale local copy.
aiguard_monitor_in_breach monitor,kind
    1 while any rule of the monitor is in breach.
aiguard_monitor_value monitor,kind
    Value of the monitor's last signal.
aiguard_monitor_signals_total monitor,kind,status
    Signals the monitor emitted since the collector watches it.
aiguard_monitor_errors_total monitor
    Errors inside the monitor.
aiguard_monitor_nonfinite_total monitor
    Non-finite values the monitor skipped.
aiguard_monitor_latency_seconds monitor,quantile
    Latency quantile over the latency monitor's window.
aiguard_incidents_open severity
    Incidents not yet resolved.
aiguard_model_champion registry,version
    1 for the version the registry serves, 0 for the others.
aiguard_model_changes_total registry,action
    Champion changes (promote, rollback) seen since the collector watches.
aiguard_shadow_requests_total router,result
    Shadow router requests by what became of them.
aiguard_canary_traffic_ratio router,arm
    Share of traffic the canary router sends to each arm.
aiguard_canary_status router,status
    1 for the canary's current status, 0 for the others.
aiguard_canary_events_total router,kind
    Canary decisions and manual controls.
aiguard_canary_judgements_total router,verdict
    Canary judgements by verdict.
aiguard_exporter_read_errors_total kind
    Watched objects this collector failed to read (skipped).
"""


def _specs(table: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Name -> (help, label names), from the table above."""
    lines = table.splitlines()
    specs = {}
    for head, doc in zip(lines[::2], lines[1::2], strict=True):
        name, labels = head.split()
        specs[name] = (doc.strip(), tuple(labels.split(",")))
    return specs


SPECS = _specs(_TABLE)
HISTOGRAM = "aiguard_call_duration_seconds"

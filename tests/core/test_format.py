"""Figures for people: reprs of value objects without float noise."""

from __future__ import annotations

import math

import aiguard as ag
from aiguard._core._format import figure


def test_figure_rounds_to_six_significant_digits_and_keeps_floats_looking_like_floats() -> None:
    """Floats lose binary noise, keep a decimal point when whole; other values are repr()."""
    assert figure(0.1 + 0.2) == "0.3"
    assert figure(sum([0.3] * 10 + [0.06] * 22)) == "4.32"
    assert figure(2.0) == "2.0"
    assert figure(-3.0) == "-3.0"
    assert figure(1234567.0) == "1.23457e+06"
    assert figure(math.inf) == "inf"
    assert figure(None) == "None"
    assert figure(True) == "True"


def test_breaker_metrics_and_events_print_for_people() -> None:
    """A failure total summed from batch shares prints as 0.36, not 0.36000000000000004."""
    breaker = ag.CircuitBreaker(window=10, min_calls=10)
    seen: list[ag.BreakerEvent] = []
    breaker.add_listener(seen.append)
    for share in (0.1, 0.2, 0.06):
        breaker.acquire().failure(weight=share, duration=0.1 + 0.2)
    metrics = breaker.metrics
    assert metrics.failures != 0.36  # the float itself keeps full precision
    assert "failures=0.36," in repr(metrics)
    assert "window_failures=0.36," in str(metrics)
    assert "duration=0.3," in repr(seen[-1])


def test_outcome_latency_prints_for_people() -> None:
    """An Outcome's latency prints with six significant digits."""
    outcome = ag.Outcome("recs", "model", None, "model", 0, 0.1 + 0.2)
    assert repr(outcome) == ("Outcome(guard='recs', served_by='model', reason=None, "
                             "stage='model', rows_replaced=0, latency=0.3, error=None)")

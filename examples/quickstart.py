"""Wrap a model, break it, and watch the fallback and the circuit breaker.

Run: python examples/quickstart.py
"""

from __future__ import annotations

import numpy as np

import aiguard as ag
from aiguard.testing import FakeClock

rng = np.random.default_rng(7)
clock = FakeClock()  # the demo moves time by hand; in production leave clock= out
healthy = True


def model_predict(features: np.ndarray) -> np.ndarray:
    """The 'ML model': a click probability per row; it misbehaves when unhealthy."""
    if not healthy:
        raise ConnectionError("model server unreachable")
    scores = 1 / (1 + np.exp(-features.sum(axis=1)))
    scores[features[:, 0] > 2.5] = np.nan  # a few rows come out as NaN
    return scores


def popular_items(features: np.ndarray) -> np.ndarray:
    """The rule-based fallback: the base rate for everyone."""
    return np.full(len(features), 0.1)


breaker = ag.CircuitBreaker(failure_rate=0.5, window=10, min_calls=5, open_for=30, clock=clock)
recs = ag.Guard(
    name="recs",
    breaker=breaker,
    check=ag.checks.finite() & ag.checks.in_range(0, 1),
    fallback=popular_items,
    fallback_rows=True,
)


@recs
def recommend(features: np.ndarray) -> np.ndarray:
    """Score a batch of users."""
    return model_predict(features)


def show(step: str) -> None:
    """Print what the last call did."""
    out = recs.last_outcome
    assert out is not None
    print(
        f"{step:<34} served_by={out.served_by:<14} reason={out.reason!s:<8} "
        f"rows_replaced={out.rows_replaced:<3} breaker={breaker.state.name}"
    )


batch = rng.normal(size=(50, 3))
batch[:3, 0] = 3.0  # three users the model scores as NaN
recommend(batch)
show("1. healthy model, a few NaN rows")

healthy = False
for i in range(6):
    recommend(batch)
    show(f"2.{i} model server down")

clock.advance(30)
healthy = True
for i in range(5):
    recommend(batch)
    show(f"3.{i} after open_for: trial calls")

m = breaker.metrics
print(f"\nbreaker metrics: calls={m.calls} failures={m.failures:g} state={m.state.name}")

"""Assertion helpers: pass when the guard did what is claimed, explain when it did not."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

import aiguard as ag
from aiguard.testing import (
    Events,
    FakeClock,
    assert_breaker_state,
    assert_no_model_call,
    assert_reason,
    assert_served_by,
    inject,
)


class ModelDownError(Exception):
    """A model-side failure."""


def popular(x: Any) -> Any:
    """A rule-based fallback tier."""
    return np.zeros(len(x)) if isinstance(x, np.ndarray) else 0.0


def constant(x: Any) -> Any:
    """The last tier of a ladder."""
    return np.full(len(x), -1.0) if isinstance(x, np.ndarray) else -1.0


def test_served_by_model_fallback_and_tier() -> None:
    """'model', 'fallback' and a tier name match what the outcome says."""
    g = ag.Guard(name="recs", fallback=popular)

    @g
    def predict(x: Any) -> Any:
        return 1.0

    predict(1.0)
    assert assert_served_by(predict, "model").served_by == "model"
    with pytest.raises(AssertionError, match="expected the last call to be served by 'fallback'"):
        assert_served_by(g, "fallback")
    with inject(predict).raise_(ModelDownError):
        predict(1.0)
    assert_served_by(g, "fallback")
    assert_served_by(g, "popular")
    with pytest.raises(AssertionError, match=r"served_by='popular', reason='error'.*ModelDown"):
        assert_served_by(g, "model")
    with pytest.raises(AssertionError, match="by 'rules'"):
        assert_served_by(g, "rules")


def test_served_by_fallback_counts_replaced_rows() -> None:
    """A per-row fallback counts as 'fallback' and not as 'model'."""
    g = ag.Guard(name="recs", check=ag.checks.finite(), fallback=popular, fallback_rows=True)

    @g
    def predict(x: Any) -> Any:
        return np.ones(len(x))

    with inject(predict).nan(rows=0.25):
        out = predict(np.zeros((8, 2)))
    assert int((out == 0.0).sum()) == 2
    outcome = assert_served_by(predict, "fallback")
    assert (outcome.served_by, outcome.rows_replaced) == ("model", 2)
    with pytest.raises(AssertionError, match="rows_replaced=2"):
        assert_served_by(predict, "model")


def test_no_outcome_yet_is_explained() -> None:
    """Before any call the helper says why there is nothing to check."""
    g = ag.Guard(name="fresh")
    with pytest.raises(AssertionError, match="guard 'fresh' has no outcome in this thread or task"):
        assert_served_by(g, "model")


def test_targets_that_are_not_guards_are_refused() -> None:
    """A plain function is a configuration error, not a failed assertion."""
    with pytest.raises(ag.ConfigurationError, match="target must be a Guard"):
        assert_served_by(lambda: 0, "model")


def test_wrapped_object_is_a_valid_target() -> None:
    """aiguard.wrap objects resolve to their guard."""

    class Model:
        def predict(self, X: Any) -> Any:
            raise ModelDownError

    safe = ag.wrap(Model(), ag.Guard(name="clf", fallback=popular))
    safe.predict(np.zeros(3))
    assert_served_by(safe, "popular")
    assert_reason(safe, "error")


def test_assert_reason_and_stage() -> None:
    """The reason (and optionally the stage) must match."""
    g = ag.Guard(name="recs", check=ag.checks.finite(), fallback=popular)

    @g
    def predict(x: Any) -> Any:
        return np.ones(len(x))

    predict(np.zeros(2))
    assert_reason(predict, None)
    with inject(predict).nan():
        predict(np.zeros(2))
    assert assert_reason(predict, "invalid", stage="check").served_by == "popular"
    with pytest.raises(AssertionError, match=r"reason='invalid', stage='model'.*stage='check'"):
        assert_reason(predict, "invalid", stage="model")
    with pytest.raises(AssertionError, match="reason='error'"):
        assert_reason(predict, "error")


async def test_outcomes_are_per_task() -> None:
    """Each asyncio task checks its own last call."""
    g = ag.Guard(name="recs", fallback=popular)

    @g
    async def predict(x: float) -> float:
        if x < 0:
            raise ModelDownError
        return x

    async def call_and_check(x: float, expected: str) -> None:
        await predict(x)
        await asyncio.sleep(0)
        assert_served_by(g, expected)

    await asyncio.gather(call_and_check(1.0, "model"), call_and_check(-1.0, "fallback"))


def test_breaker_state_by_breaker_guard_and_function() -> None:
    """The state is read from a breaker, a guard's breaker, or a guarded function's."""
    clock = FakeClock()
    breaker = ag.CircuitBreaker(failure_rate=0.5, window=2, min_calls=2, open_for=10,
                                half_open_calls=1, clock=clock)
    g = ag.Guard(name="recs", breaker=breaker, fallback=popular)

    @g
    def predict(x: float) -> float:
        return x

    assert_breaker_state(breaker, ag.BreakerState.CLOSED)
    assert_breaker_state(g, "closed")
    with inject(predict).raise_(ModelDownError):
        predict(1.0)
        predict(1.0)
    assert_breaker_state(predict, "OPEN")
    assert_breaker_state(predict, "open")
    with pytest.raises(AssertionError, match="expected state 'closed', but it is 'open'"):
        assert_breaker_state(breaker, "closed")
    with assert_no_model_call(predict):
        assert predict(1.0) == 0.0
    clock.advance(10)
    predict(1.0)
    assert_breaker_state(breaker, "closed")
    breaker.force_open()
    assert_breaker_state(breaker, "forced-open")


def test_breaker_state_errors() -> None:
    """Unknown states and guards without a breaker are configuration errors."""
    breaker = ag.CircuitBreaker()
    with pytest.raises(ag.ConfigurationError, match="state must be a BreakerState"):
        assert_breaker_state(breaker, "ajar")
    with pytest.raises(ag.ConfigurationError, match="state must be"):
        assert_breaker_state(breaker, 3)  # type: ignore[arg-type]
    with pytest.raises(ag.ConfigurationError, match="or a guard configured with breaker="):
        assert_breaker_state(ag.Guard(name="plain"), "closed")


def test_no_model_call_passes_when_the_model_is_not_called() -> None:
    """A kill switch keeps the model out: the block passes and the model is restored."""
    calls: list[int] = []
    g = ag.Guard(name="recs", fallback=popular)

    @g
    def predict(x: float) -> float:
        calls.append(1)
        return x

    with assert_no_model_call(predict):
        pass
    assert predict(2.0) == 2.0
    assert calls == [1]


def test_no_model_call_fails_after_the_block_and_keeps_behaviour() -> None:
    """If the model is called, the model still answers and the block fails at its end."""
    g = ag.Guard(name="recs")

    @g
    def predict(x: float) -> float:
        return x * 3

    results = []
    with pytest.raises(AssertionError, match="predict was called 2 time"):
        with assert_no_model_call(predict):
            results.append(predict(1.0))
            results.append(predict(2.0))
    assert results == [3.0, 6.0]


def test_no_model_call_lets_the_blocks_own_error_through() -> None:
    """An exception inside the block propagates and the model is restored."""
    g = ag.Guard(name="recs")

    @g
    def predict(x: float) -> float:
        return x

    with pytest.raises(KeyError), assert_no_model_call(predict):
        predict(1.0)
        raise KeyError("mine")
    assert not hasattr(predict, "__aiguard_model__")


def test_no_model_call_on_a_model_object() -> None:
    """Model objects are spied on through their predict methods."""

    class Model:
        def predict(self, X: Any) -> Any:
            return X

    m = Model()
    with pytest.raises(AssertionError, match="called 1 time"), assert_no_model_call(m):
        m.predict(1)


def test_a_call_that_raises_leaves_an_outcome() -> None:
    """A model error with no fallback is an outcome too: reason 'error', seen by listeners."""
    g = ag.Guard(name="no-fallback")

    @g
    def predict(x: float) -> float:
        return x

    events = Events().watch(g)
    predict(1.0)
    with inject(predict).raise_(ModelDownError), pytest.raises(ModelDownError):
        predict(1.0)
    assert len(events.outcomes) == 2
    assert_reason(g, "error")
    assert_served_by(g, "raised")
    with pytest.raises(AssertionError, match="served_by='raised'"):
        assert_served_by(g, "model")
    with pytest.raises(AssertionError):
        assert_served_by(g, "fallback")


def test_a_rejection_without_fallback_leaves_an_outcome() -> None:
    """A rate-limited call with no fallback is an outcome: reason 'rate_limited'."""
    g = ag.Guard(name="limited", rate_limit=ag.RateLimit(1.0, burst=1, clock=FakeClock()))

    @g
    def predict(x: float) -> float:
        return x

    predict(1.0)
    with pytest.raises(ag.RateLimitedError):
        predict(1.0)
    assert_reason(g, "rate_limited", stage="rate_limit")

"""Outcomes that travel with results: call_with_outcome, acall_with_outcome, wrap async."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

import aiguard as ag
from aiguard.errors import ConfigurationError


class Model:
    """A model failing on inputs whose first value is negative; other rows echo back."""

    classes_ = (0, 1)

    def __init__(self) -> None:
        self.threads: set[int] = set()

    def predict(self, x: list[float]) -> list[float]:
        self.threads.add(threading.get_ident())
        if x[0] < 0:
            raise RuntimeError("model down")
        return list(x)

    def predict_proba(self, x: list[float]) -> list[float]:
        return [v / 10 for v in self.predict(x)]


def _guard() -> ag.Guard:
    return ag.Guard(name="clf", fallback=lambda x: [-1.0] * len(x))


def test_call_with_outcome_returns_result_and_own_outcome() -> None:
    """The pair says who served this call: the model, then the fallback."""
    g = _guard()
    safe = ag.wrap(Model(), g)
    result, outcome = g.call_with_outcome(safe.predict, [1.0, 2.0])
    assert result == [1.0, 2.0]
    assert outcome.served_by == "model"
    result, outcome = g.call_with_outcome(safe.predict, [-1.0])
    assert result == [-1.0]
    assert (outcome.served_by, outcome.reason) == ("fallback", "error")
    assert g.last_outcome == outcome


async def test_to_thread_with_call_with_outcome_gives_the_outcome_in_the_endpoint() -> None:
    """Handing call_with_outcome to a thread brings the outcome back; the bare method does not."""
    g = _guard()
    safe = ag.wrap(Model(), g)
    await asyncio.to_thread(safe.predict, [-1.0])
    assert g.last_outcome is None  # the problem: set in the worker's copied context
    result, outcome = await asyncio.to_thread(g.call_with_outcome, safe.predict, [-1.0])
    assert result == [-1.0]
    assert outcome.served_by == "fallback"


def test_call_with_outcome_refuses_functions_not_through_the_guard() -> None:
    """A function that never calls the guard, or an async one, is a ConfigurationError."""
    g = _guard()
    with pytest.raises(ConfigurationError, match="calling through guard 'clf'"):
        g.call_with_outcome(len, [1])

    async def coro(x: int) -> int:
        return x

    with pytest.raises(ConfigurationError, match="acall_with_outcome"):
        g.call_with_outcome(coro, 1)


def test_call_with_outcome_does_not_report_a_stale_outcome() -> None:
    """An earlier call's outcome is not reported for a function that skips the guard."""
    g = _guard()
    safe = ag.wrap(Model(), g)
    safe.predict([1.0])
    assert g.last_outcome is not None
    with pytest.raises(ConfigurationError):
        g.call_with_outcome(lambda x: x, [1.0])


def test_call_with_outcome_propagates_errors_and_keeps_the_outcome() -> None:
    """Without a fallback the model's error reaches the caller; last_outcome says 'raised'."""
    g = ag.Guard(name="bare")
    safe = ag.wrap(Model(), g)
    with pytest.raises(RuntimeError, match="model down"):
        g.call_with_outcome(safe.predict, [-1.0])
    assert g.last_outcome is not None
    assert g.last_outcome.served_by == "raised"


async def test_acall_with_outcome_awaits_async_functions_in_the_task() -> None:
    """An async guarded function is awaited in the caller's task, not in a thread."""
    g = _guard()
    caller = threading.get_ident()
    seen: list[int] = []

    @g
    async def predict(x: list[float]) -> list[float]:
        seen.append(threading.get_ident())
        if x[0] < 0:
            raise RuntimeError("down")
        return x

    result, outcome = await g.acall_with_outcome(predict, [-2.0])
    assert result == [-1.0]
    assert outcome.served_by == "fallback"
    assert seen == [caller]
    with pytest.raises(ConfigurationError):
        await g.acall_with_outcome(asyncio.sleep, 0)


async def test_acall_with_outcome_runs_sync_functions_off_the_loop() -> None:
    """A sync function runs in another thread; the awaiting task's last_outcome is set."""
    g = _guard()
    model = Model()
    safe = ag.wrap(model, g)
    result, outcome = await g.acall_with_outcome(safe.predict, [3.0])
    assert result == [3.0]
    assert outcome.served_by == "model"
    assert threading.get_ident() not in model.threads
    assert g.last_outcome == outcome
    with pytest.raises(ConfigurationError):
        await g.acall_with_outcome(lambda x: x, 1)


async def test_acall_with_outcome_raises_in_the_task_with_the_outcome_set() -> None:
    """The worker's exception is raised in the awaiting task, whose last_outcome says 'raised'."""
    g = ag.Guard(name="bare")
    safe = ag.wrap(Model(), g)
    with pytest.raises(RuntimeError, match="model down"):
        await g.acall_with_outcome(safe.predict, [-1.0])
    assert g.last_outcome is not None
    assert g.last_outcome.served_by == "raised"


async def test_wrap_async_methods_run_in_a_thread_and_set_last_outcome() -> None:
    """apredict / apredict_proba give the guarded result and set last_outcome in the task."""
    g = _guard()
    model = Model()
    safe = ag.wrap(model, g)
    assert await safe.apredict([2.0]) == [2.0]
    assert g.last_outcome is not None
    assert g.last_outcome.served_by == "model"
    assert await safe.apredict_proba([-5.0]) == [-1.0]
    assert g.last_outcome.served_by == "fallback"
    assert threading.get_ident() not in model.threads
    with pytest.raises(AttributeError, match="decision_function"):
        await safe.adecision_function([1.0])


async def test_wrap_adecision_function() -> None:
    """adecision_function runs the guarded decision_function."""

    class Scorer:
        def decision_function(self, x: list[float]) -> list[float]:
            return [2 * v for v in x]

    g = _guard()
    safe = ag.wrap(Scorer(), g)
    assert await safe.adecision_function([1.5]) == [3.0]
    assert g.last_outcome is not None
    assert g.last_outcome.served_by == "model"


async def test_300_concurrent_requests_each_get_their_own_outcome() -> None:
    """Under 300 concurrent requests, every request's outcome matches what its input caused."""
    g = _guard()
    safe = ag.wrap(Model(), g)
    rng = np.random.default_rng(7)
    inputs = [float(v) for v in rng.uniform(-1.0, 1.0, size=300)]

    async def endpoint_pair(v: float) -> tuple[float, str, str]:
        result, outcome = await g.acall_with_outcome(safe.predict, [v])
        return result[0], outcome.served_by, outcome.served_by

    async def endpoint_wrap(v: float) -> tuple[float, str, str]:
        result = await safe.apredict([v])
        await asyncio.sleep(0)  # let other requests finish in between
        outcome = g.last_outcome
        assert outcome is not None
        _, via_thread = await asyncio.to_thread(g.call_with_outcome, safe.predict, [v])
        return result[0], outcome.served_by, via_thread.served_by

    half = len(inputs) // 2
    answers = await asyncio.gather(
        *(endpoint_pair(v) for v in inputs[:half]),
        *(endpoint_wrap(v) for v in inputs[half:]),
    )
    for v, (result, served, served_again) in zip(inputs, answers, strict=True):
        expected = "fallback" if v < 0 else "model"
        assert served == expected == served_again
        assert result == (-1.0 if v < 0 else v)

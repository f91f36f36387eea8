"""Fallbacks across sync and async: every pairing of model and handler kinds."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
from typing import Any

import numpy as np
import pytest

from aiguard import checks, fallback
from aiguard._core._asyncbridge import run_sync
from aiguard.contain._ladder import Ladder
from aiguard.errors import FallbackFailedError

pytestmark = pytest.mark.filterwarnings("error")
NAN = float("nan")
REQUEST: contextvars.ContextVar[str] = contextvars.ContextVar("request", default="none")


class ModelDownError(Exception):
    pass


def sync_rules(x: float) -> float:
    return 0.25


async def async_rules(x: float) -> float:
    await asyncio.sleep(0)
    return 0.75


async def test_async_model_with_sync_handler() -> None:
    """An async model's failure is served by a plain function, called directly."""

    @fallback(sync_rules)
    async def predict(x: float) -> float:
        raise ModelDownError

    assert inspect.iscoroutinefunction(predict)
    assert await predict(1.0) == 0.25


async def test_async_model_with_async_handler_and_ladder() -> None:
    """Async tiers are awaited in order; a raising async tier moves the ladder on."""

    async def broken(x: float) -> float:
        raise ValueError

    @fallback(broken, async_rules, sync_rules)
    async def predict(x: float) -> float:
        raise ModelDownError

    assert await predict(1.0) == 0.75


async def test_async_model_check_failure_and_healthy_path() -> None:
    """Async models are checked like sync ones; a healthy answer is returned as is."""

    @fallback(async_rules, check=checks.finite())
    async def predict(x: float) -> float:
        return x

    assert await predict(0.5) == 0.5
    assert await predict(NAN) == 0.75


async def test_async_model_without_check_returns_its_result() -> None:
    """No check: the async model's answer passes straight through."""

    @fallback(async_rules)
    async def predict(x: float) -> float:
        return x * 2

    assert await predict(2.0) == 4.0


async def test_async_on_filtering() -> None:
    """Non-matching exceptions of an async model propagate unchanged."""
    original = KeyError("user")

    @fallback(async_rules, on=ModelDownError)
    async def predict(x: float) -> float:
        raise original

    with pytest.raises(KeyError) as info:
        await predict(1.0)
    assert info.value is original


async def test_async_cancellation_is_not_served() -> None:
    """CancelledError is a BaseException: it propagates through the fallback."""

    @fallback(async_rules)
    async def predict(x: float) -> float:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await predict(1.0)


async def test_async_rows() -> None:
    """Per-row replacement works for async models with sync and async tiers."""

    async def nan_tier(rows: np.ndarray) -> np.ndarray:
        return np.full(len(rows), NAN)

    seen: list[np.ndarray] = []

    async def async_fill(rows: np.ndarray) -> np.ndarray:
        seen.append(rows.copy())
        return rows[:, 0] * 10

    def offline(rows: np.ndarray) -> np.ndarray:
        raise ConnectionError

    @fallback(offline, nan_tier, async_fill, check=checks.finite(), rows=True)
    async def predict(batch: np.ndarray) -> np.ndarray:
        return np.array([1.0, NAN, 3.0])

    x = np.array([[1.0], [2.0], [3.0]])
    assert (await predict(x)).tolist() == [1.0, 20.0, 3.0]
    assert seen[0].tolist() == [[2.0]]


async def test_async_rows_after_error_and_whole_failures() -> None:
    """An async model that raises, or fails as a whole, sends the whole batch."""
    x = np.zeros((2, 1))

    @fallback(lambda rows: np.ones(len(rows)), check=checks.finite(), rows=True)
    async def raising(batch: np.ndarray) -> np.ndarray:
        raise ModelDownError

    @fallback(lambda rows: np.ones(len(rows)), check=checks.shape((None,)), rows=True)
    async def misshapen(batch: np.ndarray) -> np.ndarray:
        return np.zeros((2, 2))

    @fallback(lambda x: 1.0, check=checks.finite(), rows=True)
    async def scalar(x: float) -> float:
        if x < 0:
            raise ModelDownError
        return NAN

    assert (await raising(x)).tolist() == [1.0, 1.0]
    assert (await misshapen(x)).tolist() == [1.0, 1.0]
    assert await scalar(1.0) == 1.0
    assert await scalar(-1.0) == 1.0


async def test_async_ladder_failure_and_row_failure() -> None:
    """aserve and aserve_rows raise FallbackFailedError with the cause chained."""
    ladder = Ladder([async_rules], check=checks.in_range(0, 0.5))
    with pytest.raises(FallbackFailedError) as info:
        await ladder.aserve((1.0,), {}, cause=ModelDownError())
    assert isinstance(info.value.__cause__, ModelDownError)
    rows = Ladder([lambda r: np.full(len(r), NAN)], check=checks.finite())
    with pytest.raises(FallbackFailedError):
        await rows.aserve_rows(np.array([NAN]), np.array([False]), (np.zeros(1),), {})


async def test_aserve_rows_with_nothing_bad() -> None:
    """aserve_rows returns the model output untouched when every row is fine."""
    out = np.ones(2)
    ladder = Ladder([async_rules], check=None)
    assert await ladder.aserve_rows(out, True, (np.zeros(2),), {}) == (out, "model", 0)


def test_sync_model_with_async_handler_without_a_loop() -> None:
    """From plain sync code an async handler runs on a private loop."""

    @fallback(async_rules)
    def predict(x: float) -> float:
        raise ModelDownError

    assert predict(1.0) == 0.75
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


async def test_sync_model_with_async_handler_inside_a_running_loop() -> None:
    """Called from async code, the async handler runs in a helper thread, context copied."""
    threads: list[str] = []

    async def handler(x: float) -> str:
        threads.append(threading.current_thread().name)
        return REQUEST.get()

    @fallback(handler)
    def predict(x: float) -> str:
        raise ModelDownError

    REQUEST.set("req-42")
    assert predict(1.0) == "req-42"
    assert threads == ["aiguard-async-handler"]


async def test_helper_thread_propagates_handler_errors() -> None:
    """An async handler raising inside the helper thread reaches the ladder."""

    async def broken(x: float) -> float:
        raise ValueError("handler broken")

    @fallback(broken, sync_rules)
    def predict(x: float) -> float:
        raise ModelDownError

    assert predict(1.0) == 0.25
    with pytest.raises(ValueError, match="handler broken"):
        run_sync(broken, 1.0)


def test_async_partials_and_async_callables_are_detected() -> None:
    """A partial of an async function and an object with async __call__ are awaited."""

    class AsyncConstant:
        async def __call__(self, x: float) -> float:
            return 0.5

    async def scaled(x: float, factor: float) -> float:
        return x * factor

    ladder = Ladder([functools.partial(scaled, factor=3.0)], check=None)
    assert ladder.serve((2.0,), {}) == (6.0, "fallback")
    assert Ladder([AsyncConstant()], check=None).serve((1.0,), {}) == (0.5, "fallback")


async def test_aserve_calls_sync_tiers_directly() -> None:
    """aserve mixes sync and async tiers, returning the tier name."""
    ladder = Ladder([sync_rules, async_rules], check=checks.in_range(0.5, 1))
    assert await ladder.aserve((1.0,), {}) == (0.75, "async_rules")


def test_async_tier_in_sync_rows_mode() -> None:
    """serve_rows runs async tiers through the bridge."""

    async def fill(rows: np.ndarray) -> np.ndarray:
        return np.zeros(len(rows))

    ladder = Ladder([fill], check=checks.finite())
    merged, tier, n = ladder.serve_rows(np.array([NAN, 1.0]), np.array([False, True]),
                                        (np.zeros(2),), {})  # fmt: skip
    assert (merged.tolist(), tier, n) == ([0.0, 1.0], "fill", 1)


def test_bridge_passes_arguments() -> None:
    """run_sync forwards positional and keyword arguments."""

    async def combine(a: int, *, b: int) -> Any:
        return (a, b)

    assert run_sync(combine, 1, b=2) == (1, 2)

"""Fault matrix: every fault kind x sync/async x with/without a fallback.

With a fallback no exception escapes and ``last_outcome`` names the stage
that decided; without one the caller gets the documented behaviour: the
model's own exception, a typed ``AiguardError``, or (for an output that fails
its check) the output itself reported as ``reason="invalid"``.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import numpy as np
import pytest

import aiguard as ag
from aiguard.testing import Injector, assert_reason, assert_served_by, inject


class ModelServerError(Exception):
    """The model server is down (a model-side exception, not aiguard's)."""


ROWS = 16
X = np.arange(ROWS * 3, dtype=float).reshape(ROWS, 3)
HEALTHY = X.sum(axis=1) / 100.0


def popular_items(x: Any) -> Any:
    """A rule-based fallback: -1, -2, ... per row (not constant, so it passes every check)."""
    return -1.0 - np.arange(len(x), dtype=float)


SERVED = popular_items(np.zeros(ROWS)).tolist()


# kind -> (guard keywords, how to add the fault, expected (reason, stage) of the outcome)
CASES: dict[str, tuple[dict[str, Any], Any, tuple[str | None, str]]] = {
    "raise": ({}, lambda inj: inj.raise_(ModelServerError, rate=1.0), ("error", "model")),
    "latency": ({"timeout": 0.02}, lambda inj: inj.latency(0.3, rate=1.0), ("timeout", "timeout")),
    "nan": ({"check": ag.checks.finite()}, lambda inj: inj.nan(rate=1.0, rows=0.25),
            ("invalid", "check")),
    "constant": ({"check": ag.checks.not_constant()}, lambda inj: inj.constant(0.5),
                 ("invalid", "check")),
    "drift": ({}, lambda inj: inj.drift(100.0, features=[0]), (None, "model")),
}


def build(kind: str, *, is_async: bool, with_fallback: bool) -> tuple[ag.Guard, Any, list[Any]]:
    """A guard configured for *kind*, a model behind it, and the inputs the model saw."""
    config, _, _ = CASES[kind]
    g = ag.Guard(name=f"{kind}-{is_async}-{with_fallback}",
                 fallback=popular_items if with_fallback else None, **config)
    seen: list[Any] = []
    if is_async:
        @g
        async def model(x: Any) -> Any:
            seen.append(x)
            await asyncio.sleep(0)
            return np.asarray(x).sum(axis=1) / 100.0
    else:
        @g
        def model(x: Any) -> Any:
            seen.append(x)
            return np.asarray(x).sum(axis=1) / 100.0
    return g, model, seen


async def call(model: Any, x: Any) -> Any:
    """Call a sync or async guarded model."""
    result = model(x)
    return await result if inspect.isawaitable(result) else result


KINDS = sorted(CASES)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("kind", KINDS)
async def test_with_a_fallback_nothing_escapes(kind: str, is_async: bool) -> None:
    """With a fallback the call answers and the outcome names the deciding stage."""
    g, model, seen = build(kind, is_async=is_async, with_fallback=True)
    _, add_fault, (reason, stage) = CASES[kind]
    with add_fault(inject(model, seed=4)) as inj:
        result = await call(model, X)
    assert inj.injected == 1
    assert_reason(g, reason, stage=stage)
    if kind == "drift":
        assert_served_by(g, "model")
        assert seen[-1][:, 0].tolist() == (X[:, 0] + 100.0).tolist()
        assert result == pytest.approx(HEALTHY + 1.0)
    else:
        assert_served_by(g, "popular_items")
        assert result.tolist() == SERVED
    # once the injector is gone the model serves again
    assert (await call(model, X)).tolist() == HEALTHY.tolist()
    assert_served_by(g, "model")


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("kind", KINDS)
async def test_without_a_fallback_the_documented_error(kind: str, is_async: bool) -> None:
    """Without a fallback: the model's exception, a typed AiguardError, or the reported output."""
    g, model, seen = build(kind, is_async=is_async, with_fallback=False)
    _, add_fault, (reason, stage) = CASES[kind]
    expected_error = {"raise": ModelServerError, "latency": ag.GuardTimeoutError}.get(kind)
    with add_fault(inject(model, seed=4)):
        if expected_error is not None:
            with pytest.raises(expected_error) as info:
                await call(model, X)
            if kind == "latency":  # aiguard's own error: typed
                assert isinstance(info.value, ag.AiguardError)
            return
        result = await call(model, X)
    assert kind in {"nan", "constant", "drift"}
    assert_reason(g, reason, stage=stage)
    assert_served_by(g, "model")
    if kind == "nan":
        assert int(np.isnan(result).sum()) == ROWS // 4
    elif kind == "constant":
        assert result.tolist() == [0.5] * ROWS
    else:
        assert seen[-1][:, 0].tolist() == (X[:, 0] + 100.0).tolist()


def test_the_matrix_covers_every_fault_kind() -> None:
    """Every fault method of the injector has a row in the matrix."""
    methods = {"raise_": "raise", "latency": "latency", "nan": "nan", "constant": "constant",
               "drift": "drift"}
    public = {name for name in dir(Injector) if not name.startswith("_")}
    assert set(methods) <= public
    assert set(methods.values()) == set(CASES)


def test_timeout_error_names_the_guard() -> None:
    """A timeout raised through a guard names the guard, like every other rejection."""
    g, model, _ = build("latency", is_async=False, with_fallback=False)
    with inject(model).latency(0.3), pytest.raises(ag.GuardTimeoutError) as info:
        model(X)
    assert info.value.guard == g.name

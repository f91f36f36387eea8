"""The Guard pipeline: which stage decides, who serves, what is recorded.

Every scenario taking the ``shell`` fixture runs through the sync and the
async shell (the parity suite); the few left are about one shell only
(threads blocking in the model, the decorated function's identity) and have
their twin for the other shell.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import threading
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

import aiguard as ag
from aiguard.testing import FakeClock

if TYPE_CHECKING:
    from collections.abc import Callable


class ModelDownError(Exception):
    """A model-side failure used in these tests."""


def popular(x: Any, *_: Any) -> Any:
    """A rule-based fallback: a constant answer per row (extra arguments ignored)."""
    return np.zeros(len(x)) if isinstance(x, np.ndarray) else 0.0


def make_breaker(clock: FakeClock, **kw: Any) -> ag.CircuitBreaker:
    params: dict[str, Any] = {"failure_rate": 0.5, "window": 4, "min_calls": 4, "open_for": 30.0}
    params.update(kw)
    return ag.CircuitBreaker(clock=clock, **params)


class Shell:
    """Runs one Guard scenario through the sync or the async shell (the parity suite).

    ``@shell(guard)`` on a plain model function guards it as written (sync),
    or as an ``async def`` doing the same (async), and returns a plain
    callable; for the async shell each call runs the coroutine to completion
    on a fresh event loop and carries the context variables it set
    (``last_outcome``, ``last_attempts``) back to the caller, as a sync call does.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __call__(self, guard: ag.Guard) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            if self.kind == "sync":
                return guard(fn)

            @functools.wraps(fn)
            async def model(*a: Any, **k: Any) -> Any:
                return fn(*a, **k)

            guarded = guard(model)

            @functools.wraps(fn)
            def run(*a: Any, **k: Any) -> Any:
                seen: dict[contextvars.ContextVar[Any], Any] = {}

                async def main() -> Any:
                    try:
                        return await guarded(*a, **k)
                    finally:
                        seen.update(contextvars.copy_context().items())

                try:
                    return asyncio.run(main())
                finally:
                    for var, value in seen.items():
                        var.set(value)

            return run

        return decorate


@pytest.fixture(params=["sync", "async"])
def shell(request: pytest.FixtureRequest) -> Shell:
    """Every scenario taking this fixture runs once per shell."""
    return Shell(request.param)



def test_model_answer_is_returned_and_timed(shell: Shell) -> None:
    """A healthy model serves; the outcome reports model, no reason, the clock's latency."""
    clock = FakeClock()
    g = ag.Guard(name="recs", fallback=popular, clock=clock)

    @shell(g)
    def predict(x: float) -> float:
        clock.advance(0.25)
        return x * 2

    assert predict(2.0) == 4.0
    out = g.last_outcome
    assert out is not None
    assert (out.served_by, out.reason, out.stage, out.rows_replaced) == ("model", None, "model", 0)
    assert out.latency == pytest.approx(0.25)
    assert out.fallback is False


def test_last_outcome_is_none_before_any_call() -> None:
    """A fresh guard has no outcome yet."""
    assert ag.Guard().last_outcome is None


def test_model_error_is_served_by_fallback(shell: Shell) -> None:
    """An exception from the model is answered by the fallback, reason 'error'."""
    g = ag.Guard(name="recs", fallback=popular)

    @shell(g)
    def predict(x: float) -> float:
        raise ModelDownError

    assert predict(1.0) == 0.0
    out = g.last_outcome
    assert out is not None
    assert (out.served_by, out.reason, out.stage) == ("popular", "error", "model")
    assert isinstance(out.error, ModelDownError)
    assert out.fallback is True


def test_without_fallback_the_model_error_propagates_unchanged(shell: Shell) -> None:
    """No fallback: the model's own exception object reaches the caller."""
    err = ModelDownError("boom")
    g = ag.Guard()

    @shell(g)
    def predict() -> None:
        raise err

    with pytest.raises(ModelDownError) as info:
        predict()
    assert info.value is err


def test_fallback_on_filters_exceptions(shell: Shell) -> None:
    """Only exceptions matching fallback_on are served; others propagate."""
    g = ag.Guard(fallback=popular, fallback_on=(ModelDownError,))

    @shell(g)
    def predict(x: float, exc: type[Exception]) -> float:
        raise exc

    assert predict(1.0, ModelDownError) == 0.0
    with pytest.raises(KeyError):
        predict(1.0, KeyError)


def test_fallback_on_accepts_predicates(shell: Shell) -> None:
    """A predicate in fallback_on decides per exception."""
    g = ag.Guard(fallback=popular, fallback_on=lambda e: "transient" in str(e))

    @shell(g)
    def predict(x: float, msg: str) -> float:
        raise RuntimeError(msg)

    assert predict(1.0, "transient glitch") == 0.0
    with pytest.raises(RuntimeError, match="fatal"):
        predict(1.0, "fatal")


def test_breaker_opens_and_fallback_serves_without_calling_the_model(shell: Shell) -> None:
    """After enough failures the breaker opens: the model is skipped, reason 'open'."""
    clock = FakeClock()
    breaker = make_breaker(clock)
    g = ag.Guard(name="recs", breaker=breaker, fallback=popular)
    calls = []

    @shell(g)
    def predict(x: float) -> float:
        calls.append(x)
        raise ModelDownError

    for i in range(4):
        predict(float(i))
    assert breaker.state is ag.BreakerState.OPEN
    assert predict(9.0) == 0.0
    assert calls == [0.0, 1.0, 2.0, 3.0]
    out = g.last_outcome
    assert out is not None
    assert (out.reason, out.stage) == ("open", "breaker")
    assert isinstance(out.error, ag.CircuitOpenError)


def test_open_breaker_without_fallback_raises_circuit_open_error(shell: Shell) -> None:
    """No fallback: an open breaker raises CircuitOpenError naming the breaker."""
    clock = FakeClock()
    breaker = make_breaker(clock, name="recs-breaker")
    breaker.force_open()
    g = ag.Guard(breaker=breaker)

    @shell(g)
    def predict() -> int:
        return 1

    with pytest.raises(ag.CircuitOpenError) as info:
        predict()
    assert isinstance(info.value, RuntimeError)
    assert info.value.guard == "recs-breaker"


def test_failed_check_is_a_failure_for_the_breaker_and_served_by_fallback(shell: Shell) -> None:
    """A scalar output failing the check is 'invalid', counts as a failure, and falls back."""
    clock = FakeClock()
    breaker = make_breaker(clock)
    g = ag.Guard(breaker=breaker, check=ag.checks.finite(), fallback=popular)

    @shell(g)
    def predict(x: float) -> float:
        return float("nan")

    for _ in range(4):
        assert predict(1.0) == 0.0
    out = g.last_outcome
    assert out is not None
    assert (out.served_by, out.reason, out.stage) == ("popular", "invalid", "check")
    assert breaker.state is ag.BreakerState.OPEN


def test_failed_check_without_fallback_returns_the_output_and_reports_it(shell: Shell) -> None:
    """No fallback: the model's output is returned as-is and the outcome says invalid."""
    g = ag.Guard(check=ag.checks.in_range(0, 1))

    @shell(g)
    def predict() -> float:
        return 7.0

    assert predict() == 7.0
    out = g.last_outcome
    assert out is not None
    assert (out.served_by, out.reason) == ("model", "invalid")


def test_per_row_fallback_replaces_only_bad_rows(shell: Shell) -> None:
    """fallback_rows: only NaN rows are recomputed, on just those rows, merged in order."""
    seen: list[np.ndarray] = []

    def rules(x: np.ndarray) -> np.ndarray:
        seen.append(x.copy())
        return -x[:, 0]

    g = ag.Guard(check=ag.checks.finite(), fallback=rules, fallback_rows=True)

    @shell(g)
    def predict(x: np.ndarray) -> np.ndarray:
        out = x[:, 0] * 10.0
        out[[1, 3]] = np.nan
        return out

    x = np.arange(10.0).reshape(5, 2)
    result = predict(x)
    expected = x[:, 0] * 10.0
    expected[[1, 3]] = -x[[1, 3], 0]
    np.testing.assert_array_equal(result, expected)
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], x[[1, 3]])
    out = g.last_outcome
    assert out is not None
    assert (out.served_by, out.reason, out.rows_replaced) == ("model", "invalid", 2)
    assert out.fallback is True


def test_partial_bad_batch_weighs_its_bad_share_on_the_breaker(shell: Shell) -> None:
    """A batch with 30% bad rows adds 0.3 failures to the breaker's window."""
    clock = FakeClock()
    breaker = ag.CircuitBreaker(window=10, min_calls=10, clock=clock)
    g = ag.Guard(breaker=breaker, check=ag.checks.finite(), fallback=popular, fallback_rows=True)

    @shell(g)
    def predict(x: np.ndarray) -> np.ndarray:
        out = np.ones(len(x))
        out[:3] = np.nan
        return out

    predict(np.zeros((10, 1)))
    assert breaker.metrics.failures == pytest.approx(0.3)


def test_kill_switch_off_skips_the_model(shell: Shell) -> None:
    """A switched-off feature is served by the fallback, reason 'disabled'."""
    flags = ag.Flags()
    flags.set("recs.personalized", on=False, reason="drill", actor="test")
    g = ag.Guard(kill_switch="recs.personalized", flags=flags, fallback=popular)
    calls = []

    @shell(g)
    def predict(x: float) -> float:
        calls.append(x)
        return x

    assert predict(3.0) == 0.0
    assert calls == []
    out = g.last_outcome
    assert out is not None
    assert (out.reason, out.stage) == ("disabled", "kill_switch")
    flags.set("recs.personalized", on=True)
    assert predict(3.0) == 3.0


def test_kill_switch_without_fallback_raises_feature_disabled(shell: Shell) -> None:
    """No fallback: FeatureDisabledError names the flag and the guard."""
    flags = ag.Flags()
    flags.set("recs", on=False)
    g = ag.Guard(name="g", kill_switch="recs", flags=flags)

    @shell(g)
    def predict() -> int:
        return 1

    with pytest.raises(ag.FeatureDisabledError) as info:
        predict()
    assert (info.value.flag, info.value.guard) == ("recs", "g")


def test_rate_limit_sheds_excess_calls(shell: Shell) -> None:
    """Past the burst, calls are shed to the fallback; without one, RateLimitedError."""
    clock = FakeClock()
    shed = ag.Guard(rate_limit=ag.RateLimit(2, per=1.0, clock=clock), fallback=popular)
    strict = ag.Guard(name="strict", rate_limit=ag.RateLimit(1, per=1.0, clock=clock))

    @shell(shed)
    def predict(x: float) -> float:
        return x

    @shell(strict)
    def predict_strict(x: float) -> float:
        return x

    assert [predict(1.0), predict(1.0), predict(1.0)] == [1.0, 1.0, 0.0]
    out = shed.last_outcome
    assert out is not None
    assert (out.reason, out.stage) == ("rate_limited", "rate_limit")
    assert predict_strict(1.0) == 1.0
    with pytest.raises(ag.RateLimitedError) as info:
        predict_strict(1.0)
    assert info.value.retry_at == pytest.approx(1.0)
    clock.advance(1.0)
    assert predict_strict(1.0) == 1.0


def test_bulkhead_full_sheds() -> None:
    """When every bulkhead slot is busy, the next call is shed."""
    inside = threading.Event()
    release = threading.Event()
    g = ag.Guard(bulkhead=1, fallback=popular)

    @g
    def predict(x: float) -> float:
        inside.set()
        release.wait(5)
        return x

    results: list[float] = []
    t = threading.Thread(target=lambda: results.append(predict(1.0)))
    t.start()
    assert inside.wait(5)
    assert predict(2.0) == 0.0
    out = g.last_outcome
    assert out is not None
    assert (out.reason, out.stage) == ("bulkhead_full", "bulkhead")
    release.set()
    t.join()
    assert results == [1.0]


def test_timeout_falls_back_and_counts_as_failure() -> None:
    """A model slower than the timeout is abandoned: reason 'timeout', a breaker failure."""
    release = threading.Event()
    breaker = ag.CircuitBreaker(window=2, min_calls=1, failure_rate=1.0)
    g = ag.Guard(timeout=0.05, breaker=breaker, fallback=popular)

    @g
    def predict(x: float) -> float:
        release.wait(5)
        return x

    try:
        assert predict(1.0) == 0.0
    finally:
        release.set()
    out = g.last_outcome
    assert out is not None
    assert (out.reason, out.stage) == ("timeout", "timeout")
    assert isinstance(out.error, ag.GuardTimeoutError)
    assert breaker.state is ag.BreakerState.OPEN


def test_retry_recovers_a_transient_failure(shell: Shell) -> None:
    """A transient failure is retried inside the guard; the model serves."""
    clock = FakeClock()
    attempts = []
    g = ag.Guard(retry=ag.retry(attempts=3, clock=clock), fallback=popular)

    @shell(g)
    def predict(x: float) -> float:
        attempts.append(x)
        if len(attempts) < 2:
            raise ModelDownError
        return x

    assert predict(5.0) == 5.0
    assert len(attempts) == 2
    out = g.last_outcome
    assert out is not None
    assert out.served_by == "model"


def test_ladder_tiers_in_order(shell: Shell) -> None:
    """A failing first tier hands over to the next; served_by names the tier."""

    def yesterday(x: float) -> float:
        raise ModelDownError

    def rules(x: float) -> float:
        return -1.0

    g = ag.Guard(fallback=[yesterday, rules])

    @shell(g)
    def predict(x: float) -> float:
        raise ModelDownError

    assert predict(1.0) == -1.0
    out = g.last_outcome
    assert out is not None
    assert out.served_by == "rules"


def test_every_tier_failing_raises_fallback_failed(shell: Shell) -> None:
    """When no tier can answer, FallbackFailedError carries what each tier did."""

    def broken(x: float) -> float:
        raise ModelDownError("tier")

    g = ag.Guard(fallback=broken)

    @shell(g)
    def predict(x: float) -> float:
        raise ModelDownError("model")

    with pytest.raises(ag.FallbackFailedError) as info:
        predict(1.0)
    assert len(info.value.errors) == 1


def test_breaker_failure_result_judges_outputs(shell: Shell) -> None:
    """The breaker's own failure_result weighs in even without a guard check."""
    clock = FakeClock()
    breaker = make_breaker(clock, failure_result=lambda r: r < 0)
    g = ag.Guard(breaker=breaker, fallback=popular)

    @shell(g)
    def predict(x: float) -> float:
        return -1.0

    for _ in range(4):
        predict(1.0)
    assert breaker.state is ag.BreakerState.OPEN


def test_check_that_crashes_counts_as_invalid_and_is_logged_once(
    caplog: pytest.LogCaptureFixture, shell: Shell,
) -> None:
    """A check that raises never breaks the call: the output is treated as invalid."""

    def crash(result: Any) -> bool:
        if result == 1.0:  # the model's answer; the fallback's 0.0 passes
            raise ZeroDivisionError
        return True

    g = ag.Guard(name="crashy-check", check=ag.checks.custom(crash), fallback=popular)

    @shell(g)
    def predict(x: float) -> float:
        return x

    with caplog.at_level(logging.WARNING, logger="aiguard"):
        assert predict(1.0) == 0.0
        assert predict(1.0) == 0.0
    out = g.last_outcome
    assert out is not None
    assert out.reason == "invalid"
    assert len([r for r in caplog.records if "could not judge" in r.getMessage()]) <= 1


def test_listeners_see_every_outcome_and_cannot_break_the_call(
    caplog: pytest.LogCaptureFixture, shell: Shell,
) -> None:
    """Listeners get Outcome objects; one that raises is isolated and logged once."""
    g = ag.Guard(name="listener-isolation", fallback=popular)
    seen: list[ag.Outcome] = []

    def bad(_: ag.Outcome) -> None:
        raise RuntimeError("listener bug")

    g.add_listener(bad)
    g.add_listener(seen.append)

    @shell(g)
    def predict(x: float) -> float:
        if x < 0:
            raise ModelDownError
        return x

    with caplog.at_level(logging.WARNING, logger="aiguard"):
        assert predict(1.0) == 1.0
        assert predict(-1.0) == 0.0
    assert [(o.served_by, o.reason) for o in seen] == [("model", None), ("popular", "error")]
    assert len([r for r in caplog.records if "listener of guard" in r.getMessage()]) == 1
    g.remove_listener(seen.append)
    predict(1.0)
    assert len(seen) == 2


def test_last_outcome_is_per_thread() -> None:
    """Each thread reads the outcome of its own last call."""
    g = ag.Guard(fallback=popular)

    @g
    def predict(x: float) -> float:
        if x < 0:
            raise ModelDownError
        return x

    barrier = threading.Barrier(2)
    seen: dict[str, str | None] = {}

    def run(label: str, x: float) -> None:
        predict(x)
        barrier.wait()
        out = g.last_outcome
        seen[label] = None if out is None else out.reason

    threads = [threading.Thread(target=run, args=("ok", 1.0)),
               threading.Thread(target=run, args=("bad", -1.0))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"ok": None, "bad": "error"}


async def test_async_model_error_and_per_task_outcomes() -> None:
    """Async models: fallback serves, and each task sees its own outcome."""
    g = ag.Guard(name="a", fallback=popular)

    @g
    async def predict(x: float) -> float:
        await asyncio.sleep(0)
        if x < 0:
            raise ModelDownError
        return x

    async def call(x: float) -> tuple[float, str | None]:
        value = await predict(x)
        out = g.last_outcome
        assert out is not None
        return value, out.reason

    results = await asyncio.gather(call(1.0), call(-1.0), call(2.0))
    assert results == [(1.0, None), (0.0, "error"), (2.0, None)]


async def test_async_full_pipeline() -> None:
    """Async: kill switch, breaker, check, per-row fallback all behave like sync."""
    clock = FakeClock()
    flags = ag.Flags()
    breaker = make_breaker(clock)
    g = ag.Guard(kill_switch="f", flags=flags, breaker=breaker, check=ag.checks.finite(),
                 fallback=lambda x: np.full(len(x), -1.0), fallback_rows=True, clock=clock)

    @g
    async def predict(x: np.ndarray) -> np.ndarray:
        out = x[:, 0].copy()
        out[0] = np.nan
        return out

    x = np.ones((4, 2))
    np.testing.assert_array_equal(await predict(x), [-1.0, 1.0, 1.0, 1.0])
    out = g.last_outcome
    assert out is not None
    assert out.rows_replaced == 1
    flags.set("f", on=False)
    np.testing.assert_array_equal(await predict(x), [-1.0] * 4)
    out = g.last_outcome
    assert out is not None
    assert out.reason == "disabled"


async def test_async_timeout_and_rejections() -> None:
    """Async: a slow model times out; an open breaker and a full bulkhead shed."""
    breaker = ag.CircuitBreaker(window=2, min_calls=1, failure_rate=1.0)
    g = ag.Guard(timeout=0.02, breaker=breaker, fallback=popular)

    @g
    async def slow(x: float) -> float:
        await asyncio.sleep(5)
        return x

    assert await slow(1.0) == 0.0
    out = g.last_outcome
    assert out is not None
    assert out.reason == "timeout"
    assert await slow(1.0) == 0.0
    out = g.last_outcome
    assert out is not None
    assert out.reason == "open"

    strict = ag.Guard(bulkhead=ag.Bulkhead(1))
    gate = asyncio.Event()

    @strict
    async def held(x: float) -> float:
        await gate.wait()
        return x

    task = asyncio.create_task(held(1.0))
    await asyncio.sleep(0)
    with pytest.raises(ag.BulkheadFullError):
        await held(2.0)
    gate.set()
    assert await task == 1.0


async def test_async_without_fallback_propagates_and_rate_limits() -> None:
    """Async: the model's error propagates; the rate limit raises RateLimitedError."""
    clock = FakeClock()
    g = ag.Guard(rate_limit=ag.RateLimit(1, clock=clock))

    @g
    async def predict(x: float) -> float:
        raise ModelDownError

    with pytest.raises(ModelDownError):
        await predict(1.0)
    with pytest.raises(ag.RateLimitedError):
        await predict(1.0)


async def test_async_invalid_whole_result_and_retry() -> None:
    """Async: a failed scalar check falls back whole; retries recover transients."""
    clock = FakeClock()
    attempts: list[int] = []
    g = ag.Guard(check=ag.checks.in_range(0, 1), fallback=popular,
                 retry=ag.retry(attempts=2, clock=clock))

    @g
    async def predict(x: float) -> float:
        attempts.append(1)
        if len(attempts) == 1:
            raise ModelDownError
        return x

    assert await predict(5.0) == 0.0
    out = g.last_outcome
    assert out is not None
    assert (out.reason, out.stage) == ("invalid", "check")
    assert len(attempts) == 2


def test_decorated_function_keeps_its_identity() -> None:
    """The wrapper keeps name, docstring and __wrapped__; async stays a coroutine function."""
    g = ag.Guard()

    def predict(x: float) -> float:
        """Predict."""
        return x

    async def apredict(x: float) -> float:
        return x

    wrapped = g(predict)
    assert wrapped.__name__ == "predict"
    assert wrapped.__doc__ == "Predict."
    assert wrapped.__wrapped__ is predict  # type: ignore[attr-defined]
    assert asyncio.iscoroutinefunction(g(apredict))


def test_configuration_errors_name_the_argument() -> None:
    """Every bad keyword gives a ConfigurationError naming it."""
    cases: list[tuple[dict[str, Any], str]] = [
        ({"name": ""}, "name must be a non-empty string"),
        ({"kill_switch": "x"}, "flags must be a Flags object when kill_switch is set"),
        ({"kill_switch": 3, "flags": ag.Flags()}, "kill_switch must be a flag name"),
        ({"flags": object()}, "flags must be a Flags object"),
        ({"breaker": "b"}, "breaker must be a CircuitBreaker"),
        ({"fallback_rows": 1}, "fallback_rows must be a bool"),
        ({"fallback_rows": True, "fallback": popular}, "fallback_rows must be used with"),
        ({"fallback": []}, "fallback must be a callable or a non-empty sequence"),
        ({"fallback": [popular, 3]}, "fallback must be a callable or a non-empty sequence"),
        ({"fallback_on": 3}, "fallback_on must be an exception type, a predicate"),
        ({"timeout": -1}, "timeout must be"),
        ({"timeout": "fast"}, "timeout must be"),
        ({"rate_limit": -5}, "rate"),
        ({"bulkhead": 0}, "bulkhead must be a Bulkhead or a maximum number"),
        ({"clock": 3}, "clock must be a callable"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ag.ConfigurationError, match=message):
            ag.Guard(**kwargs)
    with pytest.raises(ag.ConfigurationError, match="fn must be a callable"):
        ag.Guard()(3)  # type: ignore[arg-type]
    with pytest.raises(ag.ConfigurationError, match="listener must be a callable"):
        ag.Guard().add_listener(3)  # type: ignore[arg-type]


def test_shorthands_build_the_stage_objects() -> None:
    """Numbers and timedeltas are accepted where a stage object is expected."""
    from datetime import timedelta

    g = ag.Guard(rate_limit=100, bulkhead=4, timeout=timedelta(milliseconds=250), retry=2,
                 hedge=0.05, check=lambda r: r is not None, fallback=[popular])
    c = g.config
    assert isinstance(c.rate_limit, ag.RateLimit)
    assert isinstance(c.bulkhead, ag.Bulkhead)
    assert c.timeout.seconds == pytest.approx(0.25)
    text = repr(g)
    for part in ("rate_limit=", "bulkhead=", "timeout=", "retry=", "hedge=", "check=",
                 "fallback=['popular']"):
        assert part in text


def test_guard_function_forms() -> None:
    """@guard with and without arguments both guard the function."""

    @ag.guard
    def plain(x: float) -> float:
        return x

    @ag.guard(name="scores", fallback=lambda x: 0.5)
    def scored(x: float) -> float:
        return 1 / x

    assert plain(2.0) == 2.0
    assert plain.__aiguard_guard__.name == "plain"  # type: ignore[attr-defined]
    assert scored(0.0) == 0.5


def test_wrap_guards_predict_methods_and_passes_other_attributes() -> None:
    """wrap() guards predict/predict_proba and forwards everything else."""

    class Model:
        classes_ = (0, 1)

        def predict(self, X: np.ndarray) -> np.ndarray:
            raise ModelDownError

        def predict_proba(self, X: np.ndarray) -> np.ndarray:
            return np.full((len(X), 2), 0.5)

    g = ag.Guard(name="clf", fallback=lambda X: np.zeros(len(X)))
    safe = ag.wrap(Model(), g)
    X = np.ones((3, 2))
    np.testing.assert_array_equal(safe.predict(X), np.zeros(3))
    assert safe.classes_ == (0, 1)
    assert safe.guard is g
    assert isinstance(safe.model, Model)
    assert not hasattr(safe, "decision_function")
    assert "wrap(" in repr(safe)
    with pytest.raises(ag.ConfigurationError, match="model must be an object with predict"):
        ag.wrap(object(), g)
    with pytest.raises(ag.ConfigurationError, match="guard must be a Guard"):
        ag.wrap(Model(), "g")  # type: ignore[arg-type]


def test_set_model_hook_swaps_the_inner_call() -> None:
    """The fault-injection hook replaces the model inside the guard, before the check."""
    g = ag.Guard(check=ag.checks.finite(), fallback=popular, retry=2)

    @g
    def predict(x: float) -> float:
        return x

    predict.__aiguard_set_model__(lambda x: float("nan"))  # type: ignore[attr-defined]
    assert predict(1.0) == 0.0
    predict.__aiguard_set_model__(predict.__wrapped__)  # type: ignore[attr-defined]
    assert predict(1.0) == 1.0


def test_a_call_that_raises_is_an_outcome_too(shell: Shell) -> None:
    """No fallback: the error propagates and the outcome says 'raised', with the error."""
    g = ag.Guard(name="bare")
    seen: list[ag.Outcome] = []
    g.add_listener(seen.append)

    @shell(g)
    def predict(x: float) -> float:
        raise ModelDownError(x)

    with pytest.raises(ModelDownError):
        predict(1.0)
    out = g.last_outcome
    assert out is not None
    assert (out.served_by, out.reason, out.stage) == ("raised", "error", "model")
    assert isinstance(out.error, ModelDownError)
    assert out.raised
    assert not out.fallback
    assert seen == [out]


def test_every_tier_failing_raises_fallback_failed_naming_the_guard(shell: Shell) -> None:
    """All tiers fail: FallbackFailedError names the guard, is chained to the model error."""

    def broken_rules(x: float) -> float:
        raise KeyError(x)

    g = ag.Guard(name="ladder", fallback=[broken_rules])

    @shell(g)
    def predict(x: float) -> float:
        raise ModelDownError(x)

    with pytest.raises(ag.FallbackFailedError) as info:
        predict(1.0)
    assert info.value.guard == "ladder"
    assert isinstance(info.value.__cause__, ModelDownError)
    out = g.last_outcome
    assert out is not None
    assert (out.served_by, out.reason) == ("raised", "error")
    assert out.error is info.value


def test_rejection_without_fallback_names_the_guard_and_is_recorded(shell: Shell) -> None:
    """A kill-switched call with no fallback raises FeatureDisabledError(guard=name)."""
    flags = ag.Flags()
    flags.set("recs-ai", on=False, reason="drill", actor="test")
    g = ag.Guard(name="recs", kill_switch="recs-ai", flags=flags)
    calls: list[float] = []

    @shell(g)
    def predict(x: float) -> float:
        calls.append(x)
        return x

    with pytest.raises(ag.FeatureDisabledError) as info:
        predict(1.0)
    assert info.value.guard == "recs"
    assert calls == []
    out = g.last_outcome
    assert out is not None
    assert (out.served_by, out.reason, out.stage) == ("raised", "disabled", "kill_switch")


def test_retry_shorthand_waits_on_the_guard_clock(shell: Shell) -> None:
    """retry=3 with a fake clock: back-off advances the fake clock, no real sleep."""
    clock = FakeClock()
    g = ag.Guard(name="r", retry=3, clock=clock)
    attempts: list[float] = []

    @shell(g)
    def predict(x: float) -> float:
        attempts.append(clock())
        if len(attempts) < 3:
            raise ModelDownError(x)
        return x

    assert predict(5.0) == 5.0
    assert len(attempts) == 3
    assert attempts[-1] > attempts[0]  # the waits were taken on the fake clock


def test_async_bulkhead_rejects_the_overflow_and_serves_fallback() -> None:
    """Async: with one slot busy, a second concurrent call is served by the fallback."""
    g = ag.Guard(name="b", bulkhead=ag.Bulkhead(1), fallback=popular)
    release = asyncio.Event()

    @g
    async def predict(x: float) -> float:
        await release.wait()
        return x

    async def scenario() -> tuple[float, float, ag.Outcome | None]:
        first = asyncio.ensure_future(predict(3.0))
        await asyncio.sleep(0)
        second = await predict(4.0)
        second_outcome = g.last_outcome
        release.set()
        return await first, second, second_outcome

    first, second, outcome = asyncio.run(scenario())
    assert (first, second) == (3.0, 0.0)
    assert outcome is not None
    assert (outcome.reason, outcome.stage) == ("bulkhead_full", "bulkhead")


def test_hedge_answers_a_slow_call_sync_and_async() -> None:
    """hedge=seconds: a second request wins when the first is slow (sync and async)."""
    import time

    starts: list[float] = []

    def slow_first(x: float) -> float:
        starts.append(x)
        if len(starts) == 1:
            time.sleep(0.5)
            return -1.0
        return x

    g = ag.Guard(name="h", hedge=0.02)
    assert g(slow_first)(2.0) == 2.0
    assert len(starts) == 2

    astarts: list[float] = []

    async def aslow_first(x: float) -> float:
        astarts.append(x)
        if len(astarts) == 1:
            await asyncio.sleep(0.5)
            return -1.0
        return x

    assert asyncio.run(g(aslow_first)(3.0)) == 3.0
    assert len(astarts) == 2


def test_scalar_check_verdicts_weigh_zero_or_one(shell: Shell) -> None:
    """A scalar check passing weighs 0 (model serves); failing weighs 1 (fallback)."""
    clock = FakeClock()
    breaker = make_breaker(clock, window=2, min_calls=2)
    g = ag.Guard(name="s", breaker=breaker, check=lambda r: r >= 0, fallback=popular)

    @shell(g)
    def predict(x: float) -> float:
        return x

    assert predict(1.0) == 1.0
    assert predict(-1.0) == 0.0
    assert breaker.metrics.failures == pytest.approx(1.0)


def test_per_row_fallback_that_fails_raises_and_is_recorded(shell: Shell) -> None:
    """fallback_rows with a tier whose rows still fail: FallbackFailedError, outcome raised."""
    g = ag.Guard(name="rows", check=ag.checks.finite(), fallback=lambda x: x * np.nan,
                 fallback_rows=True)

    @shell(g)
    def predict(x: np.ndarray) -> np.ndarray:
        out = x.copy()
        out[0] = np.nan
        return out

    with pytest.raises(ag.FallbackFailedError):
        predict(np.ones(4))
    out = g.last_outcome
    assert out is not None
    assert (out.served_by, out.reason, out.stage) == ("raised", "invalid", "check")

    async def apredict(x: np.ndarray) -> np.ndarray:
        out = x.copy()
        out[0] = np.nan
        return out

    with pytest.raises(ag.FallbackFailedError):
        asyncio.run(g(apredict)(np.ones(4)))


def test_async_every_tier_failing_is_recorded() -> None:
    """Async: all tiers fail -> FallbackFailedError, the outcome says raised."""

    def broken(x: float) -> float:
        raise KeyError(x)

    g = ag.Guard(name="a-ladder", fallback=broken)

    @g
    async def predict(x: float) -> float:
        raise ModelDownError(x)

    with pytest.raises(ag.FallbackFailedError) as info:
        asyncio.run(predict(1.0))
    assert info.value.guard == "a-ladder"


def test_a_breaker_that_fails_to_record_never_breaks_the_call(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, shell: Shell,
) -> None:
    """aiguard's own failure while recording is logged; the caller still gets an answer."""
    breaker = make_breaker(FakeClock())
    g = ag.Guard(name="rec", breaker=breaker, check=ag.checks.finite(), fallback=popular)

    def explode(*_: Any) -> None:
        raise RuntimeError("bookkeeping bug")

    monkeypatch.setattr(breaker, "record", explode)

    @shell(g)
    def predict(x: float) -> float:
        return x

    with caplog.at_level(logging.WARNING, logger="aiguard"):
        assert predict(2.0) == 2.0


def test_an_ignored_exception_frees_the_breaker_and_still_falls_back(shell: Shell) -> None:
    """An exception the breaker ignores is neither success nor failure; the ladder still serves."""
    clock = FakeClock()
    breaker = make_breaker(clock, ignore=KeyError)
    g = ag.Guard(breaker=breaker, fallback=popular)

    @shell(g)
    def predict(x: float) -> float:
        raise KeyError(x)

    assert predict(1.0) == 0.0
    m = breaker.metrics
    assert (m.calls, m.ignored) == (0, 1)


def test_a_breaker_that_fails_to_record_an_error_never_breaks_the_call(
    shell: Shell, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """A breaker raising while recording a model error: the fallback still serves, logged once."""
    breaker = make_breaker(FakeClock())
    g = ag.Guard(name="err-record", breaker=breaker, fallback=popular)

    def explode(*_: Any) -> None:
        raise RuntimeError("internal")

    monkeypatch.setattr(breaker, "record", explode)

    @shell(g)
    def predict(x: float) -> float:
        raise ModelDownError

    with caplog.at_level(logging.WARNING, logger="aiguard"):
        assert predict(1.0) == 0.0
    out = g.last_outcome
    assert out is not None
    assert (out.served_by, out.reason) == ("popular", "error")


def test_a_mask_of_all_good_rows_is_served_as_is(shell: Shell) -> None:
    """A check answering a mask (not True) whose rows are all good: the model's batch stands."""
    breaker = ag.CircuitBreaker(window=4, min_calls=1)
    g = ag.Guard(breaker=breaker, check=lambda out: np.ones(len(out), dtype=bool),
                 fallback=popular)

    @shell(g)
    def predict(x: np.ndarray) -> np.ndarray:
        return x * 2

    np.testing.assert_array_equal(predict(np.ones(3)), np.full(3, 2.0))
    out = g.last_outcome
    assert out is not None
    assert (out.served_by, out.reason) == ("model", None)
    assert breaker.metrics.failures == 0.0


def test_retry_without_a_breaker_retries_until_attempts_run_out(shell: Shell) -> None:
    """A retry shorthand with no breaker to consult stops only at its attempts."""
    attempts: list[float] = []
    g = ag.Guard(retry=ag.retry(attempts=3, clock=FakeClock()), fallback=popular)

    @shell(g)
    def predict(x: float) -> float:
        attempts.append(x)
        raise ModelDownError

    assert predict(1.0) == 0.0
    assert len(attempts) == 3


async def test_set_model_hook_swaps_the_inner_async_call() -> None:
    """The fault-injection hook works for async models too, with and without wrapping stages."""
    for retry in (None, 2):
        g = ag.Guard(check=ag.checks.finite(), fallback=popular, retry=retry)

        @g
        async def predict(x: float) -> float:
            return x

        async def broken(x: float) -> float:
            return float("nan")

        predict.__aiguard_set_model__(broken)  # type: ignore[attr-defined]
        assert await predict(1.0) == 0.0
        predict.__aiguard_set_model__(predict.__wrapped__)  # type: ignore[attr-defined]
        assert await predict(1.0) == 1.0


def test_failure_weight_of_every_verdict_shape() -> None:
    """True/False, 0-d arrays, empty and partial masks map to the failure weight."""
    from aiguard.contain.guard._parts import failure_weight

    assert failure_weight(True) == 0.0
    assert failure_weight(False) == 1.0
    assert failure_weight(np.bool_(False)) == 1.0
    assert failure_weight(np.array(True)) == 0.0
    assert failure_weight(np.array([], dtype=bool)) == 0.0
    assert failure_weight(np.array([True, False, False, True])) == 0.5


def test_guard_repr_lists_fallback_rows() -> None:
    """The repr names every configured stage, fallback_rows included."""
    g = ag.Guard(name="r", check=ag.checks.finite(), fallback=popular, fallback_rows=True)
    assert repr(g) == ("Guard(name='r', check=finite(), fallback=['popular'], "
                       "fallback_rows=True)")

"""Breaker permits: the breaker without wrapping a call (acquire / success / failure / ignore)."""

from __future__ import annotations

import asyncio

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import aiguard as ag
from aiguard import BreakerState, CircuitBreaker
from aiguard.errors import CircuitOpenError, ConfigurationError, InvalidInputError
from aiguard.testing import FakeClock


class ModelError(Exception):
    pass


class NotFoundError(Exception):
    pass


def make(**kw: object) -> tuple[CircuitBreaker, FakeClock]:
    clock = FakeClock()
    config: dict[str, object] = {"window": 4, "min_calls": 2, "open_for": 10, "clock": clock}
    config.update(kw)
    return CircuitBreaker(**config), clock  # type: ignore[arg-type]


def test_success_and_failure_are_recorded_with_measured_durations() -> None:
    """Durations default to the breaker's clock since acquire; slow ones count as slow."""
    b, clock = make(slow_call_duration=1.0, window=10)
    permit = b.acquire()
    clock.advance(2.0)
    permit.success()
    b.acquire().failure(duration=0.5)
    m = b.metrics
    assert (m.calls, m.failures, m.slow_calls) == (2, 1.0, 1)


def test_failure_weight_is_a_fraction() -> None:
    """failure(weight=...) adds that share of a failure; numpy scalars are accepted."""
    b, _ = make(window=10)
    b.acquire().failure(weight=np.float32(0.25))
    b.acquire().failure(weight=0.5)
    assert b.metrics.failures == pytest.approx(0.75)


@pytest.mark.parametrize("weight", [1.5, -0.1, True, "half"])
def test_bad_weight_is_refused(weight: object) -> None:
    """A weight outside [0, 1], a bool or a string raises ConfigurationError naming it."""
    b, _ = make()
    with pytest.raises(ConfigurationError, match="weight must be"):
        b.acquire().failure(weight=weight)  # type: ignore[arg-type]


@pytest.mark.parametrize("duration", [-1.0, float("nan"), False])
def test_bad_duration_is_refused(duration: object) -> None:
    """A negative, NaN or bool duration raises ConfigurationError naming it."""
    b, _ = make()
    with pytest.raises(ConfigurationError, match="duration must be"):
        b.acquire().success(duration=duration)  # type: ignore[arg-type]


def test_a_permit_reports_once() -> None:
    """A second report on one permit raises InvalidInputError and changes nothing."""
    b, _ = make(window=10)
    permit = b.acquire()
    permit.success()
    assert permit.done
    with pytest.raises(InvalidInputError, match="permit must be reported once"):
        permit.failure()
    assert b.metrics.failures == 0.0
    assert repr(permit) == "BreakerPermit(breaker='breaker', done=True)"


def test_acquire_raises_when_open_and_counts_the_rejection() -> None:
    """An OPEN breaker refuses acquire with CircuitOpenError carrying retry_at."""
    b, _ = make()
    b.acquire().failure()
    b.acquire().failure()
    assert b.state is BreakerState.OPEN
    with pytest.raises(CircuitOpenError) as info:
        b.acquire()
    assert info.value.retry_at == 10.0
    assert b.metrics.rejected == 1


def test_error_follows_record_and_ignore() -> None:
    """error(exc) judges as the decorator: recorded: failure, ignored: nothing, other: success."""
    b, _ = make(window=10, record=ModelError, ignore=NotFoundError)
    b.acquire().error(ModelError())
    b.acquire().error(NotFoundError())
    b.acquire().error(ValueError())
    m = b.metrics
    assert (m.calls, m.failures, m.ignored) == (2, 1.0, 1)


def test_ignore_frees_a_half_open_trial_slot() -> None:
    """Ignoring a trial's permit lets another caller take the trial."""
    b, clock = make(half_open_calls=1, min_calls=1, window=1)
    b.acquire().failure()
    clock.advance(10)
    trial = b.acquire()
    with pytest.raises(CircuitOpenError):
        b.acquire()
    trial.ignore()
    b.acquire().success()
    assert b.state is BreakerState.CLOSED


def test_context_manager_records_success_failure_and_passes_errors_through() -> None:
    """`with breaker.permit():` records success, or the exception by the rules, re-raising it."""
    b, clock = make(window=10, min_calls=10, ignore=NotFoundError)
    with b.permit():
        clock.advance(0.5)
    with pytest.raises(ModelError), b.permit():
        raise ModelError
    with pytest.raises(NotFoundError), b.permit():
        raise NotFoundError
    with pytest.raises(KeyboardInterrupt), b.permit():
        raise KeyboardInterrupt
    m = b.metrics
    assert (m.calls, m.failures, m.ignored) == (2, 1.0, 2)


def test_context_manager_leaves_a_manual_report_alone() -> None:
    """A report made inside the block is the one recorded; leaving the block adds nothing."""
    b, _ = make(window=10)
    with b.permit() as permit:
        permit.failure(weight=0.5)
    assert (b.metrics.calls, b.metrics.failures) == (1, 0.5)


def test_async_context_manager() -> None:
    """`async with breaker.permit():` records like the sync block."""
    b, _ = make(window=10)

    async def consume() -> None:
        async with b.permit():
            await asyncio.sleep(0)
        with pytest.raises(ModelError):
            async with b.permit():
                raise ModelError

    asyncio.run(consume())
    assert (b.metrics.calls, b.metrics.failures) == (2, 1.0)


def test_permit_type_is_public() -> None:
    """acquire() returns an aiguard.BreakerPermit users can annotate with."""
    b, _ = make()
    permit: ag.BreakerPermit = b.acquire()
    assert isinstance(permit, ag.BreakerPermit)
    permit.ignore()


# -- equivalence with the wrapped path ---------------------------------------------------

DURATIONS = st.sampled_from([0.0, 0.1, 0.6, 2.0])
WEIGHTS = st.sampled_from([0.0, 0.0, 0.3, 1.0])


def config(clock: FakeClock) -> dict[str, object]:
    return {"window": 5, "min_calls": 3, "half_open_calls": 3, "open_for": 5.0,
            "slow_call_duration": 0.5, "slow_call_rate": 0.75, "record": ModelError,
            "ignore": NotFoundError, "failure_result": lambda weight: weight, "clock": clock}


class PermitVersusWrapped(RuleBasedStateMachine):
    """The same calls through a decorated function and through permits give the same breaker."""

    @initialize()
    def setup(self) -> None:
        self.wclock, self.pclock = FakeClock(), FakeClock()
        self.wrapped = CircuitBreaker(**config(self.wclock))  # type: ignore[arg-type]
        self.manual = CircuitBreaker(**config(self.pclock))  # type: ignore[arg-type]
        wclock = self.wclock

        @self.wrapped
        def model(duration: float, weight: float, raises: type[Exception] | None) -> float:
            wclock.advance(duration)
            if raises is not None:
                raise raises
            return weight

        self.model = model

    def _both(self, duration: float, weight: float, raises: type[Exception] | None) -> None:
        try:
            self.model(duration, weight, raises)
            wrapped_ok = True
        except CircuitOpenError:
            wrapped_ok = False
        except (ModelError, NotFoundError, ValueError):
            wrapped_ok = True
        try:
            permit = self.manual.acquire()
        except CircuitOpenError:
            assert not wrapped_ok, "permits rejected a call the wrapped path admitted"
            return
        assert wrapped_ok, "permits admitted a call the wrapped path rejected"
        self.pclock.advance(duration)
        if raises is not None:
            permit.error(raises())
        elif weight:
            permit.failure(weight=weight)
        else:
            permit.success()

    @rule(duration=DURATIONS, weight=WEIGHTS)
    def returns(self, duration: float, weight: float) -> None:
        self._both(duration, weight, None)

    @rule(duration=DURATIONS, raises=st.sampled_from([ModelError, NotFoundError, ValueError]))
    def raises(self, duration: float, raises: type[Exception]) -> None:
        self._both(duration, 0.0, raises)

    @rule(seconds=st.sampled_from([1.0, 5.0]))
    def wait(self, seconds: float) -> None:
        self.wclock.advance(seconds)
        self.pclock.advance(seconds)

    @invariant()
    def same_breaker(self) -> None:
        if not hasattr(self, "wrapped"):
            return
        assert repr(self.wrapped.metrics) == repr(self.manual.metrics)  # NaN-aware


PermitVersusWrapped.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestPermitVersusWrapped = PermitVersusWrapped.TestCase

"""CircuitBreaker: parameters, states, windows, judging, listeners, metrics and shells."""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from aiguard import BreakerState, CircuitBreaker, TimeWindow
from aiguard.contain.breaker._breaker import BreakerEvent, BreakerMetrics
from aiguard.errors import CircuitOpenError, ConfigurationError
from aiguard.testing import FakeClock


class ModelError(Exception):
    pass


def make(**kw: Any) -> tuple[CircuitBreaker, FakeClock]:
    clock = kw.pop("clock", None) or FakeClock()
    kw.setdefault("window", 4)
    kw.setdefault("min_calls", 2)
    kw.setdefault("open_for", 10)
    return CircuitBreaker(clock=clock, **kw), clock


def record(b: CircuitBreaker, failure: float = 0.0, duration: float = 0.0) -> None:
    """One admitted call with the given outcome, at the clock's time."""
    now = b.clock()
    permit = b.admit(now)
    b.record(permit, now, duration, failure)


# -- validation ----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"failure_rate": 1.5}, "failure_rate must be a number in (0, 1], got 1.5"),
        ({"failure_rate": 0}, "failure_rate must be a number in (0, 1], got 0"),
        ({"failure_rate": True}, "failure_rate must be a number in (0, 1], got True"),
        ({"slow_call_rate": -0.1}, "slow_call_rate must be a number in (0, 1], got -0.1"),
        ({"slow_call_duration": 0}, ("slow_call_duration must be a finite number of seconds > 0 "
                                    "(or a timedelta), got 0")),
        ({"slow_call_duration": "1s"}, ("slow_call_duration must be a finite number of seconds "
                                       "> 0 (or a timedelta), got '1s'")),
        ({"window": 0}, "window must be an int >= 1 (last N calls) or a TimeWindow, got 0"),
        ({"window": 2.5}, "window must be an int >= 1 (last N calls) or a TimeWindow, got 2.5"),
        ({"window": 10, "min_calls": 11}, "min_calls must be an int in [1, window=10], got 11"),
        ({"window": 10, "min_calls": 0}, "min_calls must be an int in [1, window=10], got 0"),
        ({"window": TimeWindow(seconds=5), "min_calls": 0}, "min_calls must be an int >= 1, got 0"),
        ({"open_for": -1}, ("open_for must be a finite number of seconds >= 0 (or a timedelta), "
                           "got -1")),
        ({"open_for": "soon"}, ("open_for must be seconds >= 0 (a number or timedelta) or a "
                               "callable attempt -> seconds, got 'soon'")),
        ({"open_for": lambda attempt: -attempt}, ("open_for(1) must be a finite number of "
                                                 "seconds >= 0 (or a timedelta), got -1")),
        ({"half_open_calls": 0}, "half_open_calls must be an int >= 1, got 0"),
        ({"half_open_max_wait": math.inf}, ("half_open_max_wait must be a finite number of "
                                           "seconds > 0 (or a timedelta), got inf")),
        ({"record": 3}, ("record must be an exception type, a predicate exc -> bool, or a "
                        "tuple of them, got 3")),
        ({"ignore": (ValueError, int)}, ("ignore must be an exception type, a predicate exc -> "
                                        "bool, or a tuple of them, got (<class 'ValueError'>, "
                                        "<class 'int'>)")),
        ({"failure_result": 0.5}, ("failure_result must be None or a callable result -> bool | "
                                  "fraction | row mask, got 0.5")),
        ({"name": ""}, "name must be a non-empty string, got ''"),
        ({"clock": 3.0}, "clock must be a callable returning seconds, got 3.0"),
    ],
)
def test_every_parameter_is_validated_with_a_message(kwargs: dict[str, Any], message: str) -> None:
    """A bad parameter raises ConfigurationError naming argument, expectation and value."""
    with pytest.raises(ConfigurationError) as info:
        CircuitBreaker(**kwargs)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_open_for_callable_that_raises_is_a_configuration_error() -> None:
    """A back-off callable that cannot even answer attempt 1 is rejected at construction."""
    with pytest.raises(ConfigurationError, match=r"open_for must be .*ZeroDivisionError"):
        CircuitBreaker(open_for=lambda attempt: 1 / 0)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"seconds": -1}, "seconds must be a finite number of seconds > 0 (or a timedelta), got -1"),
    ({"seconds": 5, "buckets": 0}, "buckets must be None or an int >= 1, got 0"),
    ({"seconds": "5"}, "seconds must be a finite number of seconds > 0 (or a timedelta), got '5'"),
])
def test_time_window_is_validated(kwargs: dict[str, Any], message: str) -> None:
    """TimeWindow rejects non-positive lengths and bucket counts."""
    with pytest.raises(ConfigurationError) as info:
        TimeWindow(**kwargs)
    assert str(info.value) == message


def test_time_window_accepts_timedelta_and_picks_buckets() -> None:
    """A timedelta is seconds; buckets default to one a second, clipped to [10, 600]."""
    assert TimeWindow(seconds=timedelta(minutes=1)).seconds == 60.0
    assert [TimeWindow(seconds=s).resolved_buckets for s in (0.5, 60, 7200)] == [10, 60, 600]
    assert TimeWindow(seconds=60, buckets=6).resolved_buckets == 6


# -- CLOSED -> OPEN ----------------------------------------------------------------------

def test_no_trip_before_min_calls_then_trip_when_reached_by_a_success() -> None:
    """Rates are judged only from min_calls on, even when a success brings the count there."""
    b, _ = make(window=10, min_calls=3)
    record(b, 1.0)
    record(b, 1.0)
    assert b.state is BreakerState.CLOSED
    assert math.isnan(b.metrics.failure_rate)
    record(b, 0.0)  # 2 of 3 failed >= 0.5
    assert b.state is BreakerState.OPEN


def test_trips_exactly_at_the_threshold() -> None:
    """failure rate >= threshold trips (resilience4j's rule), just below does not."""
    b, _ = make(window=4, min_calls=4, failure_rate=0.5)
    for failure in (1.0, 0.0, 0.0, 0.0):
        record(b, failure)
    assert b.state is BreakerState.CLOSED
    record(b, 1.0)  # window now (0, 0, 0, 1)? no: (0,0,0,1) after the first left -> 1/4
    assert b.state is BreakerState.CLOSED
    record(b, 1.0)  # 2/4
    assert b.state is BreakerState.OPEN


def test_count_window_forgets_old_calls() -> None:
    """Only the last N calls count: old failures slide out."""
    b, _ = make(window=3, min_calls=3, failure_rate=0.7)
    record(b, 1.0)
    for _ in range(3):
        record(b, 0.0)
    m = b.metrics
    assert (m.window_calls, m.window_failures, m.failure_rate) == (3, 0.0, 0.0)
    assert (m.calls, m.failures) == (4, 1.0)


def test_open_rejects_without_calling_and_says_when_to_retry() -> None:
    """OPEN: the model is not called; CircuitOpenError carries the guard name and retry_at."""
    b, clock = make(name="recs", open_for=30)
    clock.advance(5)
    record(b, 1.0)
    record(b, 1.0)
    calls = []
    with pytest.raises(CircuitOpenError) as info:
        b.call(calls.append, 1)
    assert calls == []
    assert (info.value.guard, info.value.retry_at) == ("recs", 35.0)
    assert isinstance(info.value, RuntimeError)
    m = b.metrics
    assert (m.rejected, m.retry_at, m.since, m.attempt) == (1, 35.0, 5.0, 1)
    assert b.is_open


def test_slow_calls_trip_the_breaker() -> None:
    """Calls longer than slow_call_duration count as slow; the slow rate trips too."""
    b, _ = make(window=4, min_calls=2, slow_call_duration=timedelta(seconds=1),
                slow_call_rate=1.0)
    record(b, 0.0, duration=1.0)  # exactly the threshold: not slow
    assert b.metrics.slow_calls == 0
    record(b, 0.0, duration=1.5)
    assert b.state is BreakerState.CLOSED
    record(b, 0.0, duration=2.0)
    assert b.state is BreakerState.CLOSED  # 2 slow of 3
    record(b, 0.0, duration=2.0)
    record(b, 0.0, duration=2.0)  # 4 slow of 4
    assert b.state is BreakerState.OPEN
    assert b.metrics.slow_call_rate == 1.0


def test_time_window_expires_old_calls() -> None:
    """A TimeWindow forgets calls older than its length (bucket rule), so they cannot trip it."""
    b, clock = make(window=TimeWindow(seconds=10, buckets=10), min_calls=2, failure_rate=0.5)
    record(b, 1.0)
    clock.advance(10.0)  # the first call's bucket has left the window
    record(b, 1.0)
    assert b.state is BreakerState.CLOSED
    assert b.metrics.window_calls == 1
    clock.advance(9.0)
    record(b, 0.0)
    assert b.state is BreakerState.OPEN  # 1 failure of 2 within 10 s


def test_time_window_judges_on_every_call() -> None:
    """With a time window a success can trip once successes have expired from the window."""
    b, clock = make(window=TimeWindow(seconds=10, buckets=10), min_calls=3, failure_rate=0.5)
    for _ in range(4):
        record(b, 0.0)
    clock.advance(5)
    record(b, 1.0)
    record(b, 1.0)  # 2 of 6
    assert b.state is BreakerState.CLOSED
    clock.advance(5)  # the 4 successes expire
    record(b, 0.0)  # 2 of 3
    assert b.state is BreakerState.OPEN


# -- OPEN -> HALF_OPEN -> CLOSED / OPEN -------------------------------------------------------

def trip(b: CircuitBreaker) -> None:
    while b.state is not BreakerState.OPEN:
        record(b, 1.0)


def test_half_open_trials_close_the_breaker_with_an_empty_window() -> None:
    """After open_for the next calls are trials; if they pass, CLOSED with an empty window."""
    b, clock = make(half_open_calls=2, open_for=10)
    trip(b)
    clock.advance(9.9)
    with pytest.raises(CircuitOpenError):
        record(b)
    clock.advance(0.1)
    first = b.admit(clock())
    assert b.state is BreakerState.HALF_OPEN
    second = b.admit(clock())
    with pytest.raises(CircuitOpenError, match="half-open and all 2 trial calls are taken") as info:
        b.admit(clock())
    assert info.value.retry_at is None
    b.record(first, clock(), 0.0, 0.0)
    assert b.state is BreakerState.HALF_OPEN  # waits for every trial
    b.record(second, clock(), 0.0, 0.0)
    assert b.state is BreakerState.CLOSED
    m = b.metrics
    assert (m.window_calls, m.attempt, m.since) == (0, 0, 10.0)


def test_failed_trials_reopen_with_growing_back_off() -> None:
    """open_for(attempt) grows while trials keep failing and restarts after CLOSED."""
    attempts: list[int] = []

    def backoff(attempt: int) -> float:
        attempts.append(attempt)
        return 10.0 * 2 ** (attempt - 1)

    b, clock = make(open_for=backoff, half_open_calls=1)
    trip(b)
    assert b.metrics.retry_at == 10.0
    clock.advance(10)
    record(b, 1.0)  # the trial fails
    assert (b.state, b.metrics.retry_at) == (BreakerState.OPEN, 30.0)
    clock.advance(20)
    record(b, 1.0)
    assert (b.state, b.metrics.retry_at, b.metrics.attempt) == (BreakerState.OPEN, 70.0, 3)
    clock.advance(40)
    record(b, 0.0)
    assert b.state is BreakerState.CLOSED
    trip(b)
    assert b.metrics.retry_at == clock() + 10.0
    assert attempts == [1, 1, 2, 3, 1]


def test_trials_judged_on_slow_rate_too() -> None:
    """Slow trials reopen the breaker when their slow rate reaches slow_call_rate."""
    b, clock = make(half_open_calls=2, slow_call_duration=1.0, slow_call_rate=0.5)
    trip(b)
    clock.advance(10)
    record(b, 0.0, duration=5.0)
    record(b, 0.0, duration=0.1)
    assert b.state is BreakerState.OPEN


def test_open_for_as_timedelta_and_zero() -> None:
    """open_for accepts a timedelta; 0 admits a trial on the very next call."""
    b, clock = make(open_for=timedelta(seconds=90))
    trip(b)
    assert b.metrics.retry_at == clock() + 90
    z, _ = make(open_for=0, half_open_calls=1)
    trip(z)
    record(z, 0.0)
    assert z.state is BreakerState.CLOSED


def test_back_off_that_fails_later_falls_back_to_the_first_duration(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A back-off callable that breaks at attempt 2 does not break the call: open_for(1) is used."""
    b, clock = make(open_for=lambda a: 5.0 if a == 1 else float("nan"), half_open_calls=1)
    trip(b)
    clock.advance(5)
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        record(b, 1.0)
    assert b.metrics.retry_at == clock() + 5.0
    assert "open_for(2)" in caplog.text


def test_half_open_max_wait_reopens_when_trials_hang() -> None:
    """After half_open_max_wait with trials unfinished, the breaker goes back to OPEN."""
    b, clock = make(half_open_calls=2, half_open_max_wait=5, open_for=10)
    trip(b)
    clock.advance(10)
    hung = b.admit(clock())
    clock.advance(5)
    with pytest.raises(CircuitOpenError):
        b.admit(clock())
    assert (b.state, b.metrics.attempt) == (BreakerState.OPEN, 2)
    b.record(hung, clock(), 5.0, 0.0)  # stale: never counts for the new state
    assert b.state is BreakerState.OPEN
    assert b.metrics.stale == 1


def test_half_open_max_wait_checked_when_a_trial_finishes_late() -> None:
    """A trial finishing after half_open_max_wait while another still runs reopens the breaker."""
    b, clock = make(half_open_calls=2, half_open_max_wait=5)
    trip(b)
    clock.advance(10)
    first = b.admit(clock())
    b.admit(clock())
    clock.advance(6)
    b.record(first, clock(), 6.0, 0.0)
    assert b.state is BreakerState.OPEN


def test_stale_permits_never_count_against_the_new_state() -> None:
    """Results of calls admitted before a transition are counted in totals only."""
    b, clock = make(window=4, min_calls=1)
    old = [b.admit(clock()) for _ in range(3)]
    b.reset()  # a new generation, same state
    for permit in old:
        b.record(permit, clock(), 0.0, 1.0)
    m = b.metrics
    assert (b.state, m.window_calls, m.stale, m.calls, m.failures) == (
        BreakerState.CLOSED, 0, 3, 3, 3.0)
    trip(b)
    clock.advance(10)
    trial = b.admit(clock())
    b.force_open()
    b.reset()
    b.record(trial, clock(), 0.0, 1.0)
    assert b.state is BreakerState.CLOSED
    assert b.metrics.window_calls == 0


def test_ignored_trial_frees_its_slot() -> None:
    """An ignored trial outcome lets another caller take the trial."""
    b, clock = make(half_open_calls=1)
    trip(b)
    clock.advance(10)
    permit = b.admit(clock())
    with pytest.raises(CircuitOpenError):
        b.admit(clock())
    b.ignore(permit)
    record(b, 0.0)
    assert b.state is BreakerState.CLOSED
    assert b.metrics.ignored == 1


# -- manual states -------------------------------------------------------------------------

def test_forced_open_rejects_until_reset() -> None:
    """FORCED_OPEN rejects every call whatever the time; reset() closes with an empty window."""
    b, clock = make()
    record(b, 1.0)
    b.force_open()
    b.force_open()  # idempotent
    clock.advance(1e6)
    with pytest.raises(CircuitOpenError, match="forced open") as info:
        record(b)
    assert info.value.retry_at is None
    assert b.is_open
    assert (b.metrics.window_calls, b.metrics.window_failures) == (1, 1.0)  # frozen
    b.reset()
    assert (b.state, b.metrics.window_calls) == (BreakerState.CLOSED, 0)


def test_disabled_admits_everything_and_records_nothing() -> None:
    """DISABLED: every call runs, nothing is counted, nothing trips."""
    b, _ = make()
    b.disable()
    for _ in range(10):
        record(b, 1.0)
    permit = b.admit(0.0)
    b.ignore(permit)
    m = b.metrics
    assert (m.state, m.calls, m.failures, m.ignored, m.window_calls) == (
        BreakerState.DISABLED, 0, 0.0, 0, 0)
    assert math.isnan(m.failure_rate)


def test_metrics_only_records_but_never_trips() -> None:
    """METRICS_ONLY: calls are recorded, the rate can exceed the threshold, no trip."""
    b, _ = make()
    b.metrics_only()
    for _ in range(6):
        record(b, 1.0)
    m = b.metrics
    assert (m.state, m.window_calls, m.failure_rate, m.calls) == (
        BreakerState.METRICS_ONLY, 4, 1.0, 6)
    assert not b.is_open


def test_manual_state_from_open_and_half_open() -> None:
    """Operators can force or release the breaker from any state."""
    b, clock = make(half_open_calls=2)
    trip(b)
    clock.advance(10)
    record(b, 1.0)  # one trial done, one pending
    b.force_open()
    assert b.metrics.window_calls == 1  # the trial counts, frozen
    b.disable()
    b.force_open()
    assert b.metrics.window_calls == 0
    b.metrics_only()
    b.reset()
    assert b.state is BreakerState.CLOSED


# -- record / ignore ---------------------------------------------------------------------------

def test_record_types_other_exceptions_count_as_success() -> None:
    """With record=(ModelError,), a KeyError counts as a success (resilience4j semantics)."""
    b, _ = make(record=ModelError)
    assert b.exception_weight(ModelError()) == 1.0
    assert b.exception_weight(KeyError()) == 0.0
    assert b.exception_weight(KeyboardInterrupt()) is None
    assert b.exception_weight(asyncio.CancelledError()) is None


def test_ignore_wins_over_record_and_predicates_work() -> None:
    """Ignored exceptions count as neither, even if recorded; predicates select by value."""
    b, _ = make(record=(ModelError, lambda e: "timeout" in str(e)),
                ignore=lambda e: isinstance(e, ModelError) and e.args == ("client",))
    assert b.exception_weight(ModelError("server")) == 1.0
    assert b.exception_weight(ModelError("client")) is None
    assert b.exception_weight(OSError("read timeout")) == 1.0
    assert b.exception_weight(OSError("refused")) == 0.0


def test_a_predicate_that_raises_counts_as_not_matching(caplog: pytest.LogCaptureFixture) -> None:
    """A broken user predicate never breaks the call; it is logged once."""
    def broken(exc: BaseException) -> bool:
        raise RuntimeError("bug")

    b, _ = make(ignore=broken)
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        assert b.exception_weight(ValueError()) == 1.0
        assert b.exception_weight(ValueError()) == 1.0
    assert caplog.text.count("ignore predicate") == 1


def test_decorated_function_counts_exceptions_and_reraises() -> None:
    """The decorator re-raises the model's exception unchanged after recording it."""
    b, _ = make(ignore=KeyError, window=10, min_calls=10)

    @b
    def model(exc: BaseException | None) -> str:
        if exc is not None:
            raise exc
        return "ok"

    with pytest.raises(ModelError):
        model(ModelError())
    with pytest.raises(KeyError):
        model(KeyError())
    with pytest.raises(KeyboardInterrupt):
        model(KeyboardInterrupt())
    assert model(None) == "ok"
    m = b.metrics
    assert (m.calls, m.failures, m.ignored) == (2, 1.0, 2)


# -- failure_result -------------------------------------------------------------------------

def test_failure_result_bool_fraction_and_mask() -> None:
    """A bool judges the whole call, a fraction is the weight, a mask weighs its bad rows."""
    b, _ = make(failure_result=lambda r: r)
    assert b.judges_results
    assert b.result_weight(True) == 1.0
    assert b.result_weight(False) == 0.0
    assert b.result_weight(0.25) == 0.25
    assert b.result_weight(np.float32(0.5)) == 0.5
    mask = np.zeros(10, dtype=bool)
    mask[:3] = True
    assert b.result_weight(mask) == pytest.approx(0.3)
    assert b.result_weight(np.zeros((0,), dtype=bool)) == 0.0
    assert b.result_weight(np.bool_(True)) == 1.0
    assert not make()[0].judges_results
    assert make()[0].result_weight("anything") == 0.0


def test_batch_with_30_percent_bad_rows_weighs_point_three() -> None:
    """A batch whose check flags 30% of rows adds 0.3 failures, end to end through the decorator."""
    b, _ = make(window=10, min_calls=10, failure_result=np.isnan)

    @b
    def predict(batch: np.ndarray) -> np.ndarray:
        return batch

    batch = np.arange(10.0)
    batch[[1, 4, 7]] = np.nan
    predict(batch)
    assert b.metrics.failures == pytest.approx(0.3)
    assert b.metrics.window_failures == pytest.approx(0.3)


@pytest.mark.parametrize("verdict", [1.5, "bad", np.array([0.1, 0.2])])
def test_failure_result_that_misbehaves_counts_as_failure(verdict: object) -> None:
    """A judge returning nonsense (or raising) makes the call a failure, never an exception."""
    b, _ = make(failure_result=lambda r: verdict)
    assert b.result_weight(None) == 1.0
    c, _ = make(failure_result=lambda r: 1 / 0)
    assert c.result_weight(None) == 1.0


# -- listeners ---------------------------------------------------------------------------

def test_listeners_get_transitions_and_outcomes() -> None:
    """Transitions carry old, new, at, reason; outcomes carry kind, duration and weight."""
    b, clock = make(name="recs", slow_call_duration=1.0, window=10, min_calls=3)
    events: list[BreakerEvent] = []
    transitions: list[BreakerEvent] = []
    b.add_listener(events.append)
    b.add_listener(transitions.append, outcomes=False)
    record(b, 0.0)
    record(b, 0.0, duration=2.0)
    record(b, 0.5)
    record(b, 1.0)  # 1.5 of 4 -> not yet
    record(b, 1.0)  # 2.5 of 5 -> trip
    with pytest.raises(CircuitOpenError):
        record(b)
    assert [e.kind for e in events] == [
        "success", "slow", "failure", "failure", "transition", "failure", "rejected"]
    trip_event = transitions[0]
    assert (trip_event.old, trip_event.new, trip_event.at) == (
        BreakerState.CLOSED, BreakerState.OPEN, clock())
    assert trip_event.reason == "failure_rate 0.5 >= 0.5"
    assert events[1].slow
    assert events[1].duration == 2.0
    assert events[2].failure == 0.5
    b.remove_listener(events.append)
    b.reset()
    assert [e.reason for e in transitions] == ["failure_rate 0.5 >= 0.5", "reset()"]
    assert events[-1].kind == "rejected"


def test_ignored_outcome_event() -> None:
    """An ignored exception reports an 'ignored' outcome."""
    b, _ = make(ignore=KeyError)
    kinds: list[str] = []
    b.add_listener(lambda e: kinds.append(e.kind))
    with pytest.raises(KeyError):
        b.call({}.__getitem__, "missing")
    assert kinds == ["ignored"]


def test_a_listener_that_raises_never_breaks_the_call(caplog: pytest.LogCaptureFixture) -> None:
    """A raising listener is counted and logged once; the call and other listeners go on."""
    b, _ = make()

    def broken(event: BreakerEvent) -> None:
        raise RuntimeError("listener bug")

    seen: list[str] = []
    b.add_listener(broken)
    b.add_listener(lambda e: seen.append(e.kind))
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        assert b.call(lambda: 42) == 42
        assert b.call(lambda: 43) == 43
    assert seen == ["success", "success"]
    assert b.metrics.listener_errors == 2
    assert caplog.text.count("a listener of breaker") == 1


def test_add_listener_rejects_non_callables() -> None:
    """add_listener validates its argument."""
    with pytest.raises(ConfigurationError, match="listener must be a callable"):
        make()[0].add_listener(3)  # type: ignore[arg-type]


# -- metrics, repr -------------------------------------------------------------------------

def test_metrics_snapshot_is_frozen_and_nan_before_min_calls() -> None:
    """Metrics are a frozen snapshot; rates are NaN before min_calls."""
    b, _ = make(window=10, min_calls=5)
    record(b, 1.0)
    m = b.metrics
    assert isinstance(m, BreakerMetrics)
    assert math.isnan(m.failure_rate)
    assert math.isnan(m.slow_call_rate)
    with pytest.raises(AttributeError):
        m.calls = 3  # type: ignore[misc]
    for _ in range(4):
        record(b, 0.0)
    assert b.metrics.failure_rate == 0.2
    assert repr(b) == "CircuitBreaker(name='breaker', state='closed')"


def test_half_open_metrics_describe_the_trials() -> None:
    """In HALF_OPEN the rates are those of the finished trials."""
    b, clock = make(half_open_calls=3, min_calls=3)
    trip(b)
    clock.advance(10)
    assert math.isnan(b.metrics.failure_rate) or b.state is BreakerState.OPEN
    record(b, 1.0)
    record(b, 0.0)
    m = b.metrics
    assert (m.state, m.window_calls, m.failure_rate) == (BreakerState.HALF_OPEN, 2, 0.5)


# -- shells ------------------------------------------------------------------------------

def test_decorator_keeps_name_and_doc() -> None:
    """functools.wraps metadata survives."""
    b, _ = make()

    @b
    def predict(x: int) -> int:
        """Predict."""
        return x

    assert (predict.__name__, predict.__doc__, predict(3)) == ("predict", "Predict.", 3)


def test_decorating_a_non_callable_is_an_error() -> None:
    """The decorator needs a function."""
    with pytest.raises(ConfigurationError, match="fn must be a function to protect"):
        make()[0](3)  # type: ignore[call-overload, arg-type]


async def test_async_decorator_records_and_rejects() -> None:
    """An async def model is awaited; failures trip the breaker; then calls are rejected."""
    b, _ = make(failure_result=lambda r: r < 0, failure_rate=0.6)

    @b
    async def predict(x: float) -> float:
        await asyncio.sleep(0)
        if x == 0:
            raise ModelError
        return x

    assert asyncio.iscoroutinefunction(predict)
    assert await predict(1.0) == 1.0
    with pytest.raises(ModelError):
        await predict(0.0)
    assert await predict(-1.0) == -1.0  # judged a failure by failure_result
    with pytest.raises(CircuitOpenError):
        await predict(1.0)
    assert b.metrics.failures == 2.0


async def test_acall_and_async_callable_objects() -> None:
    """acall awaits through the breaker; objects with an async __call__ are detected."""
    b, _ = make()

    class Model:
        async def __call__(self, x: int) -> int:
            return x + 1

    wrapped = b(Model())
    assert await wrapped(1) == 2
    assert await b.acall(Model(), 2) == 3
    assert b.metrics.calls == 2


def test_sync_judged_shell_and_record_failure_logged(caplog: pytest.LogCaptureFixture) -> None:
    """The judged sync shell weighs results; a breaker that fails to record never masks errors."""
    b, _ = make(failure_result=lambda r: r == "bad", window=10, min_calls=10)
    assert b.call(lambda: "bad") == "bad"
    assert b.metrics.failures == 1.0
    with pytest.raises(ModelError):
        b.call(lambda: (_ for _ in ()).throw(ModelError()))
    assert b.metrics.failures == 2.0

    class Broken(CircuitBreaker):
        def exception_weight(self, exc: BaseException) -> float | None:
            raise RuntimeError("internal")

    b = Broken()
    with caplog.at_level(logging.WARNING, logger="aiguard"), pytest.raises(ModelError):
        b.call(lambda: (_ for _ in ()).throw(ModelError()))
    assert "failed to record" in caplog.text

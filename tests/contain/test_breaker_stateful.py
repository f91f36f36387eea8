"""The breaker against a small, independent reference model of its state machine."""

from __future__ import annotations

import math

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from aiguard import BreakerState, CircuitBreaker
from aiguard.contain.breaker._window import BucketWindow, TimeWindow
from aiguard.errors import CircuitOpenError
from aiguard.testing import FakeClock

# half_open_calls > min_calls: resilience4j judges after min(min_calls, half_open_calls) trials
SIZE, MIN_CALLS, HALF_OPEN_CALLS = 6, 2, 3
FAILURE_RATE, SLOW_RATE, SLOW_AFTER = 0.5, 0.75, 1.0
MAX_WAIT = 20.0


def open_for(attempt: int) -> float:
    return 10.0 * attempt


class Reference:
    """A deliberately naive model: lists re-summed at every step, strings for states."""

    def __init__(self) -> None:
        self.state = "closed"
        self.gen = 0
        self.window: list[tuple[float, bool]] = []
        self.attempt = 0
        self.open_until = 0.0
        self.left = self.running = 0
        self.trials: list[tuple[float, bool]] = []
        self.started = 0.0

    def _bad(self, calls: list[tuple[float, bool]]) -> bool:
        n = len(calls)
        fails = sum(f for f, _ in calls)
        slows = sum(1 for _, s in calls if s)
        return fails >= FAILURE_RATE * n or slows >= SLOW_RATE * n

    def _go(self, state: str) -> None:
        self.state = state
        self.gen += 1

    def _open(self, now: float) -> None:
        self.attempt += 1
        self.open_until = now + open_for(self.attempt)
        self._go("open")

    def acquire(self, now: float) -> tuple[int, bool] | None:
        if self.state in ("closed", "metrics_only", "disabled"):
            return (self.gen, False)
        if self.state == "half_open" and now - self.started >= MAX_WAIT:
            self._open(now)
        if self.state == "open" and now >= self.open_until:
            self._go("half_open")
            self.left, self.running, self.trials, self.started = HALF_OPEN_CALLS - 1, 1, [], now
            return (self.gen, True)
        if self.state == "half_open" and self.left > 0:
            self.left -= 1
            self.running += 1
            return (self.gen, True)
        return None

    def result(self, permit: tuple[int, bool], now: float, duration: float, failure: float) -> None:
        gen, trial = permit
        slow = duration > SLOW_AFTER
        if gen != self.gen:
            return
        if self.state in ("closed", "metrics_only"):
            self.window = [*self.window, (failure, slow)][-SIZE:]
            if self.state == "closed" and len(self.window) >= MIN_CALLS and self._bad(self.window):
                self._open(now)
        elif self.state == "half_open" and trial:
            self.running -= 1
            self.trials.append((failure, slow))
            if len(self.trials) >= min(MIN_CALLS, HALF_OPEN_CALLS):
                if self._bad(self.trials):
                    self._open(now)
                else:
                    self.attempt = 0
                    self.window = []
                    self._go("closed")
            elif now - self.started >= MAX_WAIT:
                self._open(now)

    def ignored(self, permit: tuple[int, bool]) -> None:
        gen, trial = permit
        if gen == self.gen and trial and self.state == "half_open":
            self.running -= 1
            self.left += 1

    def manual(self, state: str) -> None:
        if state == self.state and state != "closed":
            return
        if state != "forced_open":
            self.window = []
        if state == "closed":
            self.attempt = 0
        self._go(state)


OUTCOMES = st.sampled_from([0.0, 0.0, 0.0, 1.0, 1.0, 0.5])
SLOW = st.sampled_from([False, False, False, True])


class BreakerMachine(RuleBasedStateMachine):
    """Drive the real breaker and the reference with the same steps; compare every step."""

    @initialize()
    def setup(self) -> None:
        self.clock = FakeClock()
        self.breaker = CircuitBreaker(
            window=SIZE, min_calls=MIN_CALLS, failure_rate=FAILURE_RATE,
            slow_call_rate=SLOW_RATE, slow_call_duration=SLOW_AFTER, open_for=open_for,
            half_open_calls=HALF_OPEN_CALLS, half_open_max_wait=MAX_WAIT, clock=self.clock)
        self.ref = Reference()
        self.inflight: list[tuple[int, tuple[int, bool]]] = []

    def _admit(self) -> tuple[int, tuple[int, bool]] | None:
        now = self.clock()
        expected = self.ref.acquire(now)
        try:
            permit = self.breaker.admit(now)
        except CircuitOpenError:
            assert expected is None, "the breaker rejected a call the reference admits"
            return None
        assert expected is not None, "the breaker admitted a call the reference rejects"
        return permit, expected

    @rule()
    def start_call(self) -> None:
        admitted = self._admit()
        if admitted is not None:
            self.inflight.append(admitted)

    @rule(failure=OUTCOMES, slow=SLOW)
    def call(self, failure: float, slow: bool) -> None:
        """A whole call: admission, then its result at once."""
        admitted = self._admit()
        if admitted is not None:
            permit, expected = admitted
            duration = 2.0 if slow else 0.5
            now = self.clock()
            self.breaker.record(permit, now, duration, failure)
            self.ref.result(expected, now, duration, failure)

    @precondition(lambda self: self.inflight)
    @rule(data=st.data(), failure=OUTCOMES, slow=SLOW)
    def finish_call(self, data: st.DataObject, failure: float, slow: bool) -> None:
        index = data.draw(st.integers(0, len(self.inflight) - 1))
        permit, expected = self.inflight.pop(index)
        duration = 2.0 if slow else 0.5
        now = self.clock()
        self.breaker.record(permit, now, duration, failure)
        self.ref.result(expected, now, duration, failure)

    @precondition(lambda self: self.inflight)
    @rule(data=st.data())
    def ignore_call(self, data: st.DataObject) -> None:
        permit, expected = self.inflight.pop(data.draw(st.integers(0, len(self.inflight) - 1)))
        self.breaker.ignore(permit)
        self.ref.ignored(expected)

    @rule(seconds=st.sampled_from([0.5, 5.0, 10.0, 25.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule(state=st.sampled_from(["forced_open", "disabled", "metrics_only", "closed"]),
          dice=st.integers(0, 5))
    def manual(self, state: str, dice: int) -> None:
        if dice:  # operators act rarely; let the automatic states be explored
            return
        getattr(self.breaker, {"forced_open": "force_open", "disabled": "disable",
                               "metrics_only": "metrics_only", "closed": "reset"}[state])()
        self.ref.manual(state)

    @invariant()
    def same_state(self) -> None:
        assert self.breaker.state is BreakerState(self.ref.state)

    @invariant()
    def same_window(self) -> None:
        if self.ref.state in ("closed", "metrics_only"):
            m = self.breaker.metrics
            assert m.window_calls == len(self.ref.window)
            assert math.isclose(m.window_failures, sum(f for f, _ in self.ref.window),
                                abs_tol=1e-9)
            assert m.window_slow_calls == sum(1 for _, s in self.ref.window if s)

    @invariant()
    def is_open_agrees(self) -> None:
        assert self.breaker.is_open == (self.ref.state in ("open", "forced_open"))


TestBreakerMachine = BreakerMachine.TestCase
TestBreakerMachine.settings = settings(max_examples=150, stateful_step_count=50, deadline=None,
                                       suppress_health_check=[HealthCheck.too_slow])


class BucketReference:
    """The documented rule: a call at t counts while floor(now/w) - floor(t/w) < n."""

    def __init__(self, seconds: float, buckets: int) -> None:
        self.width, self.n = seconds / buckets, buckets
        self.calls: list[tuple[float, float, bool]] = []

    def totals(self, now: float) -> tuple[int, float, int]:
        current = math.floor(now / self.width)
        live = [c for c in self.calls if current - math.floor(c[0] / self.width) < self.n]
        return len(live), sum(c[1] for c in live), sum(1 for c in live if c[2])


class BucketMachine(RuleBasedStateMachine):
    """The time window's bucket sums against a list filtered by the documented rule."""

    @initialize(seconds=st.sampled_from([1.0, 10.0, 60.0]), buckets=st.integers(1, 12))
    def setup(self, seconds: float, buckets: int) -> None:
        import itertools

        self.now = 0.0
        self.window = BucketWindow(TimeWindow(seconds=seconds, buckets=buckets), min_calls=1,
                                   failure_rate=1.0, slow_call_rate=1.0, seq=itertools.count())
        self.ref = BucketReference(seconds, buckets)

    @rule(failure=OUTCOMES, slow=st.booleans())
    def add(self, failure: float, slow: bool) -> None:
        self.window.add(self.now, failure, slow)
        self.ref.calls.append((self.now, failure, slow))

    @rule(seconds=st.sampled_from([0.01, 0.3, 1.0, 7.0, 59.0, 200.0]))
    def advance(self, seconds: float) -> None:
        self.now += seconds

    @invariant()
    def same_totals(self) -> None:
        calls, failures, slow = self.window.totals(self.now)
        ref_calls, ref_failures, ref_slow = self.ref.totals(self.now)
        assert (calls, slow) == (ref_calls, ref_slow)
        assert math.isclose(failures, ref_failures, abs_tol=1e-9)


TestBucketMachine = BucketMachine.TestCase
TestBucketMachine.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)

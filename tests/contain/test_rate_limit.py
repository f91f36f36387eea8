"""RateLimit: a token bucket checked against an exact reference model."""

from __future__ import annotations

import math
import threading
from datetime import timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aiguard as ag
from aiguard.testing import FakeClock


class ReferenceBucket:
    """The textbook token bucket, in exact rational arithmetic."""

    def __init__(self, rate: float, per: float, burst: float) -> None:
        self.capacity = Fraction(burst)
        self.fill = Fraction(rate) / Fraction(per)  # tokens per second
        self.tokens = self.capacity
        self.stamp: Fraction | None = None

    def refill(self, now: float) -> None:
        t = Fraction(now)
        if self.stamp is not None and t > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (t - self.stamp) * self.fill)
        if self.stamp is None or t > self.stamp:
            self.stamp = t

    def retry_at(self, now: float) -> float:
        missing = max(Fraction(0), 1 - self.tokens)
        return float(Fraction(now) + missing / self.fill)


operations = st.lists(
    st.tuples(st.floats(min_value=0.0, max_value=3.0), st.integers(min_value=1, max_value=4)),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(
    rate=st.floats(min_value=0.2, max_value=50.0),
    per=st.floats(min_value=0.1, max_value=5.0),
    burst=st.one_of(st.none(), st.floats(min_value=1.0, max_value=20.0)),
    ops=operations,
)
def test_matches_reference_token_bucket(
    rate: float, per: float, burst: float | None, ops: list[tuple[float, int]]
) -> None:
    """Every admit/shed decision and retry_at equals an exact token bucket's."""
    limit = ag.RateLimit(rate, per=per, burst=burst)
    ref = ReferenceBucket(rate, per, max(rate, 1.0) if burst is None else burst)
    now = 0.0
    for advance, calls in ops:
        now += advance
        for _ in range(calls):
            ref.refill(now)
            admitted = (limit.admit(now) >= 0)
            borderline = abs(float(ref.tokens) - 1.0) < 1e-6
            if not borderline:
                assert admitted == (ref.tokens >= 1)
            if admitted:
                ref.tokens -= 1
            else:
                expected = ref.retry_at(now)
                assert math.isclose(limit.retry_at(now), expected, rel_tol=1e-9, abs_tol=1e-6)

SECONDS = "a finite number of seconds > 0 (or a timedelta)"


def test_starts_full_then_sheds() -> None:
    """A fresh bucket admits exactly `burst` calls at one instant, then sheds."""
    limit = ag.RateLimit(10, burst=3, clock=FakeClock())
    assert [(limit.admit(0.0) >= 0) for _ in range(5)] == [True, True, True, False, False]


def test_default_burst_is_the_rate() -> None:
    """Without burst the bucket holds `rate` tokens (at least one)."""
    assert ag.RateLimit(5).burst == 5.0
    assert ag.RateLimit(0.5).burst == 1.0
    slow = ag.RateLimit(0.5, clock=FakeClock())
    assert [(slow.admit(0.0) >= 0), (slow.admit(0.0) >= 0)] == [True, False]
    assert slow.retry_at(0.0) == 2.0


def test_refills_rate_per_period() -> None:
    """`rate` tokens come back every `per` seconds."""
    limit = ag.RateLimit(4, per=2.0, burst=4)
    assert sum((limit.admit(0.0) >= 0) for _ in range(10)) == 4
    assert sum((limit.admit(1.0) >= 0) for _ in range(10)) == 2  # half a period: half the tokens
    assert sum((limit.admit(100.0) >= 0) for _ in range(10)) == 4  # capped at burst


def test_clock_reading_from_the_past_does_not_refill() -> None:
    """A thread that read the clock earlier than the last update gets no extra tokens."""
    limit = ag.RateLimit(1, burst=1)
    assert (limit.admit(10.0) >= 0)
    assert not (limit.admit(9.5) >= 0)
    assert limit.retry_at(9.5) == 11.0


def test_tokens_property() -> None:
    """`tokens` reports the fractional content of the bucket at the clock's time."""
    clock = FakeClock()
    limit = ag.RateLimit(2, burst=2, clock=clock)
    assert limit.tokens == 2.0
    limit.admit(0.0)
    limit.admit(0.0)
    assert limit.tokens == 0.0
    clock.advance(0.25)
    assert limit.tokens == pytest.approx(0.5)
    clock.advance(100)
    assert limit.tokens == 2.0


def test_eight_threads_on_a_frozen_clock_admit_exactly_burst() -> None:
    """8 threads hammering one bucket whose clock never moves get exactly `burst` calls."""
    clock = FakeClock()
    limit = ag.RateLimit(1, burst=250, clock=clock)
    admitted = [0] * 8
    start = threading.Barrier(8)

    def hammer(i: int) -> None:
        start.wait()
        for _ in range(2_000):
            if (limit.admit(clock()) >= 0):
                admitted[i] += 1

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(admitted) == 250


def test_decorator_sheds_with_retry_at() -> None:
    """The sync decorator raises RateLimitedError carrying the next token's time."""
    clock = FakeClock(100.0)
    limit = ag.RateLimit(2, per=1.0, burst=1, clock=clock)

    @limit
    def predict(x: int) -> int:
        """Docstring kept."""
        return x + 1

    assert predict(1) == 2
    with pytest.raises(ag.RateLimitedError) as info:
        predict(1)
    assert info.value.retry_at == 100.5
    assert info.value.reason == "rate_limited"
    assert isinstance(info.value, ag.CallRejectedError)
    assert predict.__name__ == "predict"
    assert predict.__doc__ == "Docstring kept."
    clock.advance(0.5)
    assert predict(2) == 3


async def test_async_decorator_sheds() -> None:
    """The async decorator admits, then sheds without awaiting the model."""
    clock = FakeClock()
    limit = ag.RateLimit(1, burst=1, clock=clock)
    calls = []

    @limit
    async def predict(x: int) -> int:
        calls.append(x)
        return x

    assert await predict(7) == 7
    with pytest.raises(ag.RateLimitedError) as info:
        await predict(8)
    assert info.value.retry_at == 1.0
    assert calls == [7]


def test_per_accepts_timedelta_and_repr() -> None:
    """`per` may be a timedelta; the repr shows the configuration."""
    limit = ag.RateLimit(60, per=timedelta(minutes=1), burst=5)
    assert limit.per == 60.0
    assert repr(limit) == "RateLimit(60, per=60, burst=5)"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate": 0}, "rate must be a finite number > 0, got 0"),
        ({"rate": -1.0}, "rate must be a finite number > 0, got -1.0"),
        ({"rate": math.inf}, "rate must be a finite number > 0, got inf"),
        ({"rate": math.nan}, "rate must be a finite number > 0, got nan"),
        ({"rate": True}, "rate must be a finite number > 0, got True"),
        ({"rate": "10"}, "rate must be a finite number > 0, got '10'"),
        ({"rate": 1, "per": 0}, f"per must be {SECONDS}, got 0"),
        ({"rate": 1, "per": "1s"}, f"per must be {SECONDS}, got '1s'"),
        ({"rate": 1, "burst": 0.5}, "burst must be a finite number >= 1, got 0.5"),
        ({"rate": 1, "burst": math.inf}, "burst must be a finite number >= 1, got inf"),
        ({"rate": 1, "clock": 3}, "clock must be a callable returning seconds, got 3"),
    ],
)
def test_validation(kwargs: dict[str, object], message: str) -> None:
    """Each bad parameter is named, with what was expected and what was given."""
    rate = kwargs.pop("rate")
    with pytest.raises(ag.ConfigurationError) as info:
        ag.RateLimit(rate, **kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message


# 1/rate is exact in binary floating point for these, so admission counts are exact too
DYADIC_RATES = st.sampled_from([0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0])


def _admitted_at_once(limit: ag.RateLimit, clock: FakeClock) -> int:
    """Calls admitted at one instant after a quiet spell long enough to fill any bucket here."""
    clock.advance(10_000)
    now = clock()
    return sum(limit.admit(now) >= 0 for _ in range(66))  # bursts here are at most 64


@settings(max_examples=50, deadline=None)  # each example builds up to 9 limits: 0.3 s at 100
@given(rate=DYADIC_RATES, burst=st.one_of(st.none(), st.integers(min_value=1, max_value=64)),
       changes=st.lists(st.tuples(DYADIC_RATES, st.integers(0, 3)), min_size=1, max_size=8))
def test_set_rate_depends_only_on_the_new_rate(
    rate: float, burst: int | None, changes: list[tuple[float, int]]
) -> None:
    """After any sequence of set_rate calls the limit is what one set_rate gives a fresh one."""
    clock = FakeClock()
    limit = ag.RateLimit(rate, burst=burst, clock=clock)
    configured = limit.burst
    for new_rate, calls in changes:
        limit.set_rate(new_rate)
        for _ in range(calls):  # some traffic between the changes
            limit.admit(clock())
        fresh = ag.RateLimit(rate, burst=burst, clock=clock)
        fresh.set_rate(new_rate)
        assert (limit.rate, limit.burst) == (new_rate, fresh.burst)
        ceiling = max(new_rate, 1.0)
        if burst is None:  # a defaulted burst follows the rate, up and down
            assert limit.burst == ceiling
        else:  # an explicit one never grows past itself, and shedding caps it
            assert limit.burst <= burst
            assert limit.burst == burst or (new_rate < rate and limit.burst == ceiling)
        if new_rate < rate:
            assert limit.burst <= ceiling
    assert _admitted_at_once(limit, clock) == limit.burst
    limit.set_rate(rate)  # restoring the configured rate restores the configured burst
    assert limit.burst == configured
    assert _admitted_at_once(limit, clock) == configured


def test_raising_the_rate_again_restores_the_default_burst() -> None:
    """RateLimit(64) shed to 8, then set back to 64: bursts of 64 again, not 8."""
    clock = FakeClock()
    limit = ag.RateLimit(64, clock=clock)  # dyadic rates: exact admission counts
    limit.set_rate(8)
    assert _admitted_at_once(limit, clock) == 8
    limit.set_rate(64)
    assert (repr(limit), _admitted_at_once(limit, clock)) == ("RateLimit(64, per=1, burst=64)", 64)


@given(
    rate=st.one_of(st.integers(1, 5_000).map(float), st.integers(1, 2_000).map(lambda k: k + 0.5)),
    now=st.floats(0.0, 1e7, allow_nan=False),
)
@settings(max_examples=60)
def test_a_full_bucket_admits_its_whole_burst_at_any_clock_reading(rate: float, now: float) -> None:
    """Float rounding of the schedule never costs a token: floor(burst) calls pass at one instant.

    Clock readings up to 1e7 s (a monotonic clock: about four months of uptime).

    Without the rounding slack, ``RateLimit(100)`` at ``now=0`` admitted 99 calls and
    ``RateLimit(10)`` at ``now=10_000`` admitted 9.
    """
    limit = ag.RateLimit(rate)
    admitted = 0
    while limit.admit(now) == 0:
        admitted += 1
        assert admitted <= rate + 1
    assert admitted == math.floor(limit.burst)
    # the next token comes at retry_at, not one rounding later
    at = limit.retry_at(now)
    assert at > now
    assert limit.admit(at) == 0
    assert limit.admit(at) == -1


def test_the_slack_is_rounding_only() -> None:
    """Half a token short is still refused: the slack is ulps, not a fraction of a token."""
    limit = ag.RateLimit(2, clock=lambda: 0.0)
    assert [limit.admit(0.0) for _ in range(3)] == [0, 0, -1]
    assert limit.admit(0.25) == -1
    assert limit.admit(0.5) == 0

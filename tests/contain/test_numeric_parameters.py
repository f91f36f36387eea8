"""Every numeric parameter of every containment constructor takes numpy scalars, refuses bools.

Config read from numpy arrays, pandas frames or YAML through numpy arrives as
``np.float32`` / ``np.int64``; the one validator module (``_core/_validate``)
accepts any ``numbers.Real`` / ``numbers.Integral`` and hands back plain Python
numbers, and refuses ``True`` / ``False`` as numbers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np
import pytest

import aiguard as ag
from aiguard.errors import ConfigurationError

Build = Callable[[Any], Any]
Read = Callable[[Any], Any]


def no_read(obj: Any) -> None:
    """Construction is the check (the value lives in private state)."""


# name, build(value), numpy value, read(obj) -> stored value or None, expected stored value
CASES: list[tuple[str, Build, Any, Read, Any]] = [
    ("CircuitBreaker.failure_rate", lambda v: ag.CircuitBreaker(failure_rate=v), np.float32(0.5),
     no_read, None),
    ("CircuitBreaker.slow_call_rate", lambda v: ag.CircuitBreaker(slow_call_rate=v),
     np.float64(0.75), no_read, None),
    ("CircuitBreaker.slow_call_duration", lambda v: ag.CircuitBreaker(slow_call_duration=v),
     np.float32(0.5), no_read, None),
    ("CircuitBreaker.window", lambda v: ag.CircuitBreaker(window=v), np.int64(100), no_read, None),
    ("CircuitBreaker.min_calls", lambda v: ag.CircuitBreaker(min_calls=v), np.int32(20),
     no_read, None),
    ("CircuitBreaker.open_for", lambda v: ag.CircuitBreaker(open_for=v), np.float32(30),
     no_read, None),
    ("CircuitBreaker.half_open_calls", lambda v: ag.CircuitBreaker(half_open_calls=v),
     np.int64(3), no_read, None),
    ("CircuitBreaker.half_open_max_wait", lambda v: ag.CircuitBreaker(half_open_max_wait=v),
     np.float64(60), no_read, None),
    ("TimeWindow.seconds", lambda v: ag.TimeWindow(seconds=v), np.float32(60),
     lambda w: w.seconds, 60.0),
    ("TimeWindow.buckets", lambda v: ag.TimeWindow(seconds=60, buckets=v), np.int64(12),
     lambda w: w.buckets, 12),
    ("RateLimit.rate", ag.RateLimit, np.int64(100), lambda r: r.rate, 100.0),
    ("RateLimit.per", lambda v: ag.RateLimit(10, per=v), np.float32(2), lambda r: r.per, 2.0),
    ("RateLimit.burst", lambda v: ag.RateLimit(10, burst=v), np.float64(20),
     lambda r: r.burst, 20.0),
    ("Bulkhead.max_concurrent", ag.Bulkhead, np.int64(4),
     lambda b: b.max_concurrent, 4),
    ("Bulkhead.max_wait", lambda v: ag.Bulkhead(2, max_wait=v), np.float32(0.25),
     lambda b: b.max_wait, 0.25),
    ("timeout.seconds", ag.timeout, np.float32(0.5), lambda t: t.seconds, 0.5),
    ("timeout.max_workers", lambda v: ag.timeout(1, max_workers=v), np.int64(8),
     lambda t: t.max_workers, 8),
    ("retry.attempts", lambda v: ag.retry(attempts=v), np.int64(3), lambda r: r.attempts, 3),
    ("retry.backoff", lambda v: ag.retry(backoff=v), np.float32(0.25),
     lambda r: r.backoff.initial, 0.25),
    ("retry.seed", lambda v: ag.retry(seed=v), np.int64(7), no_read, None),
    ("hedge.after", lambda v: ag.hedge(after=v), np.float32(0.5), lambda h: h.after, 0.5),
    ("hedge.max_extra", lambda v: ag.hedge(after=1, max_extra=v), np.int64(2),
     lambda h: h.max_extra, 2),
    ("hedge.max_workers", lambda v: ag.hedge(after=1, max_workers=v), np.int32(4),
     lambda h: h.max_workers, 4),
    ("Backoff.initial", lambda v: ag.Backoff(initial=v), np.float32(0.5),
     lambda b: b.initial, 0.5),
    ("Backoff.maximum", lambda v: ag.Backoff(maximum=v), np.float64(4), lambda b: b.maximum, 4.0),
    ("Backoff.multiplier", lambda v: ag.Backoff(multiplier=v), np.float32(1.5),
     lambda b: b.multiplier, 1.5),
    ("RetryBudget.ratio", lambda v: ag.RetryBudget(ratio=v), np.float32(0.25),
     lambda b: b.ratio, 0.25),
    ("RetryBudget.min_per_second", lambda v: ag.RetryBudget(min_per_second=v), np.int64(2),
     lambda b: b.min_per_second, 2.0),
    ("RetryBudget.window", lambda v: ag.RetryBudget(window=v), np.float32(5),
     lambda b: b.window, 5.0),
    ("Guard.rate_limit", lambda v: ag.Guard(rate_limit=v), np.float32(50),
     lambda g: g.config.rate_limit.rate, 50.0),
    ("Guard.bulkhead", lambda v: ag.Guard(bulkhead=v), np.int64(3),
     lambda g: g.config.bulkhead.max_concurrent, 3),
    ("Guard.timeout", lambda v: ag.Guard(timeout=v), np.float32(0.25),
     lambda g: g.config.timeout.seconds, 0.25),
    ("Guard.retry", lambda v: ag.Guard(retry=v), np.int64(2), lambda g: g.config.retry.attempts, 2),
    ("Guard.hedge", lambda v: ag.Guard(hedge=v), np.float32(0.5),
     lambda g: g.config.hedge.after, 0.5),
    ("checks.in_range.lo", lambda v: ag.checks.in_range(v, None), np.float32(0.5), repr,
     "in_range(0.5, None)"),
    ("checks.in_range.hi", lambda v: ag.checks.in_range(None, v), np.int64(1), repr,
     "in_range(None, 1)"),
    ("checks.probabilities.axis", lambda v: ag.checks.probabilities(axis=v), np.int64(0), repr,
     "probabilities(axis=0)"),
    ("checks.probabilities.atol", lambda v: ag.checks.probabilities(atol=v), np.float32(0.5),
     repr, "probabilities(atol=0.5)"),
    ("checks.not_constant.atol", lambda v: ag.checks.not_constant(atol=v), np.float32(0.5),
     repr, "not_constant(atol=0.5, min_rows=10)"),
    ("checks.not_constant.min_rows", lambda v: ag.checks.not_constant(min_rows=v), np.int64(3),
     repr, "not_constant(atol=1e-09, min_rows=3)"),
]

IDS = [case[0] for case in CASES]


@pytest.mark.parametrize(("name", "build", "value", "read", "expected"), CASES, ids=IDS)
def test_numpy_scalars_are_accepted_and_stored_as_python_numbers(
    name: str, build: Build, value: Any, read: Read, expected: Any
) -> None:
    """A numpy scalar works wherever a Python number does, and is stored as one."""
    obj = build(value)
    stored = read(obj)
    if expected is not None:
        assert stored == expected
        assert type(stored) in (int, float, str), name


@pytest.mark.parametrize(("name", "build", "value", "read", "expected"), CASES, ids=IDS)
def test_bools_are_refused(name: str, build: Build, value: Any, read: Read,
                           expected: Any) -> None:
    """True is not a number of calls, seconds or a rate: ConfigurationError naming the argument."""
    for flag in (True, np.bool_(True)):
        with pytest.raises(ConfigurationError) as info:
            build(flag)
        assert info.value.argument, name


def test_the_breaker_behaves_the_same_with_numpy_settings() -> None:
    """A breaker configured from numpy scalars trips and waits exactly like one from floats."""
    from aiguard.testing import FakeClock

    def run(**kw: Any) -> list[str]:
        clock = FakeClock()
        b = ag.CircuitBreaker(clock=clock, **kw)
        states = []
        for failed in (1.0, 0.0, 1.0, 1.0):
            with contextlib.suppress(ag.CircuitOpenError):
                b.acquire().failure(weight=failed)
            states.append(b.state.value)
        clock.advance(29.9)
        states.append(str(b.metrics.retry_at))
        return states

    plain = run(window=4, min_calls=3, failure_rate=0.6, open_for=30.0, half_open_calls=2)
    numpy = run(window=np.int64(4), min_calls=np.int32(3), failure_rate=np.float32(0.6),
                open_for=np.float32(30), half_open_calls=np.int64(2))
    assert numpy == plain
    assert plain[-1] == "30.0"


def test_timedelta_durations_still_work() -> None:
    """Durations also take a timedelta."""
    assert ag.RateLimit(1, per=timedelta(seconds=2)).per == 2.0
    assert ag.TimeWindow(seconds=timedelta(minutes=1)).seconds == 60.0

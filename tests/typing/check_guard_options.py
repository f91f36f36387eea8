"""Type-checked only: guard(**options) keywords are checked; factories return public types."""

from __future__ import annotations

from typing_extensions import assert_type

import aiguard as ag

recs = ag.guard(name="recs", timeout=0.25, retry=2, rate_limit=100.0, bulkhead=8)
assert_type(recs, ag.Guard)
ag.guard(nmae="recs")  # type: ignore[call-overload]
ag.guard(timeout="fast")  # type: ignore[call-overload]
ag.guard(bulkhead=2.5)  # type: ignore[call-overload]
ag.Guard(retry="twice")  # type: ignore[arg-type]
ag.Guard(breaker=ag.RateLimit(1))  # type: ignore[arg-type]

options: ag.GuardOptions = {"name": "scores", "hedge": 0.05, "fallback_rows": False}
scores = ag.guard(**options)
bad: ag.GuardOptions = {"fallback_rows": "yes"}  # type: ignore[typeddict-item]

config: ag.GuardConfig = recs.config
limit: ag.RateLimit | None = config.rate_limit
deadline: ag.Timeout = ag.timeout(0.5)
retrier: ag.Retry = ag.retry(attempts=3)
hedger: ag.Hedge = ag.hedge(after=0.1)
assert_type(config.timeout, ag.Timeout | None)
assert_type(config.retry, ag.Retry | None)
assert_type(config.hedge, ag.Hedge | None)

breaker = ag.CircuitBreaker()
permit: ag.BreakerPermit = breaker.acquire()
permit.failure(weight=0.3, duration=0.01)
permit.success(duration="1s")  # type: ignore[arg-type]
with breaker.permit() as held:
    assert_type(held, ag.BreakerPermit)

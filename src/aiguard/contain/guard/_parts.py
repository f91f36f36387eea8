"""The pieces of the Guard pipeline that the sync and async shells share.

Outcome sinks, the failure weight of a check's verdict, the composition of
the timeout / retry / hedge wrappers, typed rejections, and the slow paths
(:class:`Driver`: rejections served by the ladder, errors, invalid outputs).
The shells themselves, with the happy path inlined, are in ``_pipeline.py``.
Stages are driven through their stage contract (:mod:`aiguard._core._stage`)
and public methods only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from aiguard._core._events import log_once
from aiguard.contain._checks import unguarded
from aiguard.errors import (
    BulkheadFullError,
    FallbackFailedError,
    FeatureDisabledError,
    GuardTimeoutError,
    InvalidInputError,
    RateLimitedError,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from aiguard.contain.breaker import CircuitBreaker
    from aiguard.contain.guard._config import GuardConfig

__all__ = ["RAISED", "Driver", "OutcomeTuple", "Sink", "compose_async", "compose_sync",
           "failure_weight", "rejection"]

#: ``served_by`` of a call that raised to the caller (no fallback served it).
RAISED = "raised"

# served_by, reason, stage, rows_replaced, latency, error
OutcomeTuple = tuple[str, "str | None", str, int, float, "BaseException | None"]


class Sink:
    """Where outcomes go: the guard's context variable, then its taps and listeners.

    The happy path calls ``store`` and, only when ``listeners`` is non-empty
    (something listens: a raw tap such as the guard's stats, or an
    :class:`~aiguard.Outcome` listener), ``notify``; the slow paths call
    ``emit`` (both). ``notify`` hands the raw tuple to the taps and builds the
    ``Outcome`` only when an Outcome listener is attached.
    """

    __slots__ = ("listeners", "notify", "store")

    def __init__(
        self,
        store: Callable[[OutcomeTuple], object],
        listeners: list[Callable[..., Any]],
        notify: Callable[[OutcomeTuple], None],
    ) -> None:
        self.store = store
        self.listeners = listeners
        self.notify = notify

    def emit(self, outcome: OutcomeTuple) -> None:
        """Record *outcome* for ``last_outcome`` and tell the listeners."""
        self.store(outcome)
        if self.listeners:
            self.notify(outcome)


def failure_weight(mask: Any) -> float:
    """Turn a check's verdict into a failure weight in [0, 1] for the breaker.

    ``True`` -> 0.0, ``False`` -> 1.0, a per-row mask -> the share of bad rows.
    """
    if mask is True:
        return 0.0
    if mask is False:
        return 1.0
    arr = np.asarray(mask, dtype=bool)
    if arr.ndim == 0:
        return 0.0 if bool(arr) else 1.0
    if arr.size == 0:
        return 0.0
    return 1.0 - np.count_nonzero(arr) / arr.size


def _breaker_open(breaker: CircuitBreaker | None) -> Callable[[], bool] | None:
    """Retry's ``should_stop``: stop retrying while the breaker rejects calls."""
    if breaker is None:
        return None

    def is_open() -> bool:
        return breaker.is_open

    return is_open


def compose_sync(parts: GuardConfig, call: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap the model call in hedge, retry and timeout, innermost first."""
    execute = call
    if parts.hedge is not None:
        hedge, inner_h = parts.hedge, execute

        def execute(*a: Any, **k: Any) -> Any:
            return hedge.call(inner_h, a, k)

    if parts.retry is not None:
        retry, inner_r = parts.retry, execute
        should_stop = _breaker_open(parts.breaker)

        def execute(*a: Any, **k: Any) -> Any:
            return retry.call(inner_r, a, k, should_stop=should_stop)

    if parts.timeout is not None:
        timeout, inner_t = parts.timeout, execute

        def execute(*a: Any, **k: Any) -> Any:
            return timeout.call(inner_t, a, k)

    return execute


def compose_async(parts: GuardConfig, call: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    """Async twin of :func:`compose_sync`."""
    execute = call
    if parts.hedge is not None:
        hedge, inner_h = parts.hedge, execute

        async def execute(*a: Any, **k: Any) -> Any:
            return await hedge.acall(inner_h, a, k)

    if parts.retry is not None:
        retry, inner_r = parts.retry, execute
        should_stop = _breaker_open(parts.breaker)

        async def execute(*a: Any, **k: Any) -> Any:
            return await retry.acall(inner_r, a, k, should_stop=should_stop)

    if parts.timeout is not None:
        timeout, inner_t = parts.timeout, execute

        async def execute(*a: Any, **k: Any) -> Any:
            return await timeout.acall(inner_t, a, k)

    return execute


def rejection(parts: GuardConfig, reason: str, now: float) -> BaseException:
    """Build the typed error for a call that containment refused (slow path only)."""
    name = parts.name
    if reason == "disabled":
        flag = parts.kill_switch or ""
        return FeatureDisabledError(
            f"guard {name!r}: feature {flag!r} is switched off", guard=name, flag=flag
        )
    if reason == "rate_limited":
        assert parts.rate_limit is not None
        retry_at = parts.rate_limit.retry_at(now)
        return RateLimitedError(
            f"guard {name!r}: rate limit reached, next token at {retry_at:.3f}",
            guard=name,
            retry_at=retry_at,
        )
    return BulkheadFullError(f"guard {name!r}: bulkhead full", guard=name)


class Driver:
    """The slow paths both shells share: serving fallbacks, recording, judging results.

    Only what happens off the happy path (rejections, errors, invalid
    outputs) lives here; the happy path is inlined in the shells. ``serve`` /
    ``judged`` have ``async`` twins ``aserve`` / ``ajudged``, line for line.
    """

    __slots__ = ("_mask", "clock", "emit", "parts", "serve")

    def __init__(self, parts: GuardConfig, sink: Sink) -> None:
        self.parts = parts
        self.clock = parts.clock
        self.emit = sink.emit
        self._mask = None if parts.check is None else unguarded(parts.check)
        self.serve = _serving(self, sink)
        """``serve(reason, stage, t0, args, kwargs, *, error=None)``: serve the whole
        call from the ladder, or raise the refusal or error (a closure: a kill-switched
        call is served through it, budget 1 µs added)."""

    def reason_of(self, exc: BaseException) -> tuple[str, str]:
        """Map an exception raised inside the breaker's scope to (reason, stage)."""
        if isinstance(exc, GuardTimeoutError):
            if exc.guard is None:
                exc.guard = self.parts.name
            return "timeout", "timeout"
        return "error", "model"

    def raised(self, reason: str, stage: str, t0: float, exc: BaseException) -> BaseException:
        """Record that the call raised *exc* to the caller; return *exc* to raise."""
        self.emit((RAISED, reason, stage, 0, self.clock() - t0, exc))
        return exc

    def can_fall_back(self, exc: BaseException) -> bool:
        """Whether the ladder serves for *exc* (fallback_on filter)."""
        return self.parts.ladder is not None and self.parts.fallback_on(exc)

    def record_breaker(self, permit: int, t0: float, t1: float, weight: float | None) -> None:
        """Report to the breaker; aiguard's own faults here never reach the caller."""
        breaker = self.parts.breaker
        assert breaker is not None
        try:
            if weight is None:
                breaker.ignore(permit)
            else:
                breaker.record(permit, t1, t1 - t0, weight)
        except Exception:
            log_once("breaker-record", "aiguard: breaker %r failed to record", breaker.name)

    def failed(self, permit: int, t0: float, exc: BaseException) -> tuple[str, str]:
        """The model (or timeout/retry) raised *exc*: tell the breaker, return (reason, stage)."""
        breaker = self.parts.breaker
        if breaker is not None:
            self.record_breaker(permit, t0, self.clock(), breaker.exception_weight(exc))
        return self.reason_of(exc)

    def judge(self, result: Any, mask: Any = None) -> tuple[float, Any]:
        """Return (failure weight, mask) for a model result; never raises.

        *mask* is the check's verdict when the caller already has it.
        """
        parts = self.parts
        weight = 0.0
        try:
            if self._mask is not None:
                if mask is None:
                    mask = self._mask(result)
                weight = failure_weight(mask)
            else:
                mask = True
            if parts.breaker is not None and parts.breaker.judges_results:
                weight = max(weight, float(parts.breaker.result_weight(result)))
        except Exception:
            log_once("check", "aiguard: guard %r could not judge a result", parts.name)
            return 1.0, False
        return weight, mask

    def settle(
        self, permit: int, t0: float, t1: float, result: Any, verdict: Any,
    ) -> tuple[str, Any]:
        """Judge a result the quick check did not pass, record it, decide what serves.

        Returns ``("done", None)`` when the model's result stands (outcome
        emitted), ``("rows", mask)`` for a per-row fallback, ``("whole", None)``
        for the ladder to serve the whole call.
        """
        parts = self.parts
        weight, mask = self.judge(result, verdict)
        if parts.breaker is not None:
            self.record_breaker(permit, t0, t1, weight)
        if weight == 0.0:
            self.emit(("model", None, "model", 0, t1 - t0, None))
            return "done", None
        if parts.ladder is None:
            self.emit(("model", "invalid", "check", 0, t1 - t0, None))
            return "done", None
        if parts.fallback_rows and isinstance(mask, np.ndarray) and mask.ndim == 1:
            return "rows", mask
        return "whole", None

    async def aserve(self, reason: str, stage: str, t0: float, a: tuple[Any, ...],
                     k: dict[str, Any], *, error: BaseException | None = None) -> Any:
        """Async twin of :meth:`serve`."""
        if self.parts.ladder is not None:
            try:
                result, tier = await self.parts.ladder.aserve(a, k, cause=error)
            except FallbackFailedError as failed:
                raise self.raised(reason, stage, t0, failed)  # noqa: B904 - the same error
            return self.served(tier, reason, stage, t0, error, result)
        raise self.refused(reason, stage, t0, error)

    def refused(self, reason: str, stage: str, t0: float,
                error: BaseException | None) -> BaseException:
        """No ladder: record and return what the caller gets, the error or a typed refusal."""
        refused = error if error is not None else rejection(self.parts, reason, t0)
        return self.raised(reason, stage, t0, refused)

    def served(  # noqa: PLR0917 - internal, positional like its callers
        self, tier: str, reason: str, stage: str, t0: float, error: BaseException | None,
        result: Any,
    ) -> Any:
        """A fallback tier served the whole call: record it, return its answer."""
        self.emit((tier, reason, stage, 0, self.clock() - t0, error))
        return result

    def judged(  # noqa: PLR0917 - internal, positional for speed
        self, permit: int, t0: float, t1: float, result: Any, verdict: Any,
        a: tuple[Any, ...], k: dict[str, Any],
    ) -> Any:
        """A result the quick check did not pass: record it, then return or replace it."""
        decision, mask = self.settle(permit, t0, t1, result, verdict)
        if decision == "done":
            return result
        if decision == "whole":
            return self.serve("invalid", "check", t0, a, k)
        ladder = self.parts.ladder
        assert ladder is not None
        try:
            merged, _tier, n = ladder.serve_rows(result, mask, a, k)
        except (FallbackFailedError, InvalidInputError) as failed:
            raise self.raised("invalid", "check", t0, failed)  # noqa: B904 - the same error
        return self.rows_served(t0, n, merged)

    async def ajudged(  # noqa: PLR0917 - internal, positional for speed
        self, permit: int, t0: float, t1: float, result: Any, verdict: Any,
        a: tuple[Any, ...], k: dict[str, Any],
    ) -> Any:
        """Async twin of :meth:`judged`."""
        decision, mask = self.settle(permit, t0, t1, result, verdict)
        if decision == "rows":
            ladder = self.parts.ladder
            assert ladder is not None
            try:
                merged, _tier, n = await ladder.aserve_rows(result, mask, a, k)
            except (FallbackFailedError, InvalidInputError) as failed:
                raise self.raised("invalid", "check", t0, failed)  # noqa: B904 - the same error
            return self.rows_served(t0, n, merged)
        if decision == "whole":
            return await self.aserve("invalid", "check", t0, a, k)
        return result

    def rows_served(self, t0: float, n: int, merged: Any) -> Any:
        """A per-row fallback replaced *n* rows: record it, return the merged batch."""
        self.emit(("model", "invalid", "check", n, self.clock() - t0, None))
        return merged


def _serving(drv: Driver, sink: Sink) -> Callable[..., Any]:
    """The driver's ``serve``, a closure over what it reads (cheaper than a bound method)."""
    ladder, clock = drv.parts.ladder, drv.clock
    store, listeners, notify = sink.store, sink.listeners, sink.notify

    def serve(reason: str, stage: str, t0: float, a: tuple[Any, ...], k: dict[str, Any], *,
              error: BaseException | None = None) -> Any:
        if ladder is None:
            raise drv.refused(reason, stage, t0, error)
        try:
            result, tier = ladder.serve(a, k, cause=error)
        except FallbackFailedError as failed:
            raise drv.raised(reason, stage, t0, failed)  # noqa: B904 - the same error
        outcome = (tier, reason, stage, 0, clock() - t0, error)  # Sink.emit, inlined
        store(outcome)
        if listeners:
            notify(outcome)
        return result

    return serve

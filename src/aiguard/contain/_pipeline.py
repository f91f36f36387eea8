"""The Guard pipeline: one decision sequence, a sync shell and an async shell.

Order (fixed, see docs/contain/guard.md for why):

    kill switch -> rate limit -> bulkhead -> breaker -> timeout -> retry -> (hedge)
    -> model -> output check -> record -> fallback ladder

The stages that wrap the model call (timeout, retry, hedge) are composed into
one ``execute`` closure at construction, so an absent stage costs nothing. The
admission stages are single ``is not None`` tests on closure cells.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from aiguard._core._events import log_once
from aiguard.errors import (
    BulkheadFullError,
    CircuitOpenError,
    FallbackFailedError,
    FeatureDisabledError,
    GuardTimeoutError,
    InvalidInputError,
    RateLimitedError,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from aiguard.contain._guard import GuardConfig

__all__ = ["RAISED", "Sink", "build_async", "build_sync", "failure_weight"]


#: ``served_by`` of a call that raised to the caller (no fallback served it).
RAISED = "raised"

# served_by, reason, stage, rows_replaced, latency, error
OutcomeTuple = tuple[str, "str | None", str, int, float, "BaseException | None"]


class Sink:
    """Where outcomes go: the guard's context variable, then its listeners.

    The happy path calls ``store`` and, only when ``listeners`` is non-empty,
    ``notify``; the slow paths call ``emit`` (both).
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


def _compose_sync(parts: GuardConfig, call: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap the model call in hedge, retry and timeout, innermost first."""
    execute = call
    if parts.hedge is not None:
        hedge, inner_h = parts.hedge, execute

        def execute(*a: Any, **k: Any) -> Any:
            return hedge.call(inner_h, a, k)

    if parts.retry is not None:
        retry, inner_r = parts.retry, execute
        should_stop = parts.breaker._is_open if parts.breaker is not None else None

        def execute(*a: Any, **k: Any) -> Any:
            return retry.call(inner_r, a, k, should_stop=should_stop)

    if parts.timeout is not None:
        timeout, inner_t = parts.timeout, execute

        def execute(*a: Any, **k: Any) -> Any:
            return timeout.call(inner_t, a, k)

    return execute


def _compose_async(parts: GuardConfig, call: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    """Async twin of :func:`_compose_sync`."""
    execute = call
    if parts.hedge is not None:
        hedge, inner_h = parts.hedge, execute

        async def execute(*a: Any, **k: Any) -> Any:
            return await hedge.acall(inner_h, a, k)

    if parts.retry is not None:
        retry, inner_r = parts.retry, execute
        should_stop = parts.breaker._is_open if parts.breaker is not None else None

        async def execute(*a: Any, **k: Any) -> Any:
            return await retry.acall(inner_r, a, k, should_stop=should_stop)

    if parts.timeout is not None:
        timeout, inner_t = parts.timeout, execute

        async def execute(*a: Any, **k: Any) -> Any:
            return await timeout.acall(inner_t, a, k)

    return execute


def _rejection(parts: GuardConfig, reason: str, now: float) -> BaseException:
    """Build the typed error for a call that containment refused (slow path only)."""
    name = parts.name
    if reason == "disabled":
        flag = parts.kill_switch or ""
        return FeatureDisabledError(
            f"guard {name!r}: feature {flag!r} is switched off", guard=name, flag=flag
        )
    if reason == "rate_limited":
        assert parts.rate_limit is not None
        retry_at = parts.rate_limit._retry_at(now)
        return RateLimitedError(
            f"guard {name!r}: rate limit reached, next token at {retry_at:.3f}",
            guard=name,
            retry_at=retry_at,
        )
    return BulkheadFullError(f"guard {name!r}: bulkhead full", guard=name)


class Driver:
    """The pieces both shells share: outcome recording and the fallback decisions.

    Only the slow paths (rejections, errors, invalid outputs) live here; the
    happy path is inlined in the shells.
    """

    __slots__ = ("parts",)

    def __init__(self, parts: GuardConfig) -> None:
        self.parts = parts

    def reason_of(self, exc: BaseException) -> tuple[str, str]:
        """Map an exception raised inside the breaker's scope to (reason, stage)."""
        if isinstance(exc, GuardTimeoutError):
            if exc.guard is None:
                exc.guard = self.parts.name
            return "timeout", "timeout"
        return "error", "model"

    def raised(
        self, reason: str, stage: str, t0: float, exc: BaseException,
        emit: Callable[[OutcomeTuple], None],
    ) -> BaseException:
        """Record that the call raised *exc* to the caller; return *exc* to raise."""
        emit((RAISED, reason, stage, 0, self.parts.clock() - t0, exc))
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
                breaker._on_ignored(permit)
            else:
                breaker._on_result(permit, t1, t1 - t0, weight)
        except Exception:
            log_once("breaker-record", "aiguard: breaker %r failed to record", breaker.name)

    def judge(self, result: Any, mask: Any = None) -> tuple[float, Any]:
        """Return (failure weight, mask) for a model result; never raises.

        *mask* is the check's verdict when the caller already has it.
        """
        parts = self.parts
        weight = 0.0
        try:
            if parts.check is not None:
                if mask is None:
                    mask = parts.check._mask(result)
                weight = failure_weight(mask)
            else:
                mask = True
            if parts.breaker is not None and parts.breaker._judges_results:
                weight = max(weight, float(parts.breaker._result_weight(result)))
        except Exception:
            log_once("check", "aiguard: guard %r could not judge a result", parts.name)
            return 1.0, False
        return weight, mask

    def rows_wanted(self, mask: Any) -> bool:
        """Whether a per-row fallback applies to this verdict."""
        return self.parts.fallback_rows and isinstance(mask, np.ndarray) and mask.ndim == 1


def build_sync(
    parts: GuardConfig, model: Callable[..., Any], sink: Sink
) -> tuple[Callable[..., Any], Callable[[Callable[..., Any]], None]]:
    """Return (guarded function, set_model) for a synchronous model."""
    drv = Driver(parts)
    clock = parts.clock
    flags_enabled = parts.flags.enabled if parts.flags is not None else None
    ks = parts.kill_switch
    rate_limit = parts.rate_limit
    bulkhead = parts.bulkhead
    breaker = parts.breaker
    ladder = parts.ladder
    current = [model]

    def call_model(*a: Any, **k: Any) -> Any:
        return current[0](*a, **k)

    direct = parts.timeout is None and parts.retry is None and parts.hedge is None
    execute = model if direct else _compose_sync(parts, call_model)
    judges = breaker is not None and breaker._judges_results
    check_or_judge = parts.check is not None or judges
    quick_check = parts.check._mask if parts.check is not None and not judges else None
    store, listeners, notify = sink.store, sink.listeners, sink.notify
    emit = sink.emit

    # One unchecked tier (the common rule-based fallback): called directly.
    single = ladder._sync[0] if ladder is not None and ladder.simple else None

    def serve(reason: str, stage: str, t0: float, a: tuple[Any, ...], k: dict[str, Any], *,
              error: BaseException | None = None) -> Any:
        if single is not None:
            tier, handler = single
            try:
                result = handler(*a, **k)
            except Exception as tier_error:
                failed = ladder._error([tier_error])
                drv.raised(reason, stage, t0, failed, emit)
                raise failed from error
        elif ladder is None:
            rejection = error if error is not None else _rejection(parts, reason, t0)
            raise drv.raised(reason, stage, t0, rejection, emit)
        else:
            try:
                result, tier = ladder.serve(a, k, cause=error)
            except FallbackFailedError as failed:
                drv.raised(reason, stage, t0, failed, emit)
                raise
        outcome = (tier, reason, stage, 0, clock() - t0, error)
        store(outcome)
        if listeners:
            notify(outcome)
        return result

    def judged(  # noqa: PLR0917 - internal, positional for speed
        permit: int, t0: float, t1: float, result: Any, verdict: Any,
        a: tuple[Any, ...], k: dict[str, Any],
    ) -> Any:
        weight, mask = drv.judge(result, verdict)
        if breaker is not None:
            drv.record_breaker(permit, t0, t1, weight)
        if weight == 0.0:
            emit(("model", None, "model", 0, t1 - t0, None))
            return result
        if ladder is None:
            emit(("model", "invalid", "check", 0, t1 - t0, None))
            return result
        if drv.rows_wanted(mask):
            try:
                merged, _tier, n = ladder.serve_rows(result, mask, a, k)
            except (FallbackFailedError, InvalidInputError) as failed:
                drv.raised("invalid", "check", t0, failed, emit)
                raise
            emit(("model", "invalid", "check", n, clock() - t0, None))
            return merged
        return serve("invalid", "check", t0, a, k)

    def guarded(*a: Any, **k: Any) -> Any:
        t0 = clock()
        if ks is not None and not flags_enabled(ks):  # type: ignore[misc]
            return serve("disabled", "kill_switch", t0, a, k)
        if rate_limit is not None and not rate_limit._acquire(t0):
            return serve("rate_limited", "rate_limit", t0, a, k)
        if bulkhead is not None and not bulkhead._enter():
            return serve("bulkhead_full", "bulkhead", t0, a, k)
        try:
            permit = 0
            if breaker is not None:
                try:
                    permit = breaker._acquire(t0)
                except CircuitOpenError as exc:
                    return serve("open", "breaker", t0, a, k, error=exc)
            try:
                result = execute(*a, **k)
            except BaseException as exc:
                t1 = clock()
                if breaker is not None:
                    drv.record_breaker(permit, t0, t1, breaker._exception_weight(exc))
                reason, stage = drv.reason_of(exc)
                if not isinstance(exc, Exception) or not drv.can_fall_back(exc):
                    drv.raised(reason, stage, t0, exc, emit)
                    raise
                return serve(reason, stage, t0, a, k, error=exc)
            t1 = clock()
            if check_or_judge:
                verdict = None
                if quick_check is not None:
                    try:
                        verdict = quick_check(result)
                    except Exception:  # judged again, safely, on the slow path
                        verdict = None
                if verdict is not True:
                    return judged(permit, t0, t1, result, verdict, a, k)
            if breaker is not None:
                try:
                    breaker._on_result(permit, t1, t1 - t0, 0.0)
                except Exception:  # aiguard's own fault never reaches the caller
                    log_once("breaker-record", "aiguard: breaker %r failed to record",
                             breaker.name)
            outcome = ("model", None, "model", 0, t1 - t0, None)
            store(outcome)
            if listeners:
                notify(outcome)
            return result
        finally:
            if bulkhead is not None:
                bulkhead._leave()

    def set_model(new: Callable[..., Any]) -> None:
        nonlocal execute
        current[0] = new
        if direct:
            execute = new

    return guarded, set_model


def build_async(
    parts: GuardConfig, model: Callable[..., Awaitable[Any]], sink: Sink
) -> tuple[Callable[..., Awaitable[Any]], Callable[[Callable[..., Any]], None]]:
    """Return (guarded coroutine function, set_model) for an ``async def`` model."""
    drv = Driver(parts)
    clock = parts.clock
    flags_enabled = parts.flags.enabled if parts.flags is not None else None
    ks = parts.kill_switch
    rate_limit = parts.rate_limit
    bulkhead = parts.bulkhead
    breaker = parts.breaker
    ladder = parts.ladder
    current = [model]

    async def call_model(*a: Any, **k: Any) -> Any:
        return await current[0](*a, **k)

    direct = parts.timeout is None and parts.retry is None and parts.hedge is None
    execute = model if direct else _compose_async(parts, call_model)
    judges = breaker is not None and breaker._judges_results
    check_or_judge = parts.check is not None or judges
    quick_check = parts.check._mask if parts.check is not None and not judges else None
    store, listeners, notify = sink.store, sink.listeners, sink.notify
    emit = sink.emit

    async def serve(reason: str, stage: str, t0: float, a: tuple[Any, ...],
                    k: dict[str, Any], *, error: BaseException | None = None) -> Any:
        if ladder is None:
            exc = error if error is not None else _rejection(parts, reason, t0)
            raise drv.raised(reason, stage, t0, exc, emit)
        try:
            result, tier = await ladder.aserve(a, k, cause=error)
        except FallbackFailedError as failed:
            drv.raised(reason, stage, t0, failed, emit)
            raise
        emit((tier, reason, stage, 0, clock() - t0, error))
        return result

    async def judged(  # noqa: PLR0917 - internal, positional for speed
        permit: int, t0: float, t1: float, result: Any, verdict: Any,
        a: tuple[Any, ...], k: dict[str, Any],
    ) -> Any:
        weight, mask = drv.judge(result, verdict)
        if breaker is not None:
            drv.record_breaker(permit, t0, t1, weight)
        if weight == 0.0:
            emit(("model", None, "model", 0, t1 - t0, None))
            return result
        if ladder is None:
            emit(("model", "invalid", "check", 0, t1 - t0, None))
            return result
        if drv.rows_wanted(mask):
            try:
                merged, _tier, n = await ladder.aserve_rows(result, mask, a, k)
            except (FallbackFailedError, InvalidInputError) as failed:
                drv.raised("invalid", "check", t0, failed, emit)
                raise
            emit(("model", "invalid", "check", n, clock() - t0, None))
            return merged
        return await serve("invalid", "check", t0, a, k)

    async def guarded(*a: Any, **k: Any) -> Any:
        t0 = clock()
        if ks is not None and not flags_enabled(ks):  # type: ignore[misc]
            return await serve("disabled", "kill_switch", t0, a, k)
        if rate_limit is not None and not rate_limit._acquire(t0):
            return await serve("rate_limited", "rate_limit", t0, a, k)
        if bulkhead is not None and not (bulkhead._try_enter() or await bulkhead._aenter()):
            return await serve("bulkhead_full", "bulkhead", t0, a, k)
        try:
            permit = 0
            if breaker is not None:
                try:
                    permit = breaker._acquire(t0)
                except CircuitOpenError as exc:
                    return await serve("open", "breaker", t0, a, k, error=exc)
            try:
                result = await execute(*a, **k)
            except BaseException as exc:
                t1 = clock()
                if breaker is not None:
                    drv.record_breaker(permit, t0, t1, breaker._exception_weight(exc))
                reason, stage = drv.reason_of(exc)
                if not isinstance(exc, Exception) or not drv.can_fall_back(exc):
                    drv.raised(reason, stage, t0, exc, emit)
                    raise
                return await serve(reason, stage, t0, a, k, error=exc)
            t1 = clock()
            if check_or_judge:
                verdict = None
                if quick_check is not None:
                    try:
                        verdict = quick_check(result)
                    except Exception:  # judged again, safely, on the slow path
                        verdict = None
                if verdict is not True:
                    return await judged(permit, t0, t1, result, verdict, a, k)
            if breaker is not None:
                try:
                    breaker._on_result(permit, t1, t1 - t0, 0.0)
                except Exception:  # aiguard's own fault never reaches the caller
                    log_once("breaker-record", "aiguard: breaker %r failed to record",
                             breaker.name)
            outcome = ("model", None, "model", 0, t1 - t0, None)
            store(outcome)
            if listeners:
                notify(outcome)
            return result
        finally:
            if bulkhead is not None:
                bulkhead._leave()

    def set_model(new: Callable[..., Any]) -> None:
        nonlocal execute
        current[0] = new
        if direct:
            execute = new

    return guarded, set_model

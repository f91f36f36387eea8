"""The Guard pipeline: one decision sequence, a sync shell and an async shell.

Order (fixed, see docs/contain/guard.md for why):

    kill switch -> rate limit -> bulkhead -> breaker -> timeout -> retry -> (hedge)
    -> model -> output check -> record -> fallback ladder

The stages that wrap the model call (timeout, retry, hedge) are composed into
one ``execute`` closure at construction, so an absent stage costs nothing. The
admission stages are single ``is not None`` tests on closure cells.

The two shells are kept line for line parallel on purpose: the happy path is
inlined in each (every extra Python call costs ~80 ns, and the Guard's budget
is 1.5 us for kill switch + breaker + check + fallback); what they share lives
in ``_pipeline_parts.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiguard._core._events import log_once
from aiguard.contain.guard._parts import (
    RAISED,
    Driver,
    OutcomeTuple,
    Sink,
    compose_async,
    compose_sync,
    failure_weight,
    rejection,
)
from aiguard.errors import CircuitOpenError, FallbackFailedError, InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from aiguard.contain.guard._guard import GuardConfig

__all__ = ["RAISED", "OutcomeTuple", "Sink", "build_async", "build_sync", "failure_weight"]


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
    execute = model if direct else compose_sync(parts, call_model)
    judges = breaker is not None and breaker._judges_results
    check_or_judge = parts.check is not None or judges
    quick_check = parts.check._mask if parts.check is not None and not judges else None
    store, listeners, notify = sink.store, sink.listeners, sink.notify
    emit = sink.emit

    def serve(reason: str, stage: str, t0: float, a: tuple[Any, ...], k: dict[str, Any], *,
              error: BaseException | None = None) -> Any:
        if ladder is None:
            refused = error if error is not None else rejection(parts, reason, t0)
            raise drv.raised(reason, stage, t0, refused, emit)
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
        decision, mask = drv.settle(permit, t0, t1, result, verdict, emit)
        if decision == "done":
            return result
        if decision == "rows":
            assert ladder is not None
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
    execute = model if direct else compose_async(parts, call_model)
    judges = breaker is not None and breaker._judges_results
    check_or_judge = parts.check is not None or judges
    quick_check = parts.check._mask if parts.check is not None and not judges else None
    store, listeners, notify = sink.store, sink.listeners, sink.notify
    emit = sink.emit

    async def serve(reason: str, stage: str, t0: float, a: tuple[Any, ...],
                    k: dict[str, Any], *, error: BaseException | None = None) -> Any:
        if ladder is None:
            refused = error if error is not None else rejection(parts, reason, t0)
            raise drv.raised(reason, stage, t0, refused, emit)
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
        decision, mask = drv.settle(permit, t0, t1, result, verdict, emit)
        if decision == "done":
            return result
        if decision == "rows":
            assert ladder is not None
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

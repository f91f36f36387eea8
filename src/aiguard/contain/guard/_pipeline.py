"""The Guard pipeline: one decision sequence, a sync shell and an async shell.

Order (fixed, see docs/contain/guard.md for why):

    kill switch -> rate limit -> bulkhead -> breaker -> timeout -> retry -> (hedge)
    -> model -> output check -> record -> fallback ladder

The stages that wrap the model call (timeout, retry, hedge) are composed into
one ``execute`` closure at construction, so an absent stage costs nothing. The
admission stages are driven through their stage contract
(:mod:`aiguard._core._stage`): the bound ``admit`` / ``record`` / ``ignore``
methods are taken once, here, so each is a single ``is not None`` test and a
call on the per-call path.

The two shells are kept line for line parallel on purpose: the happy path is
inlined in each (every extra Python call costs ~80 ns, and the Guard's budget
is 1.5 us for kill switch + breaker + check + fallback); the slow paths they
share live in ``_parts.py`` (:class:`~aiguard.contain.guard._parts.Driver`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from aiguard._core._events import log_once
from aiguard.contain._checks import unguarded
from aiguard.contain.guard._parts import Driver, OutcomeTuple, Sink, compose_async, compose_sync
from aiguard.errors import CircuitOpenError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from aiguard.contain.guard._config import GuardConfig
    from aiguard.typing import Clock

__all__ = ["build_async", "build_sync"]

# The guarded closures below are the hot path: each stage is inlined rather
# than called through a helper, because every extra Python call costs ~80 ns
# of the full Guard's 1.5 us budget (benchmarks/overhead.py, group "guard").
# Hence the per-line complexity exemptions on them.


class _Wiring(NamedTuple):
    """What both shells read once, at construction: the stages' bound methods (None when absent)."""

    drv: Driver
    clock: Clock
    ks: str | None
    flags_enabled: Callable[..., bool] | None
    rl_admit: Callable[[float], int] | None
    #: a bulkhead only counts slots: the call's end, whatever its outcome, frees one.
    bh_release: Callable[[int], None] | None
    br_admit: Callable[[float], int] | None
    br_record: Callable[[int, float, float, float], None] | None
    #: no timeout, retry or hedge: the model itself is the call to execute.
    direct: bool
    check_or_judge: bool
    #: the check, when no breaker judges results: tried inline before the slow path.
    quick_check: Callable[[Any], Any] | None
    store: Callable[[OutcomeTuple], object]
    listeners: list[Callable[..., Any]]
    notify: Callable[[OutcomeTuple], None]


def _wiring(parts: GuardConfig, sink: Sink) -> _Wiring:
    breaker, bulkhead, check = parts.breaker, parts.bulkhead, parts.check
    judges = breaker is not None and breaker.judges_results
    return _Wiring(
        Driver(parts, sink),
        parts.clock,
        parts.kill_switch,
        parts.flags.enabled if parts.flags is not None else None,
        parts.rate_limit.admit if parts.rate_limit is not None else None,
        bulkhead.ignore if bulkhead is not None else None,
        breaker.admit if breaker is not None else None,
        breaker.record if breaker is not None else None,
        parts.timeout is None and parts.retry is None and parts.hedge is None,
        check is not None or judges,
        unguarded(check) if check is not None and not judges else None,
        sink.store,
        sink.listeners,
        sink.notify,
    )


# What build_sync and build_async set up once is shared (_wiring); the closures they
# return stay twins, line for line, because they are the Guard's per-call path and every
# extra Python call there costs ~80 ns of the full Guard's 1.5 us budget
# (benchmarks/overhead.py, "guard").
def build_sync(
    parts: GuardConfig, model: Callable[..., Any], sink: Sink
) -> tuple[Callable[..., Any], Callable[[Callable[..., Any]], None]]:
    """Return (guarded function, set_model) for a synchronous model."""
    (drv, clock, ks, flags_enabled, rl_admit, bh_release, br_admit, br_record, direct,
     check_or_judge, quick_check, store, listeners, notify) = _wiring(parts, sink)
    bh_admit = parts.bulkhead.admit if parts.bulkhead is not None else None
    current = [model]

    def call_model(*a: Any, **k: Any) -> Any:
        return current[0](*a, **k)

    execute = model if direct else compose_sync(parts, call_model)
    serve, judged, failed, raised = drv.serve, drv.judged, drv.failed, drv.raised

    def guarded(*a: Any, **k: Any) -> Any:
        t0 = clock()
        if ks is not None and not flags_enabled(ks):  # type: ignore[misc]
            return serve("disabled", "kill_switch", t0, a, k)
        if rl_admit is not None and rl_admit(t0) < 0:
            return serve("rate_limited", "rate_limit", t0, a, k)
        if bh_admit is not None and bh_admit(t0) < 0:
            return serve("bulkhead_full", "bulkhead", t0, a, k)
        try:
            permit = 0
            if br_admit is not None:
                try:
                    permit = br_admit(t0)
                except CircuitOpenError as exc:
                    return serve("open", "breaker", t0, a, k, error=exc)
            try:
                result = execute(*a, **k)
            except BaseException as exc:
                reason, stage = failed(permit, t0, exc)
                if not isinstance(exc, Exception) or not drv.can_fall_back(exc):
                    raised(reason, stage, t0, exc)
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
            if br_record is not None:
                try:
                    br_record(permit, t1, t1 - t0, 0.0)
                except Exception:  # aiguard's own fault never reaches the caller
                    log_once("breaker-record", "aiguard: guard %r: the breaker failed to "
                             "record", parts.name)
            outcome = ("model", None, "model", 0, t1 - t0, None)
            store(outcome)
            if listeners:
                notify(outcome)
            return result
        finally:
            if bh_release is not None:
                bh_release(0)

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
    (drv, clock, ks, flags_enabled, rl_admit, bh_release, br_admit, br_record, direct,
     check_or_judge, quick_check, store, listeners, notify) = _wiring(parts, sink)
    bulkhead = parts.bulkhead
    bh_try = bulkhead.try_admit if bulkhead is not None else None
    bh_aadmit = bulkhead.aadmit if bulkhead is not None else None
    current = [model]

    async def call_model(*a: Any, **k: Any) -> Any:
        return await current[0](*a, **k)

    execute = model if direct else compose_async(parts, call_model)
    serve, judged, failed, raised = drv.aserve, drv.ajudged, drv.failed, drv.raised

    async def guarded(*a: Any, **k: Any) -> Any:
        t0 = clock()
        if ks is not None and not flags_enabled(ks):  # type: ignore[misc]
            return await serve("disabled", "kill_switch", t0, a, k)
        if rl_admit is not None and rl_admit(t0) < 0:
            return await serve("rate_limited", "rate_limit", t0, a, k)
        if bh_try is not None and bh_try(t0) < 0 and await bh_aadmit(t0) < 0:  # type: ignore[misc]
            return await serve("bulkhead_full", "bulkhead", t0, a, k)
        try:
            permit = 0
            if br_admit is not None:
                try:
                    permit = br_admit(t0)
                except CircuitOpenError as exc:
                    return await serve("open", "breaker", t0, a, k, error=exc)
            try:
                result = await execute(*a, **k)
            except BaseException as exc:
                reason, stage = failed(permit, t0, exc)
                if not isinstance(exc, Exception) or not drv.can_fall_back(exc):
                    raised(reason, stage, t0, exc)
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
            if br_record is not None:
                try:
                    br_record(permit, t1, t1 - t0, 0.0)
                except Exception:  # aiguard's own fault never reaches the caller
                    log_once("breaker-record", "aiguard: guard %r: the breaker failed to "
                             "record", parts.name)
            outcome = ("model", None, "model", 0, t1 - t0, None)
            store(outcome)
            if listeners:
                notify(outcome)
            return result
        finally:
            if bh_release is not None:
                bh_release(0)

    def set_model(new: Callable[..., Any]) -> None:
        nonlocal execute
        current[0] = new
        if direct:
            execute = new

    return guarded, set_model

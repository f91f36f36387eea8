"""Two outer layers of a guarded function: the input check, and the monitor taps.

Both wrap the pipeline built by ``_pipeline.py`` from outside, so the
pipeline itself is unchanged:

    monitor taps ( input check ( kill switch -> ... -> fallback ladder ) )

* The input check judges ``args[0]`` before anything else. Rows that fail go
  to the fallback ladder (``fallback_rows=True``: the model sees only the
  rest, the results are merged back in row order), or the whole call does.
  ``last_outcome.rows_rejected`` / ``.rejected`` say how many and why.
* The taps feed every :class:`~aiguard.typing.MonitorTap` with the call's
  arguments, result and outcome tuple after the call. A tap that raises is
  counted (``guard.monitor_errors``) and logged once; the caller never sees it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from aiguard._core._events import log_once
from aiguard.contain._checks import Check, as_check, judge
from aiguard.errors import ConfigurationError, InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from aiguard.contain.guard._config import GuardConfig
    from aiguard.contain.guard._parts import Sink

__all__ = ["Faults", "Screen", "arguments", "screen_async", "screen_sync", "tap_async", "tap_sync"]


class Faults:
    """How many times a monitor's tap raised (aiguard's own fault, never the caller's)."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


def _fault(faults: Faults, name: str, tap: Callable[..., Any]) -> None:
    """Count and log once (with the exception being handled) a tap that raised."""
    faults.count += 1
    log_once(f"monitor-tap:{name}:{id(tap)}",
             "aiguard: a monitor of guard %r raised (logged once)", name)


def _feed(taps: Sequence[Callable[..., Any]], faults: Faults, name: str,  # noqa: PLR0917 - internal, positional for speed
          a: tuple[Any, ...], k: dict[str, Any], result: Any, outcome: Any) -> None:
    """Feed every tap, counting the ones that raise."""
    for tap in taps:
        try:
            tap(a, k, result, outcome)
        except Exception:  # noqa: PERF203 - one monitor must not silence the rest
            _fault(faults, name, tap)


def tap_sync(fn: Callable[..., Any], taps: Sequence[Callable[..., Any]],
             outcome: Callable[[], Any], faults: Faults, name: str) -> Callable[..., Any]:
    """Wrap *fn* so that every call, returned or raised, feeds *taps*."""
    taps = tuple(taps)

    def monitored(*a: Any, **k: Any) -> Any:
        try:
            result = fn(*a, **k)
        except BaseException:
            _feed(taps, faults, name, a, k, None, outcome())
            raise
        raw = outcome()
        try:  # the happy path inlined: one try for every tap
            for tap in taps:
                tap(a, k, result, raw)
        except Exception:
            _fault(faults, name, tap)
            _feed(taps[taps.index(tap) + 1:], faults, name, a, k, result, raw)
        return result

    return monitored


def tap_async(fn: Callable[..., Awaitable[Any]], taps: Sequence[Callable[..., Any]],
              outcome: Callable[[], Any], faults: Faults, name: str) -> Callable[..., Any]:
    """Async twin of :func:`tap_sync`."""
    taps = tuple(taps)

    async def monitored(*a: Any, **k: Any) -> Any:
        try:
            result = await fn(*a, **k)
        except BaseException:
            _feed(taps, faults, name, a, k, None, outcome())
            raise
        _feed(taps, faults, name, a, k, result, outcome())
        return result

    return monitored


def _take(batch: Any, rows: np.ndarray[Any, Any]) -> Any:
    if hasattr(batch, "iloc"):
        return batch.iloc[rows]
    if isinstance(batch, dict):
        return {key: np.asarray(col)[rows] for key, col in batch.items()}
    return np.asarray(batch)[rows]


def _merge(n: int, ok: np.ndarray[Any, Any], good: Any, bad: Any) -> Any:
    g, b = np.asarray(good), np.asarray(bad)
    if not b.ndim:
        b = np.full((n - int(ok.sum()), *g.shape[1:]), b)
    out = np.empty((n, *g.shape[1:]), dtype=np.result_type(g, b))
    out[ok] = g
    out[~ok] = b
    return out


class Screen:
    """The input check of a guard: per-row verdicts and the count of each check's rejections."""

    __slots__ = ("checks", "rows")

    def __init__(self, check: Check, *, rows: bool) -> None:
        kids = getattr(check, "_children", None)
        self.checks: tuple[Check, ...] = tuple(kids) if kids and "&" in repr(check) else (check,)
        self.rows = rows

    def judge(self, inputs: Any) -> tuple[np.ndarray[Any, Any] | None, dict[str, int]]:
        """Return (None when every row passes, else the per-row mask; rejected rows per check)."""
        n = len(inputs) if hasattr(inputs, "__len__") else 1
        ok: Any = None
        reasons: dict[str, int] = {}
        for check in self.checks:
            verdict = judge(check, inputs)
            if verdict is True:
                continue
            mask = np.full(n, verdict) if isinstance(verdict, bool) else np.asarray(verdict)
            bad = int(n - np.count_nonzero(mask))
            if bad:
                reasons[repr(check)] = bad
                ok = mask if ok is None else ok & mask
        return ok, reasons


def screen_sync(fn: Callable[..., Any], parts: GuardConfig, screen: Screen, sink: Sink,
                current: Callable[[], Any]) -> Callable[..., Any]:
    """Wrap the pipeline *fn* with the input check."""
    clock, ladder = parts.clock, parts.ladder

    def screened(*a: Any, **k: Any) -> Any:
        if not a:
            return fn(*a, **k)
        t0 = clock()
        ok, reasons = screen.judge(a[0])
        if ok is None:
            return fn(*a, **k)
        n, nbad = len(ok), int(len(ok) - np.count_nonzero(ok))
        if ladder is None:
            sink.emit(("raised", "invalid_input", "input_check", 0, clock() - t0, None, nbad,
                       reasons))  # type: ignore[arg-type]
            raise InvalidInputError("inputs", f"rows passing {list(reasons)}",
                                    f"{nbad} of {n} rows rejected")
        if not screen.rows or nbad == n:
            result, tier = ladder.serve(a, k)
            sink.emit((tier, "invalid_input", "input_check", nbad, clock() - t0, None, nbad,
                       reasons))  # type: ignore[arg-type]
            return result
        good = fn(_take(a[0], np.flatnonzero(ok)), *a[1:], **k)
        bad, _tier = ladder.serve((_take(a[0], np.flatnonzero(~ok)), *a[1:]), k)
        raw = current()
        sink.store((*raw[:3], raw[3] + nbad, clock() - t0, raw[5], nbad, reasons))
        return _merge(n, ok, good, bad)

    return screened


def screen_async(fn: Callable[..., Awaitable[Any]], parts: GuardConfig, screen: Screen,
                 sink: Sink, current: Callable[[], Any]) -> Callable[..., Any]:
    """Async twin of :func:`screen_sync`."""
    clock, ladder = parts.clock, parts.ladder

    async def screened(*a: Any, **k: Any) -> Any:
        if not a:
            return await fn(*a, **k)
        t0 = clock()
        ok, reasons = screen.judge(a[0])
        if ok is None:
            return await fn(*a, **k)
        n, nbad = len(ok), int(len(ok) - np.count_nonzero(ok))
        if ladder is None:
            sink.emit(("raised", "invalid_input", "input_check", 0, clock() - t0, None, nbad,
                       reasons))  # type: ignore[arg-type]
            raise InvalidInputError("inputs", f"rows passing {list(reasons)}",
                                    f"{nbad} of {n} rows rejected")
        if not screen.rows or nbad == n:
            result, tier = await ladder.aserve(a, k)
            sink.emit((tier, "invalid_input", "input_check", nbad, clock() - t0, None, nbad,
                       reasons))  # type: ignore[arg-type]
            return result
        good = await fn(_take(a[0], np.flatnonzero(ok)), *a[1:], **k)
        bad, _tier = await ladder.aserve((_take(a[0], np.flatnonzero(~ok)), *a[1:]), k)
        raw = current()
        sink.store((*raw[:3], raw[3] + nbad, clock() - t0, raw[5], nbad, reasons))
        return _merge(n, ok, good, bad)

    return screened


def arguments(
    monitors: Any, input_check: Any, *, fallback_rows: bool
) -> tuple[tuple[Any, ...], Screen | None]:
    """Validate a Guard's ``monitors=`` and ``input_check=``."""
    if not isinstance(monitors, (list, tuple)) or not all(
        callable(getattr(m, "tap", None)) for m in monitors
    ):
        raise ConfigurationError(
            "monitors", "a list of monitors (objects with tap(args, kwargs, result, outcome))",
            monitors,
        )
    screen = None
    if input_check is not None:
        if not callable(input_check):
            raise ConfigurationError("input_check", "a check of the inputs", input_check)
        screen = Screen(as_check(input_check), rows=fallback_rows)
    return tuple(monitors), screen

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
  Monitors that take blocks (:mod:`aiguard._core._inbox`: the latency,
  error-rate and output monitors) get the plain calls (model served, scalar
  result) gathered in an inbox and handed over every few calls, so each
  plain call costs two list appends instead of a Python call per monitor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from aiguard._core._events import log_once
from aiguard._core._inbox import BLOCK, SCALAR_TYPES, Inbox
from aiguard.contain._checks import Check, as_check, judge
from aiguard.errors import ConfigurationError, InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from aiguard.contain.guard._config import GuardConfig
    from aiguard.contain.guard._parts import Sink

__all__ = [
    "Faults", "Screen", "Taps", "arguments", "screen_async", "screen_sync", "tap_async", "tap_sync",
]


class Faults:
    """How many times a monitor's tap raised (aiguard's own fault, never the caller's)."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


def _fault(faults: Faults, name: str, tap: object) -> None:
    """Count and log once (with the exception being handled) a tap that raised."""
    faults.count += 1
    monitor = getattr(tap, "__self__", tap)  # its tap and its take_block: logged once
    log_once(f"monitor-tap:{name}",
             "aiguard: a monitor of guard %r raised (logged once)", name, owner=monitor)


def _feed(taps: Sequence[Callable[..., Any]], faults: Faults, name: str,  # noqa: PLR0917 - internal, positional for speed
          a: tuple[Any, ...], k: dict[str, Any], result: Any, outcome: Any) -> None:
    """Feed every tap, counting the ones that raise."""
    for tap in taps:
        try:
            tap(a, k, result, outcome)
        except Exception:  # noqa: PERF203 - one monitor must not silence the rest
            _fault(faults, name, tap)


def _takes_blocks(monitor: Any) -> bool:
    return all(callable(getattr(monitor, m, None)) for m in ("take_block", "add_inbox")) and (
        isinstance(getattr(monitor, "block_seconds", None), float)
    )


class Taps:
    """A guard's monitors split for the per-call path (see :mod:`aiguard._core._inbox`).

    ``inbox`` gathers the plain calls for the monitors that take blocks (None
    when none does); ``others`` are the taps of the rest, fed every call;
    ``every`` all the taps, fed (after a flush of the inbox) the calls that
    are not plain.
    """

    __slots__ = ("every", "faults", "inbox", "name", "others", "spent")

    def __init__(self, monitors: Sequence[Any], faults: Faults, name: str) -> None:
        self.faults, self.name = faults, name
        bound = [(m.tap, _takes_blocks(m)) for m in monitors]  # one bound tap each: logged once
        takers = [m for m, (_, takes) in zip(monitors, bound, strict=True) if takes]
        self.every: tuple[Callable[..., Any], ...] = tuple(tap for tap, _ in bound)
        self.others = tuple(tap for tap, takes in bound if not takes)
        self.inbox = Inbox(takers, self._taker_fault) if takers else None
        self.spent = 0.0  # latency gathered since the last hand-over

    def _taker_fault(self, taker: Any) -> None:
        _fault(self.faults, self.name, taker)

    def plain(self, a: tuple[Any, ...], k: dict[str, Any], result: Any, raw: Any) -> None:
        """Gather a plain call (the async shell's path; the sync one is inlined)."""
        inbox = self.inbox
        assert inbox is not None
        inbox.latencies.append(raw[4])
        inbox.results.append(result)
        self.spent += raw[4]
        if len(inbox.latencies) >= BLOCK or self.spent >= inbox.seconds:
            self.spent = 0.0
            inbox.flush(wait=False)
        if self.others:
            _feed(self.others, self.faults, self.name, a, k, result, raw)

    def other(self, a: tuple[Any, ...], k: dict[str, Any], result: Any, raw: Any) -> None:
        """Feed a call that is not plain to every tap, after what the inbox gathered."""
        if self.inbox is not None:
            self.inbox.flush()
        _feed(self.every, self.faults, self.name, a, k, result, raw)


def _is_plain(result: Any, raw: Any) -> bool:
    """No reason (so served by the model), no row replaced, a scalar result that is not NaN."""
    try:
        return bool(raw[1] is None and raw[3] == 0 and type(result) in SCALAR_TYPES
                    and result == result)  # noqa: PLR0124 - NaN test
    except Exception:  # an outcome that is not a tuple: the taps judge it
        return False


def _tap_each_sync(fn: Callable[..., Any], every: tuple[Callable[..., Any], ...],
                   outcome: Callable[[], Any], faults: Faults, name: str) -> Callable[..., Any]:
    """:func:`tap_sync` when no monitor takes blocks: every call to every tap."""

    def monitored(*a: Any, **k: Any) -> Any:
        try:
            result = fn(*a, **k)
        except BaseException:
            _feed(every, faults, name, a, k, None, outcome())
            raise
        raw = outcome()
        try:  # the happy path inlined: one try for every tap
            for tap in every:
                tap(a, k, result, raw)
        except Exception:
            _fault(faults, name, tap)
            _feed(every[every.index(tap) + 1:], faults, name, a, k, result, raw)
        return result

    return monitored


def tap_sync(fn: Callable[..., Any], monitors: Sequence[Any],
             outcome: Callable[[], Any], faults: Faults, name: str) -> Callable[..., Any]:
    """Wrap *fn* so that every call, returned or raised, feeds *monitors*.

    Plain calls go to the monitors that take blocks through an inbox (two
    list appends per call, see :mod:`aiguard._core._inbox`); every other
    call, and every call for the other monitors, to their ``tap``.
    """
    taps = Taps(monitors, faults, name)
    inbox, other = taps.inbox, taps.other
    if inbox is None:
        return _tap_each_sync(fn, taps.every, outcome, faults, name)
    lats, add_latency, add_result = inbox.latencies, inbox.latencies.append, inbox.results.append
    flush, seconds, others, scalar = inbox.flush, inbox.seconds, taps.others, SCALAR_TYPES
    spent = 0.0

    def gathered(*a: Any, **k: Any) -> Any:
        nonlocal spent
        try:
            result = fn(*a, **k)
        except BaseException:
            other(a, k, None, outcome())
            raise
        raw = outcome()
        try:
            plain = (raw[1] is None and raw[3] == 0 and type(result) in scalar
                     and result == result)  # noqa: PLR0124 - NaN test
        except Exception:  # an outcome that is not a tuple: the taps judge it
            plain = False
        if not plain:
            other(a, k, result, raw)
            return result
        latency = raw[4]
        add_latency(latency)
        add_result(result)
        spent += latency
        if len(lats) >= BLOCK or spent >= seconds:
            spent = 0.0
            flush(wait=False)
        if others:
            _feed(others, faults, name, a, k, result, raw)
        return result

    return gathered


def tap_async(fn: Callable[..., Awaitable[Any]], monitors: Sequence[Any],
              outcome: Callable[[], Any], faults: Faults, name: str) -> Callable[..., Any]:
    """Async twin of :func:`tap_sync`."""
    taps = Taps(monitors, faults, name)
    plain, other = taps.plain, taps.other
    if taps.inbox is None:
        plain = other

    async def monitored(*a: Any, **k: Any) -> Any:
        try:
            result = await fn(*a, **k)
        except BaseException:
            other(a, k, None, outcome())
            raise
        raw = outcome()
        (plain if _is_plain(result, raw) else other)(a, k, result, raw)
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


class _Rejected:
    """One call whose inputs failed the check: what the sync and async screens record of it."""

    __slots__ = ("clock", "n", "nbad", "ok", "reasons", "sink", "t0")

    def __init__(self, ok: np.ndarray[Any, Any], reasons: dict[str, int], sink: Sink,
                 clock: Callable[[], float], t0: float) -> None:
        self.ok, self.reasons, self.sink, self.clock, self.t0 = ok, reasons, sink, clock, t0
        self.n = len(ok)
        self.nbad = int(self.n - np.count_nonzero(ok))

    def refuse(self) -> InvalidInputError:
        """Record the call as raised (no fallback to serve it); return the error to raise."""
        self.sink.emit(("raised", "invalid_input", "input_check", 0, self.clock() - self.t0,
                        None, self.nbad, self.reasons))  # type: ignore[arg-type]
        return InvalidInputError("inputs", f"rows passing {list(self.reasons)}",
                                 f"{self.nbad} of {self.n} rows rejected")

    def whole(self, tier: str, result: Any) -> Any:
        """Record the whole call as served by fallback *tier*; return its *result*."""
        self.sink.emit((tier, "invalid_input", "input_check", self.nbad, self.clock() - self.t0,
                        None, self.nbad, self.reasons))  # type: ignore[arg-type]
        return result

    def rows(self, batch: Any, *, good: bool) -> Any:
        """The rows of *batch* that passed (``good=True``) or failed the check."""
        return _take(batch, np.flatnonzero(self.ok if good else ~self.ok))

    def merged(self, raw: Any, good: Any, bad: Any) -> Any:
        """Record the model's outcome *raw* with the rejected rows added; merge in row order."""
        self.sink.emit((*raw[:3], raw[3] + self.nbad, self.clock() - self.t0, raw[5],
                        self.nbad, self.reasons))
        return _merge(self.n, self.ok, good, bad)

    def failed(self, raw: Any) -> None:
        """The model's share, or the fallback's, raised: record *raw* with the rejected rows."""
        if raw is not None:
            self.sink.emit((*raw[:4], self.clock() - self.t0, raw[5], self.nbad, self.reasons))


def screen_sync(fn: Callable[..., Any], quiet: Callable[..., Any],  # noqa: PLR0917 - internal
                parts: GuardConfig, screen: Screen, sink: Sink,
                current: Callable[[], Any]) -> Callable[..., Any]:
    """Wrap the pipeline *fn* with the input check.

    *quiet* is the same pipeline with a sink that only stores: it runs the rows
    that passed when others were rejected, and this wrapper then emits one
    outcome for the whole call, rejected rows included.
    """
    clock, ladder = parts.clock, parts.ladder

    def screened(*a: Any, **k: Any) -> Any:
        if not a:
            return fn(*a, **k)
        t0 = clock()
        ok, reasons = screen.judge(a[0])
        if ok is None:
            return fn(*a, **k)
        rejected = _Rejected(ok, reasons, sink, clock, t0)
        if ladder is None:
            raise rejected.refuse()
        if not screen.rows or rejected.nbad == rejected.n:
            result, tier = ladder.serve(a, k)
            return rejected.whole(tier, result)
        passed, failed = rejected.rows(a[0], good=True), rejected.rows(a[0], good=False)
        try:
            good = quiet(passed, *a[1:], **k)
            bad, _tier = ladder.serve((failed, *a[1:]), k)
        except BaseException:
            rejected.failed(current())
            raise
        return rejected.merged(current(), good, bad)

    return screened


def screen_async(fn: Callable[..., Awaitable[Any]],  # noqa: PLR0917 - internal
                 quiet: Callable[..., Awaitable[Any]], parts: GuardConfig, screen: Screen,
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
        rejected = _Rejected(ok, reasons, sink, clock, t0)
        if ladder is None:
            raise rejected.refuse()
        if not screen.rows or rejected.nbad == rejected.n:
            result, tier = await ladder.aserve(a, k)
            return rejected.whole(tier, result)
        passed, failed = rejected.rows(a[0], good=True), rejected.rows(a[0], good=False)
        try:
            good = await quiet(passed, *a[1:], **k)
            bad, _tier = await ladder.aserve((failed, *a[1:]), k)
        except BaseException:
            rejected.failed(current())
            raise
        return rejected.merged(current(), good, bad)

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

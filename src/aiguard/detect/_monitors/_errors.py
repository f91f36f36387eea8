"""Rates of failed calls over a time window: exceptions, timeouts, fallbacks, null outputs."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from aiguard._core import _validate
from aiguard.detect._monitors._base import Monitor, timed_window_args

if TYPE_CHECKING:
    from collections.abc import Mapping

    from typing_extensions import Unpack

    from aiguard.detect._monitors._base import MonitorOptions
    from aiguard.detect._signal import Signal
    from aiguard.typing import CallOutcome

__all__ = ["ERROR_KINDS", "ErrorRateMonitor"]

#: What :class:`ErrorRateMonitor` counts, besides the number of calls.
ERROR_KINDS: tuple[str, ...] = ("error", "timeout", "fallback", "null")
_CALLS = 4  # column of the call count in the slice counters


_COUNTS = (bool, int)
_PLAIN = frozenset({int, str, bool})  # results that are never null


def _count(value: Any) -> int:
    """A count (numpy integer) as is, a mask or bool-like by its True entries."""
    if isinstance(value, np.integer):
        return int(value)
    return int(np.count_nonzero(value))


def _is_null(result: Any) -> bool:
    if result is None:
        return True
    try:
        arr = np.asarray(result)
    except Exception:
        return False
    if arr.dtype.kind in "fc":
        return bool(np.isnan(arr).any())
    return arr.dtype == object and any(v is None for v in arr.reshape(-1).tolist())


class ErrorRateMonitor(Monitor):
    """Share of calls that raised, timed out, were served by a fallback or gave null output.

    Counted per kind (:data:`ERROR_KINDS`) in the slices of a sliding time
    window. At each slice boundary, each kind's rate over the window (count /
    calls) is compared with ``baseline + margin`` (or with ``max_rate`` when
    given), once the window holds ``min_calls`` calls. The baseline is
    ``baseline=`` when given (the same rate for every kind), else each kind's
    rate over the first full window (frozen). The signal's value is the worst
    kind's rate; its evidence gives every rate and count. A ``detector=`` is
    fed the worst kind's rate at each slice boundary.

    From a Guard: ``error`` is a model exception (``reason == "error"``),
    ``timeout`` a :class:`~aiguard.errors.GuardTimeoutError`, ``fallback`` a call
    a fallback served in whole or in part, ``null`` a result that is ``None``
    or holds NaN.

    Args:
        window: seconds (or a timedelta) the rates cover.
        slices: the window is cut into this many slices; decisions at their ends.
        margin: how far above the baseline a rate may go.
        max_rate: an absolute limit instead of ``baseline + margin``.
        baseline: the baseline rate (default: learned per kind).
        min_calls: fewest calls in a window to decide.
        sample: share of calls observed.
        clock: seconds; the monitor's own.
        detector: an optional change detector fed the worst rate.
        name: the ``source`` of the signals.

    Example:
        >>> from aiguard.testing import FakeClock
        >>> clock = FakeClock()
        >>> mon = ErrorRateMonitor(window=60, baseline=0.01, clock=clock)
        >>> for i in range(200):
        ...     mon.observe(error=i % 5 == 0); _ = clock.advance(0.5)
        >>> s = mon.last_signal
        >>> s.kind, s.evidence["worst"], round(s.value, 2)
        ('error_rate', 'error', 0.2)
    """

    kind = "error_rate"
    _default_name = "error_rate"
    _detector_rule = "rate"

    def __init__(
        self,
        *,
        window: Any = 60.0,
        slices: int = 6,
        margin: float = 0.05,
        max_rate: float | None = None,
        baseline: float | None = None,
        min_calls: int = 20,
        **options: Unpack[MonitorOptions],
    ) -> None:
        super().__init__(**options)
        self.window, n = timed_window_args(window, slices)
        self.margin = _validate.fraction(margin, "margin")
        self.max_rate = None if max_rate is None else _validate.fraction(max_rate, "max_rate")
        self.min_calls = _validate.count(min_calls, "min_calls")
        self._base: np.ndarray[Any, Any] | None = None
        self._fixed = baseline is not None
        if baseline is not None:
            self._base = np.full(4, _validate.fraction(baseline, "baseline", zero=True))
        self._start_slices(self.window, n, 5)
        self._pending = [0, 0, 0, 0, 0]  # error, timeout, fallback, null, calls

    @property
    def baseline(self) -> dict[str, float] | None:
        """The baseline rate of each kind (None until learned)."""
        if self._base is None:
            return None
        return dict(zip(ERROR_KINDS, self._base.tolist(), strict=True))

    def tap(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any], result: Any, outcome: CallOutcome  # noqa: ARG002 - the MonitorTap signature
    ) -> None:
        """Count the call from its outcome and result.

        Like :meth:`LatencyMonitor.tap`, a tap reads the clock only every 8th
        call or once the calls' latencies add up to a quarter of a slice.
        """
        if self._step != 1 and not self._take():
            return
        served_by, reason = outcome[0], outcome[1]
        kind = type(result)
        # a NaN float is the only float != itself: no function call on the hot path
        null = (
            result != result  # noqa: PLR0124
            if kind is float else kind not in _PLAIN and _is_null(result)
        )
        if reason is None and not null and outcome[3] == 0:
            p = self._pending
            p[_CALLS] += 1
            self._elapsed += outcome[4]
            if not p[_CALLS] & 7 or self._elapsed >= self._quarter:
                self._elapsed = 0.0
                now = self._clock()
                if now >= self._slices.end:
                    self._roll(now)
            return
        self._elapsed = 0.0
        now = self._clock()
        if now >= self._slices.end:
            self._roll(now)
        self._add(
            reason == "error",
            reason == "timeout",
            outcome[3] > 0 or served_by not in ("model", "raised"),
            served_by != "raised" and null,
            1,
        )

    def take_block(self, latencies: list[float], results: list[Any]) -> None:  # noqa: ARG002 - the BlockTaker signature
        """Count a block of plain calls a Guard gathered (none failed), then read the clock."""
        n = len(latencies) if self._step == 1 else len(self._rows(latencies))
        self._pending[_CALLS] += n
        self._elapsed = 0.0
        now = self._clock()
        if now >= self._slices.end:
            self._roll(now)

    def observe(
        self, *, error: Any = False, timeout: Any = False, fallback: Any = False,
        null: Any = False, calls: int = 1,
    ) -> None:
        """Count *calls* calls, of which the given numbers (or bools, or masks) failed.

        For a batch of calls pass ``calls=n`` and per-call masks or counts.
        """
        now = self._clock()
        if now >= self._slices.end:
            self._roll(now)
        if calls == 1 and not self._take():
            return
        self._add(error, timeout, fallback, null, calls)

    def _add(self, error: Any, timeout: Any, fallback: Any, null: Any, calls: int) -> None:
        p = self._pending
        p[0] += error if type(error) in _COUNTS else _count(error)
        p[1] += timeout if type(timeout) in _COUNTS else _count(timeout)
        p[2] += fallback if type(fallback) in _COUNTS else _count(fallback)
        p[3] += null if type(null) in _COUNTS else _count(null)
        p[_CALLS] += calls

    def rates(self) -> dict[str, float]:
        """Each kind's rate over the current window (NaN with no call)."""
        self.evaluate()
        return self._rates(self._slices.total())[1]

    def evaluate(self) -> Signal | None:
        """Take the pending counts into account and decide now."""
        self._collect()
        now = self._clock()
        if now >= self._slices.end:
            return self._roll(now)
        self._flush()
        return None

    def _flush(self) -> None:
        p = self._pending
        if p[_CALLS]:
            s = self._slices
            s.counts[s.current] += p
            self._pending = [0, 0, 0, 0, 0]

    def _rates(self, total: np.ndarray[Any, Any]) -> tuple[int, dict[str, float]]:
        calls = int(total[_CALLS])
        if not calls:
            return 0, dict.fromkeys(ERROR_KINDS, math.nan)
        return calls, dict(zip(ERROR_KINDS, (total[:4] / calls).tolist(), strict=True))

    def _roll(self, now: float) -> Signal | None:
        s = self._slices
        if self._started is None:
            self._started = now
            s.start(now)
            return None
        self._flush()
        s.advance(now)
        total = s.total()
        calls, rates = self._rates(total)
        if calls < self.min_calls:
            return None
        current = total[:4] / calls
        if self._base is None:
            if now - self._started >= self.window:
                self._base = current
            return None
        limit = (
            np.full(4, self.max_rate) if self.max_rate is not None
            else np.minimum(self._base + self.margin, 1.0)
        )
        excess = current - limit
        worst = int(np.argmax(excess))
        evidence = {
            "worst": ERROR_KINDS[worst],
            "rates": rates,
            "counts": dict(zip(ERROR_KINDS, total[:4].tolist(), strict=True)),
            "calls": calls,
            "window": self.window,
        }
        return self._decide(
            "rate", breached=bool(excess[worst] > 0), value=float(current[worst]),
            baseline=float(self._base[worst]), threshold=float(limit[worst]),
            excess=float(excess[worst]), evidence=evidence, at=now,
        )

"""Latency quantiles over a time window from a fixed-memory log histogram, and spikes.

The histogram (the bucketing of DDSketch, Masson et al., VLDB 2019) maps a
latency ``x`` in ``[low, high]`` to bucket ``k = ceil(log(x) / log(g))`` with
``g = (1 + a) / (1 - a)``; bucket ``k`` holds ``(g^(k-1), g^k]`` and answers
with ``2 g^k / (g + 1)``, which is within a relative error ``a`` of every value
in the bucket. So a quantile is returned within relative error ``a`` of the
sample's rank-``floor(q (n - 1))`` value. Values below ``low`` fall in the
first bucket, values above ``high`` in the last (their error is then not
bounded). With the defaults (``a = 1%``, 1 us to 10,000 s) there are 1,152
buckets; the window keeps one row of them per slice.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from aiguard._core import _validate
from aiguard.detect._monitors._base import Monitor, timed_window_args
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from typing_extensions import Unpack

    from aiguard.detect._monitors._base import MonitorOptions
    from aiguard.detect._signal import Signal
    from aiguard.typing import CallOutcome

__all__ = ["LatencyMonitor", "LogHistogram"]

_FLUSH = 1024  # latencies buffered before they are binned (one vectorised step)


class LogHistogram:
    """Bucketing of latencies with a bounded relative error (see the module docstring).

    Args:
        relative_error: ``a``, the bound on the relative error of a quantile.
        low: smallest latency resolved (seconds).
        high: largest latency resolved (seconds).

    Example:
        >>> h = LogHistogram(relative_error=0.01)
        >>> counts = h.counts([0.1, 0.2, 0.3])
        >>> round(h.quantile(counts, 0.5), 3)
        0.2
    """

    __slots__ = ("_inv", "_offset", "gamma", "high", "low", "n_buckets", "relative_error")

    def __init__(self, *, relative_error: float = 0.01, low: float = 1e-6,
                 high: float = 1e4) -> None:
        self.relative_error = _validate.real(
            relative_error, "relative_error", low=0, high=0.5, low_open=True, high_open=True
        )
        self.low = _validate.real(low, "low", low=0, low_open=True)
        self.high = _validate.real(high, "high", low=self.low, low_open=True,
                                   expected=f"a number > low={self.low!r}")
        a = self.relative_error
        self.gamma = (1 + a) / (1 - a)
        self._inv = 1.0 / math.log(self.gamma)
        self._offset = math.ceil(math.log(self.low) * self._inv)
        self.n_buckets = math.ceil(math.log(self.high) * self._inv) - self._offset + 1

    def index(self, values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Bucket of each (finite, non-negative) value."""
        # floored at low > 0: no log(0); ceil is monotone, so k >= 0 and only the top is cut
        k = np.log(np.maximum(values, self.low))
        k *= self._inv
        np.ceil(k, out=k)
        k -= self._offset
        np.minimum(k, self.n_buckets - 1, out=k)
        out: np.ndarray[Any, Any] = k.astype(np.intp)
        return out

    def counts(self, values: Any) -> np.ndarray[Any, Any]:
        """Bucket counts of *values* (an int64 array of ``n_buckets``)."""
        idx = self.index(np.asarray(values, dtype=np.float64).reshape(-1))
        return np.bincount(idx, minlength=self.n_buckets).astype(np.int64)

    def quantile(self, counts: np.ndarray[Any, Any], q: float) -> float:
        """The *q*-quantile of the values counted in *counts* (NaN when empty)."""
        n = int(counts.sum())
        if n == 0:
            return math.nan
        rank = math.floor(q * (n - 1))
        i = int(np.searchsorted(np.cumsum(counts), rank, side="right"))
        return 2.0 * self.gamma ** (i + self._offset) / (self.gamma + 1.0)


class LatencyMonitor(Monitor):
    """p50 / p95 / p99 latency over a sliding time window, and spikes against a baseline.

    Latencies are bucketed in a :class:`LogHistogram` (relative error
    ``relative_error``), one row per slice of the window. At each slice
    boundary the monitor compares the window's ``quantile`` with the
    baseline's: it is in breach when ``current > factor * baseline`` (or
    ``current > limit`` when ``limit`` is given) with at least ``min_count``
    latencies in the window. The baseline is ``baseline=`` seconds when given,
    else the same quantile over the first full window with ``min_count``
    latencies (frozen; :meth:`reset_baseline` learns it again). A
    ``detector=`` is fed the window quantile at each slice boundary.

    Memory: ``slices + 1`` rows of ``n_buckets`` int64 counters plus a
    1,024-value buffer, whatever the number of calls. NaN, inf and negative
    latencies are counted in ``nonfinite`` and skipped.

    Args:
        window: seconds (or a timedelta) the quantiles cover.
        slices: how many slices the window is cut into (decisions happen at
            slice boundaries, every ``window / slices`` seconds).
        quantile: the quantile that decides (0.5 .. 0.999).
        factor: a spike is ``current > factor * baseline``.
        limit: an absolute limit in seconds instead of ``factor``.
        baseline: the baseline quantile in seconds (default: learned).
        min_count: fewest latencies in a window to decide.
        relative_error: the histogram's relative error bound.
        sample: share of calls observed.
        clock: seconds; the monitor's own (defaults to ``time.perf_counter``).
        detector: an optional change detector fed the window quantile.
        name: the ``source`` of the signals.

    Example:
        >>> from aiguard.testing import FakeClock
        >>> clock = FakeClock()
        >>> mon = LatencyMonitor(window=60, slices=6, clock=clock)
        >>> for _ in range(120):
        ...     mon.observe(0.2); _ = clock.advance(1)
        >>> for _ in range(12):
        ...     mon.observe(3.0); _ = clock.advance(1)
        >>> s = mon.last_signal
        >>> s.kind, s.status, round(s.value, 1), round(s.baseline, 1)
        ('latency', 'breach', 3.0, 0.2)
    """

    kind = "latency"
    _default_name = "latency"
    _detector_rule = "spike"

    def __init__(
        self,
        *,
        window: Any = 60.0,
        slices: int = 6,
        quantile: float = 0.99,
        factor: float = 3.0,
        limit: Any = None,
        baseline: Any = None,
        min_count: int = 30,
        relative_error: float = 0.01,
        **options: Unpack[MonitorOptions],
    ) -> None:
        super().__init__(**options)
        self.window, n = timed_window_args(window, slices)
        self.quantile = _validate.real(quantile, "quantile", low=0.5, high=0.999)
        self.factor = _validate.real(factor, "factor", low=1.0, low_open=True)
        self.limit = None if limit is None else _validate.duration(limit, "limit")
        self.min_count = _validate.count(min_count, "min_count")
        self.histogram = LogHistogram(relative_error=relative_error)
        self._start_slices(self.window, n, self.histogram.n_buckets)
        self._buffer: list[float] = []
        self._base: float | None = None
        if baseline is not None:
            self._base = _validate.duration(baseline, "baseline")
        self._fixed = baseline is not None

    @property
    def baseline(self) -> float | None:
        """The baseline quantile in seconds (None until learned)."""
        return self._base

    def reset_baseline(self) -> None:
        """Learn the baseline again from the next full window (after a planned change)."""
        if self._fixed:
            raise ConfigurationError("baseline", "learned (not given) to be reset", self._base)
        self._base = None
        self._started = self._clock()

    def tap(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any], result: Any, outcome: CallOutcome  # noqa: ARG002 - the MonitorTap signature
    ) -> None:
        """Observe the call's latency (``outcome[4]``).

        To stay within its budget a tap reads the clock only every 8th call,
        or once the latencies since the last reading add up to a quarter of a
        slice (calls take at least that long), so a slice boundary is noticed
        within 8 calls or a quarter of a slice. A :class:`~aiguard.Guard`
        hands plain calls over in blocks instead (:meth:`take_block`).
        """
        if self._step != 1 and not self._take():
            return
        x = outcome[4]
        buf = self._buffer
        buf.append(x)
        self._elapsed += x
        if not len(buf) & 7 or self._elapsed >= self._quarter:
            self._tick()

    def take_block(self, latencies: list[float], results: list[Any]) -> None:  # noqa: ARG002 - the BlockTaker signature
        """Observe the latencies of plain calls a Guard gathered, then read the clock."""
        if self._step != 1:
            latencies = self._rows(latencies)
        self._buffer.extend(latencies)
        self._tick()

    def _tick(self) -> None:
        self._elapsed = 0.0
        now = self._clock()
        if now >= self._slices.end:
            self._roll(now)
        elif len(self._buffer) >= _FLUSH:
            self._flush()

    def observe(self, latency: Any) -> None:
        """Add one latency in seconds, or a batch of them (one vectorised step)."""
        now = self._clock()
        if now >= self._slices.end:
            self._roll(now)
        if type(latency) is not float and isinstance(latency, (int, np.floating, np.integer)):
            latency = float(latency)
        if type(latency) is float:
            if self._step == 1 or self._take():
                buf = self._buffer
                buf.append(latency)
                if len(buf) >= _FLUSH:
                    self._flush()
            return
        values = np.asarray(latency, dtype=np.float64).reshape(-1)
        self._flush()
        self._add(self._rows(values))

    def quantiles(self) -> dict[str, float]:
        """``{"p50", "p95", "p99"}`` of the current window, in seconds (NaN when empty)."""
        self.evaluate()
        total = self._slices.total()
        h = self.histogram
        return {f"p{round(q * 100)}": h.quantile(total, q) for q in (0.5, 0.95, 0.99)}

    def evaluate(self) -> Signal | None:
        """Take the buffered latencies into account and decide now."""
        self._collect()
        now = self._clock()
        if now >= self._slices.end:
            return self._roll(now)
        self._flush()
        return None

    # -- internals --------------------------------------------------------------------

    def _add(self, values: np.ndarray[Any, Any]) -> None:
        if not values.size:
            return
        # two reductions tell whether all are finite and >= 0 (NaN fails the >=, inf the sum)
        if not (values.min() >= 0 and math.isfinite(values.sum())):
            bad = ~(values >= 0) | np.isinf(values)
            self.nonfinite += int(np.count_nonzero(bad))
            values = values[~bad]
        if values.size:
            s = self._slices
            s.counts[s.current] += np.bincount(
                self.histogram.index(values), minlength=self.histogram.n_buckets
            )

    def _flush(self) -> None:
        if self._buffer:
            values = np.array(self._buffer, dtype=np.float64)
            self._buffer.clear()
            self._add(values)

    def _roll(self, now: float) -> Signal | None:
        s = self._slices
        if self._started is None:
            self._started = now
            s.start(now)
            return None
        self._flush()
        s.advance(now)
        return self._judge(now)

    def _judge(self, now: float) -> Signal | None:
        total = self._slices.total()
        n = int(total.sum())
        if n < self.min_count:
            return None
        h = self.histogram
        current = h.quantile(total, self.quantile)
        if self._base is None:
            assert self._started is not None
            if now - self._started >= self.window:
                self._base = current
            return None
        threshold = self.limit if self.limit is not None else self.factor * self._base
        label = f"p{round(self.quantile * 1000) / 10:g}"
        evidence = {
            "quantile": label,
            "count": n,
            "window": self.window,
            "p50": h.quantile(total, 0.5),
            "p95": h.quantile(total, 0.95),
            "p99": h.quantile(total, 0.99),
        }
        return self._decide(
            "spike", breached=current > threshold, value=current, baseline=self._base,
            threshold=threshold, excess=current - threshold, evidence=evidence, at=now,
        )

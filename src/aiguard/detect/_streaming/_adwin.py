"""ADWIN, the adaptive-windowing detector, with river 0.26's parameters and its exact arithmetic."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from aiguard._core import _validate
from aiguard.detect._streaming._adwin_batch import run_batch
from aiguard.detect._streaming._adwin_core import AdwinCore
from aiguard.detect._streaming._base import Knob, Param, StreamingDetector
from aiguard.detect._streaming._params import as_value, decode_float
from aiguard.detect._streaming._windows import Windows

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy as np
    import numpy.typing as npt

__all__ = ["ADWIN"]


class ADWIN(StreamingDetector):
    """ADaptive WINdowing (Bifet and Gavaldà 2007): a change of the mean, with a window of its own.

    ADWIN keeps the longest recent window whose two parts have the same mean
    (to confidence ``delta``) in an exponential histogram of buckets, so memory
    grows with the logarithm of the window. It needs no threshold in data units
    and suits real values in a known range (errors, scores, rates). Formulas in
    :mod:`aiguard.detect._streaming._adwin_core`; the batch path in
    :mod:`aiguard.detect._streaming._adwin_batch`. Detections equal river 0.26's
    to the bit.

    Args:
        delta: the significance of a cut, in (0, 1).
        clock: test for a change every this many values.
        max_buckets: buckets of each size kept before two merge (>= 2; river 0.26 crashes on 1).
        min_window_length: the smallest sub-window a cut may leave (>= 1).
        grace_period: values needed after a reset before the first test.

    Example:
        >>> import numpy as np
        >>> stream = np.r_[np.zeros(1000), np.ones(1000)]
        >>> ADWIN().update_many(stream)
        array([1023])
    """

    _knob: ClassVar[Knob] = Knob("delta", 1e-15, 0.9, quieter_when_larger=False)
    delta = Param(_validate.real, low=0.0, high=1.0, low_open=True, high_open=True)
    clock = Param(_validate.count, minimum=1)
    max_buckets = Param(_validate.count, minimum=2)
    min_window_length = Param(_validate.count, minimum=1)
    grace_period = Param(_validate.count, minimum=0)
    # the parameters' slots, set by _set_params
    _delta: float
    _clock: int
    _max_buckets: int
    _min_window_length: int
    _grace_period: int

    def __init__(
        self,
        *,
        delta: float = 0.002,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
    ) -> None:
        self._set_params(
            delta=delta, clock=clock, max_buckets=max_buckets,
            min_window_length=min_window_length, grace_period=grace_period,
        )
        self.reset()

    def reset(self) -> None:
        """Forget everything seen: back to the state just after construction."""
        self._drift = False
        self._core = AdwinCore(
            self._delta, self._clock, self._max_buckets, self._min_window_length, self._grace_period
        )

    @property
    def width(self) -> int:
        """The number of values in the current window."""
        return int(self._core.width)

    @property
    def estimation(self) -> float:
        """The mean of the current window (0.0 when empty)."""
        return self._core.total / self._core.width if self._core.width else 0.0

    def update(self, x: float) -> None:
        """Process one value (a finite real number)."""
        value = as_value(x)
        if self._drift:
            self.reset()
        self._core.insert(value)
        self._drift = self._core.detect()

    def _update_many(self, x: npt.NDArray[np.float64]) -> list[int]:
        found: list[int] = []
        pending = False  # a detection whose drops are not done yet
        windows = Windows(len(x), first=16 * 1024, smallest=1024)
        for start, stop in windows:
            if self._drift:
                self.reset()
            hit = run_batch(self._core, x[start:stop])
            self._drift = pending = hit is not None
            if hit is not None:
                found.append(start + hit)
                windows.restart(start + hit + 1, hit + 1)
        if pending:  # the batch ends on a detection: finish it, drops included
            detected = self._core.detect()
            assert detected, "the vectorised scan and the value-by-value core disagree"
        return found

    def _get_state(self) -> dict[str, Any]:
        core = self._core
        return {
            **super()._get_state(),
            "width": core.width,
            "total": core.total,
            "variance": core.variance,
            "tick": core.tick,
            "totals": [list(row) for row in core.totals],
            "variances": [list(row) for row in core.variances],
        }

    def _set_state(self, state: Mapping[str, Any]) -> None:
        core = self._core
        super()._set_state(state)
        core.width = decode_float(state["width"])
        core.total = decode_float(state["total"])
        core.variance = decode_float(state["variance"])
        core.tick = int(state["tick"])
        core.totals = [[decode_float(v) for v in row] for row in state["totals"]]
        core.variances = [[decode_float(v) for v in row] for row in state["variances"]]
        shapes = [len(row) for row in core.totals] == [len(row) for row in core.variances]
        if not core.totals or not shapes:
            raise ValueError("totals and variances must be rows of the same lengths")

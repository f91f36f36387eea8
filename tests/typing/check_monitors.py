"""Type-checked only: monitors are MonitorTaps, guarded functions keep their types with them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from typing_extensions import assert_type

import aiguard as ag
from aiguard import drift
from aiguard.detect import (
    ConfidenceMonitor,
    ErrorRateMonitor,
    InputDriftMonitor,
    LatencyMonitor,
    OutputMonitor,
    Signal,
)

if TYPE_CHECKING:
    from aiguard._core._inbox import BlockTaker
    from aiguard.typing import ChangeDetector, MonitorTap

reference = drift.Reference(np.zeros((10, 2)))
taps: list[MonitorTap] = [
    LatencyMonitor(), ErrorRateMonitor(), OutputMonitor(np.linspace(0, 1, 10)),
    InputDriftMonitor(reference), ConfidenceMonitor(np.full((3, 2), 0.5)),
]
# the three monitors a Guard feeds in blocks speak the block contract
takers: list[BlockTaker] = [LatencyMonitor(), ErrorRateMonitor(), OutputMonitor(np.zeros(2))]
watched = ag.Guard(name="watched", monitors=taps,
                   input_check=ag.checks.within_reference(reference) & ag.checks.missing())


@watched
def score(x: np.ndarray) -> np.ndarray:
    return np.asarray(x.sum(axis=1))


def on_signal(signal: Signal) -> None:
    assert_type(signal.value, float)


class Threshold:
    drift_detected: bool = False

    def update(self, x: float) -> None:
        self.drift_detected = x > 1.0


detector: ChangeDetector = Threshold()
LatencyMonitor(detector=detector).subscribe(on_signal)
assert_type(score(np.ones((2, 2))), np.ndarray)
assert_type(watched.monitor_errors, int)
outcome = watched.last_outcome
if outcome is not None:
    assert_type(outcome.rows_rejected, int)

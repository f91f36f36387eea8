"""Phase 1, detection and identification: is something wrong?

Streaming change detectors and live monitors decide when a shift is real; each
decision is a :class:`Signal` that classification turns into a severity.
"""

from aiguard.detect._monitors import (
    ConfidenceMonitor,
    ErrorRateMonitor,
    FairnessMonitor,
    InputDriftMonitor,
    LatencyMonitor,
    LogHistogram,
    Monitor,
    OutputMonitor,
    PerformanceMonitor,
)
from aiguard.detect._signal import SIGNAL_KINDS, Signal, SignalKind, SignalStatus

__all__ = [
    "SIGNAL_KINDS",
    "ConfidenceMonitor",
    "ErrorRateMonitor",
    "FairnessMonitor",
    "InputDriftMonitor",
    "LatencyMonitor",
    "LogHistogram",
    "Monitor",
    "OutputMonitor",
    "PerformanceMonitor",
    "Signal",
    "SignalKind",
    "SignalStatus",
]

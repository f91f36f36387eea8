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
from aiguard.detect._streaming import ADWIN, CUSUM, DDM, EDDM, HDDM_A, HDDM_W, KSWIN, PageHinkley

__all__ = [
    "ADWIN",
    "CUSUM",
    "DDM",
    "EDDM",
    "HDDM_A",
    "HDDM_W",
    "KSWIN",
    "SIGNAL_KINDS",
    "ConfidenceMonitor",
    "ErrorRateMonitor",
    "FairnessMonitor",
    "InputDriftMonitor",
    "LatencyMonitor",
    "LogHistogram",
    "Monitor",
    "OutputMonitor",
    "PageHinkley",
    "PerformanceMonitor",
    "Signal",
    "SignalKind",
    "SignalStatus",
]

"""Phase 1, detection and identification: is something wrong?

Streaming change detectors and live monitors decide when a shift is real; each
decision is a :class:`Signal` that classification turns into a severity.
"""

from aiguard.detect._monitors._base import Monitor
from aiguard.detect._monitors._confidence import ConfidenceMonitor
from aiguard.detect._monitors._errors import ErrorRateMonitor
from aiguard.detect._monitors._fairness import FairnessMonitor
from aiguard.detect._monitors._input import InputDriftMonitor
from aiguard.detect._monitors._latency import LatencyMonitor, LogHistogram
from aiguard.detect._monitors._output import OutputMonitor
from aiguard.detect._monitors._performance import PerformanceMonitor
from aiguard.detect._signal import SIGNAL_KINDS, Signal, SignalKind, SignalStatus
from aiguard.detect._streaming._adwin import ADWIN
from aiguard.detect._streaming._cusum import CUSUM
from aiguard.detect._streaming._ddm import DDM, EDDM
from aiguard.detect._streaming._hddm import HDDM_A, HDDM_W
from aiguard.detect._streaming._kswin import KSWIN
from aiguard.detect._streaming._pagehinkley import PageHinkley

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

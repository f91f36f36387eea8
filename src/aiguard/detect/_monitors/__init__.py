"""Live monitors fed by every guarded call (or by ``observe``), emitting deduplicated Signals."""

from aiguard.detect._monitors._base import Monitor
from aiguard.detect._monitors._confidence import ConfidenceMonitor
from aiguard.detect._monitors._errors import ErrorRateMonitor
from aiguard.detect._monitors._fairness import FairnessMonitor
from aiguard.detect._monitors._input import InputDriftMonitor
from aiguard.detect._monitors._latency import LatencyMonitor, LogHistogram
from aiguard.detect._monitors._output import OutputMonitor
from aiguard.detect._monitors._performance import PerformanceMonitor

__all__ = [
    "ConfidenceMonitor",
    "ErrorRateMonitor",
    "FairnessMonitor",
    "InputDriftMonitor",
    "LatencyMonitor",
    "LogHistogram",
    "Monitor",
    "OutputMonitor",
    "PerformanceMonitor",
]

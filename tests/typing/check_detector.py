"""Type-checked only: every built-in detector is a Detector, and update_many returns indices."""

from __future__ import annotations

import numpy as np  # noqa: TC002 - used at run time in this check
import numpy.typing as npt  # noqa: TC002 - used at run time in this check

from aiguard.detect import ADWIN, CUSUM, DDM, EDDM, HDDM_A, HDDM_W, KSWIN, PageHinkley
from aiguard.typing import Detector  # noqa: TC001 - used at run time in this check

detectors: list[Detector] = [
    PageHinkley(),
    ADWIN(),
    KSWIN(seed=1),
    DDM(),
    EDDM(),
    HDDM_A(),
    HDDM_W(),
    CUSUM(target=0.0, k=0.5, h=5.0),
]
found: npt.NDArray[np.intp] = detectors[0].update_many([0.0, 1.0])
flag: bool = detectors[0].drift_detected
threshold: float = PageHinkley().threshold
revived: PageHinkley = PageHinkley.from_dict(PageHinkley().to_dict())
calibrated: CUSUM = CUSUM().calibrate([0.0] * 200, false_alarms_per=100)
warning: bool = DDM().warning_detected

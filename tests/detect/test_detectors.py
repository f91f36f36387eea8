"""Every streaming detector passes the detector contract (river equality where river has it)."""

from __future__ import annotations

try:
    from river import drift as river_drift
except ImportError:  # river 0.26 needs Python 3.11: on 3.10 the river comparisons skip
    river_drift = None
from tests.detect.detector_contract import DetectorContract, pytest_generate_tests

from aiguard.detect import ADWIN, CUSUM, DDM, EDDM, HDDM_A, HDDM_W, KSWIN, PageHinkley

__all__ = ["pytest_generate_tests"]  # the contract's per-parameter-set hook


class TestPageHinkley(DetectorContract):
    cls = PageHinkley
    params = [
        {},
        {"mode": "up", "threshold": 10.0, "min_instances": 5},
        {"mode": "down", "delta": 0.1, "alpha": 0.99},
        {"threshold": 3.0, "alpha": 1.0, "delta": 0.0},
    ]
    river = None if river_drift is None else staticmethod(river_drift.PageHinkley)


class TestADWIN(DetectorContract):
    cls = ADWIN
    params = [
        {},
        {"delta": 0.1, "clock": 1, "max_buckets": 2, "min_window_length": 1, "grace_period": 0},
        {"delta": 0.01, "clock": 7, "max_buckets": 3, "min_window_length": 10},
    ]
    river = None if river_drift is None else staticmethod(river_drift.ADWIN)


class TestKSWIN(DetectorContract):
    cls = KSWIN
    params = [{"seed": 7}, {"alpha": 0.05, "window_size": 40, "stat_size": 10, "seed": 1}]
    hypothesis_length = 200
    named_length = 1200  # KSWIN's per-value update runs at ~5 k values/s
    calibration = (600, 50)  # calibration runs update_many 25 times on 20 * 50 values


class TestCUSUM(DetectorContract):
    cls = CUSUM
    params = [{}, {"target": 1.0, "k": 0.0, "h": 2.0}, {"target": -0.5, "k": 1.0, "h": 20.0}]


class TestDDM(DetectorContract):
    cls = DDM
    params = [{}, {"warm_start": 5, "warning_threshold": 1.0, "drift_threshold": 1.5}]
    river = None if river_drift is None else staticmethod(river_drift.binary.DDM)


class TestEDDM(DetectorContract):
    cls = EDDM
    params = [{}, {"warm_start": 5, "alpha": 0.8, "beta": 0.7}]
    river = None if river_drift is None else staticmethod(river_drift.binary.EDDM)


class TestHDDM_A(DetectorContract):  # noqa: N801
    cls = HDDM_A
    params = [
        {},
        {"two_sided_test": True},
        {"drift_confidence": 0.05, "warning_confidence": 0.1, "two_sided_test": True},
    ]
    river = None if river_drift is None else staticmethod(river_drift.binary.HDDMA)


class TestHDDM_W(DetectorContract):  # noqa: N801
    cls = HDDM_W
    params = [
        {},
        {"two_sided_test": True},
        {
            "drift_confidence": 0.05,
            "warning_confidence": 0.1,
            "lambda_val": 0.2,
            "two_sided_test": True,
        },
    ]
    river = None if river_drift is None else staticmethod(river_drift.binary.HDDMW)

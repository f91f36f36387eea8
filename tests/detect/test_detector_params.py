"""Bad detector parameters are ConfigurationErrors naming the argument; numpy scalars are fine."""

from __future__ import annotations

import typing
from typing import Any

import numpy as np
import pytest

from aiguard.detect import ADWIN, CUSUM, DDM, EDDM, HDDM_A, HDDM_W, KSWIN, PageHinkley
from aiguard.errors import ConfigurationError

BAD: list[tuple[type, str, Any]] = [
    (PageHinkley, "min_instances", 0),
    (PageHinkley, "min_instances", 2.5),
    (PageHinkley, "min_instances", True),
    (PageHinkley, "delta", -0.1),
    (PageHinkley, "threshold", 0.0),
    (PageHinkley, "threshold", float("nan")),
    (PageHinkley, "alpha", 0.0),
    (PageHinkley, "alpha", 1.5),
    (PageHinkley, "mode", "sideways"),
    (PageHinkley, "mode", 1),
    (ADWIN, "delta", 0.0),
    (ADWIN, "delta", 1.0),
    (ADWIN, "clock", 0),
    (ADWIN, "max_buckets", 1),
    (ADWIN, "min_window_length", 0),
    (ADWIN, "grace_period", -1),
    (KSWIN, "alpha", 0.0),
    (KSWIN, "alpha", "0.1"),
    (KSWIN, "stat_size", 0),
    (KSWIN, "window_size", 59),
    (KSWIN, "seed", -1),
    (KSWIN, "seed", 1.5),
    (CUSUM, "target", float("inf")),
    (CUSUM, "target", True),
    (CUSUM, "k", -1.0),
    (CUSUM, "h", 0.0),
    (DDM, "warm_start", -1),
    (DDM, "warning_threshold", -1.0),
    (DDM, "drift_threshold", None),
    (EDDM, "alpha", 0.0),
    (EDDM, "beta", 1.1),
    (EDDM, "beta", 0.99),
    (HDDM_A, "drift_confidence", 1.0),
    (HDDM_A, "warning_confidence", 0.0),
    (HDDM_A, "two_sided_test", 1),
    (HDDM_W, "lambda_val", 0.0),
    (HDDM_W, "two_sided_test", "yes"),
]


@pytest.mark.parametrize(
    ("cls", "name", "value"), BAD, ids=[f"{c.__name__}-{n}-{v!r}" for c, n, v in BAD]
)
def test_bad_parameter_names_the_argument(cls: type, name: str, value: Any) -> None:
    """The error's argument is the parameter, and its message shows the value."""
    with pytest.raises(ConfigurationError) as caught:
        cls(**{name: value})
    assert caught.value.argument == name
    assert str(caught.value).startswith(f"{name} must be ")
    assert repr(value) in str(caught.value)


def test_numpy_scalars_are_accepted_as_parameters() -> None:
    """Parameters may be numpy scalars; they are stored as Python numbers."""
    ph = PageHinkley(min_instances=np.int64(10), threshold=np.float32(20.0), alpha=np.float64(1.0))
    assert (ph.min_instances, ph.threshold, ph.alpha) == (10, 20.0, 1.0)
    assert type(ph.min_instances) is int
    assert HDDM_A(two_sided_test=np.bool_(True)).two_sided_test is True


def test_parameters_default_to_river_026() -> None:
    """The defaults are river 0.26's, as the issue lists them."""
    assert PageHinkley().params() == {
        "min_instances": 30,
        "delta": 0.005,
        "threshold": 50.0,
        "alpha": 0.9999,
        "mode": "both",
    }
    assert ADWIN().params() == {
        "delta": 0.002,
        "clock": 32,
        "max_buckets": 5,
        "min_window_length": 5,
        "grace_period": 10,
    }
    assert KSWIN().params() == {"alpha": 0.005, "window_size": 100, "stat_size": 30, "seed": None}
    assert DDM().params() == {"warm_start": 30, "warning_threshold": 2.0, "drift_threshold": 3.0}
    assert EDDM().params() == {"warm_start": 30, "alpha": 0.95, "beta": 0.9}
    assert HDDM_A().params() == {
        "drift_confidence": 0.001,
        "warning_confidence": 0.005,
        "two_sided_test": False,
    }
    assert HDDM_W().params() == {
        "drift_confidence": 0.001,
        "warning_confidence": 0.005,
        "lambda_val": 0.05,
        "two_sided_test": False,
    }
    assert CUSUM().params() == {"target": 0.0, "k": 0.5, "h": 5.0}


def test_parameters_are_keyword_only() -> None:
    """Configuration is keyword-only (no positional booleans or thresholds)."""
    with pytest.raises(TypeError):
        PageHinkley(30)  # type: ignore[misc]


def test_param_descriptor_on_the_class() -> None:
    """On the class, a parameter attribute is its descriptor (for introspection)."""
    assert PageHinkley.threshold.name == "threshold"


def test_detectors_are_exported_from_aiguard_detect() -> None:
    """aiguard.detect exports the eight detectors next to the Signal names."""
    import aiguard.detect

    expected = {"ADWIN", "CUSUM", "DDM", "EDDM", "HDDM_A", "HDDM_W", "KSWIN", "PageHinkley"}
    assert expected <= set(aiguard.detect.__all__)
    assert {"Signal", "SignalKind", "SignalStatus", "SIGNAL_KINDS"} <= set(aiguard.detect.__all__)
    assert all(hasattr(aiguard.detect, name) for name in aiguard.detect.__all__)


@pytest.mark.parametrize("cls", [PageHinkley, ADWIN, KSWIN, CUSUM, DDM, EDDM, HDDM_A, HDDM_W])
def test_every_parameter_slot_is_declared_with_its_type(cls: type) -> None:
    """Each parameter's slot is annotated with the type its value has, so mypy checks its uses."""
    detector = cls()
    declared = typing.get_type_hints(cls)
    for name in cls._param_names:
        hint = declared["_" + name]
        assert type(getattr(detector, name)) in (typing.get_args(hint) or (hint,)), name

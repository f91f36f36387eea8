"""The shared validators: numpy scalars accepted, bools refused, messages name the argument."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiguard._core._validate import count, duration, fraction, real
from aiguard.errors import ConfigurationError

NUMPY_FLOATS = [np.float16, np.float32, np.float64]
NUMPY_INTS = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64]


@pytest.mark.parametrize("kind", NUMPY_FLOATS)
def test_real_accepts_numpy_floats(kind: type) -> None:
    """A numpy float comes back as the same Python float."""
    value = real(kind(0.5), "x", low=0, high=1)
    assert type(value) is float
    assert value == 0.5


@pytest.mark.parametrize("kind", NUMPY_INTS)
def test_count_accepts_numpy_integers(kind: type) -> None:
    """A numpy integer comes back as a Python int."""
    value = count(kind(7), "window")
    assert type(value) is int
    assert value == 7


@pytest.mark.parametrize("bad", [True, False, np.bool_(True)])
def test_bools_are_refused(bad: object) -> None:
    """A bool is never a number here, for counts, reals and durations."""
    for check in (lambda v: count(v, "n"), lambda v: real(v, "n"), lambda v: duration(v, "n")):
        with pytest.raises(ConfigurationError, match=r"^n must be"):
            check(bad)


@pytest.mark.parametrize("bad", [1.0, np.float64(2.0), "3", None])
def test_count_refuses_non_integers(bad: object) -> None:
    """Floats (even integral ones), strings and None are not counts."""
    with pytest.raises(ConfigurationError, match="window must be an int >= 1"):
        count(bad, "window")


def test_count_minimum_is_in_the_message() -> None:
    """Below the minimum, the message says the minimum and shows the plain value."""
    with pytest.raises(ConfigurationError, match=r"min_calls must be an int >= 2, got 1$"):
        count(np.int64(1), "min_calls", minimum=2)


@given(st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.booleans())
def test_real_matches_interval_definition(x: float, low_open: bool, high_open: bool) -> None:
    """real() accepts exactly the finite numbers of the interval it describes."""
    above = x > 0 if low_open else x >= 0
    below = x < 1 if high_open else x <= 1
    inside = math.isfinite(x) and above and below
    if inside:
        assert real(x, "p", low=0, high=1, low_open=low_open, high_open=high_open) == x
    else:
        with pytest.raises(ConfigurationError, match=r"^p must be a number in"):
            real(x, "p", low=0, high=1, low_open=low_open, high_open=high_open)


def test_fraction_and_duration() -> None:
    """fraction is (0, 1] unless zero=True; duration takes timedeltas and numpy seconds."""
    assert fraction(np.float32(1.0), "f") == 1.0
    assert fraction(0, "f", zero=True) == 0.0
    with pytest.raises(ConfigurationError, match=r"f must be a number in \(0, 1\]"):
        fraction(0, "f")
    assert duration(timedelta(milliseconds=250), "t") == 0.25
    assert duration(np.float32(30), "open_for") == 30.0
    assert duration(0, "t", zero=True) == 0.0
    with pytest.raises(ConfigurationError, match="t must be a finite number of seconds > 0"):
        duration(float("inf"), "t")


def test_interval_wording() -> None:
    """Half-bounded and unbounded intervals are worded as such."""
    with pytest.raises(ConfigurationError, match="a number >= 2"):
        real(1, "a", low=2)
    with pytest.raises(ConfigurationError, match="a number < 2"):
        real(3, "a", high=2, high_open=True)
    with pytest.raises(ConfigurationError, match="a finite number"):
        real(float("nan"), "a")
    with pytest.raises(ConfigurationError, match=r"in \[0.5, 1\)"):
        real(1, "a", low=0.5, high=1, high_open=True)

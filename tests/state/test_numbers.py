"""Every number a user passes to flags and fleet state: numpy scalars accepted, bools refused.

Config read from numpy arrays, pandas frames or YAML through numpy arrives as
``np.float32`` / ``np.int64``; each parameter goes through ``aiguard._core._validate``
and comes back a plain Python number.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import aiguard as ag
from aiguard.errors import ConfigurationError, InvalidInputError
from aiguard.state import FleetRule, MemoryBoard, share_breaker


class Breaker:
    """The surface share_breaker needs."""

    name, state = "recs", "closed"

    def add_listener(self, fn: Any, *, outcomes: bool = True) -> None:
        del fn, outcomes

    def force_open(self) -> None:
        self.state = "forced_open"

    def reset(self) -> None:
        self.state = "closed"


def _flags_refresh(value: object) -> float:
    flags = ag.Flags(refresh=value)  # type: ignore[arg-type]
    flags.close()
    return flags._refresh  # type: ignore[return-value]


def _memory_limit(value: object) -> int:
    return ag.MemoryStore(history_limit=value).history_limit  # type: ignore[arg-type]


def _file_limit(value: object) -> int:
    return ag.FileStore("flags.json", history_limit=value).history_limit  # type: ignore[arg-type]


def _redis_limit(value: object) -> int:
    return ag.RedisStore("redis://127.0.0.1:1/0", history_limit=value).history_limit  # type: ignore[arg-type]


def _redis_timeout(value: object) -> float:
    return ag.RedisStore("redis://127.0.0.1:1/0", socket_timeout=value).socket_timeout  # type: ignore[arg-type]


def _rule_tripped(value: object) -> int:
    return FleetRule(tripped=value, of=10, within=60).tripped  # type: ignore[arg-type]


def _rule_of(value: object) -> int:
    return FleetRule(tripped=1, of=value, within=60).of  # type: ignore[arg-type]


def _rule_within(value: object) -> float:
    return FleetRule(tripped=1, of=2, within=value).within  # type: ignore[arg-type]


def _fleet_interval(value: object) -> float:
    fleet = share_breaker(Breaker(), board=MemoryBoard(), rule=FleetRule(tripped=1, of=2, within=5),
                          interval=value, start=False)  # type: ignore[arg-type]
    return fleet.interval


SECONDS = [_flags_refresh, _redis_timeout, _rule_within, _fleet_interval]
COUNTS = [_memory_limit, _file_limit, _redis_limit, _rule_tripped, _rule_of]


@pytest.mark.parametrize("make", SECONDS)
@pytest.mark.parametrize("value", [np.float32(0.5), np.float64(0.5), np.int64(2)])
def test_durations_accept_numpy_scalars(make: Any, value: object) -> None:
    """A numpy float or integer duration comes back as the same Python float."""
    got = make(value)
    assert type(got) is float
    assert got == float(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("make", COUNTS)
@pytest.mark.parametrize("value", [np.int64(3), np.int32(3), np.uint8(3)])
def test_counts_accept_numpy_integers(make: Any, value: object) -> None:
    """A numpy integer count comes back as the same Python int."""
    got = make(value)
    assert type(got) is int
    assert got == 3


@pytest.mark.parametrize("make", SECONDS + COUNTS)
@pytest.mark.parametrize("value", [True, False, np.bool_(True)])
def test_bools_are_refused(make: Any, value: object) -> None:
    """True as a duration or a count is a bug, not a number."""
    with pytest.raises(ConfigurationError):
        make(value)


@pytest.mark.parametrize("make", COUNTS)
def test_counts_refuse_floats_even_numpy_ones(make: Any) -> None:
    """A float count (numpy or not) is refused: 2.5 replicas is not a number of replicas."""
    for value in (2.5, np.float32(3.0)):
        with pytest.raises(ConfigurationError):
            make(value)


@pytest.mark.parametrize("make", SECONDS)
@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf"), "1"])
def test_durations_refuse_non_positive_or_non_finite(make: Any, value: object) -> None:
    """Zero, negative, NaN, infinite or text seconds are refused."""
    with pytest.raises(ConfigurationError):
        make(value)


@pytest.mark.parametrize("value", [np.float32(25), np.int64(25), np.float64(25.0)])
def test_rollout_percent_accepts_numpy_scalars(value: object) -> None:
    """flags.set(percent=np.float32(25)) rolls out to 25 %, stored as a plain float."""
    flags = ag.Flags(refresh=None)
    flags.set("recs", on=True, percent=value)  # type: ignore[arg-type]
    assert flags.get("recs").percent == 25.0
    assert type(flags.store.read_all()["recs"]["percent"]) is float


@pytest.mark.parametrize("value", [True, np.bool_(False), np.float64(100.5), np.float32("nan")])
def test_rollout_percent_refuses_bools_and_out_of_range(value: object) -> None:
    """percent=True or beyond [0, 100] is refused as bad input, naming percent."""
    flags = ag.Flags(refresh=None)
    with pytest.raises(InvalidInputError) as info:
        flags.set("recs", on=True, percent=value)  # type: ignore[arg-type]
    assert info.value.argument == "percent"


def test_on_is_keyword_only_everywhere() -> None:
    """A flag's on/off is never positional: set(), FlagState(), FlagSpec() and make_record()."""
    from aiguard.state._records import make_record

    flags = ag.Flags(refresh=None)
    with pytest.raises(TypeError):
        flags.set("recs", False)  # type: ignore[misc]
    with pytest.raises(TypeError):
        ag.FlagState("recs", False)  # type: ignore[misc]
    with pytest.raises(TypeError):
        ag.FlagSpec("recs", False)  # type: ignore[misc]
    with pytest.raises(TypeError):
        make_record(False)  # type: ignore[misc]
    assert "recs" not in flags


@pytest.mark.parametrize("make", SECONDS)
def test_durations_accept_a_timedelta(make: Any) -> None:
    """Every duration also takes a datetime.timedelta, as seconds."""
    from datetime import timedelta

    assert make(timedelta(milliseconds=1500)) == 1.5

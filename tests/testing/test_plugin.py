"""The pytest plugin: fixtures reach users' tests through the pytest11 entry point."""

from __future__ import annotations

import importlib.metadata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

pytest_plugins = ["pytester"]

# hypothesis's plugin costs seconds per in-process run and user tests here do not need it
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")

INI = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"

USER_TESTS = """
import numpy as np
import pytest

import aiguard as ag
from aiguard.testing import FakeClock, assert_breaker_state, assert_served_by


class ModelServerError(Exception):
    pass


def popular_items(x):
    return np.zeros(len(x))


breaker = ag.CircuitBreaker(failure_rate=0.5, window=50, min_calls=50, open_for=30)
recs = ag.Guard(name="recs", breaker=breaker, check=ag.checks.finite(),
                fallback=popular_items)


@recs
def recommend(x):
    return np.ones(len(x))


X = np.zeros((4, 2))


def test_falls_back_when_model_is_down(aiguard_faults):
    aiguard_faults.raise_(ModelServerError, rate=1.0, on=recommend)
    assert (recommend(X) == popular_items(X)).all()
    assert_served_by(recs, "fallback")


def test_faults_were_undone_at_teardown():
    assert (recommend(X) == 1.0).all()
    assert_served_by(recs, "model")


def test_nan_rows_are_replaced(aiguard_faults):
    aiguard_faults(recommend, seed=1).nan(rows=0.5)
    assert not np.isnan(recommend(X)).any()
    assert recs.last_outcome.reason == "invalid"


def test_fake_clock_fixture(fake_clock):
    assert isinstance(fake_clock, FakeClock)
    assert fake_clock() == 0.0
    fake_clock.advance(5)
    assert fake_clock() == 5.0


def test_events_capture_outcomes(aiguard_events, aiguard_faults):
    aiguard_events.watch(recs)
    recommend(X)
    aiguard_faults.raise_(ModelServerError, on=recommend)
    recommend(X)
    assert [o.reason for o in aiguard_events.outcomes] == [None, "error"]


def test_events_were_detached_at_teardown():
    assert recs._listeners == []


@recs
async def arecommend(x):
    return np.ones(len(x))


async def test_async_model_falls_back(aiguard_faults):
    aiguard_faults.raise_(ModelServerError, on=arecommend)
    assert (await arecommend(X) == 0.0).all()
    assert_served_by(recs, "popular_items")
"""


def test_entry_point_is_registered() -> None:
    """The installed distribution declares the plugin under pytest11."""
    points = importlib.metadata.entry_points(group="pytest11")
    assert "aiguard.testing._plugin" in {p.value for p in points if p.name == "aiguard"}


def test_fixtures_work_in_a_users_test_file(pytester: pytest.Pytester) -> None:
    """A user's test file, with no conftest, gets the fixtures and every fault is undone."""
    pytester.makeini(INI)
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest(*QUIET)
    result.assert_outcomes(passed=7)


def test_plugin_can_be_disabled(pytester: pytest.Pytester) -> None:
    """-p no:aiguard removes the fixtures (proof they come from the entry point)."""
    pytester.makeini(INI)
    pytester.makepyfile(test_user="def test_x(aiguard_faults):\n    pass\n")
    result = pytester.runpytest("-p", "no:aiguard", *QUIET)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'aiguard_faults' not found*"])


def test_fixtures_are_listed(pytester: pytest.Pytester) -> None:
    """pytest --fixtures shows the three fixtures with their docstrings."""
    pytester.makeini(INI)
    result = pytester.runpytest("--fixtures", *QUIET)
    result.stdout.fnmatch_lines([
        "*fake_clock*", "*aiguard_events*", "*aiguard_faults*",
    ])
    result.stdout.fnmatch_lines(["*all undone when the test ends*"])

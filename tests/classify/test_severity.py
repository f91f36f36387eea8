"""Severity levels: order, the playbook's response times, parsing, overrides."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from aiguard import ConfigurationError, Severity
from aiguard.classify import sla_table, worst


def test_levels_are_ordered_low_to_critical() -> None:
    """LOW < MEDIUM < HIGH < CRITICAL, and sorting follows that order."""
    shuffled = [Severity.HIGH, Severity.LOW, Severity.CRITICAL, Severity.MEDIUM]
    assert sorted(shuffled) == [Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]
    assert Severity.LOW <= Severity.LOW < Severity.CRITICAL
    assert Severity.CRITICAL >= Severity.HIGH > Severity.MEDIUM


def test_comparing_with_other_types_is_refused() -> None:
    """A severity does not compare with a number."""
    with pytest.raises(TypeError):
        _ = Severity.LOW < 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        _ = Severity.LOW <= 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        _ = Severity.LOW > 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        _ = Severity.LOW >= 1  # type: ignore[operator]


def test_default_response_times_are_the_playbooks() -> None:
    """Critical 15 min, High 1 h, Medium 4 h, Low 24 h."""
    assert Severity.CRITICAL.respond_within == timedelta(minutes=15)
    assert Severity.HIGH.respond_within == timedelta(hours=1)
    assert Severity.MEDIUM.respond_within == timedelta(hours=4)
    assert Severity.LOW.respond_within == timedelta(hours=24)


def test_descriptions_use_the_playbooks_words() -> None:
    """Each level carries the classification matrix's description."""
    assert "immediate harm" in Severity.CRITICAL.description
    assert "limited scope" in Severity.HIGH.description
    assert "workarounds" in Severity.MEDIUM.description
    assert "minor" in Severity.LOW.description


def test_parse_accepts_names_in_any_case_and_refuses_others() -> None:
    """parse('High') is HIGH; an unknown name raises naming the argument."""
    assert Severity.parse("High") is Severity.HIGH
    assert Severity.parse(Severity.LOW) is Severity.LOW
    with pytest.raises(ConfigurationError, match="severity must be a Severity"):
        Severity.parse("urgent")
    with pytest.raises(ConfigurationError):
        Severity.parse(3)


def test_worst_picks_the_highest_and_needs_one() -> None:
    """Conflicting evidence: the worst level wins."""
    assert worst([Severity.LOW, Severity.HIGH, Severity.MEDIUM]) is Severity.HIGH
    with pytest.raises(ConfigurationError):
        worst([])


def test_sla_table_overrides_per_application() -> None:
    """An application's own response times replace the defaults, numpy numbers included."""
    table = sla_table({"high": timedelta(minutes=30), Severity.LOW: np.float64(7200)})
    assert table == {Severity.CRITICAL: 900.0, Severity.HIGH: 1800.0, Severity.MEDIUM: 14400.0,
                     Severity.LOW: 7200.0}
    assert sla_table() == {s: s.respond_within.total_seconds() for s in Severity}


@pytest.mark.parametrize("bad", [0, -1, float("nan"), True, "soon"])
def test_sla_table_refuses_bad_durations(bad: object) -> None:
    """A response time must be a positive duration."""
    with pytest.raises(ConfigurationError, match=r"respond_within\[high\]"):
        sla_table({"high": bad})  # type: ignore[dict-item]


def test_sla_table_refuses_a_non_mapping() -> None:
    """A list of numbers is not a table."""
    with pytest.raises(ConfigurationError, match="respond_within"):
        sla_table([1, 2])  # type: ignore[arg-type]

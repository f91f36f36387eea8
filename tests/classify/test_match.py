"""Signal predicates: what they match, how they print, how they combine, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aiguard import ConfigurationError, rules
from aiguard.detect import Signal


def sig(**kw: object) -> Signal:
    base: dict[str, object] = {"source": "recs.latency", "kind": "latency", "value": 3.0,
                               "baseline": 0.2, "at": 0.0}
    base.update(kw)
    return Signal(**base)  # type: ignore[arg-type]


def test_kind_and_source() -> None:
    """kind() matches the listed kinds; source() matches shell patterns."""
    assert rules.kind("latency", "error_rate")(sig())
    assert not rules.kind("drift")(sig())
    assert rules.source("recs.*")(sig())
    assert not rules.source("chat.*")(sig())


def test_thresholds_on_value_ratio_and_drop() -> None:
    """value_above/below, ratio_above (3 s vs 200 ms is 15x) and drop_above."""
    assert rules.value_above(3.0)(sig())
    assert not rules.value_above(3.1)(sig())
    assert rules.value_below(3.0)(sig())
    assert not rules.value_below(2.9)(sig())
    assert rules.ratio_above(15)(sig())
    assert not rules.ratio_above(15.1)(sig())
    perf = sig(kind="performance", value=0.80, baseline=0.92)
    assert rules.drop_above(0.12)(perf)
    assert not rules.drop_above(0.13)(perf)


def test_missing_baseline_or_nan_never_matches() -> None:
    """A figure that cannot be judged matches nothing (not even the mild rule)."""
    assert not rules.ratio_above(1)(sig(baseline=None))
    assert not rules.ratio_above(1)(sig(baseline=0.0))
    assert not rules.drop_above(0.1)(sig(baseline=None))
    assert not rules.value_above(0)(sig(value=math.nan))


def test_a_raising_predicate_answers_false() -> None:
    """A custom test that raises is False, not an exception."""
    broken = rules.Match(lambda s: s.evidence["missing"] > 1, "broken")
    assert broken(sig()) is False


def test_evidence_key_and_values() -> None:
    """evidence(key) checks presence; with values, one of them (in a list or alone)."""
    tagged = sig(evidence={"tags": ["security", "pii"], "feature": "region"})
    assert rules.evidence("tags")(tagged)
    assert rules.evidence("tags", "security")(tagged)
    assert not rules.evidence("tags", "legal")(tagged)
    assert rules.evidence("feature", "region")(tagged)
    assert not rules.evidence("nothing")(tagged)


def test_combinations_print_as_written() -> None:
    """&, | and ~ combine and print as the expression."""
    p = rules.kind("latency") & (rules.ratio_above(5) | ~rules.source("chat.*"))
    assert repr(p) == "kind('latency') & (ratio_above(5) | ~source('chat.*'))"
    assert p(sig())
    assert not p(sig(kind="drift"))
    assert not (rules.always() & ~rules.always())(sig())
    assert (rules.value_above(100) | rules.always())(sig())


def test_numpy_numbers_are_accepted() -> None:
    """Limits may be numpy scalars."""
    assert rules.value_above(np.float32(2.5))(sig())


@pytest.mark.parametrize(("factory", "arg"), [
    (rules.value_above, True), (rules.value_below, "1"), (rules.ratio_above, math.inf),
    (rules.drop_above, None), (rules.kind, "weather"), (rules.source, ""), (rules.evidence, ""),
])
def test_bad_arguments_raise_configuration_errors(factory: object, arg: object) -> None:
    """Each builder names its argument when given nonsense."""
    with pytest.raises(ConfigurationError):
        factory(arg)  # type: ignore[operator]


def test_kind_needs_at_least_one() -> None:
    """kind() with no kind is an error."""
    with pytest.raises(ConfigurationError, match="kinds"):
        rules.kind()

"""The canary judge: U test and p-value as scipy's, Hodges-Lehmann as an independent loop."""

from __future__ import annotations

import itertools
import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from aiguard.errors import ConfigurationError, InvalidInputError
from aiguard.recover._judge import Judge, MetricSpec, default_judge, hodges_lehmann


def reference_hl(candidate: list[float], baseline: list[float]) -> float:
    """Hodges-Lehmann written out: the median of every pairwise difference."""
    return statistics.median(c - b for c, b in itertools.product(candidate, baseline))


samples = st.lists(st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False),
                   min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(samples, samples)
def test_hodges_lehmann_matches_the_pairwise_median(c: list[float], b: list[float]) -> None:
    """Below the pair limit HL equals the median of all pairwise differences."""
    assert math.isclose(hodges_lehmann(c, b), reference_hl(c, b), rel_tol=1e-12, abs_tol=1e-9)


def test_hodges_lehmann_of_empty_sample_is_nan() -> None:
    """An empty side has no shift estimate."""
    assert math.isnan(hodges_lehmann([], [1.0]))


def test_hodges_lehmann_thinned_above_the_pair_limit_is_close() -> None:
    """Above 4e6 pairs the quantile-thinned estimate stays within a small step of exact."""
    rng = np.random.default_rng(3)
    c, b = rng.normal(0.3, 1, 2500), rng.normal(0, 1, 2500)
    exact = float(np.median(np.subtract.outer(c, b)))
    assert abs(hodges_lehmann(c, b) - exact) < 0.01


@pytest.mark.parametrize(("bad", "alternative"),
                         [("higher", "greater"), ("lower", "less"), ("either", "two-sided")])
def test_u_and_pvalue_are_scipys(bad: str, alternative: str) -> None:
    """Statistic and p-value equal scipy.stats.mannwhitneyu with the bad direction."""
    rng = np.random.default_rng(7)
    c, b = rng.normal(0.2, 1, 60), rng.normal(0, 1, 45)
    result = Judge([MetricSpec("m", bad=bad)]).metric(MetricSpec("m", bad=bad), c, b)  # type: ignore[arg-type]
    expected = stats.mannwhitneyu(c, b, alternative=alternative)
    assert (expected.statistic, expected.pvalue) == (result.statistic, result.pvalue)
    assert math.isclose(result.effect, reference_hl(list(c), list(b)))


def test_direction_decides_what_fails() -> None:
    """A clear increase fails 'higher is bad', passes 'lower is bad', fails 'either'."""
    rng = np.random.default_rng(1)
    b = rng.normal(10, 1, 200)
    c = b + 2
    verdicts = {bad: Judge([MetricSpec("m", bad=bad)])({"m": c}, {"m": b}).verdict
                for bad in ("higher", "lower", "either")}
    assert verdicts == {"higher": "fail", "lower": "pass", "either": "fail"}


def test_shift_inside_the_band_passes_even_when_significant() -> None:
    """A significant shift smaller than tolerance + relative * |median| passes."""
    rng = np.random.default_rng(2)
    b = rng.normal(100, 1, 500)
    c = b + 3  # p ~ 0, but 3 < 0.05 * 100
    judge = Judge([MetricSpec("m", relative=0.05)])
    result = judge({"m": c}, {"m": b}).metrics[0]
    assert result.pvalue < 1e-10
    assert result.allowed == pytest.approx(0.05 * float(np.median(b)))
    assert result.verdict == "pass"


def test_mean_effect_for_rates() -> None:
    """effect='mean' uses the difference of the rates (HL of 0/1 data would be 0)."""
    c = np.array([1.0] * 25 + [0.0] * 75)
    b = np.array([1.0] * 5 + [0.0] * 95)
    spec = MetricSpec("error", tolerance=0.01, effect="mean")
    result = Judge([spec]).metric(spec, c, b)
    assert result.effect == pytest.approx(0.20)
    assert hodges_lehmann(c, b) == 0.0
    assert result.verdict == "fail"


def test_identical_constant_samples_pass() -> None:
    """All values equal on both sides: no evidence, p = 1, pass."""
    result = Judge([MetricSpec("m")])({"m": [1.0] * 30}, {"m": [1.0] * 30}).metrics[0]
    assert (result.pvalue, result.verdict) == (1.0, "pass")


def test_scores_and_thresholds() -> None:
    """Score is the share passing; pass/marginal/fail follow the thresholds."""
    rng = np.random.default_rng(4)
    b = rng.normal(0, 1, 100)
    worse, same = b + 5, rng.permutation(b)
    judge = Judge([MetricSpec(n) for n in "abcd"], pass_score=0.75, marginal_score=0.5)
    base = dict.fromkeys("abcd", b)

    def with_bad(k: int) -> str:
        cand = {n: (worse if i < k else same) for i, n in enumerate("abcd")}
        return judge(cand, base).verdict

    assert [with_bad(k) for k in range(5)] == ["pass", "pass", "marginal", "fail", "fail"]


def test_critical_failure_fails_alone_and_nodata_is_inconclusive() -> None:
    """One critical failure fails; too few samples on a metric make it inconclusive."""
    rng = np.random.default_rng(5)
    b = rng.normal(0, 1, 100)
    judge = Judge([MetricSpec("lat", critical=True), *(MetricSpec(n) for n in "abc")])
    cand = {"lat": b + 5, "a": b, "b": b, "c": b}
    base = {"lat": b, "a": b, "b": b, "c": b}
    failed = judge(cand, base)
    assert (failed.verdict, failed.score) == ("fail", 0.75)
    assert "critical" in failed.reason
    few = judge({**cand, "lat": b, "a": b[:5]}, base)
    assert few.verdict == "inconclusive"
    assert few.metrics[1].verdict == "nodata"
    assert math.isnan(few.metrics[1].pvalue)


def test_metrics_absent_from_both_sides_are_not_judged() -> None:
    """default_judge without labels judges three metrics; with none at all it is inconclusive."""
    rng = np.random.default_rng(6)
    b = rng.normal(1, 0.1, 50)
    data = {"latency": b, "error": np.zeros(50), "output": b}
    judgement = default_judge()(data, data)
    assert [m.name for m in judgement.metrics] == ["latency", "error", "output"]
    assert judgement.verdict == "pass"
    assert default_judge()({}, {}).verdict == "inconclusive"


def test_non_finite_values_are_dropped_and_garbage_refused() -> None:
    """NaN and inf are left out of the counts; text is an InvalidInputError."""
    spec = MetricSpec("m")
    judge = Judge([spec], min_samples=2)
    result = judge.metric(spec, [1.0, math.nan, 2.0, math.inf], [1.0, 2.0, 3.0])
    assert (result.n_candidate, result.n_baseline) == (2, 3)
    with pytest.raises(InvalidInputError, match=r"candidate\['m'\]"):
        judge.metric(spec, ["a", "b"], [1.0, 2.0])


def test_reports_render() -> None:
    """to_dict turns NaN into None; to_markdown has a row per metric."""
    judge = Judge([MetricSpec("lat", critical=True), MetricSpec("out")], min_samples=3)
    j = judge({"lat": [1.0, 2.0, 3.0], "out": [1.0]}, {"lat": [1.0, 2.0, 3.0]})
    doc = j.to_dict()
    assert doc["verdict"] == "inconclusive"
    assert doc["metrics"][1]["pvalue"] is None
    md = j.to_markdown()
    assert "| lat (critical) | pass |" in md
    assert "| out | nodata |" in md
    assert "min_samples=3" in repr(judge)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"metrics": []}, "metrics"),
        ({"metrics": ["latency"]}, "metrics"),
        ({"metrics": [MetricSpec("a"), MetricSpec("a")]}, "metrics"),
        ({"alpha": 1.0}, "alpha"),
        ({"alpha": True}, "alpha"),
        ({"pass_score": 0}, "pass_score"),
        ({"marginal_score": 0.9}, "marginal_score"),
        ({"min_samples": 1}, "min_samples"),
    ],
)
def test_judge_bad_configuration(kwargs: dict[str, object], argument: str) -> None:
    """Each invalid parameter names itself."""
    full: dict[str, object] = {"metrics": [MetricSpec("a")], **kwargs}
    with pytest.raises(ConfigurationError) as info:
        Judge(**full)  # type: ignore[arg-type]
    assert info.value.argument == argument


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"name": ""}, "name"), ({"bad": "up"}, "bad"), ({"tolerance": -1}, "tolerance"),
     ({"relative": float("nan")}, "relative"), ({"effect": "median"}, "effect")],
)
def test_metric_spec_bad_configuration(kwargs: dict[str, object], argument: str) -> None:
    """Each invalid MetricSpec field names itself."""
    full: dict[str, object] = {"name": "m", **kwargs}
    name = full.pop("name")
    with pytest.raises(ConfigurationError) as info:
        MetricSpec(name, **full)  # type: ignore[arg-type]
    assert info.value.argument == argument


def test_numpy_scalars_accepted() -> None:
    """numpy scalars are fine for every numeric parameter."""
    judge = Judge([MetricSpec("m", tolerance=np.float32(0.5), relative=np.float64(0.1))],
                  alpha=np.float64(0.01), min_samples=np.int64(5))
    assert (judge.alpha, judge.min_samples, judge.metrics[0].tolerance) == (0.01, 5, 0.5)


def test_hodges_lehmann_thins_only_the_large_side() -> None:
    """Above the pair limit a small sample stays whole; the estimate stays close to exact."""
    rng = np.random.default_rng(8)
    c, b = rng.normal(0.5, 1, 100), rng.normal(0, 1, 50_000)
    exact = float(np.median(np.subtract.outer(c, b)))
    assert abs(hodges_lehmann(c, b) - exact) < 0.01

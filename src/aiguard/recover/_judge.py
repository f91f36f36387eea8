"""The canary judge: per metric a Mann-Whitney U test and an effect estimate against a band.

For each metric the judge compares the candidate's samples ``c_1..c_n`` with
the baseline's ``b_1..b_m`` (Kayenta's approach, in-process):

* **Test.** Mann-Whitney U (``scipy.stats.mannwhitneyu``, ``method="auto"``,
  tie-corrected). ``U`` counts the pairs with ``c_i > b_j`` (ties count 1/2).
  The alternative follows the metric's bad direction: ``"greater"`` when
  higher is bad (latency, errors), ``"less"`` when lower is bad (accuracy),
  ``"two-sided"`` when either is (an output distribution).
* **Effect.** The Hodges-Lehmann estimate of the shift,
  ``HL = median{c_i - b_j : all i, j}`` (Hodges & Lehmann, 1963), the
  estimate that goes with the U test. For 0/1 metrics (error, correct) the
  median of pairwise differences is 0 unless the rates differ by more than a
  half, so ``effect="mean"`` uses the difference of means (rates) instead.
  Above ``n * m = 4,000,000`` pairs HL is computed on the 2,000 evenly spaced
  quantiles of each sample (``np.quantile`` type 7): an approximation within
  one quantile step, documented and tested.
* **Band.** The allowed shift is ``tolerance + relative * |centre(baseline)|``
  (centre: the median for HL, the mean for ``"mean"``).
* **Verdict.** A metric *fails* when the test is significant (``p < alpha``)
  **and** the effect lies beyond the band in a bad direction; it *passes*
  otherwise. With fewer than ``min_samples`` values on either side it has
  *no data*.

The judgement, over the metrics present in the samples (one named in neither
mapping is not judged): any *critical* metric failing fails it; otherwise any metric
without data makes it *inconclusive*; otherwise the score (the share of
metrics that pass) decides: ``>= pass_score`` pass, ``>= marginal_score``
marginal, below that fail.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs
import numpy as np

from aiguard._core import _validate
from aiguard.errors import ConfigurationError, InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

__all__ = ["Judge", "Judgement", "MetricResult", "MetricSpec", "default_judge", "hodges_lehmann"]

Verdict = Literal["pass", "marginal", "fail", "inconclusive"]
_PAIRS_EXACT: Final = 4_000_000
_THIN: Final = 2_000
_BAD = ("higher", "lower", "either")
_EFFECTS = ("hodges-lehmann", "mean")


def _name(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigurationError("name", "a non-empty string", value)
    return value


def _choice(options: tuple[str, ...], argument: str) -> Callable[[object, object, object], None]:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if value not in options:
            raise ConfigurationError(argument, f"one of {', '.join(map(repr, options))}", value)

    return check


def _tolerance(value: object) -> float:
    return _validate.real(value, "tolerance", low=0.0)


def _relative(value: object) -> float:
    return _validate.real(value, "relative", low=0.0)


@attrs.frozen
class MetricSpec:
    """How one metric is judged.

    Args:
        name: the metric (``"latency"``, ``"error"``, ``"output"``, ``"label"``...).
        bad: which direction is bad: ``"higher"`` (latency, errors),
            ``"lower"`` (accuracy) or ``"either"`` (an output distribution).
        tolerance: the allowed shift, in the metric's units.
        relative: the allowed shift as a share of the baseline's centre, added
            to *tolerance*.
        critical: a failure of this metric fails the whole judgement.
        effect: ``"hodges-lehmann"`` (continuous metrics) or ``"mean"`` (0/1 rates).

    Example:
        >>> MetricSpec("latency", relative=0.2, critical=True).bad
        'higher'
    """

    name: str = attrs.field(converter=_name)
    bad: Literal["higher", "lower", "either"] = attrs.field(
        default="higher", kw_only=True, validator=_choice(_BAD, "bad"))
    tolerance: float = attrs.field(default=0.0, kw_only=True, converter=_tolerance)
    relative: float = attrs.field(default=0.0, kw_only=True, converter=_relative)
    critical: bool = attrs.field(default=False, kw_only=True)
    effect: Literal["hodges-lehmann", "mean"] = attrs.field(
        default="hodges-lehmann", kw_only=True, validator=_choice(_EFFECTS, "effect"))


@attrs.frozen
class MetricResult:
    """One metric's comparison: the U test, the effect, the band and the verdict.

    Attributes:
        name: the metric.
        verdict: ``"pass"``, ``"fail"`` or ``"nodata"``.
        statistic: Mann-Whitney U of the candidate (NaN without data).
        pvalue: its p-value for the metric's alternative (NaN without data).
        effect: the shift estimate, candidate minus baseline (NaN without data).
        allowed: the half-width of the allowed band.
        n_candidate: candidate samples.
        n_baseline: baseline samples.
        critical: copied from the spec.
        reason: one line saying why.
    """

    name: str
    verdict: Literal["pass", "fail", "nodata"]
    statistic: float
    pvalue: float
    effect: float
    allowed: float
    n_candidate: int
    n_baseline: int
    critical: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-friendly dict (NaN becomes None)."""
        return {k: (None if isinstance(v, float) and math.isnan(v) else v)
                for k, v in attrs.asdict(self).items()}


@attrs.frozen
class Judgement:
    """The judge's answer for a candidate against a baseline.

    Attributes:
        verdict: ``"pass"``, ``"marginal"``, ``"fail"`` or ``"inconclusive"``.
        score: the share of metrics that pass, in [0, 1].
        metrics: each metric's :class:`MetricResult`, in the judge's order.
        reason: one line saying why.

    Example:
        >>> judge = Judge([MetricSpec("latency")], min_samples=3)
        >>> j = judge({"latency": [1.0, 1.1, 0.9]}, {"latency": [1.0, 1.2, 0.95]})
        >>> j.verdict, j.score
        ('pass', 1.0)
    """

    verdict: Verdict
    score: float
    metrics: tuple[MetricResult, ...]
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Return the judgement as a JSON-friendly dict."""
        return {"verdict": self.verdict, "score": self.score, "reason": self.reason,
                "metrics": [m.to_dict() for m in self.metrics]}

    def to_markdown(self) -> str:
        """Return the judgement as a markdown table, one row per metric."""
        lines = [f"**{self.verdict}** (score {self.score:.2f}): {self.reason}", "",
                 "| metric | verdict | effect | allowed | p-value | n cand | n base |",
                 "|---|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {m.name}{' (critical)' if m.critical else ''} | {m.verdict} | "
                  f"{m.effect:.4g} | {m.allowed:.4g} | {m.pvalue:.3g} | {m.n_candidate} | "
                  f"{m.n_baseline} |" for m in self.metrics]
        return "\n".join(lines)


def _thin(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if values.size <= _THIN:
        return values
    thinned: np.ndarray[Any, Any] = np.quantile(values, np.linspace(0.0, 1.0, _THIN))
    return thinned


def hodges_lehmann(candidate: object, baseline: object) -> float:
    """Return the Hodges-Lehmann shift estimate ``median{c_i - b_j}``.

    Exact up to 4,000,000 pairs; above that, computed on 2,000 evenly spaced
    quantiles of each sample.

    Example:
        >>> hodges_lehmann([2.0, 3.0, 4.0], [1.0, 2.0])
        1.5
    """
    c = np.asarray(candidate, dtype=float).ravel()
    b = np.asarray(baseline, dtype=float).ravel()
    if c.size == 0 or b.size == 0:
        return math.nan
    if c.size * b.size > _PAIRS_EXACT:
        c, b = _thin(c), _thin(b)
    return float(np.median(np.subtract.outer(c, b)))


def _samples(values: object, name: str) -> np.ndarray[Any, Any]:
    try:
        array = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(name, "an array of numbers", f"{exc}") from exc
    finite: np.ndarray[Any, Any] = array[np.isfinite(array)]
    return finite


class Judge:
    """Score a candidate against a baseline on several metrics (see the module docstring).

    Implements :class:`aiguard.typing.Judge`: called with two mappings from
    metric name to samples, returns a :class:`Judgement`.

    Args:
        metrics: the :class:`MetricSpec` of every metric judged.
        alpha: the significance level of every U test.
        pass_score: the lowest score that passes.
        marginal_score: the lowest score that is marginal rather than failing.
        min_samples: fewer values than this on either side: the metric has no data.

    Raises:
        ConfigurationError: an invalid parameter.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> judge = Judge([MetricSpec("latency", relative=0.1, critical=True)])
        >>> base = rng.gamma(4.0, 0.01, 500)
        >>> judge({"latency": base * 3}, {"latency": base[::-1]}).verdict
        'fail'
    """

    def __init__(
        self,
        metrics: Sequence[MetricSpec],
        *,
        alpha: float = 0.05,
        pass_score: float = 0.75,
        marginal_score: float = 0.5,
        min_samples: int = 20,
    ) -> None:
        specs = tuple(metrics)
        if not specs or not all(isinstance(m, MetricSpec) for m in specs):
            raise ConfigurationError("metrics", "a non-empty sequence of MetricSpec", metrics)
        if len({m.name for m in specs}) != len(specs):
            raise ConfigurationError("metrics", "metrics with distinct names", metrics)
        self.metrics = specs
        self.alpha = _validate.real(alpha, "alpha", low=0.0, high=1.0, low_open=True,
                                    high_open=True)
        self.pass_score = _validate.fraction(pass_score, "pass_score")
        self.marginal_score = _validate.fraction(marginal_score, "marginal_score", zero=True)
        if self.marginal_score > self.pass_score:
            raise ConfigurationError("marginal_score", f"<= pass_score ({self.pass_score})",
                                     marginal_score)
        self.min_samples = _validate.count(min_samples, "min_samples", minimum=2)

    def __repr__(self) -> str:
        """Show the metrics and thresholds."""
        names = ", ".join(m.name + ("!" if m.critical else "") for m in self.metrics)
        return (f"Judge([{names}], alpha={self.alpha}, pass_score={self.pass_score}, "
                f"marginal_score={self.marginal_score}, min_samples={self.min_samples})")

    def __call__(
        self, candidate: Mapping[str, object], baseline: Mapping[str, object]
    ) -> Judgement:
        """Judge *candidate* against *baseline* (metric name -> samples).

        A metric named in neither mapping is not judged (a canary without
        delayed labels has no ``label`` metric); one named in only one, or
        with too few samples, has no data.
        """
        results = tuple(
            self.metric(spec, candidate.get(spec.name, ()), baseline.get(spec.name, ()))
            for spec in self.metrics
            if spec.name in candidate or spec.name in baseline
        )
        if not results:
            return Judgement("inconclusive", 0.0, (), "no metric has any sample")
        return self._combine(results)

    def metric(self, spec: MetricSpec, candidate: object, baseline: object) -> MetricResult:
        """Judge one metric (non-finite values are dropped)."""
        c = _samples(candidate, f"candidate[{spec.name!r}]")
        b = _samples(baseline, f"baseline[{spec.name!r}]")
        if min(c.size, b.size) < self.min_samples:
            return MetricResult(
                spec.name, "nodata", math.nan, math.nan, math.nan, math.nan, int(c.size),
                int(b.size), spec.critical,
                f"{spec.name}: {min(c.size, b.size)} samples < min_samples={self.min_samples}")
        from scipy import stats  # noqa: PLC0415 - scipy only when judging

        alternative = {"higher": "greater", "lower": "less", "either": "two-sided"}[spec.bad]
        if np.ptp(np.concatenate([c, b])) == 0:  # all equal: no evidence of any shift
            statistic, pvalue = c.size * b.size / 2.0, 1.0
        else:
            test = stats.mannwhitneyu(c, b, alternative=alternative, method="auto")
            statistic, pvalue = float(test.statistic), float(test.pvalue)
        if spec.effect == "mean":
            effect, centre = float(c.mean() - b.mean()), float(b.mean())
        else:
            effect, centre = hodges_lehmann(c, b), float(np.median(b))
        allowed = spec.tolerance + spec.relative * abs(centre)
        beyond = {"higher": effect > allowed, "lower": effect < -allowed,
                  "either": abs(effect) > allowed}[spec.bad]
        failed = bool(pvalue < self.alpha and beyond)
        reason = (f"{spec.name}: shift {effect:+.4g} {'beyond' if beyond else 'within'} "
                  f"+/-{allowed:.4g}, p={pvalue:.3g}")
        return MetricResult(spec.name, "fail" if failed else "pass", statistic, pvalue, effect,
                            allowed, int(c.size), int(b.size), spec.critical, reason)

    def _combine(self, results: tuple[MetricResult, ...]) -> Judgement:
        score = sum(r.verdict == "pass" for r in results) / len(results)
        critical = [r for r in results if r.critical and r.verdict == "fail"]
        if critical:
            return Judgement("fail", score, results,
                             "critical metric failed: " + "; ".join(r.reason for r in critical))
        missing = [r for r in results if r.verdict == "nodata"]
        if missing:
            return Judgement("inconclusive", score, results,
                             "too little data: " + "; ".join(r.reason for r in missing))
        failed = "; ".join(r.reason for r in results if r.verdict == "fail") or "none failed"
        if score >= self.pass_score:
            return Judgement("pass", score, results, f"score {score:.2f} >= {self.pass_score}")
        if score >= self.marginal_score:
            return Judgement("marginal", score, results,
                             f"score {score:.2f} < pass {self.pass_score}: {failed}")
        return Judgement("fail", score, results,
                         f"score {score:.2f} < marginal {self.marginal_score}: {failed}")


def default_judge(*, min_samples: int = 20) -> Judge:
    """The judge a canary uses when given none: latency and errors critical, outputs not.

    * ``latency``: higher is bad, 25 % slower (of the baseline median) allowed, critical;
    * ``error``: a 0/1 rate, higher is bad, one point (0.01) allowed, critical;
    * ``output``: either direction is bad, 10 % of the baseline median allowed;
    * ``label``: when delayed labels are recorded (1 = correct), lower is bad,
      one point allowed.

    Example:
        >>> default_judge()
        Judge([latency!, error!, output, label], alpha=0.05, pass_score=0.75, \
marginal_score=0.5, min_samples=20)
    """
    return Judge(
        [
            MetricSpec("latency", bad="higher", relative=0.25, critical=True),
            MetricSpec("error", bad="higher", tolerance=0.01, critical=True, effect="mean"),
            MetricSpec("output", bad="either", relative=0.1),
            MetricSpec("label", bad="lower", tolerance=0.01, effect="mean"),
        ],
        min_samples=min_samples,
    )

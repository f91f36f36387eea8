"""compat="evidently" reproduces Evidently 0.7's binned drift scores.

The GOLDEN numbers were computed once with Evidently 0.7.23 (numpy 2.4.6,
pandas 2.2.3) in a separate virtual environment by
``benchmarks/evidently_golden.py``, which calls Evidently's own stattests
(``evidently.legacy.calculations.stattests``: ``psi_stat_test``,
``kl_div_stat_test``, ``jensenshannon_stat_test``, ``hellinger_stat_test``)
on the data sets below. Evidently is not a dependency of aiguard; the data
sets are regenerated here from the same seeds.
"""

from __future__ import annotations

import numpy as np
import pytest

from aiguard import drift
from aiguard.detect._drift.binned import evidently_proportions

GOLDEN = {
    "normal_shift": {
        "psi": 0.13070204603803942,
        "kl": 0.05520699047795103,
        "jensenshannon": 0.12367529896953078,
        "hellinger": 0.12557057554410164,
    },
    "lognormal_tail": {
        "psi": 0.006209174774331268,
        "kl": 0.002713600192083799,
        "jensenshannon": 0.02428726460171849,
        "hellinger": 0.024879265131766585,
    },
    "poisson_unseen": {
        "psi": 0.32254030140717355,
        "kl": 0.14760569662228307,
        "jensenshannon": 0.19478776832638997,
        "hellinger": 0.17669004418352408,
    },
    "strings_unseen": {
        "psi": 0.6681193422396938,
        "kl": 0.10639137277676197,
        "jensenshannon": 0.18902479829451768,
        "hellinger": 0.22395741106251657,
    },
}

FUNCTIONS = {
    "psi": drift.psi,
    "kl": drift.kl,
    "jensenshannon": drift.jensenshannon,
    "hellinger": drift.hellinger,
}


def datasets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The same seeded data sets as benchmarks/evidently_golden.py."""
    rng = np.random.default_rng(20261126)
    cats = np.array(["a", "b", "c", "d", "e"])
    return {
        "normal_shift": (rng.normal(0, 1, 1000), rng.normal(0.3, 1.2, 800)),
        "lognormal_tail": (rng.lognormal(0, 1, 20000), rng.lognormal(0.1, 1, 15000)),
        "poisson_unseen": (
            rng.poisson(3, 2000).astype(float),
            rng.poisson(4, 1500).astype(float),
        ),
        "strings_unseen": (
            rng.choice(cats[:4], 3000, p=[0.4, 0.3, 0.2, 0.1]),
            rng.choice(cats, 2500, p=[0.3, 0.3, 0.2, 0.1, 0.1]),
        ),
    }


DATA = datasets()


@pytest.mark.parametrize("name", list(GOLDEN))
@pytest.mark.parametrize("method", list(FUNCTIONS))
def test_matches_evidently_golden_values(name: str, method: str) -> None:
    """compat="evidently" gives Evidently 0.7's numbers to 1e-12 relative."""
    ref, cur = DATA[name]
    got = FUNCTIONS[method](ref, cur, compat="evidently").statistic
    assert got == pytest.approx(GOLDEN[name][method], rel=1e-12)


def test_default_rules_differ_from_evidently() -> None:
    """The default (quantile bins, renormalised epsilon) is a different, documented number."""
    ref, cur = DATA["normal_shift"]
    assert drift.psi(ref, cur).statistic != pytest.approx(GOLDEN["normal_shift"]["psi"])


def test_tail_data_exercises_the_small_share_fill() -> None:
    """The heavy-tail set has empty bins and a smallest share <= 1e-4 (the m / 1e6 branch)."""
    ref, cur = DATA["lognormal_tail"]
    p, q = evidently_proportions(ref, cur, numeric=True)
    assert (p == 0).any() or (q == 0).any()
    assert min(p[p > 0].min(), q[q > 0].min()) <= 1e-4


def test_compat_works_on_two_d_and_with_nan_omitted() -> None:
    """compat applies per column of 2-D input; omitted NaNs are dropped first."""
    ref, cur = DATA["normal_shift"]
    ref2 = np.column_stack([ref, ref])
    cur2 = np.column_stack([cur, np.r_[cur[:-1], np.nan]])
    res = drift.psi(ref2, cur2, compat="evidently", nan_policy="omit").statistic
    assert res[0] == pytest.approx(GOLDEN["normal_shift"]["psi"], rel=1e-12)
    assert res[1] == pytest.approx(drift.psi(ref, cur[:-1], compat="evidently").statistic)


def test_reference_compare_compat_matches_golden() -> None:
    """Reference.compare(compat="evidently") reports the same numbers."""
    ref, cur = DATA["poisson_unseen"]
    report = drift.Reference(ref).compare(cur, methods=tuple(FUNCTIONS), compat="evidently")
    for method in FUNCTIONS:
        result = report.features[0].result(method)
        assert result is not None
        assert result.statistic == pytest.approx(GOLDEN["poisson_unseen"][method], rel=1e-12)
    sref, scur = DATA["strings_unseen"]
    report = drift.Reference(sref).compare(scur, methods=("psi", "kl"), compat="evidently")
    result = report.features[0].result("psi")
    assert result is not None
    assert result.statistic == pytest.approx(GOLDEN["strings_unseen"]["psi"], rel=1e-12)

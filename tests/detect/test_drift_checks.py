"""Drift parameters: numpy scalars are numbers, one message per kind of check."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from aiguard import drift
from aiguard.errors import ConfigurationError

RNG = np.random.default_rng(99)
REF = RNG.normal(size=(400, 2))
CUR = RNG.normal(0.3, 1.0, size=(300, 2))


@pytest.mark.parametrize("real", [np.float32, np.float64])
def test_numpy_floats_are_accepted(real: Any) -> None:
    """eps, base, a threshold, min_effect and bandwidth may be numpy floats."""
    psi = drift.psi(REF, CUR, eps=real(1e-3)).statistic
    np.testing.assert_allclose(psi, drift.psi(REF, CUR, eps=float(real(1e-3))).statistic)
    js = drift.jensenshannon(REF, CUR, base=real(2)).statistic
    np.testing.assert_allclose(js, drift.jensenshannon(REF, CUR, base=2.0).statistic)
    assert drift.kl(REF, CUR, threshold=real(0)).threshold == 0.0
    assert drift.ks(REF, CUR, min_effect=real(0)).drifted.tolist() == (
        drift.ks(REF, CUR, min_effect=0.0).drifted.tolist()
    )
    assert drift.mmd(REF, CUR, bandwidth=real(1), n_permutations=20).statistic > 0


@pytest.mark.parametrize("number", [np.float32(1), np.float64(1), np.int64(1), 1])
def test_compare_thresholds_take_numpy_numbers(number: Any) -> None:
    """Reference.compare's thresholds take numpy numbers like Python ones."""
    ref = drift.Reference(REF)
    want = ref.compare(CUR, methods=("psi", "wasserstein"), thresholds={"psi": 1.0})
    got = ref.compare(CUR, methods=("psi", "wasserstein"), thresholds={"psi": number})
    assert got.to_dict() == want.to_dict()
    assert drift.mmd(REF, CUR, n_permutations=np.int64(20)).pvalue > 0


@pytest.mark.parametrize(
    ("call", "argument", "expected"),
    [
        (
            lambda: drift.psi(REF, CUR, threshold=math.inf),
            "threshold",
            "None or a finite number >= 0",
        ),
        (lambda: drift.hellinger(REF, CUR, threshold="0.1"), "threshold", "None or a finite"),
        (lambda: drift.wasserstein(REF, CUR, threshold=-1.0), "threshold", "None or a finite"),
        (lambda: drift.energy(REF, CUR, threshold=True), "threshold", "None or a finite"),
        (lambda: drift.ks(REF, CUR, min_effect=math.nan), "min_effect", "None or a finite"),
        (lambda: drift.mmd(REF, CUR, bandwidth=0.0), "bandwidth", "None or a finite number > 0"),
        (lambda: drift.mmd(REF, CUR, n_permutations=0), "n_permutations", "an integer >= 1"),
        (lambda: drift.mmd(REF, CUR, max_samples=1.5), "max_samples", "an integer >= 2"),
        (lambda: drift.psi(REF, CUR, eps=np.float32(1.0)), "eps", "a float in (0, 1)"),
        (lambda: drift.jensenshannon(REF, CUR, base=np.inf), "base", "positive number other"),
        (lambda: drift.jensenshannon(REF, CUR, base=np.float64(1)), "base", "positive number"),
        (
            lambda: drift.Reference(REF).compare(CUR, thresholds={"psi": math.inf}),
            "thresholds['psi']",
            "a finite number >= 0",
        ),
        (
            lambda: drift.Reference(REF).accumulator().compare(thresholds={"psi": -0.5}),
            "thresholds['psi']",
            "a finite number >= 0",
        ),
    ],
)
def test_bad_numbers_name_the_argument(call: Any, argument: str, expected: str) -> None:
    """Each bad number raises ConfigurationError naming the argument and the expectation."""
    with pytest.raises(ConfigurationError) as info:
        call()
    assert info.value.argument == argument
    assert expected in str(info.value)

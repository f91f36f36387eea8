"""Contract: the vectorised Smirnov series equals scipy's ``kstwo.sf`` / ``ks_2samp`` to 1e-9."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from aiguard import drift
from aiguard.detect._drift.rank import _pelzgood, _smirnov

RTOL = 1e-9
SIZES = (141, 142, 157, 500, 1_001, 4_999, 50_000, 200_000)


def _scipy(d: np.ndarray, n: int) -> np.ndarray:
    return np.array([stats.kstwo.sf(float(x), n) for x in d])


def _close(ours: np.ndarray, expected: np.ndarray) -> None:
    np.testing.assert_allclose(ours, expected, rtol=RTOL, atol=0.0)


@pytest.mark.parametrize("n", SIZES)
def test_smirnov_branch_matches_scipy(n: int) -> None:
    """Across scipy's Smirnov branch (2.2 <= n d^2 < 370), on and off the lattice."""
    rng = np.random.default_rng(n)
    # scipy's oracle costs O(n) a value: fewer random values at the largest sizes
    nx2 = np.concatenate(
        [[2.2 * (1 + 1e-12), 2.2 + 1e-9, 10.0, 100.0, 300.0, 340.0],
         rng.uniform(2.2, 350.0, 6 if n <= 50_000 else 1)]
    )
    d = np.sqrt(nx2 / n)
    d = d[d < 0.9]  # at n = 141, n d^2 = 300 is past the end of the range
    assert _smirnov._use_sum(n, d).all()
    d = np.concatenate([d, np.round(d * n) / n])  # lattice values (may leave the branch)
    _close(_smirnov.kstwo_sf(d, float(n)), _scipy(d, n))


@pytest.mark.parametrize("n", [141, 1_000, 50_000])
def test_large_statistics_match_scipy(n: int) -> None:
    """d >= 1/2 (scipy's first Smirnov branch) and the ends of the range."""
    d = np.array([0.5, 0.6, 0.75, 0.9, 1 - 1.5 / n, 1 - 1 / n, 1.0, 1.2, 0.0, -0.1])
    _close(_smirnov.kstwo_sf(d, float(n)), _scipy(d, n))


@pytest.mark.parametrize("n", [150, 10_000, 50_000])
def test_other_branches_go_to_scipy(n: int) -> None:
    """Small d (Pelz-Good, Durbin), d <= 1/n, and n d^2 >= 370 are scipy's numbers."""
    d = np.array([0.4 / n, 0.7 / n, 1 / n, 1.3 / n, np.sqrt(0.5 / n), np.sqrt(2.1 / n)])
    d = np.concatenate([d, np.sqrt(np.array([370.0, 400.0, 1e4]) / n)])
    assert not _smirnov._use_sum(n, d[:6]).any()
    _close(_smirnov.kstwo_sf(d, float(n)), _scipy(d, n))


@pytest.mark.parametrize("n", [500, 3_333, 50_000])
def test_tiny_pvalues_match_scipy(n: int) -> None:
    """Near underflow (sf around 1e-300 and subnormal) the result is scipy's, bit for bit there."""
    nx2 = np.array([330.0, 345.0, 350.0, 354.0, 354.3, 360.0, 365.0, 369.9])
    d = np.sqrt(nx2 / n)
    ours = _smirnov.kstwo_sf(d, float(n))
    expected = _scipy(d, n)
    normal = expected >= 2.0**-1000
    _close(ours[normal], expected[normal])
    np.testing.assert_array_equal(ours[~normal], expected[~normal])


def test_smirnov_sum_equals_scipy_smirnov() -> None:
    """The one-sided function itself, over many (n, d)."""
    rng = np.random.default_rng(7)
    # scipy's smirnov costs O(n) a value: many small sizes, two large ones with few values
    for n in [*rng.integers(141, 20_000, 10).tolist(), 123_457, 299_999]:
        d = np.sqrt(rng.uniform(2.2, 340.0, 5 if n < 20_000 else 2) / n)
        _close(_smirnov.smirnov_sum(n, d), special.smirnov(n, d))


def test_sizes_above_a_million_use_scipy() -> None:
    """xsf approximates smirnov above n = 1,000,000; that is left to scipy."""
    n = 1_500_000
    d = np.sqrt(np.array([3.0, 50.0]) / n)
    _close(_smirnov.kstwo_sf(d, float(n)), _scipy(d, n))


def test_scalar_fallback_is_used() -> None:
    """Values outside the summed branch go to the given scalar function."""
    calls: list[float] = []

    def scalar(d: float, n: float) -> float:
        calls.append(d)
        return float(stats.kstwo.sf(d, n))

    n = 1_000
    d = np.array([0.005, np.sqrt(50.0 / n)])  # Durbin matrix (n d^1.5 <= 1.4), Smirnov sum
    _smirnov.kstwo_sf(d, float(n), scalar)
    assert calls == [d[0]]


def test_bad_size_is_refused() -> None:
    with pytest.raises(ValueError, match="integer n > 140"):
        _smirnov.kstwo_sf(np.array([0.1]), 100.5)
    with pytest.raises(ValueError, match="integer n > 140"):
        _smirnov.kstwo_sf(np.array([0.1]), 140.0)


def test_ks_pvalues_of_drifted_large_samples_match_ks_2samp() -> None:
    """End to end: drift.ks on 20,000 x 12 shifted samples against scipy's ks_2samp."""
    rng = np.random.default_rng(3)
    ref = rng.standard_normal((20_000, 12))
    cur = rng.standard_normal((15_000, 12)) + np.linspace(0.0, 0.12, 12)
    res = drift.ks(ref, cur)
    for j in range(12):
        exp = stats.ks_2samp(ref[:, j], cur[:, j])
        _close(np.array([res.statistic[j]]), np.array([exp.statistic]))
        _close(np.array([res.pvalue[j]]), np.array([exp.pvalue]))


@pytest.mark.parametrize("n", [141, 1_000, 50_000, 100_000, 100_001, 200_000, 1_500_000])
def test_pelz_good_branch_matches_scipy(n: int) -> None:
    """Small statistics (n d^2 < 2.2) where scipy uses Pelz-Good, on and off the lattice."""
    rng = np.random.default_rng(n)
    # scipy's oracle is slow at large n (Durbin's matrix up to 100,000): fewer random values
    nx2 = np.concatenate([rng.uniform(0.0, 2.2, 25 if n < 50_000 else 8),
                          [2.19999, 1e-6, 1e-3, 0.01, 0.1, 1.0]])
    d = np.sqrt(nx2 / n)
    d = np.concatenate([d, np.round(d * n) / n, rng.uniform(0.3 / n, 3 / n, 5)])
    assert _pelzgood.pelz_good_branch(n, d).sum() > 10
    _close(_smirnov.kstwo_sf(d, float(n)), _scipy(d, n))


def test_pelz_good_only_on_its_branch() -> None:
    """Durbin's matrix (n <= 100,000 and n d^1.5 <= 1.4) and n d^2 >= 2.2 are not Pelz-Good."""
    n = 50_000
    d = np.array([1.0 / n ** (2 / 3), 1.5 / n ** (2 / 3), np.sqrt(2.2 / n), 0.5 / n])
    np.testing.assert_array_equal(_pelzgood.pelz_good_branch(n, d), [False, True, False, False])
    np.testing.assert_allclose(_pelzgood.pelz_good_sf(n, np.array([1e-5])), [1.0], rtol=0, atol=0)


def test_many_values_in_blocks() -> None:
    """More values than one block: every block gives scipy's numbers, in order."""
    n = 5_000
    d = np.sqrt(np.linspace(2.5, 300.0, 150) / n)
    _close(_smirnov.smirnov_sum(n, d), special.smirnov(n, d))
    assert _smirnov.smirnov_sum(n, d[:0]).shape == (0,)

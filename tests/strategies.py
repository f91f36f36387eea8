"""Hypothesis strategies shared by the tests, in one place (``from tests.strategies import ...``).

A strategy that more than one test module draws from lives here, so the suites
generate the same kinds of flag names, seeds and samples and a fix to one (a
bound, a missing edge case) reaches every test that uses it. Strategies used by
a single module stay beside its tests.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

seeds = st.integers(0, 2**32 - 1)
"""Seeds for ``np.random.default_rng``: the whole range numpy accepts as one word."""

percents = st.floats(0, 100, allow_nan=False)
"""Rollout percentages, both ends included."""


def flag_names(max_size: int = 30) -> st.SearchStrategy[str]:
    """Flag names as the stores accept them: lower-case, digits, ``.``, ``_`` and ``-``."""
    return st.from_regex(rf"[a-z0-9][a-z0-9._-]{{0,{max_size - 1}}}", fullmatch=True)


def feature_matrices(
    *,
    rows: tuple[int, int] = (1, 60),
    features: tuple[int, int] = (1, 3),
    elements: st.SearchStrategy[float] | None = None,
) -> st.SearchStrategy[np.ndarray]:
    """Float64 samples with rows in ``rows`` and feature columns in ``features`` (both inclusive).

    The default elements mix wide finite floats with the repeated values (0, 1, 2)
    and the NaN that make ties and missing values likely.
    """
    if elements is None:
        elements = st.one_of(
            st.floats(-1e6, 1e6, allow_nan=False),
            st.sampled_from([0.0, 1.0, 2.0, np.nan]),
        )
    shape = st.tuples(st.integers(*rows), st.integers(*features))
    return hnp.arrays(np.float64, shape, elements=elements)


def sample_pair(seed: int, n: int, m: int, k: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """A reference (n x k) and a shifted current sample (m x k) of the given kind."""
    rng = np.random.default_rng(seed)
    if kind == "continuous":
        return rng.normal(size=(n, k)), rng.normal(0.3, 1.2, size=(m, k))
    if kind == "discrete":  # many ties, within and across samples
        return rng.integers(0, 4, size=(n, k)).astype(float), rng.integers(
            0, 5, size=(m, k)
        ).astype(float)
    # mixed: rounded values and exact copies of reference values in current
    ref = np.round(rng.normal(size=(n, k)), 1)
    cur = np.round(rng.normal(size=(m, k)), 1)
    cur[: min(n, m) // 2] = ref[: min(n, m) // 2]
    return ref, cur


def sample_pairs(
    *, rows: tuple[int, int] = (1, 40), features: tuple[int, int] = (1, 4)
) -> st.SearchStrategy[tuple[np.ndarray, np.ndarray]]:
    """(reference, current) pairs: continuous, discrete (many ties) or mixed, from a seed."""
    return st.builds(
        sample_pair,
        seed=seeds,
        n=st.integers(*rows),
        m=st.integers(*rows),
        k=st.integers(*features),
        kind=st.sampled_from(["continuous", "discrete", "mixed"]),
    )


def plain_arrays() -> st.SearchStrategy[np.ndarray]:
    """Arrays of every plain numeric dtype and byte order, any shape (empty and 0-d too).

    Bool, signed, unsigned, float and complex: what crosses to a shadow's
    child process as raw memory.
    """
    dtypes = (hnp.boolean_dtypes() | hnp.integer_dtypes() | hnp.unsigned_integer_dtypes()
              | hnp.floating_dtypes() | hnp.complex_number_dtypes())
    return hnp.arrays(dtypes, hnp.array_shapes(min_dims=0, min_side=0))


def assert_arrays_arrived(sent: tuple[np.ndarray, ...], received: tuple[np.ndarray, ...]) -> None:
    """Each array drawn from :func:`plain_arrays` arrived equal, same dtype and shape, writable."""
    assert len(received) == len(sent)
    for before, after in zip(sent, received, strict=True):
        assert (after.dtype, after.shape) == (before.dtype, before.shape)
        np.testing.assert_array_equal(after, before)
        assert after.flags.writeable

"""Named test streams and hypothesis strategies for the streaming detectors."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def abrupt(seed: int = 0, n: int = 1500) -> np.ndarray:
    """N(0, 1), then N(3, 1) from the middle on."""
    rng = _rng(seed)
    return np.r_[rng.normal(0, 1, n), rng.normal(3, 1, n)]


def gradual(seed: int = 1, n: int = 3000) -> np.ndarray:
    """N(0, 1) whose mean climbs linearly from 0 to 2 over the second half."""
    rng = _rng(seed)
    ramp = np.r_[np.zeros(n // 2), np.linspace(0, 2, n - n // 2)]
    return rng.normal(0, 1, n) + ramp


def noise(seed: int = 2, n: int = 3000) -> np.ndarray:
    """Plain N(0, 1) noise."""
    return _rng(seed).normal(0, 1, n)


def integers(seed: int = 3, n: int = 3000) -> np.ndarray:
    """Small integers (many ties), range 0..4 then 2..6."""
    rng = _rng(seed)
    return np.r_[rng.integers(0, 5, n // 2), rng.integers(2, 7, n - n // 2)].astype(float)


def errors(
    seed: int = 4, rates: tuple[float, ...] = (0.1, 0.3, 0.05, 0.6), n: int = 1000
) -> np.ndarray:
    """0/1 error indicators whose rate changes every n values."""
    rng = _rng(seed)
    return np.concatenate([(rng.random(n) < rate).astype(float) for rate in rates])


REAL = {"abrupt": abrupt, "gradual": gradual, "noise": noise, "integers": integers}
BINARY = {
    "rate_up": lambda: errors(4, (0.1, 0.4)),
    "rate_down": lambda: errors(5, (0.5, 0.1)),
    "steps": lambda: errors(6, (0.1, 0.3, 0.05, 0.6)),
    "steady": lambda: errors(7, (0.2,), 4000),
}


@st.composite
def real_streams(draw: Any, max_segments: int = 4, max_length: int = 600) -> np.ndarray:
    """Piecewise streams: each segment a mean, a spread and a length; rounded to ties or not."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = _rng(seed)
    segments = draw(
        st.lists(
            st.tuples(
                st.floats(-5, 5, allow_nan=False),
                st.floats(0, 3, allow_nan=False),
                st.integers(1, max_length),
            ),
            min_size=1,
            max_size=max_segments,
        )
    )
    parts = [rng.normal(mean, spread, length) for mean, spread, length in segments]
    stream = np.concatenate(parts)
    if draw(st.booleans()):
        stream = np.round(stream)
    return stream


@st.composite
def binary_streams(draw: Any, max_segments: int = 4, max_length: int = 800) -> np.ndarray:
    """0/1 streams whose error rate changes between segments."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = _rng(seed)
    segments = draw(
        st.lists(
            st.tuples(st.floats(0, 1, allow_nan=False), st.integers(1, max_length)),
            min_size=1,
            max_size=max_segments,
        )
    )
    return np.concatenate([(rng.random(n) < rate).astype(float) for rate, n in segments])


def per_value(detector: Any, stream: np.ndarray) -> list[int]:
    """Detections of ``update()`` fed one value at a time (the reference for ``update_many``)."""
    found = []
    for i, value in enumerate(stream.tolist()):
        detector.update(value)
        if detector.drift_detected:
            found.append(i)
    return found

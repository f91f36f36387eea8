"""Per-arm metric samples a canary step (or a replay) collects for the judge.

Each arm (``stable`` and ``candidate``) keeps, per call, its ``latency``
(seconds), ``error`` (1.0 when the model raised, else 0.0) and ``output``
(a number summarising the answer: the answer itself when it is a number, the
mean of a numeric array, nothing otherwise), plus any metric the user
records (``label``: 1.0 for a correct answer once the delayed label arrives).
Windows are bounded deques; appending is atomic, so calls record without a lock.
"""

from __future__ import annotations

import math
from collections import deque
from numbers import Real
from typing import Any

import numpy as np

__all__ = ["ARMS", "Samples", "summarise"]

ARMS = ("stable", "candidate")


def summarise(answer: object) -> float:
    """Return the number that stands for *answer* in the ``output`` metric (NaN: none).

    Example:
        >>> summarise(0.25), summarise([1, 2, 3]), summarise("spam")
        (0.25, 2.0, nan)
    """
    kind = type(answer)
    if kind is float or kind is int or isinstance(answer, Real):
        return float(answer)  # type: ignore[arg-type]
    try:
        array = np.asarray(answer)
    except Exception:
        return math.nan
    if array.size == 0 or array.dtype.kind not in "biuf":
        return math.nan
    return float(array.mean())


class Samples:
    """Bounded per-arm windows of every metric.

    Example:
        >>> samples = Samples(100)
        >>> samples.record(1, 0.01, error=False, output=0.5)
        >>> samples.counts()
        {'stable': 0, 'candidate': 1}
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._arms: tuple[dict[str, deque[float]], dict[str, deque[float]]] = ({}, {})
        self.reset()

    def _new(self) -> dict[str, deque[float]]:
        return {name: deque(maxlen=self.limit) for name in ("latency", "error", "output")}

    def reset(self, *, keep_stable: bool = False) -> None:
        """Start new windows (keeping the stable arm's when *keep_stable*)."""
        self._arms = (self._arms[0] if keep_stable else self._new(), self._new())

    def record(self, arm: int, latency: float, *, error: bool, output: float) -> None:
        """Add one call of *arm* (0 stable, 1 candidate)."""
        windows = self._arms[arm]
        windows["latency"].append(latency)
        windows["error"].append(1.0 if error else 0.0)
        if not math.isnan(output):
            windows["output"].append(output)

    def add(self, arm: int, metric: str, values: Any) -> None:
        """Add values of any *metric* for *arm* (e.g. ``label`` from delayed labels)."""
        windows = self._arms[arm]
        window = windows.get(metric)
        if window is None:
            window = windows.setdefault(metric, deque(maxlen=self.limit))
        window.extend(np.asarray(values, dtype=float).ravel().tolist())

    def counts(self) -> dict[str, int]:
        """Calls recorded per arm."""
        return {name: len(arm["latency"]) for name, arm in zip(ARMS, self._arms, strict=True)}

    def metrics(self, arm: int) -> dict[str, list[float]]:
        """Return a copy of *arm*'s windows (metrics with no value left out)."""
        return {name: list(window) for name, window in dict(self._arms[arm]).items() if window}

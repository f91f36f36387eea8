"""Fixed-memory windows: the last N rows (:class:`Rows`), the last T seconds (:class:`Slices`).

``Rows`` keeps parallel columns of preallocated arrays, written in place with
wrap-around: a batch of any size is one or two slice assignments. ``Slices``
splits a time window into ``n`` equal slices of per-slice counters (a row of
an ``int64`` matrix each); moving on in time zeroes the slices that fell out.
Both allocate everything at construction, so memory does not grow with the
number of observations.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["Rows", "Slices"]


class Rows:
    """The last *capacity* rows of a few parallel columns."""

    __slots__ = ("capacity", "columns", "filled", "pos", "since")

    def __init__(self, capacity: int, dtypes: tuple[Any, ...]) -> None:
        self.capacity = capacity
        self.columns = [np.zeros(capacity, dtype=d) for d in dtypes]
        self.pos = 0
        self.filled = 0
        self.since = 0  # rows pushed since the last evaluation

    def push(self, *values: np.ndarray[Any, Any]) -> None:
        """Append rows (one array per column, equal lengths); the oldest rows drop out."""
        n = len(values[0])
        cap = self.capacity
        self.since += n
        if n >= cap:
            for col, v in zip(self.columns, values, strict=True):
                col[:] = v[n - cap:]
            self.pos, self.filled = 0, cap
            return
        end = self.pos + n
        for col, v in zip(self.columns, values, strict=True):
            if end <= cap:
                col[self.pos:end] = v
            else:
                cut = cap - self.pos
                col[self.pos:] = v[:cut]
                col[: n - cut] = v[cut:]
        self.pos = end % cap
        self.filled = min(cap, self.filled + n)

    def view(self) -> list[np.ndarray[Any, Any]]:
        """The filled part of each column (order of rows not kept)."""
        return [c[: self.filled] for c in self.columns]


class Slices:
    """Counters over a sliding time window cut into *n* slices.

    Attributes:
        counts: ``(n, width)`` int64 matrix, one row per slice.
        current: the row being filled.
        end: when the current slice ends (clock seconds); ``-inf`` before the first call.
    """

    __slots__ = ("counts", "current", "end", "length", "n")

    def __init__(self, window: float, n: int, width: int) -> None:
        self.n = n
        self.length = window / n
        self.counts = np.zeros((n, width), dtype=np.int64)
        self.current = 0
        self.end = -math.inf

    def start(self, now: float) -> None:
        """Begin the first slice at *now*."""
        self.end = now + self.length

    def advance(self, now: float) -> int:
        """Move the current slice to the one holding *now*; return how many slices passed."""
        passed = int((now - self.end) // self.length) + 1
        steps = min(passed, self.n)
        for _ in range(steps):
            self.current = (self.current + 1) % self.n
            self.counts[self.current] = 0
        self.end += passed * self.length
        return passed

    def total(self) -> np.ndarray[Any, Any]:
        """Counts summed over the window."""
        out: np.ndarray[Any, Any] = self.counts.sum(axis=0)
        return out

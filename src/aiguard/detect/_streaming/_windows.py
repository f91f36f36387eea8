"""Look-ahead windows for the vectorised ``update_many`` paths.

A vectorised detector computes its statistics for a whole window of values at
once, then keeps only the part up to the first detection (after a detection
the statistics restart, so the rest of the window must be recomputed). Windows
start small and double while nothing is found, so a quiet stream is processed
in a few large steps and a stream full of detections does not recompute long
tails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["Windows"]


class Windows:
    """``for start, stop in windows``: consecutive windows over ``range(total)``.

    Call :meth:`restart` inside the loop after a detection at ``i`` with
    ``i + 1``: the next window starts there, *reach* typical gaps long. A
    window without a restart is followed by one twice as long, or, right after
    a restart's window, by one *then* typical gaps long (when given: where
    detections come at a steady pace, the next one is likely close).

    Example:
        >>> windows = Windows(10, first=2, largest=4)
        >>> [w for w in windows]
        [(0, 2), (2, 6), (6, 10)]
        >>> windows = Windows(10, first=4, smallest=2)
        >>> for start, stop in windows:
        ...     if start == 0:
        ...         windows.restart(3, 3)
        ...     print(start, stop)
        0 4
        3 10
    """

    def __init__(
        self,
        total: int,
        *,
        first: int = 4096,
        smallest: int = 256,
        largest: int = 1 << 16,
        reach: float = 2.0,
        then: float | None = None,
    ) -> None:
        self.total = total
        self.reach = reach
        self.then = then
        self.smallest = smallest
        self.largest = largest
        self.pos = 0
        self.size = first
        self._gap = float(first)
        self._restarted = False
        self._fresh = False  # the window just yielded was the first after a restart

    def __iter__(self) -> Iterator[tuple[int, int]]:
        """Yield ``(start, stop)`` until the values are exhausted."""
        while self.pos < self.total:
            start = self.pos
            stop = min(self.total, start + self.size)
            self.pos = stop
            self._restarted = False
            yield start, stop
            if self._restarted:
                self._fresh = True
            elif self._fresh and self.then is not None:  # the first window after a restart missed
                self._fresh = False
                self.size = min(self.largest, max(self.smallest, int(self.then * self._gap)))
            else:
                self._fresh = False
                self.size = min(self.size * 2, self.largest)

    def restart(self, pos: int, gap: float, *, weight: float = 0.25) -> None:
        """Continue at *pos*, *gap* values after the previous start, with a window fit to the gaps.

        The next window is *reach* times the typical gap between detections (an
        exponential average), so a stream full of detections is processed in
        windows about long enough to hold the next one.
        """
        self.note(gap, weight=weight)
        self.pos = pos

    def note(self, gap: float, *, weight: float = 0.25) -> None:
        """Record a typical gap between detections (the next window is *reach* times it).

        *weight* is the new gap's share in the exponential average (1: forget the past).
        """
        self._gap = (1.0 - weight) * self._gap + weight * gap
        self.size = min(self.largest, max(self.smallest, int(self.reach * self._gap)))
        self._restarted = True

    @property
    def gap(self) -> float:
        """The typical gap between detections (an exponential average)."""
        return self._gap

    @property
    def dense(self) -> bool:
        """Whether detections come so often that a per-value loop beats recomputing windows."""
        return self._gap < self.smallest

"""A one-line progress bar on stderr for long blocked passes.

``features 120/800  rows read 356,000  elapsed 3.1 s  ETA 17.6 s``, redrawn
in place after each block; silent when the stream is not a terminal.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from aiguard._core._clock import MONOTONIC

if TYPE_CHECKING:
    from aiguard.typing import Clock

__all__ = ["Progress"]


class Progress:
    r"""Features done out of a total, rows read, elapsed time and the time left.

    Args:
        label: what is running (``"fit"``, ``"compare"``).
        total: number of features.
        stream: where to draw (default ``sys.stderr``).
        enabled: None draws only when *stream* is a terminal.
        clock: seconds, monotonic.

    Example:
        >>> import io
        >>> from aiguard.testing import FakeClock
        >>> clock = FakeClock()
        >>> out = io.StringIO()
        >>> bar = Progress("compare", 4, stream=out, enabled=True, clock=clock)
        >>> _ = clock.advance(2.0)
        >>> bar.advance(1, 1000)
        >>> out.getvalue()
        '\rcompare: features 1/4  rows read 1,000  elapsed 2.0 s  ETA 6.0 s'
    """

    __slots__ = ("_clock", "_done", "_enabled", "_label", "_rows", "_start", "_stream", "_total")

    def __init__(
        self,
        label: str,
        total: int,
        *,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        clock: Clock = MONOTONIC,
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        isatty = getattr(self._stream, "isatty", None)
        self._enabled = bool(isatty and isatty()) if enabled is None else enabled
        self._label = label
        self._total = total
        self._clock = clock
        self._start = clock()
        self._done = 0
        self._rows = 0

    def advance(self, features: int, rows: int) -> None:
        """Count *features* more done after reading *rows* rows, and redraw."""
        self._done += features
        self._rows = max(self._rows, rows)
        if not self._enabled:
            return
        elapsed = self._clock() - self._start
        left = elapsed / self._done * (self._total - self._done) if self._done else float("nan")
        self._stream.write(
            f"\r{self._label}: features {self._done}/{self._total}  rows read {self._rows:,}  "
            f"elapsed {elapsed:.1f} s  ETA {left:.1f} s"
        )
        self._stream.flush()

    def close(self) -> None:
        """End the line (when drawing)."""
        if self._enabled:
            self._stream.write("\n")
            self._stream.flush()

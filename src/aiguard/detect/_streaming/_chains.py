r"""``update_many`` where detections come every few values in lock step: chains of fresh starts.

After a detection CUSUM starts again from its reset state (river's convention:
the next update resets), so the run that starts on value :math:`s` after a
detection depends on :math:`x_s, x_{s+1}, \dots` only, not on anything before.
Let :math:`t(s)` be the number of values that run takes to its first
detection. The detections of the true run are then the chain

.. math::

    s_0 \to s_1 = s_0 + t(s_0) + 1 \to s_2 = s_1 + t(s_1) + 1 \to \dots

with detections at :math:`s_j + t(s_j)`. The detector computes :math:`t(s)`
for every :math:`s` of a block at once (``_first_alarms``: one numpy operation
per statistic and per step over all the starts, with exactly the scalar
operations of ``update``, so the same bits), up to *width* steps; a loop then
follows the chain. Exact by construction: each start's run is the run
``update`` makes from that start.

This is what :mod:`~aiguard.detect._streaming._lanes` cannot do on a steady
drift: there the detections come at a regular pace, a lane started from a
guessed state detects out of phase with the true run and never meets it.
Chains cost about *width* steps per value (lanes cost one or two passes when
they meet the true run), so they are tried first where detections come every
few values (*width* is 1.5 typical gaps, at most :data:`MOST_WIDTH`), and given
up for lanes in a batch where a chain stops short in most of a block. A start
without a detection within *width* values is looked at further with the
detector's vectorised window scan; without one within a block the chain stops
there and the caller goes on with its window scans.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import numpy.typing as npt

__all__ = [
    "CHAIN_BLOCK",
    "CHAIN_TRIAL",
    "MOST_LOOKS",
    "MOST_WIDTH",
    "chain_width",
    "follow",
    "run_chain",
]

#: starts per block (fewer: numpy's per-call cost dominates; more: out of the cache)
CHAIN_BLOCK = 8192
#: starts in a batch's first block (a cheap trial: chains do not pay off on every stream)
CHAIN_TRIAL = 1024
#: the widest look-ahead, in values (chains cost *width* steps per value)
MOST_WIDTH = 32
#: longer looks allowed per block (each a window scan) before the chain gives up
MOST_LOOKS = 4


def chain_width(gap: float) -> int:
    """The look-ahead for a typical *gap* between detections: 1.5 gaps, 8 to :data:`MOST_WIDTH`.

    Example:
        >>> chain_width(11.0), chain_width(1.0), chain_width(500.0)
        (17, 8, 32)
    """
    return max(8, min(MOST_WIDTH, math.ceil(1.5 * gap)))


def follow(
    first: Sequence[int], width: int, further: Callable[[int], int | None]
) -> tuple[list[int], int]:
    """The chain from start 0: its detections, and the start where it stops.

    ``first[s]`` is :math:`t(s)`, or *width* when the run from *s* has no
    detection within *width* values; then ``further(s)`` gives :math:`t(s)`
    from a longer look, or None (no detection for a long while: the chain
    stops there).

    Example:
        >>> follow([2, 9, 9, 0, 1, 9, 9], 9, lambda s: None)
        ([2, 3, 5], 6)
        >>> follow([2, 9, 9, 0, 1, 9, 9], 9, lambda s: 20)
        ([2, 3, 5, 26], 27)
    """
    found = []
    position, count = 0, len(first)
    while position < count:
        steps = first[position]
        if steps == width:
            longer = further(position)
            if longer is None:
                break
            steps = longer
        position += steps
        found.append(position)
        position += 1
    return found, position


def run_chain(
    x: npt.NDArray[np.float64],
    start: int,
    width: int,
    first_alarms: Callable[[npt.NDArray[np.float64], int, int], npt.NDArray[np.intp]],
    first_alarm: Callable[[npt.NDArray[np.float64]], int | None],
    *,
    block: int = CHAIN_BLOCK,
) -> tuple[npt.NDArray[np.intp], int, bool]:
    """Chain a *block* of *x* from the fresh start *start*.

    ``first_alarms(values, count, width)`` returns :math:`t(s)` for the
    *count* first starts of *values* (*width* where unknown), reading up to
    ``count + width - 1`` values (fewer at the end of the batch);
    ``first_alarm(values)`` the first detection of one fresh run over *values*
    (None if none), for the starts without a detection within *width* values.

    Returns:
        The detections (indices into *x*), the fresh start after the last one
        (*start* when the first run has no detection within a block), and
        whether the chain paid off: at most :data:`MOST_LOOKS` longer looks,
        and one per 16 detections.
    """
    count = min(len(x) - start, block)
    values = x[start : start + count + width - 1]
    first = first_alarms(values, count, width)

    looks = []

    def further(position: int) -> int | None:
        looks.append(position)
        if len(looks) > MOST_LOOKS:
            return None
        at = start + position
        return first_alarm(x[at : at + CHAIN_BLOCK])

    hits, end = follow(first.data, width, further)
    paid = len(looks) <= min(MOST_LOOKS, len(hits) // 16)
    return np.asarray(hits, dtype=np.intp) + start, start + end, paid

r"""``update_many`` across many detections: the stream cut into lanes run side by side.

A detection resets a detector, so on a stream full of detections the
vectorised prefix sums of PageHinkley and CUSUM restart every few values and
a per-detection numpy call costs more than the values it covers. Here the
batch is cut into :math:`K` consecutive *lanes* of :math:`L` values; all lanes
are advanced together, one numpy operation per statistic and per step over
the :math:`K` lanes, with exactly the scalar operations of ``update`` (so the
same bits). Cost: :math:`L` steps of a few numpy calls each, not one call per
detection.

Only lane 0 starts from the detector's true state; lane :math:`k > 0` starts
from a guess (first the state after a reset). Two runs of a detector that
detect on the same value are identical afterwards (both reset on the next
value), so a lane started from a wrong guess is right from the first detection
it shares with the true run onwards. The driver makes it exact:

1. run every lane from its guess;
2. lanes ``0 .. v-1`` are right; find the first lane :math:`k \ge v` whose
   start is not the end state of lane :math:`k - 1` (bit for bit, or both
   "just detected", which behave the same): lanes before it are right;
3. re-run lanes :math:`k, k+1, \dots` from the end states of their
   predecessors, stopping early once every re-run lane has met its previous
   run on a shared detection (from there on nothing changes); lane :math:`k`
   is now right; back to 2.

A lane without any detection cannot rejoin the true run: the lanes from the
first such one on are left to the caller. On a stream where lanes meet a
detection shared with the true run (many detections per lane) this ends after
one re-run. Lanes in a quiet stretch
never meet, each round fixes one lane only: after a few rounds the driver
returns the lanes it has proved and the caller goes on from there with its
own path for quiet streams.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar, Protocol

import numpy as np

from aiguard.detect._streaming._base import StreamingDetector
from aiguard.detect._streaming._chains import CHAIN_BLOCK, CHAIN_TRIAL, chain_width, run_chain
from aiguard.detect._streaming._windows import Windows

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy.typing as npt

    from aiguard.detect._streaming._params import Bools, Floats

__all__ = ["LanedDetector", "Step", "run_lanes"]

#: lanes per block at most, and at least (with fewer, numpy's per-call cost dominates)
MOST_LANES, FEWEST_LANES = 4096, 256
#: the largest typical gap between detections run in lanes (longer lanes: too many steps)
MOST_GAP = 512


class Step(Protocol):
    """One step of ``update`` on every lane (a detector's ``_lane_step``).

    ``state`` holds one packed state per column (row 0: the drift flag, 0.0 or
    1.0, not kept up to date here), ``inputs`` the step's inputs per lane;
    ``drift`` holds the flags after the previous step and receives the new ones.
    """

    def __call__(self, state: Floats, inputs: Floats, drift: Bools) -> None: ...


def _same(start: npt.NDArray[np.float64], end: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Per column: the same bits, or both states just detected (both reset on the next value)."""
    bits = (start.view(np.int64) == end.view(np.int64)).all(axis=0)
    both_drift = (start[0] != 0.0) & (end[0] != 0.0)
    same: npt.NDArray[np.bool_] = bits | both_drift
    return same


def _first_wrong(starts: npt.NDArray[np.float64], ends: npt.NDArray[np.float64], v: int) -> int:
    """The first lane ``k >= v`` not started from lane ``k - 1``'s end (the number of lanes)."""
    if v >= starts.shape[1]:
        return v
    same = _same(starts[:, v:], ends[:, v - 1 : -1])
    return v + int(np.argmin(same)) if not same.all() else starts.shape[1]


def _simulate(
    step: Step,
    inputs: npt.NDArray[np.float64],
    starts: npt.NDArray[np.float64],
    *,
    ends: npt.NDArray[np.float64],
    alarms: npt.NDArray[np.bool_],
    v: int,
    again: bool,
) -> None:
    """Run lanes ``v..`` from ``starts``, filling ``ends`` and ``alarms``.

    ``again``: a re-run, which stops once every lane met its previous run.
    """
    state = starts[:, v:].copy()
    drift = state[0] != 0.0
    before = alarms[:, v:].copy() if again else None
    met = np.zeros(len(drift), dtype=bool)
    length = len(alarms)
    for t in range(length):
        step(state, inputs[t][..., v:], drift)
        alarms[t, v:] = drift
        if before is not None:
            met |= drift & before[t]
            if t & 7 == 7 and t < length - 1 and met.all():
                return  # every lane rejoined its previous run: the rest is unchanged
    state[0] = drift
    ends[:, v:] = state


def run_lanes(
    x: npt.NDArray[np.float64],
    start: npt.NDArray[np.float64],
    length: int,
    *,
    fresh: npt.NDArray[np.float64],
    inputs: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]],
    step: Step,
    rounds: int = 2,
) -> tuple[npt.NDArray[np.intp], int, npt.NDArray[np.float64]]:
    """Process a prefix of *x* in lanes of *length* values from the packed state *start*.

    *fresh* is the packed state after a reset, ``inputs(x)`` the per-step inputs
    from the values laid out ``(length, lanes)`` (indexed by step first), *step*
    one ``update`` on every lane.

    Returns:
        The indices of the detections in the prefix, its length (a multiple of
        *length*, at least one lane), and the packed state after it.
    """
    lanes = len(x) // length
    grid = np.ascontiguousarray(x[: lanes * length].reshape(lanes, length).T)
    steps = inputs(grid)
    starts = np.repeat(fresh[:, None], lanes, axis=1)
    starts[:, 0] = start
    ends = np.empty_like(starts)
    alarms = np.zeros((length, lanes), dtype=bool)
    _simulate(step, steps, starts, ends=ends, alarms=alarms, v=0, again=False)
    detects = alarms[:, 1:].any(axis=0)
    if not detects.all():  # a lane without a detection never rejoins the true run: stop before it
        lanes = 1 + int(np.argmin(detects))
        starts, ends, alarms = starts[:, :lanes], ends[:, :lanes], alarms[:, :lanes]
        steps = steps[..., :lanes]
    v = 1
    for _ in range(rounds):
        v = _first_wrong(starts, ends, v)
        if v == lanes:
            break
        starts[:, v:] = ends[:, v - 1 : -1]
        _simulate(step, steps, starts, ends=ends, alarms=alarms, v=v, again=True)
        v += 1
    else:
        v = _first_wrong(starts, ends, v)
    lane, at = np.nonzero(alarms[:, :v].T)
    found: npt.NDArray[np.intp] = lane * length + at
    return found, v * length, ends[:, v - 1].copy()


class LanedDetector(StreamingDetector):
    """A detector whose ``update_many`` scans windows, or chains or lanes where detections crowd.

    A subclass supplies ``_run`` (a vectorised scan of a window up to its first
    detection), ``_loop`` (the per-value recursion, for short remainders), the
    :class:`Step` kernel (``_lane_fresh``, ``_lane_inputs``, ``_lane_step``)
    and, to run chains (:mod:`~aiguard.detect._streaming._chains`),
    ``_first_alarms``.
    """

    _chained: ClassVar[bool] = False
    #: window scans cover this many typical gaps (a scan past the detection is recomputed),
    #: and after a first one without a detection, *then* gaps (None: twice the last window)
    _reach: ClassVar[float] = 2.0
    _then: ClassVar[float | None] = None
    #: where lanes do not pay off, gaps up to this long run the per-value loop, longer
    #: ones window scans (which cost a few numpy calls per detection)
    _most_looped: ClassVar[float] = math.inf
    _n: int

    def _run(self, x: npt.NDArray[np.float64]) -> int | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _loop(self, values: list[float]) -> list[int]:  # pragma: no cover - overridden
        raise NotImplementedError

    def _lane_fresh(self) -> npt.NDArray[np.float64]:  # pragma: no cover - overridden
        raise NotImplementedError

    def _lane_inputs(self, x: Floats) -> Floats:  # pragma: no cover - overridden
        raise NotImplementedError

    def _lane_step(self, state: Floats, inputs: Floats, drift: Bools) -> None:
        raise NotImplementedError  # pragma: no cover - overridden

    def _first_alarms(self, values: Floats, count: int, width: int) -> npt.NDArray[np.intp]:
        raise NotImplementedError  # pragma: no cover - overridden where _chained

    def _lane_pack(self) -> npt.NDArray[np.float64]:
        """The state (``_state_fields``, in order) as a float vector."""
        return np.array([getattr(self, "_" + name) for name in self._state_fields], dtype=float)

    def _lane_load(self, state: npt.NDArray[np.float64]) -> None:
        """The inverse of :meth:`_lane_pack`."""
        for (name, kind), value in zip(self._state_fields.items(), state.tolist(), strict=True):
            setattr(self, "_" + name, kind(value))

    def _update_many(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
        found = Found()
        windows = Windows(len(x), reach=self._reach, then=self._then)
        laned = True  # until lanes fail to prove most of a block (detections not shared)
        chained = self._chained  # until a chain needs too many longer looks
        block = CHAIN_TRIAL
        begun = 0  # where the run in progress began (after the last detection)
        for start, stop in windows:
            if not windows.dense or (not laned and windows.gap > self._most_looped):
                if self._drift:
                    self.reset()
                hit = self._run(x[start:stop])
                if hit is not None:
                    found.add(start + hit)
                    # windows fit to the gaps (*then*) need the run's whole length; doubling
                    # windows count from their start, which sends detections every few
                    # hundred values to lanes sooner (faster for CUSUM)
                    run = start + hit + 1 - begun if self._then is not None else hit + 1
                    windows.restart(start + hit + 1, run)
                    begun = start + hit + 1
                continue
            length = max(32, int(16 * windows.gap))
            if chained and (self._drift or self._n == 0):
                hits, chained = self._chain(x, start, windows, block)
                block = CHAIN_BLOCK
            elif laned and windows.gap <= MOST_GAP and len(x) - start >= FEWEST_LANES * length:
                hits, laned = self._lanes(x, start, length, windows)
            else:  # a detection every few values on a short rest: the per-value loop
                hits = np.asarray(self._loop(x[start:stop].tolist()), dtype=np.intp) + start
                windows.note((stop - start) / (len(hits) + 1))
            found.extend(hits)
            begun = windows.pos
        return found.array()

    def _lanes(
        self, x: npt.NDArray[np.float64], start: int, length: int, windows: Windows
    ) -> tuple[npt.NDArray[np.intp], bool]:
        """Lanes of *length* values from *start*: the detections, and whether lanes paid off."""
        block = x[start : start + MOST_LANES * length]
        hits, used, state = run_lanes(
            block,
            self._lane_pack(),
            length,
            fresh=self._lane_fresh(),
            inputs=self._lane_inputs,
            step=self._lane_step,
        )
        self._lane_load(state)
        windows.restart(start + used, used / (len(hits) + 1), weight=1.0)
        return hits + start, 2 * used >= len(block)

    def _chain(
        self, x: npt.NDArray[np.float64], start: int, windows: Windows, block: int
    ) -> tuple[npt.NDArray[np.intp], bool]:
        """Chained fresh starts from *start* (one): the detections, and whether chains paid off."""
        width = chain_width(windows.gap)
        hits, end, paid = run_chain(
            x, start, width, self._first_alarms, self._first_alarm, block=block
        )
        self.reset()
        if end == len(x) and len(hits):  # the batch ends on a detection: its run's exact state
            self._run(x[int(hits[-2]) + 1 if len(hits) > 1 else start : end])
        if end > start:  # a block that paid off measures the gap; one that did not, less so
            windows.restart(end, (end - start) / len(hits), weight=1.0 if paid else 0.25)
        else:  # no detection within a block: a long gap, scanned by the window path
            windows.restart(start, float(CHAIN_BLOCK), weight=1.0)
        return hits, paid

    def _first_alarm(self, x: npt.NDArray[np.float64]) -> int | None:
        """The first detection of a fresh run over *x* (None if none), the state left alone."""
        state = self._lane_pack()
        self.reset()
        hit = self._run(x)
        self._lane_load(state)
        return hit


class Found:
    """Detection indices in order, gathered as single indices and arrays."""

    def __init__(self) -> None:
        self._parts: list[npt.NDArray[np.intp]] = []
        self._singles: list[int] = []

    def add(self, index: int) -> None:
        """One detection."""
        self._singles.append(index)

    def extend(self, indices: npt.NDArray[np.intp]) -> None:
        """Detections after every one added so far."""
        if self._singles:
            self._parts.append(np.array(self._singles, dtype=np.intp))
            self._singles = []
        self._parts.append(indices)

    def array(self) -> npt.NDArray[np.intp]:
        """All of them, in one array."""
        return np.concatenate([*self._parts, np.array(self._singles, dtype=np.intp)])

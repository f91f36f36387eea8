"""The model's outputs against a reference: score distribution, class shares, collapse."""

from __future__ import annotations

import functools
import math
import operator
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np

from aiguard._core import _validate
from aiguard._core._inbox import SCALAR_TYPES
from aiguard.detect._monitors._base import window_args
from aiguard.detect._monitors._worker import BackgroundMonitor
from aiguard.errors import AiguardError, ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from typing_extensions import Unpack

    from aiguard.detect._monitors._base import MonitorOptions
    from aiguard.typing import CallOutcome

__all__ = ["OutputMonitor"]

_SCALARS = SCALAR_TYPES
_MAX_SHARES = 20  # classes listed in a signal's evidence


class OutputMonitor(BackgroundMonitor):
    """Outputs over the last ``window`` rows against reference outputs (held-out predictions).

    Outputs are collected in blocks of ``every`` rows; each full block is
    binned in the monitor's background thread (never on the caller's thread,
    which only appends and queues full blocks; the thread sleeps in between):
    scores on the reference's quantile edges, into the same counts as an
    :class:`aiguard.drift.Accumulator` (summed over the window as blocks come
    and go), classes by an Accumulator per block. The last ``window // every``
    blocks are compared with the reference after each new block, with at
    least ``min_rows`` rows. Rules (each deduplicated):

    * ``"distribution"`` (scores): PSI of the window against the reference
      (reference quantile bins, see :func:`aiguard.drift.psi`) above ``psi``.
    * ``"share"`` (classes): some class's share ``p`` moved from its reference
      share ``p0`` by more than ``share_change`` *and* by more than
      ``share_z`` standard errors, ``|p - p0| > share_z * sqrt(p0 (1 - p0) / n)``
      (``p0`` floored at ``0.5 / n_reference`` for classes never seen). The
      fraud model flagging 40% instead of 2% is this rule.
    * ``"constant"``: every output of the window is the same value (or class)
      while the reference has more than one.

    ``outputs="auto"`` reads float references as scores and integer, bool or
    string ones as classes (compared as their ``str``). 2-D outputs
    (``predict_proba``) are read through their last column (the positive
    class's probability). NaN and inf scores are counted in ``nonfinite``
    and skipped. A ``detector=`` is fed the PSI (scores) or the worst share
    (classes) at each evaluation.

    Args:
        reference: 1-D outputs of the model on reference data.
        outputs: ``"auto"``, ``"scores"`` or ``"classes"``.
        window: rows compared (a multiple of ``every`` is used).
        every: rows per block, and per evaluation. A block costs a fixed
            ~0.1 ms (scores) or ~0.5 ms (classes) of background work plus a
            little per row, so small blocks detect sooner but cost more per
            output (the fraud test uses 50).
        psi: PSI limit of the ``distribution`` rule.
        share_z: standard errors a share must move.
        share_change: absolute change a share must exceed.
        min_rows: fewest rows in the window to decide.
        bins: quantile bins of the reference scores.
        queue: blocks waiting for the background thread before new ones are dropped.
        sample: share of outputs observed.
        clock: seconds; stamps the signals.
        detector: an optional change detector.
        name: the ``source`` of the signals.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> mon = OutputMonitor((rng.random(5000) < 0.02).astype(int), every=100)
        >>> mon.observe((rng.random(200) < 0.40).astype(int))
        >>> mon.drain()
        >>> s = mon.last_signal
        >>> s.evidence["rule"], s.evidence["class"], round(s.baseline, 2), s.value > 0.3
        ('share', '1', 0.02, True)
    """

    kind = "output"
    _default_name = "output"

    def __init__(
        self,
        reference: Any,
        *,
        outputs: str = "auto",
        window: int = 10_000,
        every: int = 1000,
        psi: float = 0.2,
        share_z: float = 4.0,
        share_change: float = 0.05,
        min_rows: int = 50,
        bins: int = 10,
        queue: int = 64,
        **options: Unpack[MonitorOptions],
    ) -> None:
        super().__init__(queue=queue, **options)
        size, self.every = window_args(window, every)
        self.window = size - size % self.every
        self.psi = _validate.real(psi, "psi", low=0, low_open=True)
        self.share_z = _validate.real(share_z, "share_z", low=0)
        self.share_change = _validate.fraction(share_change, "share_change", zero=True)
        self.min_rows = _validate.count(min_rows, "min_rows")
        if outputs not in ("auto", "scores", "classes"):
            raise ConfigurationError("outputs", "'auto', 'scores' or 'classes'", outputs)
        ref = np.asarray(reference)
        if ref.ndim == 2:
            ref = ref[:, -1]
        if ref.ndim != 1 or ref.size < 2:
            raise ConfigurationError("reference", "a 1-D array of at least 2 outputs", ref.shape)
        if outputs == "auto":
            outputs = "scores" if ref.dtype.kind in "fc" else "classes"
        self.outputs = outputs
        from aiguard import drift  # noqa: PLC0415 - lazy: the drift statistics import scipy.stats

        try:
            if outputs == "scores":
                ref = ref.astype(np.float64)
                self.reference = drift.Reference(ref, feature_names=["output"],
                                                 bins=_validate.count(bins, "bins", minimum=2))
                self._ref_distinct = int(np.unique(ref[np.isfinite(ref)]).size)
            else:
                ref = ref.astype(str)
                self.reference = drift.Reference(ref, feature_names=["output"], categorical=True)
                self._ref_distinct = int(np.unique(ref).size)
        except (TypeError, ValueError, AiguardError) as exc:
            raise ConfigurationError("reference", "finite outputs", str(exc)) from exc
        self._detector_rule = "distribution" if outputs == "scores" else "share"
        self._buffer: list[Any] = []
        # background side. Scores: each block's bin counts on the reference's edges, and
        # their running sum over the window (the same counts and the same binned_statistics
        # call as an Accumulator's, without building and merging one per block).
        self._blocks: deque[tuple[Any, float, float]] = deque(maxlen=self.window // self.every)
        from aiguard.detect._drift.binned import binned_statistics  # noqa: PLC0415 - lazy, as above

        self._binned = binned_statistics
        _, ref_counts, _ = self.reference.accumulator().histograms()[0]
        self._ref_counts = ref_counts[None, :]
        self._nbins = np.array([ref_counts.size], dtype=np.intp)
        self._edges = self.reference.edges("output") if outputs == "scores" else None
        self._counts = np.zeros(ref_counts.size, dtype=np.int64)
        self._rest: list[np.ndarray[Any, Any]] = []
        self._rest_rows = 0

    def tap(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any], result: Any, outcome: CallOutcome  # noqa: ARG002 - the MonitorTap signature
    ) -> None:
        """Observe the result of a call the model served (fallback answers are not the model's)."""
        if outcome[0] == "model" and result is not None:
            self.observe(result)

    def take_block(self, latencies: list[float], results: list[Any]) -> None:  # noqa: ARG002 - the BlockTaker signature
        """Add the scalar results of a block of plain calls a Guard gathered.

        Full blocks of ``every`` outputs go to the background thread one by
        one, as :meth:`observe` sends them, so the evaluations are the same.
        """
        if self._step != 1:
            results = self._rows(results)
        buf = self._buffer
        buf.extend(results)
        every = self.every
        if len(buf) >= every:
            cut = len(buf) - len(buf) % every
            self._buffer = buf[cut:]
            now = self._clock()
            for start in range(0, cut, every):
                self._worker.submit(self._process, buf[start:start + every], now)

    def observe(self, output: Any) -> None:
        """Add one output, or a batch of them (rows on axis 0)."""
        if type(output) in _SCALARS:
            if self._step == 1 or self._take():
                buf = self._buffer
                buf.append(output)
                if len(buf) >= self.every:
                    self._buffer = []
                    self._worker.submit(self._process, buf, self._clock())
            return
        arr = np.asarray(output)
        if arr.ndim == 0:
            self.observe(arr.item())
            return
        if arr.ndim == 2:
            arr = arr[:, -1]
        arr = self._rows(arr.reshape(-1))
        if self._buffer:
            arr = np.concatenate([np.asarray(self._buffer, dtype=arr.dtype), arr])
            self._buffer = []
        self._worker.submit(self._process, arr, self._clock())

    # -- background thread ------------------------------------------------------------

    def _process(self, values: Any, now: float) -> None:
        if self.outputs == "scores":
            arr = self._finite(np.asarray(values, dtype=np.float64).reshape(-1))
        else:
            arr = np.asarray(values).astype(str).reshape(-1)
        every = self.every
        if not self._rest_rows and arr.size == every:  # the usual block: nothing to pool
            self._add_block(arr)
        else:
            self._rest.append(arr)
            self._rest_rows += arr.size
            if self._rest_rows < every:
                return
            pooled = np.concatenate(self._rest)
            cut = pooled.size - pooled.size % every
            for start in range(max(0, cut - self.window), cut, every):
                self._add_block(pooled[start:start + every])
            self._rest = [pooled[cut:]]
            self._rest_rows = pooled.size - cut
        self._evaluate(now)

    def _add_block(self, block: np.ndarray[Any, Any]) -> None:
        blocks = self._blocks
        if self._edges is None:
            acc = self.reference.accumulator()
            acc.update(block)
            blocks.append((acc, 0.0, 0.0))
            return
        counts = np.bincount(np.searchsorted(self._edges, block, side="right"),
                             minlength=self._counts.size)
        if len(blocks) == blocks.maxlen:  # the oldest block leaves the window
            self._counts -= blocks[0][0]
        self._counts += counts
        blocks.append((counts, float(block.min()), float(block.max())))

    def _evaluate(self, now: float) -> None:
        n = len(self._blocks) * self.every
        if n < self.min_rows:
            return
        base = {"rows": n, "window": self.window}
        if self.outputs == "scores":
            lo = min(b[1] for b in self._blocks)
            hi = max(b[2] for b in self._blocks)
            psi = float(self._binned(["psi"], self._ref_counts, self._counts[None, :],
                                     self._nbins)["psi"][0])
            self._decide("distribution", breached=psi > self.psi, value=psi, baseline=None,
                         threshold=self.psi, excess=psi - self.psi,
                         evidence={**base, "statistic": "psi"}, at=now)
            self._decide("constant", breached=lo == hi and self._ref_distinct > 1, value=hi,
                         baseline=None, threshold=None, excess=0.0, evidence=base, at=now)
            return
        merged = functools.reduce(operator.add, (b[0] for b in self._blocks))
        labels, rc, cc = merged.histograms()[0]
        self._shares(labels, rc, cc, n, now, base)
        only = int(np.count_nonzero(cc)) == 1
        top = int(np.argmax(cc))
        self._decide("constant", breached=only and self._ref_distinct > 1,
                     value=1.0 if only else float(cc[top] / n), baseline=None, threshold=None,
                     excess=0.0, evidence={**base, "class": labels[top]}, at=now)

    def _shares(  # noqa: PLR0917 - internal
        self, labels: tuple[str, ...], rc: np.ndarray[Any, Any], cc: np.ndarray[Any, Any],
        n: int, now: float, base: dict[str, Any],
    ) -> None:
        n_ref = int(rc.sum())
        p0 = rc / n_ref
        p = cc / n
        floor = np.maximum(p0, 0.5 / n_ref)
        se = np.sqrt(floor * (1 - floor) / n)
        need = np.maximum(self.share_change, self.share_z * se)
        excess = np.abs(p - p0) - need
        # ties (the two classes of a binary model) go to the larger relative change
        tied = np.flatnonzero(excess >= excess.max() - 1e-12)
        worst = int(tied[np.argmax(np.abs(p - p0)[tied] / floor[tied])])
        z = (p[worst] - p0[worst]) / se[worst]
        sign = 1.0 if p[worst] >= p0[worst] else -1.0
        order = np.argsort(-cc)[:_MAX_SHARES]
        evidence = {
            **base,
            "class": labels[worst],
            "share": float(p[worst]),
            "reference_share": float(p0[worst]),
            "z": float(z) if math.isfinite(z) else None,
            "shares": {labels[i]: float(p[i]) for i in order},
        }
        self._decide("share", breached=bool(excess[worst] > 0), value=float(p[worst]),
                     baseline=float(p0[worst]), threshold=float(p0[worst] + sign * need[worst]),
                     excess=float(excess[worst]), evidence=evidence, at=now)

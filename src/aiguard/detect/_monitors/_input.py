"""Input drift: batches binned against a ``drift.Reference`` in the background, per feature."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from aiguard._core import _validate
from aiguard.detect._monitors._worker import BackgroundMonitor
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from typing_extensions import Unpack

    from aiguard import drift
    from aiguard.detect._monitors._base import MonitorOptions
    from aiguard.detect._signal import Signal
    from aiguard.typing import CallOutcome

__all__ = ["InputDriftMonitor"]

_BINNED = ("psi", "jensenshannon", "hellinger", "kl")
_TOP = 10  # features listed with their statistic in a signal's evidence


class InputDriftMonitor(BackgroundMonitor):
    """Per-feature drift of the model's inputs against the training data.

    ``observe(batch)`` (or a Guard, with the call's first argument) only puts
    the batch on a bounded queue. The monitor's background thread bins it into
    a :meth:`drift.Reference.accumulator` and, once ``every`` rows have come in
    (or ``interval`` seconds have passed with at least ``min_rows`` rows),
    computes the binned ``statistic`` (PSI by default) of every feature
    against the reference and starts a new accumulator (tumbling windows).
    The ``"drift"`` rule is in breach when any feature's statistic exceeds
    ``threshold`` (PSI 0.2 is the usual "significant shift"); the signal's
    value is the largest statistic and its evidence names the features over
    the threshold (``"features"``) and the largest statistics (``"scores"``).
    A ``detector=`` is fed the largest statistic at each comparison.

    The batch is read in the background after the call returns: do not
    modify it in place afterwards. A one-row call may pass a 1-D row when the
    reference has several features. Infinities are counted in ``nonfinite``
    and binned as missing; a batch that does not fit the reference (other
    features) is counted in ``errors`` and logged once.

    Args:
        reference: a fitted :class:`aiguard.drift.Reference` of the training inputs.
        every: rows per comparison.
        interval: seconds after which rows received are compared even if fewer
            than ``every`` (None: rows only).
        threshold: limit of the statistic.
        statistic: ``"psi"``, ``"jensenshannon"``, ``"hellinger"`` or ``"kl"``.
        min_rows: fewest rows compared on ``interval``.
        queue: batches waiting before new ones are dropped (counted in ``dropped``).
        sample: share of rows observed.
        clock: seconds; decides ``interval`` and stamps the signals.
        detector: an optional change detector.
        name: the ``source`` of the signals.

    Example:
        >>> import numpy as np
        >>> from aiguard import drift
        >>> rng = np.random.default_rng(0)
        >>> ref = drift.Reference(rng.normal(size=(5000, 3)), feature_names=["a", "region", "c"])
        >>> mon = InputDriftMonitor(ref, every=500)
        >>> batch = rng.normal(size=(500, 3))
        >>> batch[:, 1] += 2.0
        >>> mon.observe(batch)
        >>> mon.drain()
        >>> mon.last_signal.kind, mon.last_signal.evidence["features"]
        ('drift', ['region'])
    """

    kind = "drift"
    _default_name = "input_drift"
    _detector_rule = "drift"

    def __init__(
        self,
        reference: drift.Reference,
        *,
        every: int = 1000,
        interval: Any = None,
        threshold: float = 0.2,
        statistic: str = "psi",
        min_rows: int = 100,
        queue: int = 64,
        **options: Unpack[MonitorOptions],
    ) -> None:
        super().__init__(queue=queue, **options)
        from aiguard import drift  # noqa: PLC0415 - lazy: the drift statistics import scipy.stats

        if not isinstance(reference, drift.Reference):
            raise ConfigurationError("reference", "an aiguard.drift.Reference", reference)
        if statistic not in _BINNED:
            raise ConfigurationError("statistic", f"one of {_BINNED}", statistic)
        self.reference = reference
        self.every = _validate.count(every, "every")
        self.interval = None if interval is None else _validate.duration(interval, "interval")
        self.threshold = _validate.real(threshold, "threshold", low=0, low_open=True)
        self.statistic = statistic
        self.min_rows = _validate.count(min_rows, "min_rows")
        self._acc = reference.accumulator()
        self._since: float | None = None
        self._chunk = min(self.every, 256)
        self._width = reference.n_features
        self._pending: list[np.ndarray[Any, Any]] = []
        self._pending_rows = 0
        self._pending_at = 0.0
        self.comparisons = 0

    def tap(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any], result: Any, outcome: CallOutcome  # noqa: ARG002 - the MonitorTap signature
    ) -> None:
        """Observe the call's first positional argument (the model's inputs)."""
        if args:
            self.observe(args[0])

    def observe(self, batch: Any) -> None:
        """Queue a batch of inputs (rows on axis 0) for the background thread.

        Small numpy batches (single requests) are gathered on the caller's side
        into chunks of up to ``min(every, 256)`` rows before they are queued;
        with ``interval`` set, a chunk is also queued once it is ``interval``
        seconds old, so slow traffic is still compared on time.
        """
        if self._step != 1:
            batch = self._rows(batch)
        if type(batch) is np.ndarray and batch.ndim == 1 and self._width > 1:
            batch = batch.reshape(1, -1)
        if (type(batch) is np.ndarray and batch.ndim == 2
                and batch.shape[1] == self._width and len(batch) < self._chunk):
            pending = self._pending
            if not pending and self.interval is not None:
                self._pending_at = self._clock()
            pending.append(batch)
            self._pending_rows += len(batch)
            if self._pending_rows < self._chunk and (
                self.interval is None or self._clock() - self._pending_at < self.interval
            ):
                return
            self._pending, self._pending_rows = [], 0
            self._worker.submit(self._process, pending, self._clock(), self._pending_at)
            return
        self._worker.submit(self._process, batch, self._clock())

    def _send_pending(self) -> None:
        if self._pending:
            pending, self._pending, self._pending_rows = self._pending, [], 0
            self._worker.submit(self._process, pending, self._clock())

    # -- background thread ------------------------------------------------------------

    def _process(self, batch: Any, now: float, start: float | None = None) -> Signal | None:
        if self._since is None:  # the first rows' time (a gathered chunk's first row)
            self._since = now if start is None or self.interval is None else start
        if isinstance(batch, list):
            batch = np.concatenate(batch)
        if isinstance(batch, np.ndarray):
            if batch.ndim == 1 and self.reference.n_features > 1:
                batch = batch.reshape(1, -1)
            if batch.dtype.kind == "f":
                inf = np.isinf(batch)
                if inf.any():
                    self.nonfinite += int(np.count_nonzero(inf))
                    batch = np.where(inf, np.nan, batch)
        try:
            self._acc.update(batch)
        except Exception:
            self.errors += 1
            raise
        rows = self._acc.n_rows
        due = rows >= self.every or (
            self.interval is not None and now - self._since >= self.interval
            and rows >= self.min_rows
        )
        if not due:
            return None
        return self._compare(now)

    def _compare(self, now: float) -> Signal | None:
        acc, self._acc = self._acc, self.reference.accumulator()
        self._since = now
        self.comparisons += 1
        values = acc.statistics([self.statistic])[self.statistic]
        names = self.reference.feature_names
        scores = np.where(np.isnan(values), -np.inf, values)
        order = np.argsort(-scores, kind="stable")
        over = [names[i] for i in order if scores[i] > self.threshold]
        worst = float(scores[order[0]]) if scores.size else 0.0
        evidence = {
            "features": over,
            "scores": {names[i]: float(values[i]) for i in order[:_TOP]},
            "statistic": self.statistic,
            "rows": acc.n_rows,
        }
        return self._decide("drift", breached=bool(over), value=worst, baseline=None,
                            threshold=self.threshold, excess=worst - self.threshold,
                            evidence=evidence, at=now)

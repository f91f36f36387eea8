"""Label-free confidence: max probability and entropy of ``predict_proba`` rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from aiguard._core import _validate
from aiguard.detect._monitors._base import Monitor, window_args
from aiguard.detect._monitors._ring import Rows
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from typing_extensions import Unpack

    from aiguard.detect._monitors._base import MonitorOptions
    from aiguard.detect._signal import Signal
    from aiguard.typing import CallOutcome

__all__ = ["ConfidenceMonitor", "confidence"]


def confidence(proba: Any) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Per row: the largest probability and the entropy (nats) of ``predict_proba`` output.

    A 1-D input is the positive-class probability ``p`` of a binary model
    (the row is ``[1 - p, p]``). Entropy is ``-sum(p log p)`` with
    ``0 log 0 = 0``, as :func:`scipy.stats.entropy` (rows are not renormalised).

    Example:
        >>> m, h = confidence([[0.5, 0.5], [1.0, 0.0]])
        >>> m.tolist(), [round(x, 4) for x in h.tolist()]
        ([0.5, 1.0], [0.6931, 0.0])
    """
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim <= 1:
        p = p.reshape(-1, 1)
        p = np.concatenate([1.0 - p, p], axis=1)
    with np.errstate(all="ignore"):  # NaN / inf rows give NaN, counted by the monitor
        logs = np.where(p > 0, np.log(np.where(p > 0, p, 1.0)), 0.0)
        return p.max(axis=1), 0.0 - (p * logs).sum(axis=1)


class ConfidenceMonitor(Monitor):
    """Mean max-probability and entropy of the last ``window`` rows against a reference.

    With no labels, a model that grows unsure (inputs it was not trained on)
    shows it in its probabilities. Every ``every`` rows the window's mean
    largest probability is compared with the reference's: the ``"confidence"``
    rule is in breach when it fell by more than ``drop``; the evidence gives
    both means of the entropy too. Rows holding NaN or inf are counted in
    ``nonfinite`` and skipped.

    Args:
        reference: ``predict_proba`` output on reference data (2-D, or 1-D
            positive-class probabilities).
        drop: how far the mean largest probability may fall.
        window: rows covered.
        every: rows between evaluations.
        min_rows: fewest rows to decide.
        sample: share of rows kept.
        clock: seconds; stamps the signals.
        detector: an optional change detector fed the mean largest probability.
        name: the ``source`` of the signals.

    Example:
        >>> import numpy as np
        >>> mon = ConfidenceMonitor(np.array([[0.9, 0.1]] * 100), every=50, min_rows=50)
        >>> mon.observe(np.array([[0.6, 0.4]] * 50))
        >>> s = mon.last_signal
        >>> s.kind, round(s.value, 2), round(s.baseline, 2)
        ('confidence', 0.6, 0.9)
    """

    kind = "confidence"
    _default_name = "confidence"
    _detector_rule = "confidence"

    def __init__(
        self,
        reference: Any,
        *,
        drop: float = 0.1,
        window: int = 1000,
        every: int = 100,
        min_rows: int = 100,
        **options: Unpack[MonitorOptions],
    ) -> None:
        super().__init__(**options)
        self.drop = _validate.fraction(drop, "drop")
        self.window, self.every = window_args(window, every)
        self.min_rows = _validate.count(min_rows, "min_rows")
        try:
            m, h = confidence(reference)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError("reference", "predict_proba output", reference) from exc
        ok = np.isfinite(m) & np.isfinite(h)
        if not ok.any():
            raise ConfigurationError("reference", "finite probabilities", "none finite")
        self.reference_confidence = float(m[ok].mean())
        self.reference_entropy = float(h[ok].mean())
        self._window = Rows(self.window, (np.float64, np.float64))

    def tap(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any], result: Any, outcome: CallOutcome  # noqa: ARG002 - the MonitorTap signature
    ) -> None:
        """Observe the probabilities the model returned."""
        if outcome[0] == "model" and result is not None:
            self.observe(result)

    def observe(self, proba: Any) -> None:
        """Add ``predict_proba`` rows (2-D, or 1-D positive-class probabilities)."""
        m, h = confidence(proba)
        ok = np.isfinite(m) & np.isfinite(h)
        if not ok.all():
            self.nonfinite += int(ok.size - np.count_nonzero(ok))
            m, h = m[ok], h[ok]
        if self._step != 1:
            m, h = self._rows(np.stack([m, h], axis=1)).T
        self._window.push(m, h)
        if self._window.since >= self.every:
            self._window.since = 0
            self._evaluate(self._clock())

    def _evaluate(self, now: float) -> Signal | None:
        m, h = self._window.view()
        if m.size < self.min_rows:
            return None
        value = float(m.mean())
        threshold = self.reference_confidence - self.drop
        evidence = {
            "mean_entropy": float(h.mean()),
            "reference_entropy": self.reference_entropy,
            "rows": int(m.size),
        }
        return self._decide("confidence", breached=value < threshold, value=value,
                            baseline=self.reference_confidence, threshold=threshold,
                            excess=threshold - value, evidence=evidence, at=now)

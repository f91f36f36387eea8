"""Delayed labels joined to predictions by request id: accuracy, precision, recall, F1."""

from __future__ import annotations

from itertools import islice, repeat
from typing import TYPE_CHECKING, Any

import numpy as np

from aiguard._core import _validate
from aiguard.detect._monitors._base import Monitor, check_callable, check_metric, window_args
from aiguard.detect._monitors._ring import Rows
from aiguard.errors import InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from typing_extensions import Unpack

    from aiguard.detect._monitors._base import MonitorOptions
    from aiguard.detect._signal import Signal
    from aiguard.typing import CallOutcome

__all__ = ["METRICS", "PerformanceMonitor", "metrics_of"]

METRICS: tuple[str, ...] = ("accuracy", "precision", "recall", "f1")


def metrics_of(correct: Any, predicted: Any, actual: Any) -> dict[str, float]:
    """Accuracy, and precision / recall / F1 of the positive class, from per-row booleans.

    *correct*: prediction equals label; *predicted* / *actual*: prediction /
    label is the positive class. scikit-learn's definitions with its default
    ``zero_division`` (a 0/0 ratio is 0.0): ``precision = tp / (tp + fp)``,
    ``recall = tp / (tp + fn)``, ``f1 = 2 tp / (2 tp + fp + fn)``.

    Example:
        >>> import numpy as np
        >>> y, p = np.array([1, 0, 1, 1]), np.array([1, 1, 0, 1])
        >>> metrics_of(y == p, p == 1, y == 1)
        {'accuracy': 0.5, 'precision': 0.6666666666666666, 'recall': 0.6666666666666666, 'f1': 0.6666666666666666}
    """  # noqa: E501
    n = len(correct)
    tp = int(np.count_nonzero(predicted & actual))
    pp = int(np.count_nonzero(predicted))
    ap = int(np.count_nonzero(actual))
    fp, fn = pp - tp, ap - tp
    return {
        "accuracy": int(np.count_nonzero(correct)) / n if n else 0.0,
        "precision": tp / pp if pp else 0.0,
        "recall": tp / ap if ap else 0.0,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
    }


class PerformanceMonitor(Monitor):
    """Model quality from labels that arrive later than the predictions.

    ``observe(ids, predictions)`` keeps each prediction in a pending map under
    its request id; ``record(ids, labels)`` joins the labels that came back
    and moves the pairs into a window of the last ``window`` labelled
    predictions. The pending map is bounded: predictions older than ``ttl``
    seconds are dropped (``expired``), and beyond ``max_pending`` entries the
    oldest is dropped (``evicted``); a label with no pending prediction is
    counted in ``unmatched``. Every ``every`` joined labels (with at least
    ``min_labels`` in the window) the metrics are computed with
    scikit-learn's definitions (:func:`metrics_of`; precision, recall and F1
    of ``pos_label`` against the rest, which is ``average="binary"`` for
    binary labels), and the ``metric`` is in breach when it falls more than
    ``tolerance`` below its baseline: ``baseline=`` when given, else the
    metric over the first full window (frozen).

    Args:
        metric: the metric that decides (one of :data:`METRICS`).
        pos_label: the positive class.
        window: labelled predictions the metrics cover.
        every: joined labels between evaluations.
        tolerance: how far below the baseline the metric may fall.
        baseline: the metric's baseline (default: learned).
        min_labels: fewest labelled predictions to decide.
        max_pending: predictions waiting for a label, at most.
        ttl: seconds a prediction waits for its label.
        request_id: for a Guard, ``request_id(args, kwargs)`` returns the ids of a
            call's rows (one id, or one per row); without it ``tap`` does nothing.
        sample: share of predictions kept.
        clock: seconds; the pending map's ages and the signals' time.
        detector: an optional change detector fed the metric.
        name: the ``source`` of the signals.

    Example:
        >>> mon = PerformanceMonitor(metric="accuracy", baseline=0.9, every=10, min_labels=10)
        >>> mon.observe(range(20), [1] * 20)
        >>> mon.record(range(20), [1, 0] * 10)
        >>> s = mon.last_signal
        >>> s.kind, s.value, s.threshold
        ('performance', 0.5, 0.85)
    """

    kind = "performance"
    _default_name = "performance"

    def __init__(
        self,
        *,
        metric: str = "f1",
        pos_label: Any = 1,
        window: int = 1000,
        every: int = 100,
        tolerance: float = 0.05,
        baseline: float | None = None,
        min_labels: int = 50,
        max_pending: int = 100_000,
        ttl: Any = 3600.0,
        request_id: Callable[[tuple[Any, ...], Mapping[str, Any]], Any] | None = None,
        **options: Unpack[MonitorOptions],
    ) -> None:
        super().__init__(**options)
        self.metric = self._detector_rule = check_metric(metric, METRICS)
        self.pos_label = pos_label
        self.window, self.every = window_args(window, every)
        self.tolerance = _validate.fraction(tolerance, "tolerance", zero=True)
        self._base = None if baseline is None else _validate.fraction(baseline, "baseline",
                                                                      zero=True)
        self.min_labels = _validate.count(min_labels, "min_labels")
        self.max_pending = _validate.count(max_pending, "max_pending")
        self.ttl = _validate.duration(ttl, "ttl")
        if request_id is not None:
            check_callable(request_id, "request_id", "a callable (args, kwargs) -> ids")
        self._request_id = request_id
        self._pending: dict[Any, tuple[float, Any]] = {}
        self._keep: list[bool] = []
        self._window = Rows(self.window, (np.bool_, np.bool_, np.bool_))
        self.expired = 0
        self.evicted = 0
        self.unmatched = 0

    @property
    def baseline(self) -> float | None:
        """The decided metric's baseline (None until learned)."""
        return self._base

    @property
    def pending(self) -> int:
        """Predictions waiting for their label."""
        return len(self._pending)

    def tap(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any], result: Any, outcome: CallOutcome
    ) -> None:
        """Keep the model's predictions under the ids ``request_id(args, kwargs)`` gives."""
        if self._request_id is None or outcome[0] != "model" or result is None:
            return
        self.observe(self._request_id(args, kwargs), result)

    def observe(self, ids: Any, predictions: Any) -> None:
        """Keep predictions until their labels come (one id and prediction, or sequences).

        2-D predictions (``predict_proba``) are kept as their ``argmax`` class index.

        Raises:
            InvalidInputError: not one id per prediction (argument ``ids``).
        """
        now = self._clock()
        self._expire(now)
        if np.ndim(predictions) == 2:
            predictions = np.asarray(predictions).argmax(axis=1)
        if np.ndim(predictions) == 0:
            if isinstance(ids, (list, tuple, np.ndarray)) and len(ids) == 1:
                ids = ids[0]
            if self._take():
                self._pending[ids] = (now, predictions)
        else:
            keys = self._sampled(ids)
            values = self._sampled_values(predictions)
            if len(keys) != len(values):
                raise InvalidInputError("ids", f"one id per prediction ({len(values)})",
                                        len(keys))
            self._pending.update(zip(keys, zip(repeat(now), values, strict=False), strict=True))
        over = len(self._pending) - self.max_pending
        if over > 0:
            pop = self._pending.pop
            for key in list(self._pending)[:over]:
                pop(key)
            self.evicted += over

    def record(self, ids: Any, labels: Any) -> None:
        """Join labels to their pending predictions; decide every ``every`` joined labels."""
        now = self._clock()
        self._expire(now)
        if np.ndim(labels) == 0:
            ids, labels = [ids], [labels]
        pop = self._pending.pop
        preds, truth = [], []
        for key, label in zip(ids, labels, strict=True):
            item = pop(key, None)
            if item is None:
                self.unmatched += 1
                continue
            preds.append(item[1])
            truth.append(label)
        if not preds:
            return
        p, y = np.asarray(preds), np.asarray(truth)
        self._window.push(p == y, p == self.pos_label, y == self.pos_label)
        if self._window.since >= self.every:
            self._window.since = 0
            self._evaluate(now)

    def metrics(self) -> dict[str, float]:
        """The metrics over the current window (see :func:`metrics_of`)."""
        return metrics_of(*self._window.view())

    def _sampled(self, ids: Any) -> list[Any]:
        keys = ids.tolist() if isinstance(ids, np.ndarray) else list(ids)
        if self._step == 1:
            return keys
        self._keep = self._rows_mask(len(keys))
        return [k for k, keep in zip(keys, self._keep, strict=True) if keep]

    def _sampled_values(self, predictions: Any) -> list[Any]:
        values = np.asarray(predictions).tolist()
        if self._step == 1:
            return values  # type: ignore[no-any-return]
        return [v for v, keep in zip(values, self._keep, strict=True) if keep]

    def _rows_mask(self, n: int) -> list[bool]:
        step = self._step
        start = (step - 1 - self._phase) % step
        self._phase = (self._phase + n) % step
        return [(i - start) % step == 0 and i >= start for i in range(n)]

    def _expire(self, now: float) -> None:
        pending = self._pending
        limit = now - self.ttl
        n = 0
        for item in pending.values():
            if item[0] >= limit:
                break
            n += 1
        if not n:
            return
        if n == len(pending):
            pending.clear()
        else:
            for key in list(islice(pending, n)):
                del pending[key]
        self.expired += n

    def _evaluate(self, now: float) -> Signal | None:
        if self._window.filled < self.min_labels:
            return None
        values = self.metrics()
        value = values[self.metric]
        if self._base is None:
            if self._window.filled >= self.window:
                self._base = value
            return None
        threshold = max(0.0, self._base - self.tolerance)
        evidence = {"metric": self.metric, "metrics": values, "labels": self._window.filled,
                    "pending": len(self._pending), "expired": self.expired}
        return self._decide(self.metric, breached=value < threshold, value=value,
                            baseline=self._base, threshold=threshold, excess=threshold - value,
                            evidence=evidence, at=now)

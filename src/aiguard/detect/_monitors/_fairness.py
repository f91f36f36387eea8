"""Selection rates per group and the parity gaps between groups, over the last N predictions."""

from __future__ import annotations

import math
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

__all__ = ["FAIRNESS_METRICS", "FairnessMonitor"]

FAIRNESS_METRICS: tuple[str, ...] = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
)


def _ratio(num: np.ndarray[Any, Any], den: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Num / den with 0 where den is 0 (fairlearn's rates of a group with no such row)."""
    out: np.ndarray[Any, Any] = np.divide(num, den, out=np.zeros(num.shape), where=den > 0)
    return out


class FairnessMonitor(Monitor):
    """Demographic parity and equalized odds across groups, with fairlearn's definitions.

    Over the last ``window`` predictions, per group ``a``: the selection rate
    ``P[h(X) = pos | A = a]``; and over the rows with a label, the true and
    false positive rates ``P[h(X) = pos | A = a, Y = pos]`` and
    ``P[h(X) = pos | A = a, Y != pos]`` (0 for a group with no such row, as
    fairlearn). Then (fairlearn's ``method="between_groups"``):

    * ``demographic_parity_difference`` = max - min selection rate;
    * ``demographic_parity_ratio`` = min / max selection rate (NaN if max is 0);
    * ``equalized_odds_difference`` = the larger of the TPR and FPR gaps
      (``agg="worst_case"``).

    Every ``every`` predictions the ``metric`` is computed over the groups
    with at least ``min_group`` rows in the window and is in breach above
    ``limit`` (below it for the ratio; defaults 0.1 for the differences, 0.8 —
    the four-fifths rule — for the ratio). Groups are kept by their ``str``;
    beyond ``max_groups`` distinct groups new ones are dropped and counted in
    ``overflow``.

    Args:
        metric: the metric that decides (one of :data:`FAIRNESS_METRICS`).
        limit: its limit (default as above).
        pos_label: the favourable prediction (and label).
        window: predictions covered.
        every: predictions between evaluations.
        min_group: fewest rows a group needs to count in a decision.
        max_groups: distinct groups kept.
        group_of: for a Guard, ``group_of(args, kwargs)`` returns the group of each
            row of a call; without it ``tap`` does nothing.
        sample: share of predictions kept.
        clock: seconds; stamps the signals.
        detector: an optional change detector fed the metric.
        name: the ``source`` of the signals.

    Example:
        >>> mon = FairnessMonitor(every=100, min_group=10)
        >>> mon.observe([1, 0] * 25 + [1, 0, 0, 0, 0] * 10, ["a"] * 50 + ["b"] * 50)
        >>> s = mon.last_signal
        >>> s.kind, s.value, s.evidence["selection_rate"]
        ('fairness', 0.3, {'a': 0.5, 'b': 0.2})
    """

    kind = "fairness"
    _default_name = "fairness"

    def __init__(
        self,
        *,
        metric: str = "demographic_parity_difference",
        limit: float | None = None,
        pos_label: Any = 1,
        window: int = 1000,
        every: int = 100,
        min_group: int = 30,
        max_groups: int = 64,
        group_of: Callable[[tuple[Any, ...], Mapping[str, Any]], Any] | None = None,
        **options: Unpack[MonitorOptions],
    ) -> None:
        super().__init__(**options)
        self.metric = self._detector_rule = check_metric(metric, FAIRNESS_METRICS)
        default = 0.8 if metric == "demographic_parity_ratio" else 0.1
        self.limit = default if limit is None else _validate.fraction(limit, "limit")
        self.pos_label = pos_label
        self.window, self.every = window_args(window, every)
        self.min_group = _validate.count(min_group, "min_group")
        self.max_groups = _validate.count(max_groups, "max_groups")
        if group_of is not None:
            check_callable(group_of, "group_of", "a callable (args, kwargs) -> groups")
        self._group_of = group_of
        self._codes: dict[str, int] = {}
        self._names = np.array([], dtype=str)  # the groups' names, sorted
        self._name_codes = np.array([], dtype=np.int32)  # their codes, in that order
        self._window = Rows(self.window, (np.int32, np.bool_, np.int8))
        self.overflow = 0

    @property
    def groups(self) -> tuple[str, ...]:
        """The groups seen, in order of arrival."""
        return tuple(self._codes)

    def tap(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any], result: Any, outcome: CallOutcome
    ) -> None:
        """Observe the model's predictions with the groups ``group_of(args, kwargs)`` gives."""
        if self._group_of is None or outcome[0] != "model" or result is None:
            return
        self.observe(result, self._group_of(args, kwargs))

    def observe(self, predictions: Any, groups: Any, labels: Any = None) -> None:
        """Add predictions with their groups (and labels, for equalized odds).

        2-D predictions (``predict_proba``) count as their ``argmax`` class index.
        """
        pred = np.atleast_1d(np.asarray(predictions))
        if pred.ndim == 2:
            pred = pred.argmax(axis=1)
        grp = np.atleast_1d(np.asarray(groups)).astype(str)
        if grp.shape != pred.shape[:1]:
            raise InvalidInputError("groups", f"one group per prediction ({len(pred)})",
                                    grp.shape)
        lab = np.full(pred.shape[0], -1, dtype=np.int8)
        if labels is not None:
            y = np.atleast_1d(np.asarray(labels))
            if y.shape != pred.shape[:1]:
                raise InvalidInputError("labels", f"one label per prediction ({len(pred)})",
                                        y.shape)
            lab = (y == self.pos_label).astype(np.int8)
        keep = self._rows(np.arange(pred.shape[0]))
        codes = self._encode(grp[keep])
        ok = codes >= 0
        self._window.push(codes[ok], (pred[keep] == self.pos_label)[ok], lab[keep][ok])
        if self._window.since >= self.every:
            self._window.since = 0
            self._evaluate(self._clock())

    def metrics(self, *, min_group: int = 1) -> dict[str, Any]:
        """Selection rates per group and the three metrics over the current window."""
        code, chosen, label = self._window.view()
        k = len(self._codes)
        count = np.bincount(code, minlength=k)
        groups = np.flatnonzero(count >= min_group)
        names = list(self._codes)
        sel = _ratio(np.bincount(code, weights=chosen, minlength=k), count)[groups]
        pos, neg = label == 1, label == 0
        tpr = _ratio(np.bincount(code[pos], weights=chosen[pos], minlength=k),
                     np.bincount(code[pos], minlength=k))[groups]
        fpr = _ratio(np.bincount(code[neg], weights=chosen[neg], minlength=k),
                     np.bincount(code[neg], minlength=k))[groups]
        if not groups.size:
            dpd = dpr = eod = math.nan
        else:
            dpd = float(sel.max() - sel.min())
            dpr = float(sel.min() / sel.max()) if sel.max() > 0 else math.nan
            eod = float(max(tpr.max() - tpr.min(), fpr.max() - fpr.min()))
        return {
            "selection_rate": {names[g]: float(s) for g, s in zip(groups, sel, strict=True)},
            "demographic_parity_difference": dpd,
            "demographic_parity_ratio": dpr,
            "equalized_odds_difference": eod,
        }

    def _encode(self, groups: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Each row's group code, -1 past ``max_groups`` (counted in ``overflow``).

        Known groups are found by binary search in their sorted names (no
        per-call ``np.unique``: it is slower, and its temporaries kept the
        interpreter's traced memory creeping up call after call); only rows of
        groups never seen go through ``np.unique``, once per new group.
        """
        codes = np.full(groups.shape, -1, dtype=np.int32)
        new = self._lookup(groups, codes)
        if new.any() and len(self._codes) < self.max_groups:
            for value in np.unique(groups[new]).tolist():
                if len(self._codes) < self.max_groups:
                    self._codes[value] = len(self._codes)
            names = np.array(list(self._codes))
            order = np.argsort(names)
            self._names, self._name_codes = names[order], order.astype(np.int32)
            self._lookup(groups, codes)
        self.overflow += int(np.count_nonzero(codes < 0))
        return codes

    def _lookup(self, groups: np.ndarray[Any, Any], codes: np.ndarray[Any, Any]) -> Any:
        """Fill *codes* for the rows of known groups; return the mask of the others."""
        if not self._names.size:
            return np.ones(groups.shape, dtype=bool)
        at = np.searchsorted(self._names, groups)
        np.minimum(at, self._names.size - 1, out=at)
        known = self._names[at] == groups
        codes[known] = self._name_codes[at[known]]
        return ~known

    def _evaluate(self, now: float) -> Signal | None:
        found = self.metrics(min_group=self.min_group)
        value = found[self.metric]
        if len(found["selection_rate"]) < 2 or math.isnan(value):
            return None
        if self.metric == "demographic_parity_ratio":
            breached, excess = value < self.limit, self.limit - value
        else:
            breached, excess = value > self.limit, value - self.limit
        evidence = {"metric": self.metric, **found, "rows": self._window.filled}
        return self._decide(self.metric, breached=breached, value=value, baseline=None,
                            threshold=self.limit, excess=excess, evidence=evidence, at=now)

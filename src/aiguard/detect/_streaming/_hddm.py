r"""HDDM_A and HDDM_W, Frías-Blanco et al. (2014), as river 0.26 implements them (after MOA).

Both read error indicators (1 wrong, 0 right) and test whether the error rate
rose (``two_sided_test``: or fell) with a bound of the Hoeffding family.

**HDDM_A** (averages). With :math:`\bar z_n` the mean of the :math:`n` values
since the reset and :math:`\varepsilon(n) = \sqrt{\ln(1/\delta_d) / (2n)}`, a
cut point :math:`(\bar x, m)` (a copy of :math:`(\bar z, n)`) is kept where
:math:`\bar z_n + \varepsilon(n)` is smallest. The mean rose at confidence
:math:`\delta` when

.. math::

    \bar z_n - \bar x \ge \sqrt{\frac{n - m}{m\, n} \cdot \frac{\ln(2/\delta)}{2}},

with :math:`\delta = \delta_d` (``drift_confidence``) a drift, else with
:math:`\delta_w` (``warning_confidence``) a warning; the fall test mirrors it
with the cut point where :math:`\bar z_n - \varepsilon(n)` is largest.

**HDDM_W** (weighted). Exponentially weighted means
:math:`e \leftarrow \lambda x + (1 - \lambda) e` (the first value starts the
mean) with the independent bound condition
:math:`b \leftarrow \lambda^2 + (1 - \lambda)^2 b`, :math:`b_0 = 1`, and the
McDiarmid bound :math:`\varepsilon(b, \delta) = \sqrt{b \ln(1/\delta) / 2}`.
The cut point is where :math:`e + \varepsilon(b, \delta_d)` of the whole
stream is smallest; the sample after it is weighted afresh, and the mean rose
when :math:`e_{after} - e_{cut} > \varepsilon(b_{cut} + b_{after}, \delta)`.

Both follow river 0.26 exactly, including the order in which the flags are
set; ``update_many`` runs the same loop without per-value method calls.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

from aiguard._core import _validate
from aiguard.detect._streaming._base import Knob, Param, state_fields
from aiguard.detect._streaming._ddm import _WarningDetector
from aiguard.detect._streaming._params import check_bool, decode_float

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["HDDM_A", "HDDM_W"]


_OPEN_UNIT: dict[str, Any] = {"low": 0.0, "high": 1.0, "low_open": True, "high_open": True}


class HDDM_A(_WarningDetector):  # noqa: N801 - river's name
    """Drift detection with Hoeffding's bound on averages, on 0/1 errors, as river 0.26.

    Formulas in :mod:`aiguard.detect._streaming._hddm`. Use it on a model's
    errors for an abrupt rise of the error rate, with a guarantee on the false
    alarm probability per test rather than thresholds in standard deviations.

    Args:
        drift_confidence: the confidence level of a drift, in (0, 1).
        warning_confidence: the confidence level of a warning, in (0, 1).
        two_sided_test: also detect a fall of the error rate.

    Example:
        >>> import numpy as np
        >>> errors = np.r_[np.tile([0, 0, 0, 0, 1], 200), np.ones(100)]
        >>> HDDM_A().update_many(errors)
        array([1004])
    """

    _knob: ClassVar[Knob] = Knob("drift_confidence", 1e-15, 0.5, quieter_when_larger=False)
    drift_confidence = Param(_validate.real, **_OPEN_UNIT)
    warning_confidence = Param(_validate.real, **_OPEN_UNIT)
    two_sided_test = Param(check_bool)
    # the parameters' slots, set by _set_params
    _drift_confidence: float
    _warning_confidence: float
    _two_sided_test: bool

    def __init__(
        self,
        *,
        drift_confidence: float = 0.001,
        warning_confidence: float = 0.005,
        two_sided_test: bool = False,
    ) -> None:
        self._set_params(
            drift_confidence=drift_confidence, warning_confidence=warning_confidence,
            two_sided_test=two_sided_test,
        )
        self._log_bound = math.log(1.0 / self._drift_confidence)
        self._log_drift = math.log(2.0 / self._drift_confidence)
        self._log_warning = math.log(2.0 / self._warning_confidence)
        self.reset()

    def reset(self) -> None:
        """Forget everything seen: back to the state just after construction."""
        self._drift = self._warning = False
        self._z = [0.0, 0.0]  # n, mean of all values since the reset
        self._low = [0.0, 0.0]  # the cut point for a rise
        self._high = [0.0, 0.0]  # the cut point for a fall

    def _loop(self, values: list[float]) -> list[int]:
        found: list[int] = []
        drift, warning = self._drift, self._warning
        (zn, zm), (ln, lm), (hn, hm) = self._z, self._low, self._high
        log_bound, log_drift, log_warning = self._log_bound, self._log_drift, self._log_warning
        two_sided = self._two_sided_test
        sqrt = math.sqrt
        for i, x in enumerate(values):
            if drift:
                drift = warning = False
                zn = zm = ln = lm = hn = hm = 0.0
            zn += 1.0
            zm += (1.0 / zn) * (x - zm)
            if ln == 0:
                ln, lm = zn, zm
            if hn == 0:
                hn, hm = zn, zm
            eps_z = sqrt(1.0 / (2 * zn) * log_bound)
            if lm + sqrt(1.0 / (2 * ln) * log_bound) >= zm + eps_z:
                ln, lm = zn, zm
            if hm - sqrt(1.0 / (2 * hn) * log_bound) <= zm - eps_z:
                hn, hm = zn, zm
            if ln == zn:
                drift = warning = False
            else:
                m = (zn - ln) / ln * (1.0 / zn)
                if zm - lm >= sqrt(m / 2 * log_drift):
                    drift, warning = True, False
                else:
                    drift, warning = False, zm - lm >= sqrt(m / 2 * log_warning)
            if two_sided and hn != zn:
                m = (zn - hn) / hn * (1.0 / zn)
                if hm - zm >= sqrt(m / 2 * log_drift):
                    drift = True
                elif hm - zm >= sqrt(m / 2 * log_warning):
                    warning = True
            if drift:
                found.append(i)
        self._drift, self._warning = drift, warning
        self._z, self._low, self._high = [zn, zm], [ln, lm], [hn, hm]
        return found

    def _get_state(self) -> dict[str, Any]:
        return {
            "drift": self._drift,
            "warning": self._warning,
            "z": self._z,
            "low": self._low,
            "high": self._high,
        }

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self._drift, self._warning = bool(state["drift"]), bool(state["warning"])
        self._z = [decode_float(v) for v in state["z"]][:2]
        self._low = [decode_float(v) for v in state["low"]][:2]
        self._high = [decode_float(v) for v in state["high"]][:2]
        if not len(self._z) == len(self._low) == len(self._high) == 2:
            raise ValueError("z, low and high must each hold [n, mean]")


_NEW = (0.0, False, 1.0)  # an empty weighted sample: (mean, started, bound condition)


class HDDM_W(_WarningDetector):  # noqa: N801 - river's name
    """Drift detection with McDiarmid's bound on weighted averages, on 0/1 errors, as river 0.26.

    Formulas in :mod:`aiguard.detect._streaming._hddm`. Like :class:`HDDM_A`
    but the recent past weighs more (``lambda_val``), which helps with gradual
    changes.

    Args:
        drift_confidence: the confidence level of a drift, in (0, 1).
        warning_confidence: the confidence level of a warning, in (0, 1).
        lambda_val: the weight of the newest value, in (0, 1].
        two_sided_test: also detect a fall of the error rate.

    Example:
        >>> import numpy as np
        >>> errors = np.r_[np.tile([0, 0, 0, 0, 1], 200), np.ones(100)]
        >>> HDDM_W().update_many(errors)
        array([1012])
    """

    _knob: ClassVar[Knob] = Knob("drift_confidence", 1e-15, 0.5, quieter_when_larger=False)
    _state_fields = state_fields("up_cut down_cut", drift=bool, warning=bool)
    drift_confidence = Param(_validate.real, **_OPEN_UNIT)
    warning_confidence = Param(_validate.real, **_OPEN_UNIT)
    lambda_val = Param(_validate.fraction)
    two_sided_test = Param(check_bool)
    # the parameters' slots, set by _set_params
    _drift_confidence: float
    _warning_confidence: float
    _lambda_val: float
    _two_sided_test: bool

    def __init__(
        self,
        *,
        drift_confidence: float = 0.001,
        warning_confidence: float = 0.005,
        lambda_val: float = 0.05,
        two_sided_test: bool = False,
    ) -> None:
        self._set_params(
            drift_confidence=drift_confidence, warning_confidence=warning_confidence,
            lambda_val=lambda_val, two_sided_test=two_sided_test,
        )
        self._log_drift = math.log(1 / self._drift_confidence)
        self._log_warning = math.log(1 / self._warning_confidence)
        lam = self._lambda_val
        self._weights = (lam, 1.0 - lam, lam * lam, (1 - lam) ** 2)
        self.reset()

    def reset(self) -> None:
        """Forget everything seen: back to the state just after construction."""
        self._drift = self._warning = False
        # each sample is (weighted mean, started, bound condition)
        self._total = self._cut_up = self._after_up = self._cut_down = self._after_down = _NEW
        self._up_cut = math.inf
        self._down_cut = -math.inf

    def _loop(self, values: list[float]) -> list[int]:
        found: list[int] = []
        drift, warning = self._drift, self._warning
        total, cut_up, after_up = self._total, self._cut_up, self._after_up
        cut_down, after_down = self._cut_down, self._after_down
        up_cut, down_cut = self._up_cut, self._down_cut
        lam, keep, lam_sq, keep_sq = self._weights
        log_drift, log_warning = self._log_drift, self._log_warning
        two_sided = self._two_sided_test
        sqrt = math.sqrt

        def add(sample: tuple[float, bool, float], x: float) -> tuple[float, bool, float]:
            mean, started, bound = sample
            return (lam * x + keep * mean if started else x, True, lam_sq + keep_sq * bound)

        for i, x in enumerate(values):
            if drift:
                drift = warning = False
                total = cut_up = after_up = cut_down = after_down = _NEW
                up_cut, down_cut = math.inf, -math.inf
            total = add(total, x)
            eps = sqrt(total[2] * log_drift / 2)
            if total[0] + eps < up_cut:
                up_cut = total[0] + eps
                cut_up, after_up = total, _NEW
            else:
                after_up = add(after_up, x)
            drift = warning = False
            if cut_up[1] and after_up[1]:
                bound_sum = cut_up[2] + after_up[2]
                rise = after_up[0] - cut_up[0]
                if rise > sqrt(bound_sum * log_drift / 2):
                    drift = True
                elif rise > sqrt(bound_sum * log_warning / 2):
                    warning = True
            eps = sqrt(total[2] * log_drift / 2)
            if total[0] - eps > down_cut:
                down_cut = total[0] - eps
                cut_down, after_down = total, _NEW
            else:
                after_down = add(after_down, x)
            if two_sided and cut_down[1] and after_down[1]:
                bound_sum = after_down[2] + cut_down[2]
                fall = cut_down[0] - after_down[0]
                if fall > sqrt(bound_sum * log_drift / 2):
                    drift = True
                elif fall > sqrt(bound_sum * log_warning / 2):
                    warning = True
            if drift:
                found.append(i)
        self._drift, self._warning = drift, warning
        self._total, self._cut_up, self._after_up = total, cut_up, after_up
        self._cut_down, self._after_down = cut_down, after_down
        self._up_cut, self._down_cut = up_cut, down_cut
        return found

    _SAMPLES = ("total", "cut_up", "after_up", "cut_down", "after_down")

    def _get_state(self) -> dict[str, Any]:
        state = super()._get_state()
        for name in self._SAMPLES:
            mean, started, bound = getattr(self, "_" + name)
            state[name] = [mean, started, bound]
        return state

    def _set_state(self, state: Mapping[str, Any]) -> None:
        super()._set_state(state)
        for name in self._SAMPLES:
            mean, started, bound = state[name]
            setattr(self, "_" + name, (decode_float(mean), bool(started), decode_float(bound)))

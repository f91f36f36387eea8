r"""DDM and EDDM, the error-rate detectors of Gama et al. (2004) and Baena-García et al. (2006).

Both read a stream of error indicators (1: the model was wrong, 0: right).

**DDM.** With :math:`p_n` the error rate of the :math:`n` values since the
last reset and :math:`s_n = \sqrt{p_n (1 - p_n) / n}`, once :math:`n >`
``warm_start`` the pair :math:`(p_{min}, s_{min})` is taken where
:math:`p_n + s_n` is smallest (ties: the latest), and

.. math::

    p_n + s_n > p_{min} + w\, s_{min} \Rightarrow \text{warning}, \qquad
    p_n + s_n > p_{min} + d\, s_{min} \Rightarrow \text{drift},

:math:`w` = ``warning_threshold``, :math:`d` = ``drift_threshold``.

**EDDM.** On each error, with :math:`p'` and :math:`s'` the mean and sample
standard deviation of the distances between consecutive errors so far, once
more than ``warm_start`` values were seen: if :math:`p' + 2s'` is a new
maximum it is recorded; otherwise, once more than ``warm_start`` errors were
seen, with :math:`\ell = (p' + 2s') / \max(p' + 2s')`:
:math:`\ell < \beta` is a drift, else :math:`\ell < \alpha` a warning, else
no warning.

Both follow river 0.26 exactly (same update order, Welford means, and the
same flags after each value); ``update_many`` runs the same loop over the
batch without per-value method calls.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from aiguard._core import _validate
from aiguard.detect._streaming._base import Knob, Param, StreamingDetector, state_fields
from aiguard.detect._streaming._params import (
    as_binary,
)
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:

    import numpy.typing as npt

__all__ = ["DDM", "EDDM"]


class _WarningDetector(StreamingDetector):
    """A binary detector that also raises a warning before a drift."""

    _state_fields: ClassVar[dict[str, type]] = {"drift": bool, "warning": bool}
    _binary: ClassVar[bool] = True
    _warning: bool

    @property
    def warning_detected(self) -> bool:
        """Whether the last value put the detector in its warning zone."""
        return self._warning

    def update(self, x: float) -> None:
        """Process one error indicator (0, 1, False or True)."""
        self._loop([as_binary(x)])

    def _update_many(self, x: npt.NDArray[np.float64]) -> list[int]:
        return self._loop(x.tolist())

    def _loop(self, values: list[float]) -> list[int]:  # pragma: no cover - overridden
        raise NotImplementedError


class DDM(_WarningDetector):
    """Drift Detection Method (Gama et al. 2004) on a stream of 0/1 errors, as river 0.26.

    Formulas in :mod:`aiguard.detect._streaming._ddm`. Use it on a model's
    errors when labels arrive: it signals a rise of the error rate (and a
    warning before), and needs few parameters.

    Args:
        warm_start: values after a reset before a warning or drift can be signalled.
        warning_threshold: the warning level, in standard deviations.
        drift_threshold: the drift level, in standard deviations.

    Example:
        >>> import numpy as np
        >>> errors = np.r_[np.tile([0, 0, 0, 0, 1], 200), np.ones(100)]
        >>> DDM().update_many(errors)
        array([1031])
    """

    _knob: ClassVar[Knob] = Knob("drift_threshold", 0.01, 1000.0, quieter_when_larger=True)
    _state_fields = state_fields("n p p_min s_min ps_min", drift=bool, warning=bool)
    warm_start = Param(_validate.count, minimum=0)
    warning_threshold = Param(_validate.real, low=0.0)
    drift_threshold = Param(_validate.real, low=0.0)
    # the parameters' slots, set by _set_params
    _warm_start: int
    _warning_threshold: float
    _drift_threshold: float

    def __init__(
        self, *, warm_start: int = 30, warning_threshold: float = 2.0, drift_threshold: float = 3.0
    ) -> None:
        self._set_params(
            warm_start=warm_start,
            warning_threshold=warning_threshold,
            drift_threshold=drift_threshold,
        )
        self.reset()

    def reset(self) -> None:
        """Forget everything seen: back to the state just after construction."""
        self._drift = self._warning = False
        self._n = 0.0
        self._p = 0.0
        self._p_min = self._s_min = 0.0
        self._ps_min = math.inf

    def _loop(self, values: list[float]) -> list[int]:
        found: list[int] = []
        drift, warning = self._drift, self._warning
        n, p, p_min, s_min, ps_min = self._n, self._p, self._p_min, self._s_min, self._ps_min
        warm, w_level, d_level = self._warm_start, self._warning_threshold, self._drift_threshold
        sqrt = math.sqrt
        for i, x in enumerate(values):
            if drift:
                drift = warning = False
                n = p = p_min = s_min = 0.0
                ps_min = math.inf
            n += 1.0
            p += (1.0 / n) * (x - p)
            s = sqrt(p * (1 - p) / n)
            if n > warm:
                ps = p + s
                if ps <= ps_min:
                    p_min, s_min = p, s
                    ps_min = p_min + s_min
                warning = ps > p_min + w_level * s_min
                if ps > p_min + d_level * s_min:
                    drift, warning = True, False
                    found.append(i)
        self._drift, self._warning = drift, warning
        self._n, self._p, self._p_min, self._s_min, self._ps_min = n, p, p_min, s_min, ps_min
        return found


class EDDM(_WarningDetector):
    """Early Drift Detection Method (Baena-García et al. 2006) on 0/1 errors, as river 0.26.

    Formulas in :mod:`aiguard.detect._streaming._ddm`. Watches the distance
    between errors rather than their rate, so it reacts earlier than DDM to a
    gradual rise; with the defaults it alarms often on a steady error rate, so
    :meth:`calibrate` ``beta`` on a stable period.

    Args:
        warm_start: values, and errors, needed after a reset before signalling.
        alpha: the warning level, in (0, 1].
        beta: the drift level, in (0, alpha].

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> rate = np.r_[np.full(2000, 0.05), np.full(1000, 0.5)]  # errors jump at 2000
        >>> errors = (rng.random(3000) < rate).astype(int)
        >>> EDDM().update_many(errors)  # two false alarms before the jump
        array([ 744, 1271, 2001, 2054, 2108])
    """

    _knob: ClassVar[Knob] = Knob("beta", 1e-4, 1.0, quieter_when_larger=False, capped_by="alpha")
    _state_fields = state_fields(
        "count mean sq p2s_max", drift=bool, warning=bool, n=int, last_error=int, n_errors=int
    )
    warm_start = Param(_validate.count, minimum=0)
    alpha = Param(_validate.fraction)
    beta = Param(_validate.fraction)
    # the parameters' slots, set by _set_params
    _warm_start: int
    _alpha: float
    _beta: float

    def __init__(self, *, warm_start: int = 30, alpha: float = 0.95, beta: float = 0.9) -> None:
        self._set_params(warm_start=warm_start, alpha=alpha, beta=beta)
        if self._beta > self._alpha:
            raise ConfigurationError("beta", f"at most alpha ({self._alpha})", beta)
        self.reset()

    def reset(self) -> None:
        """Forget everything seen: back to the state just after construction."""
        self._drift = self._warning = False
        self._n = self._last_error = self._n_errors = 0
        self._count, self._mean, self._sq = 0.0, 0.0, 0.0
        self._p2s_max = -1.0

    def _update_many(self, x: npt.NDArray[np.float64]) -> list[int]:
        """The same loop over the errors only: a correct value just counts (``n += 1``)."""
        if not len(x):
            return []
        found: list[int] = []
        drift, warning = self._drift, self._warning
        last_error, n_errors = self._last_error, self._n_errors
        count, mean, sq, p2s_max = self._count, self._mean, self._sq, self._p2s_max
        warm, alpha, beta = self._warm_start, self._alpha, self._beta
        offset = self._n + 1  # n of the value at index p is p + offset
        detected = -1 if drift else None  # a detection waiting to reset at the next value
        for p in np.flatnonzero(x == 1.0).tolist():
            if detected is not None and detected < p:
                drift = warning = False
                last_error = n_errors = 0
                count = mean = sq = 0.0
                p2s_max = -1.0
                offset = -detected
                detected = None
            n = p + offset
            n_errors += 1
            distance = n - last_error
            old = mean
            count += 1.0
            mean += (1.0 / count) * (distance - mean)
            sq += 1.0 * (distance - old) * (distance - mean)
            if n > warm:
                variance = sq / (count - 1) if count > 1 else 0.0
                p2s = mean + 2 * variance**0.5
                if p2s > p2s_max:
                    p2s_max = p2s
                elif n_errors > warm:
                    level = p2s / p2s_max
                    if level < beta:
                        drift = True
                        detected = p
                        found.append(p)
                    else:
                        warning = level < alpha
            last_error = n
        last = len(x) - 1
        if detected is not None and detected < last:
            drift = warning = False
            last_error = n_errors = 0
            count = mean = sq = 0.0
            p2s_max = -1.0
            offset = -detected
        self._drift, self._warning = drift, warning
        self._n, self._last_error, self._n_errors = last + offset, last_error, n_errors
        self._count, self._mean, self._sq, self._p2s_max = count, mean, sq, p2s_max
        return found

    def _loop(self, values: list[float]) -> list[int]:
        found: list[int] = []
        drift, warning = self._drift, self._warning
        n, last_error, n_errors = self._n, self._last_error, self._n_errors
        count, mean, sq, p2s_max = self._count, self._mean, self._sq, self._p2s_max
        warm, alpha, beta = self._warm_start, self._alpha, self._beta
        for i, x in enumerate(values):
            if drift:
                drift = warning = False
                n = last_error = n_errors = 0
                count = mean = sq = 0.0
                p2s_max = -1.0
            n += 1
            if x == 1:
                n_errors += 1
                distance = n - last_error
                old = mean
                count += 1.0
                mean += (1.0 / count) * (distance - mean)
                sq += 1.0 * (distance - old) * (distance - mean)
                if n > warm:
                    variance = sq / (count - 1) if count > 1 else 0.0
                    p2s = mean + 2 * variance**0.5
                    if p2s > p2s_max:
                        p2s_max = p2s
                    elif n_errors > warm:
                        level = p2s / p2s_max
                        if level < beta:
                            drift = True
                            found.append(i)
                        else:
                            warning = level < alpha
                last_error = n
        self._drift, self._warning = drift, warning
        self._n, self._last_error, self._n_errors = n, last_error, n_errors
        self._count, self._mean, self._sq, self._p2s_max = count, mean, sq, p2s_max
        return found

r"""Calibration: set a detector's threshold for a target false-alarm rate on a stable stream.

``detector.calibrate(reference, false_alarms_per=N)`` (a method of every
detector) changes the one parameter that sets its sensitivity (its
:class:`~aiguard.detect._streaming._base.Knob`: ``threshold`` for
PageHinkley, ``h`` for CUSUM, ``delta`` for ADWIN, ``alpha`` for KSWIN,
``drift_threshold`` for DDM, ``beta`` for EDDM, ``drift_confidence`` for
HDDM_A / HDDM_W). The method:

1. **Stretch the reference.** A target of one alarm per :math:`N` values needs
   a stream of many times :math:`N` values to measure. The reference is
   resampled by a moving-block bootstrap (blocks of
   :math:`b = \min(50, \lfloor L/2 \rfloor)` consecutive values, :math:`L`
   the reference's length, starts drawn uniformly with the seeded generator)
   to :math:`T = \max(L, 20 N)` values; blocks keep short-range dependence,
   the resampling keeps the stream stable (no drift).
2. **Search.** The detector is run afresh on that stream for each candidate
   value of the parameter, by bisection (on a log scale, 24 steps) between
   its quietest and most sensitive values, for the **most sensitive** value
   that alarms at most :math:`\lfloor T / N \rfloor` times. For PageHinkley
   and CUSUM the bounds scale with the reference's standard deviation.

Alarm counts are monotone in the parameter in expectation, and the same
bootstrap stream is reused for every candidate (and KSWIN keeps its seed), so
the bisection is well posed. If even the quietest value alarms too often, it
is kept. The detector is reset afterwards.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from aiguard._core import _validate
from aiguard.detect._streaming._params import as_binary_many, as_values
from aiguard.errors import InvalidInputError

if TYPE_CHECKING:
    import numpy.typing as npt

    from aiguard.detect._streaming._base import StreamingDetector

__all__ = ["bootstrap", "calibrate"]

MIN_REFERENCE = 100
STEPS = 24


def bootstrap(
    reference: npt.NDArray[np.float64], length: int, seed: int
) -> npt.NDArray[np.float64]:
    """A moving-block bootstrap of *reference*, *length* values long.

    Example:
        >>> stream = bootstrap(np.arange(100.0), 1000, seed=0)
        >>> len(stream), bool(np.isin(stream, np.arange(100.0)).all())
        (1000, True)
    """
    block = min(50, len(reference) // 2)
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, len(reference) - block + 1, size=-(-length // block))
    resampled: npt.NDArray[np.float64] = reference[starts[:, None] + np.arange(block)].ravel()
    return resampled[:length]


def calibrate(
    detector: StreamingDetector,
    reference_stream: npt.ArrayLike,
    *,
    false_alarms_per: int,
    seed: int,
) -> None:
    """Set *detector*'s knob for at most one alarm per *false_alarms_per* values (see module)."""
    per = _validate.count(false_alarms_per, "false_alarms_per", minimum=1)
    seed = _validate.count(seed, "seed", minimum=0)
    binary = type(detector)._binary
    reference = as_binary_many(reference_stream) if binary else as_values(reference_stream)
    if len(reference) < MIN_REFERENCE:
        raise InvalidInputError(
            "reference_stream", f"at least {MIN_REFERENCE} values", f"{len(reference)} values"
        )
    length = max(len(reference), 20 * per)
    stream = bootstrap(reference, length, seed)
    allowed = length // per
    knob = type(detector)._knob
    scale = float(np.std(reference)) if knob.scaled else 1.0
    scale = scale if scale > 0 else 1.0
    params = detector.params()
    high = knob.high * scale
    if knob.capped_by is not None:
        high = min(high, params[knob.capped_by])
    quiet, loud = high, knob.low * scale
    if not knob.quieter_when_larger:
        quiet, loud = loud, quiet
    if "seed" in params and params["seed"] is None:
        params["seed"] = seed

    def alarms(value: float) -> int:
        candidate = type(detector)(**{**params, knob.name: value})
        return len(candidate.update_many(stream))

    if alarms(loud) <= allowed:
        best = loud
    else:
        best = quiet
        for _ in range(STEPS):
            middle = math.sqrt(quiet * loud) if knob.log else (quiet + loud) / 2
            if alarms(middle) <= allowed:
                best = quiet = middle
            else:
                loud = middle
    detector._configure(**{knob.name: best})

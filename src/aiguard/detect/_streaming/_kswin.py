r"""KSWIN, the Kolmogorov-Smirnov windowing detector (Raab et al. 2020), river 0.26's rule.

A sliding window :math:`\Psi` holds the last :math:`n` = ``window_size``
values. Once full, at every value the last :math:`r` = ``stat_size`` values
:math:`R` are compared with :math:`r` values :math:`W` drawn without
replacement from the first :math:`n - r`, by the two-sample
Kolmogorov-Smirnov statistic
:math:`D = \sup_t |F_W(t) - F_R(t)|`; a drift is detected when

.. math::

    p(D) \le \alpha \quad\text{and}\quad D > 0.1,

:math:`p` being scipy's ``ks_2samp(W, R, method="auto")`` p-value (river's
rule); the window then keeps only :math:`R`. With equal sample sizes
:math:`rD` is an integer and :math:`p` depends on it alone, so the rule is
tabulated once (scipy's own p-values for :math:`D = j / r`) and :math:`rD` is
computed in integer counts for many windows at once.

The draws come from a numpy ``Generator`` seeded by ``seed``: each test draws
:math:`n - r` uniform numbers and takes the positions of the :math:`r`
smallest, so ``update`` and ``update_many`` consume the same numbers and give
the same detections. The stream differs from river's ``random.Random``, so
individual detections differ from river's; the statistic and rule do not.
"""

from __future__ import annotations

import functools
import warnings
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from aiguard._core import _validate
from aiguard.detect._streaming._base import Knob, Param, StreamingDetector
from aiguard.detect._streaming._params import as_value, decode_float
from aiguard.detect._streaming._windows import Windows
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["KSWIN", "ks_counts"]


@functools.lru_cache(maxsize=64)
def _rule(stat_size: int, alpha: float) -> npt.NDArray[np.bool_]:
    """``rule[j]``: whether :math:`D = j / r` is a drift (scipy's p-value and river's test)."""
    from scipy import stats  # noqa: PLC0415 - lazy: importing scipy.stats costs ~2 s of `import aiguard`

    base = np.arange(stat_size, dtype=np.float64)
    rule = np.zeros(stat_size + 1, dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        for j in range(1, stat_size + 1):
            result = stats.ks_2samp(base, base + j, method="auto")
            rule[j] = result.pvalue <= alpha and result.statistic > 0.1
    return rule


def ks_counts(
    first: npt.NDArray[np.float64], second: npt.NDArray[np.float64]
) -> npt.NDArray[np.intp]:
    r""":math:`r \cdot D` for each row pair of two ``(k, r)`` samples (ties counted as scipy does).

    Example:
        >>> ks_counts(np.array([[1.0, 2.0, 3.0]]), np.array([[2.0, 3.0, 4.0]]))
        array([1])
    """
    values = np.concatenate([first, second], axis=1)
    signs = np.concatenate([np.ones_like(first), -np.ones_like(second)], axis=1)
    order = np.argsort(values, axis=1, kind="stable")
    values = np.take_along_axis(values, order, axis=1)
    walk = np.cumsum(np.take_along_axis(signs, order, axis=1), axis=1)
    last_of_tie = np.ones(values.shape, dtype=bool)
    last_of_tie[:, :-1] = values[:, :-1] != values[:, 1:]
    return np.asarray(np.where(last_of_tie, np.abs(walk), 0).max(axis=1).astype(np.intp))


class KSWIN(StreamingDetector):
    """Kolmogorov-Smirnov windowing: a change of the values' *distribution*, not only the mean.

    Formulas in :mod:`aiguard.detect._streaming._kswin`. Use it for scores or
    features whose shape may change while the mean stays; it tests at every
    value once the window is full, seeded and reproducible.

    Args:
        alpha: the p-value level of a drift, in (0, 1).
        window_size: the sliding window's length, at least ``2 * stat_size``.
        stat_size: the length of the recent sample and of the drawn one (>= 1).
        seed: seeds the draws (an int >= 0); None draws fresh entropy.

    Example:
        >>> import numpy as np
        >>> stream = np.r_[np.zeros(500), np.ones(500)]
        >>> KSWIN(seed=42).update_many(stream)
        array([513])
    """

    _knob: ClassVar[Knob] = Knob("alpha", 1e-15, 0.5, quieter_when_larger=False)
    alpha = Param(_validate.real, low=0.0, high=1.0, low_open=True, high_open=True)
    window_size = Param(_validate.count, minimum=2)
    stat_size = Param(_validate.count, minimum=1)
    # the parameters' slots, set by _set_params
    _alpha: float
    _window_size: int
    _stat_size: int
    seed = Param["int | None"]()
    _seed: int | None

    def __init__(
        self,
        *,
        alpha: float = 0.005,
        window_size: int = 100,
        stat_size: int = 30,
        seed: int | None = None,
    ) -> None:
        self._set_params(alpha=alpha, stat_size=stat_size, window_size=window_size)
        if self._window_size < 2 * self._stat_size:
            expected = f"at least 2 * stat_size ({2 * self._stat_size})"
            raise ConfigurationError("window_size", expected, window_size)
        self._seed = None if seed is None else _validate.count(seed, "seed", minimum=0)
        self._rule = _rule(self._stat_size, self._alpha)
        self.reset()

    def reset(self) -> None:
        """Forget everything seen (the draws restart from the seed)."""
        self._rng = np.random.default_rng(self._seed)
        self._clear()

    def _clear(self) -> None:
        """What a detection resets: the window (the draws go on)."""
        self._drift = False
        self._window = np.empty(0)

    def update(self, x: float) -> None:
        """Process one value (a finite real number)."""
        self._update_many(np.array([as_value(x)]))

    def _update_many(self, x: npt.NDArray[np.float64]) -> list[int]:
        found: list[int] = []
        windows = Windows(len(x), first=1024, smallest=64, largest=4096)
        for start, stop in windows:
            if self._drift:
                self._clear()
            hit = self._run(x[start:stop])
            if hit is not None:
                found.append(start + hit)
                windows.restart(start + hit + 1, hit + 1)
        return found

    def _run(self, x: npt.NDArray[np.float64]) -> int | None:
        """Process *x* up to its first detection; return that index (or None)."""
        size, stat = self._window_size, self._stat_size
        held = len(self._window)
        values = np.concatenate([self._window, x])
        first = max(0, size - held - 1)  # the first value of x whose window is full
        tests = len(x) - first
        hit: int | None = None
        if tests > 0:
            saved = self._rng.bit_generator.state
            keys = self._rng.random((tests, size - stat))
            drawn = (
                np.argpartition(keys, stat - 1, axis=1)[:, :stat]
                if stat < size - stat
                else (np.broadcast_to(np.arange(stat), (tests, stat)))
            )
            ends = held + first + 1 + np.arange(tests)
            frames = np.lib.stride_tricks.sliding_window_view(values, size)[ends - size]
            sample = np.take_along_axis(frames[:, : size - stat], drawn, axis=1)
            detected = self._rule[ks_counts(sample, frames[:, size - stat :])]
            if detected.any():
                test = int(np.argmax(detected))
                hit = first + test
                self._rng.bit_generator.state = saved
                self._rng.random((test + 1) * (size - stat))
                self._window = frames[test, size - stat :].copy()
        if hit is None:
            self._window = values[-size:].copy()
        self._drift = hit is not None
        return hit

    def _get_state(self) -> dict[str, Any]:
        state = self._rng.bit_generator.state
        return {
            **super()._get_state(),
            "window": self._window.tolist(),
            "rng": {**state, "state": {k: str(v) for k, v in state["state"].items()}},
        }

    def _set_state(self, state: Mapping[str, Any]) -> None:
        super()._set_state(state)
        self._window = np.array([decode_float(v) for v in state["window"]], dtype=np.float64)
        if len(self._window) > self._window_size:
            raise ValueError("the window is longer than window_size")
        rng = dict(state["rng"])
        rng["state"] = {k: int(v) for k, v in rng["state"].items()}
        self._rng.bit_generator.state = rng

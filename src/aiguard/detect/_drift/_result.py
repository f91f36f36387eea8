"""The result of a drift statistic, the decision per feature, and the warning for NaN.

:func:`finish` turns statistics and p-values into a :class:`DriftResult`: the
p-values are corrected across features (see :mod:`._corrections`), tests decide
``pvalue < alpha``, distances ``statistic >= threshold``, and ``min_effect``
adds an effect-size floor. NaN never counts as drifted.
"""

from __future__ import annotations

import inspect
import warnings
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import numpy.typing as npt

from aiguard.detect._drift._corrections import correct

if TYPE_CHECKING:
    from aiguard.detect._drift._types import FloatArray

__all__ = ["DriftResult", "DriftWarning", "finish", "warn_drift"]


class DriftWarning(UserWarning):
    """A statistic could not be computed for some features and is NaN there.

    Emitted, like scipy's ``SmallSampleWarning``, when a feature has too few
    (non-missing) observations for the statistic, or when every value of a
    feature is missing. One warning per call lists all the affected features.

    Example:
        >>> import warnings
        >>> from aiguard import drift
        >>> issubclass(drift.DriftWarning, UserWarning)
        True
    """


def warn_drift(message: str) -> None:
    """Emit one :class:`DriftWarning` attributed to the first caller outside aiguard."""
    here = inspect.currentframe()  # None on interpreters without frames: warn from the caller
    frame = None if here is None else here.f_back
    level = 2
    while (
        frame is not None
        and frame.f_back is not None
        and frame.f_globals.get("__name__", "").startswith("aiguard.")
    ):
        frame = frame.f_back
        level += 1
    warnings.warn(message, DriftWarning, stacklevel=level)


def _format_value(value: object) -> str:
    if isinstance(value, np.ndarray):
        return np.array2string(value, precision=4, threshold=8, separator=", ")
    if isinstance(value, float):
        return f"{value:.4g}"
    return repr(value)


@attrs.frozen(eq=False, repr=False)
class DriftResult:
    """The outcome of one drift statistic over one or many features.

    Scalars (``float``/``bool``) for 1-D input; read-only arrays of shape
    ``(n_features,)`` for 2-D input.

    Attributes:
        method: the statistic's name (``"ks"``, ``"wasserstein"``, ...).
        statistic: the statistic, NaN where it is undefined.
        pvalue: the p-value (adjusted for multiple testing when ``correction``
            is set), NaN where undefined; ``None`` for distances without a test.
        drifted: ``pvalue < threshold`` (tests) or ``statistic >= threshold``
            (distances), and ``effect >= min_effect`` when ``min_effect`` was
            given; ``False`` where the statistic is NaN; ``None`` when no
            threshold applies (a distance computed without ``threshold=``).
        threshold: ``alpha`` for tests, the distance threshold for distances.
        effect: the effect size ``min_effect`` is compared with (documented per
            statistic; e.g. the KS distance D, the normed Wasserstein distance).
        correction: the multiple-testing correction applied across features.
        raw_pvalue: the p-value before correction (equal to ``pvalue`` when
            ``correction`` is None).

    Example:
        >>> from aiguard import drift
        >>> drift.DriftResult(method="ks", statistic=0.75, pvalue=0.0794, drifted=False,
        ...                   threshold=0.05)
        DriftResult(method='ks', statistic=0.75, pvalue=0.0794, drifted=False, threshold=0.05)
    """

    method: str
    statistic: Any
    pvalue: Any
    drifted: Any
    threshold: float | None
    effect: Any = None
    correction: str | None = None
    raw_pvalue: Any = None

    def __repr__(self) -> str:
        """Show the method, statistic, p-value, decision and threshold."""
        parts = [
            f"method={self.method!r}",
            f"statistic={_format_value(self.statistic)}",
            f"pvalue={_format_value(self.pvalue)}",
            f"drifted={_format_value(self.drifted)}",
            f"threshold={_format_value(self.threshold)}",
        ]
        if self.correction is not None:
            parts.append(f"correction={self.correction!r}")
        return f"DriftResult({', '.join(parts)})"


def _freeze(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    return value


def finish(
    method: str,
    statistic: FloatArray,
    pvalue: FloatArray | None,
    *,
    was_1d: bool,
    alpha: float | None = None,
    threshold: float | None = None,
    correction: str | None = None,
    effect: FloatArray | None = None,
    min_effect: float | None = None,
) -> DriftResult:
    """Decide drift per feature and build the :class:`DriftResult`.

    Tests (``pvalue`` given): p-values are corrected across features, then
    ``drifted = adjusted p < alpha``. Distances (``pvalue`` None):
    ``drifted = statistic >= threshold`` when a threshold is given, else None.
    With ``min_effect``, a feature must also have ``effect >= min_effect``.
    NaN statistics or p-values never count as drifted.
    """
    statistic = np.asarray(statistic, dtype=np.float64)
    raw = None if pvalue is None else np.asarray(pvalue, dtype=np.float64)
    adjusted = None if raw is None else correct(raw, correction)
    drifted: npt.NDArray[np.bool_] | None
    if adjusted is not None:
        assert alpha is not None
        drifted = adjusted < alpha
        limit: float | None = alpha
    elif threshold is not None:
        drifted = statistic >= threshold
        limit = threshold
    else:
        drifted, limit = None, None
    if drifted is not None and min_effect is not None and effect is not None:
        drifted &= np.asarray(effect) >= min_effect
    if was_1d:
        return DriftResult(
            method=method,
            statistic=float(statistic[0]),
            pvalue=None if adjusted is None else float(adjusted[0]),
            drifted=None if drifted is None else bool(drifted[0]),
            threshold=limit,
            effect=None if effect is None else float(np.asarray(effect)[0]),
            correction=correction,
            raw_pvalue=None if raw is None else float(raw[0]),
        )
    return DriftResult(
        method=method,
        statistic=_freeze(statistic),
        pvalue=_freeze(adjusted),
        drifted=_freeze(drifted),
        threshold=limit,
        effect=None if effect is None else _freeze(np.asarray(effect, dtype=np.float64)),
        correction=correction,
        raw_pvalue=_freeze(raw if correction is not None else adjusted),
    )

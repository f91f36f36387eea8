"""What a shadow router compares, and the report it gives.

The workers add one (primary answer, shadow answer) pair at a time; every
statistic is kept over bounded windows (the last ``window`` values), so a
long-lived router uses constant memory:

* **agreement**: the share of rows where the shadow gives the same class as
  the primary (outputs that are not floats: integers, booleans, strings), or
  where the user's ``compare(primary, shadow)`` says they agree;
* **score differences**: ``shadow - primary`` per row for float outputs;
  the score and output windows keep at most 256 evenly spaced values of each
  answer (a 10,000-row batch costs the worker no more than a small one),
  while agreement counts every row;
* **output drift** between the two output samples, with the drift module's
  statistics (Kolmogorov-Smirnov, PSI, Wasserstein for scores; a categorical
  PSI for classes), computed when the report is made;
* **latency** of both models (p50, p99);
* **garbage**: a shadow answer that cannot be compared (another shape, not
  numbers where the primary gives numbers, NaN or inf).
"""

from __future__ import annotations

import functools
import math
import threading
from collections import deque
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Comparison", "ShadowReport"]

_MIN_DRIFT = 20
_PER_CALL = 256


def _quantiles(values: deque[float]) -> dict[str, float] | None:
    if not values:
        return None
    array = np.fromiter(values, dtype=float)
    p50, p99 = np.quantile(array, [0.5, 0.99])
    return {"p50": float(p50), "p99": float(p99), "n": int(array.size)}


@attrs.frozen
class ShadowReport:
    """A shadow router's counters and comparison statistics at one moment.

    Attributes:
        name: the router's name.
        offered: primary answers sampled for shadowing.
        shadowed: shadow calls that returned a comparable answer.
        dropped: sampled requests dropped because the queue was full.
        pending: sampled requests still queued or running.
        errors: shadow calls that raised.
        timeouts: shadow calls slower than ``timeout`` (their answer is discarded).
        garbage: shadow answers that could not be compared.
        agreement: share of rows where the shadow agrees (None: nothing compared).
        compared_rows: rows behind ``agreement``.
        score_diff: ``shadow - primary`` of float outputs: mean, p50, p95 of
            the absolute difference, max absolute (None without float outputs).
        drift: output drift of the shadow against the primary (None below 20
            values each): ``ks`` / ``ks_pvalue`` / ``psi`` / ``wasserstein``
            for scores, ``psi`` for classes.
        latency: ``{"primary": {...}, "shadow": {...}}`` p50 and p99 seconds.
    """

    name: str
    offered: int
    shadowed: int
    dropped: int
    pending: int
    errors: int
    timeouts: int
    garbage: int
    agreement: float | None
    compared_rows: int
    score_diff: dict[str, float] | None
    drift: dict[str, float] | None
    latency: dict[str, dict[str, float] | None]

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-friendly dict."""
        return attrs.asdict(self)

    def to_markdown(self) -> str:
        """Return the report as a short markdown section."""
        def pct(x: float | None) -> str:
            return "-" if x is None else f"{100 * x:.2f} %"

        def ms(stats: dict[str, float] | None, key: str) -> str:
            return "-" if stats is None else f"{1000 * stats[key]:.3f}"

        lines = [
            f"### Shadow `{self.name}`", "",
            (f"{self.offered} sampled, {self.shadowed} compared, {self.dropped} dropped "
            f"(queue full), {self.pending} pending, {self.errors} errors, "
            f"{self.timeouts} timeouts, {self.garbage} garbage."), "",
            "| statistic | value |", "|---|---:|",
            f"| agreement | {pct(self.agreement)} ({self.compared_rows} rows) |",
        ]
        if self.score_diff is not None:
            lines += [f"| score diff {k} | {v:.4g} |" for k, v in self.score_diff.items()]
        if self.drift is not None:
            lines += [f"| drift {k} | {v:.4g} |" for k, v in self.drift.items()]
        for model in ("primary", "shadow"):
            stats = self.latency[model]
            lines += [(f"| {model} latency p50 / p99 (ms) | {ms(stats, 'p50')} / "
                      f"{ms(stats, 'p99')} |")]
        return "\n".join(lines)


@functools.lru_cache(maxsize=64)
def _spaced(size: int) -> np.ndarray[Any, Any] | None:
    """The positions of 256 evenly spaced values among *size* (None: take them all)."""
    if size <= _PER_CALL:
        return None
    return np.linspace(0, size - 1, _PER_CALL).astype(np.intp)


def _some(array: np.ndarray[Any, Any]) -> list[Any]:
    """At most 256 evenly spaced values of *array*: bounded work per request on the worker.

    The positions are cached per size: a stream of same-shaped answers (the
    usual case) costs one gather and one ``tolist`` each, so the worker holds
    the interpreter lock for a few microseconds, not tens.
    """
    flat = array.ravel()
    positions = _spaced(flat.size)
    values: list[Any] = (flat if positions is None else flat[positions]).tolist()
    return values


def _numeric(array: np.ndarray[Any, Any]) -> bool:
    return array.dtype.kind in "biuf"


class Comparison:
    """The bounded windows a shadow router's workers fill (thread-safe)."""

    def __init__(
        self, window: int, compare: Callable[[Any, Any], Any] | None
    ) -> None:
        self._lock = threading.Lock()
        self._compare = compare
        self.latency_primary: deque[float] = deque(maxlen=window)
        self.latency_shadow: deque[float] = deque(maxlen=window)
        self.out_primary: deque[Any] = deque(maxlen=window)
        self.out_shadow: deque[Any] = deque(maxlen=window)
        self.diffs: deque[float] = deque(maxlen=window)
        self.agree = 0
        self.rows = 0
        self.shadowed = 0
        self.garbage = 0
        self.scores = False

    def add(self, primary: object, shadow: object, t_primary: float, t_shadow: float) -> bool:
        """Compare one pair; return False (and count garbage) when it cannot be compared."""
        try:
            p, s = np.asarray(primary), np.asarray(shadow)
            agree = self._agreement(p, s)
        except Exception:
            agree = None
        with self._lock:
            if agree is None:
                self.garbage += 1
                return False
            self.shadowed += 1
            self.latency_primary.append(t_primary)
            self.latency_shadow.append(t_shadow)
            if isinstance(agree, np.ndarray) and agree.dtype == float:  # score differences
                self.scores = True
                self.diffs.extend(_some(agree))
                self.out_primary.extend(_some(p))
                self.out_shadow.extend(_some(s))
                return True
            flags = np.asarray(agree, dtype=bool).ravel()
            self.agree += int(flags.sum())
            self.rows += int(flags.size)
            if self._compare is None:
                self.out_primary.extend(_some(p))
                self.out_shadow.extend(_some(s))
            return True

    def _agreement(self, p: np.ndarray[Any, Any], s: np.ndarray[Any, Any]) -> Any:
        """Per-row agreement (bools), score differences (floats), or None for garbage."""
        if self._compare is not None:
            return np.asarray(self._compare(p, s), dtype=bool)
        if p.shape != s.shape:
            return None
        if p.dtype.kind == "f":
            if not _numeric(s):
                return None
            diff = s.astype(float) - p
            return diff if bool(np.isfinite(diff).all()) else None
        if _numeric(p) and not _numeric(s):
            return None
        return np.asarray(p == s, dtype=bool)

    def snapshot(self) -> dict[str, Any]:
        """Return agreement, score differences, drift and latency from the windows."""
        with self._lock:
            diffs = np.fromiter(self.diffs, dtype=float)
            out_p, out_s = list(self.out_primary), list(self.out_shadow)
            agreement = self.agree / self.rows if self.rows else None
            latency = {"primary": _quantiles(self.latency_primary),
                       "shadow": _quantiles(self.latency_shadow)}
            counts = {"shadowed": self.shadowed, "garbage": self.garbage,
                      "compared_rows": self.rows}
            scores = self.scores
        score_diff = None
        if diffs.size:
            absolute = np.abs(diffs)
            score_diff = {"mean": float(diffs.mean()), "abs_p50": float(np.median(absolute)),
                          "abs_p95": float(np.quantile(absolute, 0.95)),
                          "abs_max": float(absolute.max())}
        return {**counts, "agreement": agreement, "score_diff": score_diff,
                "drift": _drift(out_p, out_s, scores=scores), "latency": latency}


def _drift(primary: list[Any], shadow: list[Any], *, scores: bool) -> dict[str, float] | None:
    if min(len(primary), len(shadow)) < _MIN_DRIFT:
        return None
    from aiguard import drift  # noqa: PLC0415 - scipy only when a report is made

    try:
        if scores:
            ks = drift.ks(primary, shadow)
            pvalue = math.nan if ks.pvalue is None else float(ks.pvalue)
            return {"ks": float(ks.statistic), "ks_pvalue": pvalue,
                    "psi": float(drift.psi(primary, shadow).statistic),
                    "wasserstein": float(drift.wasserstein(primary, shadow).statistic)}
        labels = [str(x) for x in primary], [str(x) for x in shadow]
        return {"psi": float(drift.psi(*labels, categorical=True).statistic)}
    except Exception:
        return None

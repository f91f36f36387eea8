"""The result of comparing a data set with a fitted reference.

A :class:`DriftReport` holds one :class:`FeatureDrift` per feature, ranked:
drifted features first, then by *drift score*. A method's score is
``log(p) / log(alpha)`` for a test (1 exactly at the significance level,
larger when more significant) and ``statistic / threshold`` for a distance
(1 at its threshold); a feature's score is the largest of its methods'.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from aiguard.detect._drift.report._svg import histogram_svg

if TYPE_CHECKING:
    import os

__all__ = ["DriftReport", "FeatureDrift", "MethodResult"]


@attrs.frozen
class MethodResult:
    """One statistic on one feature.

    Attributes:
        method: the statistic's name (``"ks"``, ``"psi"``, ...).
        statistic: its value (NaN when undefined).
        pvalue: the p-value after the multiple-testing correction, None for distances.
        raw_pvalue: the p-value before correction, None for distances.
        threshold: ``alpha`` for tests, the drift threshold for distances.
        drifted: whether this statistic flags the feature.
    """

    method: str
    statistic: float
    pvalue: float | None
    raw_pvalue: float | None
    threshold: float
    drifted: bool

    @property
    def score(self) -> float:
        """``log(p) / log(alpha)`` for tests, ``statistic / threshold`` for distances, 0 if NaN."""
        if self.pvalue is not None:
            if math.isnan(self.pvalue):
                return 0.0
            return math.log(max(self.pvalue, 1e-300)) / math.log(self.threshold)
        if math.isnan(self.statistic) or self.threshold <= 0:
            return 0.0
        return self.statistic / self.threshold


@attrs.frozen
class FeatureDrift:
    """Drift of one feature: every method's result and the binned shares.

    Attributes:
        name: the feature's name.
        kind: ``"numeric"`` or ``"categorical"``.
        drifted: whether any method flags it.
        score: the largest method score (see the module docstring).
        results: one :class:`MethodResult` per applicable method.
        n_reference: non-missing reference values.
        n_current: non-missing current values.
        missing_reference: share of missing reference values.
        missing_current: share of missing current values.
        bins: one label per bin (``"[0.1, 0.5)"``, or the category).
        reference_shares: the reference's share of each bin.
        current_shares: the current sample's share of each bin.
        moved_bins: indices of the (up to three) bins whose share moved most.
    """

    name: str
    kind: str
    drifted: bool
    score: float
    results: tuple[MethodResult, ...]
    n_reference: int
    n_current: int
    missing_reference: float
    missing_current: float
    bins: tuple[str, ...]
    reference_shares: tuple[float, ...]
    current_shares: tuple[float, ...]
    moved_bins: tuple[int, ...]

    def result(self, method: str) -> MethodResult | None:
        """The result of *method* on this feature, or None when it does not apply."""
        for r in self.results:
            if r.method == method:
                return r
        return None


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and inf become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@attrs.frozen
class DriftReport:
    """Per-feature drift of a current data set against a fitted reference.

    Attributes:
        features: one :class:`FeatureDrift` per feature, drifted first, then by score.
        methods: the methods that were requested.
        alpha: the significance level of the tests.
        correction: the multiple-testing correction across features.
        min_effect: the minimum effect a test needed to flag drift (or None).
        n_reference: rows in the reference.
        n_current: rows in the current data.

    Example:
        >>> import numpy as np
        >>> from aiguard.drift import Reference
        >>> rng = np.random.default_rng(0)
        >>> ref = Reference(rng.normal(size=(2000, 2)), feature_names=["a", "b"])
        >>> report = ref.compare(rng.normal(0.5, 1, size=(1000, 2)), methods=("psi",))
        >>> report.drifted, report.share_drifted, report.ranking
        (True, 1.0, ('a', 'b'))
    """

    features: tuple[FeatureDrift, ...]
    methods: tuple[str, ...]
    alpha: float
    correction: str | None
    min_effect: float | None
    n_reference: int
    n_current: int

    @property
    def drifted(self) -> bool:
        """Whether any feature drifted."""
        return any(f.drifted for f in self.features)

    @property
    def drifted_features(self) -> tuple[str, ...]:
        """Names of the drifted features, most drifted first."""
        return tuple(f.name for f in self.features if f.drifted)

    @property
    def share_drifted(self) -> float:
        """Share of the features that drifted."""
        return len(self.drifted_features) / len(self.features) if self.features else 0.0

    @property
    def ranking(self) -> tuple[str, ...]:
        """Feature names ranked by drift (drifted first, then by score)."""
        return tuple(f.name for f in self.features)

    def feature(self, name: str) -> FeatureDrift:
        """The :class:`FeatureDrift` of feature *name* (KeyError if unknown)."""
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (NaN becomes None).

        Example:
            >>> import json, numpy as np
            >>> from aiguard.drift import Reference
            >>> report = Reference(np.arange(100.0)).compare(np.arange(100.0), methods=("ks",))
            >>> feature = json.loads(json.dumps(report.to_dict()))["features"][0]
            >>> feature["results"]["ks"]["statistic"]
            0.0
        """
        features = []
        for f in self.features:
            results = {
                r.method: {
                    "statistic": _clean(r.statistic),
                    "pvalue": _clean(r.pvalue),
                    "raw_pvalue": _clean(r.raw_pvalue),
                    "threshold": r.threshold,
                    "drifted": r.drifted,
                }
                for r in f.results
            }
            features.append(
                {
                    "name": f.name,
                    "kind": f.kind,
                    "drifted": f.drifted,
                    "score": _clean(f.score),
                    "n_reference": f.n_reference,
                    "n_current": f.n_current,
                    "missing_reference": f.missing_reference,
                    "missing_current": f.missing_current,
                    "results": results,
                    "bins": list(f.bins),
                    "reference_shares": list(f.reference_shares),
                    "current_shares": list(f.current_shares),
                    "moved_bins": [f.bins[i] for i in f.moved_bins],
                }
            )
        return {
            "drifted": self.drifted,
            "share_drifted": self.share_drifted,
            "drifted_features": list(self.drifted_features),
            "methods": list(self.methods),
            "alpha": self.alpha,
            "correction": self.correction,
            "min_effect": self.min_effect,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "features": features,
        }

    def to_json(self) -> str:
        """The report as a JSON document (see :meth:`to_dict`)."""
        return json.dumps(self.to_dict(), indent=2)

    def _columns(self) -> list[str]:
        seen: list[str] = []
        for f in self.features:
            for r in f.results:
                if r.method not in seen:
                    seen.append(r.method)
        return seen

    def to_markdown(self) -> str:
        """A markdown summary and per-feature table (statistic, p-value, drifted, moved bins).

        Example:
            >>> import numpy as np
            >>> from aiguard.drift import Reference
            >>> report = Reference(np.arange(100.0)).compare(np.arange(100.0), methods=("psi",))
            >>> print(report.to_markdown().splitlines()[0])
            **No drift**: 0 of 1 features drifted (0%).
        """
        n = len(self.drifted_features)
        head = "**Drift**" if self.drifted else "**No drift**"
        lines = [
            f"{head}: {n} of {len(self.features)} features drifted ({self.share_drifted:.0%}).",
            "",
            (
                f"Reference rows: {self.n_reference}; current rows: {self.n_current}; "
                f"alpha {self.alpha:g}; correction {self.correction or 'none'}."
            ),
            "",
        ]
        cols = self._columns()
        header = [
            "feature",
            "kind",
            "drifted",
            *cols,
            "missing (ref / cur)",
            "bins that moved most",
        ]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for f in self.features:
            cells = [_md(f.name), f.kind, "**yes**" if f.drifted else "no"]
            for m in cols:
                r = f.result(m)
                cells.append("" if r is None else _cell(r))
            cells.append(f"{f.missing_reference:.1%} / {f.missing_current:.1%}")
            cells.append(", ".join(_md(_moved(f, i)) for i in f.moved_bins))
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def to_table(self) -> str:
        """A plain-text table for terminals."""
        cols = self._columns()
        width = max([len(f.name) for f in self.features] + [7])
        head = f"{'feature':<{width}}  {'drifted':<7}  " + "  ".join(f"{c:>22}" for c in cols)
        rows = [head, "-" * len(head)]
        for f in self.features:
            cells = []
            for m in cols:
                r = f.result(m)
                cells.append(f"{'' if r is None else _cell(r).replace('**', ''):>22}")
            rows.append(
                f"{f.name:<{width}}  {'yes' if f.drifted else 'no':<7}  " + "  ".join(cells)
            )
        n = len(self.drifted_features)
        rows.append(f"\n{n} of {len(self.features)} features drifted ({self.share_drifted:.0%}).")
        return "\n".join(rows) + "\n"

    def to_html(self, path: str | os.PathLike[str] | None = None) -> str:
        """One self-contained HTML page (inline CSS and SVG, no script, no network).

        Each feature gets its statistics and an overlaid reference / current
        histogram of the reference's bins; drifted features come first.
        Writes the page to *path* when given and returns it.

        Example:
            >>> import numpy as np
            >>> from aiguard.drift import Reference
            >>> page = Reference(np.arange(100.0)).compare(np.arange(100.0)).to_html()
            >>> page.startswith("<!DOCTYPE html>"), "<svg" in page, "http://" in page
            (True, True, False)
        """
        from aiguard.detect._drift.report._html import render_html  # noqa: PLC0415 - only for HTML

        page = render_html(self)
        if path is not None:
            Path(path).write_text(page, encoding="utf-8")
        return page

    def histogram_svg(self, name: str) -> str:
        """The overlaid reference / current histogram of one feature as an inline SVG."""
        f = self.feature(name)
        return histogram_svg(f.bins, f.reference_shares, f.current_shares, title=f.name)


def _moved(f: FeatureDrift, i: int) -> str:
    return f"{f.bins[i]}: {f.reference_shares[i]:.1%} → {f.current_shares[i]:.1%}"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _cell(r: MethodResult) -> str:
    stat = f"{r.statistic:.4g}"
    text = stat if r.pvalue is None else f"{stat} (p={r.pvalue:.3g})"
    return f"**{text}**" if r.drifted else text

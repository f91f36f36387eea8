"""Inline SVG histograms: reference and current shares overlaid on the reference's bins.

Plain SVG 1.1 text, no script, no external font or stylesheet, so a report is
one self-contained file. Each bin is drawn with the same width (quantile bins
hold about the same share of the reference, so the reference is flat and any
departure of the current sample stands out).
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["histogram_svg"]

REFERENCE_COLOUR: Final = "#8c96a3"
CURRENT_COLOUR: Final = "#1f6fd1"
_MAX_BARS: Final = 40


def _limit(
    labels: Sequence[str], ref: Sequence[float], cur: Sequence[float]
) -> tuple[list[str], list[float], list[float]]:
    """Keep the bins with the largest shares and merge the rest into "other"."""
    if len(labels) <= _MAX_BARS:
        return list(labels), list(ref), list(cur)
    order = sorted(range(len(labels)), key=lambda i: -max(ref[i], cur[i]))
    keep = sorted(order[: _MAX_BARS - 1])
    rest = order[_MAX_BARS - 1 :]
    return (
        [labels[i] for i in keep] + [f"other ({len(rest)})"],
        [ref[i] for i in keep] + [sum(ref[i] for i in rest)],
        [cur[i] for i in keep] + [sum(cur[i] for i in rest)],
    )


def histogram_svg(
    labels: Sequence[str],
    reference: Sequence[float],
    current: Sequence[float],
    *,
    title: str = "",
    width: int = 520,
    height: int = 230,
) -> str:
    """An SVG bar chart of the reference (grey) and current (blue) share of each bin.

    Args:
        labels: one label per bin.
        reference: the reference's share of each bin.
        current: the current sample's share of each bin.
        title: an accessible title for the chart.
        width: the width in pixels.
        height: the height in pixels.

    Returns:
        The ``<svg>`` element as a string.

    Example:
        >>> from aiguard.detect._drift.report import histogram_svg
        >>> svg = histogram_svg(["a", "b"], [0.5, 0.5], [0.2, 0.8], title="colour")
        >>> svg.startswith("<svg") and svg.count("<rect") >= 4
        True
    """
    labels, ref, cur = _limit(labels, reference, current)
    left, right, top, bottom = 44, 10, 22, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    finite = [v for v in (*ref, *cur) if v == v]  # noqa: PLR0124 - drop NaN
    peak = max([*finite, 1e-12])
    n = max(len(labels), 1)
    slot = plot_w / n
    bar = max(slot * 0.8, 1.0)
    parts = [
        (
            f'<svg role="img" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="10">'
        ),
        f"<title>{escape(title)}: reference (grey) and current (blue) share per bin</title>",
    ]
    for frac in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - frac)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
            'stroke="#d0d4d9" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{left - 4}" y="{y + 3:.1f}" text-anchor="end" fill="#555">'
            f"{peak * frac:.0%}</text>"
        )
    step = max(1, -(-n // 12))
    for i, label in enumerate(labels):
        x = left + i * slot + (slot - bar) / 2
        for share, colour, opacity, kind in (
            (ref[i], REFERENCE_COLOUR, 0.75, "reference"),
            (cur[i], CURRENT_COLOUR, 0.45, "current"),
        ):
            value = share if share == share else 0.0  # noqa: PLR0124 - NaN draws nothing
            h = plot_h * value / peak
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colour}" fill-opacity="{opacity}">'
                f"<title>{escape(label)}: {kind} {value:.2%}</title></rect>"
            )
        if i % step == 0:
            short = label if len(label) <= 14 else label[:13] + "…"
            cx = left + i * slot + slot / 2
            parts.append(
                f'<text x="{cx:.1f}" y="{top + plot_h + 12}" text-anchor="end" fill="#333" '
                f'transform="rotate(-30 {cx:.1f} {top + plot_h + 12})">{escape(short)}</text>'
            )
    lx, ly = width - right - 140, 12  # legend above the plot, right-aligned
    parts.append(f'<rect x="{lx}" y="{ly - 8}" width="10" height="8" fill="{REFERENCE_COLOUR}"/>')
    parts.append(f'<text x="{lx + 14}" y="{ly}" fill="#333">reference</text>')
    parts.append(
        f'<rect x="{lx + 80}" y="{ly - 8}" width="10" height="8" fill="{CURRENT_COLOUR}" '
        'fill-opacity="0.6"/>'
    )
    parts.append(f'<text x="{lx + 94}" y="{ly}" fill="#333">current</text>')
    parts.append("</svg>")
    return "".join(parts)

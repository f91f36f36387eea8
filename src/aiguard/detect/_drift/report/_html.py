"""Render a :class:`DriftReport` as one self-contained HTML page.

Inline CSS and inline SVG only: no script, no web font, no URL, so the page
opens offline, passes strict content-security policies and can be attached to
an incident record as it is.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Final

from aiguard.detect._drift.report._svg import histogram_svg

if TYPE_CHECKING:
    from aiguard.detect._drift.report._report import DriftReport, FeatureDrift

__all__ = ["render_html"]

_CSS: Final = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px;
       color: #1d2330; background: #f7f8fa; }
h1 { font-size: 22px; margin: 0 0 4px 0; }
.summary { font-size: 15px; margin: 8px 0 18px 0; }
.badge { display: inline-block; padding: 2px 8px; border-radius: 10px; font-size: 12px;
         font-weight: 600; }
.drift { background: #fde2e1; color: #a4161a; }
.ok { background: #dff3e4; color: #1b7a3a; }
table { border-collapse: collapse; background: #fff; margin-bottom: 20px; font-size: 13px; }
th, td { border: 1px solid #dde1e6; padding: 4px 8px; text-align: left; }
th { background: #eef1f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.hit { color: #a4161a; font-weight: 600; }
.cards { display: flex; flex-wrap: wrap; gap: 14px; }
.card { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 10px 12px;
        width: 530px; }
.card.drifted { border-left: 5px solid #d62828; }
.card h2 { font-size: 15px; margin: 0 0 4px 0; }
.meta { font-size: 12px; color: #555; margin-bottom: 4px; }
"""


def _cell(f: FeatureDrift, method: str) -> str:
    r = f.result(method)
    if r is None:
        return '<td class="num">&ndash;</td>'
    text = f"{r.statistic:.4g}"
    if r.pvalue is not None:
        text += f" <small>(p={r.pvalue:.3g})</small>"
    cls = "num hit" if r.drifted else "num"
    return f'<td class="{cls}">{text}</td>'


def _card(f: FeatureDrift) -> str:
    badge = (
        '<span class="badge drift">drift</span>'
        if f.drifted
        else '<span class="badge ok">ok</span>'
    )
    moved = "; ".join(
        f"{escape(f.bins[i])}: {f.reference_shares[i]:.1%} &rarr; {f.current_shares[i]:.1%}"
        for i in f.moved_bins
    )
    stats = ", ".join(
        f"{r.method} {r.statistic:.4g}" + ("" if r.pvalue is None else f" (p={r.pvalue:.3g})")
        for r in f.results
    )
    return (
        f'<div class="card{" drifted" if f.drifted else ""}" id="f-{escape(f.name)}">'
        f"<h2>{escape(f.name)} {badge}</h2>"
        f'<div class="meta">{escape(f.kind)}; {escape(stats)}</div>'
        f'<div class="meta">missing: reference {f.missing_reference:.1%}, '
        f"current {f.missing_current:.1%}</div>"
        f'<div class="meta">moved most: {moved or "&ndash;"}</div>'
        f"{histogram_svg(f.bins, f.reference_shares, f.current_shares, title=f.name)}"
        "</div>"
    )


def render_html(report: DriftReport) -> str:
    """The page as a string (``<!DOCTYPE html>`` ... ``</html>``)."""
    n = len(report.drifted_features)
    total = len(report.features)
    methods: list[str] = []
    for f in report.features:
        methods += [r.method for r in f.results if r.method not in methods]
    badge = (
        f'<span class="badge drift">drift in {n} of {total} features</span>'
        if report.drifted
        else f'<span class="badge ok">no drift in {total} features</span>'
    )
    head = "".join(f"<th>{escape(m)}</th>" for m in methods)
    rows = []
    for f in report.features:
        flag = "yes" if f.drifted else "no"
        rows.append(
            f'<tr><td><a href="#f-{escape(f.name)}">{escape(f.name)}</a></td>'
            f"<td>{escape(f.kind)}</td><td>{flag}</td>"
            f'<td class="num">{f.score:.3g}</td>'
            + "".join(_cell(f, m) for m in methods)
            + f'<td class="num">{f.missing_current:.1%}</td></tr>'
        )
    correction = escape(str(report.correction or "none"))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>aiguard drift report</title><style>{_CSS}</style></head><body>"
        f"<h1>Drift report</h1>"
        f'<div class="summary">{badge} &nbsp; share drifted {report.share_drifted:.0%}; '
        f"reference rows {report.n_reference}, current rows {report.n_current}; "
        f"alpha {report.alpha:g}, correction {correction}</div>"
        f"<table><thead><tr><th>feature</th><th>kind</th><th>drifted</th><th>score</th>{head}"
        f"<th>missing (current)</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f'<div class="cards">{"".join(_card(f) for f in report.features)}</div>'
        "</body></html>\n"
    )

"""What a comparison tells people: the report, its HTML and SVG, and the command line.

``_report`` holds :class:`DriftReport` (with :class:`FeatureDrift` and
:class:`MethodResult`) and its text renderings; ``_html`` and ``_svg`` render
it as one self-contained page; ``_cli`` is ``aiguard drift REFERENCE CURRENT``.
"""

from aiguard.detect._drift.report._cli import main, read_table
from aiguard.detect._drift.report._html import render_html
from aiguard.detect._drift.report._report import DriftReport, FeatureDrift, MethodResult
from aiguard.detect._drift.report._svg import histogram_svg

__all__ = [
    "DriftReport",
    "FeatureDrift",
    "MethodResult",
    "histogram_svg",
    "main",
    "read_table",
    "render_html",
]

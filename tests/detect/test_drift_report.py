"""DriftReport: ranking, decisions, dict / markdown / table / HTML renderings."""

from __future__ import annotations

import json
import math
from html.parser import HTMLParser
from typing import TYPE_CHECKING

import numpy as np
import pytest

from aiguard import drift
from aiguard.detect._drift.report import MethodResult, histogram_svg

if TYPE_CHECKING:
    from pathlib import Path

RNG = np.random.default_rng(99)
BINNED = ("psi", "jensenshannon", "kl", "hellinger")


def shifted_report(methods: tuple[str, ...] = BINNED) -> drift.DriftReport:
    """Five features; x1 moved a lot, x3 a little, the rest not at all."""
    ref = RNG.normal(size=(3000, 5))
    cur = RNG.normal(size=(2000, 5))
    cur[:, 1] += 2.0
    cur[:, 3] += 0.6
    return drift.Reference(ref).compare(cur, methods=methods)


def test_ranking_puts_drifted_features_first_by_score() -> None:
    """Drifted features come first, ordered by score; share and names follow."""
    report = shifted_report()
    assert report.drifted_features == ("x1", "x3")
    assert report.ranking[:2] == ("x1", "x3")
    assert report.share_drifted == pytest.approx(2 / 5)
    scores = [f.score for f in report.features]
    assert scores[0] > scores[1] >= 1.0
    assert all(s < 1.0 for s in scores[2:])
    assert report.drifted
    with pytest.raises(KeyError):
        report.feature("nope")


def test_moved_bins_are_the_largest_share_changes() -> None:
    """moved_bins lists the bins with the largest |current - reference| share change."""
    feature = shifted_report().feature("x1")
    change = np.abs(np.subtract(feature.current_shares, feature.reference_shares))
    assert list(feature.moved_bins) == list(np.argsort(-change, kind="stable")[:3])
    assert feature.bins[-1].startswith(">= ")
    assert feature.bins[0].startswith("< ")
    assert math.isclose(sum(feature.reference_shares), 1.0)


def test_method_scores() -> None:
    """A test's score is log(p)/log(alpha); a distance's is statistic/threshold."""
    test = MethodResult("ks", 0.3, 0.0025, 0.0025, 0.05, drifted=True)
    assert test.score == pytest.approx(math.log(0.0025) / math.log(0.05))
    dist = MethodResult("psi", 0.2, None, None, 0.1, drifted=True)
    assert dist.score == pytest.approx(2.0)
    assert MethodResult("ks", math.nan, math.nan, math.nan, 0.05, drifted=False).score == 0.0
    assert MethodResult("psi", math.nan, None, None, 0.1, drifted=False).score == 0.0


def test_to_dict_is_json_serialisable_and_complete() -> None:
    """to_dict survives json round trip, NaN becomes None, and carries each method's result."""
    ref = RNG.normal(size=(200, 2))
    cur = RNG.normal(size=(100, 2))
    cur[:, 1] = np.nan
    report = drift.Reference(ref).compare(cur, methods=BINNED)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["methods"] == list(BINNED)
    assert data["share_drifted"] == report.share_drifted
    by_name = {f["name"]: f for f in data["features"]}
    assert by_name["x1"]["results"]["psi"]["statistic"] is None
    assert by_name["x0"]["results"]["psi"]["pvalue"] is None
    assert by_name["x0"]["results"]["psi"]["threshold"] == 0.1
    assert len(by_name["x0"]["bins"]) == len(by_name["x0"]["reference_shares"])
    assert json.loads(report.to_json()) == data


def test_markdown_and_table() -> None:
    """Markdown has the summary, one row per feature in ranked order, drifted cells in bold."""
    report = shifted_report(("psi", "hellinger"))
    md = report.to_markdown()
    lines = md.splitlines()
    assert lines[0] == "**Drift**: 2 of 5 features drifted (40%)."
    rows = [line for line in lines if line.startswith("| x")]
    assert [r.split("|")[1].strip() for r in rows] == list(report.ranking)
    assert "**yes**" in rows[0]
    assert "→" in rows[0]
    table = report.to_table()
    assert table.splitlines()[0].split()[:2] == ["feature", "drifted"]
    assert "2 of 5 features drifted" in table


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_html_is_self_contained_and_lists_drifted_first(tmp_path: Path) -> None:
    """The page has no URL, no script, parses, has one SVG per feature, drifted cards first."""
    frame = {
        "amount": RNG.normal(size=500),
        "channel": RNG.choice(["web", "app", "<shop>"], 500),
    }
    ref = drift.Reference(frame)
    cur = {
        "amount": RNG.normal(3.0, 1.0, size=300),
        "channel": RNG.choice(["web", "app", "<shop>"], 300),
    }
    report = ref.compare(cur, methods=BINNED)
    path = tmp_path / "report.html"
    page = report.to_html(path)
    assert path.read_text(encoding="utf-8") == page
    assert "http://" not in page
    assert "https://" not in page
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    assert "@import" not in page
    parser = _Collector()
    parser.feed(page)
    parser.close()
    tags = [t for t, _ in parser.tags]
    assert tags.count("svg") == 2
    cards = [a["id"] for t, a in parser.tags if t == "div" and a.get("id", "").startswith("f-")]  # type: ignore[union-attr]
    assert cards == [f"f-{name}" for name in report.ranking]
    assert report.ranking[0] == "amount"
    assert "&lt;shop&gt;" in page
    assert "<shop>" not in page


def test_histogram_svg_limits_bars_and_handles_nan() -> None:
    """Many categories collapse into 'other'; NaN shares draw nothing instead of failing."""
    labels = [f"c{i}" for i in range(100)]
    shares = [1 / 100] * 100
    svg = histogram_svg(labels, shares, shares, title="many")
    assert "other (61)" in svg
    assert svg.count("<rect") == 2 * 40 + 2
    nan_svg = histogram_svg(["a"], [math.nan], [1.0])
    assert 'height="0.0"' in nan_svg
    long_label = histogram_svg(["a" * 40], [1.0], [1.0])
    assert "…" in long_label


def test_report_histogram_svg_for_one_feature() -> None:
    """DriftReport.histogram_svg renders the named feature."""
    report = shifted_report(("psi",))
    svg = report.histogram_svg("x1")
    assert svg.startswith("<svg")
    assert "x1" in svg


def test_no_drift_report() -> None:
    """Identical data: nothing drifted, a zero share and 'No drift' in every rendering."""
    data = RNG.normal(size=(300, 2))
    report = drift.Reference(data).compare(data, methods=BINNED)
    assert not report.drifted
    assert report.share_drifted == 0.0
    assert report.drifted_features == ()
    assert report.to_markdown().startswith("**No drift**")
    assert "no drift in 2 features" in report.to_html()
    assert all(f.moved_bins == () for f in report.features)


def test_html_cells_for_tests_and_missing_methods() -> None:
    """Tests show their p-value; a method that does not apply to a feature shows a dash."""
    ref = drift.Reference({"x": RNG.normal(size=300), "k": RNG.choice(["a", "b"], 300)})
    report = ref.compare(
        {"x": RNG.normal(size=200), "k": RNG.choice(["a", "b"], 200)}, methods=("chi2", "psi")
    )
    page = report.to_html()
    assert "(p=" in page
    assert "&ndash;" in page


def test_bin_labels_keep_close_edges_apart() -> None:
    """Labels use 3 significant digits, more when needed to tell edges apart."""
    from aiguard.detect._drift.binned import bin_labels as _bin_labels

    assert _bin_labels(np.array([0.123456, 2.5])) == ("< 0.123", "[0.123, 2.5)", ">= 2.5")
    close = _bin_labels(np.array([1.23411, 1.23419]))
    assert close == ("< 1.2341", "[1.2341, 1.2342)", ">= 1.2342")


def test_report_shares_and_moved_bins_equal_the_per_feature_rule() -> None:
    """Shares are count / total per feature; moved bins follow the per-feature rule."""

    def top_bins(pr: np.ndarray, pc: np.ndarray) -> list[int]:  # the rule, written out
        moved = np.abs(pc - pr)
        order = sorted(range(len(moved)), key=lambda i: (-moved[i], i))
        return [i for i in order[:3] if moved[i] > 0]

    rng = np.random.default_rng(8)
    ref = drift.Reference(
        {
            "num": rng.normal(size=2_000),
            "cat": rng.choice(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"], 2_000),
        },
        bins=5,
    )
    cur = {"num": rng.normal(0.3, 1, size=700), "cat": rng.choice(["a", "b", "zz"], 700)}
    for feature in ref.compare(cur, methods=("psi", "chi2")).features:
        pr = np.array(feature.reference_shares)
        pc = np.array(feature.current_shares)
        assert len(pr) == len(pc) == len(feature.bins)
        assert pr.sum() == pytest.approx(1.0)
        assert pc.sum() == pytest.approx(1.0)
        assert feature.moved_bins == tuple(top_bins(pr, pc))
        assert feature.n_current == 700

"""`aiguard drift REFERENCE CURRENT`: file formats, outputs and exit codes."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from typing import TYPE_CHECKING

import numpy as np
import pytest

from aiguard import drift
from aiguard.cli import main
from aiguard.detect._drift.report import read_table

if TYPE_CHECKING:
    from pathlib import Path

BINNED = ["psi", "jensenshannon"]


def write_csv(path: Path, n: int, *, shift: float = 0.0, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["age", "city", "score"])
        for i in range(n):
            age = "" if i % 50 == 0 else f"{rng.normal(40 + shift, 10):.3f}"
            w.writerow([age, rng.choice(["paris", "lyon", "nice"]), f"{rng.exponential():.4f}"])
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {
        "ref": write_csv(tmp_path / "ref.csv", 600),
        "same": write_csv(tmp_path / "same.csv", 400, seed=1),
        "moved": write_csv(tmp_path / "moved.csv", 400, shift=15.0, seed=2),
    }


def test_read_csv_types_columns(files: dict[str, Path]) -> None:
    """Numbers become float64 (empty cells NaN), text becomes labels."""
    table = read_table(files["ref"])
    assert table["age"].dtype == np.float64
    assert np.isnan(table["age"][0])
    assert table["city"].dtype == object
    assert set(table["city"]) == {"paris", "lyon", "nice"}


def test_exit_codes_no_drift_and_drift(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """0 when nothing drifted, 1 when a feature drifted; the table names the feature."""
    assert main(["drift", str(files["ref"]), str(files["same"]), "--methods", *BINNED]) == 0
    assert "0 of 3 features drifted" in capsys.readouterr().out
    assert main(["drift", str(files["ref"]), str(files["moved"]), "--methods", *BINNED]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[2].startswith("age")


def test_json_markdown_html_and_out(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each --format renders; --out writes the file instead of stdout."""
    args = ["drift", str(files["ref"]), str(files["moved"]), "--methods", *BINNED]
    assert main([*args, "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["drifted_features"] == ["age"]
    assert data["features"][0]["missing_current"] == pytest.approx(8 / 400)
    assert main([*args, "--format", "markdown"]) == 1
    assert capsys.readouterr().out.startswith("**Drift**")
    out = tmp_path / "report.html"
    assert main([*args, "--format", "html", "--out", str(out)]) == 1
    assert capsys.readouterr().out == ""
    page = out.read_text()
    HTMLParser().feed(page)
    assert "<svg" in page
    assert "http" not in page.replace("http-equiv", "")


def test_saved_reference_and_options(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--save-reference writes an .npz that later runs read as REFERENCE; options pass through."""
    saved = tmp_path / "ref.npz"
    args = [str(files["same"]), "--methods", "chi2", "psi", "--save-reference", str(saved)]
    assert main(["drift", str(files["ref"]), *args, "--bins", "sturges"]) == 0
    assert drift.Reference.load(saved).feature_names == ("age", "city", "score")
    capsys.readouterr()
    code = main(
        [
            "drift",
            str(saved),
            str(files["moved"]),
            "--format",
            "json",
            "--alpha",
            "0.01",
            "--correction",
            "none",
            "--min-effect",
            "0.1",
            "--categorical",
            "city",
            "--methods",
            "chi2",
            "psi",
        ]
    )
    assert code == 1
    data = json.loads(capsys.readouterr().out)
    assert data["alpha"] == 0.01
    assert data["correction"] is None
    assert data["methods"] == ["chi2", "psi"]
    assert data["min_effect"] == 0.1


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "No such file"),
        ("empty", "header row"),
        ("header_only", "data row"),
        ("ragged", "line 3"),
        ("parquet", "pyarrow"),
        ("junk_npz", "saved aiguard Reference"),
        ("mismatch", "current"),
        ("bad_method", "methods"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    setup: str,
    message: str,
    tmp_path: Path,
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Bad input: exit code 2, one clear line on stderr, no traceback."""
    ref, cur, extra = str(files["ref"]), str(files["same"]), []
    if setup == "missing":
        cur = str(tmp_path / "nope.csv")
    elif setup == "empty":
        (tmp_path / "e.csv").write_text("")
        cur = str(tmp_path / "e.csv")
    elif setup == "header_only":
        (tmp_path / "h.csv").write_text("a,b\n")
        cur = str(tmp_path / "h.csv")
    elif setup == "ragged":
        (tmp_path / "r.csv").write_text("a,b\n1,2\n3\n")
        cur = str(tmp_path / "r.csv")
    elif setup == "parquet":  # as if the parquet extra were not installed
        monkeypatch.setitem(sys.modules, "pyarrow", None)
        monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
        cur = str(tmp_path / "x.parquet")
    elif setup == "junk_npz":
        (tmp_path / "j.npz").write_bytes(b"junk")
        ref = str(tmp_path / "j.npz")
    elif setup == "mismatch":
        (tmp_path / "m.csv").write_text("other\n1\n")
        cur = str(tmp_path / "m.csv")
    elif setup == "bad_method":
        extra = ["--methods", "nope"]
    assert main(["drift", ref, cur, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_workers_option(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """--workers passes through (same report for 1 and 3 threads); 0 is bad input (exit 2)."""
    outputs = []
    for workers in ("1", "3"):
        args = [str(files["ref"]), str(files["moved"]), "--format", "json", "--workers", workers]
        assert main(["drift", *args]) == 1
        outputs.append(json.loads(capsys.readouterr().out))
    assert outputs[0] == outputs[1]
    assert main(["drift", str(files["ref"]), str(files["moved"]), "--workers", "0"]) == 2
    assert "workers" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """argparse errors (a missing argument, an unknown format) exit 2; --help exits 0."""
    assert main(["drift", "only-one.csv"]) == 2
    assert "usage" in capsys.readouterr().err
    assert main(["drift", "a.csv", "b.csv", "--format", "pdf"]) == 2
    assert main(["drift", "--help"]) == 0
    assert "Exit code 0" in capsys.readouterr().out


def test_parquet_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Parquet files are read when pyarrow is installed."""
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    for name, shift in (("r", 0.0), ("c", 5.0)):
        table = pa.table({"x": rng.normal(shift, 1, 300), "k": rng.choice(["a", "b"], 300)})
        pq.write_table(table, tmp_path / f"{name}.parquet")
    code = main(
        ["drift", str(tmp_path / "r.parquet"), str(tmp_path / "c.parquet"), "--methods", "psi"]
    )
    assert code == 1
    assert "x" in capsys.readouterr().out


def test_subprocess_entry_point(files: dict[str, Path]) -> None:
    """`python -m aiguard.cli drift` runs as a real process with the same exit code."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "aiguard.cli",
            "drift",
            str(files["ref"]),
            str(files["moved"]),
            "--methods",
            "psi",
            "--format",
            "markdown",
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith("**Drift**")


def test_parquet_reader_with_a_stand_in_pyarrow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Parquet path converts each column (labels to objects) via pyarrow's API."""
    import types
    from pathlib import Path

    rng = np.random.default_rng(3)
    tables = {
        "r.parquet": {"x": rng.normal(size=200), "k": rng.choice(["a", "b"], 200)},
        "c.parquet": {"x": rng.normal(4.0, 1.0, size=200), "k": rng.choice(["a", "b"], 200)},
    }

    class Column:
        def __init__(self, values: np.ndarray) -> None:
            self.values = values

        def to_numpy(self, zero_copy_only: bool = True) -> np.ndarray:
            return self.values

    class Table:
        def __init__(self, data: dict[str, np.ndarray]) -> None:
            self.data = data
            self.column_names = list(data)

        def column(self, name: str) -> Column:
            return Column(self.data[name])

    parquet = types.ModuleType("pyarrow.parquet")
    parquet.read_table = lambda path: Table(tables[Path(path).name])  # type: ignore[attr-defined]
    pyarrow = types.ModuleType("pyarrow")
    pyarrow.parquet = parquet  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pyarrow", pyarrow)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", parquet)
    for name in tables:
        (tmp_path / name).write_bytes(b"")
    table = read_table(tmp_path / "r.parquet")
    assert table["k"].dtype == object
    assert table["x"].dtype == np.float64
    code = main(
        ["drift", str(tmp_path / "r.parquet"), str(tmp_path / "c.parquet"), "--methods", "psi"]
    )
    assert code == 1
    assert capsys.readouterr().out.splitlines()[2].startswith("x")

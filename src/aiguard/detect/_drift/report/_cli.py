"""``aiguard drift REFERENCE CURRENT``: compare two data sets from the command line.

Reads CSV (header row; the csv module and numpy, no pandas), Parquet (when
pyarrow is installed), ``.npy`` or, for REFERENCE, a reference saved with
``Reference.save`` (``.npz``). ``.npy`` files, and Parquet files with
``--max-memory``, are read a block of columns at a time within the budget
(see ``Reference(max_memory=)``), with a progress bar on stderr when it is a
terminal (``--quiet``: none). Exit codes: 0 no drift, 1 drift, 2 bad input
(with a one-line message on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from aiguard.errors import AiguardError, InvalidInputError, MissingExtraError

if TYPE_CHECKING:
    from aiguard.detect._drift.reference import Reference

__all__ = ["main", "read_table"]

_MISSING: Final = frozenset({"", "na", "nan", "null", "none", "n/a", "#n/a"})
_FORMATS: Final = ("table", "json", "markdown", "html")


def _csv_column(values: list[str]) -> np.ndarray[Any, Any]:
    """A float column when every present value parses, else an object column of labels."""
    arr = np.array(values, dtype=str)
    lowered = np.char.lower(np.char.strip(arr))
    missing = np.isin(lowered, list(_MISSING))
    try:
        return np.where(missing, "nan", arr).astype(np.float64)
    except ValueError:
        out = arr.astype(object)
        out[missing] = None
        return out


def _read_csv(path: Path) -> dict[str, np.ndarray[Any, Any]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header:
            raise InvalidInputError(str(path), "a CSV file with a header row", "an empty file")
        rows = [row for row in reader if row]
    if not rows:
        raise InvalidInputError(str(path), "at least one data row", "a header only")
    bad = next((i for i, row in enumerate(rows, start=2) if len(row) != len(header)), None)
    if bad is not None:
        raise InvalidInputError(
            str(path), f"{len(header)} fields per row like the header", f"line {bad}"
        )
    columns = list(zip(*rows, strict=True))
    return {name: _csv_column(list(col)) for name, col in zip(header, columns, strict=True)}


def _read_parquet(path: Path) -> dict[str, np.ndarray[Any, Any]]:
    try:
        import pyarrow.parquet as pq  # noqa: PLC0415 - optional extra
    except ImportError as exc:
        raise MissingExtraError("reading Parquet", "parquet", "pyarrow") from exc
    table = pq.read_table(path)
    out: dict[str, np.ndarray[Any, Any]] = {}
    for name in table.column_names:
        arr = np.asarray(table.column(name).to_numpy(zero_copy_only=False))
        out[str(name)] = arr.astype(object) if arr.dtype.kind in "OUS" else arr
    return out


def read_table(path: str | Path) -> dict[str, np.ndarray[Any, Any]]:
    """Read a CSV or Parquet file into ``{column: array}`` (numbers as float64, else labels).

    Raises:
        InvalidInputError: an empty or ragged file.
        MissingExtraError: a Parquet file without pyarrow installed.
        OSError: the file cannot be read.
    """
    p = Path(path)
    if p.suffix.lower() in {".parquet", ".pq"}:
        return _read_parquet(p)
    return _read_csv(p)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiguard drift",
        description="Compare CURRENT with REFERENCE feature by feature. "
        "Exit code 0: no drift, 1: drift, 2: bad input.",
    )
    parser.add_argument("reference", help="CSV, Parquet or .npy file, or a saved Reference (.npz)")
    parser.add_argument("current", help="CSV, Parquet or .npy file with the same columns")
    parser.add_argument(
        "--methods",
        nargs="+",
        default=None,
        help="statistics (default: ks chi2 psi); e.g. ks wasserstein psi jensenshannon",
    )
    parser.add_argument("--format", choices=_FORMATS, default="table", help="output format")
    parser.add_argument("--out", default=None, help="write the output to this file")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level")
    parser.add_argument(
        "--correction",
        default="holm",
        choices=("bonferroni", "holm", "bh", "by", "none"),
        help="multiple-testing correction across features",
    )
    parser.add_argument("--min-effect", type=float, default=None, help="minimum effect size")
    parser.add_argument(
        "--categorical", nargs="+", default=None, help="columns to treat as categorical"
    )
    parser.add_argument("--bins", default="10", help="quantile bins (int), 'sturges' or 'doane'")
    parser.add_argument(
        "--save-reference", default=None, help="also save the fitted reference to this .npz"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="threads for sorting, merging and counting (default: one per core, up to 8, "
        "from 2^20 values on; 1: no thread)",
    )
    parser.add_argument(
        "--max-memory",
        default=None,
        help="memory budget for Parquet and .npy files, e.g. 2GB or 512MiB "
        "(default: half the memory available)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bar on stderr (none when not a terminal)"
    )
    return parser


def _data(path: str, args: argparse.Namespace) -> Any:
    """A ``.npy`` path (or Parquet, with ``--max-memory``) as it is, else the table read whole."""
    suffix = Path(path).suffix.lower()
    blocked = suffix == ".npy" or (args.max_memory is not None and suffix in {".parquet", ".pq"})
    return path if blocked else read_table(path)


def _reference(args: argparse.Namespace) -> Reference:
    from aiguard.detect._drift.reference import Reference  # noqa: PLC0415 - lazy CLI imports

    if Path(args.reference).suffix.lower() == ".npz":
        return Reference.load(args.reference)
    bins: int | str = int(args.bins) if args.bins.isdigit() else args.bins
    return Reference(
        _data(args.reference, args),
        categorical=args.categorical,
        bins=bins,
        workers=args.workers,
        max_memory=args.max_memory,
        progress=not args.quiet,
    )


def _run(args: argparse.Namespace) -> int:
    ref = _reference(args)
    if args.save_reference:
        ref.save(args.save_reference)
    report = ref.compare(
        _data(args.current, args),
        methods=args.methods,
        alpha=args.alpha,
        correction=None if args.correction == "none" else args.correction,
        min_effect=args.min_effect,
        workers=args.workers,
        max_memory=args.max_memory,
        progress=not args.quiet,
    )
    render = {
        "table": report.to_table,
        "json": report.to_json,
        "markdown": report.to_markdown,
        "html": report.to_html,
    }[args.format]
    text = render()
    if args.out:
        Path(args.out).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 1 if report.drifted else 0


def main(argv: list[str]) -> int:
    """Run ``aiguard drift`` with *argv*; return 0 (no drift), 1 (drift) or 2 (bad input).

    Example:
        >>> from aiguard.detect._drift.report import main
        >>> main(["missing.csv", "also-missing.csv"])
        2
    """
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage and the error
        return int(exc.code or 0)
    try:
        return _run(args)
    except BrokenPipeError:  # the reader closed stdout: `aiguard` ends quietly (141)
        raise
    except (AiguardError, OSError, csv.Error, UnicodeDecodeError) as exc:
        print(f"aiguard drift: error: {exc}", file=sys.stderr)  # noqa: T201 - a CLI prints
        return 2

"""Drift at scale: wide and long tables from Parquet within a memory budget, side by side.

    python benchmarks/drift_scale.py                  # every case of issue 14 (needs ~25 GB disk)
    python benchmarks/drift_scale.py --quick          # small sizes, a smoke run
    python benchmarks/drift_scale.py --cases wide scaling

Cases (each aiguard run in a subprocess of its own, so that its peak resident
memory, ``VmHWM``, is its own; the files are made by this script, seeded, and
removed at the end unless ``--keep``):

* ``wide``: 356,000 x 800 float64 from two Parquet files, the full report
  (seven methods: KS, Wasserstein, Cramér-von Mises, PSI, Jensen-Shannon, KL,
  Hellinger, and the HTML page) with ``max_memory="1GB"``. Budget: at most
  15 s, peak RSS under 1.5 GiB.
* ``long``: 2,000,000 x 400 float64 from two Parquet files (12.8 GB of
  values) with ``max_memory="2GB"``, KS + PSI. Budget: peak RSS under 2.5 GiB,
  under 2 minutes.
* ``evidently``: 356,000 x 100, aiguard (Wasserstein, normed, as
  ``DataDriftPreset`` computes on numeric columns of this size) against
  Evidently's ``DataDriftPreset`` on the same arrays; Evidently runs in the
  Python given by ``--evidently-python`` or ``AIGUARD_EVIDENTLY_PYTHON``
  (skipped with a note when absent).
* ``scaling``: fit + seven methods in memory over a grid of rows x columns:
  the time per value shows the cost linear in the data (up to the sort's
  log factor).

Data: standard normal reference and current; every 5th current column
shifted by 0.1. The machine is shared: the load average is printed with
every case, and ratios matter more than seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np

FULL = ("ks", "wasserstein", "cramervonmises", "psi", "jensenshannon", "kl", "hellinger")
GiB = 1 << 30

CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    from aiguard.drift import Reference

    def cpu():
        use = resource.getrusage(resource.RUSAGE_SELF)
        return use.ru_utime + use.ru_stime

    def peak():
        with open("/proc/self/status") as fh:
            return int(next(x for x in fh if x.startswith("VmHWM:")).split()[1]) * 1024

    ref_path, cur_path, budget, methods, html = sys.argv[1:6]
    t0 = time.perf_counter()
    reference = Reference(ref_path, max_memory=budget)
    t1 = time.perf_counter()
    report = reference.compare(cur_path, methods=methods.split(","), max_memory=budget)
    t2 = time.perf_counter()
    page = report.to_html() if html == "1" else ""
    t3 = time.perf_counter()
    print(json.dumps({"fit": t1 - t0, "compare": t2 - t1, "html": t3 - t2, "peak": peak(),
                      "cpu": cpu(),
                      "drifted": len(report.drifted_features), "html_bytes": len(page)}))
    """
)

EVIDENTLY = textwrap.dedent(
    """
    import json, sys, time, warnings
    warnings.simplefilter("ignore")
    import numpy as np, pandas as pd
    import evidently
    from evidently import Report
    from evidently.presets import DataDriftPreset
    ref = np.load(sys.argv[1]); cur = np.load(sys.argv[2])
    names = [f"x{i}" for i in range(ref.shape[1])]
    ref_df, cur_df = pd.DataFrame(ref, columns=names), pd.DataFrame(cur, columns=names)
    t0 = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current_data=cur_df, reference_data=ref_df)
    snapshot.dict()
    print(json.dumps({"seconds": time.perf_counter() - t0, "version": evidently.__version__}))
    """
)


DASK = textwrap.dedent(
    """
    import json, resource, sys, time
    import numpy as np

    def peak():
        with open("/proc/self/status") as fh:
            return int(next(x for x in fh if x.startswith("VmHWM:")).split()[1]) * 1024

    def cpu():
        use = resource.getrusage(resource.RUSAGE_SELF)
        return use.ru_utime + use.ru_stime

    def block(seed, index, rows, cols, shift):
        rng = np.random.default_rng([seed, index])
        x = rng.standard_normal((rows, cols))
        if shift:
            x[:, ::5] += 0.1
        return x

    def lazy(seed, rows, cols, chunk, shift):
        import dask, dask.array as da
        parts = [
            da.from_delayed(
                dask.delayed(block)(seed, i, min(chunk, rows - start), cols, shift),
                shape=(min(chunk, rows - start), cols),
                dtype=np.float64,
            )
            for i, start in enumerate(range(0, rows, chunk))
        ]
        return da.concatenate(parts)

    if __name__ == "__main__":
        from distributed import Client, LocalCluster
        from aiguard.drift import Reference
        rows, cols, ref_rows, chunk, check = map(int, sys.argv[1:6])
        methods = ("ks", "psi")
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          memory_limit="2GB", dashboard_address=None) as cluster, \
                Client(cluster) as client:
            client.run(lambda: __import__("aiguard.drift"))  # imports are not the work
            w0 = [sum(v) for v in client.run(
                lambda: (resource.getrusage(resource.RUSAGE_SELF).ru_utime,
                         resource.getrusage(resource.RUSAGE_SELF).ru_stime)).values()]
            t0 = time.perf_counter()
            reference = Reference(lazy(1, ref_rows, cols, chunk, False))
            t1 = time.perf_counter()
            report = reference.compare(lazy(2, rows, cols, chunk, True), methods=methods)
            t2 = time.perf_counter()
            peaks = client.run(peak)
            w1 = [sum(v) for v in client.run(
                lambda: (resource.getrusage(resource.RUSAGE_SELF).ru_utime,
                         resource.getrusage(resource.RUSAGE_SELF).ru_stime)).values()]
        out = {"fit": t1 - t0, "compare": t2 - t1, "client_peak": peak(), "client_cpu": cpu(),
               "worker_peaks": sorted(peaks.values()),
               "worker_cpu": sum(w1) - sum(w0), "drifted": len(report.drifted_features)}
        if check:
            t3 = time.perf_counter()
            eager = Reference(np.vstack(
                [block(1, i, min(chunk, ref_rows - s), cols, False)
                 for i, s in enumerate(range(0, ref_rows, chunk))]))
            batches = (block(2, i, min(chunk, rows - s), cols, True)
                       for i, s in enumerate(range(0, rows, chunk)))
            one = eager.compare(batches, methods=methods, max_memory="3GB")
            out["one_machine"] = time.perf_counter() - t3
            out["equal"] = one == report and eager.summary == reference.summary
        print(json.dumps(out))
    """
)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} / {five:.1f}"


def write_parquet(path: Path, rows: int, cols: int, *, seed: int, shift: bool) -> None:
    """Seeded standard normal columns, written a row group (65,536 rows) at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    names = [f"x{j}" for j in range(cols)]
    offset = np.where(np.arange(cols) % 5 == 0, 0.1, 0.0) if shift else np.zeros(cols)
    schema = pa.schema([(n, pa.float64()) for n in names])
    with pq.ParquetWriter(path, schema, compression="snappy") as writer:
        for start in range(0, rows, 65_536):
            n = min(65_536, rows - start)
            block = rng.standard_normal((n, cols)) + offset
            writer.write_table(
                pa.Table.from_arrays([pa.array(block[:, j]) for j in range(cols)], schema=schema)
            )


def arrays(rows: int, cols: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ref = rng.standard_normal((rows, cols))
    cur = rng.standard_normal((rows, cols))
    cur[:, ::5] += 0.1
    return ref, cur


def run_child(ref: Path, cur: Path, budget: str, methods: tuple[str, ...], *, html: bool) -> Any:
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(ref),
            str(cur),
            budget,
            ",".join(methods),
            "1" if html else "0",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        return f"failed: {(proc.stderr.strip().splitlines() or ['?'])[-1][:160]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def blocked_case(
    name: str,
    rows: int,
    cols: int,
    budget: str,
    methods: tuple[str, ...],
    *,
    html: bool,
    limits: tuple[float, float],
    where: Path,
) -> str:
    ref, cur = where / f"{name}-ref.parquet", where / f"{name}-cur.parquet"
    t0 = time.perf_counter()
    write_parquet(ref, rows, cols, seed=1, shift=False)
    write_parquet(cur, rows, cols, seed=2, shift=True)
    made = time.perf_counter() - t0
    size = (ref.stat().st_size + cur.stat().st_size) / GiB
    before = load()
    res = run_child(ref, cur, budget, methods, html=html)
    for p in (ref, cur):
        p.unlink()
    if isinstance(res, str):
        return f"| {name} | {rows:,} x {cols} | {res} |"
    total = res["fit"] + res["compare"] + res["html"]
    peak = res["peak"] / GiB
    ok = total <= limits[0] and peak < limits[1]
    return (
        f"| {name} | {rows:,} x {cols} | Parquet {size:.1f} GiB (made in {made:.0f} s) | "
        f"{budget} | {res['fit']:.1f} | {res['compare']:.1f} | {res['html']:.2f} | "
        f"**{total:.1f}** | {res['cpu']:.1f} | **{peak:.2f} GiB** | "
        f"<= {limits[0]:.0f} s, < {limits[1]} GiB: {'met' if ok else 'NOT met'} | {before} | "
        f"{res['drifted']} drifted |"
    )


def evidently_case(rows: int, cols: int, python: str | None, where: Path) -> list[str]:
    ref, cur = arrays(rows, cols, seed=3)
    np.save(where / "ev-ref.npy", ref)
    np.save(where / "ev-cur.npy", cur)
    del ref, cur
    before = load()
    ours = run_child(
        where / "ev-ref.npy", where / "ev-cur.npy", "4GB", ("wasserstein",), html=False
    )
    lines = []
    if isinstance(ours, str):
        lines.append(f"| aiguard | {ours} |")
        ours_s = float("nan")
    else:
        ours_s = ours["fit"] + ours["compare"]
        lines.append(
            f"| aiguard Reference + compare(wasserstein) | {ours_s:.2f} | 1.0 | "
            f"{ours['peak'] / GiB:.2f} GiB | {before} |"
        )
    if not python:
        lines.append(
            "| Evidently DataDriftPreset | skipped: pass --evidently-python or set "
            "AIGUARD_EVIDENTLY_PYTHON | | | |"
        )
    else:
        before = load()
        (where / "ev.py").write_text(EVIDENTLY)
        proc = subprocess.run(
            [python, str(where / "ev.py"), str(where / "ev-ref.npy"), str(where / "ev-cur.npy")],
            capture_output=True,
            text=True,
            check=False,
            timeout=3600,
        )
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1][:160]
            lines.append(f"| Evidently DataDriftPreset | failed: {last} | | | |")
        else:
            ev = json.loads(proc.stdout.strip().splitlines()[-1])
            lines.append(
                f"| Evidently {ev['version']} DataDriftPreset | {ev['seconds']:.2f} | "
                f"{ev['seconds'] / ours_s:.1f}x slower | (not measured) | {before} |"
            )
    for p in ("ev-ref.npy", "ev-cur.npy"):
        (where / p).unlink()
    return lines


def dask_case(rows: int, cols: int, ref_rows: int, chunk: int, *, check: bool, where: Path) -> str:
    script = where / "dask_case.py"
    script.write_text(DASK)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    before = load()
    proc = subprocess.run(
        [
            sys.executable,
            str(script),
            str(rows),
            str(cols),
            str(ref_rows),
            str(chunk),
            str(int(check)),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=where,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1][:160]
        return f"| {rows:,} x {cols} | failed: {last} |"
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    workers = " / ".join(f"{p / GiB:.2f}" for p in res["worker_peaks"])
    one = (
        f"{res['one_machine']:.1f} s, {'equal' if res['equal'] else 'NOT equal'}"
        if check
        else "not run"
    )
    return (
        f"| {rows:,} x {cols} (reference {ref_rows:,} x {cols}, chunks of {chunk:,} rows) | "
        f"{res['fit']:.1f} | {res['compare']:.1f} | {res['worker_cpu']:.1f} | {workers} GiB | "
        f"{res['client_peak'] / GiB:.2f} GiB | {res['drifted']} | {one} | {before} |"
    )


def scaling(rows_grid: list[int], cols_grid: list[int]) -> list[str]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from aiguard.drift import Reference

    lines = []
    for rows in rows_grid:
        for cols in cols_grid:
            ref, cur = arrays(rows, cols, seed=4)
            t0 = time.perf_counter()
            Reference(ref).compare(cur, methods=FULL)
            seconds = time.perf_counter() - t0
            ns = seconds / (2 * rows * cols) * 1e9
            lines.append(f"| {rows:,} | {cols} | {seconds:.2f} | {ns:.1f} | {load()} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cases",
        nargs="+",
        default=["wide", "long", "evidently", "scaling"],
        choices=["wide", "long", "evidently", "scaling", "dask"],
    )
    parser.add_argument(
        "--dask-rows", type=int, default=10_000_000, help="rows of the Dask case's current data"
    )
    parser.add_argument(
        "--dask-check",
        action="store_true",
        help="also compare the same data on one machine (blocked, from an iterator) for equality",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--dir", default=None, help="where the data files go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    parser.add_argument(
        "--evidently-python",
        default=os.environ.get("AIGUARD_EVIDENTLY_PYTHON"),
        help="Python with evidently 0.7 (default: $AIGUARD_EVIDENTLY_PYTHON, else skipped)",
    )
    args = parser.parse_args()
    q = 20 if args.quick else 1
    where = Path(tempfile.mkdtemp(prefix="aiguard-scale-", dir=args.dir))
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"{os.cpu_count()} cores, load average (1 / 5 min) at start {load()}"
    )
    try:
        if {"wide", "long"} & set(args.cases):
            print(
                "\n| case | shape | source | max_memory | fit s | compare s | html s | total s "
                "| CPU s (whole process) | peak RSS | budget | load | result |"
            )
            print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        if "wide" in args.cases:
            print(
                blocked_case(
                    "wide", 356_000 // q, 800, "1GB", FULL, html=True, limits=(15, 1.5), where=where
                ),
                flush=True,
            )
        if "long" in args.cases:
            print(
                blocked_case(
                    "long",
                    2_000_000 // q,
                    400,
                    "2GB",
                    ("ks", "psi"),
                    html=False,
                    limits=(120, 2.5),
                    where=where,
                ),
                flush=True,
            )
        if "scaling" in args.cases:
            print(
                "\nscaling, in memory, fit + seven methods\n\n| rows | columns | seconds | "
                "ns per value | load |\n|---|---|---|---|---|"
            )
            rows_grid = [50_000 // q, 100_000 // q, 200_000 // q]
            for line in scaling(rows_grid, [50, 100, 200]):
                print(line, flush=True)
        if "dask" in args.cases:
            print(
                "\nDask, 2-worker LocalCluster (processes, 1 thread and 2 GB each), KS + PSI, "
                "data generated lazily on the workers\n\n| current | fit s | compare s | "
                "worker CPU s | peak RSS per worker | client peak RSS | drifted | one machine "
                "| load |\n|---|---|---|---|---|---|---|---|---|"
            )
            print(
                dask_case(
                    args.dask_rows // q,
                    100,
                    100_000 // q,
                    500_000 // q,
                    check=args.dask_check,
                    where=where,
                ),
                flush=True,
            )
        if "evidently" in args.cases:
            print(
                f"\n356,000 x 100 (/{q}), same arrays\n\n| contender | seconds | ratio | "
                "peak RSS | load |\n|---|---|---|---|---|"
            )
            for line in evidently_case(356_000 // q, 100, args.evidently_python, where):
                print(line, flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(where, ignore_errors=True)


if __name__ == "__main__":
    main()

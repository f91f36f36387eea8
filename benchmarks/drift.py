"""Drift statistics: aiguard against scipy loops, Evidently, alibi-detect and two floors.

    python benchmarks/drift.py                      # 100,000 x 50 float64, the issue's budgets
    python benchmarks/drift.py --rows 20000 --cols 10 --no-peers   # a quick run

One run, one seeded data set (reference and current, standard normal; every
5th current column shifted by 0.1, every 7th scaled by 1.2), every contender
timed on the same arrays (best of ``--repeat``). Floors: ``cur.sum(axis=0)``
(one read of the current data) and ``np.sort(cur, axis=0)``. Peers run when
found: Evidently's ``DataDriftPreset`` and alibi-detect's ``KSDrift``, each in
a subprocess of the Python given by ``--evidently-python`` / ``--alibi-python``,
else by the environment variables ``AIGUARD_EVIDENTLY_PYTHON`` /
``AIGUARD_ALIBI_PYTHON``, else the running interpreter when it can import the
peer (they are not aiguard dependencies, so they usually live in virtual
environments of their own); a peer that is not found is skipped with a note.
The subprocess loads the same arrays from ``.npy`` files (not timed). Peak memory
is measured with ``tracemalloc`` (numpy reports its buffers to it) in a run of
its own. aiguard caches some exact p-values (``kstwo.sf`` at large n); every
timed call starts with those caches cleared, as it would on new data, and one
extra row shows the warm case (the same data compared again).

``compare`` runs with its default ``workers=None`` (one thread per core, up to
8, at this size) unless a row says ``workers=1``; the floors and the peers are
single-threaded. The machine's core count is printed with the versions.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import scipy
from scipy import stats

import aiguard
from aiguard import drift
from aiguard.detect._drift._workers import resolve_workers

BINNED = ("psi", "jensenshannon", "kl", "hellinger")
RANKS = ("ks", "wasserstein", "cramervonmises")
FULL = ("ks", "wasserstein", "cramervonmises", *BINNED)


def make_data(rows: int, cols: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ref = rng.standard_normal((rows, cols))
    cur = rng.standard_normal((rows, cols))
    cur[:, ::5] += 0.1
    cur[:, ::7] *= 1.2
    return ref, cur


def best(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def clear_caches() -> None:
    """Forget aiguard's cached p-values so every timed call is cold, as on new data."""
    from aiguard.detect._drift.rank import _pvalues

    for name in dir(_pvalues):
        cached = getattr(_pvalues, name)
        if hasattr(cached, "cache_clear") and name not in {"_ad_table", "_ad_sigma"}:
            cached.cache_clear()


def interleaved(contenders: dict[str, Any], repeat: int) -> dict[str, float]:
    """Best time of each contender over *repeat* rounds, every round running all of them.

    On a shared machine the load changes from second to second; interleaving
    exposes every contender (and the floors) to the same conditions.
    """
    out = dict.fromkeys(contenders, float("inf"))
    for _ in range(repeat):
        for name, fn in contenders.items():
            clear_caches()
            t0 = time.perf_counter()
            fn()
            out[name] = min(out[name], time.perf_counter() - t0)
    return out


def peak_bytes(fn: Any) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- peers ------------------------------------------------------------------------------------

EVIDENTLY_SCRIPT = textwrap.dedent(
    """
    import json, sys, time, warnings
    warnings.simplefilter("ignore")
    import numpy as np, pandas as pd
    import evidently
    from evidently import Report
    from evidently.presets import DataDriftPreset
    ref = np.load(sys.argv[1]); cur = np.load(sys.argv[2])
    names = [f"f{i}" for i in range(ref.shape[1])]
    ref_df, cur_df = pd.DataFrame(ref, columns=names), pd.DataFrame(cur, columns=names)
    t0 = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current_data=cur_df, reference_data=ref_df)
    snapshot.dict()
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "version": evidently.__version__}))
    """
)

ALIBI_SCRIPT = textwrap.dedent(
    """
    import json, sys, time, warnings
    warnings.simplefilter("ignore")
    import numpy as np
    from importlib.metadata import version
    from alibi_detect.cd import KSDrift
    ref = np.load(sys.argv[1]); cur = np.load(sys.argv[2])
    t0 = time.perf_counter()
    detector = KSDrift(ref, p_val=0.05)
    detector.predict(cur)
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "version": version("alibi-detect")}))
    """
)


#: peer -> (command-line option, environment variable, module the peer's Python imports)
PEERS = {
    "Evidently": ("--evidently-python", "AIGUARD_EVIDENTLY_PYTHON", "evidently"),
    "alibi-detect": ("--alibi-python", "AIGUARD_ALIBI_PYTHON", "alibi_detect"),
}


def peer_python(peer: str, given: str | None) -> str | None:
    """The Python that runs *peer*: the option, else its environment variable, else this one.

    This interpreter is used only when it can import the peer; None when nothing is found.
    """
    _, variable, module = PEERS[peer]
    if given:
        return given
    if os.environ.get(variable):
        return os.environ[variable]
    return sys.executable if importlib.util.find_spec(module) is not None else None


def skipped(peer: str) -> str:
    """The note for a peer that no Python was found for."""
    option, variable, module = PEERS[peer]
    return f"skipped: {module} not importable here; pass {option} or set {variable}"


def run_peer(
    python: str, script: str, ref: np.ndarray, cur: np.ndarray, timeout: float
) -> dict[str, Any] | str:
    if not Path(python).exists():
        return f"not installed ({python} missing)"
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "ref.npy", ref)
        np.save(Path(tmp) / "cur.npy", cur)
        (Path(tmp) / "peer.py").write_text(script)
        try:
            proc = subprocess.run(
                [
                    python,
                    str(Path(tmp) / "peer.py"),
                    str(Path(tmp) / "ref.npy"),
                    str(Path(tmp) / "cur.npy"),
                ],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return f"timed out after {timeout:.0f} s"
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return f"failed: {last[:120]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- contenders --------------------------------------------------------------------------------


def scipy_ks_loop(ref: np.ndarray, cur: np.ndarray) -> list[Any]:
    return [stats.ks_2samp(ref[:, j], cur[:, j]) for j in range(ref.shape[1])]


def scipy_ranks_loop(ref: np.ndarray, cur: np.ndarray) -> list[Any]:
    out = []
    for j in range(ref.shape[1]):
        a, b = ref[:, j], cur[:, j]
        out.append(
            (
                stats.ks_2samp(a, b),
                stats.wasserstein_distance(a, b),
                stats.cramervonmises_2samp(a, b),
            )
        )
    return out


def numpy_binned_loop(ref: np.ndarray, cur: np.ndarray) -> list[float]:
    """PSI per column with np.quantile edges and np.histogram (what people write by hand)."""
    out = []
    for j in range(ref.shape[1]):
        edges = np.quantile(ref[:, j], np.linspace(0, 1, 11))
        edges[0], edges[-1] = -np.inf, np.inf
        p = np.histogram(ref[:, j], edges)[0] / ref.shape[0]
        q = np.histogram(cur[:, j], edges)[0] / cur.shape[0]
        p, q = np.maximum(p, 1e-4), np.maximum(q, 1e-4)
        out.append(float(np.sum((p - q) * np.log(p / q))))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--cols", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-peers", action="store_true", help="skip Evidently and alibi-detect")
    parser.add_argument(
        "--evidently-python",
        default=None,
        help="Python with Evidently 0.7 (default: $AIGUARD_EVIDENTLY_PYTHON, else this one if "
        "it imports evidently, else Evidently is skipped)",
    )
    parser.add_argument(
        "--alibi-python",
        default=None,
        help="Python with alibi-detect (default: $AIGUARD_ALIBI_PYTHON, else this one if it "
        "imports alibi_detect, else alibi-detect is skipped)",
    )
    parser.add_argument("--peer-timeout", type=float, default=900.0)
    args = parser.parse_args()

    ref_data, cur = make_data(args.rows, args.cols)
    mb = cur.nbytes / 1e6
    r = args.repeat
    results: dict[str, float] = {}
    notes: dict[str, str] = {}

    ref = drift.Reference(ref_data)
    acc = ref.accumulator()

    def full_report() -> None:
        report = drift.Reference(ref_data).compare(cur, methods=FULL)
        report.to_dict()
        report.to_html()

    def preset_report() -> None:
        # the work of Evidently's default preset at this size: normed Wasserstein per
        # numeric column (its default test above 1,000 rows), the drift share, histograms
        report = drift.Reference(ref_data).compare(cur, methods=("wasserstein",))
        report.to_dict()
        report.to_html()

    results.update(
        interleaved(
            {
                "floor: cur.sum(axis=0) (one read)": lambda: cur.sum(axis=0),
                "floor: np.sort(cur, axis=0)": lambda: np.sort(cur, axis=0),
                "aiguard Reference(ref) fit (once)": lambda: drift.Reference(ref_data),
                "aiguard KS+W+CvM, fitted": lambda: ref.compare(cur, methods=RANKS),
                "aiguard KS+W+CvM, fitted, workers=1": lambda: ref.compare(
                    cur, methods=RANKS, workers=1
                ),
                "aiguard KS, fitted": lambda: ref.compare(cur, methods="ks"),
                "aiguard drift.ks(ref, cur), unfitted": lambda: drift.ks(ref_data, cur),
                "aiguard PSI+JS+KL+Hellinger, fitted": lambda: ref.compare(cur, methods=BINNED),
                "aiguard accumulator.update(cur)": lambda: acc.update(cur),
                "aiguard full report (fit + 7 methods + dict + HTML)": full_report,
                "aiguard report doing the preset's work (fit + normed W + dict + HTML)": (
                    preset_report
                ),
            },
            r,
        )
    )
    # the same call again without clearing: p-values of the same data come from the cache
    ref.compare(cur, methods="ks")
    results["aiguard KS, fitted, warm p-value cache (same data again)"] = best(
        lambda: ref.compare(cur, methods="ks"), r
    )
    results["scipy loop: ks_2samp"] = best(lambda: scipy_ks_loop(ref_data, cur), 1)
    results["scipy loop: ks_2samp + wasserstein + cvm"] = best(
        lambda: scipy_ranks_loop(ref_data, cur), 1
    )
    results["numpy loop: PSI (quantile + histogram)"] = best(
        lambda: numpy_binned_loop(ref_data, cur), 1
    )

    threads = resolve_workers(None, ref_data.size + cur.size, args.cols)
    versions = {
        "cores": str(os.cpu_count()),
        "threads (workers=None)": str(threads),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "aiguard": aiguard.__version__,
    }
    if not args.no_peers:
        peers = (
            ("Evidently", args.evidently_python, EVIDENTLY_SCRIPT, "evidently"),
            ("alibi-detect", args.alibi_python, ALIBI_SCRIPT, "alibi-detect"),
        )
        rows = {
            "Evidently": "Evidently DataDriftPreset (Report.run + dict)",
            "alibi-detect": "alibi-detect KSDrift (fit + predict)",
        }
        for peer, given, script, version in peers:
            python = peer_python(peer, given)
            if python is None:
                notes[peer] = skipped(peer)
                print(f"note: {peer} {notes[peer]}", file=sys.stderr)
                continue
            out = run_peer(python, script, ref_data, cur, args.peer_timeout)
            if isinstance(out, dict):
                results[rows[peer]] = out["seconds"]
                versions[version] = out["version"]
            else:
                notes[peer] = out

    tracemalloc_ref = drift.Reference(ref_data)
    peak_compare = peak_bytes(lambda: tracemalloc_ref.compare(cur, methods=FULL))
    peak_full = peak_bytes(full_report)

    one_read = results["floor: cur.sum(axis=0) (one read)"]
    sort = results["floor: np.sort(cur, axis=0)"]
    print(f"## Drift statistics, {args.rows:,} x {args.cols} float64 ({mb:.0f} MB per data set)\n")
    print("| contender | time (ms) | x one read | x np.sort |")
    print("|---|---:|---:|---:|")
    for name, seconds in results.items():
        print(
            f"| {name} | {seconds * 1e3:,.1f} | {seconds / one_read:,.1f} | {seconds / sort:,.2f} |"
        )
    for name, note in notes.items():
        print(f"| {name} | {note} | | |")
    print(
        f"\nPeak memory (tracemalloc): compare, 7 methods: {peak_compare / 1e6:,.0f} MB "
        f"= {peak_compare / cur.nbytes:.2f}x the current data; full report incl. fit: "
        f"{peak_full / 1e6:,.0f} MB = {peak_full / (cur.nbytes + ref_data.nbytes):.2f}x "
        "reference + current."
    )
    print("\nVersions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))

    checks = [
        (
            "KS+W+CvM within 2x np.sort",
            results["aiguard KS+W+CvM, fitted"] <= 2 * sort,
            f"{results['aiguard KS+W+CvM, fitted'] / sort:.2f}x",
        ),
        (
            "(same, one thread: workers=1)",
            results["aiguard KS+W+CvM, fitted, workers=1"] <= 2 * sort,
            f"{results['aiguard KS+W+CvM, fitted, workers=1'] / sort:.2f}x",
        ),
        (
            "KS >= 10x faster than the scipy loop",
            results["scipy loop: ks_2samp"] >= 10 * results["aiguard KS, fitted"],
            f"{results['scipy loop: ks_2samp'] / results['aiguard KS, fitted']:.1f}x",
        ),
        (
            "PSI+JS+KL+Hellinger within 5x one read",
            results["aiguard PSI+JS+KL+Hellinger, fitted"] <= 5 * one_read,
            f"{results['aiguard PSI+JS+KL+Hellinger, fitted'] / one_read:.1f}x",
        ),
        (
            "peak memory <= 3x the input",
            peak_full <= 3 * (cur.nbytes + ref_data.nbytes),
            f"{peak_full / (cur.nbytes + ref_data.nbytes):.2f}x",
        ),
    ]
    evid = results.get("Evidently DataDriftPreset (Report.run + dict)")
    full = results["aiguard full report (fit + 7 methods + dict + HTML)"]
    same_work = results["aiguard report doing the preset's work (fit + normed W + dict + HTML)"]
    if evid is not None:
        checks.append(
            ("full report >= 100x faster than Evidently", evid >= 100 * full, f"{evid / full:.0f}x")
        )
        checks.append(
            (
                "same-work report >= 100x faster than Evidently",
                evid >= 100 * same_work,
                f"{evid / same_work:.0f}x",
            )
        )
    print("\n| budget | met | measured |")
    print("|---|---|---:|")
    for name, ok, measured in checks:
        print(f"| {name} | {'yes' if ok else 'NO'} | {measured} |")
    print(f"\nCommand: python benchmarks/drift.py {' '.join(sys.argv[1:])}".rstrip())


if __name__ == "__main__":
    main()

"""Peak memory of a blocked comparison: the budget plus a documented constant, not the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aiguard.detect._drift.scale import BASELINE

MiB = 1 << 20
BUDGET = 64 * MiB
COLUMNS = 64

_CHILD = """
import json, sys
from aiguard.drift import Reference

def peak():  # VmHWM: this process's peak RSS (ru_maxrss would include the parent's, via fork)
    with open("/proc/self/status") as fh:
        line = next(x for x in fh if x.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024

ref_path, cur_path, budget = sys.argv[1], sys.argv[2], int(sys.argv[3])
before = peak()
reference = Reference(ref_path, max_memory=budget)
report = reference.compare(cur_path, methods=("ks", "cramervonmises", "psi"), max_memory=budget)
print(json.dumps({"before": before, "peak": peak(), "rows": report.n_current}))
"""


def _write(path: Path, rows: int, seed: int) -> None:
    """A row-major .npy file written a chunk at a time (this process never holds it whole)."""
    rng = np.random.default_rng(seed)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(rows, COLUMNS))
    for start in range(0, rows, 1 << 16):
        stop = min(rows, start + (1 << 16))
        out[start:stop] = rng.normal(size=(stop - start, COLUMNS))
    out.flush()
    del out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/status and madvise")
def test_compare_over_a_file_four_times_the_budget_stays_within_it(tmp_path: Path) -> None:
    """Fit on a 2x-budget file, compare a 4x-budget file: peak RSS < budget + BASELINE."""
    cur_rows = 4 * BUDGET // (8 * COLUMNS)
    _write(tmp_path / "ref.npy", cur_rows // 2, seed=1)
    _write(tmp_path / "cur.npy", cur_rows, seed=2)
    assert (tmp_path / "cur.npy").stat().st_size >= 4 * BUDGET
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _CHILD,
            str(tmp_path / "ref.npy"),
            str(tmp_path / "cur.npy"),
            str(BUDGET),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=600,
    )
    result = json.loads(done.stdout)
    assert result["rows"] == cur_rows
    assert result["peak"] < BUDGET + BASELINE, result

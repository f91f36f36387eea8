"""`import aiguard` stays light: serving code pays for scipy only when it uses statistics."""

from __future__ import annotations

import subprocess
import sys


def test_import_aiguard_does_not_import_scipy_stats_or_signal() -> None:
    """The top-level import leaves scipy.stats and scipy.signal unimported (about 2 s of CPU)."""
    code = (
        "import sys, aiguard, aiguard.detect, aiguard.checks\n"
        "heavy = sorted(m for m in ('scipy.stats', 'scipy.signal') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_statistics_still_load_on_first_use() -> None:
    """A detector or monitor that needs scipy imports it when first used."""
    code = (
        "import sys, numpy as np\n"
        "from aiguard.detect import KSWIN\n"
        "d = KSWIN(seed=1)\n"
        "d.update_many(np.r_[np.zeros(200), np.ones(200)])\n"
        "print('scipy.stats' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"

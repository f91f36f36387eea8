"""The README's first command runs examples/quickstart.py: keep it working."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_quickstart_shows_row_fallback_breaker_trip_and_recovery() -> None:
    """The demo replaces NaN rows, opens the breaker when the model dies, closes it after."""
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")],
        capture_output=True, text=True, check=True, timeout=120,
    )
    lines = run.stdout.splitlines()
    assert "reason=invalid" in lines[0]
    assert "rows_replaced=3" in lines[0]
    assert any("reason=open" in line and "breaker=OPEN" in line for line in lines)
    assert "breaker=HALF_OPEN" in run.stdout
    assert lines[-1].endswith("state=CLOSED")

"""The public surface of aiguard.testing is a contract: pin it."""

from __future__ import annotations

import subprocess
import sys

import aiguard.testing


def test_testing_all_is_pinned() -> None:
    """``aiguard.testing.__all__`` lists exactly the documented names, all resolvable."""
    expected = {
        "Event", "Events", "FakeClock", "Fault", "Faults", "Injector",
        "assert_breaker_state", "assert_no_model_call", "assert_reason", "assert_served_by",
        "inject",
    }
    assert set(aiguard.testing.__all__) == expected
    assert all(hasattr(aiguard.testing, name) for name in expected)


def test_importing_the_kit_does_not_import_pytest() -> None:
    """Application code may import aiguard.testing without pulling in pytest."""
    code = "import sys, aiguard.testing; print('pytest' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "False"

"""What you need in *your* tests: a fake clock, fault injection, assertions.

The pytest plugin (registered automatically through the ``pytest11`` entry
point) adds the fixtures ``fake_clock``, ``aiguard_events`` and ``aiguard_faults``.
"""

from aiguard.testing._clock import FakeClock

__all__ = ["FakeClock"]

"""What you need in *your* tests: a fake clock, fault injection, assertions.

The pytest plugin (registered automatically through the ``pytest11`` entry
point) adds the fixtures ``fake_clock``, ``aiguard_events`` and ``aiguard_faults``.
"""

from aiguard.testing._assertions import (
    assert_breaker_state,
    assert_no_model_call,
    assert_reason,
    assert_served_by,
)
from aiguard.testing._clock import FakeClock
from aiguard.testing._events import Event, Events
from aiguard.testing._faults import Fault, Faults, Injector, inject

__all__ = [
    "Event",
    "Events",
    "FakeClock",
    "Fault",
    "Faults",
    "Injector",
    "assert_breaker_state",
    "assert_no_model_call",
    "assert_reason",
    "assert_served_by",
    "inject",
]

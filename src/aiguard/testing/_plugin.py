"""pytest plugin for aiguard users' tests, registered through the ``pytest11`` entry point.

Installing aiguard makes these fixtures available in every test session:

- ``fake_clock``: a :class:`~aiguard.testing.FakeClock` at 0.0;
- ``aiguard_events``: an :class:`~aiguard.testing.Events` capture; call
  ``aiguard_events.watch(guard_or_breaker_or_flags)``; detached at teardown;
- ``aiguard_faults``: a :class:`~aiguard.testing.Faults` factory of fault
  injectors; every fault is undone at teardown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from aiguard.testing._clock import FakeClock
from aiguard.testing._events import Events
from aiguard.testing._faults import Faults

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["aiguard_events", "aiguard_faults", "fake_clock"]


@pytest.fixture
def fake_clock() -> FakeClock:
    """A fake clock starting at 0.0: pass it as ``clock=`` and move it with ``advance``."""
    return FakeClock()


@pytest.fixture
def aiguard_events() -> Iterator[Events]:
    """Capture outcomes, breaker transitions and flag changes of what you ``watch``."""
    events = Events()
    yield events
    events.close()


@pytest.fixture
def aiguard_faults() -> Iterator[Faults]:
    """Inject faults into guarded functions or models; all undone when the test ends."""
    faults = Faults()
    yield faults
    faults.undo()

"""Type-checked only: a FakeClock is a Clock."""

from __future__ import annotations

from aiguard.testing import FakeClock
from aiguard.typing import Clock  # noqa: TC001 - used at run time in this check

clock: Clock = FakeClock()
now: float = clock()

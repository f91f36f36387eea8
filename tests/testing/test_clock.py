"""FakeClock moves only when told to."""

from __future__ import annotations

import threading

import pytest

from aiguard.errors import ConfigurationError
from aiguard.testing import FakeClock


def test_starts_where_told_and_advances() -> None:
    """The clock starts at its start value and adds what advance() is given."""
    clock = FakeClock(5.0)
    assert clock() == 5.0
    assert clock.advance(2.5) == 7.5
    assert clock() == 7.5


def test_rejects_going_backwards() -> None:
    """Negative advances and jumps into the past are configuration errors."""
    clock = FakeClock(10.0)
    with pytest.raises(ConfigurationError, match="seconds must be a number >= 0, got -1"):
        clock.advance(-1)
    with pytest.raises(ConfigurationError, match="now must be"):
        clock.set(9.0)
    clock.set(11.0)
    assert clock() == 11.0
    assert repr(clock) == "FakeClock(11.0)"


def test_concurrent_advances_all_count() -> None:
    """Advances from many threads add up exactly."""
    clock = FakeClock()

    def work() -> None:
        for _ in range(1000):
            clock.advance(1)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert clock() == 4000.0

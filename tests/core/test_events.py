"""Listener lists that never break the caller, and log-once."""

from __future__ import annotations

import logging

import pytest

from aiguard._core._events import Listeners, log_once
from aiguard.errors import ConfigurationError


def test_listeners_are_called_in_order_and_deduplicated() -> None:
    """Each listener gets every event once, in registration order."""
    seen: list[tuple[str, int]] = []

    def first(event: int) -> None:
        seen.append(("first", event))

    def second(event: int) -> None:
        seen.append(("second", event))

    listeners: Listeners[int] = Listeners("test")
    assert not listeners
    listeners.add(first)
    listeners.add(second)
    listeners.add(first)
    listeners.emit(1)
    assert seen == [("first", 1), ("second", 1)]
    assert len(listeners) == 2
    listeners.remove(first)
    listeners.remove(first)  # a no-op the second time
    listeners.emit(2)
    assert seen[-1] == ("second", 2)
    assert repr(listeners) == "Listeners('test', n=1, errors=0)"


def test_a_raising_listener_is_counted_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """Errors are swallowed, counted per raise, logged once per listener."""
    listeners: Listeners[int] = Listeners("owner-x")
    seen: list[int] = []

    def broken(event: int) -> None:
        raise ValueError(event)

    listeners.add(broken)
    listeners.add(seen.append)
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        for i in range(3):
            listeners.emit(i)
    assert seen == [0, 1, 2]
    assert listeners.errors == 3
    assert caplog.text.count("a listener of owner-x raised") == 1


def test_non_callable_listener_is_rejected() -> None:
    """add() validates its argument with a ConfigurationError."""
    with pytest.raises(ConfigurationError, match="listener must be a callable taking one event"):
        Listeners("x").add(42)  # type: ignore[arg-type]


def test_log_once_logs_each_key_once(caplog: pytest.LogCaptureFixture) -> None:
    """The same key logs once per process; a new key logs again."""
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        assert log_once("test-events-key-a", "hello %s", "a", exc_info=False)
        assert not log_once("test-events-key-a", "hello %s", "again", exc_info=False)
        assert log_once("test-events-key-b", "hello %s", "b", exc_info=False)
    assert caplog.text.count("hello") == 2

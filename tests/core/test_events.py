"""Listener lists that never break the caller, and log-once."""

from __future__ import annotations

import ast
import logging

import pytest
from tests.project_files import ROOT

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


class _Owner:
    """A router, a breaker, a listener: something a message is once per."""


def test_log_once_with_an_owner_logs_once_per_living_object(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Objects made and dropped in turn share addresses; each still logs its own first time."""
    firsts, ids = 0, set()
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        for _ in range(200):
            owner = _Owner()
            ids.add(id(owner))
            firsts += log_once("test-events-owned", "owned %s", "x", exc_info=False, owner=owner)
            assert not log_once("test-events-owned", "owned", exc_info=False, owner=owner)
            del owner
    assert len(ids) < 200  # CPython did reuse addresses: keys from id() would have been silenced
    assert (firsts, caplog.text.count("owned")) == (200, 200)


def test_log_once_with_an_owner_that_cannot_be_weakly_referenced() -> None:
    """Such an owner's keys are kept for the process: once per key and id, never twice."""
    owner = (1, "tuple")  # tuples take no weak references
    assert log_once("test-events-tuple", "tuple owner", exc_info=False, owner=owner)
    assert not log_once("test-events-tuple", "tuple owner", exc_info=False, owner=owner)
    assert log_once("test-events-tuple-2", "tuple owner", exc_info=False, owner=owner)


def test_no_log_once_key_is_built_from_an_id() -> None:
    """id() in a key outlives its object; the per-object form is owner=."""
    built = []
    for path in sorted((ROOT / "src" / "aiguard").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "log_once"
                    and node.args and "id(" in ast.unparse(node.args[0])):
                built.append((path.name, node.lineno))
    assert built == []

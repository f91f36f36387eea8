"""aiguard's logging: module loggers, the aiguard_* fields, state changes once, nothing per call."""

from __future__ import annotations

import ast
import functools
import logging
from typing import TYPE_CHECKING, Any

import numpy as np
from tests.project_files import ROOT

import aiguard as ag
from aiguard._core._events import Listeners, log_once
from aiguard._core._logging import FIELDS, Health, describe, fields
from aiguard._core._poller import Poller
from aiguard.errors import StoreError
from aiguard.recover._registry import ModelRegistry
from aiguard.state import MemoryStore
from aiguard.state._fleet import FleetRule, MemoryBoard, share_breaker
from aiguard.testing import FakeClock

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pytest

LEVELS = {"debug", "info", "warning", "error", "exception", "critical", "log"}


@functools.cache
def _parsed() -> tuple[tuple[str, ast.AST], ...]:
    """The modules that use the logging module, parsed once (the others cannot log)."""
    found = []
    for path in sorted((ROOT / "src" / "aiguard").rglob("*.py")):
        text = path.read_text("utf-8")
        if "logging" in text:
            found.append((path.relative_to(ROOT / "src").as_posix(), ast.parse(text)))
    return tuple(found)


def _sources() -> Iterator[tuple[str, ast.AST]]:
    yield from _parsed()


def _events(caplog: pytest.LogCaptureFixture) -> list[tuple[str, int, str]]:
    """(logger, level, aiguard_event) of each captured record."""
    return [(r.name, r.levelno, r.aiguard_event) for r in caplog.records]  # type: ignore[attr-defined]


def test_every_module_logger_is_named_after_its_module() -> None:
    """Each getLogger(...) in src/aiguard is getLogger(__name__), bar three deliberate ones."""
    odd = []
    for where, tree in _sources():
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "getLogger"):
                arg = ast.unparse(node.args[0]) if node.args else ""
                if arg != "__name__":
                    odd.append((where, arg))
    # log_once's caller's module, the root (to hold the NullHandler) and LogNotifier's
    # user-chosen logger (a parameter)
    assert sorted(odd) == [
        ("aiguard/_core/_events.py", "module if module.startswith('aiguard.') else 'aiguard'"),
        ("aiguard/_core/_logging.py", "'aiguard'"),
        ("aiguard/review/_notifiers.py", "logger")]


def test_every_direct_logging_call_carries_the_aiguard_fields() -> None:
    """Each logger.<level>(...) call in src/aiguard passes extra=, so records carry the fields."""
    bare = []
    for where, tree in _sources():
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in LEVELS and isinstance(node.func.value, ast.Name)
                    and node.func.value.id in {"_log", "logger"}
                    and not any(k.arg == "extra" for k in node.keywords)):
                bare.append((where, node.lineno))
    assert bare == []


def test_the_aiguard_logger_has_a_null_handler() -> None:
    """Without configuration nothing reaches stderr (logging.lastResort is never used)."""
    handlers = logging.getLogger("aiguard").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


def test_fields_and_describe() -> None:
    """The three fields, always present; names kept as str, others by repr; errors as Type: text."""
    assert FIELDS == ("aiguard_event", "aiguard_name", "aiguard_error")
    assert fields("x.y") == {"aiguard_event": "x.y", "aiguard_name": None, "aiguard_error": None}
    assert fields("x", ("a", 1), KeyError("k"))["aiguard_name"] == "('a', 1)"
    assert describe(KeyError("k")) == "KeyError: 'k'"
    assert describe("said") == "said"


def test_health_logs_each_change_of_state_once(caplog: pytest.LogCaptureFixture) -> None:
    """down/up only log when the state flips: WARNING going down, INFO coming back."""
    health = Health(logging.getLogger("aiguard.tests.health"), "store", "recs")
    with caplog.at_level(logging.DEBUG, logger="aiguard"):
        assert health.up("fine") is False  # never down: nothing to say
        assert [health.down("down %s", i, error=OSError("refused")) for i in range(3)] == [
            True, False, False]
        assert health.failing
        assert [health.up("back") for _ in range(2)] == [True, False]
        assert health.down("down again") is True
    assert _events(caplog) == [
        ("aiguard.tests.health", logging.WARNING, "store.down"),
        ("aiguard.tests.health", logging.INFO, "store.up"),
        ("aiguard.tests.health", logging.WARNING, "store.down"),
    ]
    first = caplog.records[0]
    assert (first.getMessage(), first.aiguard_name, first.aiguard_error) == (  # type: ignore[attr-defined]
        "down 0", "recs", "OSError: refused")
    assert first.pathname == __file__  # stacklevel: the record points at the caller
    assert repr(health) == "Health('store', 'recs', failing=True)"


def test_log_once_fields_default_event_and_logger(caplog: pytest.LogCaptureFixture) -> None:
    """log_once names its event from the key, fills the error only with exc_info, logs once."""
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        try:
            raise ValueError("inner")
        except ValueError:
            assert log_once("test-logging-a:1", "first") is True
            assert log_once("test-logging-b:1", "quiet", exc_info=False, name="n") is True
            assert log_once("test-logging-a:1", "again") is False
    a, b = caplog.records
    # called from outside the package: the parent "aiguard" logger
    assert (a.name, a.aiguard_event, a.aiguard_error) == (  # type: ignore[attr-defined]
        "aiguard", "test-logging-a", "ValueError: inner")
    assert (b.aiguard_event, b.aiguard_name, b.aiguard_error) == (  # type: ignore[attr-defined]
        "test-logging-b", "n", None)
    assert not b.exc_info


def test_a_listener_failure_is_logged_on_the_owning_modules_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A breaker's raising listener is reported on the breaker module's logger, with fields."""
    breaker = ag.CircuitBreaker(name="test-logging-breaker", clock=FakeClock())

    def broken(event: object) -> None:
        raise RuntimeError("listener bug")

    breaker.add_listener(broken)
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        breaker.force_open()
        breaker.reset()
    (record,) = caplog.records
    assert record.name.startswith("aiguard.contain.breaker.")
    assert record.aiguard_event == "listener.raised"  # type: ignore[attr-defined]
    assert "test-logging-breaker" in record.aiguard_name  # type: ignore[attr-defined]
    assert record.aiguard_error == "RuntimeError: listener bug"  # type: ignore[attr-defined]
    other = Listeners[Any]("made here")  # outside the package: the parent logger
    other.add(broken)
    other.emit("event")
    assert caplog.records[-1].name == "aiguard"


def test_a_poller_logs_an_outage_once_and_its_end_once(caplog: pytest.LogCaptureFixture) -> None:
    """Failing ticks: one WARNING; the next good tick: one INFO; a new outage: WARNING again."""
    clock, down = FakeClock(), [True]

    def tick() -> None:
        if down[0]:
            raise StoreError("store down")

    poller = Poller(tick, interval=1, name="aiguard-test-outage", clock=clock, start=False)
    with caplog.at_level(logging.DEBUG, logger="aiguard"):
        for state in (True, True, True, False, False, True):
            down[0] = state
            poller.run_now()
    assert _events(caplog) == [
        ("aiguard._core._poller", logging.WARNING, "poller.down"),
        ("aiguard._core._poller", logging.INFO, "poller.up"),
        ("aiguard._core._poller", logging.WARNING, "poller.down"),
    ]
    assert caplog.records[0].aiguard_error == "StoreError: store down"  # type: ignore[attr-defined]
    assert poller.errors == 4


class _FlakyStore(MemoryStore):
    down = False

    def read_all(self) -> dict[str, dict[str, Any]]:
        if self.down:
            raise StoreError("unreachable")
        return super().read_all()

    def write(self, name: str, record: Any) -> None:
        if self.down:
            raise StoreError("unreachable")
        super().write(name, record)


def test_a_registry_logs_its_store_going_down_and_back_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Refreshes against a dead store: one WARNING per outage, one INFO when it reads again."""
    store = _FlakyStore()
    registry = ModelRegistry("test-logging-models", store=store, refresh=None, clock=FakeClock())
    registry.register("v1", lambda x: x)
    registry.register("v2", lambda x: x)
    registry.promote("v2", reason="first", actor="ci")
    with caplog.at_level(logging.INFO, logger="aiguard"):
        store.down = True
        for _ in range(5):
            registry.refresh()
        registry.register("v3", lambda x: x)
        registry.promote("v3", reason="while down", actor="ci")  # the write fails too
        store.down = False
        registry.refresh()  # reads again, and writes the change it kept
        registry.refresh()
    assert _events(caplog) == [
        ("aiguard.recover._registry", logging.WARNING, "registry.store_read.down"),
        ("aiguard.recover._registry", logging.WARNING, "registry.store_write.down"),
        ("aiguard.recover._registry", logging.INFO, "registry.store_write.up"),
        ("aiguard.recover._registry", logging.INFO, "registry.store_read.up"),
    ]
    assert {r.aiguard_name for r in caplog.records} == {"test-logging-models"}  # type: ignore[attr-defined]
    assert registry.champion == "v3"


def test_no_info_log_per_call_in_a_loop_of_guarded_calls(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """200 guarded calls through failures, fallbacks, an open breaker and a kill switch log nothing
    at INFO or above (only the one-off listener fault below, once)."""
    clock = FakeClock()
    flags = ag.Flags(refresh=None, clock=clock, declare={"test-logging.recs": True})
    breaker = ag.CircuitBreaker(name="test-logging-loop", failure_rate=0.5, window=10,
                                min_calls=4, open_for=5, clock=clock)
    guard = ag.Guard(name="test-logging-loop", breaker=breaker, flags=flags,
                     kill_switch="test-logging.recs", fallback=lambda x: np.zeros(len(x)),
                     check=ag.checks.finite(), clock=clock)
    calls = [0]

    @guard
    def predict(x: np.ndarray) -> np.ndarray:
        calls[0] += 1
        if calls[0] % 3 == 0:
            raise RuntimeError("model down")
        return x * (np.nan if calls[0] % 5 == 0 else 1.0)

    x = np.ones(4)
    served = set()
    with caplog.at_level(logging.DEBUG, logger="aiguard"):
        for i in range(200):
            if i == 120:
                flags.set("test-logging.recs", on=False, actor="ops", reason="drill")
            if i == 160:
                flags.set("test-logging.recs", on=True, actor="ops", reason="drill over")
            predict(x)
            outcome = guard.last_outcome
            assert outcome is not None
            served.add((outcome.served_by, outcome.reason))
            clock.advance(0.5)
    assert len(served) >= 3  # model, fallback after failure, fallback while killed or open
    assert [r for r in caplog.records if r.levelno >= logging.INFO] == []


def test_the_fleet_board_outage_is_logged_once_each_way(caplog: pytest.LogCaptureFixture) -> None:
    """A shared breaker polling a dead board 10 times: one WARNING, one INFO when it is back."""

    class DeadBoard(MemoryBoard):
        down = True

        def read_breakers(self, breaker: str) -> dict[str, dict[str, Any]]:
            if self.down:
                raise StoreError("board down")
            return super().read_breakers(breaker)

    board = DeadBoard()
    breaker = ag.CircuitBreaker(name="test-logging-fleet", clock=FakeClock())
    fleet = share_breaker(breaker, board=board, rule=FleetRule(tripped=2, of=3, within=60),
                          clock=FakeClock(1000), start=False)
    with caplog.at_level(logging.DEBUG, logger="aiguard"):
        for _ in range(10):
            fleet.poll()
        board.down = False
        for _ in range(3):
            fleet.poll()
    fleet.close()
    assert _events(caplog) == [
        ("aiguard.state._fleet", logging.WARNING, "fleet.board.down"),
        ("aiguard.state._fleet", logging.INFO, "fleet.board.up"),
    ]
    assert fleet.errors == 10

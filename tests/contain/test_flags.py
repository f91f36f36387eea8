"""Flags: snapshot reads, declared defaults, staleness, validation, listeners, the global switch."""

from __future__ import annotations

import gc
import logging
import threading
import time
from typing import Any

import pytest

import aiguard as ag
from aiguard.contain.flags import FlagChange, FlagSpec, FlagState
from aiguard.errors import (
    ConfigurationError,
    InvalidInputError,
    StoreError,
    UnknownFlagError,
)
from aiguard.testing import FakeClock


class FlakyStore:
    """A minimal FlagStore (no history, no subscribe) that can be switched down."""

    def __init__(self) -> None:
        self.records: dict[str, Any] = {}
        self.down = False
        self.reads = 0
        self.raw: object = None

    def read_all(self) -> Any:
        self.reads += 1
        if self.down:
            raise StoreError("connection refused")
        if self.raw is not None:
            return self.raw
        return {k: dict(v) if isinstance(v, dict) else v for k, v in self.records.items()}

    def write(self, name: str, record: Any) -> None:
        if self.down:
            raise StoreError("connection refused")
        self.records[name] = dict(record)


def make(store: Any = None, **kw: Any) -> ag.Flags:
    return ag.Flags(store if store is not None else ag.MemoryStore(), refresh=None, **kw)


# -- enabled ---------------------------------------------------------------


def test_unknown_name_returns_the_default_argument() -> None:
    """A name neither declared nor stored answers the default passed to enabled()."""
    flags = make()
    assert flags.enabled("nope") is True
    assert flags.enabled("nope", default=False) is False
    assert "nope" not in flags


def test_declared_default_wins_over_the_call_default() -> None:
    """A declared flag answers its declared default, not the call's default."""
    flags = make(declare={"closed": False, "open": True})
    assert flags.enabled("closed", default=True) is False
    assert flags.enabled("open", default=False) is True


def test_store_value_wins_over_declared_default() -> None:
    """A record in the store overrides the declared default."""
    store = ag.MemoryStore()
    store.write("closed", {"on": True})
    assert make(store, declare={"closed": False}).enabled("closed") is True


@pytest.mark.parametrize(
    ("percent", "expected"), [(0, False), (0.004, False), (99.996, True), (100, True)]
)
def test_extreme_percentages_need_no_key(percent: float, expected: bool) -> None:
    """0 % (or rounding to no bucket) is off, 100 % (or all buckets) on, with or without key."""
    flags = make()
    flags.set("f", on=True, percent=percent)
    assert flags.enabled("f") is expected
    assert {flags.enabled("f", key=k) for k in range(200)} == {expected}


def test_partial_rollout_without_key_is_off() -> None:
    """Under a partial rollout, a call without key is not in the rollout."""
    flags = make()
    flags.set("f", on=True, percent=99.9)
    assert flags.enabled("f") is False
    assert flags.enabled("f", key="someone") is True


def test_off_flag_with_percent_is_off_for_everyone() -> None:
    """on=False wins over any percentage."""
    flags = make()
    flags.set("f", on=False, percent=50)
    assert {flags.enabled("f", key=k) for k in range(100)} == {False}


def test_enabled_never_raises() -> None:
    """Unhashable names or keys whose str() fails answer safely, counted and logged once."""

    class Nasty:
        def __str__(self) -> str:
            raise RuntimeError("boom")

    flags = make()
    flags.set("f", on=True, percent=50)
    assert flags.enabled(["unhashable"]) is True  # type: ignore[arg-type]
    assert flags.enabled(["unhashable"], default=False) is False  # type: ignore[arg-type]
    assert flags.enabled("f", key=Nasty(), default=False) is False
    assert flags.faults == 3


def test_enabled_does_no_io() -> None:
    """enabled() never touches the store, however often it is called."""
    store = FlakyStore()
    flags = make(store)
    reads = store.reads
    store.down = True
    for _ in range(100):
        flags.enabled("x")
    assert store.reads == reads


# -- construction ----------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"store": object()}, "store"),
        ({"refresh": 0}, "refresh"),
        ({"refresh": -1.0}, "refresh"),
        ({"refresh": float("inf")}, "refresh"),
        ({"refresh": True}, "refresh"),
        ({"refresh": "1"}, "refresh"),
        ({"clock": 3}, "clock"),
        ({"wall_clock": None}, "wall_clock"),
        ({"declare": ["a"]}, "declare"),
        ({"declare": {"a": "yes"}}, "default"),
        ({"declare": {"Bad Name": True}}, "name"),
    ],
)
def test_constructor_validates(kwargs: dict[str, Any], argument: str) -> None:
    """Bad constructor arguments raise ConfigurationError naming the argument."""
    with pytest.raises(ConfigurationError) as info:
        ag.Flags(**{"refresh": None, **kwargs})
    assert info.value.argument == argument


def test_default_store_is_memory() -> None:
    """Without a store, a fresh MemoryStore is used."""
    flags = make()
    assert isinstance(flags.store, ag.MemoryStore)
    flags2 = ag.Flags(refresh=None)
    assert flags2.store is not flags.store


def test_repr_shows_store_count_and_staleness() -> None:
    """The repr names the store, counts flags and says when stale."""
    store = FlakyStore()
    store.down = True
    flags = make(store, declare={"a": True})
    assert repr(flags) == f"<Flags {store!r}: 2 flags, stale>"


# -- declare -----------------------------------------------------------------


def test_declare_returns_the_spec_and_keeps_the_description() -> None:
    """declare() returns a FlagSpec; description() reads it back."""
    flags = make()
    spec = flags.declare("recs", default=False, description="personalised recs")
    assert spec == FlagSpec("recs", default=False, description="personalised recs")
    assert flags.description("recs") == "personalised recs"
    assert flags.description("unknown") is None
    state = flags.get("recs")  # registered in the (writable) store with its default
    assert (state.on, state.reason, state.source) == (
        False, "declared in code (default off)", "store"
    )
    assert make(ag.EnvStore(environ={})).declare("recs", default=False) is not None


def test_declared_flag_on_a_read_only_store_keeps_its_declared_state() -> None:
    """On a read-only store (environment) the declared default stays local: nothing written."""
    flags = make(ag.EnvStore(environ={}), declare={"recs": False})
    assert flags.get("recs") == FlagState("recs", on=False, reason="declared default",
                                          source="declared")
    assert flags.status.registration_errors == 0


def test_declare_twice_same_default_is_fine_different_raises() -> None:
    """Re-declaring with the same default is harmless; a different default is a bug."""
    flags = make()
    flags.declare("a", default=False)
    flags.declare("a", default=False)
    with pytest.raises(ConfigurationError, match="default"):
        flags.declare("a", default=True)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"name": "aiguard.all"}, "name"),
        ({"name": "UPPER"}, "name"),
        ({"name": "a", "default": 1}, "default"),
        ({"name": "a", "description": 3}, "description"),
    ],
)
def test_declare_validates(kwargs: dict[str, Any], argument: str) -> None:
    """declare() refuses the reserved name, bad names, non-bool defaults, bad descriptions."""
    with pytest.raises(ConfigurationError) as info:
        make().declare(**kwargs)
    assert info.value.argument == argument


def test_declare_after_store_value_keeps_store_value() -> None:
    """Declaring a flag the store already holds does not override the stored value."""
    flags = make()
    flags.set("a", on=False)
    flags.declare("a", default=True)
    assert flags.enabled("a") is False


# -- set / get / history -------------------------------------------------------


def test_set_records_who_when_why() -> None:
    """set() stamps the wall clock, the actor (default user@host) and the reason."""
    flags = make(wall_clock=lambda: 1_700_000_000.0)
    flags.set("a", on=False, reason="INC-42", actor="ana")
    flags.set("b", on=True)
    a, b = flags.get("a"), flags.get("b")
    assert (a.on, a.updated_at, a.actor, a.reason, a.source) == (
        False, 1_700_000_000.0, "ana", "INC-42", "store",
    )
    assert b.actor is not None
    assert "@" in b.actor
    assert flags.store.read_all()["a"] == {
        "on": False, "percent": None, "updated_at": 1_700_000_000.0,
        "actor": "ana", "reason": "INC-42",
    }


@pytest.mark.parametrize(
    ("args", "kwargs", "argument"),
    [
        (("Bad", True), {}, "name"),
        (("", True), {}, "name"),
        (("a" * 129, True), {}, "name"),
        (("-a", True), {}, "name"),
        ((3, True), {}, "name"),
        (("a", "yes"), {}, "on"),
        (("a", 1), {}, "on"),
        (("a", True), {"percent": 100.5}, "percent"),
        (("a", True), {"percent": -0.1}, "percent"),
        (("a", True), {"percent": float("nan")}, "percent"),
        (("a", True), {"percent": True}, "percent"),
        (("a", True), {"percent": "25"}, "percent"),
        (("a", True), {"reason": 3}, "reason"),
        (("a", True), {"reason": "x" * 1001}, "reason"),
        (("a", True), {"actor": b"ana"}, "actor"),
        (("aiguard.all", True), {"percent": 50}, "percent"),
    ],
)
def test_set_validates_and_changes_nothing(
    args: tuple[Any, ...], kwargs: dict[str, Any], argument: str
) -> None:
    """Bad input to set() raises InvalidInputError naming the argument; nothing is written."""
    flags = make()
    flags.set("a", on=False, reason="keep me")
    seen: list[FlagChange] = []
    flags.add_listener(seen.append)
    name, on = args
    with pytest.raises(InvalidInputError) as info:
        flags.set(name, on=on, **kwargs)
    assert info.value.argument == argument
    assert flags.get("a").reason == "keep me"
    assert set(flags.store.read_all()) == {"a"}
    assert seen == []


def test_set_on_a_store_that_is_down_raises_and_changes_nothing() -> None:
    """A failed write raises StoreError; the local value and listeners are untouched."""
    store = FlakyStore()
    flags = make(store, declare={"a": True})
    seen: list[FlagChange] = []
    flags.add_listener(seen.append)
    store.down = True
    with pytest.raises(StoreError):
        flags.set("a", on=False)
    assert flags.enabled("a") is True
    assert seen == []


def test_get_unknown_raises() -> None:
    """get() of an unknown name raises UnknownFlagError (a KeyError) naming it."""
    with pytest.raises(UnknownFlagError, match="unknown flag 'nope'") as info:
        make().get("nope")
    assert isinstance(info.value, KeyError)


def test_states_lists_everything_including_the_global_switch() -> None:
    """states() maps every known name (declared, stored, the global switch) to its state."""
    flags = make(declare={"a": True})
    flags.set("b", on=False)
    states = flags.states()
    assert sorted(states) == ["a", "aiguard.all", "b"]
    assert states["b"].on is False


def test_history_from_a_store_without_history_is_what_this_process_saw() -> None:
    """With a store lacking history(), history lists the changes seen here, oldest first."""
    store = FlakyStore()
    flags = make(store)
    flags.set("a", on=False, reason="one")
    store.records["a"] = {"on": True, "reason": "two (from elsewhere)"}
    flags.refresh()
    assert [(s.on, s.reason) for s in flags.history("a")] == [
        (False, "one"), (True, "two (from elsewhere)"),
    ]
    flags.declare("d", default=True)
    assert flags.history("d") == []
    with pytest.raises(UnknownFlagError):
        flags.history("nope")


def test_history_from_the_store_skips_invalid_records() -> None:
    """Store history entries that fail validation are skipped."""
    store = ag.MemoryStore()
    store.write("a", {"on": "garbage"})
    store.write("a", {"on": False, "reason": "ok"})
    assert [s.reason for s in make(store).history("a")] == ["ok"]


# -- staleness, garbage ---------------------------------------------------------


def test_unreadable_store_at_start_leaves_declared_defaults_and_is_stale(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Store down when built: declared defaults (open and closed) in force, stale, logged once."""
    store = FlakyStore()
    store.down = True
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        flags = make(store, declare={"open": True, "closed": False})
        flags.refresh()
    assert (flags.enabled("open"), flags.enabled("closed")) == (True, False)
    status = flags.status
    assert (status.stale, status.last_read, status.read_errors) == (True, None, 2)
    assert status.last_error == "StoreError: connection refused"
    assert len([r for r in caplog.records if "cannot be read" in r.getMessage()]) == 1


def test_outage_keeps_last_known_values_and_recovers(caplog: pytest.LogCaptureFixture) -> None:
    """An outage keeps the last values, logs once per outage (down: WARNING, back: INFO)."""
    clock = FakeClock(100.0)
    store = FlakyStore()
    store.records["a"] = {"on": False}
    flags = make(store, clock=clock, declare={"a": True})
    assert flags.status.last_read == 100.0
    with caplog.at_level(logging.INFO, logger="aiguard"):
        for _ in range(2):  # two outages
            store.down = True
            clock.advance(5)
            for _ in range(3):
                assert flags.refresh() is False
            assert (flags.enabled("a"), flags.stale) == (False, True)
            store.down = False
            clock.advance(5)
            assert flags.refresh() is True
            assert flags.stale is False
    assert flags.status.read_errors == 6
    assert flags.status.last_read == 120.0
    levels = [(r.levelno, r.aiguard_event) for r in caplog.records]  # type: ignore[attr-defined]
    down, up = (logging.WARNING, "flags.store.down"), (logging.INFO, "flags.store.up")
    assert levels == [down, up, down, up]


def test_store_returning_a_non_mapping_is_a_failed_read() -> None:
    """read_all() returning garbage (not a mapping) counts as a failed read."""
    store = FlakyStore()
    store.records["a"] = {"on": False}
    flags = make(store)
    store.raw = ["not", "a", "mapping"]
    assert flags.refresh() is False
    assert flags.stale is True
    assert flags.enabled("a") is False
    assert "not a mapping" in (flags.status.last_error or "")


@pytest.mark.parametrize(
    "garbage",
    [
        "text", 3, None, [], {"on": "yes"}, {"percent": 5}, {"on": True, "percent": 101},
        {"on": True, "updated_at": "noon"}, {"on": True, "updated_at": True},
        {"on": True, "actor": 3}, {"on": True, "reason": ["x"]},
    ],
)
def test_invalid_record_keeps_the_last_good_value(garbage: object) -> None:
    """A record failing validation is ignored, counted; the flag keeps its last good value."""
    store = FlakyStore()
    store.records["a"] = {"on": False}
    store.records["b"] = {"on": False}
    flags = make(store, declare={"c": True})
    store.records["a"] = garbage
    store.records["c"] = garbage
    store.records["b"] = {"on": True}
    assert flags.refresh() is True
    assert (flags.enabled("a"), flags.enabled("b"), flags.enabled("c")) == (False, True, True)
    assert flags.status.invalid_records == 2
    assert flags.stale is False


def test_invalid_flag_name_in_store_is_ignored() -> None:
    """A stored name that is not a valid flag name is ignored and counted."""
    store = FlakyStore()
    store.records["Not Valid"] = {"on": False}
    flags = make(store)
    assert "Not Valid" not in flags
    assert flags.status.invalid_records == 1


def test_deleted_record_falls_back_to_the_declared_default() -> None:
    """A record removed from the store gives way to the declared default (or vanishes)."""
    store = FlakyStore()
    store.records = {"a": {"on": False}, "b": {"on": False}}
    flags = make(store, declare={"a": True})
    seen: list[FlagChange] = []
    flags.add_listener(seen.append)
    store.records = {}
    flags.refresh()
    assert flags.enabled("a") is True
    assert "b" not in flags
    assert [(c.name, c.new.source if c.new else None) for c in seen] == [
        ("a", "declared"), ("b", None),
    ]


def test_refresh_racing_a_set_does_not_roll_it_back() -> None:
    """A read that began before a set() is discarded instead of undoing the set."""
    store = FlakyStore()
    store.records["a"] = {"on": True}
    flags = make(store)
    original = store.read_all

    def read_then_set() -> Any:
        snapshot = original()  # what was stored when the read began
        flags.set("a", on=False, reason="set while reading")
        return snapshot

    store.read_all = read_then_set  # type: ignore[method-assign]
    assert flags.refresh() is True
    assert flags.enabled("a") is False
    store.read_all = original  # type: ignore[method-assign]
    flags.refresh()
    assert flags.get("a").reason == "set while reading"


# -- listeners ---------------------------------------------------------------------


def test_listeners_get_changes_from_set_and_refresh() -> None:
    """Listeners see local sets and changes read from the store, with old, new, source, time."""
    clock = FakeClock(7.0)
    store = ag.MemoryStore()
    flags = make(store, clock=clock)
    other = make(store)
    seen: list[FlagChange] = []
    flags.add_listener(seen.append)
    flags.set("a", on=False)
    other.set("a", on=True, reason="remote")
    clock.advance(1)
    flags.refresh()
    assert [(c.name, c.old.on if c.old else None, c.new.on if c.new else None, c.source, c.at)
            for c in seen] == [("a", None, False, "set", 7.0), ("a", False, True, "refresh", 8.0)]
    flags.refresh()  # nothing new: no event
    assert len(seen) == 2


def test_listener_that_raises_breaks_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """A raising listener is counted and logged once; the others and the change go through."""
    flags = make()
    seen: list[str] = []

    def bad(change: FlagChange) -> None:
        raise RuntimeError("listener bug")

    flags.add_listener(bad)
    flags.add_listener(lambda c: seen.append(c.name))
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        flags.set("a", on=False)
        flags.set("b", on=False)
    assert seen == ["a", "b"]
    assert flags.enabled("a") is False
    assert flags.status.listener_errors == 2
    assert len([r for r in caplog.records if "listener" in r.getMessage()]) == 1


def test_remove_listener_and_validation() -> None:
    """A removed listener is not called; removing an unknown one is fine; non-callables refused."""
    flags = make()
    seen: list[FlagChange] = []
    flags.add_listener(seen.append)
    flags.remove_listener(seen.append)
    flags.remove_listener(print)
    flags.set("a", on=False)
    assert seen == []
    with pytest.raises(ConfigurationError, match="listener"):
        flags.add_listener("nope")  # type: ignore[arg-type]


# -- the global switch -------------------------------------------------------------


def test_shutdown_turns_everything_off_and_restore_brings_each_flag_back() -> None:
    """Shutdown: every name is off (even unknown ones); restore: each flag reads its own value."""
    flags = make(declare={"open": True})
    flags.set("partial", on=True, percent=90)
    flags.set("off", on=False)
    flags.shutdown(reason="full shutdown", actor="ana")
    assert flags.shut_down is True
    assert not any(
        flags.enabled(name, key=k)
        for name in ("open", "partial", "off", "unknown", "aiguard.all") for k in range(20)
    )
    assert flags.enabled("unknown", default=True) is False
    assert flags.get("aiguard.all").reason == "full shutdown"
    flags.restore(reason="contained")
    assert flags.shut_down is False
    assert (flags.enabled("open"), flags.enabled("off"), flags.enabled("aiguard.all")) == (
        True, False, True,
    )
    assert sum(flags.enabled("partial", key=k) for k in range(1000)) > 800


def test_shutdown_from_another_process_arrives_on_refresh() -> None:
    """A shutdown written by another flag set (the CLI) takes effect at the next refresh."""
    store = ag.MemoryStore()
    app, ops = make(store, declare={"a": True}), make(store)
    ops.shutdown(reason="INC-1")
    assert app.enabled("a") is True
    app.refresh()
    assert (app.enabled("a"), app.shut_down) == (False, True)


# -- background refresh, subscriptions, lifecycle -------------------------------------


def _wait_for(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return bool(predicate())


def test_background_thread_refreshes() -> None:
    """With refresh= seconds, a change written elsewhere arrives without calling refresh()."""
    store = ag.MemoryStore()
    with ag.Flags(store, refresh=0.02, declare={"a": True}) as flags:
        make(store).set("a", on=False)
        assert _wait_for(lambda: flags.enabled("a") is False)


def test_close_stops_the_thread_and_gc_ends_it() -> None:
    """close() stops the refresher; a dropped flag set's thread ends too."""

    def new_refresher(before: set[threading.Thread]) -> threading.Thread:
        (thread,) = [
            t for t in threading.enumerate()
            if t.name == "aiguard-flags-refresh" and t not in before
        ]
        return thread

    before = set(threading.enumerate())
    flags = ag.Flags(refresh=0.01)
    thread = new_refresher(before)
    flags.close()
    thread.join(5)
    assert not thread.is_alive()
    before = set(threading.enumerate())
    ag.Flags(refresh=0.01)  # dropped at once
    thread = new_refresher(before)
    gc.collect()
    thread.join(5)
    assert not thread.is_alive()


class SubscribingStore(ag.MemoryStore):
    """A MemoryStore that announces writes to subscribers, like RedisStore's pub/sub."""

    def __init__(self) -> None:
        super().__init__()
        self.callbacks: list[Any] = []
        self.closed = 0

    def subscribe(self, callback: Any) -> Any:
        self.callbacks.append(callback)
        store = self

        class Subscription:
            def close(self) -> None:
                store.closed += 1

        return Subscription()

    def announce(self) -> list[Any]:
        return [callback() for callback in self.callbacks]


def test_subscription_refreshes_at_once_and_is_closed_with_the_flags() -> None:
    """A store's change notification refreshes immediately; close() closes the subscription."""
    store = SubscribingStore()
    flags = ag.Flags(store, refresh=60.0)
    store.write("a", {"on": False})
    assert store.announce() == [True]
    assert flags.enabled("a") is False
    flags.close()
    flags.close()
    assert store.closed == 1
    del flags
    gc.collect()
    assert store.announce() == [False]  # the flag set is gone: the callback does nothing


def test_no_background_work_without_refresh() -> None:
    """refresh=None: no thread and no subscription."""
    store = SubscribingStore()
    make(store)
    assert store.callbacks == []


def test_concurrent_readers_writers_and_refreshers_agree_in_the_end() -> None:
    """Threads reading, setting and refreshing at once: only bools, no errors, store wins."""
    store = ag.MemoryStore()
    flags = make(store, declare={"a": True})
    other = make(store)
    errors: list[BaseException] = []
    answers: set[object] = set()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            answers.add(flags.enabled("a"))
            answers.add(flags.enabled("b", key="k"))

    def writer(who: ag.Flags, name: str) -> None:
        try:
            for i in range(60):
                who.set(name, on=i % 2 == 0, percent=None if i % 3 else 50.0)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def refresher() -> None:
        while not stop.is_set():
            flags.refresh()

    threads = [threading.Thread(target=reader), threading.Thread(target=refresher)]
    writers = [threading.Thread(target=writer, args=(flags, "a")),
               threading.Thread(target=writer, args=(other, "b"))]
    for thread in threads + writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in threads:
        thread.join()
    assert errors == []
    assert answers <= {True, False}
    assert flags.faults == 0
    flags.refresh()
    stored = store.read_all()
    assert (flags.get("a").to_record(), flags.get("b").to_record()) == (stored["a"], stored["b"])

"""Declared flags are registered in a writable store: never overriding, retried, read-only left."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import aiguard as ag
from aiguard.errors import StoreError
from aiguard.state._records import default_actor

if TYPE_CHECKING:
    import pytest


class RegisteringStore(ag.MemoryStore):
    """A MemoryStore whose write_missing can be switched down or made to lose every race."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.lose = False
        self.calls: list[list[str]] = []

    def write_missing(self, records: Any) -> list[str]:
        self.calls.append(sorted(records))
        if self.down:
            raise StoreError("connection refused")
        if self.lose:  # another replica registered first, with the opposite default
            for name, record in records.items():
                self.write(name, {**record, "on": not record["on"], "actor": "other"})
            return []
        return super().write_missing(records)


class MinimalStore:
    """A custom store with only read_all and write: no atomic primitive, so no registration."""

    def __init__(self) -> None:
        self.records: dict[str, Any] = {}

    def read_all(self) -> dict[str, Any]:
        return dict(self.records)

    def write(self, name: str, record: Any) -> None:
        self.records[name] = dict(record)


def test_registration_record_names_the_actor_reason_and_wall_time() -> None:
    """The registered record: the default, updated_at from wall_clock, user@host, the reason."""
    store = ag.MemoryStore()
    ag.Flags(store, refresh=None, wall_clock=lambda: 1_700_000_000.0,
             declare={"recs.personalized": True})
    assert store.read_all()["recs.personalized"] == {
        "on": True, "percent": None, "updated_at": 1_700_000_000.0,
        "actor": default_actor(), "reason": "declared in code (default on)",
    }


def test_all_declarations_at_construction_go_in_one_call() -> None:
    """declare={...} registers every absent flag in a single write_missing call, after the read."""
    store = RegisteringStore()
    store.write("b", {"on": False})
    ag.Flags(store, refresh=None, declare={"a": True, "b": True, "c": False})
    assert store.calls == [["a", "c"]]


def test_declare_after_construction_registers_at_once() -> None:
    """flags.declare() on a live flag set writes the flag immediately."""
    store = ag.MemoryStore()
    flags = ag.Flags(store, refresh=None)
    flags.declare("late", default=False)
    assert store.read_all()["late"]["on"] is False
    assert flags.get("late").source == "store"


def test_a_stored_value_is_never_overridden_by_a_declaration() -> None:
    """An operator's off stays off, with its history untouched, whatever the declared default."""
    store = ag.MemoryStore()
    ag.Flags(store, refresh=None).set("recs", on=False, reason="INC-42", actor="ana")
    flags = ag.Flags(store, refresh=None, declare={"recs": True})
    flags.declare("recs", default=True)
    assert flags.enabled("recs") is False
    assert [(s.on, s.actor) for s in flags.history("recs")] == [(False, "ana")]


def test_a_lost_race_adopts_the_winner_at_the_next_read() -> None:
    """write_missing wrote nothing (another replica was first): its value is read and kept."""
    store = RegisteringStore()
    store.lose = True
    flags = ag.Flags(store, refresh=None, declare={"recs": True})
    assert flags.get("recs").source == "declared"  # not ours: nothing assumed
    assert flags.refresh() is True
    state = flags.get("recs")
    assert (state.on, state.actor, state.source) == (False, "other", "store")


def test_a_failed_registration_is_counted_logged_once_and_retried_at_refresh(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The store refuses writes: counted, logged once; the next good refresh registers it."""
    store = RegisteringStore()
    store.down = True
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        flags = ag.Flags(store, refresh=None, declare={"recs": True})
        flags.refresh()
    assert flags.status.registration_errors == 2
    assert len([r for r in caplog.records if "register declared" in r.getMessage()]) == 1
    assert flags.enabled("recs") is True  # the declared default serves meanwhile
    store.down = False
    assert flags.refresh() is True
    assert store.read_all()["recs"]["reason"] == "declared in code (default on)"
    calls = len(store.calls)
    flags.refresh()
    assert len(store.calls) == calls  # registered: nothing left to retry


def test_no_registration_while_the_store_cannot_be_read() -> None:
    """A failed read registers nothing: a store that lost its data is not refilled blindly."""

    class Unreadable(RegisteringStore):
        def read_all(self) -> dict[str, Any]:
            raise StoreError("down")

    store = Unreadable()
    flags = ag.Flags(store, refresh=None, declare={"recs": True})
    flags.declare("later")
    assert store.calls == []
    assert flags.stale


def test_set_before_registration_cancels_it() -> None:
    """A flag set explicitly while its registration is pending is not registered afterwards."""
    store = RegisteringStore()
    store.down = True
    flags = ag.Flags(store, refresh=None, declare={"recs": True})
    store.down = False
    flags.set("recs", on=False, reason="INC-9")
    flags.refresh()
    assert store.calls == [["recs"]]  # only the failed attempt at construction
    assert store.read_all()["recs"]["reason"] == "INC-9"


def test_a_store_without_write_missing_is_left_alone() -> None:
    """A custom store with no atomic primitive gets no registration (no racy read-then-write)."""
    store = MinimalStore()
    flags = ag.Flags(store, refresh=None, declare={"recs": False})
    flags.declare("other")
    assert store.records == {}
    assert flags.enabled("recs") is False


def test_the_global_switch_is_never_registered() -> None:
    """aiguard.all is built in: declaring flags writes only the declared names."""
    store = ag.MemoryStore()
    ag.Flags(store, refresh=None, declare={"a": True})
    assert set(store.read_all()) == {"a"}


def test_names_the_store_did_not_ask_for_are_ignored() -> None:
    """A store answering names it was not given (or already read) changes nothing it should not."""

    class Chatty(ag.MemoryStore):
        def write_missing(self, records: Any) -> list[str]:
            return [*super().write_missing(records), "never.asked", "held"]

    store = Chatty()
    store.write("held", {"on": False, "reason": "operator"})
    flags = ag.Flags(store, refresh=None, declare={"fresh": True, "held": True})
    assert "never.asked" not in flags
    assert flags.get("held").reason == "operator"
    assert flags.get("fresh").source == "store"


def test_an_invalid_record_is_logged_once_however_often_it_is_read(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The same bad record on every refresh: counted each time, one warning."""
    store = ag.MemoryStore()
    store.write("bad", {"on": "yes"})
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        flags = ag.Flags(store, refresh=None)
        flags.refresh()
        flags.refresh()
    assert flags.status.invalid_records == 3
    assert len([r for r in caplog.records if "invalid record" in r.getMessage()]) == 1


def test_a_subscription_without_close_is_dropped_quietly() -> None:
    """A store whose subscribe() returns an object without close() does not break close()."""

    class Subscribing(ag.MemoryStore):
        def subscribe(self, callback: Any) -> object:
            self.callback = callback
            return object()

    store = Subscribing()
    flags = ag.Flags(store, refresh=60.0)
    store.write("a", {"on": False})
    assert store.callback() is True
    assert flags.enabled("a") is False
    flags.close()
    assert flags._poller.stopped


def test_setting_the_same_record_again_tells_no_listener() -> None:
    """set() writing exactly the record in force (same time stamp) emits no FlagChange."""
    flags = ag.Flags(refresh=None, wall_clock=lambda: 5.0)
    seen: list[Any] = []
    flags.add_listener(seen.append)
    flags.set("a", on=False, reason="x", actor="ana")
    flags.set("a", on=False, reason="x", actor="ana")
    assert [(c.name, c.new.on) for c in seen] == [("a", False)]
    assert len(flags.history("a")) == 2  # both writes are in the store's history

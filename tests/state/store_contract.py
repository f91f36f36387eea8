"""The contract every flag store passes: subclass :class:`StoreContract` per store.

A subclass provides one fixture, ``make_store``: a zero-argument factory whose
every call returns a *new handle on the same, initially empty, backing state*
(``FileStore(path)`` on one path, ``RedisStore(url, namespace=ns)`` on one
namespace; a ``MemoryStore`` factory returns its one instance). Read-only
stores set ``writable = False`` and override :meth:`StoreContract.seed`.
Stores that can hold raw garbage override :meth:`StoreContract.corrupt`.

Usage (``from tests.state.store_contract import StoreContract``)::

    class TestMyStore(StoreContract):
        @pytest.fixture
        def make_store(self, tmp_path):
            return lambda: MyStore(tmp_path / "flags")
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.strategies import flag_names, percents

from aiguard import Flags
from aiguard.errors import InvalidInputError, StoreError
from aiguard.state._records import parse_record
from aiguard.typing import FlagStore

Factory = Callable[[], Any]

names = flag_names(max_size=21)
records = st.fixed_dictionaries(
    {
        "on": st.booleans(),
        "percent": st.none() | percents,
        "updated_at": st.none() | st.floats(0, 4e9, allow_nan=False),
        "actor": st.none() | st.text(max_size=20),
        "reason": st.none() | st.text(max_size=40),
    }
)


class StoreContract:
    """Behaviour shared by every :class:`aiguard.typing.FlagStore`."""

    writable: ClassVar[bool] = True

    @pytest.fixture
    def make_store(self) -> Factory:  # pragma: no cover - always overridden
        raise NotImplementedError

    @pytest.fixture
    def store(self, make_store: Factory) -> Any:
        return make_store()

    # -- hooks a subclass may override ------------------------------------

    def seed(self, store: Any, name: str, record: Mapping[str, Any]) -> None:
        """Put *record* for *name* into the backing state (read-only stores override)."""
        store.write(name, record)

    def corrupt(self, store: Any, name: str) -> None:
        """Put garbage for *name* into the backing state (a record that fails validation)."""
        self.seed(store, name, {"on": "garbage", "percent": "lots"})

    # -- every store --------------------------------------------------------

    def test_is_a_flag_store(self, store: Any) -> None:
        """The store satisfies the FlagStore protocol."""
        assert isinstance(store, FlagStore)

    def test_fresh_store_reads_empty(self, store: Any) -> None:
        """A new, empty backing state reads as no flags."""
        assert dict(store.read_all()) == {}

    def test_seeded_records_read_back_as_states(self, store: Any) -> None:
        """Records put into the store parse back to the same on/percent."""
        self.seed(store, "recs.personalized", {"on": False})
        self.seed(store, "search", {"on": True, "percent": 25.0})
        read = store.read_all()
        assert set(read) == {"recs.personalized", "search"}
        off = parse_record("recs.personalized", read["recs.personalized"])
        part = parse_record("search", read["search"])
        assert (off.on, part.on, part.percent) == (False, True, 25.0)

    def test_read_all_returns_a_copy(self, store: Any) -> None:
        """Mutating what read_all returned does not change the store."""
        self.seed(store, "a", {"on": True})
        first = store.read_all()
        first["a"]["on"] = False
        first["b"] = {"on": True}
        assert {k: v["on"] for k, v in store.read_all().items()} == {"a": True}

    def test_another_handle_sees_the_same_state(self, make_store: Factory) -> None:
        """A second handle on the same backing state reads what the first holds."""
        one, two = make_store(), make_store()
        self.seed(one, "a", {"on": False})
        assert two.read_all()["a"]["on"] is False

    def test_flags_pick_up_a_change_on_refresh(self, store: Any) -> None:
        """A Flags set over the store sees an outside change at its next refresh, with an event."""
        self.seed(store, "a", {"on": True})
        flags = Flags(store, refresh=None, declare={"a": True})
        seen = []
        flags.add_listener(seen.append)
        self.seed(store, "a", {"on": False})
        assert flags.enabled("a") is True
        assert flags.refresh() is True
        assert flags.enabled("a") is False
        assert [(c.name, c.old.on, c.new.on, c.source) for c in seen] == [
            ("a", True, False, "refresh")
        ]

    def test_garbage_keeps_the_last_good_value(self, store: Any) -> None:
        """A record turned to garbage leaves the flag at its last good value."""
        self.seed(store, "a", {"on": False})
        self.seed(store, "b", {"on": False})
        flags = Flags(store, refresh=None)
        self.corrupt(store, "a")
        self.seed(store, "b", {"on": True})
        assert flags.refresh() is True
        assert (flags.enabled("a"), flags.enabled("b")) == (False, True)
        assert flags.stale is False

    # -- writable stores -------------------------------------------------------

    @pytest.fixture
    def writable_store(self, store: Any) -> Any:
        if not self.writable:
            pytest.skip(f"{type(store).__name__} is read-only")
        return store

    @settings(
        max_examples=15,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture, HealthCheck.differing_executors
        ],
    )
    @given(name=names, record=records)
    def test_write_then_read_round_trips(
        self, writable_store: Any, name: str, record: dict[str, Any]
    ) -> None:
        """Any valid record written reads back equal (the last write wins)."""
        writable_store.write(name, record)
        assert writable_store.read_all()[name] == record

    def test_overwrite_replaces_the_record(self, writable_store: Any) -> None:
        """Writing a flag again replaces its record and leaves the others alone."""
        writable_store.write("a", {"on": True, "reason": "x"})
        writable_store.write("b", {"on": True})
        writable_store.write("a", {"on": False})
        assert dict(writable_store.read_all()) == {"a": {"on": False}, "b": {"on": True}}

    def test_non_json_record_is_refused_and_nothing_changes(self, writable_store: Any) -> None:
        """A record JSON cannot hold raises InvalidInputError; the stored one survives."""
        writable_store.write("a", {"on": True})
        with pytest.raises(InvalidInputError):
            writable_store.write("a", {"on": False, "x": object()})
        with pytest.raises(InvalidInputError):
            writable_store.write("a", {"on": False, "x": float("nan")})
        assert dict(writable_store.read_all()) == {"a": {"on": True}}

    def test_history_is_oldest_first(self, writable_store: Any) -> None:
        """A store keeping history returns every write of a flag, oldest first."""
        if not callable(getattr(writable_store, "history", None)):
            pytest.skip("this store keeps no history")
        for i in range(5):
            writable_store.write("a", {"on": i % 2 == 0, "n": i})
        writable_store.write("b", {"on": True})
        assert [r["n"] for r in writable_store.history("a")] == [0, 1, 2, 3, 4]
        assert list(writable_store.history("never")) == []

    def test_flags_set_reaches_another_flag_set(self, make_store: Factory) -> None:
        """flags.set through one handle is seen, with who and why, by a flag set on another."""
        if not self.writable:
            pytest.skip("read-only store")
        ops = Flags(make_store(), refresh=None)
        app = Flags(make_store(), refresh=None, declare={"recs": True})
        ops.set("recs", on=False, reason="INC-42", actor="ana")
        assert app.enabled("recs") is True
        app.refresh()
        state = app.get("recs")
        assert (state.on, state.reason, state.actor) == (False, "INC-42", "ana")
        assert [s.reason for s in app.history("recs")][-1] == "INC-42"

    def test_concurrent_writers_lose_no_update(self, make_store: Factory) -> None:
        """Four threads with their own handles writing different flags: every write lands."""
        if not self.writable:
            pytest.skip("read-only store")
        errors: list[BaseException] = []

        def writer(t: int) -> None:
            store = make_store()
            try:
                for i in range(10):
                    store.write(f"t{t}.f{i}", {"on": True, "n": i})
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(make_store().read_all()) == 40

    def test_write_missing_writes_only_what_is_absent(self, writable_store: Any) -> None:
        """write_missing stores absent flags, returns their names, and never replaces a record."""
        writable_store.write("held", {"on": False, "reason": "operator"})
        written = writable_store.write_missing(
            {"held": {"on": True, "reason": "declared"}, "new": {"on": True, "reason": "declared"}}
        )
        assert list(written) == ["new"]
        read = writable_store.read_all()
        assert (read["held"]["reason"], read["new"]["reason"]) == ("operator", "declared")
        assert [r["reason"] for r in writable_store.history("held")] == ["operator"]
        assert [r["reason"] for r in writable_store.history("new")] == ["declared"]
        assert list(writable_store.write_missing({"new": {"on": False}})) == []
        assert list(writable_store.write_missing({})) == []

    def test_write_missing_refuses_a_non_json_record_and_writes_nothing(
        self, writable_store: Any
    ) -> None:
        """A record JSON cannot hold raises InvalidInputError before anything is written."""
        with pytest.raises(InvalidInputError):
            writable_store.write_missing({"a": {"on": True}, "b": {"on": True, "x": object()}})
        assert dict(writable_store.read_all()) == {}

    def test_concurrent_write_missing_registers_once(self, make_store: Factory) -> None:
        """Eight threads with their own handles register one flag: one wins, its record stays."""
        if not self.writable:
            pytest.skip("read-only store")
        barrier = threading.Barrier(8)
        won: list[int] = []

        def register(i: int) -> None:
            store = make_store()
            barrier.wait()
            if list(store.write_missing({"recs": {"on": i % 2 == 0, "n": i}})) == ["recs"]:
                won.append(i)

        threads = [threading.Thread(target=register, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(won) == 1
        store = make_store()
        assert store.read_all()["recs"]["n"] == won[0]
        assert [r["n"] for r in store.history("recs")] == won

    def test_declared_flags_are_registered_and_a_stored_value_wins(
        self, make_store: Factory
    ) -> None:
        """Flags(declare=...) registers absent flags with actor and reason; stored ones stay."""
        if not self.writable:
            pytest.skip("read-only store")
        make_store().write("kept", {"on": False, "reason": "INC-1", "actor": "ana"})
        flags = Flags(make_store(), refresh=None, declare={"kept": True, "fresh": False})
        read = make_store().read_all()
        assert read["kept"] == {"on": False, "reason": "INC-1", "actor": "ana"}
        assert (read["fresh"]["on"], read["fresh"]["reason"]) == (
            False, "declared in code (default off)"
        )
        assert "@" in read["fresh"]["actor"]
        assert (flags.enabled("kept"), flags.enabled("fresh")) == (False, False)
        assert flags.get("fresh").source == "store"
        assert [s.reason for s in flags.history("fresh")] == ["declared in code (default off)"]

    # -- read-only stores ------------------------------------------------------

    def test_read_only_store_refuses_writes(self, store: Any) -> None:
        """A read-only store raises StoreError on write, and Flags.set changes nothing."""
        if self.writable:
            pytest.skip("writable store")
        self.seed(store, "a", {"on": True})
        flags = Flags(store, refresh=None)
        with pytest.raises(StoreError):
            store.write("a", {"on": False})
        with pytest.raises(StoreError):
            flags.set("a", on=False)
        assert flags.enabled("a") is True

    def test_read_only_store_is_left_alone_by_declare(self, store: Any) -> None:
        """Declaring on a read-only store writes nothing: the declared default stays local."""
        if self.writable:
            pytest.skip("writable store")
        flags = Flags(store, refresh=None, declare={"declared.only": False})
        assert "declared.only" not in store.read_all()
        assert flags.get("declared.only").source == "declared"
        assert flags.status.registration_errors == 0

"""ModelRegistry: champion, promote, rollback to the last known good, store sharing, atomicity."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aiguard as ag
from aiguard.errors import (
    ConfigurationError,
    InvalidInputError,
    StoreError,
    UnknownVersionError,
)
from aiguard.recover._champion import ChampionChange, change_record, parse
from aiguard.testing import FakeClock

if TYPE_CHECKING:
    from pathlib import Path


def constant(value: str) -> Any:
    return lambda *_: value


class Predictor:
    """An object with predict() only (a scikit-learn-style model)."""

    def __init__(self, value: str) -> None:
        self.value = value

    def predict(self, x: object) -> str:
        return f"{self.value}:{x}"


def make(*versions: str, store: Any = None) -> ag.ModelRegistry:
    registry = ag.ModelRegistry("recs", store=store, refresh=None, clock=FakeClock(100.0))
    for version in versions:
        registry.register(version, constant(version))
    return registry


def test_first_registered_serves_until_a_promote() -> None:
    """Nothing promoted: the first version serves; nothing is written to the store."""
    store = ag.MemoryStore()
    registry = make("v1", "v2", store=store)
    assert (registry(0), registry.champion, registry.versions) == ("v1", "v1", ("v1", "v2"))
    assert store.read_all() == {}
    assert registry.history() == []


def test_empty_registry_refuses_calls() -> None:
    """A registry with no version raises UnknownVersionError naming the registry."""
    registry = make()
    assert registry.champion is None
    with pytest.raises(UnknownVersionError, match="'recs' has no version registered"):
        registry(1)
    with pytest.raises(UnknownVersionError):
        registry.predict(1)


def test_rollback_goes_to_last_known_good() -> None:
    """v1 -> v2 -> v3, rollback gives v2; rollback again gives v1 (v3 was rolled back)."""
    registry = make("v1", "v2", "v3")
    registry.promote("v2", reason="r2", actor="ana")
    registry.promote("v3", reason="r3")
    assert registry.rollback(reason="bad v3").version == "v2"
    assert registry.rollback(reason="bad v2 too").version == "v1"
    with pytest.raises(InvalidInputError, match="no known good version before 'v1'"):
        registry.rollback(reason="nothing left")
    history = registry.history()
    assert [(c.action, c.previous, c.version) for c in history] == [
        ("promote", "v1", "v2"), ("promote", "v2", "v3"),
        ("rollback", "v3", "v2"), ("rollback", "v2", "v1")]
    assert history[0].actor == "ana"
    assert history[0].at == 100.0
    assert history[1].actor is not None  # default user@host


def test_rolled_back_version_is_not_known_good() -> None:
    """A version rolled back is skipped by a later default rollback."""
    registry = make("v1", "v2", "v3")
    registry.promote("v2", reason="r")
    registry.rollback(reason="v2 bad")  # v1 serves, v2 is bad
    registry.promote("v3", reason="r")
    assert registry.rollback(reason="v3 bad").version == "v1"


def test_re_promoted_version_is_good_again() -> None:
    """A version that served again and was replaced by a promote counts as known good."""
    registry = make("v1", "v2", "v3")
    registry.promote("v2", reason="r")
    registry.rollback(reason="bad")
    registry.promote("v2", reason="fixed")
    registry.promote("v3", reason="next")
    assert registry.rollback(reason="v3 bad").version == "v2"


def test_rollback_to_explicit_version() -> None:
    """to= picks the version; to the champion or to an unknown one is refused."""
    registry = make("v1", "v2", "v3")
    registry.promote("v2", reason="r")
    registry.promote("v3", reason="r")
    assert registry.rollback(reason="r", to="v1").version == "v1"
    with pytest.raises(InvalidInputError, match="other than the champion"):
        registry.rollback(reason="r", to="v1")
    with pytest.raises(UnknownVersionError, match="no version 'v9'"):
        registry.rollback(reason="r", to="v9")
    assert registry.champion == "v1"


def test_promote_errors() -> None:
    """Unknown version, the champion itself, a missing reason or a bad actor are refused."""
    registry = make("v1", "v2")
    with pytest.raises(UnknownVersionError):
        registry.promote("v3", reason="r")
    with pytest.raises(InvalidInputError, match="other than the champion"):
        registry.promote("v1", reason="r")
    with pytest.raises(ConfigurationError, match="reason"):
        registry.promote("v2", reason="")
    with pytest.raises(ConfigurationError, match="actor"):
        registry.promote("v2", reason="r", actor=3)  # type: ignore[arg-type]
    assert registry.champion == "v1"


def test_register_errors() -> None:
    """Duplicates, non-callables and bad version names are refused."""
    registry = make("v1")
    with pytest.raises(ConfigurationError, match="not registered yet"):
        registry.register("v1", constant("x"))
    with pytest.raises(ConfigurationError, match="predict"):
        registry.register("v2", 42)
    with pytest.raises(InvalidInputError):
        registry.register("", constant("x"))
    with pytest.raises(InvalidInputError):
        ag.ModelRegistry("Bad Name!")
    with pytest.raises(InvalidInputError, match="121"):
        ag.ModelRegistry("r" * 125)
    with pytest.raises(ConfigurationError, match="store"):
        ag.ModelRegistry("recs", store=object())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="refresh"):
        ag.ModelRegistry("recs", refresh=0)


def test_predict_and_call_of_objects() -> None:
    """A predict-only object serves both registry(x) and registry.predict(x); metadata kept."""
    registry = ag.ModelRegistry("m", refresh=None)
    registry.register("a", Predictor("a"), metadata={"auc": 0.91})
    assert (registry(1), registry.predict(2)) == ("a:1", "a:2")
    assert registry.model("a").metadata == {"auc": 0.91}
    with pytest.raises(UnknownVersionError):
        registry.model("zz")
    assert "champion='a'" in repr(registry)


def test_wraps_inside_a_guard() -> None:
    """A Guard around the registry serves the champion and follows a rollback."""
    registry = make("v1", "v2")
    registry.promote("v2", reason="r")
    guarded = ag.Guard(name="recs", fallback=constant("fallback"))(registry)
    assert guarded(1) == "v2"
    registry.rollback(reason="r")
    assert guarded(1) == "v1"


def test_replicas_share_the_choice(tmp_path: Path) -> None:
    """Two registries on one file store: a promote in one reaches the other at refresh."""
    a = make("v1", "v2", store=ag.FileStore(tmp_path / "models.json"))
    b = make("v1", "v2", store=ag.FileStore(tmp_path / "models.json"))
    a.promote("v2", reason="r")
    assert b.champion == "v1"
    assert b.refresh() == "v2"
    assert b(0) == "v2"
    assert b.refresh() == "v2"  # unchanged: nothing to do


def test_missing_version_keeps_serving_then_adopts_on_register(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The store names a version this replica lacks: counted, logged once, adopted on register."""
    store = ag.MemoryStore()
    leader = make("v1", "v2", store=store)
    leader.promote("v2", reason="r")
    replica = make("v1", store=store)
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        replica.refresh()
        replica.refresh()
    assert (replica.champion, replica.missing) == ("v1", 2)
    assert sum("has not registered" in r.message for r in caplog.records) == 1
    replica.register("v2", constant("v2"))
    assert replica(0) == "v2"


class BrokenStore:
    """A store that is down, then comes back."""

    def __init__(self) -> None:
        self.inner = ag.MemoryStore()
        self.down = True

    def read_all(self) -> Any:
        if self.down:
            raise StoreError("down")
        return self.inner.read_all()

    def write(self, name: str, record: Any) -> None:
        if self.down:
            raise StoreError("down")
        self.inner.write(name, record)


def test_rollback_applies_locally_when_the_store_is_down() -> None:
    """Store down: rollback serves at once, counted; it is written when the store is back."""
    store = BrokenStore()
    store.down = False
    registry = make("v1", "v2", store=store)
    registry.promote("v2", reason="r")
    store.down = True
    change = registry.rollback(reason="incident")
    assert (registry(0), change.version) == ("v1", "v1")
    assert registry.errors == 2  # the read and the write
    assert registry.refresh() == "v1"  # still down: keeps its own choice
    store.down = False
    assert registry.refresh() == "v1"
    assert parse(store.inner.read_all()["models.recs"]).version == "v1"  # type: ignore[union-attr]
    assert registry.history() == []  # BrokenStore keeps no history


def test_unreadable_store_marks_stale() -> None:
    """A refresh that cannot read keeps the champion and sets stale until the store answers."""
    store = BrokenStore()
    registry = make("v1", store=store)
    assert registry.refresh() == "v1"
    assert registry.stale
    store.down = False
    registry.refresh()
    assert not registry.stale


def test_background_refresh_picks_up_a_change() -> None:
    """With refresh= a daemon thread adopts the store's choice without any call."""
    store = ag.MemoryStore()
    leader = make("v1", "v2", store=store)
    with ag.ModelRegistry("recs", store=store, refresh=0.01) as follower:
        follower.register("v1", constant("v1"))
        follower.register("v2", constant("v2"))
        leader.promote("v2", reason="r")
        done = threading.Event()
        for _ in range(500):
            if follower.champion == "v2":
                done.set()
                break
            done.wait(0.01)
        assert follower.champion == "v2"


def test_change_record_rules() -> None:
    """The good stack: promote pushes the outgoing champion, rollback drops it."""
    first = change_record(None, None, action="promote", to="a", at=0.0, actor=None, reason=None)
    assert (first.previous, first.good) == (None, ())
    second = change_record(first, None, action="promote", to="b", at=1.0, actor=None,
                           reason=None)
    assert second.good == ("a",)
    back = change_record(second, None, action="rollback", to=None, at=2.0, actor=None,
                         reason=None)
    assert (back.version, back.good) == ("a", ())
    assert parse(back.to_record()) == back


@pytest.mark.parametrize("record", [
    None, {"on": True}, {"kind": "aiguard.model/1", "version": 3, "action": "promote"},
    {"kind": "aiguard.model/1", "version": "v", "action": "undo"},
    {"kind": "aiguard.model/1", "version": "v", "action": "promote", "good": "v1"},
    {"kind": "aiguard.model/1", "version": "v", "action": "promote", "updated_at": True},
])
def test_parse_refuses_garbage(record: object) -> None:
    """Records that are not champion records read as None."""
    assert parse(record) is None


def test_parse_tolerates_odd_text_fields() -> None:
    """Non-string actor and reason read as None."""
    change = parse({"kind": "aiguard.model/1", "version": "v", "action": "rollback",
                    "actor": 1, "reason": 2, "updated_at": 5})
    assert change == ChampionChange("v", None, "rollback", 5.0, None, None, ())


def test_rollback_atomic_under_eight_threads() -> None:
    """8 threads call while another promotes and rolls back 1,000 times each.

    Every answer is exactly one version's, whole (its tag and its value
    agree), and the history holds all 2,000 changes in order.
    """
    store = ag.MemoryStore(history_limit=5000)
    registry = ag.ModelRegistry("recs", store=store, refresh=None)
    offsets = {"v1": 1000, "v2": 2000}

    def model_of(version: str) -> Any:
        def model(x: int) -> tuple[str, int]:
            total = sum(range(50))  # some work while a swap may happen
            return version, x + offsets[version] + total - total

        return model

    registry.register("v1", model_of("v1"))
    registry.register("v2", model_of("v2"))
    stop = threading.Event()
    answers: list[list[tuple[str, int]]] = [[] for _ in range(8)]

    def caller(i: int) -> None:
        out = answers[i]
        while not stop.is_set():
            out.append(registry(i))

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for _ in range(1000):
        registry.promote("v2", reason="up")
        registry.rollback(reason="down")
    stop.set()
    for t in threads:
        t.join()
    for i, out in enumerate(answers):
        assert out
        assert all(x == i + offsets[version] for version, x in out)
    assert {v for out in answers for v, _ in out} == {"v1", "v2"}
    history = registry.history()
    assert len(history) == 2000
    assert [c.action for c in history] == ["promote", "rollback"] * 1000
    assert all(c.version == ("v2" if c.action == "promote" else "v1") for c in history)


def test_listeners_see_local_and_adopted_changes() -> None:
    """Listeners get this registry's changes and the ones adopted from the store."""
    store = ag.MemoryStore()
    leader, follower = make("v1", "v2", store=store), make("v1", "v2", store=store)
    seen: list[tuple[str, str]] = []
    follower.add_listener(lambda c: seen.append(("follower", c.version)))
    leader.add_listener(lambda c: seen.append(("leader", c.version)))
    leader.add_listener(lambda c: 1 / 0)  # a broken listener never breaks the change
    leader.promote("v2", reason="r")
    follower.refresh()
    leader.rollback(reason="r")
    follower.refresh()
    assert seen == [("leader", "v2"), ("follower", "v2"), ("leader", "v1"), ("follower", "v1")]


def test_second_change_while_the_store_is_down_builds_on_the_first() -> None:
    """Two changes during an outage chain (the unsynced one is the base); close without a poller."""
    store = BrokenStore()
    store.down = False
    registry = make("v1", "v2", "v3", store=store)
    registry.promote("v2", reason="r")
    store.down = True
    registry.promote("v3", reason="r")
    assert registry.rollback(reason="r").version == "v2"
    registry.close()  # refresh=None: nothing to stop
    store.down = False
    registry.refresh()
    assert parse(store.inner.read_all()["models.recs"]).version == "v2"  # type: ignore[union-attr]


def test_refresh_thread_ends_when_the_registry_is_gone() -> None:
    """The shared poller holds the registry weakly: once it is collected, the thread ends."""
    import gc

    registry = ag.ModelRegistry("gone", refresh=0.01)
    registry.register("v1", abs)
    poller = registry._poller
    assert poller is not None
    assert poller.running
    del registry
    gc.collect()
    assert poller.join(5)
    assert poller.stopped


VERSIONS = ["v1", "v2", "v3", "v4"]
operations = st.lists(
    st.one_of(st.tuples(st.just("promote"), st.sampled_from(VERSIONS)),
              st.tuples(st.just("rollback"), st.none()),
              st.tuples(st.just("rollback"), st.sampled_from(VERSIONS))),
    max_size=30)


def reference_last_known_good(stints: list[tuple[str, str | None]]) -> str | None:
    """Written from the definition: walking back through earlier stints, the first version
    other than the champion whose latest stint did not end in a rollback."""
    current = stints[-1][0]
    latest_end: dict[str, str | None] = {}
    for version, ended in stints[:-1]:
        latest_end[version] = ended
    for version, _ in reversed(stints[:-1]):
        if version != current and latest_end[version] != "rollback":
            return version
    return None


@settings(max_examples=150, deadline=None)
@given(operations)
def test_rollback_matches_the_definition(ops: list[tuple[str, str | None]]) -> None:
    """Any sequence of promotes and rollbacks: the default target is the reference's answer."""
    registry = make(*VERSIONS)
    stints: list[tuple[str, str | None]] = [("v1", None)]
    for action, named in ops:
        champion = stints[-1][0]
        if action == "promote":
            if named is None or named == champion:
                continue
            registry.promote(named, reason="r")
            target: str | None = named
        else:
            target = named or reference_last_known_good(stints)
            if target is None or target == champion:
                with pytest.raises(InvalidInputError):
                    registry.rollback(reason="r", to=named)
                continue
            assert registry.rollback(reason="r", to=named).version == target
        stints[-1] = (champion, action)
        stints.append((target, None))
        assert registry.champion == target

"""RedisStore against a real redis-server: layout, garbage, outages, pub/sub, fork."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid

import pytest
import redis
from tests.state.store_contract import StoreContract

from aiguard.errors import ConfigurationError, InvalidInputError, StoreError
from aiguard.state._redis import RedisStore

pytestmark = pytest.mark.redis


def _wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@pytest.fixture
def raw(redis_url: str):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def store(redis_url: str):
    made = RedisStore(redis_url, namespace="t")
    yield made
    made.close()


def test_write_then_read_all_round_trips(store: RedisStore) -> None:
    """A written record reads back equal from a second store on the same server."""
    store.write("recs.personalized", {"on": False, "reason": "3 AM"})
    other = RedisStore(store.url, namespace="t")
    assert other.read_all() == {"recs.personalized": {"on": False, "reason": "3 AM"}}


def test_layout_is_one_hash_field_per_flag(store: RedisStore, raw: redis.Redis) -> None:
    """Records live as JSON in the {namespace}:flags hash."""
    store.write("a", {"on": True})
    store.write("b", {"on": False})
    fields = raw.hgetall("t:flags")
    assert {k.decode(): json.loads(v) for k, v in fields.items()} == {
        "a": {"on": True}, "b": {"on": False},
    }


def test_namespaces_do_not_see_each_other(store: RedisStore) -> None:
    """Two namespaces on one server hold separate flag sets."""
    store.write("a", {"on": False})
    assert RedisStore(store.url, namespace="other").read_all() == {}


def test_history_is_bounded_and_oldest_first(redis_url: str) -> None:
    """history() keeps the last history_limit records, oldest first."""
    store = RedisStore(redis_url, namespace="h", history_limit=3)
    for i in range(5):
        store.write("a", {"on": i % 2 == 0, "n": i})
    assert [r["n"] for r in store.history("a")] == [2, 3, 4]
    assert store.history("never") == []


def test_garbage_keeps_the_last_good_record(
    store: RedisStore, raw: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """Non-JSON, non-record values and bad names keep the last good record, logged once."""
    store.write("a", {"on": False})
    store.write("b", {"on": True})
    assert store.read_all()["a"] == {"on": False}
    raw.hset("t:flags", "a", b"{not json")
    raw.hset("t:flags", "b", b"[1, 2]")
    raw.hset("t:flags", "c", b"\xff\xfe")
    raw.hset("t:flags", "d", json.dumps({"on": "nope"}))  # JSON, but not a flag record
    raw.hset("t:flags", "Bad Name!", json.dumps({"on": True}))
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        first = store.read_all()
        second = store.read_all()
    assert first == second == {"a": {"on": False}, "b": {"on": True}}
    assert store.garbage == 10
    assert len([r for r in caplog.records if "garbage" in r.getMessage()]) == 5


def test_garbage_in_history_is_skipped(store: RedisStore, raw: redis.Redis) -> None:
    """A garbage history entry is left out; the good ones remain."""
    store.write("a", {"on": False})
    raw.lpush("t:history:a", b"junk")
    store.write("a", {"on": True})
    assert store.history("a") == [{"on": False}, {"on": True}]


def test_unserialisable_record_is_a_typed_error(store: RedisStore) -> None:
    """A record that is not JSON-serialisable raises InvalidInputError and writes nothing."""
    with pytest.raises(InvalidInputError, match="record must be a JSON-serialisable mapping"):
        store.write("a", {"on": False, "x": float("nan")})
    assert store.read_all() == {}


def test_invalid_names_and_records_are_refused_on_write(store: RedisStore) -> None:
    """A bad flag name or a record that is not a flag record raises and writes nothing."""
    with pytest.raises(InvalidInputError, match="name must be a flag name"):
        store.write("Bad Name!", {"on": False})
    with pytest.raises(InvalidInputError, match=r"record\['on'\]"):
        store.write("a", {"on": "off"})
    assert store.read_all() == {}


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"url": "http://x"}, "url"),
        ({"url": "redis://127.0.0.1:notaport/0"}, "url"),
        ({"url": 5}, "url"),
        ({"namespace": ""}, "namespace"),
        ({"namespace": "a b"}, "namespace"),
        ({"socket_timeout": 0}, "socket_timeout"),
        ({"socket_timeout": float("inf")}, "socket_timeout"),
        ({"socket_timeout": "1"}, "socket_timeout"),
        ({"history_limit": 0}, "history_limit"),
        ({"history_limit": True}, "history_limit"),
    ],
)
def test_bad_arguments_name_themselves(kwargs: dict, argument: str) -> None:
    """Invalid constructor arguments raise ConfigurationError naming the argument."""
    kwargs = {"url": "redis://127.0.0.1:1/0", **kwargs}
    url = kwargs.pop("url")
    with pytest.raises(ConfigurationError) as info:
        RedisStore(url, **kwargs)
    assert info.value.argument == argument


def test_repr_hides_the_password() -> None:
    """The password in the URL never reaches repr or error messages."""
    store = RedisStore("redis://:s3cret@127.0.0.1:1/0")
    assert "s3cret" not in repr(store)
    with pytest.raises(StoreError) as info:
        store.read_all()
    assert "s3cret" not in str(info.value)
    assert "***@127.0.0.1:1/0" in repr(store)


def test_outage_raises_store_error_quickly_and_recovers(redis_server, redis_url: str) -> None:
    """With the server down, calls fail fast with StoreError; after a restart they work."""
    store = RedisStore(redis_url, namespace="t", socket_timeout=0.25)
    store.write("a", {"on": False})
    redis_server.stop()
    started = time.perf_counter()
    calls = (store.read_all, lambda: store.write("a", {"on": True}), lambda: store.history("a"))
    for call in calls:
        with pytest.raises(StoreError):
            call()
    assert time.perf_counter() - started < 3 * 0.25 + 0.5
    assert store.errors == 3
    redis_server.restart()
    assert store.read_all() == {}  # nothing is saved: the restarted server is empty
    store.write("a", {"on": True})
    assert store.read_all() == {"a": {"on": True}}


def test_a_vanished_flags_hash_is_an_error_not_an_empty_store(
    redis_server, redis_url: str
) -> None:
    """After a restart without persistence, readers keep their last values until a new write."""
    store = RedisStore(redis_url, namespace="t")
    store.write("a", {"on": False})
    assert store.read_all() == {"a": {"on": False}}
    redis_server.restart()
    with pytest.raises(StoreError, match="vanished"):
        store.read_all()
    assert RedisStore(redis_url, namespace="t").read_all() == {}  # a new process: simply empty
    store.write("b", {"on": True})
    assert store.read_all() == {"b": {"on": True}}


def test_subscription_calls_back_on_every_write(store: RedisStore) -> None:
    """A write from another store reaches the subscriber's callback."""
    seen = threading.Event()
    calls: list[int] = []

    def callback() -> None:
        calls.append(1)
        if len(calls) >= 2:  # one for the connection, one for the write
            seen.set()

    subscription = store.subscribe(callback)
    assert _wait_for(lambda: subscription.connects == 1)
    RedisStore(store.url, namespace="t").write("a", {"on": False})
    assert seen.wait(5)
    subscription.close()
    assert subscription.closed


def test_subscription_survives_a_callback_that_raises(store: RedisStore) -> None:
    """A failing callback is counted; later messages still arrive."""
    calls: list[int] = []

    def callback() -> None:
        calls.append(1)
        raise RuntimeError("boom")

    subscription = store.subscribe(callback)
    assert _wait_for(lambda: subscription.connects == 1)
    store.write("a", {"on": False})
    store.write("a", {"on": True})
    assert _wait_for(lambda: len(calls) >= 3)
    assert subscription.errors >= 3
    store.close()
    assert subscription.closed


def test_subscription_reconnects_after_a_restart(redis_server, redis_url: str) -> None:
    """After the server restarts the subscriber reconnects, calls back, and hears new writes."""
    store = RedisStore(redis_url, namespace="t")
    calls: list[int] = []
    subscription = store.subscribe(lambda: calls.append(1))
    assert _wait_for(lambda: subscription.connects == 1)
    redis_server.stop()
    assert _wait_for(lambda: subscription.errors >= 1)
    redis_server.start()
    assert _wait_for(lambda: subscription.connects >= 2)
    before = len(calls)
    store.write("a", {"on": False})
    assert _wait_for(lambda: len(calls) > before)
    subscription.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_subscription_restarts_in_a_forked_child(store: RedisStore) -> None:
    """A forked child gets its own subscriber thread that hears writes."""
    subscription = store.subscribe(lambda: None)
    assert _wait_for(lambda: subscription.connects == 1)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_fd)
        heard = threading.Event()
        subscription._callback = heard.set
        ok = heard.wait(5) and subscription._poller.running
        os.write(write_fd, b"1" if ok else b"0")
        os._exit(0)
    os.close(write_fd)
    time.sleep(0.3)  # the child's new thread subscribes; its first callback sets the event
    store.write("a", {"on": False})
    answer = os.read(read_fd, 1)
    os.waitpid(pid, 0)
    os.close(read_fd)
    subscription.close()
    assert answer == b"1"


def test_breaker_board_round_trips(store: RedisStore, raw: redis.Redis) -> None:
    """Breaker reports are one hash field per replica; garbage is skipped; forget deletes."""
    store.post_breaker("recs", "r1", {"state": "open", "tripped_at": 10.0})
    store.post_breaker("recs", "r2", {"state": "closed"})
    raw.hset("t:breakers:recs", "r3", b"junk")
    assert store.read_breakers("recs") == {
        "r1": {"state": "open", "tripped_at": 10.0}, "r2": {"state": "closed"},
    }
    store.forget_breaker("recs", "r1")
    assert set(store.read_breakers("recs")) == {"r2"}


def test_breaker_board_outage_is_a_store_error(redis_server, redis_url: str) -> None:
    """Board calls raise StoreError while the server is down."""
    store = RedisStore(redis_url, namespace="t")
    redis_server.stop()
    for call in (
        lambda: store.post_breaker("recs", "r1", {"state": "open"}),
        lambda: store.read_breakers("recs"),
        lambda: store.forget_breaker("recs", "r1"),
    ):
        with pytest.raises(StoreError):
            call()
    redis_server.start()


class TestRedisStoreContract(StoreContract):
    """The store contract every FlagStore passes, on a real redis-server."""

    @pytest.fixture
    def make_store(self, redis_url: str):
        namespace = f"contract-{uuid.uuid4().hex[:8]}"
        return lambda: RedisStore(redis_url, namespace=namespace)

    def corrupt(self, store: RedisStore, name: str) -> None:
        client = redis.Redis.from_url(store.url)
        client.hset(f"{store.namespace}:flags", name, b"{garbage")
        client.close()


def test_idle_subscription_pings_and_ignores_pongs(
    store: RedisStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A quiet subscription pings the server; the pongs trigger no callback."""
    import aiguard.state._subscription as module

    monkeypatch.setattr(module, "_PING_AFTER", 0.0)
    calls: list[int] = []
    subscription = store.subscribe(lambda: calls.append(1))
    assert _wait_for(lambda: subscription.connects == 1)
    time.sleep(1.2)  # get_message waits 0.5 s per round: at least two pings and pongs
    subscription.close()
    assert calls == [1]  # only the connection's own refresh
    assert subscription.errors == 0


def test_subscription_to_a_dead_server_retries_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With nothing listening the subscriber keeps retrying, logging one warning."""
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        subscription = RedisStore("redis://127.0.0.1:1/0").subscribe(lambda: None)
        assert _wait_for(lambda: subscription.errors >= 3)
        subscription.close()
    assert subscription.connects == 0
    assert len([r for r in caplog.records if "subscription lost" in r.getMessage()]) == 1


def test_a_server_that_never_answers_times_out_quickly() -> None:
    """A peer that accepts the connection but never replies costs one socket_timeout, no hang."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes connections; nobody ever reads or writes
        port = silent.getsockname()[1]
        store = RedisStore(f"redis://127.0.0.1:{port}/0", socket_timeout=0.2)
        started = time.perf_counter()
        with pytest.raises(StoreError):
            store.read_all()
        elapsed = time.perf_counter() - started
    assert 0.15 < elapsed < 1.5


def test_write_missing_against_a_dead_server_is_a_counted_store_error() -> None:
    """Registering flags with nothing listening raises StoreError quickly and counts it."""
    store = RedisStore("redis://127.0.0.1:1/0")
    with pytest.raises(StoreError, match="register the flags"):
        store.write_missing({"a": {"on": True}})
    assert store.errors == 1


def test_write_missing_refuses_an_invalid_record_before_any_io() -> None:
    """An invalid name or record is refused before Redis is contacted (nothing counted)."""
    store = RedisStore("redis://127.0.0.1:1/0")
    with pytest.raises(InvalidInputError):
        store.write_missing({"Bad Name": {"on": True}})
    with pytest.raises(InvalidInputError):
        store.write_missing({"a": {"on": "yes"}})
    assert store.write_missing({}) == []
    assert store.errors == 0

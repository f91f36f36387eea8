"""One incident shared by replicas through a real redis-server."""

from __future__ import annotations

import threading

import pytest

import aiguard as ag
from aiguard.detect import Signal
from aiguard.review import Incident, IncidentLog
from aiguard.testing import FakeClock

T0 = 1_700_000_000.0


def opening(incident_id: str, key: str = "recs") -> dict[str, object]:
    return Incident.open_record(id=incident_id, title="t", key=key, type="performance",
                                severity=ag.Severity.HIGH, at=T0, actor="aiguard",
                                affected=None, tags=(), respond_within=None)


def test_two_replicas_share_one_incident(redis_url: str) -> None:
    """Replica B joins A's incident for the same key and both see each other's changes."""
    a = IncidentLog(store=ag.RedisStore(redis_url))
    b = IncidentLog(store=ag.RedisStore(redis_url))
    first = a.open(opening("INC-A"))
    joined = b.open(opening("INC-B"))
    assert joined.id == first.id == "INC-A"
    a.change("INC-A", "count", actor="guard recs", fallback_calls=10)
    b.change("INC-A", "count", actor="guard recs", fallback_calls=5)
    b.change("INC-A", "ack", actor="ana")
    a.refresh()
    b.refresh()
    assert a.get("INC-A") == b.get("INC-A")
    assert a.get("INC-A").counters["fallback_calls"] == 15
    assert [r["op"] for r in IncidentLog(store=ag.RedisStore(redis_url)).history("INC-A")] == [
        "open", "count", "count", "ack"]


def test_racing_replicas_open_one_incident(redis_url: str) -> None:
    """Eight replicas opening the same key at once end up on one incident."""
    logs = [IncidentLog(store=ag.RedisStore(redis_url)) for _ in range(8)]
    ids: list[str] = []
    barrier = threading.Barrier(8)

    def race(n: int) -> None:
        barrier.wait()
        ids.append(logs[n].open(opening(f"INC-{n}")).id)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 1
    reader = IncidentLog(store=ag.RedisStore(redis_url))
    assert [i.id for i in reader.incidents()] == [ids[0]]


def test_a_resolved_holder_is_replaced(redis_url: str) -> None:
    """After the incident of a key is resolved, the next breach opens a new one."""
    a = IncidentLog(store=ag.RedisStore(redis_url))
    b = IncidentLog(store=ag.RedisStore(redis_url))
    a.open(opening("INC-1"))
    a.change("INC-1", "status", actor="ana", status="resolved")
    assert b.open(opening("INC-2")).id == "INC-2"
    a.refresh()
    assert [i.id for i in a.open_incidents()] == ["INC-2"]


def test_incidents_on_two_replicas_write_one_incident(redis_url: str) -> None:
    """Two Incidents managers with the same Redis store: one incident, both signals in it."""
    clock = FakeClock(T0)
    one = ag.Incidents(log=IncidentLog(store=ag.RedisStore(redis_url)), clock=clock)
    two = ag.Incidents(log=IncidentLog(store=ag.RedisStore(redis_url)), clock=clock)
    one.handle(Signal(source="recs.inputs", kind="drift", value=0.3, at=0))
    assert one.flush()
    two.handle(Signal(source="recs.inputs", kind="drift", value=0.4, at=0))
    assert two.flush()
    one.log.refresh()
    (inc,) = one.open_incidents()
    assert [s["value"] for s in inc.signals] == [0.3, 0.4]
    one.close()
    two.close()


def test_an_unreachable_store_is_a_store_error() -> None:
    """Redis down: StoreError when opening the log."""
    with pytest.raises(ag.StoreError):
        IncidentLog(store=ag.RedisStore("redis://127.0.0.1:1/0"))


def test_a_store_going_down_after_open_is_a_store_error(redis_server: object,
                                                        redis_url: str) -> None:
    """Writes to a Redis that stopped raise StoreError; nothing is applied."""
    log = IncidentLog(store=ag.RedisStore(redis_url))
    log.open(opening("INC-1"))
    redis_server.stop()  # type: ignore[attr-defined]
    with pytest.raises(ag.StoreError):
        log._write({"v": 1, "id": "INC-1", "op": "ack", "at": T0, "actor": "ana"})
    assert log.get("INC-1").acknowledged_at is None
    log.close()

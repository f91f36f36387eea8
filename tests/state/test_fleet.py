"""Shared breaker state: the N-of-M rule, boards, forcing and releasing, staleness."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiguard.errors import ConfigurationError, StoreError
from aiguard.state._fleet import (
    BreakerBoard,
    FileBoard,
    FleetBreaker,
    FleetRule,
    MemoryBoard,
    share_breaker,
)
from aiguard.testing import FakeClock


class Event:
    def __init__(self, new: str, kind: str = "transition") -> None:
        self.new = new
        self.kind = kind


class FakeBreaker:
    """The breaker surface the fleet uses: listeners, force_open, reset, state."""

    def __init__(self, name: str = "recs") -> None:
        self.name = name
        self.state = "closed"
        self.listeners: list[Any] = []

    def add_listener(self, fn: Any, *, outcomes: bool = True) -> None:
        assert outcomes is False
        self.listeners.append(fn)

    def go(self, state: str) -> None:
        self.state = state
        for fn in self.listeners:
            fn(Event(state))

    def force_open(self) -> None:
        self.go("forced_open")

    def reset(self) -> None:
        self.go("closed")


def _fleet(board, clock, replicas: int, rule: FleetRule):
    breakers = [FakeBreaker() for _ in range(replicas)]
    fleets = [
        share_breaker(b, board=board, rule=rule, replica=f"r{i}", clock=clock, start=False)
        for i, b in enumerate(breakers)
    ]
    return breakers, fleets


def _poll_all(fleets) -> list[bool]:
    """Two rounds: every replica has posted before the deciding round reads the board."""
    for f in fleets:
        f.poll()
    return [f.poll() for f in fleets]


RULE = FleetRule(tripped=2, of=4, within=60)


def test_one_bad_replica_alone_does_not_open_the_fleet() -> None:
    """With tripped=2, one tripped replica leaves the others closed."""
    clock = FakeClock(1000)
    breakers, fleets = _fleet(MemoryBoard(), clock, 4, RULE)
    breakers[0].go("open")
    assert _poll_all(fleets) == [False] * 4
    assert [b.state for b in breakers] == ["open", "closed", "closed", "closed"]


def test_n_of_m_opens_every_closed_replica_and_recovery_releases_them() -> None:
    """Two trips force the two healthy replicas open; recovery of the tripped ones resets them."""
    clock = FakeClock(1000)
    breakers, fleets = _fleet(MemoryBoard(), clock, 4, RULE)
    breakers[0].go("open")
    clock.advance(5)
    breakers[1].go("open")
    _poll_all(fleets)
    assert [b.state for b in breakers] == ["open", "open", "forced_open", "forced_open"]
    assert all(f.engaged and f.tripped == 2 for f in fleets)
    breakers[0].go("half_open")  # still counts: it has not recovered yet
    _poll_all(fleets)
    assert breakers[2].state == "forced_open"
    breakers[0].go("closed")
    _poll_all(fleets)
    # released: only one replica tripped now; the recovered one is not forced open again
    assert [b.state for b in breakers] == ["closed", "open", "closed", "closed"]
    assert not any(f.engaged for f in fleets)


def test_trips_outside_the_window_do_not_count() -> None:
    """A trip older than `within` no longer counts; a re-trip counts again."""
    clock = FakeClock(1000)
    breakers, fleets = _fleet(MemoryBoard(), clock, 3, RULE)
    breakers[0].go("open")
    clock.advance(61)
    breakers[1].go("open")
    _poll_all(fleets)
    assert breakers[2].state == "closed"
    breakers[0].go("half_open")
    breakers[0].go("open")  # the half-open trial failed: a fresh trip
    _poll_all(fleets)
    assert breakers[2].state == "forced_open"


def test_a_replica_that_stops_reporting_stops_counting() -> None:
    """A tripped replica whose report is not refreshed within `within` drops out; others release."""
    clock = FakeClock(1000)
    board = MemoryBoard()
    breakers, fleets = _fleet(board, clock, 3, FleetRule(tripped=2, of=3, within=30))
    breakers[0].go("open")
    breakers[1].go("open")
    _poll_all(fleets)
    assert breakers[2].state == "forced_open"
    clock.advance(20)
    breakers[0].go("open")
    breakers[1].go("open")
    fleets[0].poll()  # replica r1 died: never polls again
    fleets[2].poll()
    clock.advance(15)
    breakers[0].go("open")
    fleets[0].poll()
    fleets[2].poll()
    assert fleets[2].tripped == 1
    assert breakers[2].state == "closed"


def test_forced_replicas_do_not_count_as_tripped() -> None:
    """The rule's own force_open never feeds back into the count."""
    clock = FakeClock(1000)
    breakers, fleets = _fleet(MemoryBoard(), clock, 4, RULE)
    breakers[0].go("open")
    breakers[1].go("open")
    _poll_all(fleets)
    _poll_all(fleets)
    assert all(f.tripped == 2 for f in fleets)


def test_operator_changes_are_respected() -> None:
    """A breaker an operator disabled is not forced; one an operator took over is left alone."""
    clock = FakeClock(1000)
    breakers, fleets = _fleet(MemoryBoard(), clock, 4, RULE)
    breakers[3].go("disabled")
    breakers[0].go("open")
    breakers[1].go("open")
    _poll_all(fleets)
    assert breakers[3].state == "disabled"
    assert breakers[2].state == "forced_open"
    breakers[2].listeners.clear()
    breakers[2].state = "metrics_only"  # the operator took over
    breakers[0].go("closed")
    _poll_all(fleets)
    assert breakers[2].state == "metrics_only"


class FailingBoard(MemoryBoard):
    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def read_breakers(self, breaker: str) -> dict[str, dict[str, Any]]:
        if self.down:
            raise StoreError("board down")
        return super().read_breakers(breaker)


def test_board_outage_keeps_the_last_decision_and_reports_stale(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """While the board is down the last decision stays; stale is set, counted and logged once."""
    clock = FakeClock(1000)
    board = FailingBoard()
    breakers, fleets = _fleet(board, clock, 3, FleetRule(tripped=2, of=3, within=60))
    breakers[0].go("open")
    breakers[1].go("open")
    _poll_all(fleets)
    board.down = True
    breakers[0].go("closed")
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        assert fleets[2].poll() is True
        assert fleets[2].poll() is True
    assert fleets[2].stale
    assert fleets[2].errors == 2
    assert breakers[2].state == "forced_open"
    assert len([r for r in caplog.records if "cannot reach" in r.getMessage()]) == 1
    board.down = False
    _poll_all(fleets)
    assert not fleets[2].stale
    assert breakers[2].state == "closed"


def test_a_breaker_that_refuses_to_change_is_counted() -> None:
    """force_open raising is counted and logged, never propagated."""
    clock = FakeClock(1000)
    breakers, fleets = _fleet(MemoryBoard(), clock, 3, FleetRule(tripped=2, of=3, within=60))

    def broken() -> None:
        raise RuntimeError("no")

    breakers[2].force_open = broken  # type: ignore[method-assign]
    breakers[0].go("open")
    breakers[1].go("open")
    fleets[0].poll()
    fleets[1].poll()
    assert fleets[2].poll() is True
    assert fleets[2].errors == 1


def test_dead_reports_are_forgotten_and_close_takes_ours_down() -> None:
    """Reports not refreshed for long are deleted; close() removes this replica's report."""
    clock = FakeClock(1000)
    board = MemoryBoard()
    board.post_breaker("recs", "ghost", {"state": "open", "tripped_at": 1.0, "at": 1.0})
    board.post_breaker("recs", "junk", {"state": "open"})
    _, fleets = _fleet(board, clock, 2, RULE)
    fleets[0].poll()
    assert set(board.read_breakers("recs")) == {"r0"}
    fleets[0].close()
    assert set(board.read_breakers("recs")) == set()
    fleets[0].poll()  # a closed fleet member posts nothing any more
    assert set(board.read_breakers("recs")) == set()


def test_close_releases_a_forced_breaker() -> None:
    """Leaving the fleet resets a breaker the rule had forced open."""
    clock = FakeClock(1000)
    breakers, fleets = _fleet(MemoryBoard(), clock, 3, FleetRule(tripped=2, of=3, within=60))
    breakers[0].go("open")
    breakers[1].go("open")
    _poll_all(fleets)
    fleets[2].close()
    assert breakers[2].state == "closed"


def test_more_replicas_than_the_rule_expects_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Seeing more than `of` replicas logs one warning."""
    clock = FakeClock(1000)
    _, fleets = _fleet(MemoryBoard(), clock, 3, FleetRule(tripped=1, of=2, within=60))
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        _poll_all(fleets)
        _poll_all(fleets)
    assert len([r for r in caplog.records if "sees 3 replicas" in r.getMessage()]) == 3


def test_already_open_breaker_counts_from_construction() -> None:
    """A breaker that is open when shared counts as tripped at once."""
    clock = FakeClock(1000)
    board = MemoryBoard()
    breaker = FakeBreaker()
    breaker.state = "open"
    share_breaker(breaker, board=board, rule=RULE, replica="x", clock=clock, start=False).poll()
    assert board.read_breakers("recs")["x"]["tripped_at"] == 1000


def test_background_poller_forces_open_without_manual_polls() -> None:
    """With start=True the poller thread applies the rule by itself."""
    board = MemoryBoard()
    rule = FleetRule(tripped=2, of=3, within=60)
    breakers = [FakeBreaker() for _ in range(3)]
    fleets = [
        share_breaker(b, board=board, rule=rule, replica=f"r{i}", interval=0.02)
        for i, b in enumerate(breakers)
    ]
    try:
        breakers[0].go("open")
        breakers[1].go("open")
        deadline = time.monotonic() + 5
        while breakers[2].state != "forced_open" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert breakers[2].state == "forced_open"
        assert "engaged=True" in repr(fleets[2])
    finally:
        for f in fleets:
            f.close()
    assert breakers[2].state == "closed"


def test_default_replica_is_host_and_pid() -> None:
    """Without replica= the id is hostname:pid."""
    import os
    import socket

    fleet = share_breaker(FakeBreaker(), board=MemoryBoard(), rule=RULE, start=False)
    assert fleet.replica == f"{socket.gethostname()}:{os.getpid()}"


def test_file_board_is_shared_between_instances(tmp_path) -> None:
    """Two FileBoards on one path see each other's posts; forget deletes."""
    path = tmp_path / "board.json"
    FileBoard(path).post_breaker("recs", "a", {"state": "open"})
    FileBoard(path).post_breaker("recs", "b", {"state": "closed"})
    assert FileBoard(path).read_breakers("recs") == {
        "a": {"state": "open"}, "b": {"state": "closed"},
    }
    FileBoard(path).forget_breaker("recs", "a")
    assert set(FileBoard(path).read_breakers("recs")) == {"b"}
    assert FileBoard(tmp_path / "none.json").read_breakers("recs") == {}


def test_file_board_corruption_is_a_store_error_and_is_rebuilt(tmp_path) -> None:
    """A corrupt board raises StoreError on read; the next post starts it afresh."""
    path = tmp_path / "board.json"
    path.write_text("{half", encoding="utf-8")
    with pytest.raises(StoreError):
        FileBoard(path).read_breakers("recs")
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(StoreError):
        FileBoard(path).read_breakers("recs")
    FileBoard(path).post_breaker("recs", "a", {"state": "open"})
    assert json.loads(path.read_text(encoding="utf-8")) == {"recs": {"a": {"state": "open"}}}


def test_file_board_write_failure_is_a_store_error(tmp_path) -> None:
    """A board in a missing directory fails with StoreError."""
    with pytest.raises(StoreError):
        FileBoard(tmp_path / "missing" / "board.json").post_breaker("recs", "a", {})


def test_file_board_serialises_concurrent_posts(tmp_path) -> None:
    """Posts from many threads all survive the read-modify-write."""
    path = tmp_path / "board.json"
    threads = [
        threading.Thread(target=FileBoard(path).post_breaker, args=("recs", f"r{i}", {"i": i}))
        for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(FileBoard(path).read_breakers("recs")) == 8


def test_boards_satisfy_the_protocol(tmp_path) -> None:
    """MemoryBoard and FileBoard are BreakerBoards."""
    assert isinstance(MemoryBoard(), BreakerBoard)
    assert isinstance(FileBoard(tmp_path / "b.json"), BreakerBoard)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"tripped": 0, "of": 2, "within": 1}, "tripped"),
        ({"tripped": 1.5, "of": 2, "within": 1}, "tripped"),
        ({"tripped": 3, "of": 2, "within": 1}, "tripped"),
        ({"tripped": 1, "of": 0, "within": 1}, "of"),
        ({"tripped": 1, "of": 2, "within": 0}, "within"),
        ({"tripped": 1, "of": 2, "within": float("nan")}, "within"),
    ],
)
def test_bad_rules_name_the_argument(kwargs: dict, argument: str) -> None:
    """Invalid rules raise ConfigurationError naming the field."""
    with pytest.raises(ConfigurationError) as info:
        FleetRule(**kwargs)
    assert info.value.argument == argument


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"breaker": object()}, "breaker"),
        ({"board": object()}, "board"),
        ({"rule": "2 of 4"}, "rule"),
        ({"name": ""}, "name"),
        ({"interval": 0}, "interval"),
        ({"interval": "1"}, "interval"),
        ({"replica": ""}, "replica"),
        ({"clock": 5}, "clock"),
    ],
)
def test_bad_share_arguments_name_the_argument(kwargs: dict, argument: str) -> None:
    """Invalid share_breaker arguments raise ConfigurationError naming the argument."""
    args: dict[str, Any] = {
        "breaker": FakeBreaker(), "board": MemoryBoard(), "rule": RULE, "start": False,
    }
    args.update(kwargs)
    with pytest.raises(ConfigurationError) as info:
        share_breaker(**args)
    assert info.value.argument == argument


def test_nameless_breaker_needs_a_name() -> None:
    """A breaker without .name and no name= is a ConfigurationError."""

    nameless = FakeBreaker()
    nameless.name = None  # type: ignore[assignment]
    with pytest.raises(ConfigurationError, match="name must be"):
        FleetBreaker(nameless, board=MemoryBoard(), rule=RULE, start=False)


# -- the rule against an independent reference --------------------------------

_STATES = st.sampled_from(["closed", "open", "half_open", "forced_open", "disabled"])
_REPORT = st.fixed_dictionaries(
    {
        "state": _STATES,
        "tripped_at": st.one_of(st.none(), st.floats(0, 200)),
        "at": st.floats(0, 200),
    }
)


@settings(max_examples=200, deadline=None)
@given(
    reports=st.dictionaries(st.text(min_size=1, max_size=3), _REPORT, max_size=8),
    tripped=st.integers(1, 8),
    within=st.floats(1, 100),
    now=st.floats(100, 200),
)
def test_rule_count_matches_a_reference(reports, tripped, within, now) -> None:
    """count() equals a direct reading of the definition; engaged iff count >= tripped."""
    rule = FleetRule(tripped=tripped, of=8, within=within)
    expected = sum(
        1
        for r in reports.values()
        if r["state"] in ("open", "half_open")
        and r["tripped_at"] is not None
        and now - r["tripped_at"] <= within
        and now - r["at"] <= within
    )
    assert rule.count(reports, now=now) == expected


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from(["open", "half_open", "closed"]),
                  st.floats(0, 30)),
        max_size=25,
    )
)
def test_fleet_forces_exactly_when_the_rule_holds(steps) -> None:
    """After any transitions and polls, healthy replicas are forced iff >= 2 tripped."""
    clock = FakeClock(1000)
    breakers, fleets = _fleet(MemoryBoard(), clock, 4, RULE)
    tripped_at: dict[int, float] = {}
    for replica, state, advance in steps:
        clock.advance(advance)
        if breakers[replica].state == "forced_open":
            continue  # a forced replica serves no calls, so its own breaker cannot move
        breakers[replica].go(state)
        if state == "open":
            tripped_at[replica] = clock()
        elif state == "closed":
            tripped_at.pop(replica, None)
        _poll_all(fleets)
        _poll_all(fleets)
        live = sum(
            1 for i, b in enumerate(breakers)
            if b.state in ("open", "half_open") and clock() - tripped_at.get(i, -1e9) <= 60
        )
        for b in breakers:
            if b.state not in ("open", "half_open"):
                assert b.state == ("forced_open" if live >= 2 else "closed")


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_poller_restarts_in_a_forked_child_under_a_new_replica_id(tmp_path) -> None:
    """A forked child polls on its own thread and posts as hostname:childpid."""
    import os
    import socket

    board = FileBoard(tmp_path / "board.json")
    fleet = share_breaker(FakeBreaker(), board=board, rule=RULE, interval=0.02)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        time.sleep(0.5)
        os._exit(0 if fleet._poller.running else 1)
    _, status = os.waitpid(pid, 0)
    fleet.close()
    assert os.waitstatus_to_exitcode(status) == 0
    assert f"{socket.gethostname()}:{pid}" in board.read_breakers("recs")


def test_outcome_events_are_not_transitions() -> None:
    """Per-call outcome events leave the posted report unchanged."""
    clock = FakeClock(1000)
    board = MemoryBoard()

    class OldBreaker(FakeBreaker):
        def add_listener(self, fn: Any) -> None:  # type: ignore[override]
            self.listeners.append(fn)

    breaker = OldBreaker()
    fleet = share_breaker(breaker, board=board, rule=RULE, replica="x", clock=clock, start=False)
    breaker.listeners[0](Event("open", kind="failure"))
    fleet.poll()
    assert board.read_breakers("recs")["x"]["state"] == "closed"


def test_with_real_circuit_breakers_on_a_fake_clock() -> None:
    """Real breakers: two trip on failures, the third is forced open; healed trials release it."""
    from aiguard import CircuitBreaker
    from aiguard.errors import CircuitOpenError

    clock = FakeClock(1000)
    board = MemoryBoard()
    breakers = [
        CircuitBreaker(name="recs", window=4, min_calls=2, open_for=10, half_open_calls=1,
                       clock=clock)
        for _ in range(3)
    ]
    fleets = [
        share_breaker(b, board=board, rule=FleetRule(tripped=2, of=3, within=30),
                      replica=f"r{i}", clock=clock, start=False)
        for i, b in enumerate(breakers)
    ]

    def fail() -> None:
        raise RuntimeError("model down")

    for b in breakers[:2]:
        for _ in range(2):
            with pytest.raises(RuntimeError):
                b.call(fail)
    _poll_all(fleets)
    assert [b.state.value for b in breakers] == ["open", "open", "forced_open"]
    with pytest.raises(CircuitOpenError):
        breakers[2].call(lambda: "model")
    clock.advance(10)
    for b in breakers[:2]:
        assert b.call(lambda: "model") == "model"  # the half-open trial succeeds
    _poll_all(fleets)
    assert [b.state.value for b in breakers] == ["closed", "closed", "closed"]
    assert breakers[2].call(lambda: "model") == "model"


def test_the_child_hook_gives_a_fresh_lock_and_replica_id_unless_one_was_given() -> None:
    """forked() (what runs in a child): a new lock, hostname:pid renewed, a given id kept."""
    board = MemoryBoard()
    default = share_breaker(FakeBreaker(), board=board, rule=RULE, start=False)
    named = share_breaker(FakeBreaker(), board=board, rule=RULE, replica="r1", start=False)
    default.replica = "stale-parent-id"
    lock = default._poll_lock
    assert default._poller.forked() is False  # never started: no thread in the child either
    assert named._poller.forked() is False
    assert default._poll_lock is not lock
    assert default.replica.endswith(f":{__import__('os').getpid()}")
    assert default._report["replica"] == default.replica
    assert named.replica == "r1"

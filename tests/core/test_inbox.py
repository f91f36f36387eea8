"""The inbox of plain calls: hand-over to every taker, faults, concurrency, weak links."""

from __future__ import annotations

import gc
import math
import threading
from typing import Any

from aiguard._core._inbox import BLOCK, SCALAR_TYPES, Inbox
from aiguard.detect import ErrorRateMonitor, LatencyMonitor


class Taker:
    """A block taker that records what it is handed."""

    def __init__(self, seconds: float = math.inf) -> None:
        self.blocks: list[tuple[list[float], list[Any]]] = []
        self.inboxes: list[Inbox] = []
        self.block_seconds = seconds

    def take_block(self, latencies: list[float], results: list[Any]) -> None:
        self.blocks.append((latencies, results))

    def add_inbox(self, inbox: Inbox) -> None:
        self.inboxes.append(inbox)


class Broken(Taker):
    """A taker whose take_block raises."""

    def take_block(self, latencies: list[float], results: list[Any]) -> None:
        raise ValueError("taker bug")


def test_flush_hands_every_taker_the_calls_in_order_and_empties() -> None:
    """Each taker gets the gathered latencies and results, oldest first; the inbox is emptied."""
    a, b = Taker(4.0), Taker(2.0)
    inbox = Inbox([a, b], lambda t: None)
    assert a.inboxes == [inbox]
    assert b.inboxes == [inbox]
    assert inbox.seconds == 2.0
    inbox.latencies.extend([0.1, 0.2, 0.3])
    inbox.results.extend([1, 2, 3])
    inbox.flush()
    assert a.blocks == b.blocks == [([0.1, 0.2, 0.3], [1, 2, 3])]
    assert inbox.latencies == []
    assert inbox.results == []
    inbox.flush()  # nothing gathered: nothing handed over
    assert len(a.blocks) == 1


def test_a_taker_that_raises_is_reported_and_the_others_fed() -> None:
    """A raising taker goes to the fault callback; the takers after it still get the block."""
    faults: list[Any] = []
    bad, good = Broken(), Taker()
    inbox = Inbox([bad, good], faults.append)
    inbox.latencies.append(0.5)
    inbox.results.append(1.0)
    inbox.flush()
    assert faults == [bad]
    assert good.blocks == [([0.5], [1.0])]


def test_flush_without_wait_leaves_the_calls_while_another_thread_flushes() -> None:
    """flush(wait=False) returns at once when the lock is taken; the calls stay for later."""
    taker = Taker()
    inbox = Inbox([taker], lambda t: None)
    inbox.latencies.append(0.1)
    inbox.results.append(1)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with inbox._lock:
            held.set()
            release.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(5)
    inbox.flush(wait=False)
    assert taker.blocks == []
    release.set()
    thread.join()
    inbox.flush(wait=False)
    assert taker.blocks == [([0.1], [1])]


def test_a_taker_that_reads_again_does_not_deadlock_or_repeat() -> None:
    """A taker flushing the same inbox from take_block (a subscriber reading) gets nothing twice."""
    class Reader(Taker):
        def take_block(self, latencies: list[float], results: list[Any]) -> None:
            super().take_block(latencies, results)
            self.inboxes[0].flush()

    reader = Reader()
    inbox = Inbox([reader], lambda t: None)
    inbox.latencies.extend([0.1] * BLOCK)
    inbox.results.extend([1] * BLOCK)
    inbox.flush()
    assert reader.blocks == [([0.1] * BLOCK, [1] * BLOCK)]


def test_no_taker_means_no_early_hand_over() -> None:
    """An inbox without takers never hands over on latency."""
    assert Inbox([], lambda t: None).seconds == math.inf
    assert float in SCALAR_TYPES
    assert list not in SCALAR_TYPES


def test_monitors_hold_their_inboxes_weakly() -> None:
    """A monitor forgets an inbox whose guarded function is gone, and reads the live ones."""
    mon = ErrorRateMonitor()
    first = Inbox([mon], lambda t: None)
    assert len(mon._inboxes) == 1
    del first
    gc.collect()
    mon._collect()  # a dead inbox is skipped
    live = Inbox([mon], lambda t: None)
    assert len(mon._inboxes) == 1  # the dead one was dropped when the live one came
    live.latencies.extend([0.01, 0.02])
    live.results.extend([1.0, 2.0])
    assert mon.rates()["error"] == 0.0
    assert int(mon._slices.total()[4]) == 2


def test_timed_monitors_hand_over_within_a_quarter_slice() -> None:
    """A latency or error-rate monitor asks for blocks every quarter of a slice; others never."""
    assert LatencyMonitor(window=60, slices=6).block_seconds == 2.5
    assert ErrorRateMonitor(window=40, slices=4).block_seconds == 2.5

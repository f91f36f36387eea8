"""The board of ShadowRouter(isolation="process"): requests the child pulls from our memory.

The board and its reader are exercised in this process (``process_vm_readv``
on our own pid reads our own memory, as the child reads its parent's), the
child's code on a thread over real pipes, and the whole router with a
spawned child in the tests marked slow.
"""

from __future__ import annotations

import collections
import errno
import gc
import importlib
import itertools
import logging
import multiprocessing
import os
import signal
import threading
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.strategies import assert_arrays_arrived, plain_arrays

import aiguard as ag
import aiguard.recover._shadow_board as board_module
import aiguard.recover._shadow_child as child_module
import aiguard.recover._shadow_process as process_module
from aiguard._core._counter import peek
from aiguard.recover._shadow_board import (
    ARRAYS,
    FULL,
    INELIGIBLE,
    PICKLED,
    POSTED,
    STOP,
    Board,
    Reader,
    puller,
)
from aiguard.recover._shadow_child import Child, child_config
from aiguard.recover._shadow_process import RemoteShadow

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import ModuleType

pytestmark = pytest.mark.skipif(puller() is None or not hasattr(os, "memfd_create"),
                                reason="process_vm_readv is Linux's")


@pytest.fixture
def models(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The models module, importable by name here and in spawned children."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    return importlib.import_module("_shadow_models")


@pytest.fixture
def board() -> Iterator[Board]:
    made = Board(4, multiprocessing.get_context("spawn").Semaphore(0))
    yield made
    made.close()


def _reader(board: Board) -> Reader:
    return Reader(board.memory, board.slots, os.getpid(), puller())


@settings(max_examples=60, deadline=None)
@given(
    inputs=st.lists(plain_arrays(),
                    min_size=1, max_size=3),
    answer=plain_arrays(),
    seconds=st.floats(0, 10),
)
def test_posted_arrays_are_pulled_back_equal(
    inputs: list[np.ndarray], answer: np.ndarray, seconds: float,
) -> None:
    """Any plain dtype, byte order, shape (empty, 0-d): the reader's copy equals, writable."""
    board = Board(2, multiprocessing.get_context("spawn").Semaphore(0))
    try:
        for a in inputs:
            a.flags.writeable = bool(len(inputs) % 2)  # read-only arrays have addresses too
        assert board.post(tuple(inputs), answer, seconds) == POSTED
        kind, item = _reader(board).take()
    finally:
        board.close()
    assert kind == ARRAYS
    args, kwargs, got, got_seconds = item
    assert (kwargs, got_seconds) == ({}, seconds)
    assert_arrays_arrived((*inputs, answer), (*args, got))


@pytest.mark.parametrize(
    "item",
    [
        ((np.ones(3),), {"k": 1}, np.ones(3), 0.1),  # keyword arguments
        ((np.ones(4)[::2],), {}, np.ones(2), 0.1),  # not contiguous
        ((np.array(["a"], dtype=object),), {}, np.ones(1), 0.1),  # objects
        (([1.0, 2.0], "text"), {}, {"score": 3.0}, 0.1),  # not arrays
        ((np.arange(1e5), np.zeros(0), "label"), {}, np.ones((2, 3)), 0.2),  # out of band
        (tuple(np.ones(2) for _ in range(20)), {}, np.ones(1), 0.1),  # too many to list
    ],
)
def test_other_requests_are_posted_pickled_and_pulled_back_equal(
    board: Board, item: tuple[Any, ...],
) -> None:
    """What the board cannot describe is ineligible, then posted pickled: it comes back equal."""
    args, kwargs, answer, _ = item
    assert kwargs or board.post(args, answer, 0.1) == INELIGIBLE
    assert board.post_pickled(item) == POSTED
    kind, back = _reader(board).take()
    assert kind == PICKLED
    assert (back[1], back[3]) == (item[1], item[3])
    for sent, got in zip((*item[0], item[2]), (*back[0], back[2]), strict=True):
        if isinstance(sent, dict | str):
            assert got == sent
        else:
            np.testing.assert_array_equal(np.asarray(got), np.asarray(sent))


@settings(max_examples=80, deadline=None)
@given(steps=st.lists(st.booleans(), max_size=40), slots=st.integers(1, 4))
def test_the_board_is_first_in_first_out_and_full_exactly_when_every_slot_waits(
    steps: list[bool], slots: int,
) -> None:
    """Posts (True) and takes (False) in any order: taken in the order posted; full at *slots*."""
    board = Board(slots, multiprocessing.get_context("spawn").Semaphore(0))
    reader, waiting, numbers = _reader(board), collections.deque[int](), itertools.count()
    accepted: set[int] = set()
    try:
        for post in steps:
            if post:
                n = next(numbers)
                assert board.full() == (len(waiting) == slots)
                status = board.post((np.array([n]),), np.array([n, n]), float(n))
                assert status == (FULL if len(waiting) == slots else POSTED)
                if status == POSTED:
                    waiting.append(n)
                    accepted.add(n)
            elif waiting:
                _, (args, _, answer, seconds) = reader.take()
                n = waiting.popleft()
                assert (int(args[0][0]), answer.tolist(), seconds) == (n, [n, n], n)
        assert board.posted == sum(1 for n in range(next(numbers)) if n in accepted)
    finally:
        board.close()


def test_ineligible_layouts_and_the_layout_memory(board: Board,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Objects, date-times, too many arrays: ineligible; remembered layouts stay bounded."""
    x = np.ones(3)
    assert board.post((np.array(["a"], dtype=object),), x, 0.0) == INELIGIBLE
    assert board.post((np.zeros(2, dtype="M8[ns]"),), x, 0.0) == INELIGIBLE
    assert board.post(tuple(x for _ in range(16)), x, 0.0) == INELIGIBLE
    assert board.post(tuple(np.ones((1,) * 32) for _ in range(3)), x, 0.0) == INELIGIBLE
    monkeypatch.setattr(board_module, "_LAYOUTS", 2)
    reader = _reader(board)
    for n in range(1, 6):  # five shapes, two remembered at most
        assert board.post((np.ones(n),), x, 0.0) == POSTED
        assert len(board._layouts) <= 2
        assert reader.take()[1][0][0].shape == (n,)


def test_taken_requests_are_let_go_of_on_reuse_or_reaping(board: Board) -> None:
    """The board keeps a request's objects until taken, and no longer than reuse or reap."""
    answers = [np.full(3, float(n)) for n in range(3)]
    alive = [weakref.ref(a) for a in answers]
    for a in answers:
        assert board.post((np.ones(1),), a, 0.0) == POSTED
    del answers, a
    gc.collect()
    assert all(ref() is not None for ref in alive)  # not taken yet: kept
    reader = _reader(board)
    reader.take()
    reader.take()
    board.reap()
    gc.collect()
    assert [ref() is None for ref in alive] == [True, True, False]
    assert board.held() == 1
    reader.take()
    assert board.post((np.ones(1),), np.ones(1), 0.0) == POSTED  # slot 3 of 4
    assert board.post((np.ones(1),), np.ones(1), 0.0) == POSTED  # slot 0: reuses a taken one
    assert board.held() == 3


def test_stop_shut_and_closed_boards(board: Board) -> None:
    """The stop post is not counted as a request; a shut or closed board refuses posts."""
    assert board.post((np.ones(1),), np.ones(1), 0.0) == POSTED
    assert board.post_stop() == POSTED
    assert board.posted == 1
    reader = _reader(board)
    assert reader.take()[0] == ARRAYS
    assert reader.take() == (STOP, None)
    assert board.post((np.ones(1),), np.ones(1), 0.0) == FULL  # after the stop
    other = Board(1, multiprocessing.get_context("spawn").Semaphore(0))
    assert other.post_pickled((1,)) == POSTED
    assert other.post_stop() == FULL  # the one slot waits
    assert other.shut() == 1
    assert other.post_pickled((2,)) == FULL
    other.close()


def test_memory_that_cannot_be_pulled_and_a_parent_gone(board: Board) -> None:
    """A bad address: the request is None (counted as failed); a gone parent: lookup error."""
    spans = [1, 8, 1, 8]  # page zero: never mapped
    assert board._post(ARRAYS, spans, board_module._layout((np.ones(1), np.ones(1))),
                       0.0, None) == POSTED
    reader = _reader(board)
    assert reader.take() == (ARRAYS, None)
    assert reader.probe(1, 8) == errno.EFAULT
    assert reader.probe(id(board), 0) == 0
    assert board.post_pickled(((1,), {}, b"not a pickle", 0.0)) == POSTED
    at = board_module._slot_offset(1) + board_module._HEAD.size + 8
    board.memory[at:at + 8] = (3).to_bytes(8, "little")  # the pickle cut short: cannot load
    assert reader.take() == (PICKLED, None)
    gone = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(0,))
    gone.start()
    gone.join()
    assert board.post((np.ones(1),), np.ones(1), 0.0) == POSTED
    with pytest.raises(ProcessLookupError):
        Reader(board.memory, board.slots, gone.pid or 0, puller()).take()
    reader.count((1, 2, 3, 4))
    assert board.counters()[1:] == (1, 1, 2, 3, 4)


# -- the child's code on a thread of this process, over real pipes ----------------------------

class _Alive:
    """Stands for the child process: its pid (ours) and a sentinel that closing ends."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._read, self._write = os.pipe()
        self.sentinel = self._read

    def die(self) -> None:
        os.close(self._write)

    def is_alive(self) -> bool:
        return False


def _attached(models: ModuleType, shadow: Any) -> tuple[RemoteShadow, Child, threading.Thread,
                                                        _Alive, list[Board]]:
    """A RemoteShadow offering its board to a Child served on a thread of this process."""
    config = child_config(shadow, compare=None, clock=time.perf_counter, timeout=None,
                          window=100, name="in", idle=False)
    offered: list[Board] = []
    remote = RemoteShadow(config, name="in", finished=itertools.count(), refuse=lambda: None,
                          slots=8, on_board=offered.append)
    tokens = multiprocessing.get_context("spawn").Semaphore(0)
    child = Child(config, tokens)
    ours, theirs = multiprocessing.Pipe()
    control, their_control = multiprocessing.Pipe()
    thread = threading.Thread(target=child.serve, args=(theirs, their_control), daemon=True)
    thread.start()
    alive = _Alive()
    remote._requests, remote._control = ours, control
    remote.process = alive  # type: ignore[assignment]
    remote._offer_board(alive, ours, tokens)  # type: ignore[arg-type]
    return remote, child, thread, alive, offered


def test_the_child_code_pulls_from_the_board_in_process(models: ModuleType) -> None:
    """Handshake, arrays and pickled requests pulled, counts on the board, stop, final stats."""
    remote, child, thread, alive, offered = _attached(models, models.double)
    assert offered == [remote.board]
    assert child.reader is not None
    x = np.arange(4.0)
    items: list[tuple[Any, ...]] = [((x,), {}, 2 * x, 0.01), ((3,), {}, 6, 0.01),
                                    ((x,), {"k": 1}, x, 0.0)]
    for item in items:
        remote.serve(item)
    remote.settle()  # nothing in flight on a pipe
    deadline = time.monotonic() + 10
    while remote.pulled < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert (remote.pulled, remote.errors, remote.timeouts, remote.lost) == (3, 1, 0, 0)
    assert remote.snapshot()["shadowed"] == 2
    remote.end()
    thread.join(5)
    assert not thread.is_alive()
    assert remote.snapshot()["shadowed"] == 2  # the final statistics
    alive.die()


def test_a_full_board_drops_from_the_sender_and_a_dead_child_loses_the_posted(
    models: ModuleType, caplog: pytest.LogCaptureFixture,
) -> None:
    """The sender's post to a full board counts lost; the watcher counts the rest at death."""
    remote, _child, thread, alive, _ = _attached(models, models.hung)
    board = remote.board
    assert board is not None
    remote.serve(((0,), {}, 0, 0.0))
    deadline = time.monotonic() + 10
    while board.counters()[0] < 1 and time.monotonic() < deadline:
        time.sleep(0.005)  # taken: the child hangs on it
    for n in range(1, 10):  # eight wait, one finds the board full
        remote.serve(((n,), {}, n, 0.0))
    assert remote.lost == 1
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        alive.die()
        deadline = time.monotonic() + 10
        while not remote.dead and time.monotonic() < deadline:
            time.sleep(0.005)
    assert remote.dead
    assert (remote.lost, remote.pulled) == (1 + 9, 9)  # posted, never finished: lost
    assert sum("died" in r.message for r in caplog.records) == 1
    remote.serve(((1,), {}, 1, 0.0))  # after death: dropped
    assert remote.lost == 11
    del thread  # hung on purpose: a daemon thread, it ends with the test process


def test_a_child_not_permitted_is_permitted_once_or_stays_on_the_pipe(
    models: ModuleType, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """EPERM: the parent names the child its tracer and it probes again; still EPERM: pipe."""
    answers = iter([errno.EPERM, 0])
    monkeypatch.setattr(Reader, "probe", lambda _self, _a, _n: next(answers))
    permitted: list[int] = []
    def permit(pid: int) -> bool:
        permitted.append(pid)
        return True

    monkeypatch.setattr(board_module, "permit", permit)
    remote, _child, thread, alive, offered = _attached(models, models.double)
    assert (permitted, len(offered)) == ([os.getpid()], 1)
    remote.end()
    thread.join(5)
    alive.die()
    assert board_module._permitted == [alive]  # type: ignore[comparison-overlap]
    alive.is_alive = lambda: True  # type: ignore[method-assign]
    answers = iter([errno.EPERM])
    remote, _child, thread, second, offered = _attached(models, models.double)
    assert (permitted, offered) == ([os.getpid()], [])  # a live child holds the permission
    remote.end()
    thread.join(5)
    second.die()
    board_module._permitted.clear()
    monkeypatch.setattr(board_module, "permit", lambda _pid: False)  # Yama says no
    answers = iter([errno.EPERM])
    remote, _child, thread, alive, offered = _attached(models, models.double)
    assert (remote.board, offered) == (None, [])
    remote.end()
    thread.join(5)
    alive.die()
    monkeypatch.setattr(Reader, "probe", lambda _self, _a, _n: errno.EPERM)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        remote, _child, thread, alive, offered = _attached(models, models.double)
    assert (remote.board, offered) == (None, [])
    assert sum("cannot read" in r.message for r in caplog.records) == 1
    remote.serve(((2,), {}, 4, 0.0))  # the pipe, as before
    remote.settle()
    assert remote.snapshot()["shadowed"] == 1
    remote.end()
    thread.join(5)
    alive.die()
    assert permit_is_harmless()


def permit_is_harmless() -> bool:
    """Naming a tracer where Yama is absent fails quietly (False), never raises."""
    return _REAL_PERMIT(os.getpid()) in (True, False)


_REAL_PERMIT = board_module.permit  # the tests above replace it


def test_the_child_returns_when_its_parent_is_gone_while_it_waits(
    models: ModuleType, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pulling, the child looks for its parent's end of file between waits for a post."""
    monkeypatch.setattr(child_module, "_ORPHAN", 0.01)
    remote, _child, thread, alive, _ = _attached(models, models.double)
    time.sleep(0.05)  # a few empty waits
    remote._requests.close()  # type: ignore[union-attr]
    thread.join(5)
    assert not thread.is_alive()
    alive.die()


# -- the router, with a spawned child -------------------------------------------------------

@pytest.mark.slow
def test_requests_of_arrays_go_on_the_board_and_report_as_on_threads(
    models: ModuleType, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Positional arrays are pulled by the child: same report as the thread router's."""
    monkeypatch.setattr(process_module, "_WATCH", 0.05)
    rng = np.random.default_rng(1)
    requests = [rng.random(8) for _ in range(40)]
    routers = {isolation: ag.ShadowRouter(models.primary, models.candidate,
                                          isolation=isolation, name="arrays")
               for isolation in ("process", "thread")}
    deadline = time.monotonic() + 30
    while routers["process"]._board is None and time.monotonic() < deadline:
        time.sleep(0.01)  # the child started and probed
    board = routers["process"]._board
    assert board is not None
    reports = {}
    for isolation, router in routers.items():
        assert all(np.array_equal(router(x), models.primary(x)) for x in requests)
        assert router.flush(timeout=30)
        reports[isolation] = router.report()
    assert board.posted == 40  # every request went on the board
    process, thread = reports["process"], reports["thread"]
    for field in ("offered", "shadowed", "dropped", "pending", "errors", "garbage",
                  "agreement", "compared_rows", "drift"):
        assert getattr(process, field) == getattr(thread, field), field
    deadline = time.monotonic() + 10
    while board.held() and time.monotonic() < deadline:
        time.sleep(0.01)  # an idle board lets go of the requests it kept
    assert board.held() == 0
    for router in routers.values():
        router.close(timeout=10)
    assert routers["process"].report().shadowed == 40


@pytest.mark.slow
def test_a_saturated_board_drops_exactly_and_a_killed_child_is_noticed_at_once(
    models: ModuleType, caplog: pytest.LogCaptureFixture,
) -> None:
    """A slow shadow, a board of 5: drops counted exactly; SIGKILL: logged without a call."""
    router = ag.ShadowRouter(lambda x: x, models.slow, max_queue=5, isolation="process")
    deadline = time.monotonic() + 30
    while router._board is None and time.monotonic() < deadline:
        time.sleep(0.01)
    x = np.ones(3)
    for _ in range(100):
        router(x)
    assert router.flush(timeout=30)
    report = router.report()
    assert report.offered == 100
    assert report.offered - report.dropped == report.shadowed >= 5
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        os.kill(router._backend.process.pid, signal.SIGKILL)  # type: ignore[attr-defined]
        deadline = time.monotonic() + 10
        while not router._backend.dead and time.monotonic() < deadline:  # type: ignore[attr-defined]
            time.sleep(0.01)
    assert sum("died" in r.message for r in caplog.records) == 1
    assert router(x) is x  # refused: dropped, served
    assert router.report().dropped == report.dropped + 1
    router.close(timeout=10)


@pytest.mark.slow
def test_without_the_board_requests_of_arrays_take_the_pipe(
    models: ModuleType, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No process_vm_readv (another OS): the sender pipes every request, counted the same."""
    monkeypatch.setattr(process_module, "puller", lambda: None)
    router = ag.ShadowRouter(models.primary, models.candidate, isolation="process")
    x = np.linspace(0, 1, 8)
    assert all(np.array_equal(router(x), models.primary(x)) for _ in range(10))
    assert router.flush(timeout=30)
    assert router._board is None
    assert router.report().shadowed == 10
    router.close(timeout=10)


def test_a_child_gone_during_the_handshake_and_the_childs_side_of_odd_cases(
    models: ModuleType,
) -> None:
    """The child gone before it answers: dead, no board. A probe before a map: ENOSYS."""
    config = child_config(models.double, compare=None, clock=time.perf_counter, timeout=None,
                          window=10, name="gone", idle=False)
    remote = RemoteShadow(config, name="gone", finished=itertools.count(), refuse=lambda: None,
                          slots=2)
    ours, theirs = multiprocessing.Pipe()
    theirs.close()
    alive = _Alive()
    remote._offer_board(alive, ours, multiprocessing.get_context("spawn").Semaphore(0))  # type: ignore[arg-type]
    assert (remote.dead, remote.board) == (True, None)
    alive.die()
    child = Child(config)
    ours, theirs = multiprocessing.Pipe()
    ours.send_bytes(child_module.HEAD.pack(child_module.PROBE))
    assert child.one(theirs) is True  # no board mapped: it stays on the pipe
    assert child_module.ANSWER.unpack(ours.recv_bytes()) == (errno.ENOSYS, False)


def test_the_child_stops_pulling_when_its_parent_is_gone(board: Board, models: ModuleType) -> None:
    """A pull that finds the parent gone ends the child's loop."""
    gone = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(0,))
    gone.start()
    gone.join()
    config = child_config(models.double, compare=None, clock=time.perf_counter, timeout=None,
                          window=10, name="orphan", idle=False)
    tokens = board._tokens  # what the board's posts release
    child = Child(config, tokens)
    assert board._post(ARRAYS, [1, 8, 1, 8], board_module._layout((np.ones(1), np.ones(1))),
                       0.0, None) == POSTED  # memory that cannot be pulled: a failure
    assert board.post_stop() == POSTED
    ours, theirs = multiprocessing.Pipe()
    child.pull(_reader(board), tokens, theirs)  # returns on the stop post
    assert (child.local.errors, child.local.stats.shadowed) == (1, 0)
    assert ours.poll(1)  # its final statistics
    board.closed = False
    assert board.post((np.ones(1),), np.ones(1), 0.0) == POSTED
    child.pull(Reader(board.memory, board.slots, gone.pid or 0, puller()), tokens, theirs)
    assert child.local.stats.shadowed == 0
    ours.close()


def test_the_stop_waits_for_a_free_slot_and_unpicklable_requests_are_errors(
    models: ModuleType,
) -> None:
    """A full board at close: the stop post waits for the child; a lambda is an error."""
    remote, child, thread, alive, _ = _attached(models, models.slow)
    remote.serve(((lambda: 1,), {}, 1, 0.0))
    for n in range(12):  # 20 ms each: the board (8 slots) fills, some find it full
        remote.serve(((n,), {}, n, 0.0))
    assert remote.lost >= 1
    remote.end()  # waits for a slot, then for the child's final statistics
    thread.join(10)
    assert not thread.is_alive()
    assert remote.errors == 1  # the lambda
    assert child.local.stats.shadowed + remote.lost == 12
    alive.die()


def test_the_callers_side_of_the_board(models: ModuleType) -> None:
    """Posted, full, ineligible (queued, or dropped on a full queue), closed: all counted."""
    router = ag.ShadowRouter(lambda x, **_kw: 2 * x, models.double, max_queue=1)
    board = Board(1, multiprocessing.get_context("spawn").Semaphore(0))
    try:
        router._set_board(board)
        x = np.ones(2)
        np.testing.assert_array_equal(router._sync_pulled(x), 2 * x)  # posted
        assert (peek(router._accepted), board.posted) == (1, 1)
        router._sync_pulled(x)  # the one slot waits: dropped before the call
        assert peek(router._dropped) == 1
        _reader(board).take()
        assert router._sync_pulled([1.0]) == [1.0, 1.0]  # not arrays: queued for the sender
        assert peek(router._accepted) == 2
        router._limit = 0
        router._sync_pulled([1.0])  # not arrays, and no room: dropped
        board.shut()
        router._sync_pulled(x)  # a board that refuses: dropped after the call
        assert peek(router._dropped) == 3
        assert router._sync_pulled(x, k=1) is not None  # keywords: the thread path
    finally:
        router.close()
        board.close()
    router._set_board(board)  # closed: the board is not taken up
    assert router._board is None


async def test_async_callers_post_on_the_board_too(models: ModuleType) -> None:
    """``acall`` on a process router: arrays posted, the board full: dropped before the call."""
    async def primary(x: Any, **_kw: Any) -> Any:
        return 2 * x

    router = ag.ShadowRouter(primary, models.double, max_queue=1)
    board = Board(1, multiprocessing.get_context("spawn").Semaphore(0))
    try:
        router._set_board(board)
        x = np.ones(2)
        np.testing.assert_array_equal(await router(x), 2 * x)
        assert (peek(router._accepted), board.posted) == (1, 1)
        np.testing.assert_array_equal(await router(x), 2 * x)  # the slot waits: dropped
        assert peek(router._dropped) == 1
        _reader(board).take()
        assert await router([1.0]) == [1.0, 1.0]  # not arrays: queued for the sender
        assert await router(x, k=1) is not None  # keywords: the queue's path
        assert (router.offered, board.posted) == (4, 1)
    finally:
        router.close()
        board.close()


@settings(max_examples=40, deadline=None)
@given(
    x=plain_arrays(),
    answer=plain_arrays(),
)
def test_one_array_and_its_answer_go_by_their_objects_once_the_layout_is_known(
    x: np.ndarray, answer: np.ndarray,
) -> None:
    """By object address (the child reads the data pointers first): the same arrays back."""
    board = Board(4, multiprocessing.get_context("spawn").Semaphore(0))
    board.by_id = True
    reader = _reader(board)
    try:
        assert board.post((x,), answer, 0.5) == POSTED  # a new layout: by buffer
        assert board.post((x,), answer, 0.5) == POSTED  # known: by object
        assert board.memory[board_module._slot_offset(1) + 1] == board_module.BY_ID
        for _ in range(2):
            kind, (args, _, got, seconds) = reader.take()
            assert (kind, seconds) == (ARRAYS, 0.5)
            for sent, back in ((x, args[0]), (answer, got)):
                assert (back.dtype, back.shape) == (sent.dtype, sent.shape)
                np.testing.assert_array_equal(back, sent)
    finally:
        board.close()


def test_the_object_probe(board: Board) -> None:
    """The data pointer at the offset: True; another offset or an unreadable object: False."""
    probe = np.arange(16, dtype=np.uint8)
    address = probe.__array_interface__["data"][0]
    reader = _reader(board)
    assert reader.probe_by_id(id(probe), address, board_module.OFFSET)
    assert not reader.probe_by_id(id(probe), address, board_module.OFFSET + 8)
    assert not reader.probe_by_id(1, address, 0)  # page zero
    board.by_id = True
    assert board.post((probe[::2].copy(),), [1], 0.0) == INELIGIBLE  # not an array answer

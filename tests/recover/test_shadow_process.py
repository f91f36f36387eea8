"""ShadowRouter(isolation="process"): the shadow in a spawned child, counted as on threads.

Tests that start a child are marked slow: a spawned interpreter importing
numpy and aiguard takes about half a second, so each test starts its
routers together and groups its assertions. The child's own code
(:class:`Child`) is also run in-process over real pipes, where coverage sees it.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import logging
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.strategies import assert_arrays_arrived, plain_arrays

import aiguard as ag
import aiguard.recover._shadow_child as child_module
import aiguard.recover._shadow_process as process_module
from aiguard._core._counter import peek
from aiguard.errors import ConfigurationError
from aiguard.recover._shadow_child import Child, child_config
from aiguard.recover._shadow_process import RemoteShadow

if TYPE_CHECKING:
    from types import ModuleType


@pytest.fixture
def models(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The models module, importable by name here and in spawned children."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    return importlib.import_module("_shadow_models")


@pytest.fixture(params=["board", "pipe"])
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Requests through the board where there is one, or (as on other systems) the pipe."""
    if request.param == "pipe":
        monkeypatch.setattr(process_module, "puller", lambda: None)
    return str(request.param)


def _settled(report: ag.ShadowReport) -> int:
    return report.shadowed + report.errors + report.timeouts + report.garbage


def _child_pid(router: ag.ShadowRouter) -> int:
    """The child's pid, once the sender has started it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        process = router._backend.process  # type: ignore[attr-defined]
        if process is not None and process.pid is not None:
            return int(process.pid)
        time.sleep(0.005)
    pytest.fail("no child process")


@pytest.mark.slow
def test_process_report_equals_the_thread_report(models: ModuleType) -> None:
    """Same requests: agreement, score differences, drift and counts as the thread shadow's."""
    rng = np.random.default_rng(0)
    requests = [(rng.random(8), "classes" if i % 2 else "scores") for i in range(60)]
    reports = {}
    routers = {isolation: ag.ShadowRouter(models.primary, models.candidate,
                                          isolation=isolation, name="fraud")
               for isolation in ("process", "thread")}
    for isolation, router in routers.items():
        answers = [router(x, kind=kind) for x, kind in requests]
        assert all(np.array_equal(a, models.primary(x, kind=kind))
                   for a, (x, kind) in zip(answers, requests, strict=True))
        assert router.flush(timeout=30)
        reports[isolation] = router.report()
    process, thread = reports["process"], reports["thread"]
    expected_agreement = np.mean([((x > 0.5) == (x > 0.45)).mean()
                                  for x, kind in requests if kind == "classes"])
    assert process.agreement == pytest.approx(expected_agreement)
    assert process.score_diff is not None
    assert thread.score_diff is not None
    assert process.score_diff == pytest.approx(thread.score_diff)
    assert process.drift is not None
    assert thread.drift is not None
    assert process.drift == pytest.approx(thread.drift)
    for field in ("offered", "shadowed", "dropped", "pending", "errors", "timeouts", "garbage",
                  "agreement", "compared_rows"):
        assert getattr(process, field) == getattr(thread, field), field
    assert (process.offered, process.shadowed, process.compared_rows) == (60, 60, 240)
    latency = process.latency["shadow"]
    assert latency is not None
    assert latency["n"] == 60
    routers["thread"]._backend.forget()  # threads are not copied by a fork: nothing to do
    for router in routers.values():
        router.close()
    assert routers["process"].report().shadowed == 60  # the final statistics, kept


def test_unpicklable_callables_and_bad_isolation_are_configuration_errors(
    models: ModuleType,
) -> None:
    """A lambda shadow, compare or clock names itself; workers must be 1; isolation is checked."""
    cases: list[tuple[dict[str, Any], str]] = [
        ({"shadow": lambda x: x}, "shadow"),
        ({"compare": lambda p, s: p == s}, "compare"),
        ({"clock": lambda: 0.0}, "clock"),
        ({"workers": 2}, "workers"),
        ({"isolation": "fork"}, "isolation"),
    ]
    for kwargs, argument in cases:
        full: dict[str, Any] = {"shadow": models.double, "isolation": "process", **kwargs}
        with pytest.raises(ConfigurationError) as info:
            ag.ShadowRouter(models.double, full.pop("shadow"), **full)
        assert info.value.argument == argument
        assert "picklable" in str(info.value) or argument in ("workers", "isolation")


@pytest.mark.slow
async def test_errors_garbage_timeouts_and_async_are_counted_in_the_child(
    models: ModuleType, caplog: pytest.LogCaptureFixture,
) -> None:
    """Raises, garbage, too slow: counted; an async pair is served; the child's priority."""
    async def primary(x: int) -> int:
        return x

    faulty = ag.ShadowRouter(float, models.faulty, timeout=0.1, isolation="process")
    run_async = ag.ShadowRouter(primary, models.async_shadow, timeout=0.2,
                                isolation="process", priority="idle")
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        for x in (0.5, 0.7, 1.5, 2.5, 3.5, 4.0, 5.0):
            assert faulty(x) == float(x)
    assert await run_async(3) == 3
    assert await run_async.acall(99) == 99
    assert await asyncio.to_thread(faulty.flush, 30)
    assert await asyncio.to_thread(run_async.flush, 30)
    report, async_report = faulty.report(), run_async.report()
    assert (report.errors, report.garbage, report.timeouts, report.shadowed) == (2, 2, 1, 2)
    assert (faulty.errors, faulty.timeouts) == (2, 1)
    assert (async_report.shadowed, async_report.timeouts) == (1, 1)
    assert os.sched_getscheduler(_child_pid(run_async)) == os.SCHED_IDLE
    own = os.getpriority(os.PRIO_PROCESS, 0)
    assert os.getpriority(os.PRIO_PROCESS, _child_pid(faulty)) == min(19, own + 10)
    faulty.close(timeout=10)
    run_async.close(timeout=10)


def test_a_request_that_cannot_be_pickled_is_an_error_not_a_crash(
    models: ModuleType, caplog: pytest.LogCaptureFixture,
) -> None:
    """An argument pickle refuses (a lock) is counted in errors and logged once."""
    finished = itertools.count()
    config = child_config(models.double, compare=None, clock=time.perf_counter, timeout=None,
                          window=10, name="t", idle=False)
    remote = RemoteShadow(config, name="t", finished=finished, refuse=lambda: None)
    ours, _theirs = multiprocessing.Pipe()
    remote._requests = ours  # attached, never used: pickling fails first
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        remote.serve(((threading.Lock(),), {}, 1, 0.0))
        remote.serve(((threading.Lock(),), {}, 1, 0.0))
    assert (remote.errors, peek(finished)) == (2, 2)
    assert sum("could not be pickled" in r.message for r in caplog.records) == 1


@pytest.mark.slow
def test_a_killed_child_leaves_callers_served_and_counts_drops(
    models: ModuleType, caplog: pytest.LogCaptureFixture, transport: str,
) -> None:
    """SIGKILL the child: callers get the primary, later requests drop, logged once."""
    routers = [ag.ShadowRouter(models.double, models.double, isolation="process", name=f"r{i}")
               for i in range(2)]
    for router in routers:
        for x in range(5):
            router(x)
    for router in routers:
        assert router.flush(timeout=30)
        assert router.report().shadowed == 5
    idle, closing = routers
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        for router in routers:
            os.kill(_child_pid(router), signal.SIGKILL)
            router._backend.process.join(10)  # type: ignore[attr-defined]
        # noticed by the parent's watcher at once (board) or by the next send (pipe)
        answers = [idle(x) for x in range(100)]
        assert idle.flush(timeout=10)
    assert answers == [2 * x for x in range(100)]
    report = idle.report()
    assert report.offered == 105
    assert report.offered - report.dropped == _settled(report) == 5  # drops: not shadowed
    assert report.pending == 0
    assert (report.agreement, report.compared_rows) == (1.0, 5)  # the last statistics kept
    assert sum("'r0' died" in r.message for r in caplog.records) == 1
    closing.close(timeout=10)  # stopping a child that is gone
    assert closing.report().shadowed == 5
    idle.close(timeout=10)


@pytest.mark.slow
def test_saturation_drops_count_exactly_and_close_terminates_a_hung_child(
    models: ModuleType, transport: str,
) -> None:
    """A slow shadow, a queue of 5: offered == accepted + dropped; close ends a hung child."""
    slow = ag.ShadowRouter(lambda x: x, models.slow, max_queue=5, isolation="process")
    hung = ag.ShadowRouter(lambda x: x, models.hung, isolation="process", timeout=1)
    writable = ag.ShadowRouter(models.double, models.gives_back, isolation="process")
    calls = 200
    for x in range(calls):
        assert slow(x) == x
    hung(1)
    hung(2)
    writable(np.arange(4.0))
    accepted = peek(slow._accepted)
    assert slow.offered == accepted + slow.dropped == calls
    assert 5 <= accepted < calls
    assert slow.flush(timeout=30)
    report = slow.report()
    assert report.offered - report.dropped == report.shadowed == accepted
    assert hung.flush(timeout=0.2) is False  # the shadow never answers
    assert writable.flush(timeout=30)
    assert writable.errors == 0  # the child's copy of the array is writable
    started = time.monotonic()
    hung.close(timeout=0.2)
    assert time.monotonic() - started < 5
    process = hung._backend.process  # type: ignore[attr-defined]
    assert not process.is_alive()
    assert process.exitcode == -signal.SIGTERM
    assert hung.flush(timeout=5)  # the requests in flight were lost, counted
    report = hung.report()
    assert (report.offered, report.dropped, report.shadowed) == (2, 2, 0)
    hung(3)
    assert hung.report().dropped == 3  # closed: dropped
    child = writable._backend.process  # type: ignore[attr-defined]
    assert child in multiprocessing.active_children()
    writable._backend.forget()  # what a forked copy does: not its child to terminate at exit
    assert child.is_alive()
    assert child not in multiprocessing.active_children()
    slow.close(timeout=10)
    writable.close(timeout=10)  # still stops it
    assert (slow._backend.process.exitcode, writable._backend.process.exitcode) == (0, 0)  # type: ignore[attr-defined]


def test_a_child_that_cannot_start_drops_and_keeps_serving(
    models: ModuleType, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """Process.start raising: logged once, requests dropped, the primary serves."""
    def refuse(_self: object) -> None:
        raise OSError("no more processes")

    monkeypatch.setattr(multiprocessing.get_context("spawn").Process, "start", refuse)
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        router = ag.ShadowRouter(models.double, models.double, isolation="process")
        assert [router(x) for x in range(3)] == [0, 2, 4]
        assert router.flush(timeout=5)
    report = router.report()
    assert (report.offered, report.dropped, report.shadowed) == (3, 3, 0)
    assert sum("could not start" in r.message for r in caplog.records) == 1
    router.close()
    assert router._backend.process is None  # type: ignore[attr-defined]
    router._backend.forget()  # no child: nothing to let go of


def _attached(models: ModuleType, shadow: Any, **kwargs: Any) -> tuple[RemoteShadow, Child, Any]:
    """A RemoteShadow talking over real pipes to a Child served on a thread of this process."""
    config = child_config(shadow, compare=None, clock=time.perf_counter,
                          timeout=kwargs.get("timeout"), window=100, name="in", idle=False)
    remote = RemoteShadow(config, name="in", finished=itertools.count(), refuse=lambda: None)
    child = Child(config)
    ours, theirs = multiprocessing.Pipe()
    control, their_control = multiprocessing.Pipe()
    thread = threading.Thread(target=child.serve, args=(theirs, their_control), daemon=True)
    thread.start()
    remote._requests, remote._control = ours, control
    return remote, child, thread


def test_the_child_code_in_process_compares_acks_and_answers_reports(
    models: ModuleType, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Child over real pipes, on a thread: acks carry counts, reports answer the latest question."""
    remote, child, thread = _attached(models, models.faulty, timeout=0.1)
    for x in (0.5, 1.5, 5.0, 6.0, 3.5):
        remote.serve(((x,), {}, float(x), 0.001))
    remote.settle()
    assert (remote.errors, remote.timeouts) == (1, 1)
    monkeypatch.setattr(process_module, "_REPORT_WAIT", 0.0)
    remote.snapshot()  # no time to answer: the last statistics (this answer comes late)
    monkeypatch.setattr(process_module, "_REPORT_WAIT", 10.0)
    snapshot = remote.snapshot()  # the late answer is skipped, this question's is taken
    assert (snapshot["shadowed"], snapshot["garbage"], snapshot["lost"]) == (2, 1, 0)
    assert snapshot["latency"]["primary"]["n"] == 2
    remote._requests.send_bytes(child_module.HEAD.pack(0) + b"not a pickle")  # type: ignore[union-attr]
    remote._in_flight += 1
    remote.settle()
    assert remote.errors == 2  # the child could not unpickle it
    remote.end()  # stop: the child answers its final statistics and returns
    thread.join(5)
    assert not thread.is_alive()
    assert remote.snapshot()["shadowed"] == 2  # control closed: the final statistics
    assert child.local.stats.shadowed == 2


def test_the_child_returns_when_the_parent_is_gone(models: ModuleType) -> None:
    """End of file on the requests pipe, or an ack nobody reads, ends the child's loop."""
    remote, _child, thread = _attached(models, models.slow)
    remote._requests.close()  # type: ignore[union-attr]
    remote._control.close()  # type: ignore[union-attr]
    thread.join(5)
    assert not thread.is_alive()
    remote, _child, thread = _attached(models, models.slow)
    remote.serve(((1,), {}, 1, 0.0))  # the child sleeps 20 ms on it; meanwhile we go away
    remote._requests.close()  # type: ignore[union-attr]
    thread.join(5)
    assert not thread.is_alive()


@settings(max_examples=60, deadline=None)
@given(
    inputs=st.lists(plain_arrays(),
                    min_size=1, max_size=3),
    answer=plain_arrays(),
    seconds=st.floats(0, 10),
)
def test_a_request_of_arrays_crosses_as_raw_bytes_and_comes_back_equal(
    inputs: list[np.ndarray], answer: np.ndarray, seconds: float
) -> None:
    """Arrays (any plain dtype, byte order, shape, empty or 0-d) cross without pickle, equal."""
    buffers: list[Any] = []
    data = child_module.dump((tuple(inputs), {}, answer, seconds), buffers)
    assert data[:1] == child_module.PIPE_ARRAYS  # the fast path, not a pickle
    received = [bytearray(b) for b in buffers]  # as the child's recv_bytes gives them
    assert all(memoryview(b).ndim == 1 and memoryview(b).itemsize == 1 for b in buffers)
    args, kwargs, got, got_seconds = child_module.load(memoryview(data), received)
    assert kwargs == {}
    assert got_seconds == seconds
    assert_arrays_arrived((*inputs, answer), (*args, got))


@pytest.mark.parametrize(
    "item",
    [
        ((np.ones(3),), {"k": 1}, np.ones(3), 0.1),  # keyword arguments
        ((np.ones(4)[::2],), {}, np.ones(2), 0.1),  # not contiguous
        ((np.ones(2),), {}, np.float64(1.0), 0.1),  # a scalar answer
        ((np.array(["a"], dtype=object),), {}, np.ones(1), 0.1),  # objects
        ((np.zeros(2, dtype="M8[ns]"),), {}, np.ones(1), 0.1),  # no buffer protocol
        (([1.0, 2.0],), {}, [3.0], 0.1),  # not arrays
    ],
)
def test_other_requests_are_pickled_and_come_back_equal(item: tuple[Any, ...]) -> None:
    """Anything but plain contiguous arrays without keywords takes the pickle path, intact."""
    buffers: list[Any] = []
    data = child_module.dump(item, buffers)
    assert data[:1] != child_module.PIPE_ARRAYS
    back = child_module.load(memoryview(data), [bytearray(bytes(b)) for b in buffers])
    assert back[1] == item[1]
    assert back[3] == item[3]
    for sent, got in zip((*item[0], item[2]), (*back[0], back[2]), strict=True):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(sent))

"""Fork safety: a forked child's flag set keeps refreshing (gunicorn --preload workers)."""

from __future__ import annotations

import multiprocessing
import os
import time
from typing import TYPE_CHECKING

import pytest

import aiguard as ag

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _child(flags: ag.Flags, ready: multiprocessing.synchronize.Event, out: object) -> None:
    """Report (via exit code) whether the child saw the parent's later change in time."""
    ready.set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if flags.enabled("recs") is False:
            os._exit(0)
        time.sleep(0.005)
    os._exit(1)


def test_child_sees_a_change_made_after_the_fork(tmp_path: Path) -> None:
    """A change written after fork reaches the child's snapshot via its restarted refresher."""
    path = tmp_path / "flags.json"
    ag.FileStore(path).write("recs", {"on": True})
    flags = ag.Flags(ag.FileStore(path), refresh=0.02)
    assert flags.enabled("recs") is True
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    child = ctx.Process(target=_child, args=(flags, ready, None))
    child.start()
    assert ready.wait(10)
    ag.Flags(ag.FileStore(path), refresh=None).set("recs", on=False, reason="after fork")
    child.join(15)
    assert child.exitcode == 0
    flags.close()


def test_closed_flag_set_stays_closed_in_the_child(tmp_path: Path) -> None:
    """A flag set closed before the fork starts no refresher in the child."""
    flags = ag.Flags(ag.FileStore(tmp_path / "f.json"), refresh=0.02)
    flags.close()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        time.sleep(0.1)
        poller = flags._poller
        os.write(write, b"0" if poller.stopped and not poller.running else b"1")
        os._exit(0)
    os.close(write)
    assert os.read(read, 1) == b"0"
    os.close(read)
    os.waitpid(pid, 0)


def test_the_child_hook_renews_the_locks_even_without_a_refresher() -> None:
    """forked() (what runs in a child) gives every flag set fresh locks; refresh=None stays idle."""
    for refresh in (None, 60.0):
        flags = ag.Flags(refresh=refresh)
        lock, read_lock = flags._lock, flags._read_lock
        lock.acquire()  # as if a parent thread held it at the fork
        restart = flags._poller.forked()
        assert restart is (refresh is not None)
        assert flags._lock is not lock
        assert flags._read_lock is not read_lock
        flags.set("a", on=False)  # would deadlock on the inherited lock
        assert flags.enabled("a") is False
        flags.close()

"""Fork safety: a forked child (gunicorn --preload) gets shadow workers and registry refresh."""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os
import time

import pytest

import aiguard as ag

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _shadow_child(router: ag.ShadowRouter) -> None:
    """Exit 0 when the child's own workers shadowed its requests."""
    for x in range(10):
        router(x)
    os._exit(0 if router.flush(timeout=10) and router.report().shadowed >= 10 else 1)


def test_child_shadow_router_has_workers() -> None:
    """After fork the child's shadow requests are processed by the child's workers."""
    router = ag.ShadowRouter(abs, abs)
    router(1)
    router.flush()
    child = multiprocessing.get_context("fork").Process(target=_shadow_child, args=(router,))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    router.close()


@pytest.mark.slow
def test_child_process_shadow_starts_its_own_shadow_process() -> None:
    """isolation="process": a forked child spawns its own shadow process and shadows with it."""
    router = ag.ShadowRouter(abs, abs, isolation="process")
    router(1)
    assert router.flush(timeout=30)
    child = multiprocessing.get_context("fork").Process(target=_shadow_child, args=(router,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert router.report().shadowed == 1  # the parent's own child saw only the parent's request
    router.close(timeout=10)


@pytest.mark.slow
def test_a_forked_copy_exiting_leaves_the_parents_shadow_process_alone() -> None:
    """A fork that exits normally (multiprocessing's exit hook runs) spares the parent's child."""
    router = ag.ShadowRouter(abs, abs, isolation="process")
    router(1)
    assert router.flush(timeout=30)
    pid = os.fork()
    if pid == 0:  # a gunicorn worker that exits normally runs this hook at exit
        try:
            multiprocessing.util._exit_function()  # type: ignore[attr-defined]
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert router._backend.process.is_alive()  # type: ignore[attr-defined]
    router(-2)
    assert router.flush(timeout=10)
    assert router.report().shadowed == 2
    router.close(timeout=10)


def _registry_child(registry: ag.ModelRegistry, ready: object) -> None:
    """Exit 0 when the child's refresher adopts a promote made after the fork."""
    ready.set()  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if registry(0) == "v2":
            os._exit(0)
        time.sleep(0.005)
    os._exit(1)


def test_child_registry_keeps_refreshing(tmp_path: object) -> None:
    """A promote written after fork reaches the child through its restarted poller."""
    path = f"{tmp_path}/models.json"
    registry = ag.ModelRegistry("recs", store=ag.FileStore(path), refresh=0.02)
    registry.register("v1", lambda _x: "v1")
    registry.register("v2", lambda _x: "v2")
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    child = ctx.Process(target=_registry_child, args=(registry, ready))
    child.start()
    assert ready.wait(10)
    leader = ag.ModelRegistry("recs", store=ag.FileStore(path), refresh=None)
    leader.register("v1", abs)
    leader.register("v2", abs)
    leader.promote("v2", reason="after fork")
    child.join(15)
    assert child.exitcode == 0
    registry.close()

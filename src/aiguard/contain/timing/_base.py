"""What timeout, retry and hedge share: the decorator shells and a lazily built worker pool.

Each primitive is a core with ``call(fn, args, kwargs)`` and ``acall(fn, args,
kwargs)`` (what ``Guard`` composes); used as a decorator, :meth:`Wrapper.__call__`
picks the sync or async shell once, at decoration, and the shell only forwards
to the core.
"""

from __future__ import annotations

import functools
import inspect
import threading
from typing import TYPE_CHECKING, Any, TypeVar

from typing_extensions import ParamSpec

from aiguard.contain.timing._workers import WorkerPool

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ["Pooled", "Wrapper"]

P = ParamSpec("P")
R = TypeVar("R")


class Wrapper:
    """Base of a primitive that wraps a call: the decorator over its ``call`` / ``acall``."""

    __slots__ = ()

    if TYPE_CHECKING:

        def call(self, fn: Callable[..., R], args: tuple[Any, ...], kwargs: dict[str, Any]) -> R:
            """Call ``fn(*args, **kwargs)`` under the primitive's rule."""

        async def acall(
            self, fn: Callable[..., Awaitable[R]], args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> R:
            """Await ``fn(*args, **kwargs)`` under the primitive's rule."""

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Decorate a sync or ``async def`` function."""
        if inspect.iscoroutinefunction(fn):
            acall = self.acall

            async def async_shell(*args: Any, **kwargs: Any) -> Any:
                return await acall(fn, args, kwargs)

            return functools.wraps(fn)(async_shell)  # type: ignore[return-value]
        call = self.call

        def shell(*args: P.args, **kwargs: P.kwargs) -> R:
            return call(fn, args, kwargs)

        return functools.wraps(fn)(shell)


class Pooled(Wrapper):
    """A :class:`Wrapper` whose sync calls run on its own :class:`WorkerPool`, built on first use.

    Attributes:
        max_workers: the most worker threads sync calls may use.
    """

    __slots__ = ("_lock", "_pool", "max_workers")

    #: the name of the pool's threads (``aiguard-timeout-1``, ...).
    _thread_name = "aiguard"

    def __init__(self, max_workers: int) -> None:
        self.max_workers = max_workers
        self._pool: WorkerPool | None = None
        self._lock = threading.Lock()

    def _workers(self) -> WorkerPool:
        with self._lock:
            if self._pool is None:
                self._pool = WorkerPool(self.max_workers, self._thread_name)
            return self._pool

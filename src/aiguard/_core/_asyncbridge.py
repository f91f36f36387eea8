"""Run an ``async`` callable to completion from synchronous code.

Fallback handlers may be ``async def`` even when the guarded model is a plain
function. Synchronous code cannot await, so the coroutine runs on a private
event loop: :func:`asyncio.run` in the calling thread when no loop runs there,
or in a short-lived helper thread when the caller is itself inside a running
loop (a sync model called from async code), since blocking on a running loop
from within would deadlock. Context variables are copied into the helper thread.
The other direction needs no bridge: async code calls a sync handler directly.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

__all__ = ["run_sync"]


def run_sync(fn: Callable[..., Coroutine[Any, Any, Any]], /, *args: Any, **kwargs: Any) -> Any:
    """Call the coroutine function *fn* and return its result, blocking until done.

    Args:
        fn: an ``async def`` function (or anything returning a coroutine).
        *args: positional arguments for *fn*.
        **kwargs: keyword arguments for *fn*.

    Returns:
        What the coroutine returned; its exception propagates unchanged.

    Example:
        >>> async def double(x):
        ...     return 2 * x
        >>> run_sync(double, 21)
        42
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(fn(*args, **kwargs))
    return _run_in_thread(fn, args, kwargs)


def _run_in_thread(
    fn: Callable[..., Coroutine[Any, Any, Any]], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    context = contextvars.copy_context()
    box: list[Any] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            box.append(context.run(lambda: asyncio.run(fn(*args, **kwargs))))
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    helper = threading.Thread(target=target, name="aiguard-async-handler", daemon=True)
    helper.start()
    helper.join()
    if failure:
        raise failure[0]
    return box[0]

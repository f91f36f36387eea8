"""Splitting per-feature work over threads.

The heavy parts of a comparison (sorting each feature's values, merging each
feature's two sorted samples) are numpy calls that release the GIL, one
feature at a time, so contiguous blocks of features run in parallel threads.
Threads are started per call and joined before it returns: nothing lingers
in the process.

``workers=None`` (the default) uses one thread per core, up to
:data:`AUTO_MAX_WORKERS`, when a comparison holds at least
:data:`AUTO_MIN_VALUES` values, and one thread below that (starting threads
costs more than it saves on small inputs). ``workers=1`` never starts a thread.
"""

from __future__ import annotations

import numbers
import os
import threading
from typing import TYPE_CHECKING, Final

from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["AUTO_MAX_WORKERS", "AUTO_MIN_VALUES", "check_workers", "resolve_workers", "run_blocks"]

#: the default never uses more threads than this
AUTO_MAX_WORKERS: Final = 8
#: the default uses threads from this many values (reference + current) on
AUTO_MIN_VALUES: Final = 1 << 20


def check_workers(workers: object) -> int | None:
    """Validate ``workers``: None or an int >= 1."""
    if workers is None:
        return None
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or workers < 1:
        raise ConfigurationError("workers", "None or an int >= 1", workers)
    return int(workers)


def resolve_workers(workers: int | None, values: int, features: int) -> int:
    """The number of threads for a comparison of *values* values over *features* features."""
    if workers is None:
        if values < AUTO_MIN_VALUES:
            return 1
        workers = min(os.cpu_count() or 1, AUTO_MAX_WORKERS)
    return max(1, min(workers, features))


def run_blocks(fn: Callable[[int, int], None], k: int, workers: int) -> None:
    """Call ``fn(start, stop)`` on *workers* contiguous blocks of ``range(k)``.

    The first block runs in the calling thread. An exception raised in any
    block is raised here after every thread has finished.
    """
    workers = max(1, min(workers, k))
    if workers == 1:
        fn(0, k)
        return
    bounds = [k * i // workers for i in range(workers + 1)]
    errors: list[BaseException] = []

    def block(start: int, stop: int) -> None:
        try:
            fn(start, stop)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=block, args=(bounds[i], bounds[i + 1]), daemon=True)
        for i in range(1, workers)
    ]
    for thread in threads:
        thread.start()
    block(bounds[0], bounds[1])
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]

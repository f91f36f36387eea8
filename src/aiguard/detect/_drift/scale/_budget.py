"""The memory budget of a blocked fit or comparison, and the feature blocks it allows.

A blocked pass holds, for one block of ``b`` features, the block read from the
source, its sorted copy, the reference's sorted block and the merge's work
arrays: about :data:`BYTES_PER_VALUE` bytes per value, for ``n_reference +
n_current`` values per feature, and :data:`WORK_BYTES_PER_VALUE` bytes per
value of one feature for each merging thread. The block is the largest ``b``
that fits in ``max_memory`` (threads are given up first); the process's own
memory (the interpreter, numpy, scipy, pyarrow and a chunk of rows being
read: at most :data:`BASELINE` bytes) comes on top of it.
"""

from __future__ import annotations

import numbers
import os
import re
from typing import Final

from aiguard.errors import ConfigurationError

__all__ = [
    "BASELINE",
    "BYTES_PER_VALUE",
    "MIN_MEMORY",
    "WORK_BYTES_PER_VALUE",
    "check_max_memory",
    "default_max_memory",
    "plan_blocks",
]

#: bytes held per value of a block: the reference's sorted block, the current block
#: and its sorted copy
BYTES_PER_VALUE: Final = 24
#: bytes per value of one feature held by each thread merging two sorted columns
WORK_BYTES_PER_VALUE: Final = 48
#: the smallest budget accepted
MIN_MEMORY: Final = 1 << 16
#: what the process holds besides the blocks (interpreter, numpy, scipy, pyarrow, a chunk
#: of rows): the constant of the memory bound, measured by tests/detect/test_drift_scale_memory.py
BASELINE: Final = 200 * (1 << 20)

_UNITS: Final = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 1 << 10,
    "mib": 1 << 20,
    "gib": 1 << 30,
    "tib": 1 << 40,
}
_SIZE: Final = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([a-zA-Z]*)\s*")


def check_max_memory(value: object) -> int | None:
    """``max_memory`` in bytes: None, an int, or a string such as ``"2GB"`` or ``"512 MiB"``.

    Raises:
        ConfigurationError: not a size, or below :data:`MIN_MEMORY`.

    Example:
        >>> check_max_memory("1.5GB"), check_max_memory("64MiB"), check_max_memory(None)
        (1500000000, 67108864, None)
    """
    if value is None:
        return None
    expected = f"None, bytes (an int >= {MIN_MEMORY}) or a size such as '2GB'"
    size: float
    if isinstance(value, str):
        match = _SIZE.fullmatch(value)
        if match is None or match.group(2).lower() not in _UNITS:
            raise ConfigurationError("max_memory", expected, value)
        size = float(match.group(1)) * _UNITS[match.group(2).lower()]
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigurationError("max_memory", expected, value)
    else:
        size = float(value)
    if not size >= MIN_MEMORY:
        raise ConfigurationError("max_memory", expected, value)
    return int(size)


def default_max_memory() -> int:
    """Half the memory available now (``/proc/meminfo``'s MemAvailable), else 1 GiB."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:  # noqa: PTH123 - one read
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return max(MIN_MEMORY, int(line.split()[1]) * 1024 // 2)
    except OSError:  # pragma: no cover - not Linux
        pass
    pages = getattr(os, "sysconf_names", {}).get("SC_AVPHYS_PAGES")  # pragma: no cover
    if pages is not None:  # pragma: no cover
        return max(MIN_MEMORY, os.sysconf(pages) * os.sysconf("SC_PAGE_SIZE") // 2)
    return 1 << 30  # pragma: no cover


def plan_blocks(
    values_per_feature: int, max_memory: int, n_features: int, threads: int
) -> tuple[int, int]:
    """Features per block and threads whose memory fits in *max_memory*.

    A block of ``b`` features holds :data:`BYTES_PER_VALUE` bytes per value
    (``b * values_per_feature`` values); each thread merging the sorted
    columns holds :data:`WORK_BYTES_PER_VALUE` bytes per value of one feature.
    Threads are given up before the budget is exceeded.

    Raises:
        ConfigurationError: one feature on one thread does not fit.

    Example:
        >>> plan_blocks(1_000_000, 1 << 30, 400, 2)
        (40, 2)
    """
    values = max(values_per_feature, 1)
    per_feature = BYTES_PER_VALUE * values
    per_thread = WORK_BYTES_PER_VALUE * values
    while threads > 1 and per_feature + threads * per_thread > max_memory:
        threads -= 1
    need = per_feature + per_thread
    if need > max_memory:
        raise ConfigurationError(
            "max_memory",
            f"at least {need} bytes (one feature's {values_per_feature} values, sorted whole "
            "for the exact rank statistics)",
            max_memory,
        )
    block = (max_memory - threads * per_thread) // per_feature
    return max(1, min(n_features, block)), threads

"""Giving back the resident pages of a memory-mapped array.

Pages of a file mapping that have been read count in the process's resident
memory until the mapping is closed or the kernel needs them. A blocked pass
reads a memory-mapped input (or the reference's sorted columns) block after
block, so it drops the pages it read after each block with
``madvise(MADV_DONTNEED)``: the data stay in the file (and the page cache),
the process's memory stays bounded.
"""

from __future__ import annotations

import mmap
from typing import Any

import numpy as np

__all__ = ["mapping", "release"]


def mapping(arr: Any) -> mmap.mmap | None:
    """The read-only or shared memory map under *arr*, if any (never a copy-on-write one)."""
    base = arr
    while base is not None:
        if isinstance(base, np.memmap):
            mm: mmap.mmap | None = getattr(base, "_mmap", None)
            return mm if base.mode in ("r", "r+") else None
        base = getattr(base, "base", None)
    return None


def release(arr: Any) -> None:
    """Drop the resident pages of the memory map under *arr* (nothing for other arrays)."""
    mm = mapping(arr)
    if mm is not None and not mm.closed:
        mm.madvise(mmap.MADV_DONTNEED)

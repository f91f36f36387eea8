"""Drift at scale: blocks of features within a memory budget, from files or iterators.

``_budget`` (``max_memory`` and the block it allows), ``_sources`` (arrays,
``.npy`` and Parquet files, iterators of batches, read a block of columns at
a time), ``_release`` (dropping the pages of a memory map), ``_progress``
(the progress bar). The blocked fit and comparison that use them live in
:mod:`~aiguard.detect._drift.reference` (``_blocked``).
"""

from aiguard.detect._drift.scale._budget import (
    BASELINE,
    BYTES_PER_VALUE,
    WORK_BYTES_PER_VALUE,
    check_max_memory,
    default_max_memory,
    plan_blocks,
)
from aiguard.detect._drift.scale._progress import Progress
from aiguard.detect._drift.scale._release import mapping, release
from aiguard.detect._drift.scale._sources import Source, open_source

__all__ = [
    "BASELINE",
    "BYTES_PER_VALUE",
    "WORK_BYTES_PER_VALUE",
    "Progress",
    "Source",
    "check_max_memory",
    "default_max_memory",
    "mapping",
    "open_source",
    "plan_blocks",
    "release",
]

"""The block contract: plain scalar calls gathered by a Guard, taken by monitors in blocks.

Most guarded calls are plain: served by the model, no reason, no row
replaced, a finite scalar result. Feeding every monitor's ``tap`` with each
of them costs a Python call per monitor per call, so a monitor that can take
such calls in bulk (the latency, error-rate and output monitors) offers
:class:`BlockTaker`. The Guard then appends each plain call's latency and
result to one :class:`Inbox` (two list appends) and hands the monitors the
gathered calls every :data:`BLOCK` calls, or sooner once the latencies add
up to the smallest taker's ``block_seconds`` (a quarter of a slice for the
timed monitors), so a slice boundary is noticed within :data:`BLOCK` calls
or a quarter of a slice. Any other call first flushes the inbox, then goes
to every ``tap`` as before: each monitor sees the calls in order.

``take_block(latencies, results)`` must leave a monitor as ``tap`` would
after the same calls one by one (both lists hold the plain calls, oldest
first; they may differ in length by a call gathered by another thread while
the inbox was flushed: the two streams are independent). A monitor reads its
state only after flushing its inboxes (``drain``, ``evaluate``...), so
nothing gathered is ever invisible to the monitor's own readers. A taker that
raises is counted through the inbox's ``fault`` callback and the others go on.

Memory is bounded: an inbox holds at most :data:`BLOCK` calls (a few more
while another thread flushes it). Like the monitors' own buffers, the lists
are appended to without a lock (atomic under the GIL); the flush takes a lock
so two threads never hand the same calls over twice.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Final, Protocol

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["BLOCK", "SCALAR_TYPES", "BlockTaker", "Inbox"]

#: Plain calls gathered before the block-taking monitors are fed.
BLOCK: Final = 16

#: Result types of a plain call (a NaN result is not plain: it is a null output).
SCALAR_TYPES: Final = frozenset({float, int, bool, str, np.float64, np.float32, np.int64,
                                 np.int32, np.bool_, np.str_})


class BlockTaker(Protocol):
    """A monitor that takes plain scalar calls in blocks (see the module docstring)."""

    def take_block(self, latencies: list[float], results: list[Any]) -> None:
        """Take plain calls at once: the same effect as ``tap`` on each of them."""
        ...

    def add_inbox(self, inbox: Inbox) -> None:
        """Flush *inbox* before reading this monitor's state."""
        ...

    @property
    def block_seconds(self) -> float:
        """Seconds of gathered latency after which a block is handed over early (inf: never)."""
        ...


class Inbox:
    """Plain calls gathered for :class:`BlockTaker` s: ``latencies``, ``results``.

    ``seconds`` is the smallest taker's ``block_seconds``.

    Args:
        takers: the monitors fed.
        fault: called with a taker that raised (inside the ``except``).
    """

    __slots__ = ("__weakref__", "_lock", "fault", "latencies", "results", "seconds", "takers")

    def __init__(self, takers: Sequence[BlockTaker], fault: Callable[[Any], None]) -> None:
        self.takers = tuple(takers)
        self.fault = fault
        self.latencies: list[float] = []
        self.results: list[Any] = []
        self.seconds = min((t.block_seconds for t in self.takers), default=float("inf"))
        self._lock = threading.RLock()  # a taker's subscriber may read (and so flush) again
        for taker in self.takers:
            taker.add_inbox(self)

    def flush(self, *, wait: bool = True) -> None:
        """Hand the gathered calls to every taker (without *wait*: unless another thread is)."""
        if not self._lock.acquire(blocking=wait):
            return
        try:
            lats, res = self.latencies, self.results
            n, m = len(lats), len(res)
            if not (n or m):
                return
            # copy then delete the head: calls appended meanwhile stay for the next flush
            lat_block, res_block = lats[:n], res[:m]
            del lats[:n], res[:m]
            for taker in self.takers:
                try:
                    taker.take_block(lat_block, res_block)
                except Exception:  # noqa: PERF203 - one monitor must not silence the rest
                    self.fault(taker)
        finally:
            self._lock.release()

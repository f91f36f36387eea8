"""Counters a Guard keeps of its own calls, read by exporters at scrape time.

A :class:`GuardStats` is fed the raw outcome tuple of every call (a *raw tap*
of the guard's sink, so the guard builds no :class:`~aiguard.Outcome` for it)
and keeps, per ``(served_by, reason)``: a latency histogram (counts per bucket
of ``bounds``, the last bucket for latencies above every bound), the latency
sum, the rows a per-row fallback replaced and the input rows rejected.
Everything else is derived at read time, so what a snapshot reports always
agrees with itself: ``calls[key]`` is the sum of that key's buckets, and
``count`` the sum of every bucket.

Why per-thread shards and no lock (``python benchmarks/exporters.py`` has the
figures): each calling thread writes only its own shard (a dict of rows, one
Python list per key), so no increment can be lost and callers never wait for
each other; a lock (``acquire``/``release`` around the additions) cost
1.3-1.5x as much per call on one thread and 1.3-1.7x as much wall time with
two threads calling at once (lock hand-offs between them). A reader
copies each shard's rows (each copy is one C-level ``list(row)``) and adds
them up. A shard whose thread has ended is folded into a retired total, so
thread churn does not grow the list of shards. Exactness rests on each shard
having one writer, not on the GIL.

What a reader can see mid-call: a thread's in-flight update is a few
statements (bucket, then sum, then rows), so a snapshot taken at that instant
may count a call in its bucket before its latency is in ``latency_sum``. The
counts (``calls``, ``buckets``, ``count``) always agree with each other.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from bisect import bisect_left
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs

from aiguard._core import _validate
from aiguard._core._events import log_once

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

__all__ = ["DEFAULT_BUCKETS", "GuardStats", "GuardStatsSnapshot"]

#: Upper bounds (seconds) of the latency histogram: 0.5 ms to 10 s.
DEFAULT_BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)

Key = tuple[str, "str | None"]
Row = list[Any]  # [count in bucket 0, ..., count above the last bound, sum, rows, rejected]
Shard = dict["str | None", dict[str, Row]]  # reason -> served_by -> row


def _frozen_calls(calls: Mapping[Key, int]) -> Mapping[Key, int]:
    return MappingProxyType(dict(calls))


@attrs.frozen(slots=True)
class GuardStatsSnapshot:
    """What a :class:`GuardStats` had counted when :meth:`GuardStats.snapshot` was called.

    Attributes:
        bounds: the histogram's bucket upper bounds, in seconds.
        calls: calls by ``(served_by, reason)`` (``reason`` is ``None`` when
            the model's answer was used as-is), a read-only mapping.
        buckets: calls per latency bucket: ``buckets[i]`` counts latencies in
            ``(bounds[i-1], bounds[i]]``, the last one those above ``bounds[-1]``.
        latency_sum: the sum of the latencies counted, in seconds.
        rows_replaced: rows of model answers a per-row fallback replaced.
        rows_rejected: input rows the guard's ``input_check`` rejected.

    Example:
        >>> s = GuardStatsSnapshot(bounds=(0.1, 1.0), calls={("model", None): 3},
        ...                        buckets=(2, 1, 0), latency_sum=0.4,
        ...                        rows_replaced=0, rows_rejected=0)
        >>> s.count, s.cumulative
        (3, (2, 3, 3))
    """

    bounds: tuple[float, ...]
    calls: Mapping[Key, int] = attrs.field(converter=_frozen_calls, hash=False)
    buckets: tuple[int, ...]
    latency_sum: float
    rows_replaced: int
    rows_rejected: int

    @property
    def count(self) -> int:
        """How many calls were counted (the sum of every bucket)."""
        return sum(self.buckets)

    @property
    def cumulative(self) -> tuple[int, ...]:
        """Calls with a latency at most each bound, then all of them (Prometheus ``le``)."""
        return tuple(itertools.accumulate(self.buckets))


class _Holder:
    """Lives in one thread's ``threading.local``: freed when that thread ends."""

    __slots__ = ("__weakref__",)


def _retire(ref: weakref.ReferenceType[GuardStats], shard: Shard) -> None:
    stats = ref()
    if stats is not None:
        stats._retire(shard)  # noqa: SLF001 - its own callback, kept free of a strong reference


class GuardStats:
    """Counters of a guard's calls: by who served and why, latency histogram, rows.

    Read it from ``guard.stats`` (which switches counting on for that guard,
    see :attr:`aiguard.Guard.stats`); exporters read :meth:`snapshot` at scrape
    time. Counting is exact with any number of calling threads, and costs a
    few hundred nanoseconds per call (``python benchmarks/exporters.py``).

    Args:
        buckets: increasing upper bounds, in seconds, of the latency histogram.

    Raises:
        ConfigurationError: *buckets* are not increasing positive numbers.

    Example:
        >>> import aiguard as ag
        >>> recs = ag.Guard(name="recs", fallback=lambda x: 0)
        >>> stats = recs.stats                 # counting starts here
        >>> @recs
        ... def predict(x):
        ...     return 1 / x
        >>> predict(1), predict(0)
        (1.0, 0)
        >>> snap = stats.snapshot()
        >>> dict(snap.calls)
        {('model', None): 1, ('fallback', 'error'): 1}
        >>> snap.count
        2
    """

    __slots__ = ("__weakref__", "_local", "_lock", "_retired", "_shards", "bounds", "record")

    def __init__(self, *, buckets: Sequence[float] = DEFAULT_BUCKETS) -> None:
        self.bounds = _validate.bounds(buckets, "buckets")
        self._local = threading.local()
        self._lock = threading.RLock()
        self._shards: list[Shard] = []
        self._retired: dict[Key, Row] = {}
        self.record: Callable[[tuple[Any, ...]], None] = self._recorder()
        """``record(outcome)``: count one raw outcome tuple (the guard's tap); never raises."""

    def _recorder(self) -> Callable[[tuple[Any, ...]], None]:
        # A closure, not a method: what it reads are cell variables, cheaper than attributes
        # on the per-call path.
        local, bounds, width = self._local, self.bounds, len(self.bounds) + 1
        total, rows_at, rejected_at = width, width + 1, width + 2
        new_shard = self._new_shard

        def record(outcome: tuple[Any, ...]) -> None:
            try:
                try:
                    shard = local.shard
                except AttributeError:
                    shard = new_shard()
                by_served = shard.get(outcome[1])  # by reason, then served_by: no key tuple
                row = None if by_served is None else by_served.get(outcome[0])
                if row is None:
                    row = shard.setdefault(outcome[1], {}).setdefault(
                        outcome[0], [0] * width + [0.0, 0, 0])
                latency = outcome[4]
                row[bisect_left(bounds, latency)] += 1
                row[total] += latency
                if outcome[3]:
                    row[rows_at] += outcome[3]
                if len(outcome) > 6 and outcome[6]:  # the input check rejected rows
                    row[rejected_at] += outcome[6]
            except Exception:  # aiguard's own fault never reaches the caller
                log_once("guard-stats", "aiguard: guard stats could not count a call "
                         "(logged once)")

        return record

    def _new_shard(self) -> Shard:
        """The calling thread's first call: give it its own shard, folded in when it ends."""
        shard: Shard = {}
        holder = _Holder()
        weakref.finalize(holder, _retire, weakref.ref(self), shard)
        with self._lock:
            self._shards.append(shard)
        self._local.holder = holder
        self._local.shard = shard
        return shard

    def _retire(self, shard: Shard) -> None:
        """A thread ended: add its shard to the retired total (it will never write again)."""
        with self._lock:
            _add(self._retired, shard)
            self._shards = [s for s in self._shards if s is not shard]

    def snapshot(self) -> GuardStatsSnapshot:
        """Add up every thread's counts into one immutable :class:`GuardStatsSnapshot`."""
        with self._lock:
            merged: dict[Key, Row] = {k: list(row) for k, row in self._retired.items()}
            for shard in self._shards:
                _add(merged, shard)
        width = len(self.bounds) + 1
        buckets = [0] * width
        calls: dict[Key, int] = {}
        latency_sum = 0.0
        rows = rejected = 0
        for key, row in merged.items():
            counts = row[:width]
            calls[key] = sum(counts)
            buckets = [a + b for a, b in zip(buckets, counts, strict=True)]
            latency_sum += row[width]
            rows += row[width + 1]
            rejected += row[width + 2]
        return GuardStatsSnapshot(bounds=self.bounds, calls=calls, buckets=tuple(buckets),
                                  latency_sum=latency_sum, rows_replaced=rows,
                                  rows_rejected=rejected)

    def __repr__(self) -> str:
        """The number of calls counted so far."""
        return f"GuardStats(calls={self.snapshot().count}, buckets={len(self.bounds)})"


def _add(into: dict[Key, Row], shard: Shard) -> None:
    """Add *shard*'s rows into *into* (each row copied first: one atomic read per row)."""
    for reason, by_served in list(shard.items()):
        for served_by, row in list(by_served.items()):
            copy = list(row)
            have = into.get((served_by, reason))
            into[served_by, reason] = copy if have is None else [
                a + b for a, b in zip(have, copy, strict=True)]

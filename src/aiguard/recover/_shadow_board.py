"""The board: requests the shadow's child process pulls out of the parent's memory.

``isolation="process"`` on Linux. A request of arrays must reach the child
without the serving process copying it (a copy of a few hundred KB costs
the caller tens of microseconds) and without a thread of the serving
process waking for it (a thread that wakes per request takes the
interpreter lock and a CPU from the callers at their slowest moments:
docs/benchmarks.md measures both). So the caller *posts* the request: it
writes the addresses and lengths of the arrays' memory, their dtypes and
shapes, into a slot of a shared memory mapping (the board), keeps a
reference to the objects in that slot, and releases a semaphore. The
child reads the slots in order and copies the arrays' memory into its own
with ``process_vm_readv(2)``, a system call made in the child, on the
child's CPU time and at its lowered priority. It marks the slot taken, and
the parent drops the references when it reuses the slot (or, on an idle
board, a second later). A full board (the child ``max_queue`` requests
behind) drops the request, counted.

**One array and its answer** (``predict(X)``, the common request), once
their layout has been posted before and the probe has found the child
able to read it: the caller writes the two *objects'* addresses (``id``)
instead of their buffers' (the buffer export costs about 0.5 us an array,
and each microsecond of Python here runs cold, right after the primary's
numpy work has emptied the core's cache). The child first reads each
array's data pointer out of the array object (at ``OFFSET``, the size of
a Python object's header, where numpy's array struct keeps it; the probe
checks it on an array whose data address it knows), then the data.

Requests the board cannot describe in a slot (keyword arguments, objects
other than C-contiguous numeric arrays) go through the router's queue to
its sender thread, which pickles them (protocol 5, buffers out of band)
and posts the pickle and the buffers' addresses the same way. So every
request reaches the child through the board, in the order posted, and one
semaphore release per request is what wakes it.

**Order of memory.** Posts are made under one lock, and each post releases
the semaphore before that lock is let go: the child that acquired the
k-th release therefore sees slots 0..k-1 written whatever the CPU's memory
order. The child writes a slot's state byte (taken) only after the system
call that copied the memory has returned.

**Permission.** ``process_vm_readv`` needs the permission to trace the
target (same user, and under the Yama security module's default
``ptrace_scope=1`` the target must name its reader). The child probes it on
start: on ``EPERM`` the parent names the child as its one permitted tracer
(``prctl(PR_SET_PTRACER, child_pid)``, the narrowest grant Yama knows: only
that process, which runs the shadow the parent gave it) and the child
probes again. Where the call is not permitted all the same (a seccomp
profile, ``ptrace_scope`` 2 or 3) or does not exist (not Linux), the
requests go through the pipe instead (:mod:`aiguard.recover._shadow_process`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import marshal
import mmap
import os
import pickle
import struct
import sys
import threading
from typing import TYPE_CHECKING, Any, Final

import numpy as np

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess
    from multiprocessing.synchronize import Semaphore

__all__ = ["FULL", "INELIGIBLE", "POSTED", "Board", "Reader", "permit", "permit_child", "puller"]

POSTED: Final = 0
FULL: Final = 1
INELIGIBLE: Final = 2

ARRAYS: Final = 1  # kinds of slot: a request of arrays (layout inline, memory pulled)
PICKLED: Final = 2  # a pickle (pulled) and its out-of-band buffers (pulled)
STOP: Final = 3  # the parent's last post: answer with the final statistics, then exit
BY_ID: Final = 4  # a request of one array and its answer: their objects' addresses, pulled
OFFSET: Final = object.__basicsize__  # where an array object keeps its data pointer

_COUNTERS: Final = struct.Struct("=8q")  # taken, finished, errors, timeouts, shadowed, garbage
_TAKEN, _FINISHED = 0, 1
_SLOT: Final = 512  # bytes a slot
_HEAD: Final = struct.Struct("=BBHId")  # state, kind, buffers, layout bytes, primary seconds
_BUFFER: Final = struct.Struct("=QQ")  # address, length
_MAX_BUFFERS: Final = 16
_INLINE: Final = _SLOT - _HEAD.size - _MAX_BUFFERS * _BUFFER.size  # layout bytes a slot holds
_MAX_SLOTS: Final = 4096  # 2 MiB of board; max_queue above it: the board holds this many
_PR_SET_PTRACER: Final = 0x59616D61
_LAYOUTS: Final = 64  # distinct request layouts remembered


_BASE: Final = 64  # the counters' bytes, before the first slot


def _slot_offset(index: int) -> int:
    return _BASE + index * _SLOT


@functools.lru_cache(maxsize=64)
def _record(spans: int, layout: int) -> struct.Struct:
    """A slot's format: the head, *spans* addresses and lengths, *layout* bytes."""
    return struct.Struct(f"={_HEAD.format.lstrip('=')}{spans}Q{layout}s")


class _Iovec(ctypes.Structure):
    _fields_ = (("base", ctypes.c_void_p), ("length", ctypes.c_size_t))


def puller() -> Any:
    """``process_vm_readv`` from the C library, or None where there is none."""
    if not sys.platform.startswith("linux"):  # pragma: no cover - Linux in CI
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        function = libc.process_vm_readv
    except (OSError, AttributeError):  # pragma: no cover - a C library without it
        return None
    function.argtypes = (ctypes.c_int, ctypes.POINTER(_Iovec), ctypes.c_ulong,
                         ctypes.POINTER(_Iovec), ctypes.c_ulong, ctypes.c_ulong)
    function.restype = ctypes.c_ssize_t
    return function


def permit(pid: int) -> bool:
    """Name *pid* this process's permitted tracer (Yama); False where that means nothing."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        return bool(libc.prctl(_PR_SET_PTRACER, ctypes.c_ulong(pid), 0, 0, 0) == 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return False


_permitted: list[BaseProcess] = []  # the child this process named its tracer (Yama), if any
_permitted_lock = threading.Lock()


def permit_child(process: BaseProcess) -> bool:
    """Name *process* this process's one permitted tracer, unless a live child already is.

    Yama keeps one such tracer per process: naming a second would take the
    first child's permission away while it pulls. So the first router's child
    gets the board and the others, while it lives, the pipe.
    """
    with _permitted_lock:
        if any(p.is_alive() for p in _permitted if p is not process):
            return False
        if not permit(process.pid or 0):
            return False
        _permitted[:] = [process]
        return True

def _address(array: np.ndarray[Any, Any]) -> int:
    if array.flags.writeable:
        return ctypes.addressof(ctypes.c_char.from_buffer(array))  # type: ignore[arg-type]
    return int(array.__array_interface__["data"][0])


def _layout(arrays: tuple[Any, ...]) -> bytes:
    """Dtypes and shapes of *arrays* (marshal)."""
    return marshal.dumps(tuple((a.dtype.str, a.shape) for a in arrays))


class Board:
    """The parent's side: post requests into slots, keep their objects until taken."""

    def __init__(self, slots: int, tokens: Semaphore) -> None:
        self.slots = max(1, min(slots, _MAX_SLOTS))
        self.size = _slot_offset(self.slots)
        self.fd = os.memfd_create("aiguard-shadow-board", getattr(os, "MFD_CLOEXEC", 0))
        try:
            os.ftruncate(self.fd, self.size)
            self.memory = mmap.mmap(self.fd, self.size)
        except BaseException:  # pragma: no cover - no memory
            os.close(self.fd)
            raise
        self._tokens = tokens
        self._lock = threading.Lock()
        self._refs: list[Any] = [None] * self.slots
        self._next = 0
        self.posted = 0
        self.closed = False
        self.by_id = False  # the child reads an array's data pointer from the array object
        self._layouts: dict[tuple[Any, ...], bytes] = {}  # dtypes and shapes: layout bytes

    def counters(self) -> tuple[int, ...]:
        """``(taken, finished, errors, timeouts, shadowed, garbage)`` as the child wrote them."""
        return _COUNTERS.unpack_from(self.memory, 0)[:6]

    def full(self) -> bool:
        """True when the next slot still holds a request the child has not taken."""
        return self.memory[_BASE + self._next * _SLOT] == 1  # inline: on every call

    def post(self, args: tuple[Any, ...], answer: Any, seconds: float) -> int:
        """Post a request of arrays: POSTED, FULL, or INELIGIBLE (not arrays: queue it).

        One array and its answer, of a layout posted before, go by their
        objects' addresses where the probe found the child can read an
        array's data pointer there (``by_id``): the child reads the
        pointers, then the data. Anything else goes by the buffers'
        addresses (0.5 us an array for the buffer export).
        """
        if self.by_id and len(args) == 1:  # predict(X): the lean path, checked by the probe
            status = self._post_by_id(args[0], answer, seconds)
            if status is not None:
                return status
        return self._post_arrays((*args, answer), seconds)

    def _post_by_id(self, x: Any, answer: Any, seconds: float) -> int | None:
        """Post one array and its answer by their objects' addresses (a layout seen before)."""
        if type(x) is np.ndarray and type(answer) is np.ndarray:
            layout = self._layouts.get((x.dtype, x.shape, answer.dtype, answer.shape))
            if layout is not None and x.flags.c_contiguous and answer.flags.c_contiguous:
                return self._post(BY_ID, [id(x), x.nbytes, id(answer), answer.nbytes],
                                  layout, float(seconds), (x, answer))
        return None

    def _post_arrays(self, arrays: tuple[Any, ...], seconds: float) -> int:
        """Post arrays by their buffers' addresses: POSTED, FULL or INELIGIBLE."""
        if len(arrays) > _MAX_BUFFERS:
            return INELIGIBLE
        key: list[Any] = []
        spans: list[int] = []
        for a in arrays:
            if type(a) is not np.ndarray:
                return INELIGIBLE
            dtype, size = a.dtype, a.nbytes
            if dtype.kind not in "biufc" or not a.flags.c_contiguous:
                return INELIGIBLE
            key += (dtype, a.shape)
            spans += (_address(a) if size else 0, size)
        layout = self._layouts.get(tuple(key))
        if layout is None:
            layout = _layout(arrays)
            if len(layout) > _INLINE:
                return INELIGIBLE
            if len(self._layouts) >= _LAYOUTS:
                self._layouts.clear()
            self._layouts[tuple(key)] = layout
        return self._post(ARRAYS, spans, layout, float(seconds), arrays)

    def post_pickled(self, item: tuple[Any, ...]) -> int:
        """Post any request: pickled here (protocol 5, buffers out of band); POSTED or FULL.

        Raises:
            Exception: whatever pickling raises (the caller counts it).
        """
        raw: list[pickle.PickleBuffer] = []
        data = pickle.dumps(item, protocol=5, buffer_callback=raw.append)
        if len(raw) >= _MAX_BUFFERS:  # too many to list in a slot: all in band
            raw = []
            data = pickle.dumps(item, protocol=5)
        views = [memoryview(data), *(b.raw() for b in raw)]
        keep = [np.frombuffer(v, np.uint8) for v in views]
        spans: list[int] = []
        for a in keep:
            spans += (_address(a) if a.nbytes else 0, a.nbytes)
        return self._post(PICKLED, spans, b"", 0.0, (data, raw, keep))

    def post_stop(self) -> int:
        """The last post: the child answers it with its final statistics (POSTED or FULL)."""
        status = self._post(STOP, [], b"", 0.0, None)
        if status == POSTED:
            self.closed = True
        return status

    def _post(self, kind: int, spans: list[int], layout: bytes, seconds: float,
              keep: Any) -> int:
        """Write a slot: *spans* are address, length pairs, flat."""
        memory = self.memory
        record = _record(len(spans), len(layout))
        with self._lock:
            index = self._next
            offset = _slot_offset(index)
            if self.closed or memory[offset] == 1:
                return FULL
            self._refs[index] = keep  # drops the taken request this slot held
            record.pack_into(memory, offset, 0, kind, len(spans) // 2, len(layout), seconds,
                             *spans, layout)
            memory[offset] = 1
            self._next = (index + 1) % self.slots
            if kind != STOP:
                self.posted += 1
            self._tokens.release()  # under the lock: see "Order of memory"
        return POSTED

    def shut(self) -> int:
        """Refuse posts from now on; return the requests posted."""
        with self._lock:
            self.closed = True
            return self.posted

    def reap(self) -> None:
        """Drop the objects of requests the child has taken (an idle board's memory)."""
        memory = self.memory
        with self._lock:
            for index, keep in enumerate(self._refs):
                if keep is not None and memory[_slot_offset(index)] == 0:
                    self._refs[index] = None

    def held(self) -> int:
        """Slots whose objects are still referenced here (a test hook)."""
        return sum(keep is not None for keep in self._refs)

    def close(self) -> None:
        """Let go of the mapping and the objects (after the child is gone)."""
        with self._lock:
            self._refs = [None] * self.slots
            self.closed = True
        os.close(self.fd)


class Reader:
    """The child's side: take the slots in order, pull their memory, count outcomes."""

    def __init__(self, memory: mmap.mmap, slots: int, parent: int, pull: Any) -> None:
        self.memory, self.slots, self.parent, self._pull = memory, slots, parent, pull
        self.offset = OFFSET  # of the data pointer in the parent's array objects
        self._next = 0
        self._counts = [0] * 8

    def probe_by_id(self, array: int, data: int, offset: int) -> bool:
        """Whether the parent's array object at *array* keeps its *data* pointer at *offset*."""
        pointer = bytearray(8)
        if not self._pull_into([(array + offset, 8)], [pointer]):
            return False
        self.offset = offset
        return int.from_bytes(pointer, sys.byteorder) == data

    def probe(self, address: int, length: int) -> int:
        """Pull *length* bytes at *address* of the parent: 0, or the errno of the failure."""
        return self._read([(address, length)], [bytearray(length)])

    def take(self) -> tuple[int, Any]:
        """The next slot as ``(kind, item)``; item None when its memory could not be pulled.

        Raises:
            ProcessLookupError: the parent is gone.
        """
        memory = self.memory
        offset = _slot_offset(self._next)
        _, kind, count, length, seconds = _HEAD.unpack_from(memory, offset)
        at = offset + _HEAD.size
        spans = [_BUFFER.unpack_from(memory, at + i * _BUFFER.size) for i in range(count)]
        at += count * _BUFFER.size
        layout = bytes(memory[at:at + length])
        buffers = [bytearray(size) for _, size in spans]
        ok = True
        if kind == BY_ID:  # the data pointers first, out of the array objects
            pointers = [bytearray(8) for _ in spans]
            ok = self._pull_into([(obj + self.offset, 8 if size else 0) for obj, size in spans],
                                 pointers)
            spans = [(int.from_bytes(p, sys.byteorder), size)
                     for p, (_, size) in zip(pointers, spans, strict=True)]
            kind = ARRAYS
        ok = ok and self._pull_into(spans, buffers)
        memory[offset] = 0  # taken: after the system call returned
        self._next = (self._next + 1) % self.slots
        self._counts[_TAKEN] += 1
        if kind == STOP or not ok:
            return kind, None
        try:
            if kind == ARRAYS:
                arrays = [np.frombuffer(b, dtype=np.dtype(dtype)).reshape(shape)
                          for (dtype, shape), b in zip(marshal.loads(layout),  # noqa: S302
                                                       buffers, strict=True)]
                return kind, (tuple(arrays[:-1]), {}, arrays[-1], seconds)
            item = pickle.loads(buffers[0], buffers=buffers[1:])  # noqa: S301 - our parent's
        except Exception:  # a class this process cannot import, say
            return kind, None
        return kind, item

    def _pull_into(self, spans: list[tuple[int, int]], buffers: list[bytearray]) -> bool:
        """Pull each span into its buffer; False when that failed.

        Raises:
            ProcessLookupError: the parent is gone.
        """
        failed = self._read(spans, buffers)
        if failed == errno.ESRCH:
            raise ProcessLookupError(self.parent)
        return not failed

    def _read(self, spans: list[tuple[int, int]], buffers: list[bytearray]) -> int:
        """One ``process_vm_readv`` of the non-empty spans: 0, or the errno of the failure."""
        pairs = [(address, size, b) for (address, size), b in zip(spans, buffers, strict=True)
                 if size]
        if not pairs:
            return 0
        count = len(pairs)
        local = (_Iovec * count)(*(_Iovec(ctypes.addressof(
            (ctypes.c_char * size).from_buffer(b)), size) for _, size, b in pairs))
        remote = (_Iovec * count)(*(_Iovec(address, size) for address, size, _ in pairs))
        done = self._pull(self.parent, local, count, remote, count, 0)
        return 0 if done == sum(size for _, size, _ in pairs) else ctypes.get_errno() or errno.EIO

    def count(self, counts: tuple[int, int, int, int]) -> None:
        """Publish one more finished request and the shadow's outcome counters."""
        self._counts[_FINISHED] += 1
        self._counts[2:6] = counts
        _COUNTERS.pack_into(self.memory, 0, *self._counts)

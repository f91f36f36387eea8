"""The shadow's child process: its code, and the wire format both processes speak.

:mod:`aiguard.recover._shadow_process` tells the whole story (the board,
the pipe, deaths); this module is what runs in the spawned child
(:class:`Child`), with the format of the messages on the requests pipe
(``HEAD`` and the markers after it, :func:`dump` / :func:`load` for a
request on the pipe) and :func:`child_config`, the child's setup pickled
once by the parent.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import marshal
import mmap
import os
import pickle
import struct
import threading
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from aiguard.errors import ConfigurationError
from aiguard.recover._shadow_board import STOP, Reader, puller
from aiguard.recover._shadow_run import LocalShadow, lower_priority

if TYPE_CHECKING:
    from collections.abc import Callable
    from multiprocessing.connection import Connection
    from multiprocessing.synchronize import Semaphore

    from aiguard.typing import Clock

__all__ = ["Child", "child_config"]

HEAD: Final = struct.Struct("!I")  # buffers following a request, or PIPE_STOP
PIPE_ARRAYS: Final = b"A"  # a request of arrays described by marshal (a pickle starts b"\x80")
PIPE_STOP: Final = 0xFFFFFFFF
ACK: Final = struct.Struct("!4Q")  # errors, timeouts, shadowed, garbage
SEQ: Final = struct.Struct("!Q")  # numbers report() questions and their answers
MAP: Final = 0xFFFFFFFE  # the board: PROBE's fields follow, then its file descriptor
PROBE: Final = 0xFFFFFFFD  # probe again (after the parent permitted the child)
# slots, parent pid, the probe's address and length, an array object's address and offset
PROBED: Final = struct.Struct("!IQQQQQ")
ANSWER: Final = struct.Struct("!i?")  # the probe's errno (0: the child pulls), by object
_ORPHAN: Final = 1.0  # seconds between the child's looks for a parent gone


def dump(item: tuple[Any, ...], buffers: list[Any]) -> bytes:
    """The request's bytes; the memory of its arrays goes to *buffers*, sent after it.

    Positional numpy arrays with a plain answer array (the common request)
    are described by their dtypes and shapes in a few bytes (``marshal``,
    about 1 us); anything else is pickled (protocol 5, arrays out of band;
    numpy's reduction costs about 5 us an array, the sender's time holding
    the interpreter lock that the callers need).
    """
    args, kwargs, answer, seconds = item
    if not kwargs:
        arrays = (*args, answer)
        if all(type(a) is np.ndarray and a.flags.c_contiguous and a.dtype.kind in "biufc"
               for a in arrays):
            # flat bytes (an empty array's memoryview cannot be cast: a uint8 view of it)
            buffers.extend(a.data.cast("B") if a.size else a.reshape(-1).view(np.uint8)
                           for a in arrays)
            layout = tuple((_dtype_code(a.dtype), a.shape) for a in arrays)
            return PIPE_ARRAYS + marshal.dumps((layout, float(seconds)))
    pickled = pickle.dumps(item, protocol=5, buffer_callback=buffers.append)
    buffers[:] = [buffer.raw() for buffer in buffers]
    return pickled


@functools.lru_cache(maxsize=64)
def _dtype_code(dtype: np.dtype[Any]) -> str:
    """``dtype.str`` (with the byte order), computed once per dtype (it costs ~0.5 us)."""
    return str(dtype.str)


def load(data: memoryview, buffers: list[bytearray]) -> tuple[Any, ...]:
    """The request from :func:`dump`'s bytes and the buffers received after them."""
    if bytes(data[:1]) == PIPE_ARRAYS:
        layout, seconds = marshal.loads(data[1:])  # noqa: S302 - our parent's bytes
        arrays = [np.frombuffer(buffer, dtype=np.dtype(dtype)).reshape(shape)
                  for (dtype, shape), buffer in zip(layout, buffers, strict=True)]
        return tuple(arrays[:-1]), {}, arrays[-1], seconds
    item: tuple[Any, ...] = pickle.loads(data, buffers=buffers)  # noqa: S301 - our parent's
    return item


def child_config(
    shadow: Callable[..., Any],
    *,
    compare: Callable[[Any, Any], Any] | None,
    clock: Clock,
    timeout: float | None,
    window: int,
    name: str,
    idle: bool,
) -> bytes:
    """Pickle what the child needs, once; the callables each on their own to name a failure.

    Raises:
        ConfigurationError: ``shadow``, ``compare`` or ``clock`` cannot be pickled.
    """
    parts = [_pickled(value, argument)
             for argument, value in (("shadow", shadow), ("compare", compare), ("clock", clock))]
    return pickle.dumps((*parts, timeout, window, name, idle), protocol=5)


def _pickled(value: object, argument: str) -> bytes:
    try:
        return pickle.dumps(value, protocol=5)
    except Exception as error:
        raise ConfigurationError(
            argument, "a picklable callable for isolation='process'", value) from error

class Child:
    """The child process's side: serve requests from one pipe, statistics on another."""

    def __init__(self, config: bytes, tokens: Semaphore | None = None) -> None:
        shadow, compare, clock, timeout, window, name, idle = pickle.loads(config)  # noqa: S301 - our own bytes
        self.idle, self.tokens = idle, tokens
        self.reader: Reader | None = None
        self._board: tuple[Any, int, int] | None = None  # mapping, slots, parent: to probe
        self._probe = (0, 0, 0, 0)  # the parent's probe: bytes, length, array object, offset
        self.local = LocalShadow(
            pickle.loads(shadow), timeout=timeout, clock=pickle.loads(clock),  # noqa: S301
            compare=pickle.loads(compare), window=window, name=name)  # noqa: S301

    def serve(self, requests: Connection, control: Connection) -> None:
        """Shadow requests until the parent says stop or is gone."""
        lower_priority(idle=self.idle)  # first: the control thread inherits it
        threading.Thread(target=self.answer, args=(control,), daemon=True,
                         name="aiguard-shadow-control").start()
        try:
            while self.one(requests):
                pass
            if self.reader is not None and self.tokens is not None:
                self.pull(self.reader, self.tokens, requests)
        finally:
            self.local.release()

    def one(self, requests: Connection) -> bool:
        """Shadow one request and acknowledge it; False on stop, a parent gone, or the board."""
        try:
            head = requests.recv_bytes()
            (count,) = HEAD.unpack_from(head)
            if count == PIPE_STOP:
                requests.send_bytes(pickle.dumps(self.local.stats.snapshot(), protocol=5))
                return False
            if count in (MAP, PROBE):
                return self.probe(requests, head, count)
            buffers = [bytearray(requests.recv_bytes()) for _ in range(count)]  # writable
        except (EOFError, OSError):
            return False
        try:
            item = load(memoryview(head)[HEAD.size:], buffers)
        except Exception:  # a class the child cannot import, say
            self.local.failed()
        else:
            self.local.run(item)
        try:
            requests.send_bytes(ACK.pack(*self.local.counts()))
        except OSError:
            return False
        return True

    def probe(self, requests: Connection, head: bytes, count: int) -> bool:
        """Map the board (first time), pull the probe, answer; False to pull from now on."""
        if count == MAP:
            slots, parent, *probe = PROBED.unpack_from(head, HEAD.size)
            fd = _receive_fd(requests)
            self._board = (mmap.mmap(fd, os.fstat(fd).st_size), slots, parent)
            self._probe = tuple(probe)
            os.close(fd)
        pull = puller()
        reader = None
        if pull is not None and self._board is not None:
            reader = Reader(*self._board, pull)
        address, length, array, offset = self._probe
        failed = errno.ENOSYS if reader is None else reader.probe(address, length)
        by_id = not failed and reader is not None and reader.probe_by_id(array, address, offset)
        if not failed:
            self.reader = reader  # first: the parent may look as soon as it has the answer
        requests.send_bytes(ANSWER.pack(failed, by_id))
        return bool(failed)  # True: the pipe it stays

    def pull(self, reader: Reader, tokens: Semaphore, requests: Connection) -> None:
        """Shadow the board's requests in order until the stop post or a parent gone."""
        local = self.local
        while True:
            if not tokens.acquire(timeout=_ORPHAN):
                if requests.poll(0):  # the parent sends nothing now: its end of file
                    return
                continue
            try:
                kind, item = reader.take()
            except ProcessLookupError:
                return
            if kind == STOP:
                with contextlib.suppress(OSError):
                    requests.send_bytes(pickle.dumps(local.stats.snapshot(), protocol=5))
                return
            if item is None:
                local.failed()
            else:
                local.run(item)
            reader.count(local.counts())

    def answer(self, control: Connection) -> None:
        """Answer each report question with the statistics, until the parent is gone."""
        try:
            while True:
                question = control.recv_bytes()
                control.send_bytes(question + pickle.dumps(self.local.stats.snapshot()))
        except (EOFError, OSError):
            return


# The spawned process's entry point: coverage does not follow a spawned process, so this
# one line is excluded; what it runs (Child) is tested in-process, over a real pipe.
def child_main(  # pragma: no cover
    requests: Connection, control: Connection, config: bytes, tokens: Semaphore,
) -> None:
    """Serve the shadow in this (spawned) process."""
    Child(config, tokens).serve(requests, control)

def _receive_fd(connection: Connection) -> int:
    from multiprocessing.reduction import recv_handle  # noqa: PLC0415 - Unix only
    return int(recv_handle(connection))

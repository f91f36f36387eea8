"""``ShadowRouter(..., isolation="process")``: the shadow runs in a child process.

Why: a shadow on a worker thread shares the interpreter lock with the
callers, so a shadow doing pure-Python work takes it from them. A child
process has its own interpreter.

**The board** (Linux; :mod:`aiguard.recover._shadow_board`). Once the
child has started, the sender offers it a board in shared memory and the
child probes whether it may read this process's memory
(``process_vm_readv``). If it may, callers post requests of arrays on the
board themselves (``ShadowRouter._sync_pulled``: addresses, dtypes,
shapes; the child copies the memory) and the sender posts the others,
pickled; the child takes every request from the board, in order, and
publishes its counters (taken, finished, errors, timeouts, shadowed,
garbage) there. A watcher thread waits on the child's sentinel (a death is
noticed at once) and, once a second on an idle board, lets go of the
requests the child has taken.

**The pipe** (where the child may not read our memory, or before the board
is up). The router's one worker thread is a *sender*: it takes requests
from the deque (the same nap / park / wake machinery) and writes each as
``(args, kwargs, primary_answer, primary_seconds)`` to the child:
positional numpy arrays and an array answer as a few bytes of dtypes and
shapes (``marshal``) followed by their memory, anything else pickled with
protocol 5 and out-of-band buffers. Either way an array is never copied
into a message: its memory is written by its own ``send_bytes``, a system
call made without the interpreter lock.
At most ``_IN_FLIGHT`` requests are in the child at once; the sender waits
for an acknowledgement (a blocking ``recv``, the lock released) before it
sends more, so the rest wait in the deque and ``max_queue`` still bounds
memory and counts the drops. Each acknowledgement carries the child's
counters (errors, timeouts, shadowed, garbage): the parent does no
comparison work. :meth:`RemoteShadow.snapshot` (``report()``) asks the child
for its statistics over a second pipe, answered by a small thread there.

**The child** is started with the ``spawn`` start method: a fresh
interpreter, not a ``fork`` of a process that has threads (a fork copies
locks some other thread may hold at that instant, and only the forking
thread, so the child could deadlock on its first log line or allocation).
It lowers its own priority (nice + 10, or ``SCHED_IDLE`` with
``priority="idle"``), rebuilds the shadow, ``compare`` and ``clock`` from the
bytes pickled once at construction, and serves requests one at a time with
:class:`aiguard.recover._shadow_run.LocalShadow`, the code the thread workers
run. The child sees a copy of the request, not the caller's objects.

**A child that dies** (a crash, an out-of-memory kill): the board's watcher
notices at once, the sender (without a board) on its next send or receive;
it is logged once, and the router refuses new requests
(callers drop them, counted), counting the requests in flight and still
queued or posted as lost (reported among ``dropped``). The primary keeps serving. There
is no restart: a shadow that crashed once (out of memory, a native fault)
would likely crash again, and each restart costs a second of start-up. A
process forked from the parent (``gunicorn --preload``) starts its own child
with fresh statistics.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import itertools
import marshal
import mmap
import multiprocessing
import multiprocessing.connection
import os
import pickle
import struct
import threading
import time
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from aiguard._core._counter import peek
from aiguard._core._events import log_once
from aiguard.errors import ConfigurationError
from aiguard.recover._shadow_board import (
    FULL,
    INELIGIBLE,
    OFFSET,
    STOP,
    Board,
    Reader,
    permit,
    puller,
)
from aiguard.recover._shadow_run import LocalShadow, lower_priority
from aiguard.recover._shadow_stats import Comparison

if TYPE_CHECKING:
    from collections.abc import Callable
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess
    from multiprocessing.synchronize import Semaphore

    from aiguard.typing import Clock

__all__ = ["Child", "RemoteShadow", "child_config"]

_IN_FLIGHT: Final = 2  # requests in the child at once: one running, one ready behind it
_REPORT_WAIT: Final = 10.0  # seconds report() waits for the child's statistics
_HEAD: Final = struct.Struct("!I")  # buffers following a request, or _STOP
_ARRAYS: Final = b"A"  # a request of arrays described by marshal (a pickle starts b"\x80")
_STOP: Final = 0xFFFFFFFF
_ACK: Final = struct.Struct("!4Q")  # errors, timeouts, shadowed, garbage
_SEQ: Final = struct.Struct("!Q")  # numbers report() questions and their answers
_MAP: Final = 0xFFFFFFFE  # the board: _PROBE's fields follow, then its file descriptor
_PROBE: Final = 0xFFFFFFFD  # probe again (after the parent permitted the child)
# slots, parent pid, the probe's address and length, an array object's address and offset
_PROBED: Final = struct.Struct("!IQQQQQ")
_ANSWER: Final = struct.Struct("!i?")  # the probe's errno (0: the child pulls), by object
_WATCH: Final = 1.0  # seconds between the parent's looks at an idle board (and its reaping)
_ORPHAN: Final = 1.0  # seconds between the child's looks for a parent gone


def _dump(item: tuple[Any, ...], buffers: list[Any]) -> bytes:
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
            return _ARRAYS + marshal.dumps((layout, float(seconds)))
    pickled = pickle.dumps(item, protocol=5, buffer_callback=buffers.append)
    buffers[:] = [buffer.raw() for buffer in buffers]
    return pickled


@functools.lru_cache(maxsize=64)
def _dtype_code(dtype: np.dtype[Any]) -> str:
    """``dtype.str`` (with the byte order), computed once per dtype (it costs ~0.5 us)."""
    return str(dtype.str)


def _load(data: memoryview, buffers: list[bytearray]) -> tuple[Any, ...]:
    """The request from :func:`_dump`'s bytes and the buffers received after them."""
    if bytes(data[:1]) == _ARRAYS:
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
            (count,) = _HEAD.unpack_from(head)
            if count == _STOP:
                requests.send_bytes(pickle.dumps(self.local.stats.snapshot(), protocol=5))
                return False
            if count in (_MAP, _PROBE):
                return self.probe(requests, head, count)
            buffers = [bytearray(requests.recv_bytes()) for _ in range(count)]  # writable
        except (EOFError, OSError):
            return False
        try:
            item = _load(memoryview(head)[_HEAD.size:], buffers)
        except Exception:  # a class the child cannot import, say
            self.local.failed()
        else:
            self.local.run(item)
        try:
            requests.send_bytes(_ACK.pack(*self.local.counts()))
        except OSError:
            return False
        return True

    def probe(self, requests: Connection, head: bytes, count: int) -> bool:
        """Map the board (first time), pull the probe, answer; False to pull from now on."""
        if count == _MAP:
            slots, parent, *probe = _PROBED.unpack_from(head, _HEAD.size)
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
        requests.send_bytes(_ANSWER.pack(failed, by_id))
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
def _child_main(  # pragma: no cover
    requests: Connection, control: Connection, config: bytes, tokens: Semaphore,
) -> None:
    """Serve the shadow in this (spawned) process."""
    Child(config, tokens).serve(requests, control)


_permitted: list[BaseProcess] = []  # the child this process named its tracer (Yama), if any
_permitted_lock = threading.Lock()


def _permit(process: BaseProcess) -> bool:
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


def _receive_fd(connection: Connection) -> int:
    from multiprocessing.reduction import recv_handle  # noqa: PLC0415 - Unix only
    return int(recv_handle(connection))


def _send_fd(connection: Connection, fd: int, pid: int) -> None:
    from multiprocessing.reduction import send_handle  # noqa: PLC0415 - Unix only
    send_handle(connection, fd, pid)


class RemoteShadow:
    """The parent's side: the sender thread's half, and report()'s half, of the child."""

    def __init__(
        self,
        config: bytes,
        *,
        name: str,
        finished: itertools.count[int],
        refuse: Callable[[], None],
        slots: int = 1,
        on_board: Callable[[Board], None] = lambda _board: None,
    ) -> None:
        self._config, self.name = config, name
        self._finished, self._refuse = finished, refuse
        self._slots, self._on_board = slots, on_board
        self.board: Board | None = None  # set once the child pulls from it
        self._board_full = self._board_dead = 0  # board requests dropped full, lost dead
        self._dead_lock = threading.Lock()
        self._tokens: Semaphore | None = None
        self._counts = (0, 0, 0, 0)  # errors, timeouts, shadowed, garbage: the last ack
        self._unsent, self._lost = itertools.count(), itertools.count()
        self._in_flight = 0
        self.dead = self._ended = self._closing = self._stopping = False
        self.process: BaseProcess | None = None
        self._requests: Connection | None = None
        self._control: Connection | None = None
        self._control_lock = threading.Lock()
        self._asked = 0
        self._last: dict[str, Any] = Comparison(1, None).snapshot()  # nothing compared yet

    def _now(self) -> tuple[int, int, int, int]:
        """errors, timeouts, shadowed, garbage: from the board, else from the last ack."""
        board = self.board
        if board is None:
            return self._counts
        _, _, errors, timeouts, shadowed, garbage = board.counters()
        return errors, timeouts, shadowed, garbage

    @property
    def errors(self) -> int:
        """Shadow calls that raised in the child, and requests that could not be pickled."""
        return self._now()[0] + peek(self._unsent)

    @property
    def timeouts(self) -> int:
        """Shadow calls slower than ``timeout``."""
        return self._now()[1]

    @property
    def lost(self) -> int:
        """Accepted requests never shadowed: the child died, or its board was full."""
        return peek(self._lost) + self._board_full + self._board_dead

    @property
    def pulled(self) -> int:
        """Board requests the child finished, or lost with it (``finished`` counts the rest)."""
        board = self.board
        return 0 if board is None else board.counters()[1] + self._board_dead

    # -- on the sender thread -------------------------------------------------

    def begin(self) -> None:
        """Start the child (spawned: see the module docstring).

        The sender thread keeps the process's priority (the child lowers
        its own): a thread that holds the interpreter lock, if only for
        microseconds, must not then wait for a CPU while the callers wait
        for the lock.
        """
        context = multiprocessing.get_context("spawn")
        requests, theirs = context.Pipe()
        control, their_control = context.Pipe()
        # kept: a spawned child opens it by name, which the object's finalizer unlinks
        tokens = self._tokens = context.Semaphore(0)
        process = context.Process(
            target=_child_main, args=(theirs, their_control, self._config, tokens),
            name=f"aiguard-shadow-{self.name}", daemon=True)
        try:
            process.start()
        except Exception:  # a daemonic parent, no resources...
            requests.close()
            control.close()
            self._die("could not start")
            return
        finally:
            theirs.close()  # the child has its own: its end of file must reach us
            their_control.close()
        self.process, self._requests = process, requests
        with self._control_lock:
            self._control = control
        self._offer_board(process, requests, tokens)

    def _offer_board(self, process: BaseProcess, requests: Connection, tokens: Semaphore) -> None:
        """Make the board and have the child probe it; on success the child pulls from it."""
        if puller() is None or not hasattr(os, "memfd_create"):  # pragma: no cover - Linux
            return
        try:
            board = Board(self._slots, tokens)
        except OSError:  # pragma: no cover - no memory for it
            return
        probe = np.arange(16, dtype=np.uint8)  # its bytes, and its object's data pointer
        address = ctypes.addressof(ctypes.c_char.from_buffer(probe))  # type: ignore[arg-type]
        try:
            requests.send_bytes(_HEAD.pack(_MAP) + _PROBED.pack(
                board.slots, os.getpid(), address, probe.nbytes, id(probe), OFFSET))
            _send_fd(requests, board.fd, process.pid or 0)
            failed, by_id = _ANSWER.unpack(requests.recv_bytes())
            if failed == errno.EPERM and _permit(process):
                requests.send_bytes(_HEAD.pack(_PROBE))
                failed, by_id = _ANSWER.unpack(requests.recv_bytes())
        except (EOFError, OSError):
            board.close()
            self._die("died")
            return
        if failed:
            log_once(f"shadow-board:{self.name}:{id(self)}", "aiguard: the shadow process "
                     "of %r cannot read this process's memory (%s); requests go through a "
                     "pipe", self.name, os.strerror(failed), event="shadow.pipe", name=self.name,
                     exc_info=False)
            board.close()
            return
        board.by_id = by_id
        self.board = board
        threading.Thread(target=self._watch, args=(process, board), daemon=True,
                         name=f"aiguard-shadow-{self.name}-watch").start()
        self._on_board(board)

    def _watch(self, process: BaseProcess, board: Board) -> None:
        """Notice the child's death; drop an idle board's references after a while."""
        seen = -1
        while not multiprocessing.connection.wait([process.sentinel], timeout=_WATCH):
            if board.posted == seen:
                board.reap()
            seen = board.posted
        self._die("died")  # after a stop too (quiet then): what it had not finished is lost

    def serve(self, item: tuple[Any, ...]) -> None:
        """Send *item* to the child (after an acknowledgement when enough are in flight)."""
        board = self.board
        if board is not None:
            self._post(board, item)
            return
        if self._in_flight >= _IN_FLIGHT:
            self._ack()
        if self._requests is None or self.dead:
            self._drop()
            return
        buffers: list[Any] = []
        try:
            data = _dump(item, buffers)
        except Exception:
            self._unpicklable()
            return
        try:
            self._requests.send_bytes(_HEAD.pack(len(buffers)) + data)
            for buffer in buffers:
                self._requests.send_bytes(buffer)
        except OSError:
            self._drop()
            self._die("died")
            return
        self._in_flight += 1

    def _post(self, board: Board, item: tuple[Any, ...]) -> None:
        """Post a queued request on the board (pickled unless it is one of arrays)."""
        args, kwargs, answer, seconds = item
        if self.dead:
            self._drop()
            return
        status = INELIGIBLE if kwargs else board.post(args, answer, seconds)
        if status == INELIGIBLE:
            try:
                status = board.post_pickled(item)
            except Exception:
                self._unpicklable()
                return
        if status == FULL:
            self._board_full += 1  # the sender's own counter
            next(self._finished)

    def settle(self) -> None:
        """Wait for the acknowledgements of the requests in flight."""
        while self._in_flight:
            self._ack()

    def end(self) -> None:
        """Stop the child after its requests; keep its final statistics."""
        self.settle()
        requests, board = self._requests, self.board
        if requests is not None and not self.dead:
            try:
                if board is None:
                    requests.send_bytes(_HEAD.pack(_STOP))
                else:  # after the requests posted before it
                    self._stopping = True
                    while board.post_stop() == FULL and not self.dead:
                        time.sleep(0.001)
                self._last = pickle.loads(requests.recv_bytes())  # noqa: S301 - our child's
            except (EOFError, OSError):
                pass  # gone meanwhile: the last statistics received stay
        self._ended = True
        with self._control_lock:
            if self._control is not None:
                self._control.close()
            self._control = None
        if requests is not None:
            requests.close()

    def _ack(self) -> None:
        """Receive one acknowledgement (the interpreter lock released while waiting)."""
        try:
            data = self._requests.recv_bytes()  # type: ignore[union-attr] # in flight: started
        except (EOFError, OSError):
            self._die("died")
            return
        self._counts = _ACK.unpack(data)
        self._in_flight -= 1
        next(self._finished)

    def _unpicklable(self) -> None:
        next(self._unsent)
        next(self._finished)
        log_once(f"shadow-pickle:{self.name}:{id(self)}", "aiguard: a request to the "
                 "shadow process of %r could not be pickled (logged once, counted in "
                 "errors)", self.name, event="shadow.unpicklable", name=self.name)

    def _drop(self) -> None:
        next(self._lost)
        next(self._finished)

    def _die(self, what: str) -> None:
        """The child is gone: refuse new requests, count the ones in flight as lost."""
        with self._dead_lock:
            first, self.dead = not self.dead, True  # the sender checks it before each send
            board = self.board
            if first and board is not None:  # posted, not finished: never will be
                self._board_dead = board.shut() - board.counters()[1]
        self._refuse()
        if not (self._closing or self._stopping):
            log_once(f"shadow-process:{self.name}:{id(self)}", "aiguard: the shadow "
                     "process of %r %s; its requests are dropped (counted), the primary "
                     "serves on", self.name, what, event="shadow.died", name=self.name,
                     exc_info=False)
        for _ in range(self._in_flight):
            self._drop()
        self._in_flight = 0

    # -- on other threads -----------------------------------------------------

    def close(self, timeout: float) -> None:
        """After the sender was joined: wait for the child, terminate it if it lingers."""
        self._closing = True
        process = self.process
        if process is None:
            return
        process.join(timeout if self._ended else 0)  # a sender still waiting: a hung child
        if process.is_alive():
            process.terminate()
            process.join(timeout)
        if process.is_alive():  # pragma: no cover - SIGTERM is not caught in the child
            process.kill()
            process.join()
        if self.board is not None:
            self.board.close()  # the objects of requests it held (its counters stay readable)

    def forget(self) -> None:
        """In a process forked from the parent: the parent's child is not this process's.

        multiprocessing lists the children it started, and a process forked
        without it (``gunicorn --preload``) inherits that list: at its exit it
        would terminate every daemonic child listed, the parent's shadow
        among them. That list has no public remover.
        """
        if self.process is not None:
            getattr(multiprocessing.process, "_children", set()).discard(self.process)

    def snapshot(self) -> dict[str, Any]:
        """The child's statistics now (its last known ones when it does not answer)."""
        answer = self._ask()
        if answer is not None:
            self._last = answer
        errors, timeouts, shadowed, garbage = self._now()
        return {**self._last, "shadowed": shadowed, "garbage": garbage,
                "errors": errors + peek(self._unsent), "timeouts": timeouts, "lost": self.lost}

    def _ask(self) -> dict[str, Any] | None:
        with self._control_lock:
            control = self._control
            if control is None:
                return None
            self._asked += 1
            question = _SEQ.pack(self._asked)
            deadline = time.monotonic() + _REPORT_WAIT
            try:
                control.send_bytes(question)
                while control.poll(max(0.0, deadline - time.monotonic())):
                    reply = control.recv_bytes()
                    if reply.startswith(question):  # not a late answer to an earlier one
                        answer: dict[str, Any] = pickle.loads(reply[_SEQ.size:])  # noqa: S301
                        return answer
            except (EOFError, OSError):
                pass
            return None

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

**The child** (its code: :mod:`aiguard.recover._shadow_child`) is started
with the ``spawn`` start method: a fresh interpreter, not a ``fork`` of a
process that has threads (a fork copies locks some other thread may hold at
that instant, and only the forking thread, so the child could deadlock on
its first log line or allocation).
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

import ctypes
import errno
import itertools
import multiprocessing
import multiprocessing.connection
import os
import pickle
import threading
import time
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from aiguard._core._counter import peek
from aiguard._core._events import log_once
from aiguard.recover._shadow_board import FULL, INELIGIBLE, OFFSET, Board, permit_child, puller
from aiguard.recover._shadow_child import (
    ACK,
    ANSWER,
    HEAD,
    MAP,
    PIPE_STOP,
    PROBE,
    PROBED,
    SEQ,
    child_main,
    dump,
)
from aiguard.recover._shadow_stats import Comparison

if TYPE_CHECKING:
    from collections.abc import Callable
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess
    from multiprocessing.synchronize import Semaphore


__all__ = ["RemoteShadow"]

_IN_FLIGHT: Final = 2  # requests in the child at once: one running, one ready behind it
_REPORT_WAIT: Final = 10.0  # seconds report() waits for the child's statistics
_WATCH: Final = 1.0  # seconds between the parent's looks at an idle board (and its reaping)


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
            target=child_main, args=(theirs, their_control, self._config, tokens),
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
            requests.send_bytes(HEAD.pack(MAP) + PROBED.pack(
                board.slots, os.getpid(), address, probe.nbytes, id(probe), OFFSET))
            _send_fd(requests, board.fd, process.pid or 0)
            failed, by_id = ANSWER.unpack(requests.recv_bytes())
            if failed == errno.EPERM and permit_child(process):
                requests.send_bytes(HEAD.pack(PROBE))
                failed, by_id = ANSWER.unpack(requests.recv_bytes())
        except (EOFError, OSError):
            board.close()
            self._die("died")
            return
        if failed:
            log_once(f"shadow-board:{self.name}", "aiguard: the shadow process "
                     "of %r cannot read this process's memory (%s); requests go through a "
                     "pipe", self.name, os.strerror(failed), event="shadow.pipe", name=self.name,
                     exc_info=False, owner=self)
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
            data = dump(item, buffers)
        except Exception:
            self._unpicklable()
            return
        try:
            self._requests.send_bytes(HEAD.pack(len(buffers)) + data)
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
                    requests.send_bytes(HEAD.pack(PIPE_STOP))
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
        self._counts = ACK.unpack(data)
        self._in_flight -= 1
        next(self._finished)

    def _unpicklable(self) -> None:
        next(self._unsent)
        next(self._finished)
        log_once(f"shadow-pickle:{self.name}", "aiguard: a request to the "
                 "shadow process of %r could not be pickled (logged once, counted in "
                 "errors)", self.name, event="shadow.unpicklable", name=self.name, owner=self)

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
            log_once(f"shadow-process:{self.name}", "aiguard: the shadow "
                     "process of %r %s; its requests are dropped (counted), the primary "
                     "serves on", self.name, what, event="shadow.died", name=self.name,
                     exc_info=False, owner=self)
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
            question = SEQ.pack(self._asked)
            deadline = time.monotonic() + _REPORT_WAIT
            try:
                control.send_bytes(question)
                while control.poll(max(0.0, deadline - time.monotonic())):
                    reply = control.recv_bytes()
                    if reply.startswith(question):  # not a late answer to an earlier one
                        answer: dict[str, Any] = pickle.loads(reply[SEQ.size:])  # noqa: S301
                        return answer
            except (EOFError, OSError):
                pass
            return None

"""``ShadowRouter(..., isolation="process")``: the shadow runs in a child process.

Why: a shadow on a worker thread shares the interpreter lock with the
callers, so a shadow doing pure-Python work takes it from them. A child
process has its own interpreter. (For numpy and I/O shadows, whose work
mostly releases the lock, the primary's p99 beside a saturated shadow
measured no better in a child than on a thread: docs/benchmarks.md.)

**The parent.** The caller's path is the thread router's, unchanged (the
deque, the counters, the drop rule). The router's one worker thread becomes
a *sender*: it takes requests from the deque (the same nap / park / wake
machinery) and writes each as ``(args, kwargs, primary_answer,
primary_seconds)`` to the child: positional numpy arrays and an array answer
as a few bytes of dtypes and shapes (``marshal``) followed by their memory,
anything else pickled with protocol 5 and out-of-band buffers. Either way an
array is never copied into a message: its memory is written by its own
``send_bytes``, a system call made without the interpreter lock, and the
sender holds that lock about 4 us a request of arrays (numpy's pickling
takes about 11, which the callers measurably wait for at p99).
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

**A child that dies** (a crash, an out-of-memory kill): the sender notices on
its next send or receive, logs it once, and the router refuses new requests
(callers drop them, counted), counting the requests in flight and still
queued as lost (reported among ``dropped``). The primary keeps serving. There
is no restart: a shadow that crashed once (out of memory, a native fault)
would likely crash again, and each restart costs a second of start-up. A
process forked from the parent (``gunicorn --preload``) starts its own child
with fresh statistics.
"""

from __future__ import annotations

import functools
import itertools
import marshal
import multiprocessing
import pickle
import struct
import threading
import time
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from aiguard._core._counter import peek
from aiguard._core._events import log_once
from aiguard.errors import ConfigurationError
from aiguard.recover._shadow_run import LocalShadow, lower_priority
from aiguard.recover._shadow_stats import Comparison

if TYPE_CHECKING:
    from collections.abc import Callable
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from aiguard.typing import Clock

__all__ = ["Child", "RemoteShadow", "child_config"]

_IN_FLIGHT: Final = 2  # requests in the child at once: one running, one ready behind it
_REPORT_WAIT: Final = 10.0  # seconds report() waits for the child's statistics
_HEAD: Final = struct.Struct("!I")  # buffers following a request, or _STOP
_ARRAYS: Final = b"A"  # a request of arrays described by marshal (a pickle starts b"\x80")
_STOP: Final = 0xFFFFFFFF
_ACK: Final = struct.Struct("!4Q")  # errors, timeouts, shadowed, garbage
_SEQ: Final = struct.Struct("!Q")  # numbers report() questions and their answers


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

    def __init__(self, config: bytes) -> None:
        shadow, compare, clock, timeout, window, name, idle = pickle.loads(config)  # noqa: S301 - our own bytes
        self.idle = idle
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
        finally:
            self.local.release()

    def one(self, requests: Connection) -> bool:
        """Shadow one request and acknowledge it; False on stop or a parent gone."""
        try:
            head = requests.recv_bytes()
            (count,) = _HEAD.unpack_from(head)
            if count == _STOP:
                requests.send_bytes(pickle.dumps(self.local.stats.snapshot(), protocol=5))
                return False
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
    requests: Connection, control: Connection, config: bytes,
) -> None:
    """Serve the shadow in this (spawned) process."""
    Child(config).serve(requests, control)


class RemoteShadow:
    """The parent's side: the sender thread's half, and report()'s half, of the child."""

    def __init__(
        self,
        config: bytes,
        *,
        name: str,
        finished: itertools.count[int],
        refuse: Callable[[], None],
    ) -> None:
        self._config, self.name = config, name
        self._finished, self._refuse = finished, refuse
        self._counts = (0, 0, 0, 0)  # errors, timeouts, shadowed, garbage: the last ack
        self._unsent, self._lost = itertools.count(), itertools.count()
        self._in_flight = 0
        self.dead = self._ended = self._closing = False
        self.process: BaseProcess | None = None
        self._requests: Connection | None = None
        self._control: Connection | None = None
        self._control_lock = threading.Lock()
        self._asked = 0
        self._last: dict[str, Any] = Comparison(1, None).snapshot()  # nothing compared yet

    @property
    def errors(self) -> int:
        """Shadow calls that raised in the child, and requests that could not be pickled."""
        return self._counts[0] + peek(self._unsent)

    @property
    def timeouts(self) -> int:
        """Shadow calls slower than ``timeout``."""
        return self._counts[1]

    @property
    def lost(self) -> int:
        """Accepted requests never shadowed because the child died."""
        return peek(self._lost)

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
        process = context.Process(
            target=_child_main, args=(theirs, their_control, self._config),
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

    def serve(self, item: tuple[Any, ...]) -> None:
        """Send *item* to the child (after an acknowledgement when enough are in flight)."""
        if self._in_flight >= _IN_FLIGHT:
            self._ack()
        if self._requests is None or self.dead:
            self._drop()
            return
        buffers: list[Any] = []
        try:
            data = _dump(item, buffers)
        except Exception:
            next(self._unsent)
            next(self._finished)
            log_once(f"shadow-pickle:{self.name}:{id(self)}", "aiguard: a request to the "
                     "shadow process of %r could not be pickled (logged once, counted in "
                     "errors)", self.name, event="shadow.unpicklable", name=self.name)
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

    def settle(self) -> None:
        """Wait for the acknowledgements of the requests in flight."""
        while self._in_flight:
            self._ack()

    def end(self) -> None:
        """Stop the child after its requests; keep its final statistics."""
        self.settle()
        requests = self._requests
        if requests is not None and not self.dead:
            try:
                requests.send_bytes(_HEAD.pack(_STOP))
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

    def _drop(self) -> None:
        next(self._lost)
        next(self._finished)

    def _die(self, what: str) -> None:
        """The child is gone: refuse new requests, count the ones in flight as lost."""
        self.dead = True  # once: the sender checks it before each send
        self._refuse()
        if not self._closing:
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
        errors, timeouts, shadowed, garbage = self._counts
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

"""Fault injection for your tests: break, slow down, corrupt or drift a model on purpose.

Like Polly's chaos strategies, aimed at ML. On a guarded function the faults
apply to the model call *inside* the guard, before the output check, so the
guard's breaker, check and fallback see exactly what a real incident would
show them.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np
from typing_extensions import Self

from aiguard.errors import ConfigurationError
from aiguard.testing._fault_kinds import (
    ConstantFault,
    DriftFault,
    Fault,
    LatencyFault,
    NaNFault,
    RaiseFault,
)
from aiguard.testing._fault_kinds import rate_of as _rate
from aiguard.testing._hook import GuardedSlot, Slot, find_slots

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from aiguard.typing import Clock

__all__ = ["Fault", "Faults", "Injector", "inject"]


class Injector:
    """Inject faults into a model for the length of a ``with`` block (or start/stop).

    Build it with :func:`inject`. Each fault method adds a fault and returns
    the injector, so they chain, and the injector is the context manager.

    Within one call the faults apply in a fixed order: ``drift`` moves the
    inputs, ``latency`` waits, ``raise_`` raises (the model is then not
    called), the model runs, ``nan`` and ``constant`` corrupt its output.
    Which calls a fault hits is drawn from a random generator seeded by
    ``seed`` and the fault's position, so a test sees the same sequence every run.

    Attributes:
        target: what the faults are injected into.
        calls: model calls that went through the injector while it was active.
        injected: calls that at least one fault affected.
        faults: the faults, in the order they were added.

    Example:
        >>> import numpy as np
        >>> import aiguard as ag
        >>> from aiguard.testing import inject
        >>> g = ag.Guard(name="demo", fallback=lambda x: np.zeros(len(x)))
        >>> @g
        ... def predict(x):
        ...     return np.ones(len(x))
        >>> with inject(predict).raise_(ConnectionError, rate=1.0):
        ...     predict(np.arange(3.0))
        array([0., 0., 0.])
        >>> predict(np.arange(3.0))
        array([1., 1., 1.])
    """

    __slots__ = ("_clock", "_delays", "_inputs", "_lock", "_outputs", "_raises", "_seeds",
                 "_slots", "_undo", "calls", "faults", "injected", "target")

    def __init__(self, target: Any, *, seed: int = 0, clock: Clock | None = None) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigurationError("seed", "an int >= 0", seed)
        if clock is not None and not callable(clock):
            raise ConfigurationError("clock", "a callable returning seconds", clock)
        self._slots: list[Slot] = find_slots(target)
        self.target = target
        self._clock = clock
        self._seeds = np.random.SeedSequence(seed)
        self._lock = threading.Lock()
        self._inputs: list[DriftFault] = []
        self._delays: list[LatencyFault] = []
        self._raises: list[RaiseFault] = []
        self._outputs: list[NaNFault | ConstantFault] = []
        self._undo: list[Callable[[], None]] = []
        self.faults: tuple[Fault, ...] = ()
        self.calls = 0
        self.injected = 0

    # -- building ---------------------------------------------------------------------
    def _rng(self) -> np.random.Generator:
        return np.random.default_rng(self._seeds.spawn(1)[0])

    def _add(self, fault: Any, into: list[Any]) -> Self:
        with self._lock:
            into.append(fault)
            self.faults = (*self.faults, fault)
        return self

    def raise_(self, exc: type[BaseException] | BaseException, *, rate: float = 1.0) -> Self:
        """Raise *exc* (a type, instantiated with a message, or an instance) instead of calling.

        Example:
            >>> import aiguard as ag
            >>> from aiguard.testing import inject
            >>> g = ag.Guard(name="demo", fallback=lambda: "rules")
            >>> @g
            ... def answer():
            ...     return "model"
            >>> with inject(answer).raise_(TimeoutError("upstream")):
            ...     answer(), g.last_outcome.reason
            ('rules', 'error')
        """
        return self._add(RaiseFault(exc, _rate(rate), self._rng()), self._raises)

    def latency(self, seconds: float, *, rate: float = 1.0) -> Self:
        """Make the call *seconds* slower.

        On a FakeClock (the ``clock=`` given to :func:`inject`, else the
        guard's clock) the clock is advanced instead of sleeping, so the guard
        measures the latency at no cost; otherwise the call really sleeps
        (``asyncio.sleep`` for an ``async`` model).

        Example:
            >>> import aiguard as ag
            >>> from aiguard.testing import FakeClock, inject
            >>> clock = FakeClock()
            >>> g = ag.Guard(name="demo", clock=clock)
            >>> @g
            ... def answer():
            ...     return 42
            >>> with inject(answer).latency(3.0):
            ...     answer(), g.last_outcome.latency, clock()
            (42, 3.0, 3.0)
        """
        return self._add(LatencyFault(seconds, _rate(rate), self._rng()), self._delays)

    def nan(self, *, rate: float = 1.0, rows: float | None = None) -> Self:
        """Set output rows to NaN: all of them, or a share *rows* of each affected batch.

        The output is returned as a float copy (the model's array is not
        touched); ``round(rows * n)`` rows, at least one, are chosen at random.

        Example:
            >>> import numpy as np
            >>> import aiguard as ag
            >>> from aiguard.testing import inject
            >>> g = ag.Guard(name="demo")
            >>> @g
            ... def predict(x):
            ...     return np.ones(len(x))
            >>> with inject(predict).nan(rows=0.5):
            ...     int(np.isnan(predict(np.zeros(10))).sum())
            5
        """
        return self._add(NaNFault(rows, _rate(rate), self._rng()), self._outputs)

    def constant(self, value: Any = None, *, rate: float = 1.0) -> Self:
        """Collapse the output: every row becomes *value* (default: the first row).

        Example:
            >>> import numpy as np
            >>> import aiguard as ag
            >>> from aiguard.testing import inject
            >>> g = ag.Guard(name="demo")
            >>> @g
            ... def predict(x):
            ...     return x * 2
            >>> with inject(predict).constant(0.5):
            ...     predict(np.arange(3.0))
            array([0.5, 0.5, 0.5])
        """
        return self._add(ConstantFault(value, _rate(rate), self._rng()), self._outputs)

    def drift(self, shift: Any, *, features: Any = None, rate: float = 1.0) -> Self:
        """Move the inputs: add *shift* to *features* of the first positional argument.

        *features* are column indices of a 2-D array (positions of a 1-D
        one), or column names of a pandas DataFrame; ``None`` moves them all.
        The model gets a float copy; the caller's array is not touched.

        Example:
            >>> import numpy as np
            >>> import aiguard as ag
            >>> from aiguard.testing import inject
            >>> g = ag.Guard(name="demo")
            >>> @g
            ... def predict(x):
            ...     return x.sum(axis=1)
            >>> with inject(predict).drift(10.0, features=[0]):
            ...     predict(np.ones((2, 3)))
            array([13., 13.])
        """
        return self._add(DriftFault(shift, features, _rate(rate), self._rng()), self._inputs)

    # -- running ----------------------------------------------------------------------
    def _before(self, args: tuple[Any, ...]) -> tuple[tuple[Any, ...], float, Any, bool]:
        with self._lock:
            self.calls += 1
            hit = False
            for drift in self._inputs:
                if drift._fires():
                    args = drift.apply(args)
                    hit = True
            delay = 0.0
            for slow in self._delays:
                if slow._fires():
                    delay += slow.seconds
                    hit = True
            for fail in self._raises:
                if fail._fires():
                    self.injected += 1
                    return args, delay, fail._make(), True
            if hit:
                self.injected += 1
            return args, delay, None, hit

    def _after(self, result: Any, counted: bool) -> Any:
        with self._lock:
            hit = False
            for corrupt in self._outputs:
                if corrupt._fires():
                    result = corrupt.apply(result)
                    hit = True
            if hit and not counted:
                self.injected += 1
        return result

    def _wrapper(self, slot: Slot) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        clock = self._clock
        if clock is None and isinstance(slot, GuardedSlot):
            clock = slot.clock
        advance = getattr(clock, "advance", None)
        before, after = self._before, self._after

        if slot.is_async:
            def wrap_async(model: Callable[..., Any]) -> Callable[..., Any]:
                async def faulty(*a: Any, **k: Any) -> Any:
                    a, delay, error, hit = before(a)
                    if delay:
                        if advance is not None:
                            advance(delay)
                            await asyncio.sleep(0)
                        else:
                            await asyncio.sleep(delay)
                    if error is not None:
                        raise error
                    return after(await model(*a, **k), hit)

                return faulty

            return wrap_async

        def wrap_sync(model: Callable[..., Any]) -> Callable[..., Any]:
            def faulty(*a: Any, **k: Any) -> Any:
                a, delay, error, hit = before(a)
                if delay:
                    if advance is not None:
                        advance(delay)
                    else:
                        time.sleep(delay)
                if error is not None:
                    raise error
                return after(model(*a, **k), hit)

            return faulty

        return wrap_sync

    @property
    def active(self) -> bool:
        """Whether the faults are installed."""
        return bool(self._undo)

    def start(self) -> Self:
        """Install the faults (a no-op if they already are)."""
        if not self._undo:
            undo = [slot.swap(self._wrapper(slot)) for slot in self._slots]
            self._undo = undo
        return self

    def stop(self) -> None:
        """Remove the faults and restore the model (a no-op if not started)."""
        undo, self._undo = self._undo, []
        for restore in reversed(undo):
            restore()

    def __enter__(self) -> Self:
        """Start injecting."""
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Stop injecting and restore the model."""
        self.stop()

    def __repr__(self) -> str:
        """Show the target, the faults and the counts."""
        names = ", ".join(s.name for s in self._slots)
        return (f"Injector({names}, faults={list(self.faults)!r}, calls={self.calls}, "
                f"injected={self.injected}, active={self.active})")


def inject(target: Any, *, seed: int = 0, clock: Clock | None = None) -> Injector:
    """Start building faults for *target*; use the result as a context manager.

    Args:
        target: a function decorated by a :class:`~aiguard.Guard` (the faults
            hit the model call inside the guard, before the output check), an
            :func:`aiguard.wrap` object, or a model object whose ``predict``,
            ``predict_proba`` and ``decision_function`` (whichever exist) are
            patched on the instance and restored afterwards. A plain function
            cannot be reached (callers hold it by reference): guard it first.
        seed: seeds which calls each fault hits; same seed, same sequence.
        clock: the clock ``latency`` advances when it is a FakeClock
            (default: the guard's clock).

    Returns:
        an :class:`Injector`, not yet active: enter it with ``with`` or call
        ``start()`` (the ``aiguard_faults`` fixture starts it for you).

    Example:
        >>> import numpy as np
        >>> import aiguard as ag
        >>> from aiguard.testing import inject
        >>> g = ag.Guard(name="demo")
        >>> @g
        ... def predict(x):
        ...     return x + 1.0
        >>> with inject(predict).nan(rate=1.0):
        ...     predict(np.zeros(2))
        array([nan, nan])
    """
    return Injector(target, seed=seed, clock=clock)



class Faults:
    """The ``aiguard_faults`` fixture: fault injectors that are undone when the test ends.

    ``faults(target)`` returns a new, already started :class:`Injector`;
    ``faults.raise_(..., on=target)`` (and ``latency``, ``nan``, ``constant``,
    ``drift``) add a fault to the target's default injector, started on first
    use. :meth:`undo` stops every injector, last started first.

    Example:
        >>> import aiguard as ag
        >>> g = ag.Guard(name="recs", fallback=lambda: "rules")
        >>> @g
        ... def answer():
        ...     return "model"
        >>> faults = Faults()
        >>> _ = faults.raise_(ConnectionError, rate=1.0, on=answer)
        >>> answer()
        'rules'
        >>> faults.undo()
        >>> answer()
        'model'
    """

    __slots__ = ("_by_target", "_injectors", "seed")

    def __init__(self, *, seed: int = 0) -> None:
        self.seed = seed
        self._injectors: list[Injector] = []
        self._by_target: dict[int, Injector] = {}

    def __call__(self, target: Any, *, seed: int | None = None,
                 clock: Clock | None = None) -> Injector:
        """Return a new started injector for *target* (undone at teardown)."""
        injector = Injector(target, seed=self.seed if seed is None else seed, clock=clock)
        self._injectors.append(injector)
        return injector.start()

    def _on(self, target: Any) -> Injector:
        injector = self._by_target.get(id(target))
        if injector is None or injector.target is not target:
            injector = self(target)
            self._by_target[id(target)] = injector
        return injector

    def raise_(self, exc: type[BaseException] | BaseException, *, on: Any,
               rate: float = 1.0) -> Injector:
        """Make the model behind *on* raise *exc* (see :meth:`Injector.raise_`)."""
        return self._on(on).raise_(exc, rate=rate)

    def latency(self, seconds: float, *, on: Any, rate: float = 1.0) -> Injector:
        """Slow the model behind *on* down (see :meth:`Injector.latency`)."""
        return self._on(on).latency(seconds, rate=rate)

    def nan(self, *, on: Any, rate: float = 1.0, rows: float | None = None) -> Injector:
        """Set output rows of the model behind *on* to NaN (see :meth:`Injector.nan`)."""
        return self._on(on).nan(rate=rate, rows=rows)

    def constant(self, value: Any = None, *, on: Any, rate: float = 1.0) -> Injector:
        """Collapse the outputs of the model behind *on* (see :meth:`Injector.constant`)."""
        return self._on(on).constant(value, rate=rate)

    def drift(self, shift: Any, *, on: Any, features: Any = None,
              rate: float = 1.0) -> Injector:
        """Move the inputs of the model behind *on* (see :meth:`Injector.drift`)."""
        return self._on(on).drift(shift, features=features, rate=rate)

    @property
    def injectors(self) -> tuple[Injector, ...]:
        """Every injector made so far, in the order they were started."""
        return tuple(self._injectors)

    def undo(self) -> None:
        """Stop every injector, last started first, restoring the models."""
        injectors, self._injectors = self._injectors, []
        self._by_target.clear()
        for injector in reversed(injectors):
            injector.stop()

"""Protocols for aiguard's extension points.

Plug in your own clock, flag store, change detector or canary judge without
subclassing: any object with the right shape works.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy as np
    import numpy.typing as npt

    from aiguard.classify._actions import ActionContext
    from aiguard.recover._judge import Judgement
    from aiguard.review._incident import Incident

#: What a guarded call's outcome looks like to a :class:`MonitorTap`: the
#: fields of :class:`~aiguard.Outcome` after ``guard``, as a plain tuple
#: ``(served_by, reason, stage, rows_replaced, latency, error)`` so that no
#: object is built per call.
CallOutcome = tuple[str, "str | None", str, int, float, "BaseException | None"]

__all__ = [
    "Action",
    "CallOutcome",
    "ChangeDetector",
    "Clock",
    "Detector",
    "FlagStore",
    "IncidentHook",
    "Judge",
    "MonitorTap",
    "Notifier",
]


class Clock(Protocol):
    """A monotonic clock: called with no argument, returns seconds as a float."""

    def __call__(self) -> float:
        """Return the current time in seconds."""
        ...


@runtime_checkable
class FlagStore(Protocol):
    """Where flag values live: memory, a file, the environment, Redis, OpenFeature.

    Two methods are required. ``read_all`` returns every flag's stored record
    (a JSON object, see :mod:`aiguard.state._records`: ``{"on": bool,
    "percent": float | None, "updated_at": float | None, "actor": str | None,
    "reason": str | None}``, only ``on`` required, unknown keys ignored); it
    may raise :class:`aiguard.errors.StoreError` when the store is unreachable,
    and the flag set then keeps its last known values and reports itself
    stale. It is called from a background thread, never from the protected
    call. ``write`` stores one record (``StoreError`` if the store is
    read-only or down, ``InvalidInputError`` if the record is not JSON).

    Optional methods a :class:`~aiguard.Flags` set uses when present:

    * ``history(name) -> list[Mapping[str, Any]]``: the last records written
      for *name*, oldest first (otherwise the flag set keeps what it saw);
    * ``subscribe(callback) -> object with close()``: call ``callback()``
      from a background thread when any flag may have changed, so the flag
      set refreshes at once instead of at its next polling round.

    Example:
        >>> from aiguard import MemoryStore
        >>> isinstance(MemoryStore(), FlagStore)
        True
    """

    def read_all(self) -> Mapping[str, Mapping[str, Any]]:
        """Return every stored flag record, keyed by flag name."""
        ...

    def write(self, name: str, record: Mapping[str, Any]) -> None:
        """Store one flag record (raise StoreError if the store is read-only or down)."""
        ...


@runtime_checkable
class Detector(Protocol):
    """A streaming change detector: fed values one by one or in batches, says when a drift is real.

    :mod:`aiguard.detect`'s ``PageHinkley``, ``ADWIN``, ``KSWIN``, ``DDM``,
    ``EDDM``, ``HDDM_A``, ``HDDM_W`` and ``CUSUM`` satisfy it, and so may your
    own. ``update_many(values)`` must leave the detector as ``update`` on each
    value would, and return the indices where ``drift_detected`` became true;
    ``to_dict()`` returns plain JSON types from which the detector can be
    rebuilt (the built-in ones have a ``from_dict`` class method).

    Example:
        >>> from aiguard.detect import PageHinkley
        >>> isinstance(PageHinkley(), Detector)
        True
    """

    @property
    def drift_detected(self) -> bool:
        """Whether the last value processed completed a detection."""
        ...

    def update(self, x: float) -> None:
        """Process one value."""
        ...

    def update_many(self, values: npt.ArrayLike) -> npt.NDArray[np.intp]:
        """Process values in order; return the indices at which a drift was detected."""
        ...

    def reset(self) -> None:
        """Forget everything seen."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """The parameters and state as plain JSON types."""
        ...


@runtime_checkable
class ChangeDetector(Protocol):
    """A streaming change detector a monitor can decide with (``detector=``).

    Any object with ``update(x)`` and a ``drift_detected`` attribute fits
    (river's detectors do, and so will aiguard's own). A monitor feeds it
    the figure it watches, once per evaluation, and treats
    ``drift_detected`` as a breach besides its own threshold rule.

    Example:
        >>> class Above:
        ...     drift_detected = False
        ...     def update(self, x):
        ...         self.drift_detected = x > 1.0
        >>> isinstance(Above(), ChangeDetector)
        True
    """

    drift_detected: bool

    def update(self, x: float) -> object:
        """Feed one value."""
        ...


@runtime_checkable
class Judge(Protocol):
    """What a canary step (or :func:`aiguard.replay`) asks to compare candidate and baseline.

    Called with two mappings from metric name (``"latency"``, ``"error"``,
    ``"output"``, ``"label"`` or the user's own) to samples, candidate first;
    returns a :class:`aiguard.Judgement` whose ``verdict`` is ``"pass"``,
    ``"marginal"``, ``"fail"`` or ``"inconclusive"`` and whose ``reason`` says
    why. :class:`aiguard.Judge` is the built-in one.

    Example:
        >>> from aiguard import Judge as BuiltIn, MetricSpec
        >>> isinstance(BuiltIn([MetricSpec("latency")]), Judge)
        True
    """

    def __call__(
        self, candidate: Mapping[str, Any], baseline: Mapping[str, Any]
    ) -> Judgement:
        """Judge *candidate* against *baseline*."""
        ...


class Notifier(Protocol):
    """Where a page or notification goes: a callable taking one JSON-safe message dict.

    It should return quickly (a webhook queues and sends from its own thread);
    if it raises, the escalation records the failure and goes on.
    """

    def __call__(self, message: Mapping[str, Any], /) -> object:
        """Deliver *message*."""
        ...


@runtime_checkable
class Action(Protocol):
    """A containment action a policy rule takes (``aiguard.rules.fallback(guard)``, ...).

    ``key`` identifies it for idempotency (applied once per incident); an
    optional ``contains = True`` marks a containment action (applied first;
    once applied, the incident is CONTAINED); an optional ``inline = True``
    marks an action cheap and safe to apply on the signalling thread (an
    in-memory switch of aiguard's own objects): ``Incidents`` applies it
    first, and with ``contain="inline"`` at signal time on that thread;
    ``describe()`` says what it would do (all that ``observe_only`` records);
    calling it applies it and returns what was done, or raises (recorded,
    retried).

    Example:
        >>> import aiguard as ag
        >>> isinstance(ag.rules.notify(print), Action)
        True
    """

    name: str
    key: str

    def describe(self) -> str:
        """What the action would do."""
        ...

    def __call__(self, context: ActionContext, /) -> str:
        """Apply the action; return what was done."""
        ...


class IncidentHook(Protocol):
    """Called with the incident after each change (export it, mirror it to a ticket system)."""

    def __call__(self, incident: Incident, /) -> object:
        """React to the changed *incident*; exceptions are logged once and ignored."""
        ...


@runtime_checkable
class MonitorTap(Protocol):
    """What a :class:`~aiguard.Guard` feeds: one call's arguments, result and outcome.

    ``Guard(monitors=[...])`` calls ``tap`` after every guarded call (the
    call has returned or raised by then). ``result`` is what the caller got
    (``None`` when the call raised); ``outcome`` is a :data:`CallOutcome`
    tuple. A tap that raises is counted and logged once by the guard, never
    seen by the caller; a tap should return quickly and push heavy work to a
    background thread.

    Example:
        >>> from aiguard.detect import LatencyMonitor
        >>> isinstance(LatencyMonitor(), MonitorTap)
        True
    """

    def tap(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any], result: Any, outcome: CallOutcome
    ) -> None:
        """Take one call into account."""
        ...

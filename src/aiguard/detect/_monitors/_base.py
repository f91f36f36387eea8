"""What every monitor shares: subscribers, deduplicated alarms, sampling, counters.

A monitor watches one figure (a latency quantile, an error rate, a share) and
compares it with a threshold of its own. Each rule of a monitor has an
:class:`_Alarm` that turns the stream of yes/no decisions into few
:class:`~aiguard.detect.Signal` s:

* ``breach``: the rule starts failing;
* ``escalated``: still failing, and the amount by which the value is past the
  threshold has at least doubled since the last signal of this rule;
* ``recovered``: the rule passes again.

A rule that stays in breach is silent in between. Subscribers are called on
the thread that made the decision (the caller's thread for the in-line
monitors, the background thread for :class:`InputDriftMonitor`); one that
raises is counted in ``errors`` and logged once.

Sampling (``sample=s``) keeps every ``round(1 / s)``-th observation (or row of
a batch), deterministically, so the cost and the memory stay bounded and tests
are reproducible.
"""

from __future__ import annotations

import math
import threading
import weakref
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

import numpy as np

from aiguard._core import _validate
from aiguard._core._clock import MONOTONIC
from aiguard._core._events import log_once
from aiguard.detect._monitors._ring import Slices
from aiguard.detect._signal import Signal
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from aiguard._core._inbox import Inbox
    from aiguard.typing import CallOutcome, ChangeDetector, Clock

__all__ = [
    "Monitor",
    "MonitorOptions",
    "check_callable",
    "check_metric",
    "timed_window_args",
    "window_args",
]


class MonitorOptions(TypedDict, total=False):
    """The keywords every monitor takes, passed on to :class:`Monitor` (``**options``).

    ``sample``: share of observations kept (default 1.0); ``clock``: seconds
    (default ``time.perf_counter``); ``detector``: an optional change detector
    fed the monitor's main figure; ``name``: the ``source`` of the signals.
    """

    sample: float
    clock: Clock | None
    detector: ChangeDetector | None
    name: str | None


class _Alarm:
    """Deduplication of one rule: emit on breach, escalation and recovery only."""

    __slots__ = ("breached", "excess")

    def __init__(self) -> None:
        self.breached = False
        self.excess = 0.0

    def step(self, *, breached: bool, excess: float) -> str | None:
        """Return the status to emit, or None when nothing changed."""
        if breached:
            if not self.breached:
                self.breached, self.excess = True, excess
                return "breach"
            if self.excess > 0 and excess >= 2.0 * self.excess:
                self.excess = excess
                return "escalated"
            return None
        if self.breached:
            self.breached, self.excess = False, 0.0
            return "recovered"
        return None


class Monitor:
    """Base of the monitors: ``subscribe``, ``signals``, ``nonfinite``, ``errors``.

    Subclasses implement ``observe`` (usable alone) and ``tap`` (fed by a
    :class:`~aiguard.Guard`), and call :meth:`_decide` with each rule's verdict.
    """

    kind: ClassVar[str] = "output"
    _default_name: ClassVar[str] = "monitor"

    def __init__(
        self,
        *,
        name: str | None = None,
        sample: float = 1.0,
        clock: Clock | None = None,
        detector: ChangeDetector | None = None,
    ) -> None:
        if name is None:
            name = self._default_name
        if not isinstance(name, str) or not name:
            raise ConfigurationError("name", "a non-empty string", name)
        share = _validate.fraction(sample, "sample")
        if clock is None:
            clock = MONOTONIC
        check_callable(clock, "clock", "a callable returning seconds")
        if detector is not None and not (
            callable(getattr(detector, "update", None)) and hasattr(detector, "drift_detected")
        ):
            raise ConfigurationError(
                "detector", "an object with update(x) and .drift_detected", detector
            )
        self.name = name
        self._clock: Clock = clock
        self._detector = detector
        self._step = max(1, round(1.0 / share))
        self._phase = 0
        self._subscribers: tuple[Callable[[Signal], Any], ...] = ()
        self._lock = threading.Lock()
        self._alarms: dict[str, _Alarm] = {}
        self._last: Signal | None = None
        self._inboxes: tuple[weakref.ref[Inbox], ...] = ()
        self._block_seconds = math.inf
        self.nonfinite = 0
        self.errors = 0

    # -- subscribers ---------------------------------------------------------------

    def subscribe(self, callback: Callable[[Signal], Any]) -> Callable[[Signal], Any]:
        """Call *callback* with every :class:`~aiguard.detect.Signal` this monitor emits.

        Returns *callback*, so it can be used as a decorator.

        Raises:
            ConfigurationError: *callback* is not callable.
        """
        check_callable(callback, "callback", "a callable taking a Signal")
        with self._lock:
            self._subscribers = (*self._subscribers, callback)
        return callback

    def unsubscribe(self, callback: Callable[[Signal], Any]) -> None:
        """Stop calling *callback* (no error if it was not subscribed)."""
        with self._lock:
            self._subscribers = tuple(s for s in self._subscribers if s != callback)

    @property
    def last_signal(self) -> Signal | None:
        """The last signal emitted, if any."""
        return self._last

    @property
    def in_breach(self) -> bool:
        """Whether any rule of this monitor is in breach now."""
        return any(a.breached for a in self._alarms.values())

    def tap(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any], result: Any, outcome: CallOutcome
    ) -> None:
        """Take one guarded call into account (see :class:`aiguard.typing.MonitorTap`)."""
        raise NotImplementedError

    # -- the block contract (aiguard._core._inbox), for the Guard ---------------------

    @property
    def block_seconds(self) -> float:
        """Seconds of latency after which a Guard hands over its gathered calls early.

        A quarter of a slice for the timed monitors (so a slice boundary is
        noticed within a quarter of a slice), inf for the others.
        """
        return self._block_seconds

    def add_inbox(self, inbox: Inbox) -> None:
        """Flush *inbox* (a Guard's gathered plain calls) before reading this monitor's state.

        Held weakly: a guarded function that is gone leaves nothing behind.
        """
        with self._lock:
            live = tuple(r for r in self._inboxes if r() is not None)
            self._inboxes = (*live, weakref.ref(inbox))

    def _collect(self) -> None:
        """Take in what the Guards feeding this monitor gathered and have not handed over."""
        for ref in self._inboxes:
            inbox = ref()
            if inbox is not None:
                inbox.flush()

    # -- helpers for subclasses ----------------------------------------------------

    def _take(self) -> bool:
        """Whether to keep this scalar observation under ``sample=``."""
        step = self._step
        if step == 1:
            return True
        self._phase += 1
        if self._phase >= step:
            self._phase = 0
            return True
        return False

    def _rows(self, batch: Any) -> Any:
        """The rows of *batch* kept under ``sample=`` (every step-th, continuing the phase)."""
        step = self._step
        if step == 1:
            return batch
        n = len(batch)
        start = (step - 1 - self._phase) % step
        self._phase = (self._phase + n) % step
        return batch[start::step]

    def _decide(
        self,
        rule: str,
        *,
        breached: bool,
        value: float,
        baseline: float | None,
        threshold: float | None,
        excess: float,
        evidence: Mapping[str, Any],
        at: float,
    ) -> Signal | None:
        """Run a rule's verdict through its alarm; emit and return a signal if one is due."""
        if self._detector is not None and rule == self._detector_rule and math.isfinite(value):
            self._detector.update(value)
            if self._detector.drift_detected:
                breached = True
                excess = max(excess, 1e-12)
        alarm = self._alarms.get(rule)
        if alarm is None:
            alarm = self._alarms[rule] = _Alarm()
        status = alarm.step(breached=breached, excess=excess)
        if status is None:
            return None
        signal = Signal(
            source=self.name,
            kind=self.kind,  # type: ignore[arg-type]
            value=value,
            baseline=baseline,
            threshold=threshold,
            evidence={"rule": rule, **evidence},
            at=at,
            status=status,  # type: ignore[arg-type]
        )
        self._last = signal
        for callback in self._subscribers:
            try:
                callback(signal)
            except Exception:  # noqa: PERF203 - one subscriber must not silence the rest
                self.errors += 1
                log_once(
                    f"monitor-subscriber:{self.name}",
                    "aiguard: a subscriber of monitor %r raised (logged once)",
                    self.name,
                    owner=callback,
                )
        return signal

    #: The rule whose value is fed to ``detector=`` (the monitor's main figure).
    _detector_rule: str = ""

    def _start_slices(self, window: float, n: int, width: int) -> None:
        """Cut the timed *window* into *n* slices of *width* counters (the timed monitors)."""
        self._slices = Slices(window, n, width)
        self._elapsed = math.inf  # latency since the tap last read the clock (first: read it)
        self._quarter = self._block_seconds = self._slices.length / 4
        self._started: float | None = None

    def _finite(self, values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Drop NaN and inf from a float array, counting them in ``nonfinite``."""
        ok = np.isfinite(values)
        if ok.all():
            return values
        self.nonfinite += int(values.size - np.count_nonzero(ok))
        kept: np.ndarray[Any, Any] = values[ok]
        return kept


def check_callable(value: object, argument: str, expected: str) -> None:
    """Raise ConfigurationError unless *value* is callable."""
    if not callable(value):
        raise ConfigurationError(argument, expected, value)


def check_metric(metric: object, metrics: tuple[str, ...]) -> str:
    """Return *metric* if it is one of *metrics*, else raise ConfigurationError."""
    if metric not in metrics:
        raise ConfigurationError("metric", f"one of {metrics}", metric)
    return metric


def timed_window_args(window: object, slices: object) -> tuple[float, int]:
    """Validate a timed window (seconds or a timedelta) and the number of its slices."""
    return _validate.duration(window, "window"), _validate.count(slices, "slices")


def window_args(window: object, every: object) -> tuple[int, int]:
    """Validate a count window and an evaluation period (``every`` <= ``window``)."""
    size = _validate.count(window, "window", minimum=2)
    period = _validate.count(every, "every")
    if period > size:
        raise ConfigurationError("every", f"an int in [1, window={size}]", period)
    return size, period


"""CanaryRouter: restore a model gradually, judged step by step, rolled back automatically.

**Assignment** is the flags' sticky rollout rule
(:mod:`aiguard.contain.flags._rollout`): a request key hashes into one of
10,000 buckets for the router's name, and the candidate serves the keys whose
bucket is below ``percent * 100``. Raising the percentage only adds keys to
the candidate; no key moves back and forth while the ramp goes up. The arm of
a ``str`` or ``int`` key seen before is one dictionary lookup: a per-step
cache, replaced by a new empty one whenever the percentage changes (a thread
that computed an arm under the old percentage writes it into the old cache,
which nobody reads any more). Without a ``key``, call *n* (counted from 0)
takes bucket ``n * 6181 mod 10,000`` (6181 is prime to 10,000, so every run
of 10,000 calls visits each bucket once, spread evenly): exactly the share,
no hashing.

**The ramp.** At each step the router records, per arm, every call's latency,
error and output (see :mod:`aiguard.recover._samples`). When ``interval``
seconds have passed at the step it asks the judge and decides:

* ``promote``: the judgement passed; go to the next step (new windows);
* ``hold``: the score was marginal; stay and keep collecting;
* ``pause``: inconclusive (fewer than ``min_samples`` calls on an arm, or a
  metric without data); stay and say why;
* ``rollback``: the judgement failed; all traffic to stable at once;
* ``complete``: passed at the last step: the candidate keeps its share (at
  100 %, everyone) and, at 100 %, is promoted in the registry when one is
  given. At 100 % the stable arm gets
  no traffic, so its window of the step before is the baseline.

Every decision and every manual control (``manual_pause``, ``resume``,
``abort``, ``set_step``) is a frozen :class:`CanaryEvent` in :attr:`events`,
also sent to listeners. The decision runs on the call that finds the
interval over (one thread at a time, never blocking others), or when
:meth:`CanaryRouter.evaluate` is called.
"""

from __future__ import annotations

import itertools
import threading
from typing import TYPE_CHECKING, Any, Literal

import attrs

from aiguard._core import _validate
from aiguard._core._clock import MONOTONIC, validate_clock
from aiguard._core._events import Listeners, log_once
from aiguard.contain.flags._rollout import BUCKETS, cached_bucket, threshold
from aiguard.errors import ConfigurationError
from aiguard.recover._judge import Judgement, default_judge
from aiguard.recover._samples import ARMS, Samples, summarise
from aiguard.state._records import validate_name

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from aiguard.recover._registry import ModelRegistry
    from aiguard.typing import Clock, Judge

__all__ = ["CanaryEvent", "CanaryRouter"]

_CACHE = 1 << 15
_SPREAD = 6181  # prime to BUCKETS: n * _SPREAD % BUCKETS visits every bucket

EventKind = Literal["promote", "hold", "pause", "rollback", "complete",
                    "manual_pause", "resume", "abort", "set_step"]
Status = Literal["running", "paused", "rolled_back", "aborted", "complete"]


@attrs.frozen
class CanaryEvent:
    """One decision or manual control of a canary, with its evidence.

    Attributes:
        time: the router's clock when it happened.
        kind: ``promote``, ``hold``, ``pause``, ``rollback``, ``complete``
            (the judge's decisions) or ``manual_pause``, ``resume``,
            ``abort``, ``set_step`` (an operator's).
        step: the candidate's percentage after the event.
        reason: why, in one line.
        evidence: the judgement behind a decision (None for manual controls
            and for a pause on too few calls).
        counts: calls judged per arm (``{"stable": n, "candidate": m}``).
        actor: who, for manual controls.
    """

    time: float
    kind: EventKind
    step: float
    reason: str
    evidence: Judgement | None = None
    counts: dict[str, int] = attrs.field(factory=dict)
    actor: str | None = None


def _steps(steps: object) -> tuple[float, ...]:
    try:
        values = tuple(_validate.real(s, "steps", low=0, high=100, low_open=True)
                       for s in steps)  # type: ignore[attr-defined]
    except TypeError:
        raise ConfigurationError("steps", "increasing percentages in (0, 100]", steps) from None
    if not values or any(b <= a for a, b in itertools.pairwise(values)):
        raise ConfigurationError("steps", "increasing percentages in (0, 100]", steps)
    return values


class CanaryRouter:
    """Send a growing, sticky share of requests to a candidate, judged at every step.

    Args:
        stable: the model serving today (sync, or ``async def`` with :meth:`acall`).
        candidate: the model being restored or released.
        steps: the candidate's percentages, increasing, in (0, 100].
        key: ``key(*args, **kwargs)`` returning the request's sticky key (a
            user id); None: each call gets the next number (no stickiness).
        judge: a :class:`~aiguard.typing.Judge` (default :func:`default_judge`).
        min_samples: calls needed on each arm before the judge decides.
        interval: seconds at a step before each decision.
        max_samples: calls kept per arm and metric.
        registry: a :class:`~aiguard.ModelRegistry` to promote *version* in
            when the canary completes.
        version: the candidate's version in *registry*.
        name: the hashing salt and the name in events (a flag name).
        clock: seconds.

    Raises:
        ConfigurationError: an invalid parameter.

    Example:
        >>> from aiguard.testing import FakeClock
        >>> clock = FakeClock()
        >>> canary = CanaryRouter(lambda x: 0, lambda x: 1, steps=(10, 100), interval=60,
        ...                       key=lambda x: x, clock=clock)
        >>> sum(canary(user) for user in range(1000))  # about 10 % of users
        99
        >>> canary.pause(reason="release freeze", actor="ana")
        >>> canary.status, canary.events[-1].kind
        ('paused', 'manual_pause')
    """

    def __init__(
        self,
        stable: Callable[..., Any],
        candidate: Callable[..., Any],
        *,
        steps: Sequence[float] = (1, 5, 25, 50, 100),
        key: Callable[..., object] | None = None,
        judge: Judge | None = None,
        min_samples: int = 100,
        interval: float = 300.0,
        max_samples: int = 10_000,
        registry: ModelRegistry | None = None,
        version: str | None = None,
        name: str = "canary",
        clock: Clock = MONOTONIC,
    ) -> None:
        for argument, value in (("stable", stable), ("candidate", candidate), ("key", key)):
            if not callable(value) and (value is not None or argument != "key"):
                raise ConfigurationError(argument, "a callable", value)
        if judge is not None and not callable(judge):
            raise ConfigurationError("judge", "a Judge (called with candidate, baseline)", judge)
        if (registry is None) != (version is None):
            raise ConfigurationError("version", "given together with registry", version)
        self.steps = _steps(steps)
        self.name = validate_name(name, argument="name")
        self.min_samples = _validate.count(min_samples, "min_samples")
        self.interval = _validate.duration(interval, "interval")
        self.judge: Judge = judge if judge is not None else default_judge()
        if registry is not None and version not in registry.versions:
            raise ConfigurationError("version", f"a version registered in {registry!r}", version)
        self.registry, self.version = registry, version
        self.errors = 0
        """Judges and registry promotions that raised (counted, logged once, never raised)."""
        self._models = (stable, candidate)
        self._key = key
        self._seq = itertools.count()
        self._assigned: dict[object, int] = {}  # str / int key -> arm at this percentage
        self._clock = validate_clock(clock)
        self._samples = Samples(_validate.count(max_samples, "max_samples"))
        self._lock = threading.Lock()
        self._listeners: Listeners[CanaryEvent] = Listeners(f"canary {name!r}")
        self.events: tuple[CanaryEvent, ...] = ()
        self.status: Status = "running"
        self._set_percent(self.steps[0])
        self._due = self._clock() + self.interval

    def __repr__(self) -> str:
        """Show the name, status and percentage."""
        return f"CanaryRouter({self.name!r}, status={self.status!r}, percent={self.percent:g})"

    # -- the call path ---------------------------------------------------------

    def arm(self, key: object) -> Literal["stable", "candidate"]:
        """Return which arm serves *key* now.

        Example:
            >>> CanaryRouter(abs, abs, steps=(100,)).arm("user-1")
            'candidate'
        """
        cls = key.__class__
        if cls is str or cls is int:  # see _assign: other types skip the cache
            found = self._assigned.get(key)
            if found is not None:
                return ARMS[found]  # type: ignore[return-value]
            return ARMS[self._assign(key)]  # type: ignore[return-value]
        return ARMS[cached_bucket(self.name, key) < self._threshold]  # type: ignore[return-value]

    def _assign(self, key: object) -> int:
        # Only str and int keys are cached: they never collide (no str equals an int),
        # while 1, 1.0 and True are equal keys with different text, so different buckets.
        # The cache is read before the threshold; _set_percent sets the threshold before
        # it swaps the cache, so an arm from an old threshold lands in an old cache.
        assigned = self._assigned
        arm = 1 if cached_bucket(self.name, key) < self._threshold else 0
        if len(assigned) >= _CACHE:
            assigned.clear()
        assigned[key] = arm
        return arm

    def _route(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
        if self._key is None:
            return 1 if next(self._seq) * _SPREAD % BUCKETS < self._threshold else 0
        key = self._key(*args, **kwargs)
        cls = key.__class__
        if cls is str or cls is int:
            found = self._assigned.get(key)
            return self._assign(key) if found is None else found
        return 1 if cached_bucket(self.name, key) < self._threshold else 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the arm the request's key falls in; record latency, error and output."""
        arm = self._route(args, kwargs)
        clock = self._clock
        start = clock()
        try:
            answer = self._models[arm](*args, **kwargs)
        except Exception:
            self._done(arm, start, clock(), error=True, answer=None)
            raise
        self._done(arm, start, clock(), error=False, answer=answer)
        return answer

    async def acall(self, *args: Any, **kwargs: Any) -> Any:
        """Await the arm the request's key falls in (both models ``async def``)."""
        arm = self._route(args, kwargs)
        clock = self._clock
        start = clock()
        try:
            answer = await self._models[arm](*args, **kwargs)
        except Exception:
            self._done(arm, start, clock(), error=True, answer=None)
            raise
        self._done(arm, start, clock(), error=False, answer=answer)
        return answer

    def _done(self, arm: int, start: float, end: float, *, error: bool, answer: object) -> None:
        self._samples.record(
            arm, end - start, error=error, output=summarise(answer) if not error else 0.0)
        if end >= self._due and self.status == "running":
            self.evaluate(now=end, blocking=False)

    def record(self, metric: str, arm: Literal["stable", "candidate"], values: object) -> None:
        """Add samples of another metric, e.g. ``record("label", "candidate", correct)``.

        Raises:
            ConfigurationError: *arm* is neither ``"stable"`` nor ``"candidate"``.
        """
        if arm not in ARMS:
            raise ConfigurationError("arm", "'stable' or 'candidate'", arm)
        self._samples.add(ARMS.index(arm), metric, values)

    # -- state -----------------------------------------------------------------

    @property
    def percent(self) -> float:
        """The candidate's share of keys now, in [0, 100]."""
        return self._percent

    def _set_percent(self, percent: float) -> None:
        self._percent = percent
        self._threshold = threshold(percent) if percent < 100 else BUCKETS
        self._assigned = {}  # after the threshold: see _assign

    def add_listener(self, listener: Callable[[CanaryEvent], object]) -> None:
        """Call *listener* with every :class:`CanaryEvent` (one that raises is counted)."""
        self._listeners.add(listener)

    def _emit(self, now: float, kind: EventKind, reason: str, evidence: Judgement | None = None,
              counts: dict[str, int] | None = None, *, actor: str | None = None) -> CanaryEvent:
        event = CanaryEvent(now, kind, self._percent, reason, evidence, counts or {}, actor)
        self.events = (*self.events, event)
        self._listeners.emit(event)
        return event

    # -- the judge's decisions -------------------------------------------------

    def evaluate(self, now: float | None = None, *, blocking: bool = True) -> CanaryEvent | None:
        """Judge the current step now and act on the decision; return its event.

        Returns None when the canary is not running (paused, finished) or,
        with ``blocking=False``, when another thread is deciding already.
        """
        if not self._lock.acquire(blocking=blocking):
            return None
        try:
            if self.status != "running":
                return None
            return self._decide(self._clock() if now is None else now)
        finally:
            self._lock.release()

    def _decide(self, now: float) -> CanaryEvent:
        self._due = now + self.interval
        counts = self._samples.counts()
        if min(counts.values()) < self.min_samples:
            return self._emit(now, "pause", f"too little data: {counts['candidate']} candidate "
                              f"and {counts['stable']} stable calls, min_samples="
                              f"{self.min_samples}", None, counts)
        try:
            judgement = self.judge(self._samples.metrics(1), self._samples.metrics(0))
        except Exception as exc:  # principle 1: a broken judge never breaks the call
            self._failed("judge")
            return self._emit(now, "pause", f"the judge raised {exc!r}; staying at this step",
                              None, counts)
        if judgement.verdict == "fail":
            self._set_percent(0.0)
            self.status = "rolled_back"
            return self._emit(now, "rollback", judgement.reason, judgement, counts)
        if judgement.verdict == "marginal":
            return self._emit(now, "hold", judgement.reason, judgement, counts)
        if judgement.verdict != "pass":
            return self._emit(now, "pause", judgement.reason, judgement, counts)
        later = [step for step in self.steps if step > self._percent]
        if not later:  # at 100 %, or past the last step after set_step
            return self._complete(now, judgement, counts)
        self._set_percent(later[0])
        self._samples.reset(keep_stable=self._percent >= 100)
        return self._emit(now, "promote", judgement.reason, judgement, counts)

    def _complete(self, now: float, judgement: Judgement, counts: dict[str, int]) -> CanaryEvent:
        self.status = "complete"
        reason = f"passed at {self._percent:g} %: {judgement.reason}"
        if self.registry is not None and self.version is not None and self._percent >= 100:
            try:
                if self.registry.champion != self.version:
                    self.registry.promote(self.version, reason=f"canary {self.name!r} {reason}",
                                          actor=f"canary:{self.name}")
                reason += f"; {self.version!r} promoted in registry {self.registry.name!r}"
            except Exception as exc:  # principle 1: the call that decided must not fail
                self._failed("promote")
                reason += f"; promoting {self.version!r} in the registry failed: {exc!r}"
        return self._emit(now, "complete", reason, judgement, counts)

    def _failed(self, what: str) -> None:
        self.errors += 1
        log_once(f"canary:{self.name}:{what}",
                 "aiguard: canary %r: the %s raised (logged once, counted in errors)",
                 self.name, what, event="canary.raised", name=self.name, owner=self)

    # -- manual controls -------------------------------------------------------

    def pause(self, *, reason: str = "", actor: str | None = None) -> None:
        """Freeze the ramp at this step (traffic keeps its split; no decisions)."""
        with self._lock:
            if self.status == "running":
                self.status = "paused"
                self._emit(self._clock(), "manual_pause", reason or "paused by hand", actor=actor)

    def resume(self, *, reason: str = "", actor: str | None = None) -> None:
        """Continue a paused ramp; the next decision is one interval from now."""
        with self._lock:
            if self.status == "paused":
                self.status = "running"
                self._due = self._clock() + self.interval
                self._emit(self._clock(), "resume", reason or "resumed", actor=actor)

    def abort(self, reason: str, *, actor: str | None = None) -> None:
        """Send all traffic to stable at once and end the canary."""
        with self._lock:
            self._set_percent(0.0)
            self.status = "aborted"
            self._emit(self._clock(), "abort", reason, actor=actor)

    def set_step(self, percent: float, *, reason: str = "", actor: str | None = None) -> None:
        """Set the candidate's share to *percent* (0 to 100); the ramp continues from there.

        New windows start; the next decision is one interval from now.
        """
        value = _validate.real(percent, "percent", low=0, high=100)
        with self._lock:
            self._set_percent(value)
            self._samples.reset(keep_stable=value >= 100)
            self._due = self._clock() + self.interval
            if self.status in {"rolled_back", "aborted", "complete"}:
                self.status = "running"
            self._emit(self._clock(), "set_step", reason or f"set to {value:g} %", actor=actor)

"""The stage contract: how the Guard and the shells drive a containment stage.

A containment stage (the circuit breaker, the rate limit, the bulkhead; later
monitor taps and routers) is a small synchronous state machine with the time
passed in. Whoever runs a call through it (the stage's own sync and async
decorators, the :class:`~aiguard.Guard` pipeline, a user holding a breaker
permit) speaks to it through these three methods and nothing else:

1. ``permit = stage.admit(now)`` before the call: a permit ``>= 0`` admits
   it; :data:`DENIED` (or a raised :class:`~aiguard.CallRejectedError`,
   which carries context such as ``retry_at``) refuses it.
2. after an admitted call, exactly one of
   ``stage.record(permit, now, duration, failure)`` (the call finished;
   ``failure`` is its failure weight in [0, 1]: 0 a success, 1 a failure, a
   batch's share of bad rows in between) or ``stage.ignore(permit)`` (the
   call ended without an outcome to judge: an ignored exception, a
   cancellation, or a stage that only counts slots).

The permit is opaque to the caller (the breaker encodes its generation in it,
so a late result is never judged by a newer state). A stage that can wait for
room (the bulkhead) also offers :class:`WaitingStage`'s ``try_admit`` and
``aadmit``, so that an ``async`` caller waits without blocking its loop.

This is a typing contract only: the Guard binds the bound methods once, at
construction, so the per-call path pays no extra indirection.
"""

from __future__ import annotations

from typing import Final, Protocol

__all__ = ["DENIED", "Stage", "WaitingStage"]

#: What :meth:`Stage.admit` returns when the stage refuses the call without raising.
DENIED: Final = -1


class Stage(Protocol):
    """A containment stage: admit a call, then record or ignore its outcome."""

    def admit(self, now: float) -> int:
        """Admit a call at clock time *now*: a permit >= 0, or :data:`DENIED` (or raise)."""
        ...

    def record(self, permit: int, now: float, duration: float, failure: float) -> None:
        """Report the admitted call's outcome: finished at *now*, after *duration* seconds.

        *failure* is the call's failure weight in [0, 1].
        """
        ...

    def ignore(self, permit: int) -> None:
        """Report that the admitted call ended without an outcome to judge."""
        ...


class WaitingStage(Stage, Protocol):
    """A stage that may wait for room: ``admit`` blocks the thread, ``aadmit`` awaits."""

    def try_admit(self, now: float) -> int:
        """Admit at once if there is room, never waiting: a permit >= 0, or :data:`DENIED`."""
        ...

    async def aadmit(self, now: float) -> int:
        """Admit, awaiting room without blocking the event loop: a permit, or :data:`DENIED`."""
        ...

"""Type-checked only: the breaker, the rate limit and the bulkhead implement the stage contract."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiguard as ag

if TYPE_CHECKING:
    from aiguard._core._stage import Stage, WaitingStage

stages: list[Stage] = [ag.CircuitBreaker(), ag.RateLimit(10), ag.Bulkhead(2)]
waiting: WaitingStage = ag.Bulkhead(2)
not_waiting: WaitingStage = ag.RateLimit(10)  # type: ignore[assignment]
not_a_stage: Stage = ag.retry()  # type: ignore[assignment]


def drive(stage: Stage, now: float) -> None:
    """What the Guard does with any stage."""
    permit = stage.admit(now)
    if permit >= 0:
        stage.record(permit, now, 0.0, 0.0)

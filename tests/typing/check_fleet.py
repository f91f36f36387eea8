"""Type-checked only: share_breaker returns the public FleetBreaker users can annotate."""

from __future__ import annotations

import aiguard as ag
from aiguard.state import FleetBreaker, FleetRule, MemoryBoard, share_breaker

breaker = ag.CircuitBreaker(name="recs")
fleet: ag.FleetBreaker = share_breaker(
    breaker, board=MemoryBoard(), rule=FleetRule(tripped=2, of=4, within=60), start=False
)
same: FleetBreaker = fleet
engaged: bool = fleet.poll()
tripped: int = fleet.tripped
fleet.close()

"""The Guard: every containment stage composed around one predict call."""

from aiguard.contain.guard._config import GuardConfig, GuardOptions
from aiguard.contain.guard._guard import Guard, guard
from aiguard.contain.guard._outcome import STAGES, Outcome
from aiguard.contain.guard._stats import DEFAULT_BUCKETS, GuardStats, GuardStatsSnapshot
from aiguard.contain.guard._wrap import wrap

__all__ = ["DEFAULT_BUCKETS", "STAGES", "Guard", "GuardConfig", "GuardOptions", "GuardStats",
           "GuardStatsSnapshot", "Outcome", "guard", "wrap"]

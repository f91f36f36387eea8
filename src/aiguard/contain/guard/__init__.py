"""The Guard: every containment stage composed around one predict call."""

from aiguard.contain.guard._guard import Guard, GuardConfig, guard, wrap
from aiguard.contain.guard._outcome import STAGES, Outcome

__all__ = ["STAGES", "Guard", "GuardConfig", "Outcome", "guard", "wrap"]

"""The Guard: every containment stage composed around one predict call."""

from aiguard.contain.guard._config import GuardConfig, GuardOptions
from aiguard.contain.guard._guard import Guard, guard, wrap
from aiguard.contain.guard._outcome import STAGES, Outcome

__all__ = ["STAGES", "Guard", "GuardConfig", "GuardOptions", "Outcome", "guard", "wrap"]

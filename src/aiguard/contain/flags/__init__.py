"""Feature flags and kill switches: turn one AI feature off without a full shutdown."""

from aiguard.contain.flags._flags import Flags
from aiguard.contain.flags._kill_switch import kill_switch
from aiguard.contain.flags._types import FlagChange, FlagSpec, FlagsStatus
from aiguard.state._records import FlagState

__all__ = ["FlagChange", "FlagSpec", "FlagState", "Flags", "FlagsStatus", "kill_switch"]

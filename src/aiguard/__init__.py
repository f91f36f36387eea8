"""aiguard: contain AI incidents in-process, around your own ``predict`` calls.

Detect (drift, monitors), classify (severity), contain (circuit breaker,
fallbacks, kill switches, load shedding, timeouts, retries), recover (rollback,
shadow, canary) and review (incident timeline, postmortem), as library
primitives that wrap ``model.predict`` in microseconds.
"""

from importlib.metadata import PackageNotFoundError, version

from aiguard import checks
from aiguard.contain._fallback import fallback
from aiguard.contain._limits import Bulkhead, RateLimit
from aiguard.contain.breaker import (
    BreakerEvent,
    BreakerMetrics,
    BreakerPermit,
    BreakerState,
    CircuitBreaker,
    TimeWindow,
)
from aiguard.contain.flags import FlagChange, Flags, FlagSpec, FlagsStatus, FlagState, kill_switch
from aiguard.contain.guard import Guard, GuardConfig, GuardOptions, Outcome, guard, wrap
from aiguard.contain.timing import (
    Backoff,
    Hedge,
    Retry,
    RetryBudget,
    Timeout,
    hedge,
    retry,
    timeout,
)
from aiguard.errors import (
    AiguardError,
    BulkheadFullError,
    CallRejectedError,
    CircuitOpenError,
    ConfigurationError,
    FallbackFailedError,
    FeatureDisabledError,
    GuardTimeoutError,
    InvalidInputError,
    MissingExtraError,
    RateLimitedError,
    RetryBudgetExhaustedError,
    StoreError,
    UnknownFlagError,
)
from aiguard.state._fleet import FleetRule, share_breaker
from aiguard.state._redis import RedisStore
from aiguard.state._stores import EnvStore, FileStore, MemoryStore

try:
    __version__ = version("aiguard")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = [
    "AiguardError",
    "Backoff",
    "BreakerEvent",
    "BreakerMetrics",
    "BreakerPermit",
    "BreakerState",
    "Bulkhead",
    "BulkheadFullError",
    "CallRejectedError",
    "CircuitBreaker",
    "CircuitOpenError",
    "ConfigurationError",
    "EnvStore",
    "FallbackFailedError",
    "FeatureDisabledError",
    "FileStore",
    "FlagChange",
    "FlagSpec",
    "FlagState",
    "Flags",
    "FlagsStatus",
    "FleetRule",
    "Guard",
    "GuardConfig",
    "GuardOptions",
    "GuardTimeoutError",
    "Hedge",
    "InvalidInputError",
    "MemoryStore",
    "MissingExtraError",
    "Outcome",
    "RateLimit",
    "RateLimitedError",
    "RedisStore",
    "Retry",
    "RetryBudget",
    "RetryBudgetExhaustedError",
    "StoreError",
    "TimeWindow",
    "Timeout",
    "UnknownFlagError",
    "__version__",
    "checks",
    "fallback",
    "guard",
    "hedge",
    "kill_switch",
    "retry",
    "share_breaker",
    "timeout",
    "wrap",
]

"""aiguard: contain AI incidents in-process, around your own ``predict`` calls.

Detect (drift, monitors), classify (severity), contain (circuit breaker,
fallbacks, kill switches, load shedding, timeouts, retries), recover (rollback,
shadow, canary) and review (incident timeline, postmortem), as library
primitives that wrap ``model.predict`` in microseconds.
"""

from importlib.metadata import PackageNotFoundError, version

from aiguard import checks, detect
from aiguard.classify import Policy, Severity, rules
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
from aiguard.contain.guard import (
    Guard,
    GuardConfig,
    GuardOptions,
    GuardStats,
    GuardStatsSnapshot,
    Outcome,
    guard,
    wrap,
)
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
from aiguard.detect._signal import Signal
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
    UnknownVersionError,
)
from aiguard.recover import (
    CanaryEvent,
    CanaryRouter,
    ChampionChange,
    Judge,
    Judgement,
    MetricResult,
    MetricSpec,
    ModelRegistry,
    ReplayReport,
    ShadowReport,
    ShadowRouter,
    replay,
)
from aiguard.review import Escalation, Incident, IncidentLog, Incidents, Status, Webhook
from aiguard.state._env import EnvStore
from aiguard.state._fleet import FleetBreaker, FleetRule, share_breaker
from aiguard.state._redis import RedisStore
from aiguard.state._stores import FileStore, MemoryStore

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
    "CanaryEvent",
    "CanaryRouter",
    "ChampionChange",
    "CircuitBreaker",
    "CircuitOpenError",
    "ConfigurationError",
    "EnvStore",
    "Escalation",
    "FallbackFailedError",
    "FeatureDisabledError",
    "FileStore",
    "FlagChange",
    "FlagSpec",
    "FlagState",
    "Flags",
    "FlagsStatus",
    "FleetBreaker",
    "FleetRule",
    "Guard",
    "GuardConfig",
    "GuardOptions",
    "GuardStats",
    "GuardStatsSnapshot",
    "GuardTimeoutError",
    "Hedge",
    "Incident",
    "IncidentLog",
    "Incidents",
    "InvalidInputError",
    "Judge",
    "Judgement",
    "MemoryStore",
    "MetricResult",
    "MetricSpec",
    "MissingExtraError",
    "ModelRegistry",
    "Outcome",
    "Policy",
    "RateLimit",
    "RateLimitedError",
    "RedisStore",
    "ReplayReport",
    "Retry",
    "RetryBudget",
    "RetryBudgetExhaustedError",
    "Severity",
    "ShadowReport",
    "ShadowRouter",
    "Signal",
    "Status",
    "StoreError",
    "TimeWindow",
    "Timeout",
    "UnknownFlagError",
    "UnknownVersionError",
    "Webhook",
    "__version__",
    "checks",
    "detect",
    "fallback",
    "guard",
    "hedge",
    "kill_switch",
    "replay",
    "retry",
    "rules",
    "share_breaker",
    "timeout",
    "wrap",
]

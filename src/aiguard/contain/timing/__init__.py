"""Time limits: timeouts, retries with backoff and budgets, hedged calls."""

from aiguard.contain.timing._backoff import Backoff, RetryBudget
from aiguard.contain.timing._hedge import Hedge, hedge
from aiguard.contain.timing._retry import Retry, retry
from aiguard.contain.timing._timeout import Timeout, timeout

__all__ = ["Backoff", "Hedge", "Retry", "RetryBudget", "Timeout", "hedge", "retry", "timeout"]

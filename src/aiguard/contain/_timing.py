"""Bound the time of model calls: :func:`timeout`, :func:`retry`, :func:`hedge`.

The public names are factory functions returning the objects that do the work
(:class:`Timeout`, :class:`Retry`, :class:`Hedge`); each object is a decorator
and a stage of the :class:`~aiguard.Guard` pipeline.
"""

from __future__ import annotations

from aiguard.contain._hedge import Hedge, hedge
from aiguard.contain._retry import Backoff, Retry, RetryBudget, retry
from aiguard.contain._timeout import Timeout, timeout

__all__ = ["Backoff", "Hedge", "Retry", "RetryBudget", "Timeout", "hedge", "retry", "timeout"]

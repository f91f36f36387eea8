"""Output checks: callables judging a model's result, per row for a batch.

Each check returns ``True`` / ``False`` for a scalar result and a boolean mask
with one entry per row for a batch (rows on axis 0). Checks combine with ``&``
and ``|``.
"""

from aiguard.contain._checks import *  # noqa: F403
from aiguard.contain._checks import __all__  # noqa: F401

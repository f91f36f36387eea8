"""Output and input checks: callables judging a model's result, per row for a batch.

Each check returns ``True`` / ``False`` for a scalar result and a boolean mask
with one entry per row for a batch (rows on axis 0; a row of a 2-D result
passes only if all its elements do). ``True`` means OK. Checks combine with
``&`` and ``|`` and print as the expression that built them. A result a check
cannot judge (a string for :func:`in_range`, a ragged list) is invalid: every
row fails, and the check counts it in ``check.errors``.

Example:
    >>> import numpy as np
    >>> import aiguard as ag
    >>> ok = ag.checks.finite() & ag.checks.in_range(0, 1)
    >>> ok
    finite() & in_range(0, 1)
    >>> ok(np.array([[0.1, 0.9], [np.nan, 0.5]]))
    array([ True, False])

Input checks (:func:`within_reference`, :func:`missing`, :func:`schema`,
:func:`ood`) judge the rows sent to the model, for ``Guard(input_check=...)``.
"""

from aiguard.contain._checks import *  # noqa: F403
from aiguard.contain._checks import __all__ as _output_checks
from aiguard.contain._input_checks import missing, ood, ood_score, schema, within_reference

__all__ = [  # noqa: PLE0604 - the output checks' names, then the input checks'
    *_output_checks,
    "missing",
    "ood",
    "ood_score",
    "schema",
    "within_reference",
]

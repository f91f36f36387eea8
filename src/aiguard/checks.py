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

from aiguard.contain._check_rules import dtype, finite, in_range, not_constant, probabilities, shape
from aiguard.contain._checks import Check, as_check, custom
from aiguard.contain._input_checks import missing, ood, ood_score, schema, within_reference

__all__ = [
    "Check",
    "as_check",
    "custom",
    "dtype",
    "finite",
    "in_range",
    "missing",
    "not_constant",
    "ood",
    "ood_score",
    "probabilities",
    "schema",
    "shape",
    "within_reference",
]

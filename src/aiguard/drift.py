"""Vectorised two-sample drift statistics: has the data moved?

Every function compares a ``reference`` sample (training data, last week) with
a ``current`` one, per feature, in one vectorised pass. Samples run along
``axis`` (default 0) and features along the other axis; 1-D input gives
scalars, 2-D input gives arrays of shape ``(n_features,)``. Where scipy has the
same statistic, scipy's definition is the contract.

Example:
    >>> import numpy as np
    >>> from aiguard import drift
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.normal(size=(500, 3))
    >>> cur = rng.normal(size=(500, 3)) + np.array([0.0, 0.0, 0.5])
    >>> drift.ks(ref, cur, correction="holm").drifted
    array([False, False,  True])
    >>> drift.missing_rate(np.array([[1.0, np.nan], [2.0, 3.0]]))
    array([0. , 0.5])
"""

from __future__ import annotations

from aiguard.detect._drift._result import DriftResult, DriftWarning
from aiguard.detect._drift.binned import hellinger, jensenshannon, kl, psi
from aiguard.detect._drift.discrete import chi2, ztest
from aiguard.detect._drift.inputs import missing_rate
from aiguard.detect._drift.multivariate import mmd
from aiguard.detect._drift.rank import anderson, cramervonmises, energy, ks, wasserstein
from aiguard.detect._drift.reference import Accumulator, Reference
from aiguard.detect._drift.report import DriftReport, FeatureDrift, MethodResult

__all__ = [
    "Accumulator",
    "DriftReport",
    "DriftResult",
    "DriftWarning",
    "FeatureDrift",
    "MethodResult",
    "Reference",
    "anderson",
    "chi2",
    "cramervonmises",
    "energy",
    "hellinger",
    "jensenshannon",
    "kl",
    "ks",
    "missing_rate",
    "mmd",
    "psi",
    "wasserstein",
    "ztest",
]

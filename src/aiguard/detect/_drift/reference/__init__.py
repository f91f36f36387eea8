"""The reference workflow: fit once, compare many times, stream, save and load.

``_reference`` is the public :class:`Reference`, a thin front over its fitted
state: ``_fitted`` (the frozen :class:`FittedReference` value object) made by
``_fit`` (from data) or ``_persist`` (from a saved ``.npz`` file).
``_compare`` turns the fitted state and a current data set into a
:class:`~aiguard.drift.DriftReport`; ``_blocked`` fits and compares in blocks
of features within a memory budget; ``_accumulator`` counts a stream of
batches into the reference's bins.
"""

from aiguard.detect._drift.reference._accumulator import Accumulator
from aiguard.detect._drift.reference._compare import (
    DEFAULT_METHODS,
    METHODS,
    build_report,
    compare_reference,
)
from aiguard.detect._drift.reference._fit import fit_reference
from aiguard.detect._drift.reference._fitted import FittedReference
from aiguard.detect._drift.reference._persist import read_reference, write_reference
from aiguard.detect._drift.reference._reference import Reference

__all__ = [
    "DEFAULT_METHODS",
    "METHODS",
    "Accumulator",
    "FittedReference",
    "Reference",
    "build_report",
    "compare_reference",
    "fit_reference",
    "read_reference",
    "write_reference",
]

"""Array type aliases shared by the drift modules."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

__all__ = ["Columns", "FloatArray"]


FloatArray: TypeAlias = npt.NDArray[np.float64]


#: columns of a 2-D sample: all, an index array, or a one-element list
Columns: TypeAlias = slice | npt.NDArray[np.intp] | list[int]

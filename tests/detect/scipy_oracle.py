"""scipy oracles called in a way every supported scipy accepts (the floor is ``scipy>=1.11``).

scipy 1.17 added ``anderson_ksamp(..., variant="midrank")`` and deprecated the
older ``midrank=True`` spelling of the same test; older releases only know the
latter. The tests ask for the midrank statistic by whichever name the installed
scipy understands, so the oracle is scipy on the oldest declared release too.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from scipy import stats

if TYPE_CHECKING:
    import numpy as np

_MIDRANK: dict[str, Any] = (
    {"variant": "midrank"}
    if "variant" in inspect.signature(stats.anderson_ksamp).parameters
    else {"midrank": True}
)


def anderson_ksamp_midrank(a: np.ndarray, b: np.ndarray) -> Any:
    """``scipy.stats.anderson_ksamp([a, b])``, midrank variant: ``.statistic`` and ``.pvalue``."""
    return stats.anderson_ksamp([a, b], **_MIDRANK)

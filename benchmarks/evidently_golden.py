"""Golden values for ``compat="evidently"``, computed once from real Evidently.

Run with a separate virtual environment that has Evidently 0.7 (Evidently is
not a dependency of aiguard)::

    python3 -m venv "$HOME/.venvs/evidently"
    "$HOME/.venvs/evidently/bin/pip" install 'evidently==0.7.*' 'pandas<2.3'
    "$HOME/.venvs/evidently/bin/python" benchmarks/evidently_golden.py

(the same environment serves ``benchmarks/drift.py`` through
``AIGUARD_EVIDENTLY_PYTHON="$HOME/.venvs/evidently/bin/python"``)

It prints a Python dict; ``tests/detect/test_drift_evidently_compat.py`` holds
the numbers it printed and regenerates the same data sets with the same seeds.
"""

from __future__ import annotations

import numpy as np


def datasets() -> dict[str, tuple[np.ndarray, np.ndarray, str]]:
    """The seeded data sets: name -> (reference, current, kind)."""
    rng = np.random.default_rng(20261126)
    cats = np.array(["a", "b", "c", "d", "e"])
    return {
        # > 20 distinct values: Sturges edges on the concatenation
        "normal_shift": (rng.normal(0, 1, 1000), rng.normal(0.3, 1.2, 800), "num"),
        # heavy tail, many rows: empty bins, smallest non-zero share <= 1e-4
        "lognormal_tail": (rng.lognormal(0, 1, 20000), rng.lognormal(0.1, 1, 15000), "num"),
        # <= 20 distinct values: one bin per value, an unseen value in current
        "poisson_unseen": (
            rng.poisson(3, 2000).astype(float),
            rng.poisson(4, 1500).astype(float),
            "num",
        ),
        # categorical strings, an unseen category in current
        "strings_unseen": (
            rng.choice(cats[:4], 3000, p=[0.4, 0.3, 0.2, 0.1]),
            rng.choice(cats, 2500, p=[0.3, 0.3, 0.2, 0.1, 0.1]),
            "cat",
        ),
    }


def main() -> None:
    import evidently
    import pandas as pd
    from evidently.legacy.calculations.stattests import (
        hellinger_stat_test,
        jensenshannon_stat_test,
        kl_div_stat_test,
        psi_stat_test,
    )
    from evidently.legacy.core import ColumnType

    tests = {
        "psi": psi_stat_test,
        "kl": kl_div_stat_test,
        "jensenshannon": jensenshannon_stat_test,
        "hellinger": hellinger_stat_test,
    }
    print(f"# evidently {evidently.__version__}, numpy {np.__version__}, pandas {pd.__version__}")
    out: dict[str, dict[str, float]] = {}
    for name, (ref, cur, kind) in datasets().items():
        ftype = ColumnType.Numerical if kind == "num" else ColumnType.Categorical
        out[name] = {}
        for method, test in tests.items():
            res = test(pd.Series(ref), pd.Series(cur), ftype, None)
            out[name][method] = float(res.drift_score)
    print("GOLDEN = {")
    for name, vals in out.items():
        print(f"    {name!r}: {{")
        for method, value in vals.items():
            print(f"        {method!r}: {value!r},")
        print("    },")
    print("}")


if __name__ == "__main__":
    main()

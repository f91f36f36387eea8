"""Quick timing of aiguard's vectorised KS / Wasserstein / Cramér-von Mises.

Compares, on the same float64 data (rows x features, default 100,000 x 50):

* the floor ``np.sort(cur, axis=0)`` (sorting the current batch is the least
  any exact rank statistic must do);
* aiguard with a *fitted* reference (reference sorted once, outside the
  timing), as ``Reference.compare`` does: sort the current batch once, then
  one merge per feature for all requested statistics;
* aiguard's public functions (which also sort the reference on every call);
* the scipy loop, one ``scipy.stats`` call per feature.

Times are the best of ``--repeat`` runs of CPU time of this process
(``time.process_time``), which is stable on a shared machine where wall time
is not; ``--wall`` reports wall time instead.

Note on KS p-values: for samples up to 100,000, ``scipy.stats.kstwo.sf`` (the
asymptotic KS p-value, scipy's definition and aiguard's) uses the Durbin
matrix method when the statistic is small, about 50 ms per feature at
100,000 x 100,000; the ``KS statistic only`` row shows the rest. aiguard
caches these values (a monitor sees the same batch sizes again); every timed
run here starts with an empty cache, and a ``warm`` row shows the cached case.

Run: ``python benchmarks/drift_functions_quick.py [--rows 100000] [--cols 50]``.
"""

from __future__ import annotations

import argparse
import platform
import time
from typing import TYPE_CHECKING

import numpy as np
import scipy
from scipy import stats

from aiguard import drift
from aiguard.detect._drift.inputs import sort_samples
from aiguard.detect._drift.rank import _pvalues, compare_sorted, merged_quantities

if TYPE_CHECKING:
    from collections.abc import Callable

CLOCK = time.process_time


def best(fn: Callable[[], object], repeat: int) -> float:
    """Best time of ``repeat`` runs, in seconds, each with cold p-value caches."""
    times = []
    for _ in range(repeat):
        _pvalues._kstwo_sf.cache_clear()
        start = CLOCK()
        fn()
        times.append(CLOCK() - start)
    return min(times)


def warm(fn: Callable[[], object], repeat: int) -> float:
    """Best time of ``repeat`` runs after one untimed run (p-value cache filled)."""
    fn()
    times = []
    for _ in range(repeat):
        start = CLOCK()
        fn()
        times.append(CLOCK() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--cols", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scipy-repeat", type=int, default=1)
    parser.add_argument("--wall", action="store_true", help="wall time instead of CPU time")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.perf_counter if args.wall else time.process_time
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(args.rows, args.cols))
    cur = rng.normal(0.01, 1.0, size=(args.rows, args.cols))
    fitted = sort_samples(ref, "reference")

    def compare(methods: tuple[str, ...]) -> Callable[[], object]:
        def run() -> object:
            return compare_sorted(fitted, sort_samples(cur, "current"), methods)

        return run

    def scipy_loop(fn: Callable[..., object]) -> Callable[[], object]:
        return lambda: [fn(ref[:, j], cur[:, j]) for j in range(args.cols)]

    def ks_statistic_only() -> object:
        cur_sorted = sort_samples(cur, "current")
        return merged_quantities(
            fitted.values.T, cur_sorted.values.T, frozenset({"ks_plus", "ks_minus"})
        )

    floor = best(lambda: np.sort(cur, axis=0), args.repeat)
    rows = [
        ("floor: np.sort(cur, axis=0)", floor),
        ("fitted: KS statistic only", best(ks_statistic_only, args.repeat)),
        ("fitted: KS", best(compare(("ks",)), args.repeat)),
        ("fitted: KS, warm p-value cache", warm(compare(("ks",)), args.repeat)),
        ("fitted: Wasserstein", best(compare(("wasserstein",)), args.repeat)),
        ("fitted: Cramér-von Mises", best(compare(("cramervonmises",)), args.repeat)),
        (
            "fitted: KS + Wasserstein + CvM",
            best(compare(("ks", "wasserstein", "cramervonmises")), args.repeat),
        ),
        (
            "fitted: KS + W + CvM, warm cache",
            warm(compare(("ks", "wasserstein", "cramervonmises")), args.repeat),
        ),
        ("drift.ks(ref, cur)", best(lambda: drift.ks(ref, cur), args.repeat)),
        ("drift.wasserstein(ref, cur)", best(lambda: drift.wasserstein(ref, cur), args.repeat)),
        (
            "drift.cramervonmises(ref, cur)",
            best(lambda: drift.cramervonmises(ref, cur), args.repeat),
        ),
        ("scipy loop: ks_2samp", best(scipy_loop(stats.ks_2samp), args.scipy_repeat)),
        (
            "scipy loop: wasserstein_distance",
            best(scipy_loop(stats.wasserstein_distance), args.scipy_repeat),
        ),
        (
            "scipy loop: cramervonmises_2samp",
            best(scipy_loop(stats.cramervonmises_2samp), args.scipy_repeat),
        ),
    ]
    print(
        f"{args.rows:,} x {args.cols} float64, best of {args.repeat} "
        f"(scipy loops: {args.scipy_repeat}); numpy {np.__version__}, scipy {scipy.__version__}, "
        f"Python {platform.python_version()}, {platform.machine()}; "
        f"{'wall' if args.wall else 'CPU'} seconds"
    )
    print(f"{'what':<36} {'seconds':>9} {'x floor':>8}")
    for name, seconds in rows:
        print(f"{name:<36} {seconds:>9.3f} {seconds / floor:>8.2f}")
    table = dict(rows)
    ks_scipy = table["scipy loop: ks_2samp"]
    print(
        "KS speed-up over the scipy loop (fitted reference): "
        f"{ks_scipy / table['fitted: KS']:.1f}x cold, "
        f"{ks_scipy / table['fitted: KS, warm p-value cache']:.1f}x warm"
    )


if __name__ == "__main__":
    main()

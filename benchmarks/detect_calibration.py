"""Detection delay and false alarms of the streaming detectors, default vs calibrated settings.

Run:  python benchmarks/detect_calibration.py [--quick] [--only NAME]

Synthetic streams, ``runs`` seeds each:

- real-valued detectors (PageHinkley, ADWIN, KSWIN, CUSUM): N(0, 1) for
  ``stable`` values, then N(1, 1) (a one-sigma shift of the mean) for
  ``after`` values;
- binary detectors (DDM, EDDM, HDDM_A, HDDM_W): 0/1 errors at rate 0.1, then
  0.2 (the error rate doubles).

"Calibrated" is ``calibrate(reference, false_alarms_per=1000, seed=0)`` on a
separate stable stream of 5,000 values (N(0, 1), or errors at rate 0.1); CUSUM's
default is target 0, k 0.5, h 5. Columns: the calibrated parameter's value;
false alarms per 1,000 stable values (target: 1); how many runs detected the
change within ``after`` values; the median delay (values after the change to
the first detection at or after it) over the runs that detected.
"""

from __future__ import annotations

import numpy as np
from _bench import markdown_table, parser, versions

from aiguard.detect import ADWIN, CUSUM, DDM, EDDM, HDDM_A, HDDM_W, KSWIN, PageHinkley

DETECTORS = [PageHinkley, CUSUM, ADWIN, KSWIN, DDM, EDDM, HDDM_A, HDDM_W]
PER = 1000


def stream(binary: bool, stable: int, after: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if binary:
        rate = np.r_[np.full(stable, 0.1), np.full(after, 0.2)]
        return (rng.random(stable + after) < rate).astype(float)
    return np.r_[rng.normal(0, 1, stable), rng.normal(1, 1, after)]


def measure(make, binary: bool, stable: int, after: int, runs: int) -> tuple[float, int, str]:
    false_alarms, delays = 0, []
    for seed in range(1, runs + 1):
        found = make().update_many(stream(binary, stable, after, seed))
        false_alarms += int((found < stable).sum())
        late = found[found >= stable]
        if len(late):
            delays.append(int(late[0]) - stable)
    rate = false_alarms / (runs * stable) * 1000
    median = f"{np.median(delays):.0f}" if delays else "-"
    return rate, len(delays), median


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    args = p.parse_args()
    stable, after, runs = (5000, 2000, 10) if not args.quick else (2000, 1000, 3)
    chosen = [
        d
        for d in DETECTORS
        if not args.only or any(o.lower() in d.__name__.lower() for o in args.only)
    ]
    print(f"# detectors, default vs calibrated ({versions(['aiguard', 'numpy', 'scipy'])})")
    print()
    print(
        f"{runs} runs of {stable:,} stable values then {after:,} changed; calibrated for one false "
        f"alarm per {PER:,} values on a separate stable stream of 5,000."
    )
    print()
    rows = []
    for cls in chosen:
        binary = bool(cls._binary)
        knob = cls._knob.name
        seeded = {"seed": 0} if cls is KSWIN else {}
        reference = stream(binary, 5000, 0, seed=10_000)
        calibrated = cls(**seeded).calibrate(reference, false_alarms_per=PER, seed=0)
        for label, params in (("default", seeded), ("calibrated", calibrated.params())):
            rate, detected, median = measure(
                lambda cls=cls, params=params: cls(**params), binary, stable, after, runs
            )
            value = cls(**params).params()[knob]
            rows.append(
                [
                    cls.__name__,
                    label,
                    f"{knob}={value:.4g}",
                    f"{rate:.2f}",
                    f"{detected}/{runs}",
                    median,
                ]
            )
    print(
        markdown_table(
            ["detector", "setting", "parameter", "false alarms / 1k", "detected", "median delay"],
            rows,
        )
    )


if __name__ == "__main__":
    main()

"""The Guard's per-call caller CPU, for two source trees in turn (before / after a change).

Run:  python benchmarks/guard_ab.py BEFORE_SRC AFTER_SRC [--runs 3]

e.g. ``git archive main src | tar -x -C /tmp/before`` then
``python benchmarks/guard_ab.py /tmp/before/src src``. Each run starts a fresh
interpreter with the tree on ``PYTHONPATH`` and times, interleaved, a full Guard
(kill switch + breaker + check + fallback, as in ``overhead.py``), an empty
``Guard()`` and the raw call: best of 15 rounds of 20,000 calls, as caller CPU
(``time.thread_time``), which a loaded machine disturbs far less than wall time.
The trees alternate ``--runs`` times so that a change of load hits both alike.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

_CHILD = """
import time
import aiguard

def ident(x):
    return x

flags = aiguard.Flags()
flags.set("bench.model", on=True, reason="bench", actor="bench")
full = aiguard.Guard(
    name="full", kill_switch="bench.model", flags=flags,
    breaker=aiguard.CircuitBreaker(name="full"),
    check=aiguard.checks.finite() & aiguard.checks.in_range(-1e9, 1e9),
    fallback=lambda _x: 0.0,
)(ident)
cases = {"full Guard": full, "Guard()": aiguard.Guard(name="empty")(ident), "raw call": ident}
best = dict.fromkeys(cases, float("inf"))
for _ in range(15):
    for name, fn in cases.items():
        t0 = time.thread_time()
        for _ in range(20_000):
            fn(1.0)
        best[name] = min(best[name], (time.thread_time() - t0) / 20_000 * 1e9)
print("|".join(f"{best[name]:.0f}" for name in cases))
"""


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("before")
    args.add_argument("after")
    args.add_argument("--runs", type=int, default=3)
    ns = args.parse_args()
    rows = []
    for run in range(1, ns.runs + 1):
        for label, tree in (("before", ns.before), ("after", ns.after)):
            env = {**os.environ, "PYTHONPATH": str(Path(tree).resolve())}
            out = subprocess.run([sys.executable, "-c", _CHILD], env=env, check=True,
                                 capture_output=True, text=True).stdout.strip()
            rows.append((run, label, *out.split("|")))
    print("caller CPU ns per call, best of 15 rounds of 20,000 calls")
    print()
    print("| run | tree | full Guard | Guard() | raw call |")
    print("|---:|---|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(str(v) for v in row) + " |")


if __name__ == "__main__":
    main()

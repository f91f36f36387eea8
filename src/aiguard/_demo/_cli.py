"""``aiguard demo [--scenario NAME] [--seed N] [--out DIR] [--fast] [--json] [--webhook URL]``."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from aiguard._demo._runner import Drill, Options

if TYPE_CHECKING:
    from collections.abc import Sequence

SCENARIOS = {
    "recommender": "winter coats for Arizona: corrupted features -> Critical, kill switch, "
                   "rollback, shadow, replay, canary",
    "fraud": "a fraud model flags 40% of legitimate payments -> High, fallback to rules",
    "chatbot-latency": "an LLM slows from 200 ms to 3 s -> High, timeouts, shedding, "
                       "a canned answer",
    "seasonal": "seasonal drift -> Medium, shadow and canary of a retrain, automatic "
                "rollback of a worse one",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiguard demo",
        description="Replay an AI incident end to end on simulated traffic: detect, classify, "
                    "contain, recover, review. Simulated time, no services, no network.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="scenarios:\n" + "\n".join(f"  {k:<16} {v}" for k, v in SCENARIOS.items()))
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="recommender")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write the files (default ./aiguard-demo-SCENARIO)")
    parser.add_argument("--fast", action="store_true", help="no pacing between timeline lines")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per event on stdout instead of the timeline")
    parser.add_argument("--webhook", default=None, metavar="URL",
                        help="also POST every page to this webhook (e.g. a local receiver)")
    return parser


def main(argv: Sequence[str]) -> int:
    """Run the drill; return the exit code (0 done, 2 usage)."""
    try:
        args = _parser().parse_args(list(argv))
    except SystemExit as exc:  # argparse exits on --help and on errors
        return int(exc.code or 0)
    out = args.out if args.out is not None else Path(f"aiguard-demo-{args.scenario}")
    options = Options(scenario=args.scenario, seed=args.seed, out=out, fast=args.fast,
                      json=args.json, webhook=args.webhook)
    drill = Drill(options, stream=sys.stdout)
    module = importlib.import_module(f"aiguard._demo._{args.scenario.replace('-', '_')}")
    drill.say(f"aiguard demo: {args.scenario} (seed {args.seed}); files go to {out}/\n")
    module.run(drill)
    return 0

"""Small timing and table helpers shared by the benchmark scripts.

Timing fights noise on a shared machine two ways: every case runs a tight
loop of ``number`` calls, ``rounds`` times, *interleaved* with the other
cases of its group (so a burst of load hits them all alike), and the best
round is kept (timeit's advice: the minimum is the least disturbed run).
Report ratios rather than absolute nanoseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import platform
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


@dataclass
class Case:
    """One row: ``make()`` returns the zero-argument callable (or coroutine function) to time."""

    name: str
    group: str
    make: Callable[[], Any]
    kind: str = "sync"  # "sync", "async" or "threads"
    baseline: bool = False  # the group's raw call: other rows report the ns they add to it
    note: str = ""
    packages: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


def _loop_sync(fn: Callable[[], Any], number: int) -> float:
    rng = range(number)
    start = time.perf_counter()
    for _ in rng:
        fn()
    return time.perf_counter() - start


def _loop_async(fn: Callable[[], Any], number: int) -> float:
    async def run() -> float:
        rng = range(number)
        start = time.perf_counter()
        for _ in rng:
            await fn()
        return time.perf_counter() - start

    return asyncio.run(run())


def best_ns(
    cases: Sequence[tuple[str, Callable[[], Any], str]], *, number: int, rounds: int
) -> dict[str, float]:
    """Best ns per call of each ``(name, fn, kind)``, rounds interleaved across cases."""
    best = {name: float("inf") for name, _, _ in cases}
    for _ in range(rounds):
        for name, fn, kind in cases:
            loop = _loop_async if kind == "async" else _loop_sync
            best[name] = min(best[name], loop(fn, number) / number * 1e9)
    return best


def versions(packages: Sequence[str]) -> str:
    """``python 3.11.7, pybreaker 1.4.1, ...`` for the packages that are installed."""
    parts = [f"python {platform.python_version()} ({sys.implementation.name})"]
    for package in packages:
        try:
            parts.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{package} (not installed)")
    return ", ".join(parts)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table with right-aligned number columns."""
    text = [[str(cell) for cell in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in text)) if text else len(h) for i, h in enumerate(headers)
    ]
    numeric = [all(_is_number(r[i]) for r in text) and bool(text) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(cells, widths, numeric, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if num else ("-" * (w + 2))
            for w, num in zip(widths, numeric, strict=True)
        )
        + "|"
    )
    return "\n".join([line(list(headers)), rule, *(line(r) for r in text)])


def _is_number(cell: str) -> bool:
    try:
        float(cell.rstrip("x").replace(",", ""))
    except ValueError:
        return cell in {"n/a", "-"}
    return True


def parser(description: str) -> argparse.ArgumentParser:
    """The common command line: ``--only SUBSTRING`` (repeatable) and ``--quick``."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--only",
        action="append",
        default=[],
        help="run only the cases whose name or group contains this (repeatable)",
    )
    p.add_argument("--quick", action="store_true", help="fewer rounds, for a smoke run")
    return p


def selected(cases: Sequence[Case], only: Sequence[str]) -> list[Case]:
    """The cases matching any of *only* (all when empty); baselines are kept by the caller."""
    if not only:
        return list(cases)
    return [c for c in cases if any(o.lower() in (c.name + " " + c.group).lower() for o in only)]

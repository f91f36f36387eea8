"""Models for the process-isolated shadow tests, importable by name in the spawned child.

A spawned child rebuilds the shadow from its pickle, which names a module and
a function; the test modules are imported by path (``--import-mode=importlib``),
so the models the child must import live here, and the tests put this folder
on ``sys.path`` (the child inherits it).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np


def primary(x: np.ndarray[Any, Any], *, kind: str = "classes") -> Any:
    """Classes (0/1 above 0.5) or scores (half of *x*)."""
    return (x > 0.5).astype(int) if kind == "classes" else x * 0.5


def candidate(x: np.ndarray[Any, Any], *, kind: str = "classes") -> Any:
    """A candidate that draws the line at 0.45 and scores 2 % higher."""
    return (x > 0.45).astype(int) if kind == "classes" else x * 0.51


def faulty(x: float) -> Any:
    """Raises below 1, garbage below 3, slow (0.15 s) below 4, else the answer."""
    if x < 1:
        raise RuntimeError("shadow down")
    if x < 2:
        return "garbage"
    if x < 3:
        return np.array([1.0, 2.0])  # another shape
    if x < 4:
        time.sleep(0.15)
    return float(x)


async def async_shadow(x: int) -> int:
    """Hangs on 99 (cancelled by the timeout), else the answer."""
    if x == 99:
        await asyncio.sleep(10)
    return x


def slow(x: Any) -> Any:
    """The answer, 20 ms later (far slower than the identity primary)."""
    time.sleep(0.02)
    return x


def hung(x: Any) -> Any:
    """Does not answer for a minute."""
    time.sleep(60)
    return x


def gives_back(x: Any) -> Any:
    """Mutates its (writable) copy of the request in place, then answers."""
    x += 0
    return x


def double(x: Any) -> Any:
    """Twice *x* (picklable: a module function)."""
    return 2 * x

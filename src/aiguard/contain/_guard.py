"""Stub: being implemented."""

from __future__ import annotations

__all__ = ["Guard", "guard", "Outcome", "wrap", ]


class Guard:
    """Stub."""


class guard:
    """Stub."""


class Outcome:
    """Stub."""


class wrap:
    """Stub."""


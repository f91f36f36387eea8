"""Stub: being implemented."""

from __future__ import annotations

__all__ = ["RateLimit", "Bulkhead", ]


class RateLimit:
    """Stub."""


class Bulkhead:
    """Stub."""


"""Stub: being implemented."""

from __future__ import annotations

__all__ = ["timeout", "retry", "hedge", ]


class timeout:
    """Stub."""


class retry:
    """Stub."""


class hedge:
    """Stub."""


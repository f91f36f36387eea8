"""Stub: being implemented."""

from __future__ import annotations

__all__ = ["Flags", "kill_switch", ]


class Flags:
    """Stub."""


class kill_switch:
    """Stub."""


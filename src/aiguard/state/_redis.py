"""Stub: being implemented."""

from __future__ import annotations

__all__ = ["RedisStore", ]


class RedisStore:
    """Stub."""


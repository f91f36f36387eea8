"""Stub: being implemented."""

from __future__ import annotations

__all__ = ["MemoryStore", "FileStore", "EnvStore", ]


class MemoryStore:
    """Stub."""


class FileStore:
    """Stub."""


class EnvStore:
    """Stub."""


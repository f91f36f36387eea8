"""Fallbacks (stub, being implemented)."""

from __future__ import annotations

from typing import Any

__all__ = ["fallback"]


def fallback(*handlers: Any, **options: Any) -> Any:
    """Stub."""
    raise NotImplementedError

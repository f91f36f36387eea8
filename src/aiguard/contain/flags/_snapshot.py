"""The snapshot :meth:`Flags.enabled` reads: one dict, rebuilt on every change.

Each name maps to what the hot path needs and nothing more: ``True`` or
``False`` for a flag fully on or off, or ``(threshold, key cache)`` for a
partial rollout (the bucket threshold and this flag's cache of string-key
buckets). While the global switch is off the snapshot is :data:`ALL_OFF`, a
dict whose ``get`` answers False for every name, so the hot path needs no
extra test for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from aiguard.contain.flags._rollout import BUCKETS, bucket, threshold
from aiguard.state._records import ALL

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aiguard.state._records import FlagState

__all__ = ["ALL_OFF", "build_snapshot", "remember"]

KEY_CACHE_SIZE: Final = 1 << 15
"""String keys whose bucket one flag caches (the cache is cleared when full)."""


class _AllOff(dict[str, Any]):
    """The snapshot while the global switch is off: every name reads off."""

    __slots__ = ()

    def get(self, key: object, default: object = None) -> bool:
        del key, default
        return False


ALL_OFF: Final = _AllOff()


def remember(known: dict[str, int], name: str, key: str) -> int:
    """Compute and cache *key*'s bucket for flag *name* (the cache is bounded by clearing)."""
    if len(known) >= KEY_CACHE_SIZE:
        known.clear()
    found = known[key] = bucket(name, key)
    return found


def build_snapshot(
    states: Mapping[str, FlagState], key_cache: dict[str, dict[str, int]]
) -> dict[str, Any]:
    """Return the snapshot of *states* (:data:`ALL_OFF` while the global switch is off).

    *key_cache* keeps each rolled-out flag's string-key buckets across
    rebuilds: a bucket depends on the flag name and the key, not the percent.
    """
    if not states[ALL].on:
        return ALL_OFF
    snap: dict[str, Any] = {}
    for name, state in states.items():
        if name == ALL:  # on here; the global switch has no rollout
            snap[name] = True
        elif state.fully_off or state.fully_on:
            snap[name] = state.on and state.percent != 0
        else:  # a partial rollout: the bucket threshold, unless it rounds to none or all
            cut = threshold(state.percent or 0.0)
            known = key_cache.setdefault(name, {})
            snap[name] = (cut, known) if 0 < cut < BUCKETS else cut >= BUCKETS
    return snap

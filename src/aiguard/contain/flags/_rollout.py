"""Sticky percentage rollout: the same key always lands in the same bucket.

A key's bucket is ``blake2b(f"{salt}:{flag}:{key}", digest_size=8)`` read as a
big-endian integer, modulo 10,000. A key is in a rollout of ``p`` percent when
its bucket is below ``round(p * 100)``. The bucket depends only on the flag
and the key, never on ``p``, so raising the percentage only adds keys and
lowering it only removes them: nobody flips back and forth. Every process
computes the same bucket (no per-process hash seed), so a fleet agrees on who
is in. Keys are turned into text with ``str(key)``. Recent (flag, key) buckets
are cached (32,768 entries), so a key seen again costs a dictionary lookup.
"""

from __future__ import annotations

from functools import lru_cache
from hashlib import blake2b
from typing import Final

__all__ = ["BUCKETS", "SALT", "bucket", "cached_bucket", "in_rollout", "threshold"]

BUCKETS: Final = 10_000
"""Resolution of a rollout: 0.01 %."""
SALT: Final = "aiguard"
"""Mixed into every hash, so aiguard's buckets are independent of other systems' hashes."""


def bucket(flag: str, key: object, *, salt: str = SALT) -> int:
    """Return the bucket in ``range(10_000)`` of *key* for *flag*.

    Example:
        >>> bucket("recs.personalized", "user-42") == bucket("recs.personalized", "user-42")
        True
        >>> 0 <= bucket("recs.personalized", 42) < 10_000
        True
    """
    digest = blake2b(f"{salt}:{flag}:{key}".encode(errors="surrogatepass"), digest_size=8)
    return int.from_bytes(digest.digest(), "big") % BUCKETS


cached_bucket = lru_cache(maxsize=1 << 15, typed=True)(bucket)
""":func:`bucket` behind a bounded, thread-safe cache (hashable keys only): hot keys skip hashing.

``typed=True`` keeps ``1`` and ``1.0`` apart (their text differs, so may their buckets).
"""


def threshold(percent: float) -> int:
    """Return how many of the 10,000 buckets a rollout of *percent* covers.

    Example:
        >>> threshold(25), threshold(0.01), threshold(100)
        (2500, 1, 10000)
    """
    return round(percent * (BUCKETS // 100))


def in_rollout(flag: str, key: object, percent: float) -> bool:
    """Whether *key* is in a rollout of *percent* for *flag*.

    Example:
        >>> in_rollout("f", "k", 100), in_rollout("f", "k", 0)
        (True, False)
    """
    return bucket(flag, key) < threshold(percent)

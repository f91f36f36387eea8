"""What the read-only flag stores share (the environment, OpenFeature).

An answer the store cannot use is counted in ``garbage`` and logged once per
flag, the flag keeping its last good record; :meth:`ReadOnlyStore.write`
refuses, saying where the flag is changed instead.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiguard._core._logging import fields
from aiguard.errors import StoreError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["ReadOnlyStore"]

_log = logging.getLogger(__name__)


class ReadOnlyStore:
    """Base of a flag store that a running process reads but cannot write.

    Attributes:
        garbage: answers that could not be understood, counted per read.
    """

    def __init__(self) -> None:
        self.garbage = 0
        self._last_good: dict[str, dict[str, Any]] = {}
        self._reported: set[str] = set()

    if TYPE_CHECKING:

        def _refusal(self, name: str) -> str:
            """Why flag *name* cannot be written here, and where to change it."""

    def _unusable(self, key: str, message: str, *args: object) -> None:
        """Count one answer that could not be used; log *message* the first time for *key*."""
        self.garbage += 1
        if key not in self._reported:
            self._reported.add(key)
            _log.warning(message, *args, extra=fields("store.garbage", key))

    def write(self, name: str, record: Mapping[str, Any]) -> None:
        """Refuse: the flag is changed where it lives, not through this store.

        Raises:
            StoreError: always.
        """
        del record
        raise StoreError(self._refusal(name))

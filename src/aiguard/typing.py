"""Protocols for aiguard's extension points.

Plug in your own clock, flag store or canary judge without subclassing: any
object with the right shape works.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["Clock", "FlagStore"]


class Clock(Protocol):
    """A monotonic clock: called with no argument, returns seconds as a float."""

    def __call__(self) -> float:
        """Return the current time in seconds."""
        ...


@runtime_checkable
class FlagStore(Protocol):
    """Where flag values live: memory, a file, the environment, Redis, OpenFeature.

    ``read_all`` returns every flag's stored record (a JSON-compatible mapping);
    it may raise :class:`aiguard.errors.StoreError` when the store is
    unreachable, and the flag set then keeps its last known values.
    """

    def read_all(self) -> Mapping[str, Mapping[str, Any]]:
        """Return every stored flag record, keyed by flag name."""
        ...

    def write(self, name: str, record: Mapping[str, Any]) -> None:
        """Store one flag record (raise StoreError if the store is read-only or down)."""
        ...

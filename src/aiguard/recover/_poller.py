"""One daemon thread calling a method every few seconds, restarted in forked children.

Kept in one small class so it can be swapped for a shared ``_core`` poller
later. The thread holds the owner weakly: an owner nobody references any more
is collected and its thread ends at the next round.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Poller"]


class Poller:
    """Call ``method()`` now and then every *interval* seconds on a daemon thread.

    Args:
        method: a bound method (held weakly).
        interval: seconds between calls.
        name: the thread's name.

    Example:
        >>> class Owner:
        ...     calls = 0
        ...     def poll(self) -> None:
        ...         self.calls += 1
        >>> owner = Owner()
        >>> poller = Poller(owner.poll, 0.01, "demo")
        >>> poller.close()
        >>> poller.closed
        True
    """

    def __init__(self, method: Callable[[], object], interval: float, name: str) -> None:
        self._method = weakref.WeakMethod(method)
        self.interval = interval
        self.name = name
        self.closed = False
        self._start()
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: Poller._after_fork(ref))

    @staticmethod
    def _after_fork(ref: weakref.ref[Poller]) -> None:  # pragma: no cover - runs in children
        poller = ref()
        if poller is not None and not poller.closed:
            poller._start()

    def _start(self) -> None:
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        wake = self._wake
        while not self.closed:
            method = self._method()
            if method is None:
                return
            method()
            del method
            wake.wait(self.interval)
            wake.clear()

    def wake(self) -> None:
        """Run the next round now."""
        self._wake.set()

    def close(self) -> None:
        """Stop the thread (it ends after its current round)."""
        self.closed = True
        self._wake.set()

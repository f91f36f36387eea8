"""The Redis pub/sub listener behind :meth:`RedisStore.subscribe <aiguard.RedisStore.subscribe>`.

One :class:`~aiguard._core._poller.Poller` tick is one connected session that
listens for ``{namespace}:flags:changed`` messages until the subscription is
closed or the connection fails; the tick then returns the back-off before the
next session. The Redis client comes from the store (``connect``), so this
module never imports redis itself.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from aiguard._core._logging import Health, fields
from aiguard._core._poller import Poller
from aiguard._core._validate import duration

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Subscription"]

_log = logging.getLogger(__name__)
_PING_AFTER = 5.0  # seconds of silence before the subscriber checks the server is alive
_FIRST_DELAY = 0.05  # seconds before the first reconnection attempt (doubled up to max_delay)


class Subscription:
    """A background poller turning ``{namespace}:flags:changed`` messages into callbacks.

    Made by :meth:`RedisStore.subscribe`. Each tick of its
    :class:`~aiguard._core._poller.Poller` is one connected session that
    listens until the subscription is closed or the connection fails; after a
    failure the next session starts after a capped exponential back-off. The
    poller restarts itself in a forked child process. A callback that raises
    is counted in :attr:`errors` and logged once; the subscription carries on.

    Example:
        >>> from aiguard import RedisStore
        >>> sub = RedisStore("redis://127.0.0.1:1/0").subscribe(lambda: None)
        >>> sub.close()
        >>> sub.closed
        True
    """

    def __init__(
        self,
        channel: str,
        callback: Callable[[], object],
        *,
        connect: Callable[[], Any],
        errors: tuple[type[BaseException], ...],
        max_delay: float = 2.0,
    ) -> None:
        self.channel = channel
        self._callback = callback
        self._connect = connect
        self._errors: tuple[type[BaseException], ...] = (*errors, OSError)
        self._max_delay = duration(max_delay, "max_delay")
        self._delay = _FIRST_DELAY
        self._health = Health(_log, "subscription", channel)
        self.connects = 0
        """How many times the subscription (re)connected."""
        self.errors = 0
        """Connection failures plus callbacks that raised."""
        self._poller = Poller(
            self._session, interval=self._max_delay, name=f"aiguard-subscribe-{channel}", first=0,
            start=False,
        )
        # started once assigned: the first session reads self._poller at once
        self._poller.start()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._poller.stopped

    def close(self) -> None:
        """Stop listening (the thread exits within about half a second)."""
        self._poller.stop()

    def _notify(self) -> None:
        try:
            self._callback()
        except Exception as exc:
            self.errors += 1
            if self.errors == 1:
                _log.warning("aiguard: flag change callback %r raised: %r (logged once)",
                             self._callback, exc,
                             extra=fields("subscription.callback_raised", self.channel, exc))

    def _session(self) -> float | None:
        """One connection: listen until closed (None) or failed (the back-off before the next)."""
        client = self._connect()
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(self.channel)
            self._health.up("aiguard: subscription to %r restored", self.channel)
            self.connects += 1
            self._delay = _FIRST_DELAY
            self._notify()  # changes made while we were away announced nothing to us
            self._listen(pubsub)
        except self._errors as exc:
            self.errors += 1
            self._health.down("aiguard: subscription lost on %r: %s; reconnecting (logged "
                              "once until it is restored)", self.channel, exc, error=exc)
            delay, self._delay = self._delay, min(self._delay * 2, self._max_delay)
            return delay
        finally:
            pubsub.close()
            client.close()
        return None

    def _listen(self, pubsub: Any) -> None:
        quiet_since = time.monotonic()
        while not self._poller.stopped:
            message = pubsub.get_message(timeout=0.5)
            if message is not None and message["type"] == "message":
                self._notify()
            if message is not None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > _PING_AFTER:
                pubsub.ping()  # notices a dead server that closed nothing
                quiet_since = time.monotonic()

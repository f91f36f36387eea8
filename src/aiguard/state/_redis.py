"""Fleet-wide flag state in Redis (extra ``redis``).

Layout under a namespace (default ``aiguard``)::

    {ns}:flags              hash   one field per flag, its JSON record
    {ns}:history:{flag}     list   newest first, bounded to ``history_limit`` records
    {ns}:flags:changed      pubsub channel, a message (the flag name) per write
    {ns}:breakers:{name}    hash   one field per replica, its breaker report (shared breakers)
    {ns}:incidents          list   incident change records, JSON (a fleet's IncidentLog)
    {ns}:incidents:open:{key}  string  the incident id holding a deduplication key

Every call goes through the background refresher, never the protected call:
sockets time out after ``socket_timeout`` seconds and redis-py's own retries are
switched off, so an outage costs the refresher one short timeout per round and
turns into :class:`~aiguard.errors.StoreError`.
"""

from __future__ import annotations

import json
import logging
import weakref
from typing import TYPE_CHECKING, Any

from aiguard._core._logging import fields
from aiguard._core._validate import count, duration
from aiguard.errors import ConfigurationError, InvalidInputError, MissingExtraError, StoreError
from aiguard.state._records import HISTORY_LIMIT, parse_record
from aiguard.state._subscription import Subscription

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import timedelta

__all__ = ["RedisStore"]

_log = logging.getLogger(__name__)
_SCHEMES = ("redis://", "rediss://", "unix://")
# KEYS: the flags hash, then one history list per flag; ARGV: the history limit, the
# channel, then a name and its JSON record per flag. HSETNX makes "register unless
# present" atomic: a record already in the hash (an operator's, another replica's) is
# never replaced, and only a record that was written goes into the history.
_WRITE_MISSING = """
local written = {}
for i = 2, #KEYS do
  local name, payload = ARGV[2 * i - 1], ARGV[2 * i]
  if redis.call('HSETNX', KEYS[1], name, payload) == 1 then
    redis.call('LPUSH', KEYS[i], payload)
    redis.call('LTRIM', KEYS[i], 0, tonumber(ARGV[1]) - 1)
    redis.call('PUBLISH', ARGV[2], name)
    table.insert(written, name)
  end
end
return written
"""
_PING_AFTER = 5.0
# set KEYS[1] to ARGV[1] unless it holds another id than ARGV[2]; return the holder
_CLAIM = """local held = redis.call('GET', KEYS[1])
if (not held) or held == ARGV[2] then redis.call('SET', KEYS[1], ARGV[1]) return ARGV[1] end
return held"""  # seconds of silence before the subscriber checks the server is alive


def _import_redis() -> Any:
    try:
        import redis  # noqa: PLC0415 - optional extra, imported on first use
    except ImportError as exc:  # pragma: no cover - the dev environment has redis
        raise MissingExtraError("RedisStore", "redis", "redis") from exc
    return redis


def _decode(raw: bytes) -> dict[str, Any] | None:
    """Return the JSON object in *raw*, or None when it is not a JSON object."""
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _encode(argument: str, record: Mapping[str, Any]) -> str:
    try:
        return json.dumps(dict(record), sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(argument, "a JSON-serialisable mapping", f"{exc}") from exc


class RedisStore:
    """Flag records shared by every replica through one Redis server.

    Implements :class:`aiguard.typing.FlagStore`. Each write also appends to a
    bounded history and publishes the flag name on ``{namespace}:flags:changed``,
    so :meth:`subscribe` can refresh a flag set at once instead of at its next
    polling round. A field holding garbage (not JSON, or not a valid flag
    record, or under an invalid flag name) keeps that flag's last good record,
    is counted in :attr:`garbage` and logged once.

    Args:
        url: ``redis://[:password@]host:port/db``, ``rediss://...`` or ``unix://path``.
        namespace: prefix of every key, so several services can share one server.
        socket_timeout: seconds (or a timedelta) before a read, write or connect gives up.
        history_limit: how many past records are kept per flag.

    Raises:
        ConfigurationError: an invalid argument.
        MissingExtraError: the ``redis`` package is not installed.

    Example:
        >>> store = RedisStore("redis://127.0.0.1:1/0", namespace="shop")
        >>> store
        RedisStore('redis://127.0.0.1:1/0', namespace='shop')
        >>> try:  # nothing listens on port 1: a quick, typed failure
        ...     store.read_all()
        ... except StoreError:
        ...     print("unreachable")
        unreachable
        >>> store.errors
        1
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        namespace: str = "aiguard",
        socket_timeout: float | timedelta = 0.25,
        history_limit: int = HISTORY_LIMIT,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(_SCHEMES):
            raise ConfigurationError("url", "a redis://, rediss:// or unix:// URL", url)
        if not isinstance(namespace, str) or not namespace or any(c.isspace() for c in namespace):
            raise ConfigurationError("namespace", "a non-empty string without spaces", namespace)
        timeout_seconds = duration(socket_timeout, "socket_timeout")
        limit = count(history_limit, "history_limit")
        redis = _import_redis()
        self._redis = redis
        self.url = url
        self.namespace = namespace
        self.socket_timeout = timeout_seconds
        self.history_limit = limit
        self._options: dict[str, Any] = {
            "socket_timeout": self.socket_timeout,
            "socket_connect_timeout": self.socket_timeout,
            "retry": redis.retry.Retry(redis.backoff.NoBackoff(), 0),
        }
        try:
            self._client = redis.Redis.from_url(url, **self._options)
        except ValueError as exc:  # a malformed port, database number, query option...
            raise ConfigurationError("url", f"a valid Redis URL ({exc})", url) from exc
        self._flags_key = f"{namespace}:flags"
        self._write_missing = self._client.register_script(_WRITE_MISSING)
        self.channel = f"{namespace}:flags:changed"
        self._last_good: dict[str, dict[str, Any]] = {}
        self._reported: set[str] = set()
        self._subscriptions: weakref.WeakSet[Subscription] = weakref.WeakSet()
        self.errors = 0
        """Failed reads and writes (the store was unreachable or timed out)."""
        self.garbage = 0
        """Flag fields found holding something other than a JSON object, counted per read."""

    def __repr__(self) -> str:
        """Show the URL (password hidden) and the namespace."""
        return f"RedisStore({self._safe_url()!r}, namespace={self.namespace!r})"

    def _new_client(self) -> Any:
        return self._redis.Redis.from_url(self.url, **self._options)

    def _safe_url(self) -> str:
        scheme, sep, rest = self.url.partition("://")
        credentials, at, host = rest.rpartition("@")
        return f"{scheme}{sep}***@{host}" if at and credentials else self.url

    def _fail(self, action: str, exc: Exception) -> StoreError:
        # counted here, logged by whoever handles the StoreError (the flag set logs once
        # per outage); debug here so an outage is not reported twice
        self.errors += 1
        _log.debug("aiguard: %r could not %s: %s", self, action, exc,
                   extra=fields("store.failed", self._safe_url(), exc))
        return StoreError(f"{self!r} could not {action}: {exc}")

    def _garbage(self, name: str, raw: bytes) -> None:
        self.garbage += 1
        key = f"garbage:{name}:{raw[:64]!r}"
        if key not in self._reported:
            self._reported.add(key)
            _log.warning(
                "aiguard: %r holds garbage for flag %r (%.60r); keeping its last good value",
                self, name, raw, extra=fields("store.garbage", name),
            )

    # -- FlagStore --------------------------------------------------------

    def read_all(self) -> dict[str, dict[str, Any]]:
        """Return every flag record; garbage fields give their last good record.

        Raises:
            StoreError: Redis is unreachable or did not answer in time, or the
                flags hash this store has read before is gone (a Redis restart
                without persistence): the flag set then keeps its last known
                values, stale, until a flag is written again.
        """
        try:
            raw: dict[bytes, bytes] = self._client.hgetall(self._flags_key)
        except self._redis.RedisError as exc:
            raise self._fail("read the flags", exc) from exc
        if not raw and self._last_good:
            # Redis deletes empty hashes, and no command here deletes a flag: the hash is
            # gone because Redis restarted without persistence (or someone deleted it).
            # Reading that as "no flags" would silently undo every kill switch.
            raise self._fail("find the flags", StoreError(
                f"{self._flags_key} vanished (Redis restarted without persistence?); "
                "keeping the last known values until a flag is written again"))
        records: dict[str, dict[str, Any]] = {}
        for field, value in raw.items():
            name = field.decode("utf-8", "replace")
            record = _decode(value)
            if record is not None:
                try:
                    parse_record(name, record)
                except InvalidInputError:
                    record = None
            if record is None:
                self._garbage(name, value)
                good = self._last_good.get(name)
                if good is not None:
                    records[name] = dict(good)
                continue
            self._last_good[name] = record
            records[name] = dict(record)
        return records

    def write(self, name: str, record: Mapping[str, Any]) -> None:
        """Store *record* for flag *name*, append it to the history and announce the change.

        Raises:
            InvalidInputError: *name* is not a valid flag name, or *record* is not a
                valid flag record that JSON can hold (nothing is written).
            StoreError: Redis is unreachable or did not answer in time.
        """
        parse_record(name, record)
        payload = _encode("record", record)
        history = f"{self.namespace}:history:{name}"
        try:
            pipe = self._client.pipeline(transaction=True)
            pipe.hset(self._flags_key, name, payload)
            pipe.lpush(history, payload)
            pipe.ltrim(history, 0, self.history_limit - 1)
            pipe.publish(self.channel, name)
            pipe.execute()
        except self._redis.RedisError as exc:
            raise self._fail("write the flags", exc) from exc

    def write_missing(self, records: Mapping[str, Mapping[str, Any]]) -> list[str]:
        """Store each record whose flag Redis does not hold yet; return the names written.

        One server-side script of ``HSETNX`` per flag: atomic against every
        other replica and operator, so a stored record is never replaced. Each
        record written also goes into the history and is announced.

        Raises:
            InvalidInputError: a name is not a valid flag name, or a record is
                not a valid flag record that JSON can hold (nothing is written).
            StoreError: Redis is unreachable or did not answer in time.
        """
        names = list(records)
        args: list[object] = [self.history_limit, self.channel]
        for name in names:
            parse_record(name, records[name])
            args += [name, _encode("record", records[name])]
        if not names:
            return []
        keys = [self._flags_key, *(f"{self.namespace}:history:{name}" for name in names)]
        try:
            written: list[bytes] = self._write_missing(keys=keys, args=args)
        except self._redis.RedisError as exc:
            raise self._fail("register the flags", exc) from exc
        return [name.decode("utf-8") for name in written]

    def history(self, name: str) -> list[dict[str, Any]]:
        """Return the stored records of flag *name*, oldest first (garbage entries skipped).

        Raises:
            StoreError: Redis is unreachable or did not answer in time.
        """
        try:
            raw: list[bytes] = self._client.lrange(f"{self.namespace}:history:{name}", 0, -1)
        except self._redis.RedisError as exc:
            raise self._fail("read the history", exc) from exc
        decoded = (_decode(item) for item in reversed(raw))
        return [record for record in decoded if record is not None]

    def subscribe(self, callback: Callable[[], object]) -> Subscription:
        """Call *callback* from a background thread whenever any flag is written.

        Also called after every (re)connection, since writes made during an
        outage announced nothing this process heard. Pass ``flags.refresh``.
        The thread reconnects after outages and restarts in forked children.

        Returns:
            The :class:`Subscription`; ``close()`` it to stop.
        """
        subscription = Subscription(
            self.channel, callback, connect=self._new_client, errors=(self._redis.RedisError,)
        )
        self._subscriptions.add(subscription)
        return subscription

    # -- shared breaker board (see aiguard.state._fleet) -----------------

    def post_breaker(self, breaker: str, replica: str, report: Mapping[str, Any]) -> None:
        """Store *replica*'s latest report for the shared breaker *breaker*.

        Raises:
            StoreError: Redis is unreachable or did not answer in time.
        """
        payload = _encode("report", report)
        try:
            self._client.hset(f"{self.namespace}:breakers:{breaker}", replica, payload)
        except self._redis.RedisError as exc:
            raise self._fail("post a breaker report", exc) from exc

    def read_breakers(self, breaker: str) -> dict[str, dict[str, Any]]:
        """Return every replica's latest report for *breaker* (garbage skipped).

        Raises:
            StoreError: Redis is unreachable or did not answer in time.
        """
        try:
            raw: dict[bytes, bytes] = self._client.hgetall(f"{self.namespace}:breakers:{breaker}")
        except self._redis.RedisError as exc:
            raise self._fail("read the breaker reports", exc) from exc
        reports = {field.decode("utf-8", "replace"): _decode(value) for field, value in raw.items()}
        return {replica: report for replica, report in reports.items() if report is not None}

    def forget_breaker(self, breaker: str, replica: str) -> None:
        """Delete *replica*'s report for *breaker* (a replica that is gone for good).

        Raises:
            StoreError: Redis is unreachable or did not answer in time.
        """
        try:
            self._client.hdel(f"{self.namespace}:breakers:{breaker}", replica)
        except self._redis.RedisError as exc:
            raise self._fail("forget a breaker report", exc) from exc

    def append_incident_record(self, line: bytes) -> None:
        """Append one incident change record to ``{ns}:incidents`` (an IncidentLog's lines)."""
        try:
            self._client.rpush(f"{self.namespace}:incidents", line)
        except self._redis.RedisError as exc:
            raise self._fail("append an incident record", exc) from exc

    def read_incident_records(self, start: int) -> list[bytes]:
        """The incident change records from index *start* on."""
        try:
            return list(self._client.lrange(f"{self.namespace}:incidents", start, -1))
        except self._redis.RedisError as exc:
            raise self._fail("read incident records", exc) from exc

    def claim_incident(self, key: str, incident_id: str, replace: str = "") -> str:
        """Claim deduplication *key* for *incident_id*; return the id holding it (first wins).

        A holder equal to *replace* (a resolved incident's id) is replaced.
        """
        try:
            holder = self._client.eval(_CLAIM, 1, f"{self.namespace}:incidents:open:{key}",
                                       incident_id, replace)
        except self._redis.RedisError as exc:
            raise self._fail("claim an incident key", exc) from exc
        return holder.decode() if isinstance(holder, bytes) else str(holder)

    def close(self) -> None:
        """Stop every subscription and release the connections."""
        for subscription in list(self._subscriptions):
            subscription.close()
        self._client.close()

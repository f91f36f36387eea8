"""Notifiers: where pages and notifications go (logging, a callback, a webhook, Slack).

A notifier is any callable taking one message dict (the
:class:`aiguard.typing.Notifier` Protocol); a plain function is a callback
notifier. Messages hold the incident's aggregates (severity, status, signal
figures and evidence), never raw rows.

Webhooks sign their body so a receiver can check it came from you and is
fresh: header ``X-Aiguard-Signature: t=<unix seconds>,v1=<hex>`` where
``<hex> = HMAC-SHA256(secret, f"{t}.".encode() + body)`` (see
:func:`verify_signature`; reject a ``t`` older than a few minutes to stop
replays). The secret, and the URL's path and query (Slack puts its token in
the path), never appear in a repr, a log line, a recorded error or an
exception message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

from aiguard._core._events import log_once
from aiguard._core._logging import Health, fields
from aiguard.classify._runner import Worker
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from aiguard.typing import Clock

__all__ = ["LogNotifier", "Webhook", "message_for", "sign", "slack_payload", "verify_signature"]

_log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Aiguard-Signature"


def message_for(incident: Any, *, event: str, target: str, **extra: Any) -> dict[str, Any]:
    """The JSON message sent about *incident* (aggregates only).

    Example:
        >>> from aiguard.review._incident import Incident
        >>> inc = Incident.new(id="INC-1", title="recs", key="recs", type="data_drift",
        ...                    severity="high", at=0.0)
        >>> message_for(inc, event="page", target="on-call")["severity"]
        'high'
    """
    if incident is None:
        return {"event": event, "target": target, **extra}
    signals = [{k: s.get(k) for k in ("source", "kind", "value", "baseline", "threshold",
                                      "status", "evidence")} for s in incident.signals[-5:]]
    return {
        "event": event, "target": target, "incident": incident.id, "title": incident.title,
        "severity": incident.severity.value, "status": incident.status.value,
        "type": incident.type, "opened_at": incident.opened_at,
        "respond_within": incident.sla, "affected": dict(incident.affected),
        "tags": list(incident.tags), "signals": signals, **extra,
    }


def slack_payload(message: Mapping[str, Any]) -> dict[str, Any]:
    """A Slack-compatible incoming-webhook body (``text`` plus ``blocks``) for *message*.

    Example:
        >>> slack_payload({"event": "page", "target": "on-call", "incident": "INC-1",
        ...                "title": "recs", "severity": "high", "status": "detected"})["text"]
        ':rotating_light: [HIGH] INC-1 recs (detected): page on-call'
    """
    severity = str(message.get("severity", "?")).upper()
    text = (f":rotating_light: [{severity}] {message.get('incident', '-')} "
            f"{message.get('title', '')} ({message.get('status', '-')}): "
            f"{message.get('event')} {message.get('target')}")
    fields = [{"type": "mrkdwn", "text": f"*{k}*: {message[k]}"}
              for k in ("type", "respond_within", "affected", "tags") if message.get(k)]
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    if fields:
        blocks.append({"type": "section", "fields": fields[:10]})
    return {"text": text, "blocks": blocks}


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The signature header value for *body* sent at *timestamp*.

    Example:
        >>> sign(b"s3cret", b"{}", 1700000000)[:13]
        't=1700000000,'
    """
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: bytes, body: bytes, header: str, *, tolerance: float = 300.0,
                     now: float | None = None) -> bool:
    """Whether *header* signs *body* with *secret* and is at most *tolerance* seconds old.

    Example:
        >>> header = sign(b"s3cret", b"{}", 1700000000)
        >>> verify_signature(b"s3cret", b"{}", header, now=1700000010)
        True
        >>> verify_signature(b"s3cret", b"{}", header, now=1700009999)
        False
    """
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), header)


class LogNotifier:
    """Log each message on the ``aiguard.incidents`` logger (one line, JSON).

    The record's ``aiguard_event`` is ``"incident.<event>"`` (``incident.page``...)
    and its ``aiguard_name`` the incident id, like every aiguard log record's fields.

    Example:
        >>> LogNotifier()({"event": "page", "target": "on-call"})
    """

    name = "log"

    def __init__(self, logger: str = "aiguard.incidents", level: int = logging.WARNING) -> None:
        self._log = logging.getLogger(logger)
        self._level = level

    def __call__(self, message: Mapping[str, Any]) -> None:
        """Log *message*."""
        extra = fields(f"incident.{message.get('event', 'message')}", message.get("incident"))
        self._log.log(self._level, "aiguard incident %s", json.dumps(dict(message), default=str),
                      extra=extra)


class Webhook:
    """POST each message as JSON to *url*, signed, from a background thread, with retries.

    Calling the webhook only queues the message (it never blocks or raises);
    a worker thread posts it with *timeout* per attempt and retries failures
    (connection errors, timeouts, HTTP 5xx and 429) through :func:`aiguard.retry`.
    Every delivery is reported to ``on_result`` and counted in ``sent`` /
    ``failed``; ``last_error`` says why the last delivery failed, without the
    URL's path or the secret.

    Args:
        url: ``http://`` or ``https://`` URL.
        secret: the shared HMAC-SHA256 key (bytes or str); None: unsigned.
        format: ``"json"`` (the message as is) or ``"slack"`` (:func:`slack_payload`).
        timeout: seconds per attempt.
        attempts: tries per message (>= 1).
        backoff: seconds before the first retry (doubling).
        on_result: called with ``(message, ok, detail)`` after each delivery.
        clock: wall clock for the signature timestamp.
        name: how it is called in timelines.

    Example:
        >>> hook = Webhook("https://hooks.example.com/T000/B000/XXXX", secret="s3cret")
        >>> hook
        Webhook('https://hooks.example.com/...', format='json', signed)
        >>> hook.close()
    """

    def __init__(self, url: str, *, secret: bytes | str | None = None, format: str = "json",  # noqa: A002
                 timeout: float = 2.0, attempts: int = 3, backoff: float = 0.5,
                 on_result: Callable[[Mapping[str, Any], bool, str], object] | None = None,
                 clock: Clock = time.time, name: str | None = None) -> None:
        parsed = urllib.parse.urlsplit(url) if isinstance(url, str) else None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigurationError("url", "an http:// or https:// URL", "<hidden>")
        if format not in ("json", "slack"):
            raise ConfigurationError("format", "'json' or 'slack'", format)
        if secret is not None and not isinstance(secret, (bytes, str)):
            raise ConfigurationError("secret", "bytes, a str or None", "<hidden>")
        from aiguard import retry  # noqa: PLC0415 - the public name (contain/ is private)

        self._url = url
        self._safe = f"{parsed.scheme}://{parsed.netloc.rpartition('@')[2]}/..."
        self._secret = secret.encode() if isinstance(secret, str) else secret
        self.format = format
        self._timeout = float(timeout)
        self._retry = retry(attempts, backoff=backoff, retry_on=(OSError,))
        self._on_result = on_result
        self._clock = clock
        self.name = name or f"webhook {self._safe}"
        self.sent = 0
        self.failed = 0
        self.last_error: str | None = None
        self._health = Health(_log, "webhook", self._safe)
        self._worker = Worker("webhook", clock=time.monotonic)

    def __repr__(self) -> str:
        """The scheme and host only, never the path (tokens) or the secret."""
        signed = ", signed" if self._secret else ""
        return f"Webhook({self._safe!r}, format={self.format!r}{signed})"

    def __call__(self, message: Mapping[str, Any]) -> None:
        """Queue *message* for delivery; returns at once."""
        frozen = dict(message)
        self._worker.submit(lambda: self._deliver(frozen))

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued message was delivered or given up."""
        return self._worker.flush(timeout)

    def close(self) -> None:
        """Deliver what is queued, then stop the thread."""
        self._worker.close()

    def _body(self, message: Mapping[str, Any]) -> bytes:
        payload = slack_payload(message) if self.format == "slack" else dict(message)
        return json.dumps(payload, sort_keys=True, default=str).encode()

    def _post(self, body: bytes) -> int:
        import urllib.error  # noqa: PLC0415 - http.client is heavy: only when posting
        import urllib.request  # noqa: PLC0415

        headers = {"Content-Type": "application/json", "User-Agent": "aiguard-webhook"}
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = sign(self._secret, body, int(self._clock()))
        request = urllib.request.Request(self._url, data=body, headers=headers, method="POST")  # noqa: S310 - http(s) checked
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as exc:
            if exc.code >= 500 or exc.code == 429:
                raise ConnectionError(f"HTTP {exc.code}") from None
            raise _Refused(f"HTTP {exc.code}") from None

    def _clean(self, exc: BaseException) -> str:
        text = f"{type(exc).__name__}: {exc}"
        for secret in (self._url, self._secret.decode(errors="replace") if self._secret else ""):
            if secret:
                text = text.replace(secret, "<hidden>")
        return text[:200]

    def _deliver(self, message: Mapping[str, Any]) -> None:
        body = self._body(message)
        try:
            status = self._retry.call(self._post, (body,), {})
        except Exception as exc:
            self.failed += 1
            self.last_error = self._clean(exc)
            self._health.down("aiguard: %r could not deliver a message: %s (logged once until "
                              "a delivery succeeds, counted in failed)", self, self.last_error,
                              error=self.last_error)
            self._report(message, ok=False, detail=self.last_error)
            return
        self.sent += 1
        self._health.up("aiguard: %r delivers again", self)
        self._report(message, ok=True, detail=f"HTTP {status}")

    def _report(self, message: Mapping[str, Any], *, ok: bool, detail: str) -> None:
        if self._on_result is not None:
            try:
                self._on_result(message, ok, detail)
            except Exception:
                log_once(f"webhook-report:{self._safe}", "aiguard: a webhook's on_result raised",
                         event="webhook.on_result_raised", name=self._safe)


class _Refused(Exception):  # noqa: N818 - a 4xx answer: not retried
    pass

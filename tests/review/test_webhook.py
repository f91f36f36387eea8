"""Webhooks on a real HTTP server: signed, slow, down, 500, Slack, secrets kept out."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import logging
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

import aiguard as ag
from aiguard.detect import Signal
from aiguard.review import LogNotifier, Webhook, sign, slack_payload, verify_signature
from aiguard.testing import FakeClock

if TYPE_CHECKING:
    from collections.abc import Iterator

SECRET = "whsec-Zq8v-3AM-do-not-leak"


class Receiver(http.server.ThreadingHTTPServer):
    """Records each POST; answers per a script of statuses (or sleeps)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.script: list[int] = []
        self.delay = 0.0
        self.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/T0/B0/{SECRET}"


class Handler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((dict(self.headers), body))
        if self.server.delay:
            time.sleep(self.server.delay)
        status = self.server.script.pop(0) if self.server.script else 200
        try:
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok")
        except (BrokenPipeError, ConnectionResetError):  # the sender timed out and hung up
            pass

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def expected_signature(secret: bytes, body: bytes, header: str) -> bool:
    """An independent check of the documented scheme: hex HMAC-SHA256 of 't.' + body."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    mac = hmac.new(secret, fields["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, fields["v1"])


MESSAGE = {"event": "escalation", "target": "on-call", "incident": "INC-1", "title": "recs",
           "severity": "high", "status": "detected", "type": "performance"}


def test_delivered_signed_and_verifiable(receiver: Receiver) -> None:
    """The JSON body arrives with a timestamped HMAC-SHA256 signature the receiver can check."""
    results: list[tuple[bool, str]] = []
    hook = Webhook(receiver.url, secret=SECRET, clock=lambda: 1_700_000_000.0,
                   on_result=lambda m, ok, detail: results.append((ok, detail)))
    hook(MESSAGE)
    assert hook.flush()
    headers, body = receiver.received[0]
    assert json.loads(body) == MESSAGE
    assert headers["Content-Type"] == "application/json"
    header = headers["X-Aiguard-Signature"]
    assert header.startswith("t=1700000000,v1=")
    assert expected_signature(SECRET.encode(), body, header)
    assert not expected_signature(b"wrong", body, header)
    assert verify_signature(SECRET.encode(), body, header, now=1_700_000_100)
    assert not verify_signature(SECRET.encode(), body + b" ", header, now=1_700_000_100)
    assert not verify_signature(SECRET.encode(), body, header, now=1_700_001_000)  # replayed
    assert not verify_signature(SECRET.encode(), body, "garbage")
    assert results == [(True, "HTTP 200")]
    assert (hook.sent, hook.failed) == (1, 0)
    hook.close()


def test_unsigned_when_no_secret(receiver: Receiver) -> None:
    """Without a secret there is no signature header."""
    hook = Webhook(receiver.url)
    hook(MESSAGE)
    assert hook.flush()
    assert "X-Aiguard-Signature" not in receiver.received[0][0]
    hook.close()


def test_500_is_retried_then_succeeds(receiver: Receiver) -> None:
    """Two 500s, then 200: three POSTs and one delivery."""
    receiver.script = [500, 503]
    hook = Webhook(receiver.url, secret=SECRET, backoff=0.01, attempts=3)
    hook(MESSAGE)
    assert hook.flush()
    assert len(receiver.received) == 3
    assert (hook.sent, hook.failed, hook.last_error) == (1, 0, None)
    hook.close()


def test_500_every_time_fails_after_the_attempts(receiver: Receiver) -> None:
    """Always 500: attempts POSTs, recorded as failed with the status."""
    receiver.script = [500] * 10
    hook = Webhook(receiver.url, backoff=0.01, attempts=3)
    hook(MESSAGE)
    assert hook.flush()
    assert len(receiver.received) == 3
    assert (hook.sent, hook.failed) == (0, 1)
    assert hook.last_error == "ConnectionError: HTTP 500"
    hook.close()


def test_a_4xx_is_not_retried(receiver: Receiver) -> None:
    """A 400 is the receiver refusing: one POST, failed."""
    receiver.script = [400]
    hook = Webhook(receiver.url, backoff=0.01)
    hook(MESSAGE)
    assert hook.flush()
    assert len(receiver.received) == 1
    assert hook.last_error == "_Refused: HTTP 400"
    hook.close()


def test_slow_receiver_times_out_without_blocking_the_caller(receiver: Receiver) -> None:
    """A receiver slower than the timeout: the call returns at once, delivery fails, counted."""
    receiver.delay = 0.5
    hook = Webhook(receiver.url, timeout=0.1, attempts=2, backoff=0.01)
    started = time.perf_counter()
    hook(MESSAGE)
    queued_in = time.perf_counter() - started
    assert hook.flush()
    assert queued_in < 0.05
    assert hook.failed == 1
    assert "timed out" in (hook.last_error or "")
    assert len(receiver.received) == 2
    hook.close()


def test_down_receiver_is_recorded_as_failed() -> None:
    """Nothing listens: connection refused, retried, recorded."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    hook = Webhook(f"http://127.0.0.1:{port}/x", attempts=2, backoff=0.01)
    hook(MESSAGE)
    assert hook.flush()
    assert hook.failed == 1
    assert "Connection refused" in (hook.last_error or "")
    hook.close()


def test_slack_format(receiver: Receiver) -> None:
    """format='slack' posts a Slack incoming-webhook body with text and blocks."""
    hook = Webhook(receiver.url, format="slack")
    hook(MESSAGE)
    assert hook.flush()
    body = json.loads(receiver.received[0][1])
    assert body == slack_payload(MESSAGE)
    assert body["text"] == ":rotating_light: [HIGH] INC-1 recs (detected): escalation on-call"
    assert body["blocks"][1]["fields"] == [{"type": "mrkdwn", "text": "*type*: performance"}]
    assert slack_payload({"event": "x", "target": "y"})["blocks"][0]["type"] == "section"
    hook.close()


def test_secrets_never_appear_in_repr_errors_logs_or_the_timeline(
        receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    """The secret and the URL's token path stay out of everything that is printed or recorded."""
    caplog.set_level(logging.DEBUG)
    receiver.script = [500] * 10
    clock = FakeClock(1_700_000_000.0)
    seen: list[str] = []
    hook = Webhook(receiver.url, secret=SECRET, attempts=2, backoff=0.01,
                   on_result=lambda m, ok, d: seen.append(d))
    esc = ag.Escalation(levels=[("on-call", 0, hook)], clock=clock)
    incidents = ag.Incidents(ag.Policy.default(escalation=esc), escalation=esc, clock=clock)
    incidents.handle(Signal(source="recs.errors", kind="error_rate", value=0.5, at=0))
    assert incidents.flush()
    assert hook.flush()
    with pytest.raises(ag.ConfigurationError) as bad_url:
        Webhook(f"ftp://x/{SECRET}")
    with pytest.raises(ag.ConfigurationError) as bad_secret:
        Webhook(receiver.url, secret=12345)  # type: ignore[arg-type]
    everything = "\n".join([
        repr(hook), hook.name, str(hook.last_error), *seen, caplog.text, str(bad_url.value),
        str(bad_secret.value), json.dumps(incidents.open_incidents()[0].to_dict()),
    ])
    assert hook.failed == 1
    assert SECRET not in everything
    assert "/hooks/" not in everything
    incidents.close()
    hook.close()


def test_webhook_validation() -> None:
    """Bad URL, format or secret raise ConfigurationError."""
    with pytest.raises(ag.ConfigurationError, match="url"):
        Webhook("not a url")
    with pytest.raises(ag.ConfigurationError, match="url"):
        Webhook(None)  # type: ignore[arg-type]
    with pytest.raises(ag.ConfigurationError, match="format"):
        Webhook("http://x", format="teams")


def test_a_raising_on_result_is_contained(receiver: Receiver) -> None:
    """on_result raising is logged, the webhook keeps working."""
    def broken(*_args: object) -> None:
        raise RuntimeError("x")

    hook = Webhook(receiver.url, on_result=broken)
    hook(MESSAGE)
    hook(MESSAGE)
    assert hook.flush()
    assert hook.sent == 2
    hook.close()


def test_log_notifier_logs_one_json_line(caplog: pytest.LogCaptureFixture) -> None:
    """LogNotifier writes the message as JSON on aiguard.incidents."""
    caplog.set_level(logging.WARNING, logger="aiguard.incidents")
    LogNotifier()(MESSAGE)
    record = caplog.records[-1]
    assert record.name == "aiguard.incidents"
    assert json.loads(record.getMessage().split(" ", 2)[2]) == MESSAGE


def test_sign_matches_an_independent_hmac() -> None:
    """sign() is hex HMAC-SHA256 over 't.' + body."""
    header = sign(b"k", b"body", 42)
    mac = hmac.new(b"k", b"42.body", hashlib.sha256).hexdigest()
    assert header == f"t=42,v1={mac}"

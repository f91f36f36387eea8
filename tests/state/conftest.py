"""A real ``redis-server`` for the state tests: no fake Redis.

The server binds 127.0.0.1 on a free port, keeps nothing on disk and lives for
the whole session. Tests that need an outage stop it and start it again on the
same port through :class:`RedisServer`. Without the binary the Redis tests are
skipped with a visible reason, except under ``CI=true`` where they fail: CI
installs ``redis-server`` with apt and those tests are mandatory.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

_BINARY = shutil.which("redis-server")
_START_TIMEOUT = 10.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` process on a fixed loopback port that tests can stop and restart."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the server (on a new free port the first time, on the same port after)."""
        for _ in range(5):
            port = self.port or _free_port()
            self._process = subprocess.Popen(
                [
                    self.binary, "--port", str(port), "--bind", "127.0.0.1",
                    "--save", "", "--appendonly", "no", "--dir", str(self.directory),
                    "--daemonize", "no", "--loglevel", "warning", "--protected-mode", "yes",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + _START_TIMEOUT
            while time.monotonic() < deadline and self._process.poll() is None:
                if _answers_ping(port):
                    self.port = port
                    return
                time.sleep(0.02)
            self.stop()  # the port was taken in between, or the server did not come up
            if self.port:
                time.sleep(0.2)  # same port requested: give the old socket time to go
        msg = f"redis-server did not start on 127.0.0.1 (last port tried {port})"
        raise RuntimeError(msg)

    def stop(self) -> None:
        """Stop the server and wait until it is gone."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:  # pragma: no cover - a wedged server
                self._process.kill()
                self._process.wait(timeout=5)
        self._process = None

    def restart(self) -> None:
        """Stop, then start again on the same port (the data is lost: nothing is saved)."""
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A session-wide real redis-server; skipped (failed under CI=true) without the binary."""
    if _BINARY is None:
        reason = "redis-server binary not found: install it (apt-get install redis-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI=true makes the Redis tests mandatory", pytrace=False)
        pytest.skip(reason)
    with tempfile.TemporaryDirectory(prefix="aiguard-redis-") as directory:
        from pathlib import Path

        server = RedisServer(_BINARY, Path(directory))
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The URL of a running, empty Redis database (restarted if a test left it stopped)."""
    if not redis_server.running:
        redis_server.start()
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    client.close()
    yield redis_server.url
    if not redis_server.running:
        redis_server.start()

"""examples/fastapi_service under real traffic: a uvicorn server, an httpx client, faults."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import pytest
from tests.project_files import ROOT

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

pytestmark = pytest.mark.slow

APP_DIR = ROOT / "examples" / "fastapi_service"
ENDPOINTS = ("/predict", "/apredict", "/apredict-threadpool")
ROWS = {"rows": [[0.1, -0.2, 0.3, 0.5], [1.0, 0.0, -1.0, 2.0]]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")]),
        AIGUARD_FLAGS_STORE=f"file:{tmp_path / 'flags.json'}",
        AIGUARD_INCIDENT_LOG=str(tmp_path / "incidents.jsonl"),
        AIGUARD_BREAKER_OPEN_FOR="0.5",
        AIGUARD_EXAMPLE_FAULTS="1",
    )
    return env


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """The example app served by uvicorn on 127.0.0.1, stopped at the end."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--app-dir", str(APP_DIR), "app:app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                pytest.fail(f"the example server did not start:\n{out}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck server
            proc.kill()
            proc.wait()


async def _burst(client: Any, n: int, start: int = 0) -> list[dict[str, Any]]:
    """Send n requests, 30 at a time, over the three endpoints; every one must answer 200."""
    gate = asyncio.Semaphore(30)

    async def one(i: int) -> dict[str, Any]:
        async with gate:
            response = await client.post(ENDPOINTS[(start + i) % 3], json=ROWS)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert len(body["proba"]) == 2
        return body

    return list(await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(n))), 120))


def _cli(tmp_path: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "aiguard.cli", *args], env=_env(tmp_path),
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


async def test_traffic_with_faults(server: str, tmp_path: Path) -> None:
    """210 requests under injected faults: none fails, fallbacks serve, breaker cycles, incident."""
    async with httpx.AsyncClient(base_url=server, timeout=10) as client:
        healthy = await _burst(client, 30)
        assert {b["served_by"] for b in healthy} == {"model"}

        assert (await client.post("/faults/on")).json() == {"active": True}
        faulty = await _burst(client, 90, start=1)
        assert {b["served_by"] for b in faulty} == {"base_rate"}  # the fallback's name
        reasons = {b["reason"] for b in faulty}
        assert {"error", "open"} <= reasons, reasons
        assert (await client.get("/health")).json()["breaker"] == "open"
        # the fallback is the base rate: the same row for every input
        assert faulty[-1]["proba"][0] == faulty[-1]["proba"][1]

        assert (await client.post("/faults/off")).json() == {"active": False}
        await asyncio.sleep(0.7)  # longer than AIGUARD_BREAKER_OPEN_FOR
        recovered = await _burst(client, 90, start=2)
        assert recovered[-1]["served_by"] == "model"
        assert (await client.get("/health")).json()["breaker"] == "closed"
        assert sum(b["served_by"] == "model" for b in recovered) >= 75

        metrics = await client.get("/metrics/")
        assert metrics.status_code == 200
        assert "python_info" in metrics.text or "process_" in metrics.text

    deadline = time.monotonic() + 30
    listed: list[dict[str, Any]] = []
    while not listed and time.monotonic() < deadline:
        listed = json.loads(_cli(tmp_path, "incidents", "list", "--json") or "[]")
        if not listed:
            await asyncio.sleep(0.3)
    assert listed, "the breaker opening did not open an incident"
    assert any("credit" in json.dumps(incident) for incident in listed)


async def test_flags_cli_turns_the_model_off(server: str, tmp_path: Path) -> None:
    """`aiguard flags off` against the service's FileStore makes the fallback serve; `on` undoes."""
    async with httpx.AsyncClient(base_url=server, timeout=10) as client:
        _cli(tmp_path, "flags", "off", "credit.model", "--reason", "test")
        deadline = time.monotonic() + 10
        body: dict[str, Any] = {}
        while body.get("reason") != "disabled" and time.monotonic() < deadline:
            body = (await client.post("/apredict", json=ROWS)).json()
            await asyncio.sleep(0.1)
        assert (body["served_by"], body["reason"]) == ("base_rate", "disabled")
        assert (await client.get("/health")).json()["model_on"] is False

        _cli(tmp_path, "flags", "on", "credit.model")
        deadline = time.monotonic() + 10
        while body.get("served_by") != "model" and time.monotonic() < deadline:
            body = (await client.post("/predict", json=ROWS)).json()
            await asyncio.sleep(0.1)
        assert body["served_by"] == "model"

"""Shared breaker state across 4 real processes and a real redis-server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.redis, pytest.mark.slow]

WORKER = Path(__file__).with_name("_worker.py")
REPLICAS = ("r0", "r1", "r2", "r3")


def _lines(folder: Path, replica: str) -> list[dict]:
    path = folder / f"{replica}.log"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _current(folder: Path) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for r in REPLICAS:
        lines = _lines(folder, r)
        out[r] = lines[-1]["served"] if lines else None
    return out


def _wait(folder: Path, want: dict[str, str], timeout: float) -> float:
    """Wait until every listed replica reports the wanted state; return the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        now = _current(folder)
        if all(now[r] == s for r, s in want.items()):
            return time.monotonic() - started
        time.sleep(0.02)
    pytest.fail(f"after {timeout} s the replicas report {_current(folder)}, wanted {want}")


@pytest.fixture
def fleet(redis_url: str, tmp_path: Path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), "breaker", redis_url, "fleet", r, str(tmp_path)],
            env=env,
        )
        for r in REPLICAS
    ]
    try:
        yield tmp_path
    finally:
        (tmp_path / "stop").touch()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - a hung worker
                p.kill()
                p.wait()


def test_two_of_four_replicas_tripping_opens_the_fleet_and_recovery_releases_it(
    fleet: Path,
) -> None:
    """One bad replica stays alone; a second one forces the healthy two open; healing releases."""
    broken = fleet / "broken"
    _wait(fleet, dict.fromkeys(REPLICAS, "closed"), timeout=60)  # interpreters start slowly
    broken.write_text("r0", encoding="utf-8")
    _wait(fleet, {"r0": "open"}, timeout=5)
    time.sleep(0.6)  # six polls of the board: one bad replica must not move the others
    assert [_current(fleet)[r] for r in ("r1", "r2", "r3")] == ["closed"] * 3

    broken.write_text("r0 r1", encoding="utf-8")
    took = _wait(fleet, {"r2": "forced_open", "r3": "forced_open"}, timeout=5)
    print(f"fleet forced open {took:.2f} s after the second replica broke")

    broken.write_text("", encoding="utf-8")
    took = _wait(fleet, dict.fromkeys(REPLICAS, "closed"), timeout=5)
    print(f"fleet released {took:.2f} s after the model healed")

    (fleet / "stop").touch()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(
        _current(fleet)[r] != "exit" for r in REPLICAS
    ):
        time.sleep(0.05)
    for r in REPLICAS:
        last = _lines(fleet, r)[-1]
        assert last["served"] == "exit"
        assert last["errors"] == 0

"""The fleet proof: 3 replica processes on one Redis store, the real CLI rolls back.

Each replica (``_replica.py``) keeps its own loaded models and reads the shared
champion choice every 0.5 s. The CLI promotes v2 then v3, then rolls back
with no ``--to``: every replica must serve v2 (the last known good) within the
refresh interval of the rollback's ``updated_at``, plus scheduling slack for a
loaded 2-core machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.redis, pytest.mark.slow]

REPLICA = Path(__file__).with_name("_replica.py")
REPLICAS = ("r0", "r1", "r2")
REFRESH = 0.5
SLACK = 1.0  # scheduling slack on a shared 2-core machine, over the refresh interval
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def _log(folder: Path, replica: str) -> list[dict[str, object]]:
    path = folder / f"{replica}.log"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _wait(folder: Path, version: str, timeout: float = 20.0) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        last = {r: (_log(folder, r) or [{}])[-1] for r in REPLICAS}
        if all(entry.get("version") == version for entry in last.values()):
            return {r: float(entry["at"]) for r, entry in last.items()}  # type: ignore[arg-type]
        time.sleep(0.02)
    pytest.fail(f"replicas never all served {version}: {[_log(folder, r) for r in REPLICAS]}")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aiguard.cli", "models", *args],
                          capture_output=True, text=True, env=ENV, check=False, timeout=60)


def test_cli_rollback_reaches_every_replica(redis_url: str, tmp_path: Path) -> None:
    """After `aiguard models rollback`, all 3 replicas serve the previous champion in time."""
    store = ("--store", redis_url)
    first = _cli("promote", "recs", "v2", *store, "--reason", "retrained", "--actor", "ci")
    assert first.returncode == 3  # no registry yet: promote needs one that exists
    from aiguard import ModelRegistry, RedisStore

    seed = ModelRegistry("recs", store=RedisStore(redis_url), refresh=None)
    seed.register("v1", lambda _x: "v1")
    seed.register("v2", lambda _x: "v2")
    seed.promote("v2", reason="first release", actor="ci")
    procs = [subprocess.Popen([sys.executable, str(REPLICA), redis_url,
                               str(tmp_path / f"{r}.log"), str(REFRESH)], env=ENV)
             for r in REPLICAS]
    try:
        _wait(tmp_path, "v2")
        promoted = _cli("promote", "recs", "v3", *store, "--reason", "retrained", "--actor", "ci")
        assert promoted.returncode == 0, promoted.stderr
        _wait(tmp_path, "v3")
        rolled = _cli("rollback", "recs", *store, "--reason", "INC-9 accuracy", "--json")
        assert rolled.returncode == 0, rolled.stderr
        after = json.loads(rolled.stdout)["after"]
        assert (after["version"], after["previous"]) == ("v2", "v3")
        switched = _wait(tmp_path, "v2")
        lags = {r: at - after["at"] for r, at in switched.items()}
        print("rollback to every replica serving v2, seconds:", lags)  # shown with -s
        assert all(lag < REFRESH + SLACK for lag in lags.values()), lags
        history = _cli("history", "recs", *store, "--json")
        assert [(c["action"], c["version"]) for c in json.loads(history.stdout)] == [
            ("promote", "v2"), ("promote", "v3"), ("rollback", "v2")]
    finally:
        for r in REPLICAS:
            (tmp_path / f"{r}.stop").touch()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - a wedged replica
                proc.kill()
                proc.wait()

"""Declared flags reach the store: the operator's CLI at 3 AM, and replicas racing to declare.

End to end, with the real ``aiguard flags`` command in a subprocess, on a
FileStore and on a real Redis server; then two processes declaring the same flag
with opposite defaults at the same instant: exactly one registration lands, the
stored value wins in both, and later declarations never overwrite it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import aiguard as ag
from aiguard.contain.flags._cli import open_store
from aiguard.state._records import default_actor

pytestmark = pytest.mark.slow

FLAG = "recs.personalized"
WORKER = Path(__file__).with_name("_declare_worker.py")
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the real ``python -m aiguard.cli flags ARGS``."""
    return subprocess.run(
        [sys.executable, "-m", "aiguard.cli", "flags", *args],
        env=ENV, capture_output=True, text=True, timeout=60, check=False,
    )


@pytest.fixture(params=["file", "redis"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store spec the CLI accepts: a fresh JSON file, or a fresh namespace-less Redis db."""
    if request.param == "file":
        return f"file:{tmp_path / 'flags.json'}"
    return request.getfixturevalue("redis_url")


def test_the_operator_switches_off_a_declared_flag_without_create(spec: str) -> None:
    """App declares; ``flags list`` shows it; ``flags off`` needs no --create; typos refused."""
    app = ag.Flags(open_store(spec), refresh=None, declare={FLAG: True, "search.rerank": False})
    listed = cli("list", "--store", spec)
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line.split()[1] for line in listed.stdout.splitlines()[1:]}
    assert rows == {FLAG: "on", "search.rerank": "off"}

    typo = cli("off", "recs.personalised", "--store", spec, "--reason", "drift")
    assert typo.returncode == 3
    assert "did you mean 'recs.personalized'" in typo.stderr

    off = cli("off", FLAG, "--store", spec, "--reason", "drift INC-42", "--actor", "ana")
    assert off.returncode == 0, off.stderr
    assert off.stdout.splitlines()[0] == f"{FLAG}: off (was on) by ana: drift INC-42"
    app.refresh()
    assert app.enabled(FLAG) is False

    history = json.loads(cli("history", FLAG, "--store", spec, "--json").stdout)
    assert [(h["on"], h["reason"]) for h in history] == [
        (True, "declared in code (default on)"), (False, "drift INC-42"),
    ]
    assert history[0]["actor"] == default_actor()  # who declared it: this test process
    ag.Flags(open_store(spec), refresh=None, declare={FLAG: True})  # a restart re-declares
    assert open_store(spec).read_all()[FLAG]["on"] is False
    assert len(open_store(spec).history(FLAG)) == 2


def _race(spec: str, folder: Path) -> list[dict]:
    """Two replicas, defaults on and off, declare at the same instant; their reports."""
    folder.mkdir()
    procs = [
        subprocess.Popen([sys.executable, str(WORKER), spec, default, str(folder), default],
                         env=ENV)
        for default in ("on", "off")
    ]
    try:
        deadline = time.monotonic() + 60
        while not all((folder / f"{d}.ready").exists() for d in ("on", "off")):
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.01)
        (folder / "go").touch()
        for proc in procs:
            assert proc.wait(timeout=60) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:  # pragma: no cover - a hung worker
                proc.kill()
                proc.wait()
    return [json.loads((folder / f"{d}.json").read_text(encoding="utf-8")) for d in ("on", "off")]


def test_two_replicas_declaring_at_once_register_once_and_the_stored_value_wins(
    spec: str, tmp_path: Path
) -> None:
    """Opposite defaults, same instant: one registration, both replicas end on the stored value."""
    rounds = 2
    for i in range(rounds):
        round_spec = spec
        if spec.startswith("file:"):
            round_spec = f"file:{tmp_path / f'round{i}.json'}"
        else:
            import redis

            client = redis.Redis.from_url(spec)
            client.flushdb()
            client.close()
        reports = _race(round_spec, tmp_path / f"race{i}")
        store = open_store(round_spec)
        stored = store.read_all()[FLAG]["on"]
        history = store.history(FLAG)
        assert len(history) == 1, history
        assert history[0]["reason"] == f"declared in code (default {'on' if stored else 'off'})"
        assert [r["after_refresh"] for r in reports] == [stored, stored]
        assert [r["source"] for r in reports] == ["store", "store"]
        assert [r["errors"] for r in reports] == [0, 0]


def test_a_later_replica_never_overwrites_what_an_operator_set(spec: str, tmp_path: Path) -> None:
    """After ``flags off``, replicas declaring the flag on keep reading it off; no new history."""
    ag.Flags(open_store(spec), refresh=None, declare={FLAG: True})
    assert cli("off", FLAG, "--store", spec, "--reason", "INC-7").returncode == 0
    reports = _race(spec, tmp_path / "after")
    assert [(r["first"], r["after_refresh"]) for r in reports] == [(False, False), (False, False)]
    assert [h["on"] for h in open_store(spec).history(FLAG)] == [True, False]

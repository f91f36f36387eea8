"""The durable incident log: append, reopen, torn lines, readers, batch mode, queries."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import aiguard as ag
from aiguard.errors import InvalidInputError, StoreError
from aiguard.review import Incident, IncidentLog

T0 = 1_700_000_000.0
ROOT = Path(__file__).resolve().parents[2]


def open_rec(incident_id: str = "INC-1", key: str = "recs", at: float = T0) -> dict[str, Any]:
    return Incident.open_record(id=incident_id, title=f"{key} trouble", key=key,
                                type="performance", severity=ag.Severity.HIGH, at=at,
                                actor="aiguard", affected={"guard": key}, tags=(),
                                respond_within=None)


def test_records_survive_a_reopen(tmp_path: Path) -> None:
    """Every appended change is there after closing and reopening the file."""
    path = tmp_path / "incidents.jsonl"
    with IncidentLog(path) as log:
        log.open(open_rec())
        log.change("INC-1", "ack", actor="ana", at=T0 + 60)
        log.change("INC-1", "role", actor="ana", at=T0 + 61, role="commander", name="ana")
        before = log.get("INC-1")
    with IncidentLog(path) as again:
        assert again.get("INC-1") == before
        assert again.records == 3
        assert again.skipped == 0
        assert again.torn == 0
        assert [r["op"] for r in again.history("INC-1")] == ["open", "ack", "role"]
    lines = path.read_bytes().splitlines()
    assert all(json.loads(line)["v"] == 1 for line in lines)


def test_a_torn_last_line_is_cut_and_appending_continues(tmp_path: Path) -> None:
    """A half-written line is cut off on open; the next append starts on a clean line."""
    path = tmp_path / "incidents.jsonl"
    with IncidentLog(path) as log:
        log.open(open_rec())
    good = path.read_bytes()
    with path.open("ab") as f:
        f.write(b'{"v":1,"id":"INC-1","op":"ack","at":1700000')
    with IncidentLog(path, readonly=True) as reader:  # a reader skips it, never cuts
        assert reader.records == 1
    assert len(path.read_bytes()) > len(good)
    with IncidentLog(path) as log:
        assert log.torn == 1
        assert path.read_bytes() == good
        log.change("INC-1", "ack", actor="ana", at=T0 + 5)
    with IncidentLog(path) as log:
        assert log.get("INC-1").acknowledged_at == T0 + 5
        assert log.skipped == 0


def test_a_torn_only_line_empties_the_file(tmp_path: Path) -> None:
    """A file holding nothing but a torn line is cut to empty."""
    path = tmp_path / "incidents.jsonl"
    path.write_bytes(b'{"v":1,"id"')
    with IncidentLog(path) as log:
        assert log.torn == 1
        assert log.records == 0
    assert path.read_bytes() == b""


def test_garbage_lines_in_the_middle_are_skipped_and_counted(tmp_path: Path) -> None:
    """A line that is not a valid record is skipped; the rest is read."""
    path = tmp_path / "incidents.jsonl"
    with IncidentLog(path) as log:
        log.open(open_rec())
    with path.open("ab") as f:
        f.write(b"not json\n")
        f.write(b'{"v":1,"id":"INC-9","op":"ack","at":1,"actor":"x"}\n')  # unknown incident
        f.write(b'{"v":1,"id":"INC-1","op":"eval","at":1,"actor":"x"}\n')  # unknown op
    with IncidentLog(path) as log:
        log.change("INC-1", "ack", actor="ana", at=T0 + 1)
    with IncidentLog(path) as log:
        assert (log.records, log.skipped) == (2, 3)


def test_a_reader_sees_a_live_writers_records(tmp_path: Path) -> None:
    """refresh() picks up what another log object appended."""
    path = tmp_path / "incidents.jsonl"
    writer = IncidentLog(path)
    reader = IncidentLog(path, readonly=True)
    writer.open(open_rec())
    assert "INC-1" not in reader
    reader.refresh()
    assert reader.get("INC-1").key == "recs"
    writer.change("INC-1", "ack", actor="ana", at=T0 + 2)
    reader.refresh()
    assert reader.get("INC-1").acknowledged_at == T0 + 2
    with pytest.raises(ag.ConfigurationError, match="readonly"):
        reader.change("INC-1", "ack", actor="x")
    writer.close()
    reader.close()


def test_invalid_changes_write_nothing(tmp_path: Path) -> None:
    """A change that does not apply raises and leaves the file as it was."""
    path = tmp_path / "incidents.jsonl"
    with IncidentLog(path) as log:
        log.open(open_rec())
        log.change("INC-1", "status", actor="ana", status="resolved")
        size = path.stat().st_size
        with pytest.raises(InvalidInputError, match="status"):
            log.change("INC-1", "status", actor="ana", status="contained")
        with pytest.raises(InvalidInputError, match="incident"):
            log.change("INC-404", "ack", actor="ana")
        with pytest.raises(InvalidInputError, match="JSON"):
            log.change("INC-1", "note", actor="ana", what="x", extra=object())
        with pytest.raises(InvalidInputError, match="id"):
            log._write(open_rec())
        with pytest.raises(InvalidInputError, match="open"):
            log.open({"v": 1, "id": "INC-1", "op": "ack", "at": 1.0, "actor": "a"})
        assert path.stat().st_size == size


def test_open_joins_the_open_incident_with_the_same_key() -> None:
    """Same key while open: the existing incident; after resolution: a new one."""
    log = IncidentLog()
    first = log.open(open_rec("INC-1"))
    assert log.open(open_rec("INC-2")) == first
    log.change("INC-1", "status", actor="ana", status="resolved")
    assert log.open(open_rec("INC-2")).id == "INC-2"
    assert log.find_open("recs") == log.get("INC-2")
    assert log.find_open("other") is None


def test_queries_open_and_time_range() -> None:
    """open_incidents, incidents and between (active in the range)."""
    log = IncidentLog()
    log.open(open_rec("INC-A", "a", at=100.0))
    log.open(open_rec("INC-B", "b", at=200.0))
    log.open(open_rec("INC-C", "c", at=300.0))
    log.change("INC-A", "status", actor="x", at=150.0, status="resolved")
    assert [i.id for i in log.incidents()] == ["INC-A", "INC-B", "INC-C"]
    assert [i.id for i in log.open_incidents()] == ["INC-B", "INC-C"]
    assert [i.id for i in log.between(160.0, 250.0)] == ["INC-B"]
    assert [i.id for i in log.between(0.0, 120.0)] == ["INC-A"]
    assert [i.id for i in log.between(140.0, 1000.0)] == ["INC-A", "INC-B", "INC-C"]
    with pytest.raises(InvalidInputError, match="INC-Z"):
        log.history("INC-Z")
    assert repr(log) == "IncidentLog(memory, incidents=3)"


def test_batch_mode_writes_at_once_and_fsyncs_later(tmp_path: Path) -> None:
    """Batch mode: a reader sees the line at once; close() fsyncs what is pending."""
    path = tmp_path / "incidents.jsonl"
    log = IncidentLog(path, durability="batch", batch_interval=0.01)
    log.open(open_rec())
    assert IncidentLog(path, readonly=True).records == 1
    time.sleep(0.05)
    log.change("INC-1", "ack", actor="ana")
    log.close()
    assert IncidentLog(path, readonly=True).records == 2


def test_batch_mode_fsyncs_once_per_burst_and_sleeps_while_idle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fsync thread wakes one interval after a write, fsyncs once, then waits for the next."""
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    log = IncidentLog(tmp_path / "incidents.jsonl", durability="batch",
                      batch_interval=np.float32(0.01))  # a numpy scalar is a number of seconds
    lines = log._lines
    time.sleep(0.08)  # idle: eight intervals
    assert (lines.sync_rounds, synced) == (0, [])
    log.open(open_rec())
    log.change("INC-1", "ack", actor="ana")  # a burst of two records
    deadline = time.monotonic() + 5
    while not synced and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.08)  # idle again
    assert lines.sync_rounds == 1
    assert len(synced) == 1
    log.close()
    assert len(synced) == 1  # close: nothing pending


def test_configuration_and_open_errors(tmp_path: Path) -> None:
    """Bad arguments raise ConfigurationError; an unopenable path raises StoreError."""
    with pytest.raises(ag.ConfigurationError, match="durability"):
        IncidentLog(tmp_path / "x", durability="sometimes")
    with pytest.raises(ag.ConfigurationError, match="batch_interval"):
        IncidentLog(tmp_path / "x", batch_interval=0)
    with pytest.raises(ag.ConfigurationError, match="store"):
        IncidentLog(tmp_path / "x", store=object())
    with pytest.raises(ag.ConfigurationError, match="clock"):
        IncidentLog(clock=3)  # type: ignore[arg-type]
    with pytest.raises(ag.ConfigurationError, match="store"):
        IncidentLog(store=object())
    with pytest.raises(StoreError, match="cannot open the incident log"):
        IncidentLog(tmp_path / "missing-dir" / "log.jsonl")


def test_a_write_failure_is_a_store_error(tmp_path: Path) -> None:
    """A descriptor that cannot write or lock gives StoreError, not OSError."""
    path = tmp_path / "log.jsonl"
    log = IncidentLog(path)
    readonly = os.open(path, os.O_RDONLY)
    os.dup2(readonly, log._lines._fd)  # writes now fail with EBADF
    with pytest.raises(StoreError, match="cannot append"):
        log.open(open_rec())
    os.close(readonly)
    os.close(log._lines._fd)
    with pytest.raises(StoreError, match="cannot lock"):
        log.open(open_rec())


@pytest.mark.slow
def test_two_processes_append_to_one_log(tmp_path: Path) -> None:
    """Two writer processes append concurrently; every record of both is read back."""
    path = tmp_path / "shared.jsonl"
    with IncidentLog(path) as log:
        log.open(open_rec())
    code = (
        "import sys\nfrom aiguard.review import IncidentLog\n"
        "log = IncidentLog(sys.argv[1])\n"
        "for i in range(200):\n"
        "    log.change('INC-1', 'note', actor=sys.argv[2], at=float(i), what=f'n{i}')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), name], env=env)
             for name in ("a", "b")]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    with IncidentLog(path) as log:
        notes = [e for e in log.get("INC-1").timeline if e.kind == "note"]
        assert log.skipped == 0
    assert sorted(e.actor for e in notes) == ["a"] * 200 + ["b"] * 200


@pytest.mark.slow
@pytest.mark.parametrize("durability", ["fsync", "batch"])
def test_kill_9_mid_stream_loses_no_acknowledged_record(tmp_path: Path, durability: str) -> None:
    """A writer killed with SIGKILL: every acknowledged record is there, appending continues."""
    path = tmp_path / "killed.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    writer = str(Path(__file__).parent / "_writer.py")
    for round_ in range(3):
        proc = subprocess.Popen([sys.executable, writer, str(path), durability, str(round_)],
                                stdout=subprocess.PIPE, env=env)
        assert proc.stdout is not None
        acked = [int(proc.stdout.readline()) for _ in range(40 + 25 * round_)]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        acked += [int(line) for line in proc.stdout.read().split()]  # printed before the kill
        proc.stdout.close()
        with IncidentLog(path) as log:
            seen = [int(e.what.split()[1]) for e in log.get("INC-K").timeline
                    if e.actor == f"round {round_}"]
            assert log.skipped == 0
            assert log.torn in (0, 1)
            assert seen[: len(acked)] == acked == list(range(1, len(acked) + 1))
            assert len(seen) - len(acked) <= 1  # at most the one being acknowledged
            log.change("INC-K", "note", actor="test", at=0.5, what=f"after round {round_}")
    with IncidentLog(path) as log:
        afters = [e.what for e in log.get("INC-K").timeline if e.actor == "test"]
    assert afters == ["after round 0", "after round 1", "after round 2"]


def test_a_second_open_incident_with_the_key_takes_over_when_the_first_resolves(
        tmp_path: Path) -> None:
    """Two open incidents share a key (replicas raced): resolving one finds the other."""
    path = tmp_path / "raced.jsonl"
    from aiguard.review._log import encode

    with IncidentLog(path) as log:
        log.open(open_rec("INC-1"))
    with path.open("ab") as f:  # another writer that did not see INC-1 yet
        f.write(encode(open_rec("INC-2", at=T0 + 1)))
    with IncidentLog(path) as log:
        assert log.find_open("recs").id == "INC-1"
        log.change("INC-1", "status", actor="ana", status="resolved")
        assert log.find_open("recs").id == "INC-2"

"""Property: appends, crashes mid-record and reopens leave exactly the acknowledged prefix."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiguard import Severity
from aiguard.review import Incident, IncidentLog
from aiguard.review._log import encode

OPEN = {**Incident.open_record(id="INC-P", title="prop", key="p", type="performance",
                               severity=Severity.LOW, at=0.0, actor="t", affected=None,
                               tags=(), respond_within=None), "rid": "open"}

ops = st.lists(st.one_of(
    st.tuples(st.just("append"), st.text(max_size=40)),
    st.tuples(st.just("crash"), st.floats(min_value=0.0, max_value=1.0)),
    st.tuples(st.just("reopen"), st.none()),
), max_size=30)


def note(n: int, text: str) -> dict[str, Any]:
    return {"v": 1, "id": "INC-P", "op": "note", "at": float(n), "actor": "t", "what": text,
            "rid": f"r{n}"}


def records_on_disk(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n")
    return [json.loads(line) for line in data.splitlines()]


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_log_equals_the_acknowledged_prefix(sequence: list[tuple[str, Any]]) -> None:
    """After every reopen the file holds exactly the acknowledged records, in order."""
    # A process crash (what this simulates) loses nothing the kernel holds, with or without
    # fsync; fsync only guards against power loss. It is stubbed so that the examples cost
    # file operations, not disk flushes (tests/review/test_log.py kills real writers).
    with tempfile.TemporaryDirectory() as directory, mock.patch("os.fsync"):
        path = Path(directory) / "log.jsonl"
        log = IncidentLog(path, durability="batch", batch_interval=60)
        log.append(OPEN)
        acked: list[dict[str, Any]] = [OPEN]
        for n, (op, arg) in enumerate(sequence, start=1):
            if op == "append":
                record = note(n, arg)
                log.append(record)
                acked.append(record)  # append returned: acknowledged
                continue
            if op == "crash":  # the process dies writing a record: a random prefix lands
                line = encode(note(n, "never acknowledged"))
                with path.open("ab") as f:
                    f.write(line[: int(arg * (len(line) - 1))])
            log.close()
            log = IncidentLog(path, durability="batch", batch_interval=60)
            assert records_on_disk(path) == acked
            assert log.skipped == 0
            notes = [e.what for e in log.get("INC-P").timeline if e.kind == "note"]
            assert notes == [r["what"] for r in acked[1:]]
        log.close()
        with IncidentLog(path, readonly=True) as reader:
            assert reader.records == len(acked)

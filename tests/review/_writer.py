"""A writer process for the kill -9 test: appends records, printing each acknowledged seq."""

from __future__ import annotations

import sys

from aiguard import Severity
from aiguard.review import Incident, IncidentLog


def main() -> None:
    path, durability, round_ = sys.argv[1], sys.argv[2], sys.argv[3]
    log = IncidentLog(path, durability=durability)
    log.open(Incident.open_record(id="INC-K", title="kill test", key="k", type="performance",
                                  severity=Severity.LOW, at=0.0, actor="w", affected=None,
                                  tags=(), respond_within=None))
    padding = "x" * 1900  # long lines: the kill often lands mid-stream
    seq = 0
    while True:
        seq += 1
        log.change("INC-K", "note", actor=f"round {round_}", at=float(seq),
                   what=f"seq {seq} {padding}")
        sys.stdout.write(f"{seq}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

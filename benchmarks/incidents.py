"""Incidents: signal -> incident -> containment latency, and durable log append rates.

    python benchmarks/incidents.py            # full run (about half a minute)
    python benchmarks/incidents.py --quick    # smoke run

1. **Signal to containment.** A breach ``Signal`` is handed to
   ``Incidents.handle`` on the caller's thread; the worker classifies it with
   the default policy, forces the guard's breaker open (``fallback(guard)``)
   and only then writes the incident's records. The latency is from just
   before ``handle`` to the breaker's transition listener firing, read with
   ``time.perf_counter`` on both threads. Each round resolves the incident and
   resets the breaker, so every signal opens a new incident and applies the
   action again. Measured with the log in memory, in a file with ``fsync`` per
   record, and in a file with batched fsync. Budget (issue 11): applied within
   1 ms of the signal, off the caller's thread. ``handle`` itself (what the
   caller pays) is reported too.

2. **Log append rate.** Records of the same shape (a note of ~150 bytes) per
   second, one thread: ``IncidentLog`` with fsync per record and batched,
   against a hand-written JSON Lines writer (``write`` + ``flush`` +
   ``os.fsync`` per line, no validation, no lock) and SQLite (stdlib) with a
   commit per row (``synchronous=FULL``, ``journal_mode=WAL``) and one commit
   per 100 rows. Ratios are against the hand-written fsync writer.
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from _bench import markdown_table, parser, versions

import aiguard as ag
from aiguard.detect import Signal

BUDGET_MS = 1.0
BUSY_FOR = 0.01  # seconds the caller keeps running Python code after handing a signal over


def latency_run(log: ag.IncidentLog, n: int, *, busy: bool) -> tuple[list[float], list[float]]:
    breaker = ag.CircuitBreaker(name="recs")
    guard = ag.Guard(name="recs", breaker=breaker)
    incidents = ag.Incidents(ag.Policy.default(guard=guard), log=log)
    applied: list[float] = []
    breaker.add_listener(lambda e: e.new.value == "forced_open" and applied.append(
        time.perf_counter()), outcomes=False)
    latencies, handle_cost = [], []
    signal = Signal(source="recs.errors", kind="error_rate", value=0.4, threshold=0.05, at=0.0)
    for _ in range(n):
        start = time.perf_counter()
        incidents.handle(signal)
        handle_cost.append(time.perf_counter() - start)
        while busy and time.perf_counter() - start < BUSY_FOR:  # the caller keeps the GIL
            pass
        incidents.flush()
        latencies.append(applied[-1] - start)
        (incident,) = incidents.open_incidents()
        incidents.resolve(incident.id, actor="bench")
        breaker.reset()
    incidents.close()
    return latencies, handle_cost


def quantiles_ms(values: list[float]) -> tuple[str, str, str]:
    cuts = statistics.quantiles(values, n=100)
    return f"{cuts[49] * 1e3:.3f}", f"{cuts[98] * 1e3:.3f}", f"{max(values) * 1e3:.3f}"


def note(i: int, incident: str = "INC-B") -> dict[str, object]:
    return {"v": 1, "id": incident, "op": "note", "at": 1.7e9 + i, "actor": "bench",
            "what": f"note {i}: breaker recs closed -> forced_open, 120 fallback calls"}


def opening(incident: str) -> dict[str, object]:
    return ag.Incident.open_record(id=incident, title="bench", key=incident,
                                   type="performance", severity=ag.Severity.LOW, at=1.7e9,
                                   actor="bench", affected=None, tags=(), respond_within=None)


def rate_aiguard(path: Path, n: int, durability: str, per_incident: int | None = None) -> float:
    """Records/s appending *n* notes, to one incident or *per_incident* notes to each."""
    log = ag.IncidentLog(path, durability=durability)
    for k in range(n // per_incident if per_incident else 1):
        log.open(opening(f"INC-{k}"))
    start = time.perf_counter()
    for i in range(n):
        log.append(note(i, f"INC-{i // per_incident}" if per_incident else "INC-0"))
    elapsed = time.perf_counter() - start
    log.close()
    return n / elapsed


def rate_plain(path: Path, n: int) -> float:
    with path.open("a", encoding="utf-8") as f:
        start = time.perf_counter()
        for i in range(n):
            f.write(json.dumps(note(i)) + "\n")
            f.flush()
            os.fsync(f.fileno())
        return n / (time.perf_counter() - start)


def rate_sqlite(path: Path, n: int, every: int) -> float:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE log (record TEXT)")
    start = time.perf_counter()
    for i in range(n):
        db.execute("INSERT INTO log VALUES (?)", (json.dumps(note(i)),))
        if (i + 1) % every == 0:
            db.commit()
    db.commit()
    elapsed = time.perf_counter() - start
    db.close()
    return n / elapsed


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    n_latency = 200 if args.quick else 2000
    n_fsync = 200 if args.quick else 2000
    n_batch = 2000 if args.quick else 20000
    print(f"# Incidents benchmark\n\n{versions(['hypothesis'])}; sqlite {sqlite3.sqlite_version}")
    print(f"\n## Signal -> containment action ({n_latency} signals each)\n")
    rows = []
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as d:
        for label, make, busy in (
            ("memory", ag.IncidentLog, False),
            ("memory", ag.IncidentLog, True),
            ("file, fsync per record", lambda: ag.IncidentLog(Path(d) / "a.jsonl"), True),
            ("file, batched fsync", lambda: ag.IncidentLog(Path(d) / "b.jsonl",
                                                           durability="batch"), True),
        ):
            lat, cost = latency_run(make(), n_latency, busy=busy)
            p50, p99, worst = quantiles_ms(lat)
            within = sum(x <= BUDGET_MS / 1e3 for x in lat) / len(lat)
            rows.append([label, "busy" if busy else "waits", p50, p99, worst, f"{within:.1%}",
                         f"{statistics.median(cost) * 1e6:.0f}"])
    print(markdown_table(["log", "caller", "p50 ms", "p99 ms", "max ms",
                          f"<= {BUDGET_MS:g} ms", "handle() us"], rows))
    print(f"\nload average at the start: {load:.2f} on {os.cpu_count()} cores. 'busy': the "
          f"caller runs Python code for {BUSY_FOR * 1e3:g} ms after handle(); 'waits': it "
          "blocks at once.")
    print(f"\n## Log append rate (records/s, one thread; {n_fsync} fsync'd, {n_batch} batched)\n")
    with tempfile.TemporaryDirectory() as d:
        base = Path(d)
        rates = {
            "hand-written JSONL, fsync per line": rate_plain(base / "plain.jsonl", n_fsync),
            "IncidentLog, fsync per record": rate_aiguard(base / "f.jsonl", n_fsync, "fsync"),
            "SQLite WAL, commit per row": rate_sqlite(base / "s1.db", n_fsync, 1),
            "IncidentLog, batched fsync, 200 per incident": rate_aiguard(
                base / "b2.jsonl", n_batch, "batch", per_incident=200),
            f"IncidentLog, batched fsync, all {n_batch} on one incident": rate_aiguard(
                base / "b.jsonl", n_batch, "batch"),
            "SQLite WAL, commit per 100 rows": rate_sqlite(base / "s100.db", n_batch, 100),
        }
    ref = rates["hand-written JSONL, fsync per line"]
    print(markdown_table(["writer", "records/s", "vs hand-written fsync"],
                         [[k, f"{v:,.0f}", f"{v / ref:.2f}x"] for k, v in rates.items()]))


if __name__ == "__main__":
    main()

"""A replica for the multi-process tests: serves requests in a loop, reports what it served.

Run as ``python _worker.py MODE URL NAMESPACE REPLICA DIR``; stops when ``DIR/stop``
exists. Every change of what it serves is appended to ``DIR/REPLICA.log`` as one
JSON line ``{"t": wall time, "served": ..., "stale": ..., "requests": n, "errors": n}``;
the last line is written at exit with the final counts.

* ``flags``: a Redis-backed Flags (refresh 0.2 s, pub/sub push) and a kill
  switch with a fallback on ``recs.personalized``; served is "model" or "fallback".
  ``flags-poll``: the same without the pub/sub push (polling every 0.2 s only).
* ``breaker``: a CircuitBreaker shared through the Redis board under
  FleetRule(tripped=2, of=4, within=5); the model fails while ``DIR/broken``
  lists this replica; served is the breaker state.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import aiguard as ag
from aiguard.errors import CircuitOpenError
from aiguard.state._fleet import FleetRule, share_breaker

FLAG = "recs.personalized"


def _log(path: Path, **fields: object) -> None:
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps({"t": time.time(), **fields}) + "\n")


class _PollOnly:
    """The Redis store without ``subscribe``: the flag set can only poll."""

    def __init__(self, store: ag.RedisStore) -> None:
        self.read_all, self.write, self.history = store.read_all, store.write, store.history


def _flags(url: str, namespace: str, log: Path, stop: Path, *, push: bool) -> None:
    store = ag.RedisStore(url, namespace=namespace)
    flags = ag.Flags(store=store if push else _PollOnly(store), refresh=0.2)

    @ag.kill_switch(FLAG, flags=flags, fallback=lambda x: "fallback")
    def predict(x: int) -> str:
        return "model"

    requests = errors = 0
    last: tuple[str, bool] | None = None
    while not stop.exists():
        try:
            served = predict(requests)
        except Exception as exc:  # a request error: what the test asserts never happens
            errors += 1
            served = f"error: {exc!r}"
        requests += 1
        now = (served, bool(flags.stale))
        if now != last:
            last = now
            _log(log, served=served, stale=now[1], requests=requests, errors=errors)
        time.sleep(0.002)
    _log(log, served="exit", stale=bool(flags.stale), requests=requests, errors=errors)


def _breaker(url: str, namespace: str, replica: str, folder: Path) -> None:
    log, stop, broken = folder / f"{replica}.log", folder / "stop", folder / "broken"
    breaker = ag.CircuitBreaker(name="recs", window=10, min_calls=5, open_for=0.3)
    fleet = share_breaker(
        breaker,
        board=ag.RedisStore(url, namespace=namespace),
        rule=FleetRule(tripped=2, of=4, within=5),
        replica=replica,
        interval=0.1,
    )

    def model(x: int) -> str:
        if replica in broken_now:
            raise RuntimeError("model broken")
        return "model"

    requests = errors = 0
    last = None
    broken_now: set[str] = set()
    checked = 0.0
    while not stop.exists():
        if time.monotonic() - checked > 0.02:
            checked = time.monotonic()
            try:
                broken_now = set(broken.read_text(encoding="utf-8").split())
            except FileNotFoundError:
                broken_now = set()
        try:
            breaker.call(model, requests)
        except (RuntimeError, CircuitOpenError):
            pass
        except Exception:  # anything else is a request error
            errors += 1
        requests += 1
        now = (breaker.state.value, fleet.engaged)
        if now != last:
            last = now
            _log(log, served=now[0], engaged=now[1], requests=requests, errors=errors)
        time.sleep(0.002)
    fleet.close()
    _log(log, served="exit", engaged=fleet.engaged, requests=requests, errors=errors)


def main() -> None:
    mode, url, namespace, replica, directory = sys.argv[1:6]
    folder = Path(directory)
    log, stop = folder / f"{replica}.log", folder / "stop"
    if mode in {"flags", "flags-poll"}:
        _flags(url, namespace, log, stop, push=mode == "flags")
    else:
        _breaker(url, namespace, replica, folder)


if __name__ == "__main__":
    main()

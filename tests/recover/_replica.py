"""One replica for the multi-process registry test: serve in a loop, log every change.

Usage: python _replica.py REDIS_URL LOG_PATH REFRESH

Registers versions v1, v2 and v3 of a model that answers its own version, reads
the champion choice from Redis every REFRESH seconds, calls the registry in a
loop and appends ``{"version": ..., "at": wall-clock}`` to LOG_PATH whenever
the answer changes. Exits when LOG_PATH.stop exists.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from aiguard import ModelRegistry, RedisStore


def main() -> None:
    url, log, refresh = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
    registry = ModelRegistry("recs", store=RedisStore(url), refresh=refresh)
    for version in ("v1", "v2", "v3"):
        registry.register(version, lambda _x, v=version: v)
    stop = log.with_suffix(".stop")
    served = None
    while not stop.exists():
        answer = registry(0)
        if answer != served:
            served = answer
            with log.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"version": answer, "at": time.time()}) + "\n")
        time.sleep(0.005)
    registry.close()


if __name__ == "__main__":
    main()

"""A replica that declares one flag: for the registration race tests.

Run as ``python _declare_worker.py STORE DEFAULT DIR NAME`` (STORE: ``file:PATH``
or a Redis URL; DEFAULT: ``on`` or ``off``). It writes ``DIR/NAME.ready``, waits
for ``DIR/go``, builds ``Flags(store, declare={FLAG: default})``, refreshes once
and writes ``DIR/NAME.json``: what it answered right after construction and
after the refresh.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import aiguard as ag
from aiguard.contain.flags._cli import open_store

FLAG = "recs.personalized"


def main() -> None:
    spec, default, directory, name = sys.argv[1:5]
    folder = Path(directory)
    store = open_store(spec)
    store.read_all()  # connect (and import) before the start line, so both race the write
    (folder / f"{name}.ready").touch()
    go = folder / "go"
    deadline = time.monotonic() + 30
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.0005)
    flags = ag.Flags(store, refresh=None, declare={FLAG: default == "on"})
    first = flags.enabled(FLAG)
    flags.refresh()
    result = {"first": first, "after_refresh": flags.enabled(FLAG),
              "source": flags.get(FLAG).source, "errors": flags.status.registration_errors}
    (folder / f"{name}.json").write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()

"""``aiguard models``: list, read and change the champion of model registries from a shell.

::

    aiguard models list                 --store redis://10.0.0.5:6379/0
    aiguard models history recs         --store ...
    aiguard models rollback recs        --store ... --reason "INC-42: accuracy down"
    aiguard models rollback recs --to v1 --store ... --reason "..."
    aiguard models promote recs v3      --store ... --reason "retrained"

``--store`` is ``memory``, ``file:PATH`` or a ``redis://``/``rediss://``/
``unix://`` URL (default: ``$AIGUARD_MODELS_STORE``, then
``$AIGUARD_FLAGS_STORE``). The command changes the shared champion *choice*;
every replica's registry adopts it within its refresh interval (a replica that
has not loaded the version keeps serving its champion and logs why).
``--actor`` defaults to ``$USER@hostname``; ``--json`` prints JSON; a change
needs ``--reason``.

Exit codes: 0 done, 2 usage or invalid input (no known good version to roll
back to), 3 unknown registry, 4 the store cannot be read or written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from aiguard.contain.flags._cli import open_store
from aiguard.errors import AiguardError, InvalidInputError, StoreError
from aiguard.recover import _champion
from aiguard.state._records import default_actor

if TYPE_CHECKING:
    from aiguard.recover._champion import ChampionChange
    from aiguard.typing import FlagStore

__all__ = ["main"]

USAGE_ERROR, UNKNOWN, STORE_ERROR = 2, 3, 4


class _Exit(Exception):  # noqa: N818 - control flow, not an error type users see
    def __init__(self, code: int, message: str) -> None:
        self.code = code
        super().__init__(message)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _Exit(USAGE_ERROR, f"{self.format_usage()}{self.prog}: error: {message}")


def _parser() -> _Parser:
    common = _Parser(add_help=False)
    common.add_argument("--store", default=None,
                        help="memory, file:PATH or redis://HOST:PORT/DB "
                             "(default: $AIGUARD_MODELS_STORE or $AIGUARD_FLAGS_STORE)")
    common.add_argument("--namespace", default="aiguard", help="Redis key prefix")
    common.add_argument("--json", action="store_true", help="print JSON instead of a table")
    change = _Parser(add_help=False)
    change.add_argument("--reason", required=True, help="why (goes into the history)")
    change.add_argument("--actor", default=None, help="who (default: $USER@hostname)")
    parser = _Parser(prog="aiguard models", description="Champions of aiguard model registries.",
                     epilog="exit codes: 0 done, 2 usage, 3 unknown registry, 4 store error")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", parents=[common], help="every registry's champion")
    sub.add_parser("history", parents=[common], help="which version served when, who, why"
                   ).add_argument("name")
    rollback = sub.add_parser("rollback", parents=[common, change],
                              help="serve the last known good version again")
    rollback.add_argument("name")
    rollback.add_argument("--to", default=None, help="this version instead of the last known good")
    promote = sub.add_parser("promote", parents=[common, change], help="make VERSION the champion")
    promote.add_argument("name")
    promote.add_argument("version")
    return parser


def _when(at: float | None) -> str:
    if at is None:
        return "-"
    return dt.datetime.fromtimestamp(at, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in [header, *rows])


def _json(name: str, change: ChampionChange) -> dict[str, Any]:
    return {"name": name, "version": change.version, "previous": change.previous,
            "action": change.action, "at": change.at, "actor": change.actor,
            "reason": change.reason, "known_good": list(change.good)}


def _row(name: str, change: ChampionChange) -> list[str]:
    return [name, change.version, change.action, _when(change.at), change.actor or "-",
            change.reason or "-"]


_HEADER = ["MODEL", "CHAMPION", "BY", "SINCE (UTC)", "ACTOR", "REASON"]


def _out(text: str) -> None:
    print(text)  # noqa: T201 - a CLI prints


def _open(args: argparse.Namespace) -> FlagStore:
    spec = (args.store or os.environ.get("AIGUARD_MODELS_STORE")
            or os.environ.get("AIGUARD_FLAGS_STORE"))
    if not spec:
        raise _Exit(USAGE_ERROR, "no store: pass --store memory|file:PATH|redis://HOST:PORT/DB "
                                 "(or set AIGUARD_MODELS_STORE)")
    try:
        return open_store(spec, namespace=args.namespace)
    except AiguardError as exc:
        code = USAGE_ERROR if isinstance(exc, InvalidInputError) else STORE_ERROR
        raise _Exit(code, str(exc)) from exc


def _registries(store: FlagStore) -> dict[str, ChampionChange]:
    try:
        records = store.read_all()
    except (StoreError, OSError) as exc:
        raise _Exit(STORE_ERROR, f"cannot read the store: {exc}") from exc
    found = {name[len(_champion.PREFIX):]: _champion.parse(record)
             for name, record in records.items() if name.startswith(_champion.PREFIX)}
    return {name: change for name, change in sorted(found.items()) if change is not None}


def _run(args: argparse.Namespace) -> int:
    store = _open(args)
    registries = _registries(store)
    if args.command == "list":
        if args.json:
            _out(json.dumps([_json(n, c) for n, c in registries.items()], indent=2))
        else:
            rows = [_row(n, c) for n, c in registries.items()]
            _out(_table(rows, _HEADER) if rows else f"no model registries in {store!r}")
        return 0
    name = args.name
    if name not in registries:
        known = ", ".join(registries) or "none"
        raise _Exit(UNKNOWN, f"unknown model registry {name!r} in {store!r} (known: {known}); "
                             "a registry appears after its first promote")
    if args.command == "history":
        return _history(store, name, as_json=args.json)
    return _change(store, name, registries[name], args)


def _history(store: FlagStore, name: str, *, as_json: bool) -> int:
    try:
        changes = _champion.read_history(store, name)
    except (StoreError, OSError) as exc:
        raise _Exit(STORE_ERROR, f"cannot read the history: {exc}") from exc
    if as_json:
        _out(json.dumps([_json(name, c) for c in changes], indent=2))
    else:
        rows = [[c.version, c.previous or "-", c.action, _when(c.at), c.actor or "-",
                 c.reason or "-"] for c in changes]
        header = ["VERSION", "PREVIOUS", "ACTION", "AT (UTC)", "ACTOR", "REASON"]
        _out(_table(rows, header) if rows else f"{name}: no history in {store!r}")
    return 0


def _change(store: FlagStore, name: str, current: ChampionChange, args: argparse.Namespace) -> int:
    user = os.environ.get("USER")
    actor = args.actor or (f"{user}@{socket.gethostname()}" if user else default_actor())
    import time  # noqa: PLC0415 - only changes need the wall clock

    try:
        if args.command == "promote":
            _champion.validate_version(args.version)
        change = _champion.change_record(
            current, None, action=args.command,
            to=args.version if args.command == "promote" else args.to,
            at=time.time(), actor=actor, reason=args.reason)
        store.write(_champion.key(name), change.to_record())
    except InvalidInputError as exc:
        raise _Exit(USAGE_ERROR, str(exc)) from exc
    except (StoreError, OSError) as exc:
        raise _Exit(STORE_ERROR, f"cannot write the champion: {exc}") from exc
    if args.json:
        _out(json.dumps({"before": _json(name, current), "after": _json(name, change)}, indent=2))
        return 0
    _out(f"{name}: {change.action} to {change.version} (was {current.version}) by {actor}: "
         f"{args.reason}")
    _out("every replica using this store serves it within its refresh interval")
    return 0


def main(argv: list[str]) -> int:
    """Run ``aiguard models`` with *argv*; return the exit code (see the module docstring).

    Example:
        >>> main(["list", "--store", "memory"])  # doctest: +ELLIPSIS
        no model registries in MemoryStore(<0 flags>)
        0
        >>> main(["rollback", "recs", "--store", "memory", "--reason", "drill"])
        3
    """
    try:
        return _run(_parser().parse_args(argv))
    except _Exit as exc:
        print(f"aiguard models: {exc}", file=sys.stderr)  # noqa: T201
        return exc.code
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0

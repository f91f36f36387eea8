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

import json
import os
from typing import TYPE_CHECKING, Any

from aiguard._core import _cli as cli
from aiguard.contain.flags._cli import store_from
from aiguard.errors import InvalidInputError, StoreError
from aiguard.recover import _champion

if TYPE_CHECKING:
    import argparse

    from aiguard.recover._champion import ChampionChange
    from aiguard.typing import FlagStore

__all__ = ["main"]


def _parser() -> cli.Parser:
    common = cli.Parser(add_help=False)
    common.add_argument("--store", default=None,
                        help="memory, file:PATH or redis://HOST:PORT/DB "
                             "(default: $AIGUARD_MODELS_STORE or $AIGUARD_FLAGS_STORE)")
    common.add_argument("--namespace", default="aiguard", help="Redis key prefix")
    common.add_argument("--json", action="store_true", help="print JSON instead of a table")
    change = cli.Parser(add_help=False)
    change.add_argument("--reason", required=True, help="why (goes into the history)")
    change.add_argument("--actor", default=None, help="who (default: $USER@hostname)")
    parser = cli.Parser(prog="aiguard models",
                        description="Champions of aiguard model registries.",
                        epilog="exit codes: 0 done, 2 usage, 3 unknown registry, 4 store error")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=cli.Parser)
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


def _json(name: str, change: ChampionChange) -> dict[str, Any]:
    return {"name": name, "version": change.version, "previous": change.previous,
            "action": change.action, "at": change.at, "actor": change.actor,
            "reason": change.reason, "known_good": list(change.good)}


def _row(name: str, change: ChampionChange) -> list[str]:
    return [name, change.version, change.action, cli.utc(change.at), change.actor or "-",
            change.reason or "-"]


_HEADER = ["MODEL", "CHAMPION", "BY", "SINCE (UTC)", "ACTOR", "REASON"]


def _open(args: argparse.Namespace) -> FlagStore:
    spec = (args.store or os.environ.get("AIGUARD_MODELS_STORE")
            or os.environ.get("AIGUARD_FLAGS_STORE"))
    return store_from(spec, namespace=args.namespace, variable="AIGUARD_MODELS_STORE")


def _registries(store: FlagStore) -> dict[str, ChampionChange]:
    try:
        records = store.read_all()
    except (StoreError, OSError) as exc:
        raise cli.Exit(cli.STORE_ERROR, f"cannot read the store: {exc}") from exc
    found = {name[len(_champion.PREFIX):]: _champion.parse(record)
             for name, record in records.items() if name.startswith(_champion.PREFIX)}
    return {name: change for name, change in sorted(found.items()) if change is not None}


def _run(args: argparse.Namespace) -> int:
    store = _open(args)
    registries = _registries(store)
    if args.command == "list":
        if args.json:
            cli.out(json.dumps([_json(n, c) for n, c in registries.items()], indent=2))
        else:
            rows = [_row(n, c) for n, c in registries.items()]
            cli.out(cli.table(rows, _HEADER) if rows else f"no model registries in {store!r}")
        return 0
    name = args.name
    if name not in registries:
        known = ", ".join(registries) or "none"
        raise cli.Exit(cli.UNKNOWN, f"unknown model registry {name!r} in {store!r} "
                       f"(known: {known}); a registry appears after its first promote")
    if args.command == "history":
        return _history(store, name, as_json=args.json)
    return _change(store, name, registries[name], args)


def _history(store: FlagStore, name: str, *, as_json: bool) -> int:
    try:
        changes = _champion.read_history(store, name)
    except (StoreError, OSError) as exc:
        raise cli.Exit(cli.STORE_ERROR, f"cannot read the history: {exc}") from exc
    if as_json:
        cli.out(json.dumps([_json(name, c) for c in changes], indent=2))
    else:
        rows = [[c.version, c.previous or "-", c.action, cli.utc(c.at), c.actor or "-",
                 c.reason or "-"] for c in changes]
        header = ["VERSION", "PREVIOUS", "ACTION", "AT (UTC)", "ACTOR", "REASON"]
        cli.out(cli.table(rows, header) if rows else f"{name}: no history in {store!r}")
    return 0


def _change(store: FlagStore, name: str, current: ChampionChange, args: argparse.Namespace) -> int:
    who = cli.actor(args.actor)
    import time  # noqa: PLC0415 - only changes need the wall clock

    try:
        if args.command == "promote":
            _champion.validate_version(args.version)
        change = _champion.change_record(
            current, None, action=args.command,
            to=args.version if args.command == "promote" else args.to,
            at=time.time(), actor=who, reason=args.reason)
        store.write(_champion.key(name), change.to_record())
    except InvalidInputError as exc:
        raise cli.Exit(cli.USAGE_ERROR, str(exc)) from exc
    except (StoreError, OSError) as exc:
        raise cli.Exit(cli.STORE_ERROR, f"cannot write the champion: {exc}") from exc
    if args.json:
        before, after = _json(name, current), _json(name, change)
        cli.out(json.dumps({"before": before, "after": after}, indent=2))
        return 0
    cli.out(f"{name}: {change.action} to {change.version} (was {current.version}) by {who}: "
         f"{args.reason}")
    cli.out("every replica using this store serves it within its refresh interval")
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
    return cli.run("aiguard models", _parser(), _run, argv)

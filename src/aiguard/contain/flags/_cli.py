"""``aiguard flags``: list, read and flip kill switches from a shell, at 3 AM.

::

    aiguard flags list                    --store file:/etc/app/flags.json
    aiguard flags get recs.personalized   --store redis://10.0.0.5:6379/0
    aiguard flags off recs.personalized   --store ... --reason "drift, INC-42"
    aiguard flags on recs.personalized    --store ... --reason "fixed"
    aiguard flags set search.rerank --percent 10 --store ...
    aiguard flags history recs.personalized --store ...
    aiguard flags shutdown --reason "full shutdown" --store ...   # every AI feature off
    aiguard flags restore --store ...

``--store`` is ``memory``, ``file:PATH`` or a ``redis://``/``rediss://``/
``unix://`` URL (default: ``$AIGUARD_FLAGS_STORE``; there is no silent default,
so a forgotten ``--store`` cannot report a change that went nowhere).
``--actor`` defaults to ``$USER@hostname``. ``--json`` prints JSON.
Changing a flag the store does not hold yet needs ``--create`` (a typo must
not create a new flag while the real one stays on).

Exit codes: 0 done, 2 usage or invalid input, 3 unknown flag, 4 the store
cannot be read or written.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
from typing import TYPE_CHECKING, Any

from aiguard._core._cli import (
    STORE_ERROR,
    USAGE_ERROR,
    Exit,
    Parser,
    actor,
    out,
    run,
    table,
    utc,
)
from aiguard._core._cli import UNKNOWN as UNKNOWN_FLAG
from aiguard.contain.flags._flags import Flags
from aiguard.errors import AiguardError, InvalidInputError, StoreError
from aiguard.state._records import ALL, FlagState, parse_record, validate_name
from aiguard.state._stores import FileStore, MemoryStore

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from aiguard.typing import FlagStore

__all__ = ["main", "open_store", "store_from"]

_REDIS = ("redis://", "rediss://", "unix://")


def open_store(spec: str, *, namespace: str = "aiguard") -> FlagStore:
    """Return the store named by *spec*: ``memory``, ``file:PATH`` or a Redis URL.

    Raises:
        InvalidInputError: *spec* names no known store.
        MissingExtraError: a Redis URL without the ``redis`` extra installed.

    Example:
        >>> open_store("memory")
        MemoryStore(<0 flags>)
        >>> open_store("file:/tmp/flags.json")
        FileStore('/tmp/flags.json')
    """
    if spec == "memory":
        return MemoryStore()
    if spec.startswith("file:") and len(spec) > len("file:"):
        return FileStore(spec[len("file:") :])
    if spec.startswith(_REDIS):
        from aiguard.state._redis import RedisStore  # noqa: PLC0415 - optional extra

        return RedisStore(spec, namespace=namespace)
    expected = "memory, file:PATH or redis://HOST:PORT/DB"
    raise InvalidInputError("--store", expected, repr(spec))


def store_from(spec: str | None, *, namespace: str, variable: str) -> FlagStore:
    """The store ``--store`` (or the environment's *variable*) names, or :class:`Exit`.

    Raises:
        Exit: no store named (2), a spec naming no known store (2), a store
            that cannot be opened (4).
    """
    if not spec:
        raise Exit(USAGE_ERROR, "no store: pass --store memory|file:PATH|redis://HOST:PORT/DB "
                                f"(or set {variable})")
    try:
        return open_store(spec, namespace=namespace)
    except AiguardError as exc:
        code = USAGE_ERROR if isinstance(exc, InvalidInputError) else STORE_ERROR
        raise Exit(code, str(exc)) from exc


def _parser() -> Parser:
    common = Parser(add_help=False)
    common.add_argument("--store", default=argparse.SUPPRESS,
                        help="memory, file:PATH or redis://HOST:PORT/DB "
                             "(default: $AIGUARD_FLAGS_STORE)")
    common.add_argument("--namespace", default=argparse.SUPPRESS,
                        help="Redis key prefix (default: aiguard)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print JSON instead of a table")
    change = Parser(add_help=False)
    change.add_argument("--reason", default=None, help="why (goes into the history)")
    change.add_argument("--actor", default=None, help="who (default: $USER@hostname)")
    change.add_argument("--create", action="store_true",
                        help="allow a flag the store does not hold yet")
    parser = Parser(prog="aiguard flags", parents=[common],
                     description="List, read and flip aiguard kill switches.",
                     epilog="exit codes: 0 done, 2 usage, 3 unknown flag, 4 store error")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    sub.add_parser("list", parents=[common], help="every flag in the store")
    sub.add_parser("get", parents=[common], help="one flag").add_argument("name")
    sub.add_parser("history", parents=[common], help="who changed a flag, when, why"
                   ).add_argument("name")
    for command, help_ in (("on", "turn a feature on (for everyone)"),
                           ("off", "turn a feature off (its fallback serves)")):
        sub.add_parser(command, parents=[common, change], help=help_).add_argument("name")
    set_ = sub.add_parser("set", parents=[common, change], help="on for P %% of keys (rollout)")
    set_.add_argument("name")
    set_.add_argument("--percent", type=float, required=True, help="share of keys, 0 to 100")
    sub.add_parser("shutdown", parents=[common, change],
                   help=f"global switch: every AI feature off ({ALL})")
    sub.add_parser("restore", parents=[common, change], help="undo shutdown")
    return parser


def _when(state: FlagState) -> str:
    return utc(state.updated_at)


def _value(state: FlagState) -> str:
    if not state.on:
        return "off"
    if state.percent is None or state.percent >= 100:
        return "on"
    return f"on {_figure(state.percent)}%"


def _figure(number: float) -> str:
    """A share for people: at most three decimals, no float noise (4.36, not 4.360000000000003)."""
    text = f"{number:.3f}".rstrip("0").rstrip(".")
    return text if text != "0" or number == 0 else f"{number:.2g}"


def _row(state: FlagState) -> list[str]:
    return [state.name, _value(state), _when(state), state.actor or "-", state.reason or "-"]


_HEADER = ["FLAG", "STATE", "UPDATED (UTC)", "ACTOR", "REASON"]


def _json(state: FlagState) -> dict[str, Any]:
    return {"name": state.name, **state.to_record()}


def _read(store: FlagStore) -> tuple[dict[str, FlagState], dict[str, str]]:
    """Read the store directly (Flags would hide an outage): states and invalid records."""
    try:
        raw: Mapping[str, Any] = store.read_all()
    except (StoreError, OSError) as exc:
        raise Exit(STORE_ERROR, f"cannot read the flags: {exc}") from exc
    states: dict[str, FlagState] = {}
    invalid: dict[str, str] = {}
    for name, record in raw.items():
        parsed = _try_parse(name, record)
        if isinstance(parsed, FlagState):
            states[name] = parsed
        else:
            invalid[name] = parsed
    return states, invalid


def _try_parse(name: str, record: object) -> FlagState | str:
    try:
        return parse_record(name, record)
    except (InvalidInputError, TypeError) as exc:
        return str(exc)


def _unknown(name: str, known: Sequence[str], hint: str = "") -> Exit:
    close = difflib.get_close_matches(name, known, n=3)
    suggestion = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    return Exit(UNKNOWN_FLAG, f"unknown flag {name!r} in the store{suggestion}{hint}")


def _run(args: argparse.Namespace) -> int:
    spec = getattr(args, "store", None) or os.environ.get("AIGUARD_FLAGS_STORE")
    store = store_from(spec, namespace=getattr(args, "namespace", "aiguard"),
                       variable="AIGUARD_FLAGS_STORE")
    as_json = getattr(args, "json", False)
    states, invalid = _read(store)
    command = args.command
    if command == "list":
        return _list(states, invalid, store, as_json=as_json)
    if command in {"shutdown", "restore"}:
        args.name = ALL
    name = args.name
    try:
        validate_name(name)
    except InvalidInputError as exc:
        raise Exit(USAGE_ERROR, str(exc)) from exc
    known = name in states or name in invalid or name == ALL
    if command == "get":
        if not known:
            raise _unknown(name, list(states))
        return _get(name, states, invalid, as_json=as_json)
    if command == "history":
        return _history(name, store, known=known, names=list(states), as_json=as_json)
    if not known and not args.create:
        raise _unknown(name, list(states), " (pass --create to add it)")
    return _change(command, name, args, store, states.get(name), as_json=as_json)


def _list(
    states: dict[str, FlagState], invalid: dict[str, str], store: FlagStore, *, as_json: bool
) -> int:
    if as_json:
        doc = {"store": repr(store), "flags": [_json(s) for _, s in sorted(states.items())],
               "invalid": invalid}
        out(json.dumps(doc, indent=2))
        return 0
    rows = [_row(s) for _, s in sorted(states.items())]
    rows += [[name, "INVALID", "-", "-", why] for name, why in sorted(invalid.items())]
    glob = states.get(ALL)
    if glob is not None and not glob.on:
        out(f"GLOBAL SHUTDOWN: every AI feature is off ({ALL}, {glob.actor or '?'}, "
             f"{_when(glob)}: {glob.reason or 'no reason given'})")
    out(table(rows, _HEADER) if rows else f"no flags in {store!r}")
    return 0


def _get(name: str, states: dict[str, FlagState], invalid: dict[str, str], *, as_json: bool) -> int:
    state = states.get(name)
    if state is None and name in invalid:
        raise Exit(STORE_ERROR, f"flag {name!r} holds an invalid record: {invalid[name]}")
    if state is None:  # the global switch, never written: on
        state = FlagState(ALL, on=True, reason="never set", source="declared")
    out(json.dumps(_json(state), indent=2) if as_json else table([_row(state)], _HEADER))
    return 0


def _history(name: str, store: FlagStore, *, known: bool, names: list[str], as_json: bool) -> int:
    if not callable(getattr(store, "history", None)):
        raise Exit(STORE_ERROR, f"{store!r} keeps no history")
    try:
        states = Flags(store, refresh=None).history(name)
    except StoreError as exc:
        raise Exit(STORE_ERROR, f"cannot read the history: {exc}") from exc
    except KeyError:
        states = []
    if not states and not known:
        raise _unknown(name, names)
    if as_json:
        out(json.dumps([_json(s) for s in states], indent=2))
    else:
        out(table([_row(s) for s in states], _HEADER) if states else f"{name}: no history")
    return 0


def _change(
    command: str,
    name: str,
    args: argparse.Namespace,
    store: FlagStore,
    before: FlagState | None,
    *,
    as_json: bool,
) -> int:
    on = command in {"on", "set", "restore"}
    percent = args.percent if command == "set" else None
    flags = Flags(store, refresh=None)
    try:
        flags.set(name, on=on, percent=percent, reason=args.reason, actor=actor(args.actor))
    except InvalidInputError as exc:
        raise Exit(USAGE_ERROR, str(exc)) from exc
    except (StoreError, OSError) as exc:
        raise Exit(STORE_ERROR, f"cannot write the flag: {exc}") from exc
    state = flags.get(name)
    if as_json:
        out(json.dumps({"before": None if before is None else _json(before),
                         "after": _json(state)}, indent=2))
        return 0
    was = _value(before) if before is not None else ("on" if name == ALL else "new")
    what = "GLOBAL SHUTDOWN (every AI feature off)" if name == ALL and not on else _value(state)
    out(f"{name}: {what} (was {was}) by {state.actor}"
         + (f": {state.reason}" if state.reason else ""))
    out("every process using this store applies it within its refresh interval")
    return 0


def main(argv: list[str]) -> int:
    """Run ``aiguard flags`` with *argv*; return the exit code (see the module docstring).

    Example:
        >>> main(["on", "recs", "--store", "memory", "--create", "--actor", "ana"])
        recs: on (was new) by ana
        every process using this store applies it within its refresh interval
        0
        >>> main(["get", "Bad!", "--store", "memory"])
        2
        >>> main(["get", "recs", "--store", "memory"])  # a fresh memory store knows nothing
        3
    """
    return run("aiguard flags", _parser(), _run, argv)

"""``aiguard incidents``: read and move incidents from a shell.

::

    aiguard incidents list                 --log /var/lib/app/incidents.jsonl
    aiguard incidents list --all           --store redis://10.0.0.5:6379/0
    aiguard incidents show INC-3F2A9C01    --log ... [--json]
    aiguard incidents ack INC-3F2A9C01     --log ... --actor ana
    aiguard incidents assign INC-3F2A9C01 commander ana --log ...
    aiguard incidents status INC-3F2A9C01 mitigated --log ... --reason "rolled back"
    aiguard incidents resolve INC-3F2A9C01 --log ... --root-cause "region feature corrupted"
    aiguard incidents postmortem INC-3F2A9C01 --log ... [--format markdown|json]

``--log`` is the JSON Lines file (default ``$AIGUARD_INCIDENT_LOG``), or
``--store`` a Redis URL. ``--actor`` defaults to ``$USER@hostname``.

Exit codes: 0 done, 2 usage or invalid input (a status moving backwards, an
unknown role), 3 unknown incident, 4 the log or store cannot be read or written.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import TYPE_CHECKING

from aiguard._core._cli import STORE_ERROR, UNKNOWN, USAGE_ERROR, Exit, Parser, actor, out, run
from aiguard.errors import AiguardError, InvalidInputError, StoreError
from aiguard.review._incident_log import IncidentLog
from aiguard.review._postmortem import duration
from aiguard.review._records import ROLES, Status, utc

if TYPE_CHECKING:
    from aiguard.review._incident import Incident

__all__ = ["main"]


def _parser() -> Parser:
    common = Parser(add_help=False)
    common.add_argument("--log", default=argparse.SUPPRESS,
                        help="the incident log file (default: $AIGUARD_INCIDENT_LOG)")
    common.add_argument("--store", default=argparse.SUPPRESS, help="a redis:// URL instead")
    common.add_argument("--namespace", default=argparse.SUPPRESS, help="Redis key prefix")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print JSON")
    change = Parser(add_help=False)
    change.add_argument("--actor", default=None, help="who (default: $USER@hostname)")
    change.add_argument("--reason", default=None, help="why (goes into the timeline)")
    parser = Parser(prog="aiguard incidents", parents=[common],
                     description="Read and move aiguard incidents.",
                     epilog="exit codes: 0 done, 2 usage, 3 unknown incident, 4 log error")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    sub.add_parser("list", parents=[common], help="open incidents (--all: every one)"
                   ).add_argument("--all", action="store_true")
    sub.add_parser("show", parents=[common], help="one incident").add_argument("id")
    sub.add_parser("ack", parents=[common, change], help="acknowledge").add_argument("id")
    assign = sub.add_parser("assign", parents=[common, change], help="give a role")
    assign.add_argument("id")
    assign.add_argument("role", choices=ROLES)
    assign.add_argument("name")
    status = sub.add_parser("status", parents=[common, change], help="move to a later status")
    status.add_argument("id")
    status.add_argument("status", choices=[s.value for s in Status])
    resolve = sub.add_parser("resolve", parents=[common, change], help="resolve")
    resolve.add_argument("id")
    resolve.add_argument("--root-cause", default=None)
    post = sub.add_parser("postmortem", parents=[common], help="the blameless postmortem")
    post.add_argument("id")
    post.add_argument("--format", choices=("markdown", "json"), default="markdown")
    return parser


def _open(args: argparse.Namespace, *, readonly: bool) -> IncidentLog:
    url = getattr(args, "store", None)
    path = getattr(args, "log", None) or os.environ.get("AIGUARD_INCIDENT_LOG")
    try:
        if url:
            from aiguard.state._redis import RedisStore  # noqa: PLC0415 - optional extra

            store = RedisStore(url, namespace=getattr(args, "namespace", "aiguard"))
            return IncidentLog(store=store)
        if not path:
            raise Exit(USAGE_ERROR, "no log: pass --log PATH or --store redis://... "
                                     "(or set AIGUARD_INCIDENT_LOG)")
        if readonly and not os.path.exists(path):  # noqa: PTH110 - a str from argv
            raise Exit(STORE_ERROR, f"no incident log at {path!r}")
        return IncidentLog(path, readonly=readonly)
    except AiguardError as exc:
        raise Exit(STORE_ERROR if isinstance(exc, StoreError) else USAGE_ERROR,
                    str(exc)) from exc


def _row(incident: Incident) -> str:
    return (f"{incident.id:<13} {incident.severity.value:<8} {incident.status.value:<12} "
            f"{utc(incident.opened_at)}  {incident.title}")


def _show(incident: Incident) -> str:
    times = (f"time to acknowledge {duration(incident.time_to_acknowledge)}, contain "
             f"{duration(incident.time_to_contain)}, resolve {duration(incident.time_to_resolve)}")
    lines = [_row(incident), f"type: {incident.type}; affected: {dict(incident.affected)}",
             f"roles: {dict(incident.roles) or '-'}", times, "timeline:"]
    return "\n".join(lines + [f"  {entry.line()}" for entry in incident.timeline])


def _get(log: IncidentLog, incident_id: str) -> Incident:
    if incident_id not in log:
        raise Exit(UNKNOWN, f"unknown incident {incident_id!r}")
    return log.get(incident_id)


def _change(log: IncidentLog, args: argparse.Namespace) -> Incident:
    _get(log, args.id)
    who = actor(args.actor)
    command = args.command
    if command == "ack":
        return log.change(args.id, "ack", actor=who, why=args.reason)
    if command == "assign":
        return log.change(args.id, "role", actor=who, why=args.reason, role=args.role,
                          name=args.name)
    if command == "status":
        return log.change(args.id, "status", actor=who, why=args.reason, status=args.status)
    if args.root_cause:
        log.change(args.id, "field", actor=who, field="root_cause", value=args.root_cause)
    return log.change(args.id, "status", actor=who, why=args.reason, status="resolved")


def _run(args: argparse.Namespace) -> int:
    command = args.command
    as_json = getattr(args, "json", False)
    log = _open(args, readonly=command in ("list", "show", "postmortem"))
    try:
        if command == "list":
            found = log.incidents() if args.all else log.open_incidents()
            out(json.dumps([i.to_dict() for i in found], indent=2) if as_json else
                 "\n".join(_row(i) for i in found) or "no open incidents")
            return 0
        if command == "show":
            incident = _get(log, args.id)
            out(json.dumps(incident.to_dict(), indent=2) if as_json else _show(incident))
            return 0
        if command == "postmortem":
            pm = _get(log, args.id).postmortem()
            out(json.dumps(pm.data, indent=2) if args.format == "json" or as_json
                 else pm.markdown.rstrip("\n"))
            return 0
        incident = _change(log, args)
        out(json.dumps(incident.to_dict(), indent=2) if as_json else _row(incident))
    except InvalidInputError as exc:
        raise Exit(USAGE_ERROR, str(exc)) from exc
    except StoreError as exc:
        raise Exit(STORE_ERROR, str(exc)) from exc
    else:
        return 0
    finally:
        log.close()


def main(argv: list[str]) -> int:
    """Run ``aiguard incidents`` with *argv*; return the exit code (see the module docstring).

    Example:
        >>> main(["list"])  # no --log and no $AIGUARD_INCIDENT_LOG
        2
    """
    return run("aiguard incidents", _parser(), _run, argv)



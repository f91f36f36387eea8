"""What the ``aiguard`` sub-commands share: exit codes, usage errors, output, a closed pipe.

``aiguard flags``, ``aiguard models`` and ``aiguard incidents`` report a
failure as one line on stderr (``aiguard flags: unknown flag 'x'``) and an
exit code: 0 done, 2 usage or invalid input, 3 unknown name, 4 the store
cannot be read or written. Every sub-command's output may go to a pipe that
closes early (``aiguard demo --json | head -1``): :func:`main_guarded` then
exits quietly with 141 (128 + SIGPIPE, what a shell reports for a command
stopped by a closed pipe), without a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import socket
import sys
from typing import TYPE_CHECKING, NoReturn

from aiguard.state._records import default_actor

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = [
    "CLOSED_PIPE",
    "STORE_ERROR",
    "UNKNOWN",
    "USAGE_ERROR",
    "Exit",
    "Parser",
    "actor",
    "main_guarded",
    "out",
    "run",
    "table",
    "utc",
]

USAGE_ERROR, UNKNOWN, STORE_ERROR = 2, 3, 4
CLOSED_PIPE = 141
"""The exit code when stdout was closed by the reader (128 + SIGPIPE)."""


class Exit(Exception):  # noqa: N818 - control flow, not an error type users see
    """Stop the command: *message* goes to stderr and *code* is the exit code."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        super().__init__(message)


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors raise :class:`Exit` (code 2) instead of exiting."""

    def error(self, message: str) -> NoReturn:
        """Raise the usage error as :class:`Exit`."""
        raise Exit(USAGE_ERROR, f"{self.format_usage()}{self.prog}: error: {message}")


def out(text: str) -> None:
    """Print one block of output on stdout."""
    print(text)  # noqa: T201 - a CLI prints


def table(rows: list[list[str]], header: list[str]) -> str:
    """Left-aligned columns two spaces apart, the header first.

    Example:
        >>> print(table([["recs", "on"]], ["FLAG", "STATE"]))
        FLAG  STATE
        recs  on
    """
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in [header, *rows])


def utc(at: float | None) -> str:
    """A Unix time as ``YYYY-MM-DD HH:MM:SSZ``, or ``-`` for None.

    Example:
        >>> utc(0.0), utc(None)
        ('1970-01-01 00:00:00Z', '-')
    """
    if at is None:
        return "-"
    return dt.datetime.fromtimestamp(at, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def actor(given: str | None) -> str:
    """Who makes a change: ``--actor``, else ``$USER@hostname``, else the process's user."""
    if given:
        return given
    user = os.environ.get("USER")
    return f"{user}@{socket.gethostname()}" if user else default_actor()


def run(prog: str, parser: argparse.ArgumentParser, command: Callable[[argparse.Namespace], int],
        argv: Sequence[str]) -> int:
    """Parse *argv* and run *command*; an :class:`Exit` becomes a line on stderr and its code.

    Example:
        >>> run("demo", Parser(prog="demo"), lambda args: 0, [])
        0
        >>> run("demo", Parser(prog="demo"), lambda args: 0, ["--help"])  # doctest: +ELLIPSIS
        usage: demo [-h]
        ...
        0
    """
    try:
        return command(parser.parse_args(list(argv)))
    except Exit as exc:
        print(f"{prog}: {exc}", file=sys.stderr)  # noqa: T201
        return exc.code
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0


def main_guarded(command: Callable[[list[str]], int], argv: list[str]) -> int:
    """Run *command*, then flush stdout; a reader that closed the pipe ends it quietly (141).

    The rest of the output has nowhere to go: stdout is pointed at the null
    device so that the interpreter's last flush does not complain either.
    """
    try:
        code = command(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        return CLOSED_PIPE
    return code


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout is not a file (captured, replaced)
        pass

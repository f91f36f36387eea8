"""The ``aiguard`` command: one entry point, a sub-command per area.

Sub-commands are imported lazily so ``aiguard flags`` never pays for scipy.

Exit codes: 0 success (for ``drift``: no drift), 1 the answer is "bad" (drift
found), 2 bad input or usage, 141 the reader closed the pipe (``aiguard demo
--json | head -1``: the command stops quietly, without a traceback).
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

from aiguard._core._cli import main_guarded

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["main"]

# sub-command -> (module, function(argv) -> exit code, one-line help)
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "drift": ("aiguard.detect._drift.report", "main", "compare a current data set to a reference"),
    "flags": ("aiguard.contain.flags._cli", "main", "list, read and flip kill switches"),
    "models": ("aiguard.recover._cli", "main", "model registries: list, history, rollback"),
    "incidents": ("aiguard.review._cli", "main", "list, show, acknowledge and resolve incidents"),
    "demo": ("aiguard._demo._cli", "main", "the 3 AM drill: an AI incident end to end, simulated"),
}


def _usage() -> str:
    lines = ["usage: aiguard COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, _, help_) in _COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``aiguard`` command with *argv* (default: ``sys.argv[1:]``); return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print(_usage())  # noqa: T201 - a CLI prints
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in _COMMANDS:
        print(f"aiguard: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)  # noqa: T201
        return 2
    module_name, func_name, _ = _COMMANDS[name]
    run: Callable[[list[str]], int] = getattr(importlib.import_module(module_name), func_name)
    return main_guarded(run, rest)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

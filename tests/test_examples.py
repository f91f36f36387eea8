"""The README's first command runs examples/quickstart.py: keep it working on a runtime install."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

from tests.project_files import ROOT, pyproject, readme_commands

if TYPE_CHECKING:
    from pathlib import Path

EXAMPLES = ROOT / "examples"

# Runs a script with every module that the runtime install does not bring refused at import.
_BLOCKING_RUNNER = textwrap.dedent(
    """
    import importlib.abc, runpy, sys

    blocked = frozenset(sys.argv[1].split(","))

    class NotARuntimeDependency(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in blocked:
                raise ModuleNotFoundError(f"{name} is not a runtime dependency", name=name)
            return None

    sys.meta_path.insert(0, NotARuntimeDependency())
    sys.argv = sys.argv[2:]
    runpy.run_path(sys.argv[0], run_name="__main__")
    """
)


def _requirement_name(requirement: str) -> str:
    name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert name is not None, requirement
    return re.sub(r"[-_.]+", "-", name.group(0)).lower()


def _runtime_distributions() -> set[str]:
    """aiguard and what its runtime install brings: pyproject's dependencies and theirs."""
    todo = [_requirement_name(r) for r in pyproject()["project"]["dependencies"]]
    found = {"aiguard"}
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        for requirement in importlib.metadata.requires(name) or []:
            if "extra ==" not in requirement:
                todo.append(_requirement_name(requirement))
    return found


def _top_level_modules(distribution: importlib.metadata.Distribution) -> set[str]:
    """The importable top-level names a distribution installed (from its RECORD).

    ``packages_distributions()`` reads only ``top_level.txt`` on Python 3.10, which
    many wheels no longer ship, so the installed files are read instead.
    """
    names = set()
    for file in distribution.files or []:
        first = file.parts[0]
        if first.startswith(("..", "__pycache__")) or first.endswith((".dist-info", ".pth")):
            continue
        if len(file.parts) > 1 or file.suffix in {".py", ".so", ".pyd"}:
            names.add(first.split(".")[0])
    return names


def _not_runtime_modules() -> set[str]:
    """Top-level modules installed here by a distribution the runtime install would not bring."""
    runtime = _runtime_distributions()
    blocked: set[str] = set()
    allowed: set[str] = set()
    for distribution in importlib.metadata.distributions():
        side = allowed if _requirement_name(distribution.metadata["Name"]) in runtime else blocked
        side |= _top_level_modules(distribution)
    return blocked - allowed - set(sys.stdlib_module_names)


def _run_with_runtime_only(script: Path) -> subprocess.CompletedProcess[str]:
    blocked = _not_runtime_modules()
    # the dev tools must be among the refused, or the check proves nothing
    assert {"pytest", "hypothesis", "pandas", "redis"} <= blocked
    return subprocess.run(
        [sys.executable, "-c", _BLOCKING_RUNNER, ",".join(sorted(blocked)), str(script)],
        capture_output=True, text=True, check=False, timeout=120, cwd=ROOT,
    )


def test_readme_first_command_is_the_runtime_install_and_the_demo() -> None:
    """The first command installs aiguard without extras and runs the drill (aiguard demo)."""
    install, demo = readme_commands()[0].split(" && ")
    assert install == "pip install -e ."
    assert demo == "aiguard demo"


def test_quickstart_imports_only_runtime_dependencies() -> None:
    """The quickstart runs to the end with every non-runtime package refused at import."""
    run = _run_with_runtime_only(EXAMPLES / "quickstart.py")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1].endswith("state=CLOSED")


def test_the_import_blocker_refuses_a_dev_package(tmp_path: Path) -> None:
    """A script importing pandas (a dev-only package) fails under the same runner."""
    script = tmp_path / "needs_pandas.py"
    script.write_text("import numpy\nimport pandas\n", encoding="utf-8")
    run = _run_with_runtime_only(script)
    assert run.returncode != 0
    assert "pandas is not a runtime dependency" in run.stderr


def test_quickstart_shows_row_fallback_breaker_trip_and_recovery() -> None:
    """The demo replaces NaN rows, opens the breaker when the model dies, closes it after."""
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")],
        capture_output=True, text=True, check=True, timeout=120,
    )
    lines = run.stdout.splitlines()
    assert "reason=invalid" in lines[0]
    assert "rows_replaced=3" in lines[0]
    assert any("reason=open" in line and "breaker=OPEN" in line for line in lines)
    assert "breaker=HALF_OPEN" in run.stdout
    assert lines[-1].endswith("state=CLOSED")

"""The project's own files as the tests read them: pyproject.toml and the README's commands."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # mypy and coverage[toml] bring tomli on 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def pyproject() -> dict[str, Any]:
    """pyproject.toml, parsed."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def readme_commands() -> list[str]:
    """The command lines of the README's first ``sh`` block, comments stripped."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"^```sh\n(.*?)^```$", text, re.DOTALL | re.MULTILINE)
    assert found is not None, "README.md has no ```sh block"
    lines = (line.split("#", 1)[0].strip() for line in found.group(1).splitlines())
    return [line for line in lines if line]

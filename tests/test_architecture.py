"""docs/architecture.md stays true: what it names imports, its tree is the tree, its rules hold."""

from __future__ import annotations

import ast
import importlib
import re

import pytest
from tests.project_files import ROOT

PAGE = ROOT / "docs" / "architecture.md"
SRC = ROOT / "src"
MODULE = re.compile(r"`(aiguard(?:\.[A-Za-z_]\w*)*)`")
PHASES = ("detect", "classify", "contain", "recover", "review")


def _sections() -> tuple[str, str]:
    """The page without its "Coming" section, and that section."""
    text = PAGE.read_text(encoding="utf-8")
    head, _, rest = text.partition("\n## Coming\n")
    coming, _, tail = rest.partition("\n## ")
    return head + tail, coming


def _named() -> list[str]:
    text, coming = _sections()
    later = set(MODULE.findall(coming))
    return sorted(set(MODULE.findall(text)) - later)


def _coming() -> list[str]:
    return sorted(set(MODULE.findall(_sections()[1])))


def _tree() -> list[str]:
    """The packages the page's text tree draws, as dotted module names."""
    text = PAGE.read_text(encoding="utf-8")
    drawing = re.search(r"```text\naiguard/\n(.*?)```", text, re.DOTALL)
    assert drawing is not None, "the page has no tree of aiguard/"
    stack: list[str] = []
    found = []
    for line in drawing.group(1).splitlines():
        entry = re.search(r"[\w]+/", line)
        assert entry is not None, line
        depth = entry.start() // 4 - 1  # "├── " before a top-level folder
        stack[depth:] = [entry.group(0).rstrip("/")]
        found.append(".".join(["aiguard", *stack]))
    return found


@pytest.mark.parametrize("name", _named())
def test_every_module_the_page_names_imports(name: str) -> None:
    """Each `aiguard...` module the page names outside "Coming" imports."""
    importlib.import_module(name)


@pytest.mark.parametrize("name", _coming())
def test_coming_modules_are_skipped_until_they_exist(name: str) -> None:
    """A module listed under "Coming" is skipped while it does not import."""
    try:
        importlib.import_module(name)
    except ImportError:
        pytest.skip(f"{name} is listed as coming")


def test_the_page_names_its_modules() -> None:
    """The parsing finds the map's packages, and the coming section is short."""
    named = _named()
    assert {"aiguard._core", "aiguard.contain.breaker", "aiguard.testing"} <= set(named)
    assert len(named) >= 15
    assert len(_coming()) <= 5


def test_the_tree_is_the_package_tree() -> None:
    """Every folder the tree draws is a package, and every top-level package is drawn."""
    drawn = _tree()
    for name in drawn:
        path = SRC.joinpath(*name.split("."))
        assert (path / "__init__.py").is_file(), name
        importlib.import_module(name)
    top = {
        "aiguard." + path.parent.name
        for path in (SRC / "aiguard").glob("*/__init__.py")
    }
    assert top <= set(drawn), f"packages missing from the page's tree: {top - set(drawn)}"
    assert {"aiguard.contain.breaker", "aiguard.detect._drift"} <= set(drawn)


def _imports(package: str) -> list[tuple[str, str]]:
    """(file, imported module) for every absolute import in ``package``'s files."""
    found = []
    for path in sorted(SRC.joinpath(*package.split(".")).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found += [(path.name, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((path.name, node.module))
    return found


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_detect_never_imports_contain() -> None:
    """Nothing in aiguard.detect imports aiguard.contain (the wiring is events and callables)."""
    imports = _imports("aiguard.detect")
    assert imports, "no imports found: the scan is broken"
    assert [pair for pair in imports if _inside(pair[1], "aiguard.contain")] == []


def test_core_imports_no_phase_package() -> None:
    """aiguard._core depends on no phase package, so every phase can use it."""
    phases = [f"aiguard.{phase}" for phase in PHASES]
    imports = _imports("aiguard._core")
    assert imports, "no imports found: the scan is broken"
    bad = [pair for pair in imports if any(_inside(pair[1], phase) for phase in phases)]
    assert bad == []

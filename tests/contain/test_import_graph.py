"""The modules of aiguard.contain import each other without a cycle (type-only imports aside)."""

from __future__ import annotations

import ast
from pathlib import Path

import aiguard

SRC = Path(aiguard.__file__).parent
CONTAIN = "aiguard.contain"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in (SRC / "contain").rglob("*.py")}


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement outside ``if TYPE_CHECKING:`` blocks (functions included)."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(nodes: list[ast.AST]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and is_type_checking(node):
                visit(list(node.orelse))
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append(node)
            visit(list(ast.iter_child_nodes(node)))

    visit(list(ast.iter_child_nodes(tree)))
    return found


def edges(known: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the aiguard.contain modules it imports at run time."""
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for node in runtime_imports(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif node.module is not None and node.level == 0:
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    targets.append(sub if sub in known else node.module)
            graph[name].update(t for t in targets if t in known and t != name)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle as a list of modules (first == last), or None; plain depth-first search."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (cycle := dfs(nxt)) is not None:
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := dfs(start)) is not None:
            return cycle
    return None


def test_the_contain_import_graph_has_no_cycle() -> None:
    """No chain of run-time imports between aiguard.contain modules leads back to its start."""
    known = modules()
    assert len(known) > 20  # the walk found the package
    assert find_cycle(edges(known)) is None


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    """The search itself reports a cycle when one exists (a <-> b through c)."""
    graph = {"a": {"c"}, "b": {"a"}, "c": {"b"}, "d": {"a"}}
    cycle = find_cycle(graph)
    assert cycle is not None
    assert cycle[0] == cycle[-1]
    assert set(cycle) == {"a", "b", "c"}
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_type_only_imports_are_left_out() -> None:
    """Imports under ``if TYPE_CHECKING:`` are not edges; those in functions are."""
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import x\nelse:\n    import y\n"
        "def f():\n    import z\n"
    )
    names = [a.name for node in runtime_imports(tree) if isinstance(node, ast.Import)
             for a in node.names]
    assert names == ["y", "z"]

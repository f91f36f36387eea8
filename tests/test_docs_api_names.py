"""The guide pages name only APIs that exist, and the API reference covers the public surface.

The playbook page maps every practice to "the aiguard call that implements it"; the
phase overviews and the tutorial do the same in brief. A renamed method would leave
those pages naming something that is not there, with no example failing. So every
API name in their inline code is resolved here: ``ag.X...`` (``import aiguard as ag``:
``X`` must be a top-level public name), ``aiguard.mod.X...`` (the module imported),
a bare ``Name.attr`` looked up in the modules the page's context imports from, and
every ``aiguard COMMAND SUB`` against the CLI.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

import aiguard
from aiguard import cli

ROOT = Path(__file__).resolve().parents[1]
GUIDES = [
    "docs/playbook.md",
    "docs/tutorial.md",
    "docs/detect/overview.md",
    "docs/contain/overview.md",
    "docs/recover/overview.md",
    "docs/review/overview.md",
]
# modules where a bare ``Name`` of a guide page is looked up, in order
BARE = ["aiguard", "aiguard.detect", "aiguard.drift", "aiguard.review", "aiguard.testing"]
# lower-case prefixes that are aiguard modules (others, like ``breaker.``, are variables)
MODULE_PREFIXES = {"rules", "checks", "drift", "detect", "testing"}
# class names of other libraries the guides quote
FOREIGN = {"LogisticRegression"}
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
SPAN = re.compile(r"`([^`\n]+)`")
DOTTED = re.compile(r"\b(ag|aiguard)((?:\.[A-Za-z_]\w*)+)")
BARE_NAME = re.compile(r"^([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*)*)")
COMMAND = re.compile(r"^aiguard ([a-z]+)(?: ([a-z]+))?")
PUBLIC_MODULES = [
    "aiguard",
    "aiguard.checks",
    "aiguard.classify",
    "aiguard.detect",
    "aiguard.drift",
    "aiguard.errors",
    "aiguard.integrations.openfeature",
    "aiguard.integrations.otel",
    "aiguard.integrations.prometheus",
    "aiguard.recover",
    "aiguard.review",
    "aiguard.rules",
    "aiguard.state",
    "aiguard.testing",
    "aiguard.typing",
]


def spans(page: str) -> list[str]:
    """The inline code spans of ``page``, outside fenced blocks."""
    text = FENCE.sub("", (ROOT / page).read_text(encoding="utf-8"))
    return SPAN.findall(text)


def resolve(module: ModuleType | Any, chain: str) -> bool:
    """Whether ``module.a.b.c`` exists for ``chain`` ``.a.b.c``, importing submodules on the way."""
    obj = module
    for part in chain.strip(".").split("."):
        if hasattr(obj, part):
            obj = getattr(obj, part)
            continue
        if not isinstance(obj, ModuleType):
            return False
        try:
            obj = importlib.import_module(f"{obj.__name__}.{part}")
        except ImportError:
            return False
    return True


def unresolved_names(page: str) -> list[str]:
    """The API names in ``page``'s inline code that do not resolve."""
    missing = []
    for span in spans(page):
        dotted = DOTTED.findall(span)
        for prefix, chain in dotted:
            first = chain.split(".")[1]
            ok = (first in aiguard.__all__ and resolve(aiguard, chain)) if prefix == "ag" else (
                resolve(aiguard, chain))
            if not ok:
                missing.append(prefix + chain)
        bare = BARE_NAME.match(span)
        if dotted or bare is None or span.startswith("aiguard "):
            continue
        name, chain = bare.groups()
        if name in MODULE_PREFIXES:
            if not resolve(aiguard, f".{name}{chain}"):
                missing.append(name + chain)
        elif name[0].isupper() and any(hasattr(importlib.import_module(m), name) for m in BARE):
            home = next(m for m in BARE if hasattr(importlib.import_module(m), name))
            if not resolve(importlib.import_module(home), f".{name}{chain}"):
                missing.append(name + chain)
        elif name[0].isupper() and not name.isupper() and name not in FOREIGN:
            missing.append(name + chain)  # looks like a class, found nowhere
    return missing


def test_resolve_follows_attributes_and_submodules() -> None:
    """``resolve`` finds real names and refuses made-up ones."""
    assert resolve(aiguard, ".Flags.shutdown")
    assert resolve(aiguard, ".drift.Reference")
    assert not resolve(aiguard, ".Flags.shutdown_everything")
    assert not resolve(aiguard, ".nothing_here")
    assert not resolve(aiguard, ".Flags.set.nope")


def test_a_made_up_name_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page naming a method that does not exist, or a class nowhere, fails the check."""
    page = tmp_path / "page.md"
    page.write_text(
        "Call `ag.Incidents.escalate_now` or `Guard.rewind()` or `WidgetMonitor`; "
        "`ag.Flags.set` and `Incidents.ack` exist, `breaker.reset()` is a variable.\n"
        "```python\nag.NotChecked\n```\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert unresolved_names("page.md") == ["ag.Incidents.escalate_now", "Guard.rewind",
                                           "WidgetMonitor"]


@pytest.mark.parametrize("page", GUIDES)
def test_every_api_name_on_the_page_exists(page: str) -> None:
    """Every aiguard name in the page's inline code resolves to a real object."""
    assert unresolved_names(page) == []


def _subcommands(command: str) -> set[str]:
    """The sub-commands ``aiguard COMMAND --help`` lists (empty when it has none)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        cli.main([command, "--help"])
    found = re.search(r"\{([a-z,-]+)\}", out.getvalue())
    return set(found.group(1).split(",")) if found else set()


def test_every_command_on_the_guides_exists() -> None:
    """Each ``aiguard COMMAND SUB`` quoted on a guide page is a real command and sub-command."""
    quoted = {m.groups() for page in GUIDES for s in spans(page) if (m := COMMAND.match(s))}
    assert quoted, "the guides quote no aiguard command"
    for command, sub in sorted(quoted, key=str):
        assert command in cli._COMMANDS, command
        subs = _subcommands(command)
        if sub is not None and subs:
            assert sub in subs, f"aiguard {command} {sub}"


def _directives() -> dict[str, set[str] | None]:
    """Module -> the members its reference directive lists (None: all of ``__all__``)."""
    found: dict[str, set[str] | None] = {}
    for page in sorted((ROOT / "docs" / "reference").glob("*.md")):
        text = page.read_text(encoding="utf-8")
        for module, options in re.findall(r"^::: ([\w.]+)\n((?:    .*\n|\n)*)", text, re.MULTILINE):
            listed = re.search(r"^      members:\n((?:        - \w+\n)+)", options, re.MULTILINE)
            found[module] = (set(re.findall(r"- (\w+)", listed.group(1))) if listed else None)
    return found


def test_the_api_reference_covers_every_public_name() -> None:
    """Every name of every public module's ``__all__`` is rendered on some reference page."""
    directives = _directives()
    assert set(PUBLIC_MODULES) <= set(directives)
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        listed = directives[name]
        if listed is None:
            continue
        assert listed <= set(module.__all__), f"{name}: lists names it does not export"
        for public in set(module.__all__) - listed:
            # left out of the module's page only when the aiguard page shows the same object
            assert public in aiguard.__all__, f"{name}.{public} is on no reference page"
            assert getattr(aiguard, public) is getattr(module, public), f"{name}.{public}"


def test_every_reference_page_is_in_the_nav() -> None:
    """The reference pages, the tutorial and the phase overviews are all reachable from the nav."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))

    def pages(node: Any) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, list):
            return [p for item in node for p in pages(item)]
        return [p for value in node.values() for p in pages(value)]

    nav = pages(config["nav"])
    reference = [f"reference/{p.name}" for p in (ROOT / "docs" / "reference").glob("*.md")]
    assert set(reference) | {page.removeprefix("docs/") for page in GUIDES} <= set(nav)


def test_the_reference_reads_docstrings_as_written() -> None:
    """The griffe extension makes ``Example:`` an examples section and reST roles code spans."""
    pytest.importorskip("griffe")  # mkdocstrings' parser: a dev dependency on Python 3.11+ only
    spec = importlib.util.spec_from_file_location("griffe_docstrings",
                                                  ROOT / "docs" / "griffe_docstrings.py")
    assert spec is not None
    assert spec.loader is not None
    extension = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(extension)
    text = ("Uses :class:`~aiguard.Guard` and :func:`aiguard.replay` (:math:`D_n`).\n\n"
            "The tree::\n\n    a -> b\n\n::\n\n    c\n\nExample:\n    >>> 1 + 1\n    2\n")
    assert extension.markdown_docstring(text) == (
        "Uses `Guard` and `aiguard.replay` (`D_n`).\n\n"
        "The tree:\n\n    a -> b\n\n\n    c\n\nExamples:\n    >>> 1 + 1\n    2\n")

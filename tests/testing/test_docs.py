"""Every Python example of docs/testing.md runs, in order, as one user test module."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

pytest_plugins = ["pytester"]

# hypothesis's plugin costs seconds per in-process run and user tests here do not need it
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_page_has_examples() -> None:
    """The page shows the code under test and several tests."""
    source = "\n".join(python_blocks())
    assert source.count("def test_") >= 10


def test_the_examples_pass(pytester: pytest.Pytester) -> None:
    """The page's examples pass as a test module, using the plugin's fixtures."""
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_docs_testing="\n\n".join(python_blocks()))
    result = pytester.runpytest(*QUIET)
    expected = "\n".join(python_blocks()).count("\ndef test_")
    result.assert_outcomes(passed=expected)

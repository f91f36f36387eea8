"""A griffe extension for the API reference: ``Example:`` sections are examples.

aiguard's docstrings head their doctests ``Example:`` (Google style's singular).
griffe reads only ``Examples:`` as an examples section and would render the
singular as a Markdown admonition, where ``>>>`` lines become block quotes and
``[a]`` / ``[b]`` output lines become links. This extension renames the section
header before griffe parses the docstring, so the doctests render as code.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE = re.compile(r"^(\s*)Example:[ \t]*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Rename ``Example:`` section headers to ``Examples:`` in every docstring."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:  # noqa: ARG002
        """Rewrite the object's docstring, if it has one, once the tree is loaded."""
        if obj.docstring is not None:
            obj.docstring.value = _EXAMPLE.sub(r"\1Examples:", obj.docstring.value)

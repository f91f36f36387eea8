"""A griffe extension for the API reference: read aiguard's docstrings as they are written.

The docstrings are Google style with a few reStructuredText habits, which
griffe would otherwise pass to Markdown as they are:

* ``Example:`` heads the doctests. griffe reads only ``Examples:`` as an
  examples section and would render the singular as an admonition, where
  ``>>>`` lines become block quotes and ``[a]`` / ``[b]`` output lines become
  links. The header is renamed, so the doctests render as code.
* Roles such as ``:class:`~aiguard.Guard``` or ``:math:`D_n``` would show
  their role name. They become code spans (``Guard``; ``~`` keeps the last
  dotted part, as Sphinx does).
* ``text::`` introducing a literal block becomes ``text:`` (a lone ``::``
  line is dropped); the indented block is already code in Markdown.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE = re.compile(r"^(\s*)Example:[ \t]*$", re.MULTILINE)
_ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj|const|math|doc):`(~?)([^`]+)`")
_LONE_LITERAL = re.compile(r"^[ \t]*::[ \t]*\n", re.MULTILINE)
_LITERAL = re.compile(r"(\S)::[ \t]*$", re.MULTILINE)


def _role(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


def markdown_docstring(text: str) -> str:
    """The docstring *text* with the rewrites above applied."""
    text = _EXAMPLE.sub(r"\1Examples:", text)
    text = _ROLE.sub(_role, text)
    text = _LONE_LITERAL.sub("", text)
    return _LITERAL.sub(r"\1:", text)


class MarkdownDocstrings(griffe.Extension):
    """Rewrite every docstring with :func:`markdown_docstring` once the tree is loaded."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:  # noqa: ARG002
        """Rewrite the object's docstring, if it has one."""
        if obj.docstring is not None:
            obj.docstring.value = markdown_docstring(obj.docstring.value)

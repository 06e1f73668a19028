"""Griffe extension for the API reference: docstrings as this project writes them, rendered as Markdown.

- ``Example:`` is a Google-style section as valid as ``Examples:`` (Napoleon accepts both), but griffe parses only the
  plural; the singular is read as the plural so that its doctest lines render as code.
- Sphinx roles (``:func:`~ml4hep.io.write_root```) become code spans (``write_root``; the full path without ``~``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

SINGULAR_EXAMPLE = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)
ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|obj|exc):`(~?)([\w.]+)`")


def markdown_docstring(text: str) -> str:
    """The docstring text with ``Example:`` read as ``Examples:`` and Sphinx roles turned into code spans."""
    text = SINGULAR_EXAMPLE.sub(r"\1Examples:", text)
    return ROLE.sub(lambda match: f"`{match.group(2).rsplit('.', 1)[-1] if match.group(1) else match.group(2)}`", text)


class ProjectDocstrings(griffe.Extension):
    """Rewrite every docstring before mkdocstrings parses it."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Called by griffe once per loaded object."""
        if obj.docstring is not None:
            obj.docstring.value = markdown_docstring(obj.docstring.value)

"""Changed values against the payload's originals: line diffs for text, old → new for the rest.

Marks are symbols (``-``/``+``, ``~``) so the diff reads the same without colour.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from ..safe_text import clean


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def changed_names(original: Mapping[str, Any], edited: Mapping[str, Any]) -> list[str]:
    return [name for name in edited if name not in original or original[name] != edited[name]]


def render_diff(
    original: Mapping[str, Any], edited: Mapping[str, Any], labels: Mapping[str, str]
) -> RenderableType:
    names = changed_names(original, edited)
    if not names:
        return Text("No value changed: approving sends the original values.", style="bold")
    parts: list[RenderableType] = []
    for name in names:
        head = Text(f"~ {clean(labels.get(name, name), multiline=False)}", style="bold")
        parts.append(head)
        old, new = _as_text(original.get(name)), _as_text(edited[name])
        lines = difflib.unified_diff(
            old.splitlines(), new.splitlines(), "original", "edited", lineterm="", n=2
        )
        for line in list(lines)[2:]:  # skip the ---/+++ file headers
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
            parts.append(Text("  " + clean(line, multiline=False), style=style))
        if old.splitlines() == new.splitlines():  # only trailing newline or whitespace differ
            parts.append(Text(f"  - {clean(repr(old), multiline=False)}", style="red"))
            parts.append(Text(f"  + {clean(repr(new), multiline=False)}", style="green"))
        parts.append(Text(""))
    return Group(*parts)

"""Edit-form drafts read back as the values they would send, for the approve dialog.

A draft holds what each form control held (text, a switch, a choice); approving a task that
has one must say what it changes, or that it cannot be sent as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .field_values import FieldError, parse_value

if TYPE_CHECKING:
    from collections.abc import Mapping

    from client import Task


@dataclass(frozen=True)
class DraftEdits:
    """A kept edit-form draft, read as the values it would send."""

    values: dict[str, Any]
    changed: list[str]
    error: str | None  # the first value that does not parse, in words


def draft_edits(task: Task, draft: Mapping[str, Any] | None) -> DraftEdits | None:
    """The kept draft of ``task`` as typed values, if it changes anything."""
    if not draft:
        return None
    original = task.editable_values()
    values: dict[str, Any] = {}
    error: str | None = None
    for editable in task.payload.editable_fields:
        if editable.name not in draft:
            continue
        try:
            value = parse_value(editable, draft[editable.name])
            json.dumps(value, allow_nan=False)
        except (FieldError, ValueError) as exc:
            error = error or f"{editable.label}: {exc}"
            continue
        values[editable.name] = value
    changed = [name for name, value in values.items() if original.get(name) != value]
    if not changed and error is None:
        return None  # the draft holds the task's own values: nothing would be lost
    return DraftEdits(values, changed, error)

"""The inbox's preview pane: the task under the cursor, read from the listing (no request).

Beside the list from 140 columns, under it below that (``v`` toggles it). It follows the cursor
a frame behind: a held ``j`` repaints the two table rows per key, and the pane once the keys
stop, so the pane never slows a cursor move down.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from ..safe_text import LINE_MAX, safe
from ._field_text import field_value_text

if TYPE_CHECKING:
    from client import Task

# The pane shows the start of a long description or value; Enter opens the task in full.
DESCRIPTION_LIMIT = 2_000
VALUE_LIMIT = 400
FIELDS_SHOWN = 30


def preview_text(task: Task, meta: str) -> Table:
    """Title, where it comes from, ``meta`` (type, age, markers), description and fields."""
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column("label", ratio=1, max_width=24, overflow="fold")
    grid.add_column("value", ratio=3, overflow="fold")
    head = Text()
    head.append_text(safe(task.title, max_len=300, multiline=False))
    head.stylize("bold")
    where = Text(style="dim")
    where.append_text(safe(task.workflow_label, max_len=LINE_MAX, multiline=False))
    where.append(" › ")
    where.append_text(safe(task.run_id, max_len=LINE_MAX, multiline=False))
    where.append(" › ")
    where.append_text(safe(task.step_id or task.id, max_len=LINE_MAX, multiline=False))
    body = Table.grid(expand=True)
    body.add_row(head)
    body.add_row(where)
    body.add_row(Text(meta, style="dim"))
    if task.description:
        description = safe(task.description, max_len=DESCRIPTION_LIMIT)
        body.add_row(Text(""))
        body.add_row(description)
    body.add_row(Text(""))
    body.add_row(Text("Fields  (✎ = editable)", style="bold underline"))
    fields = task.fields
    for field in fields[:FIELDS_SHOWN]:
        label = safe(field.label, max_len=60, multiline=False)
        if field.editable:
            label.append(" ✎", style="bold")
        grid.add_row(label, field_value_text(field, VALUE_LIMIT))
    if not fields:
        grid.add_row(Text("(no fields)", style="dim"), Text(""))
    elif len(fields) > FIELDS_SHOWN:
        more = len(fields) - FIELDS_SHOWN
        grid.add_row(Text(f"… {more} more (Enter opens the task)", style="dim"), Text(""))
    body.add_row(grid)
    return body


class TaskPreview(Static):
    """Shows one task, or a sentence when there is none to show."""

    DEFAULT_CSS = """
    TaskPreview { padding: 0 1; overflow: hidden; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self._shown: tuple[object, str] | None = None

    def show(self, task: Task | None, meta: str = "", empty: str = "") -> None:
        """Show ``task`` (with its ``meta`` line), or the sentence ``empty``; unchanged, nothing."""
        what: tuple[object, str] = (task, meta) if task is not None else (None, empty)
        last = self._shown
        if last is not None and last[0] is what[0] and last[1] == what[1]:  # a task by identity
            return
        self._shown = what
        if task is None:
            self.update(Text(empty, style="dim"))
        else:
            self.update(preview_text(task, meta))

"""One task in full: where it comes from, what the LLM or author wrote, the fields, the raw JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Markdown, Static

from ..inbox_model import RowDiff, TaskKey, format_age
from ..safe_text import (
    LINE_MAX,
    safe,
    safe_json,
    safe_markdown_parser,
    safe_markdown_source,
)
from ..widgets._field_text import field_value_text
from ..widgets.key_bar import KeyBar
from ..widgets.status_line import StatusLine
from ._task_screen import TaskScreen

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from client import PayloadField, Task

# Textual's Markdown mounts a widget per block: a 400 kB description took about 25 s to open,
# and the app answered no key meanwhile. A longer description is shown as plain text instead.
MARKDOWN_LIMIT = 20_000


class FieldList(Static):
    """Label / value pairs; editable values marked by a symbol and a word."""

    def __init__(self, fields: list[PayloadField], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fields = fields

    def on_mount(self) -> None:
        from rich.table import Table

        table = Table.grid(padding=(0, 2), expand=True)
        table.add_column("label", ratio=1, max_width=28, overflow="fold")
        table.add_column("value", ratio=3, overflow="fold")
        for field in self.fields:
            label = safe(field.label, multiline=False)
            if field.editable:
                label.append(" ✎", style="bold")
            table.add_row(label, field_value_text(field))
        if not self.fields:
            table.add_row(Text("(no fields)", style="dim"), Text(""))
        self.update(table)


class DetailScreen(TaskScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        *TaskScreen.BINDINGS,
        Binding("J", "toggle_json", "Raw JSON", id="detail.json"),
        Binding("c", "control", "Run control", show=False, id="detail.control"),
        Binding("escape,q", "back", "Back", id="detail.back"),
    ]

    def __init__(self, task: Task) -> None:
        super().__init__()
        self.target = task
        self.gone = False

    def current_task(self) -> Task | None:
        return None if self.gone else self.target

    def about_task(self) -> TaskKey | None:
        return self.target.key

    def no_task_reason(self) -> str:
        return "This task is no longer pending: it was completed elsewhere. Nothing to decide."

    def compose(self) -> ComposeResult:
        task = self.target
        crumbs = Text(no_wrap=True, overflow="ellipsis")
        crumbs.append_text(safe(task.workflow_label, max_len=LINE_MAX, multiline=False))
        crumbs.append(" › ")
        crumbs.append_text(safe(task.run_id, max_len=LINE_MAX, multiline=False))
        crumbs.append(" › ")
        crumbs.append_text(safe(task.step_id or task.id, max_len=LINE_MAX, multiline=False))
        yield StatusLine(crumbs, id="breadcrumb")
        with VerticalScroll(id="detail-body"):
            yield Static(id="meta")
            yield Static(safe(task.title), id="title")
            if task.description and len(task.description) > MARKDOWN_LIMIT:
                yield Static(safe(task.description), id="description")
            elif task.description:
                yield Markdown(
                    safe_markdown_source(task.description),
                    id="description",
                    parser_factory=safe_markdown_parser,
                    open_links=False,  # a link's target can hide behind its text
                )
            yield Static("Fields  (✎ = editable)", classes="section")
            yield FieldList(task.fields, id="fields")
            extra = task.payload.extra
            if extra:
                yield Static("Other payload keys", classes="section")
                yield Static(safe_json(extra), id="extra")
        with VerticalScroll(id="raw-json"):
            yield Static(safe_json(task.raw), id="raw")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#raw-json").display = False
        self._show_meta()
        self.query_one("#detail-body").focus()

    def _show_meta(self) -> None:
        task = self.target
        inbox = self.services.inbox
        meta = Text()
        meta.append_text(safe(task.task_type or "task", max_len=LINE_MAX, multiline=False))
        meta.append(f" · age {format_age(inbox.age(task))}")
        if inbox.is_stalled(task):
            meta.append(" · ⚠ stalled")
        if self.gone:
            meta.append(" · ✓ completed elsewhere – no longer pending", style="bold")
        self.query_one("#meta", Static).update(meta)

    def action_toggle_json(self) -> None:
        raw = self.query_one("#raw-json")
        body = self.query_one("#detail-body")
        raw.display = not raw.display
        body.display = not raw.display
        (raw if raw.display else body).focus()

    def action_back(self) -> None:
        self.dismiss()

    def action_control(self) -> None:
        """``c``: pause, resume or stop this task's run."""
        task = self.target
        self.control_run(self.services.runs.get((task.workflow_id, task.run_id)))

    def inbox_changed(self, diff: RowDiff) -> None:
        key = self.target.key
        if key in diff.removed and key not in self.services.inbox and not self.gone:
            self.gone = True
            if key not in self.services.decided:
                self.notify("This task was completed elsewhere.", timeout=6)
            self._show_meta()

    def run_target(self) -> Task | None:
        return self.target  # a run stays worth seeing after its task is gone

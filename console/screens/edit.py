"""Edit the editable values, review the diff, approve with every editable value in ``result``."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from client import Task

from ..services import Decision
from ..widgets.diff_view import changed_names, render_diff
from ..widgets.field_inputs import FieldEditor
from ..widgets.safe_text import LINE_MAX, safe
from ._console_screen import ConsoleScreen


class EditScreen(ConsoleScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "review", "Review & approve", id="edit.review"),
        Binding("escape", "leave", "Back (keep draft)", id="edit.back"),
    ]

    def __init__(self, task: Task) -> None:
        super().__init__()
        self.target = task

    def compose(self) -> ComposeResult:
        task = self.target
        title = safe(f"Edit · {task.title}", max_len=LINE_MAX, multiline=False)
        yield Static(title, classes="status-line")
        draft = self.services.drafts.get(task.key, {})
        blink = self.services.settings.cursor_blink
        with VerticalScroll(id="form"):
            for field in task.payload.editable_fields:
                if field.name in draft:  # what the control held: text, not the typed value
                    yield FieldEditor(field, draft[field.name], cursor_blink=blink, draft=True)
                else:
                    yield FieldEditor(field, field.value, cursor_blink=blink)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        editors = list(self.query(FieldEditor))
        if editors:
            editors[0].control.focus()

    def _editors(self) -> list[FieldEditor]:
        return list(self.query(FieldEditor))

    def _keep_draft(self) -> None:
        self.services.drafts[self.target.key] = {e.field.name: e.raw() for e in self._editors()}

    def action_leave(self) -> None:
        self._keep_draft()
        self.dismiss()

    def action_review(self) -> None:
        values: dict[str, Any] = {}
        first_bad: FieldEditor | None = None
        for editor in self._editors():
            ok, value = editor.validate()
            if ok:
                values[editor.field.name] = value
            elif first_bad is None:
                first_bad = editor
        self._keep_draft()
        if first_bad is not None:
            first_bad.control.focus()
            first_bad.scroll_visible()
            self.notify("Fix the marked values first.", severity="warning")
            return
        self.app.push_screen(ReviewScreen(self.target, values))


class ReviewScreen(ConsoleScreen):
    """The diff of every changed value; ``y`` approves, Esc goes back to editing."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "approve", "Approve with these values", id="review.approve"),
        Binding("escape,n", "back", "Back to editing", id="review.back"),
    ]

    def __init__(self, task: Task, values: dict[str, Any]) -> None:
        super().__init__()
        self.target = task
        self.values = values

    def compose(self) -> ComposeResult:
        task = self.target
        original = task.editable_values()
        changed = len(changed_names(original, self.values))
        head = safe(f"Review · {task.title}", max_len=LINE_MAX, multiline=False)
        yield Static(head, classes="status-line")
        labels = {f.name: f.label for f in task.payload.editable_fields}
        with VerticalScroll(id="review"):
            yield Static(
                f"{changed} of {len(self.values)} editable value(s) changed. "
                "Approving sends all of them in result.",
                classes="section",
            )
            yield Static(render_diff(original, self.values, labels), id="diff")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#review").focus()

    def action_back(self) -> None:
        self.dismiss()

    def action_approve(self) -> None:
        app = self.cc
        if self.target.key in self.services.in_flight:
            self.notify("A decision for this task is already being sent.")
            return
        app.submit_decision(Decision(self.target, approved=True, result=dict(self.values)))
        # Back to where the operator came from (the inbox or the detail).
        self.dismiss()
        if isinstance(app.screen, EditScreen):
            app.pop_screen()

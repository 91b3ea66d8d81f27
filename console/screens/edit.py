"""Edit the editable values, review the diff, approve with every editable value in ``result``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Input, Select, Static, Switch, TextArea

from ..decisions import Decision
from ..messages import DecisionMade
from ..safe_text import LINE_MAX, safe, safe_json
from ..widgets.diff_view import changed_names, render_diff
from ..widgets.field_inputs import FieldEditor
from ..widgets.key_bar import KeyBar
from ..widgets.status_line import StatusLine
from ._console_screen import ConsoleScreen
from .modals import TOO_FAST, ArmedConfirmation

# A draft is written to disk once typing pauses this long (s), and on leaving the form.
DRAFT_PAUSE = 0.5

if TYPE_CHECKING:
    from textual import events
    from textual.app import ComposeResult
    from textual.timer import Timer

    from client import Task

    from ..inbox_model import TaskKey


class EditScreen(ConsoleScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "review", "Review & approve", id="edit.review"),
        Binding("escape", "leave", "Back (keep draft)", id="edit.back"),
    ]

    def __init__(self, task: Task) -> None:
        super().__init__()
        self.target = task
        # The field the operator was in: focus returns to it from the review.
        self._last_editor: FieldEditor | None = None
        # What the controls held when the form opened on the task's own values (None: on a
        # draft): a form typed back to them keeps no draft.
        self._pristine: dict[str, Any] | None = None
        self._keep_timer: Timer | None = None

    def about_task(self) -> TaskKey | None:
        return self.target.key

    def compose(self) -> ComposeResult:
        task = self.target
        title = safe(f"Edit · {task.title}", max_len=LINE_MAX, multiline=False)
        yield StatusLine(title)
        draft = self.services.drafts.get(task.key, {})
        blink = self.services.settings.cursor_blink
        with VerticalScroll(id="form"):
            for field in task.payload.editable_fields:
                if field.name in draft:  # what the control held: text, not the typed value
                    yield FieldEditor(field, draft[field.name], cursor_blink=blink, draft=True)
                else:
                    yield FieldEditor(field, field.value, cursor_blink=blink)
        yield KeyBar()

    def on_mount(self) -> None:
        editors = self._editors()
        if not self.services.drafts.get(self.target.key):
            self._pristine = {e.field.name: e.raw() for e in editors}
        if editors:
            editors[0].control.focus()

    @on(Input.Changed)
    @on(TextArea.Changed)
    @on(Select.Changed)
    @on(Switch.Changed)
    def _edited(self) -> None:
        """Typing is written to disk a moment after it pauses: a dropped SSH session keeps it.
        (The controls filling in as the form opens hold the pristine values: no draft.)"""
        if self._keep_timer is not None:
            self._keep_timer.stop()
        self._keep_timer = self.set_timer(DRAFT_PAUSE, self._keep_draft)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """Remember the field focus went to (a select's open list counts as its field)."""
        for node in event.widget.ancestors_with_self:
            if isinstance(node, FieldEditor):
                self._last_editor = node
                return

    def on_screen_resume(self) -> None:
        """Back from the review (or a modal): into the field being edited, else the first.

        Textual would otherwise leave focus as it found it, or nowhere at all, and the
        operator's next keystroke would go to no field.
        """
        editors = self._editors()
        editor = self._last_editor
        if editor is None or editor not in editors:
            editor = editors[0] if editors else None
        if editor is None:
            return
        focused = self.focused
        if focused is None or editor not in focused.ancestors_with_self:
            editor.control.focus()

    def _editors(self) -> list[FieldEditor]:
        return list(self.query(FieldEditor))

    def _keep_draft(self) -> None:
        if self._keep_timer is not None:
            self._keep_timer.stop()
            self._keep_timer = None
        held = {e.field.name: e.raw() for e in self._editors()}
        if held == self._pristine:
            self.services.discard_draft(self.target.key)  # nothing changed, or typed back
            return
        problem = self.services.keep_draft(self.target, held)
        if problem is not None:
            self.notify(
                problem,
                title="The draft could not be saved to disk",
                severity="warning",
                markup=False,
            )

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
    """The diff of every changed value and the body it sends; ``y`` approves, Esc goes back.

    ``y`` is armed like a dialog's (modals.ArmedConfirmation): a ``y`` typed in the same burst
    as the ctrl+s that opened this screen – or as text meant for the form – does not approve.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "approve", "Approve with these values", id="review.approve"),
        Binding("escape,n", "back", "Back to editing", id="review.back"),
    ]

    def __init__(self, task: Task, values: dict[str, Any]) -> None:
        super().__init__()
        self.target = task
        self.values = values
        self.decision = Decision.approve(task, values)
        self.guard = ArmedConfirmation()

    def about_task(self) -> TaskKey | None:
        return self.target.key

    def compose(self) -> ComposeResult:
        task = self.target
        original = task.editable_values()
        changed = len(changed_names(original, self.values))
        head = safe(f"Review · {task.title}", max_len=LINE_MAX, multiline=False)
        yield StatusLine(head)
        labels = {f.name: f.label for f in task.payload.editable_fields}
        with VerticalScroll(id="review"):
            yield Static(
                f"{changed} of {len(self.values)} editable value(s) changed. "
                "Approving sends all of them in result.",
                classes="section",
            )
            yield Static(render_diff(original, self.values, labels), id="diff")
            yield Static("Sends", classes="section")
            yield Static(safe_json(self.decision.body()), id="body")
        yield Static("", id="guard")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#review").focus()
        self.guard.shown()
        self.call_after_refresh(self.guard.shown)  # once painted

    def on_key(self, event: events.Key) -> None:
        if event.key != "y":
            self.guard.stray_key()

    def action_back(self) -> None:
        self.dismiss()

    def action_approve(self) -> None:
        if not self.guard.ready():
            self.guard.stray_key()
            self.query_one("#guard", Static).update(TOO_FAST)
            return
        if not self.may_decide(self.target, "approve"):
            return
        app = self.cc
        app.post_message(DecisionMade(self.decision))
        # Back to where the operator came from (the inbox or the detail).
        self.dismiss()
        if isinstance(app.screen, EditScreen):
            app.pop_screen()

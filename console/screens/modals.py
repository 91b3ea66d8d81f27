"""Confirmations whose default is the safe choice and whose keys cannot be confused."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from client import Task

from ..widgets.safe_text import safe


def _task_line(task: Task) -> Static:
    return Static(safe(task.title, max_len=200, multiline=False), classes="modal-task")


class ConfirmApproveScreen(ModalScreen[bool]):
    """``y`` approves; ``n``, Esc or Enter on the focused Cancel button do nothing."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Yes, approve", id="confirm.yes"),
        Binding("n,escape", "cancel", "No", id="confirm.no"),
    ]

    def __init__(self, task: Task, *, with_edits: int | None = None) -> None:
        super().__init__()
        self.target = task
        self.with_edits = with_edits

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal"):
            yield Label("Approve this task?", classes="modal-title")
            yield _task_line(self.target)
            if self.with_edits is not None:
                yield Label(f"with {self.with_edits} edited value(s)", classes="modal-note")
            yield Label("y approve · n / Esc cancel", classes="modal-keys")
            with Horizontal(classes="modal-buttons"):
                yield Button("Cancel (n)", id="cancel")
                yield Button("Approve (y)", id="approve", variant="success")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()  # the safe choice has focus

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "approve")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class RejectScreen(ModalScreen[str | None]):
    """An optional reason; Enter rejects, Esc cancels (letters type into the reason)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="reject.cancel"),
        Binding("ctrl+s", "reject", "Reject", id="reject.confirm"),
    ]

    def __init__(self, task: Task) -> None:
        super().__init__()
        self.target = task

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal"):
            yield Label("Reject this task?", classes="modal-title")
            yield _task_line(self.target)
            yield Input(placeholder="Reason (optional, sent as result.reason)", id="reason")
            yield Label("Enter reject · Esc cancel", classes="modal-keys")
            with Horizontal(classes="modal-buttons"):
                yield Button("Cancel (Esc)", id="cancel")
                yield Button("Reject (Enter)", id="reject", variant="error")

    def on_mount(self) -> None:
        field = self.query_one("#reason", Input)
        field.cursor_blink = self.app.services.settings.cursor_blink  # type: ignore[attr-defined]
        field.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_reject()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "reject":
            self.action_reject()
        else:
            self.dismiss(None)

    def action_reject(self) -> None:
        # "" means reject without a reason; None means cancelled.
        self.dismiss(self.query_one("#reason", Input).value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)

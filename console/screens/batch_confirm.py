"""The one confirmation of a batch: how many, from which workflows, which titles, what is sent.

It names what the operator cannot see from the row they are on: the count per workflow, the
first titles, the marked tasks left out and why, and the request body each task receives. As
for one task, a key typed before the dialog could be read does not count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from ..decisions import Decision
from ..safe_text import clean, safe_json
from .modals import TOO_FAST, ArmedConfirmation, _GuardedModal

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from ..bulk import BatchPlan

TITLES_SHOWN = 3
WORKFLOWS_SHOWN = 4


def _count(n: int, what: str = "task") -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'}"


def plan_lines(plan: BatchPlan, undo_seconds: float) -> list[Text]:
    """The facts of a batch, one per line, cleaned (names and titles come from the server)."""
    lines: list[Text] = []
    groups = plan.by_workflow()
    shown = " · ".join(
        f"{clean(label, max_len=30, multiline=False)} {n:,}"
        for label, n in groups[:WORKFLOWS_SHOWN]
    )
    if len(groups) > WORKFLOWS_SHOWN:
        rest = sum(n for _, n in groups[WORKFLOWS_SHOWN:])
        shown += f" · {len(groups) - WORKFLOWS_SHOWN} more workflows {rest:,}"
    lines.append(Text(f"By workflow: {shown}"))
    for title in plan.titles(TITLES_SHOWN):
        lines.append(Text(f"  • {clean(title, max_len=70, multiline=False)}"))
    if len(plan.rows) > TITLES_SHOWN:
        lines.append(Text(f"  … and {len(plan.rows) - TITLES_SHOWN:,} more", style="dim"))
    if plan.left_out:
        lines.append(Text(f"Left out, still marked ({len(plan.left_out):,}):", style="bold"))
        lines.extend(Text(f"  {line}") for line in plan.left_out_lines())
    each = "Each task gets its own decision: its own outbox entry and key, sent on its own."
    lines.append(Text(each, style="dim"))
    if undo_seconds > 0:
        lines.append(Text(f"Held {undo_seconds:g} s first: u takes the whole batch back."))
    return lines


class BatchApproveScreen(_GuardedModal):
    """``y`` approves every task of the plan; n/Esc cancel. Dismisses with "" or None."""

    ANSWER_KEYS = frozenset({"y"})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Approve all", id="batch.approve"),
        Binding("n,escape", "cancel", "Cancel", id="batch.cancel"),
    ]

    def __init__(self, plan: BatchPlan) -> None:
        super().__init__()
        self.plan = plan

    def compose(self) -> ComposeResult:
        plan = self.plan
        undo = self.app.services.settings.undo_seconds  # type: ignore[attr-defined]
        first = Decision.approve(plan.rows[0].task.full())
        with Vertical(classes="modal batch"):
            yield Label(f"Approve {_count(len(plan.rows), 'marked task')}?", classes="modal-title")
            with VerticalScroll(classes="modal-body"):
                # One widget for all the facts: a dialog of many widgets took frames to mount.
                facts = Text("\n").join(plan_lines(plan, undo))
                facts.append(
                    '\nSends {"approved": true} to each; a task with editable values also '
                    'sends them, as they are now, in "result" (the body rule). The first:\n',
                    style="bold",
                )
                facts.append_text(safe_json(first.body()))
                yield Static(facts, id="facts")
            yield Label(f"y approve all {len(plan.rows):,} · n / Esc cancel", classes="modal-keys")
            yield Label("", id="guard", classes="modal-note")
            with Horizontal(classes="modal-buttons"):
                yield Button("Cancel (n)", id="cancel")
                yield Button(f"Approve {len(plan.rows):,} (y)", id="confirm", variant="success")

    def action_confirm(self) -> None:
        self._answer("")


class BatchRejectScreen(ModalScreen[str | None]):
    """One optional reason for every task of the plan; Enter rejects them, Esc cancels.

    Enter counts only once the dialog has been on screen for the reading time: ``x`` and
    Enter typed in one burst reject nothing.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="batch.reject_cancel"),
    ]

    def __init__(self, plan: BatchPlan) -> None:
        super().__init__()
        self.plan = plan
        self.guard = ArmedConfirmation()

    def compose(self) -> ComposeResult:
        plan = self.plan
        undo = self.app.services.settings.undo_seconds  # type: ignore[attr-defined]
        with Vertical(classes="modal batch"):
            yield Label(f"Reject {_count(len(plan.rows), 'marked task')}?", classes="modal-title")
            with VerticalScroll(classes="modal-body"):
                yield Static(Text("\n").join(plan_lines(plan, undo)), id="facts")
            yield Input(
                placeholder="One reason for all (optional, sent as result.reason)", id="reason"
            )
            yield Label(
                'Sends {"approved": false} to each, with the reason as result.reason when given.',
                classes="modal-note",
            )
            yield Label(f"Enter reject all {len(plan.rows):,} · Esc cancel", classes="modal-keys")
            yield Label("", id="guard", classes="modal-note")
            with Horizontal(classes="modal-buttons"):
                yield Button("Cancel (Esc)", id="cancel")
                yield Button(f"Reject {len(plan.rows):,} (Enter)", id="reject", variant="error")

    def on_mount(self) -> None:
        field = self.query_one("#reason", Input)
        field.cursor_blink = self.app.services.settings.cursor_blink  # type: ignore[attr-defined]
        field.focus()
        self.guard.shown()
        self.call_after_refresh(self.guard.shown)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._reject()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "reject":
            self._reject()
        else:
            self.dismiss(None)

    def _reject(self) -> None:
        if not self.guard.ready():
            self.query_one("#guard", Label).update(TOO_FAST)
            self.guard.stray_key()
            return
        self.dismiss(self.query_one("#reason", Input).value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)

"""Small dialogs that take the keyboard: confirmations, refusals, and the question before quitting.

Each one is modal: while it is open no key reaches the screen beneath (Textual checks only the
modal's own bindings). Two rules keep a fast typist from deciding by accident:

- a refused action opens :class:`NoticeScreen`, which swallows every key but Esc and Enter, so
  text typed for a dialog that never opened cannot run as inbox keys;
- a confirmation is *armed* only once it has been on screen for :data:`ARM_SECONDS` with no
  stray key: a ``y`` typed ahead, or in the middle of other typing, is refused in words.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from ..safe_text import safe, safe_json

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from textual import events
    from textual.app import ComposeResult

    from client import Task

# A confirmation key counts only this long after the dialog appeared or after a stray key.
ARM_SECONDS = 0.4


def _task_line(task: Task) -> Static:
    return Static(safe(task.title, max_len=200, multiline=False), classes="modal-task")


class ArmedConfirmation:
    """Tells a deliberate confirmation from one typed ahead or in passing.

    Keys that arrive in a burst (type-ahead, or text meant for a box that never opened) come
    milliseconds apart; a person who reads a question and answers it takes far longer.
    """

    def __init__(self, seconds: float = ARM_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self.clock = clock
        self._since = clock()

    def stray_key(self) -> None:
        """A key that is not an answer: typing is going on, so wait again."""
        self._since = self.clock()

    def shown(self) -> None:
        """The question is on screen now: the reading time starts here, not when it was made
        (a dialog slow to build must not let a key typed ahead through)."""
        self._since = self.clock()

    def ready(self) -> bool:
        return self.clock() - self._since >= self.seconds


TOO_FAST = "Too fast: a key typed before you could read this does not count. Press it again."


class _GuardedModal(ModalScreen[str | None]):
    """A confirmation whose answer keys count only when armed; Esc/n always cancel."""

    ANSWER_KEYS: ClassVar[frozenset[str]] = frozenset()

    def __init__(self) -> None:
        super().__init__()
        self.guard = ArmedConfirmation()

    def on_key(self, event: events.Key) -> None:
        # Enter/space press the focused button (Cancel first), which judges for itself; Esc, n
        # and Tab do what they say. Any other key is typing: it waits the arming out again.
        if event.key in self.ANSWER_KEYS or event.key in ("enter", "space", "escape", "n"):
            return
        self.guard.stray_key()
        if event.key not in ("tab", "shift+tab"):
            event.stop()
            event.prevent_default()

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()  # the safe choice has focus
        self.guard.shown()
        self.call_after_refresh(self.guard.shown)  # once painted

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm":
            self.action_confirm()
        else:
            self.dismiss(None)

    def action_confirm(self) -> None:
        raise NotImplementedError

    def _answer(self, choice: str) -> None:
        if not self.guard.ready():
            self.guard.stray_key()
            self.query_one("#guard", Label).update(TOO_FAST)
            return
        self.dismiss(choice)

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class ApprovalPlan:
    """What ``y`` (and, with a kept draft, ``w``) would send, for the dialog to show."""

    body: dict[str, Any]  # the request body ``y`` sends
    draft_changes: Sequence[str] = ()  # names of the values the kept draft changes
    draft_error: str | None = None  # why the draft cannot be sent as it is
    plain_body: dict[str, Any] | None = None  # with a draft: the body without it (``w``)


class ConfirmApproveScreen(_GuardedModal):
    """``y`` approves (with a kept draft: with its edits), ``w`` without the draft; n/Esc cancel.

    Dismisses with ``"edits"``, ``"plain"`` or None. Cancel has the focus, so Enter or space
    is the safe choice.
    """

    ANSWER_KEYS = frozenset({"y", "w"})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Approve", id="confirm.yes"),
        Binding("w", "without", "Without edits", show=False, id="confirm.without"),
        Binding("n,escape", "cancel", "Cancel", id="confirm.no"),
    ]

    def __init__(self, task: Task, plan: ApprovalPlan) -> None:
        super().__init__()
        self.target = task
        self.plan = plan

    @property
    def has_draft(self) -> bool:
        return self.plan.plain_body is not None

    def compose(self) -> ComposeResult:
        plan = self.plan
        with Vertical(classes="modal"):
            yield Label("Approve this task?", classes="modal-title")
            yield _task_line(self.target)
            if self.has_draft:
                changed = ", ".join(plan.draft_changes) or "no value"
                yield Label(
                    safe(f"You kept a draft that changes {changed}.", max_len=200),
                    classes="modal-note",
                )
                if plan.draft_error:
                    yield Label(safe(f"✗ {plan.draft_error}", max_len=300), classes="modal-note")
            yield Label("Sends:", classes="modal-note")
            with VerticalScroll(classes="modal-body"):
                yield Static(safe_json(plan.body), id="body")
            yield Label(self._keys_text(), classes="modal-keys")
            yield Label("", id="guard", classes="modal-note")
            with Horizontal(classes="modal-buttons"):
                yield Button("Cancel (n)", id="cancel")
                yield Button(self._approve_label(), id="confirm", variant="success")

    def _approve_label(self) -> str:
        return "Approve with edits (y)" if self.has_draft else "Approve (y)"

    def _keys_text(self) -> str:
        if not self.has_draft:
            return "y approve · n / Esc cancel"
        if self.plan.draft_error:
            return "w approve without your edits · n / Esc cancel (e edits the draft)"
        return "y approve with your edits · w without them · n / Esc cancel"

    def action_confirm(self) -> None:
        if self.has_draft and self.plan.draft_error:
            self.query_one("#guard", Label).update(
                "Your draft cannot be sent as it is: w approves without it, or Esc and e to fix."
            )
            return
        self._answer("edits" if self.has_draft else "plain")

    def action_without(self) -> None:
        if self.has_draft:
            self._answer("plain")


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
            yield Label(
                'Sends {"approved": false}, with the reason as result.reason when given.',
                classes="modal-note",
            )
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


class NoticeScreen(ModalScreen[None]):
    """Why an action was refused. Takes every key until Esc or Enter closes it.

    Whatever the operator typed next – a reason for a reject box that never opened – lands here
    and is dropped, never on the inbox where letters are actions.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "close", "Close", id="notice.close"),
    ]

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.swallowed = 0

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal notice"):
            yield Label(safe(self.title_text, max_len=100, multiline=False), classes="modal-title")
            yield Static(safe(self.message, max_len=1000), id="notice-text")
            yield Label("Enter / Esc close", classes="modal-keys")
            yield Label("", id="swallowed", classes="modal-note")

    def on_key(self, event: events.Key) -> None:
        if event.key in ("escape", "enter"):
            return
        event.stop()
        event.prevent_default()
        self.swallowed += 1
        self.query_one("#swallowed", Label).update(
            f"{self.swallowed} key(s) ignored while this is open."
        )

    def action_close(self) -> None:
        self.dismiss()


class ConfirmScreen(_GuardedModal):
    """A yes/no question about something that cannot be taken back (discard, quit).

    ``y`` answers yes (armed, as above); ``n``/Esc, or Enter on the focused Cancel, say no.
    """

    ANSWER_KEYS = frozenset({"y"})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Yes", id="ask.yes"),
        Binding("n,escape", "cancel", "No", id="ask.no"),
    ]

    def __init__(self, title: str, lines: Sequence[str | Text], yes: str) -> None:
        super().__init__()
        self.title_text = title
        self.lines = list(lines)
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal"):
            yield Label(safe(self.title_text, max_len=100, multiline=False), classes="modal-title")
            with VerticalScroll(classes="modal-body"):
                for line in self.lines:
                    yield Static(line if isinstance(line, Text) else safe(line, max_len=500))
            yield Label(f"y {self.yes} · n / Esc cancel", classes="modal-keys")
            yield Label("", id="guard", classes="modal-note")
            with Horizontal(classes="modal-buttons"):
                yield Button("Cancel (n)", id="cancel")
                yield Button(f"{self.yes.capitalize()} (y)", id="confirm", variant="warning")

    def action_confirm(self) -> None:
        self._answer("yes")

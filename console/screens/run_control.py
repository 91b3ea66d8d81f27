"""``c``: the run control menu, then a ``y`` confirmation that names the run, the workflow and
the consequence in the docs' words.

The menu offers only what the run's status allows. Like every dialog here it takes all keys while
open, and the confirmation counts a ``y`` only once it could be read (``c i y`` typed in one burst
stops nothing).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from ..run_commands import RunCommand, commands_for
from ..safe_text import clean, safe

if TYPE_CHECKING:
    from textual import events
    from textual.app import ComposeResult

    from client import RunNames


def run_line(run: RunNames) -> str:
    name = clean(run.workflow_label, max_len=40, multiline=False)
    return f"Run {clean(run.id, max_len=40, multiline=False)} of workflow {name} ({run.status})"


class RunControlScreen(ModalScreen[RunCommand | None]):
    """The commands the run's status allows, one key each; Esc cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="control.cancel"),
    ]

    def __init__(self, run: RunNames, *, awaiting: bool = False) -> None:
        super().__init__()
        self.run = run
        self.options = {c.key: c for c in commands_for(run, awaiting=awaiting)}
        self.awaiting = awaiting

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal control"):
            yield Label("Run control", classes="modal-title")
            yield Static(safe(run_line(self.run), max_len=200), classes="modal-task")
            lines = Text()
            for command in self.options.values():
                lines.append(f"{command.key}  ", style="bold")
                lines.append(f"{command.label}\n")
            if self.awaiting:
                lines.append(
                    "It waits for a human task: deciding the task resumes it.\n", style="dim"
                )
            yield Static(lines, id="options")
            keys = " · ".join(f"{c.key} {c.label.lower()}" for c in self.options.values())
            yield Label(f"{keys} · Esc cancel", classes="modal-keys")

    def on_key(self, event: events.Key) -> None:
        if event.key == "escape":
            return
        event.stop()
        event.prevent_default()
        command = self.options.get(event.key)
        if command is not None:
            self.dismiss(command)

    def action_cancel(self) -> None:
        self.dismiss(None)


def confirm_lines(run: RunNames, command: RunCommand) -> list[str]:
    body = json.dumps(command.body(run.id), ensure_ascii=False)
    return [
        run_line(run),
        command.consequence,
        f"Sends POST /v1/workflows/{run.workflow_id}/command {body}",
    ]

"""One entry of the platform's answer that is not a task: why, and its raw JSON. No actions."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from ..safe_text import safe, safe_json
from ..widgets.key_bar import KeyBar
from ._console_screen import ConsoleScreen

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from client import UnreadableTask


class UnreadableScreen(ConsoleScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "back", "Back", id="unreadable.back"),
    ]

    def __init__(self, entry: UnreadableTask) -> None:
        super().__init__()
        self.entry = entry

    def compose(self) -> ComposeResult:
        entry = self.entry
        yield Static(
            f"⚠ Unreadable task – entry {entry.index} of the platform's answer",
            classes="status-line",
        )
        with VerticalScroll(id="raw-json"):
            yield Static(
                Text("Why: ")
                + safe(entry.reason, max_len=500)
                + Text("\nNothing can be decided on it here; the platform's own console may."),
                id="why",
            )
            yield Static("Raw JSON", classes="section")
            yield Static(safe_json(entry.raw), id="raw")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#raw-json").focus()

    def action_back(self) -> None:
        self.dismiss()

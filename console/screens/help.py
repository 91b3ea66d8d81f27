"""Keys of the screen beneath, generated from its bindings (so remapped keys show as remapped)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

SYMBOLS = [
    ("⚠ stalled", "older than the stalled threshold"),
    ("↶ held Ns", "decided, waiting out the undo window: u takes it back, nothing was sent"),
    ("⟳ sending", "a decision is on its way"),
    ("⧗ queued", "not confirmed yet: kept in the outbox, sent again with the same key"),
    (
        "✗ failed",
        "not applied (refused, or never confirmed): retry or discard it in the outbox (O)",
    ),
    ("● live / ◌ retrying / ✕ offline", "connection state"),
    ("⏸ paused", "auto-refresh paused"),
    ("✎", "editable value"),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close", id="help.close"),
    ]

    def __init__(self, beneath: Screen[Any]) -> None:
        super().__init__()
        self.beneath = beneath

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="modal help"):
            yield Static(self._keys())

    def _keys(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column("key", style="bold", no_wrap=True, width=22)
        table.add_column("what", ratio=1)
        title = type(self.beneath).__name__.removesuffix("Screen") or "Screen"
        table.add_row(Text(f"{title} keys", style="bold underline"), "")
        for keys, description in self._grouped():
            table.add_row(Text(" / ".join(keys)), Text(description))
        for keys_text, description in getattr(self.beneath, "HELP_EXTRA", []):
            table.add_row(Text(keys_text), Text(description))
        table.add_row("", "")
        table.add_row(Text("Symbols", style="bold underline"), "")
        for symbol, meaning in SYMBOLS:
            table.add_row(Text(symbol), Text(meaning))
        return table

    def _grouped(self) -> list[tuple[list[str], str]]:
        """Keys per action, the screen's own first, then the focused widget's, then the app's."""
        screen_first: list[tuple[int, str, str, str]] = []
        for key, active in self.beneath.active_bindings.items():
            binding = active.binding
            if not binding.description:
                continue
            node = active.node
            rank = 0 if node is self.beneath else 2 if node is self.app else 1
            if "." in binding.action:  # Textual's generic ones (focus, copy) after ours
                rank = 3
            display = self.app.get_key_display(binding)
            screen_first.append((rank, binding.action, binding.description, display or key))
        groups: dict[tuple[int, str, str], list[str]] = {}
        for rank, action, description, display in screen_first:
            keys = groups.setdefault((rank, action, description), [])
            if display not in keys:
                keys.append(display)
        ordered = sorted(groups.items(), key=lambda item: item[0][0])
        return [(keys, description) for (_, _, description), keys in ordered]

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    def action_close(self) -> None:
        self.dismiss()
